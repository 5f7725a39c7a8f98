"""What produced a number: the commit of the code, the date, the CPU and the command.

Each training session of a run appends one record to the run's `provenance.jsonl`
(`record(run_dir)`); `amr_tf.report` prints under each table the line `stamp(...)` makes from
its runs' records, and `stale(markdown_text)` finds the tables of a document whose stamped
commit predates a change to the code that computes the numbers.
"""

import ast
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from amr_tf import cpu, rundir

ROOT = Path(__file__).resolve().parents[1]
# The code that computes numbers: a change here makes an older table stale.
NUMERIC_CODE = ("amr_tf/networks", "amr_tf/losses.py", "amr_tf/mixers.py", "amr_tf/data", "amr_tf/evaluation",
                "amr_tf/config.py", "trainers")
STAMP = re.compile(r"measured at commit ([0-9a-f]{7,40})(\+changes)?")
# benchmarks/same_numbers.py's line: the code at the first commit trains bit for bit what the second did.
SAME = re.compile(r"same numbers at commit ([0-9a-f]{7,40}) as at commit ([0-9a-f]{7,40})")


def _git(*args, root=ROOT):
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def commit():
    """The checkout's commit (12 hex digits), with "+changes" when tracked files differ from it;
    "unknown" outside a git checkout (an installed package)."""
    sha = _git("rev-parse", "--short=12", "HEAD")
    if not sha:
        return "unknown"
    return sha + ("+changes" if _git("status", "--porcelain", "--untracked-files=no") else "")


def command():
    """This process's command line, as a person would type it (`python -m amr_tf.train ...` for a
    module of this checkout, `python benchmarks/x.py ...` for a script of it)."""
    argv = list(sys.argv)
    try:
        script = Path(argv[0]).resolve().relative_to(ROOT)
    except (IndexError, ValueError, OSError):
        script = None
    if script is not None and script.suffix == ".py":
        parts = script.with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__main__" else parts
        head = ["python", "-m", ".".join(parts)] if parts[0] in ("amr_tf", "trainers", "tuning") \
            else ["python", str(script)]
        argv = head + argv[1:]
    return " ".join(shlex.quote(a) for a in argv)


def current():
    """{commit, date, cpu, command} of this process."""
    return {"commit": commit(), "date": datetime.date.today().isoformat(),
            "cpu": cpu.label(), "command": command()}


def line():
    """This process's stamp, for a benchmark to print under its table: "measured at commit <sha>
    (<date>, <CPU>): `<command>`" (the form `stamp` gives a table of runs)."""
    r = current()
    return f"measured at commit {r['commit']} ({r['date']}, {r['cpu']}): `{r['command']}`"


def record(run_dir):
    """Appends this process's record to `run_dir/provenance.jsonl` (one line a training session)."""
    path = Path(run_dir) / rundir.PROVENANCE_FILE
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(current(), sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read(run_dir):
    """The run's records, oldest first ([] without any; lines that are no record are left out)."""
    path = Path(run_dir) / rundir.PROVENANCE_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and all(isinstance(value.get(k), str) for k in ("commit", "date", "cpu")):
            out.append(value)
    return out


def stamp(run_dirs):
    """The line under a table: "measured at commit <sha> (<date>, <CPU>): `<command>`" from the
    newest record of each run (several commits, dates, CPUs or commands are all named)."""
    newest = [records[-1] for records in map(read, run_dirs) if records]
    if not newest:
        return "measured at commit unknown (these runs record none)"

    def each(key):
        return sorted({r.get(key) or "?" for r in newest})

    commits, dates, cpus, commands = each("commit"), each("date"), each("cpu"), each("command")
    dates = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    line = f"measured at commit {', '.join(commits)} ({dates}, {' / '.join(cpus)})"
    return line + ": " + ", ".join(f"`{c}`" for c in commands)


def _outside_code(text):
    """`text` with the lines inside ``` fences indented, so that a "# comment" there is no heading."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        lines.append(" " + line if fenced and line.startswith("#") else line)
    return "\n".join(lines)


def _carried(sha, body):
    """The newest commit that `body`'s "same numbers at commit B as at commit A" lines carry the
    stamp's commit `sha` to (A = sha, then A = B, ...); `sha` itself without such a line."""
    links = {a: b for b, a in SAME.findall(body)}
    seen = {sha}
    while True:
        nxt = next((b for a, b in links.items() if a.startswith(sha) or sha.startswith(a)), None)
        if nxt is None or nxt in seen:
            return sha
        seen.add(nxt)
        sha = nxt


def stale(text, paths=NUMERIC_CODE, root=ROOT):
    """[(table title, why)] for the tables of the markdown `text` that are stale: whose stamp names
    a commit older than a change to the code under `paths` (`changed_code`: not a reformatting, a
    comment or a docstring), or one with uncommitted changes, or an unknown one,
    or that carry no stamp at all. A table is a heading (any level) up to the next heading, when
    it holds a markdown table. A line "same numbers at commit B as at commit A" under a table
    stamped A (benchmarks/same_numbers.py's) moves its commit to B."""
    out = []
    sections = re.split(r"^(#{1,6} .*)$", _outside_code(text), flags=re.M)
    for title, body in zip(sections[1::2], sections[2::2]):
        if "|---" not in body:
            continue
        title = title.lstrip("#").strip()
        found = STAMP.search(body)
        if not found:
            out.append((title, "no 'measured at commit' line"))
            continue
        sha, changes = found.groups()
        if changes:
            out.append((title, f"measured at {sha} with uncommitted changes"))
            continue
        sha = _carried(sha, body)
        changed = _git("log", "--format=%h %s", f"{sha}..HEAD", "--", *paths, root=root)
        if changed is None or _git("cat-file", "-e", f"{sha}^{{commit}}", root=root) is None:
            out.append((title, f"commit {sha} is not in this checkout's history"))
        elif changed and (files := changed_code(sha, paths, root)):
            first = changed.splitlines()[-1]
            out.append((title, f"the code that computes it changed after {sha} in {', '.join(files[:3])}"
                               + (f" and {len(files) - 3} more" if len(files) > 3 else "")
                               + f" ({len(changed.splitlines())} commit(s), the first: {first[:80]})"))
    return out


def _code(source):
    """A Python source's syntax tree without docstrings, as text: what formatting, comments and
    docstrings do not change. The source itself when it does not parse (or is no Python)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def changed_code(sha, paths=NUMERIC_CODE, root=ROOT):
    """The files under `paths` whose code differs between commit `sha` and HEAD: added, removed,
    or (Python) a different syntax tree once docstrings are set aside, so that a commit that only
    reformats, comments or documents leaves a table current."""
    names = _git("diff", "--name-only", sha, "HEAD", "--", *paths, root=root)
    out = []
    for name in (names or "").splitlines():
        before = _git("show", f"{sha}:{name}", root=root)
        after = _git("show", f"HEAD:{name}", root=root)
        if before is None or after is None or not name.endswith(".py") or _code(before) != _code(after):
            out.append(name)
    return out
