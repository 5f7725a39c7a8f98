"""The documents cannot drift from the code: every flag a document writes on a command's line is one
that command defines, every flag a command defines is described in its page, and every relative
link resolves to a file of the repository (and its #anchor to a heading of it).

A command's flags are read from the command itself: its `if __name__ == "__main__"` block is run
(with `absl.app.run` and `amr_tf.cli.run` replaced by a stop, so no main ever runs) and the flags
it defined are collected. One process reads every command in turn, removing each one's flags
before the next: ten processes each importing TensorFlow would take a minute on two cores.
"""

import json
import re
import subprocess
import sys
from functools import lru_cache

from tests.helpers import CLI_ENV, ROOT

# Each command's flags are described in one page (`python -m amr_tf.demo` is `make demo`: README).
PAGES = {
    "amr_tf.train": "docs/training.md",
    "amr_tf.data": "docs/data.md",
    "amr_tf.evaluate": "docs/evaluation.md",
    "amr_tf.export": "docs/serving.md",
    "amr_tf.serving_bench": "docs/serving.md",
    "tuning.search": "docs/tuning.md",
    "amr_tf.bench": "docs/benchmarks.md",
    "amr_tf.reproduce": "docs/reproducing.md",
    "amr_tf.report": "docs/reproducing.md",
    "amr_tf.demo": "README.md",
}
# Spellings a command's __main__ rewrites before absl reads them.
ALIASES = {"amr_tf.bench": {"no-jit": "nojit"}}

READ_FLAGS = r"""
import json, runpy, sys
from absl import app, flags
import tensorflow  # noqa: F401  (flags TensorFlow defines are not the command's)
from amr_tf import cli

class Stop(Exception):
    pass

def stop(*args, **kwargs):
    raise Stop

app.run = cli.run = stop
base = set(flags.FLAGS)
out = {"base": sorted(base), "commands": {}}
for module in sys.argv[1:]:
    found = {}
    try:
        runpy.run_module(module, run_name="__main__")
    except Stop:
        pass
    else:
        raise SystemExit(f"{module}: its __main__ returned without running a main through absl")
    for name in set(flags.FLAGS) - base:
        found[name] = bool(flags.FLAGS[name].boolean)
        delattr(flags.FLAGS, name)
    out["commands"][module] = found
print("FLAGS=" + json.dumps(out))
"""


def command_modules():
    """Every module of amr_tf/ and tuning/ that runs as a program (`python -m` name)."""
    found = []
    for package in ("amr_tf", "tuning"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if 'if __name__ == "__main__"' in path.read_text():
                parts = path.relative_to(ROOT).with_suffix("").parts
                found.append(".".join(parts[:-1] if parts[-1] == "__main__" else parts))
    return found


@lru_cache(maxsize=None)
def defined_flags():
    """({command: {flag: is_boolean}}, the flags absl and TensorFlow define before any command)."""
    modules = command_modules()
    result = subprocess.run([sys.executable, "-c", READ_FLAGS, *modules], cwd=ROOT, capture_output=True, text=True,
                            env={**CLI_ENV, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("FLAGS=")]
    assert result.returncode == 0 and lines, f"reading the commands' flags failed:\n{result.stderr[-3000:]}"
    out = json.loads(lines[-1][len("FLAGS="):])
    return out["commands"], set(out["base"])


def documents():
    """README.md and docs/*.md, as paths relative to the repository root."""
    return ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))


COMMAND = re.compile(r"python3? -m ((?:amr_tf|tuning)(?:\.\w+)*)")
# The end of a command on its line: a pipe, &&, ||, ;, a background &, a redirection or a comment.
END = re.compile(r"\s(?:\|\|?|&&?|>>?|#)(?=\s|$)|;")
FLAG = re.compile(r"(?<![\w-])--([A-Za-z][\w-]*)")
ASSIGNMENT = re.compile(r"""^\s*(?:export\s+)?([A-Za-z_]\w*)=(["'])(.*?)\2\s*(?:#.*)?$""")


def logical_lines(text):
    """(line number, text) of each command line a markdown document writes: in code blocks a line
    with its backslash continuations and any `[...]` synopsis it opens joined on, and the shell
    variables the block assigned before (`FLAGS="--a=1"` ... `$FLAGS`) written out; in prose each
    inline code span."""
    lines = text.splitlines()
    in_code = False
    variables = {}
    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        i += 1
        if line.lstrip().startswith("```"):
            in_code, variables = not in_code, {}
            continue
        if not in_code:
            for span in re.findall(r"``?([^`]+)``?", line):
                yield number, span
            continue
        while i < len(lines) and (line.rstrip().endswith("\\")
                                  or COMMAND.search(line) and line.count("[") > line.count("]")):
            line = line.rstrip().removesuffix("\\") + " " + lines[i].strip()
            i += 1
        assigned = ASSIGNMENT.match(line)
        if assigned:
            variables[assigned.group(1)] = assigned.group(3)
            continue
        yield number, re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), line)


def flags_on_command_lines(text):
    """(line number, command, flag) for every `--flag` written after a `python -m amr_tf.X` or
    `python -m tuning.X` on its command line."""
    for number, line in logical_lines(text):
        starts = list(COMMAND.finditer(line))
        for j, match in enumerate(starts):
            rest = line[match.end():starts[j + 1].start() if j + 1 < len(starts) else len(line)]
            end = END.search(rest)
            for flag in FLAG.findall(rest[:end.start()] if end else rest):
                yield number, match.group(1), flag


def accepted(command, flag, commands, base):
    """Whether `command` takes `--flag` (absl's --noFLAG for a boolean included)."""
    own = commands[command]
    flag = ALIASES.get(command, {}).get(flag, flag)
    if flag in own or flag in base:
        return True
    return flag.startswith("no") and own.get(flag[2:], False)


def test_every_flag_on_a_documented_command_line_is_one_the_command_defines():
    commands, base = defined_flags()
    wrong = []
    for doc in documents():
        for number, command, flag in flags_on_command_lines((ROOT / doc).read_text()):
            if command not in commands:
                wrong.append(f"{doc}:{number}: `python -m {command}` is no command (commands: {sorted(commands)})")
            elif not accepted(command, flag, commands, base):
                wrong.append(f"{doc}:{number}: --{flag} is no flag of {command}")
    assert not wrong, "documents name flags the commands do not define:\n" + "\n".join(wrong)


def test_every_flag_a_command_defines_is_described_in_its_page():
    commands, _ = defined_flags()
    assert set(commands) == set(PAGES), (f"commands without a page in PAGES: {sorted(set(commands) - set(PAGES))}; "
                                         f"PAGES naming no command: {sorted(set(PAGES) - set(commands))}")
    missing = []
    for command, own in sorted(commands.items()):
        page = (ROOT / PAGES[command]).read_text()
        missing += [f"{PAGES[command]}: --{flag} of {command}" for flag in sorted(own)
                    if not re.search(rf"(?<![\w-])--{re.escape(flag)}(?![\w-])", page)]
    assert not missing, "flags a command defines that its page never describes:\n" + "\n".join(missing)


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def prose_lines(text):
    """(line number, line less its inline code) of the lines outside code blocks."""
    in_code = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code:
            yield number, re.sub(r"`[^`]*`", "", line)


def anchors(path):
    """The #anchors of a markdown file's headings, as GitHub makes them."""
    found = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_every_relative_link_resolves_to_a_file_and_heading_of_the_repository():
    broken = []
    for doc in documents() + ["ARCHITECTURE.md", "RESULTS.md"]:
        path = ROOT / doc
        for number, line in prose_lines(path.read_text()):
            for target in LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http(s), mailto
                file, _, anchor = target.partition("#")
                resolved = (path.parent / file).resolve() if file else path
                if not resolved.exists() or not resolved.is_relative_to(ROOT):
                    broken.append(f"{doc}:{number}: {target} (no such file)")
                elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                    broken.append(f"{doc}:{number}: {target} (no such heading)")
    assert not broken, "links to no file or heading of the repository:\n" + "\n".join(broken)
