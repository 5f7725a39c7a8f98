"""Checks that command lines parse, without running them: `python benchmarks/parse_flags.py FILE`.

FILE holds one command per line, `MODULE ARG ARG ...` (e.g. `amr_tf.bench --precision=mixed_float16`).
Each module is imported once (its flags defined, as its `__main__` would) and every line of it
parsed by absl; a line that does not parse is printed with absl's reason. Exit 0 when all parse,
1 otherwise. `benchmarks/gpu_check.sh --dry-run` uses it to check its commands on a machine
without a GPU.
"""

import importlib
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_lines(lines):
    """[(line, error or None)] for `MODULE ARGS...` lines, grouped by module (one module a process:
    two commands may define the same flag name)."""
    from absl import flags

    out = []
    by_module = {}
    for line in lines:
        words = shlex.split(line)
        by_module.setdefault(words[0], []).append((line, words[1:]))
    if len(by_module) > 1:
        raise SystemExit("parse_flags: give one module a call (flags of two commands can clash)")
    for module, commands in by_module.items():
        loaded = importlib.import_module(module)
        if hasattr(loaded, "define_flags"):
            loaded.define_flags()
        for line, args in commands:
            flags.FLAGS.unparse_flags()
            try:
                rest = flags.FLAGS([module, *args])
                out.append((line, f"unexpected arguments {rest[1:]}" if rest[1:] else None))
            except flags.Error as e:
                out.append((line, str(e)))
    return out


def main(path):
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    bad = 0
    for line, error in parse_lines(lines):
        print(f"{'ok ' if error is None else 'BAD'} {line}" + (f": {error}" if error else ""))
        bad += error is not None
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
