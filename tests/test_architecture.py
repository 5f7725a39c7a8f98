"""The layering of ARCHITECTURE.md, checked on the sources: commands are thin and imported by
nothing, the library never imports the trainers or tuning, the trainers never import tuning.

Every import counts, at module level or inside a function (a late import is still a dependency).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "amr_tf.train", "amr_tf.evaluate", "amr_tf.export", "amr_tf.reproduce", "amr_tf.report",
    "amr_tf.bench", "amr_tf.demo", "amr_tf.serving_bench", "amr_tf.data.__main__", "tuning.search",
}
MAX_COMMAND_LINES = 120
# package -> the top-level packages it may import from this project
ALLOWED = {"amr_tf": {"amr_tf"}, "trainers": {"amr_tf", "trainers"}, "tuning": {"amr_tf", "trainers", "tuning"}}


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def sources():
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield module_name(path), path


def imported(name, path):
    """Every project module `path` imports (absolute names; `from a import b` counts a.b too)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m.split(".")[0] in ALLOWED}


SOURCES = dict(sources())
IMPORTS = {name: imported(name, path) for name, path in SOURCES.items()}


def test_the_commands_exist():
    assert COMMANDS <= set(SOURCES), sorted(COMMANDS - set(SOURCES))


def test_no_module_imports_a_command():
    offenders = sorted(f"{name} imports {m}" for name, found in IMPORTS.items() for m in found & COMMANDS)
    assert not offenders, offenders


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_commands_are_thin(command):
    lines = len(SOURCES[command].read_text().splitlines())
    assert lines <= MAX_COMMAND_LINES, f"{command} has {lines} lines"


def test_imports_point_down():
    """Commands may import anything (they are the top); every other module only its layer and below."""
    offenders = sorted(
        f"{name} imports {m}" for name, found in IMPORTS.items() if name not in COMMANDS for m in found
        if m.split(".")[0] not in ALLOWED[name.split(".")[0]]
    )
    assert not offenders, offenders


def test_the_checker_sees_late_and_relative_imports(tmp_path):
    """The checker itself: an import inside a function and a relative one are found."""
    package = tmp_path / "amr_tf" / "sub"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    late = package / "late.py"
    late.write_text("def f():\n    from trainers import run\n    from . import other\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        assert imported(module_name(late), late) == {"trainers", "trainers.run", "amr_tf.sub", "amr_tf.sub.other"}
    finally:
        ROOT = old


def module_edges(name, path):
    """The project modules `path` imports: `from a import b` is module a.b when b is a module, else
    a (a package's own __init__ only when the name it takes is not a submodule)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in SOURCES else base)
    return {m for m in out if m in SOURCES and m != name}


def cycles(edges):
    """Every import cycle of a graph {module: {modules}}, each as a list starting and ending at one
    module (found by depth-first search; each cycle reported once, from its smallest module)."""
    found = set()

    def visit(start, node, path):
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                found.add(tuple(path + [start]))
            elif nxt not in path and nxt > start:
                visit(start, nxt, path + [nxt])

    for start in sorted(edges):
        visit(start, start, [start])
    return sorted(found, key=len)


def test_no_import_cycle():
    """No module imports, directly or through others, a module that imports it (late imports count)."""
    edges = {name: module_edges(name, path) for name, path in SOURCES.items()}
    found = cycles(edges)
    assert not found, [" -> ".join(c) for c in found[:10]]


def test_the_cycle_checker_finds_a_cycle_through_a_late_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c", "a")]
    assert cycles({"a": {"b"}, "b": set()}) == []
