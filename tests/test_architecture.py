"""The layering of ARCHITECTURE.md, checked on the sources: commands are thin and imported by
nothing, the library never imports the trainers or tuning, the trainers never import tuning, and
a name has one home (no module but a package's `__init__` re-exports another module's names).

Every import counts, at module level or inside a function (a late import is still a dependency).
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "amr_tf.train", "amr_tf.evaluate", "amr_tf.export", "amr_tf.reproduce", "amr_tf.report",
    "amr_tf.bench", "amr_tf.demo", "amr_tf.serving_bench", "amr_tf.data.__main__", "tuning.search",
}
MAX_COMMAND_LINES = 120
MAX_MODULE_LINES = 400  # a module that outgrows this splits (a package gathers its names)
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


def absolute(node, package):
    """The module an ImportFrom names, made absolute."""
    base = node.module or ""
    if node.level:
        anchor = package.split(".")
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    return base


def import_statements(name, path):
    """(module, names) of every import in `path`, anywhere in it (late imports too): `import a.b`
    gives ("a.b", ()), `from a import b, c` gives (a, made absolute, ("b", "c")). The layering and
    the cycle rules read imports with it (the re-export rule needs each statement's lines and aliases)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            yield absolute(node, package), tuple(alias.name for alias in node.names)


def imported(name, path):
    """Every project module `path` imports (absolute names; `from a import b` counts a.b too)."""
    out = set()
    for base, names in import_statements(name, path):
        out.add(base)
        out.update(f"{base}.{n}" for n in names)
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


def test_no_module_outgrows_its_limit():
    long = sorted(f"{name}: {n} lines" for name, path in SOURCES.items()
                  if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES)
    assert not long, long


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
    out = set()
    for base, names in import_statements(name, path):
        out.update(f"{base}.{n}" if f"{base}.{n}" in SOURCES else base for n in names)
        if not names:
            out.add(base)
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


# -- one home per name: no re-export outside a package's __init__ ---------------------------------

NOQA = re.compile(r"#\s*noqa\b(:\s*(?P<codes>[A-Z]+[0-9]+([\s,]+[A-Z]+[0-9]+)*))?", re.I)


def re_exports(name, path):
    """The ways module `path` keeps another module's names as its own (a compatibility shim): an
    import of a project module kept by `# noqa: F401` (ruff flags an unused import, so a re-export
    survives only that way), `sys.modules[...] = ...`, a module-level `__getattr__`, `__all__`, and
    a module-level alias: `NAME = module.NAME` of an imported project module, `OTHER = name` of a
    name imported from one, or the module's own function or class under another name.
    [(line, what)]; none for a package's `__init__`, which may gather its submodules' names."""
    if path.name == "__init__.py":
        return []
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text, str(path))
    package = name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):  # anywhere in the module
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [absolute(node, package)]
            project = [n for n in names if n.split(".")[0] in ALLOWED]
            noqa = [m for m in map(NOQA.search, lines[node.lineno - 1:node.end_lineno]) if m]
            if project and any(not m["codes"] or "F401" in m["codes"].upper() for m in noqa):
                out.append((node.lineno, f"`# noqa: F401` on an import of {project[0]}"))
        elif isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Subscript) and ast.unparse(t.value) == "sys.modules" for t in node.targets):
                out.append((node.lineno, "sys.modules[...] ="))
    imported = {}  # a name bound at module level by an import -> the module or object it is
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.name if alias.asname else alias.name.split(".")[0]  # `import a.b` binds a
                imported[alias.asname or bound] = bound
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node, package)
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{base}.{alias.name}"
    imported = {k: v for k, v in imported.items() if v.split(".")[0] in ALLOWED}
    own = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}

    def is_alias(value):
        if isinstance(value, ast.Name):
            return value.id in imported or value.id in own
        root = value
        while isinstance(root, ast.Attribute):
            root = root.value
        return value is not root and isinstance(root, ast.Name) and imported.get(root.id) in SOURCES

    for node in tree.body:  # module level
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "__getattr__":
            out.append((node.lineno, "a module-level __getattr__"))
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            out.append((node.lineno, "__all__"))
        elif (isinstance(node, (ast.Assign, ast.AnnAssign)) and all(isinstance(t, ast.Name) for t in targets)
              and node.value is not None and is_alias(node.value)):
            out.append((node.lineno, f"{', '.join(t.id for t in targets)} = {ast.unparse(node.value)}"))
    return sorted(out)


def test_no_module_but_a_package_init_re_exports():
    """A name is imported from its home: the modules that used to re-export are gone, and no new
    one keeps another's names (a package's `__init__` may gather its submodules')."""
    offenders = sorted(f"{name}:{line}: {what}" for name, path in SOURCES.items()
                       for line, what in re_exports(name, path))
    assert not offenders, "\n".join(offenders)


def test_the_re_export_checker_sees_each_kind(tmp_path):
    """The checker itself: each way of re-exporting is found; a third-party import kept for its
    side effect, a plain constant and a package's `__init__` are not."""
    package = tmp_path / "amr_tf" / "sub"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from amr_tf.sub.home import NAME  # noqa: F401\n__all__ = ['NAME']\n")
    (package / "home.py").write_text("NAME = 1\n")
    shims = {
        "noqa": "from amr_tf.sub.home import NAME  # noqa: F401\n",
        "noqa_codes": "from amr_tf.sub import (  # noqa: E402,F401  kept for old callers\n    home,\n)\n",
        "noqa_late_relative": "def f():\n    from .home import NAME  # noqa\n",
        "noqa_plain": "import amr_tf.sub.home  # NOQA:F401\n",
        "modules": "import sys\n\nfrom amr_tf.sub import home\n\nsys.modules[__name__] = home\n",
        "getattr": "def __getattr__(name):\n    return name\n",
        "all": "__all__ = ['f']\n",
        "alias": "from amr_tf.sub import home\n\nNAME = home.NAME\n",
        "alias_annotated": "import amr_tf.sub.home as h\n\nNAME: int = h.NAME\n",
        "alias_renamed": "from amr_tf.sub.home import NAME\n\nOLD_NAME = NAME\n",
        "alias_own": "def objects():\n    return {}\n\n\ngroups = objects\n",
    }
    clean = ("import sys\n\nimport keras  # noqa: F401  (registers its layers)\nfrom absl import flags\n\n"
             "from amr_tf.sub import home  # noqa: E402\n\nFLAGS = flags.FLAGS\nLIMIT = sys.maxsize\n"
             "DOUBLE = 2 * home.NAME\n\n\ndef f():\n    __all__ = home.NAME\n    return __all__\n")
    global ROOT, SOURCES
    old = ROOT, SOURCES
    ROOT = tmp_path
    try:
        for kind, text in {**shims, "clean": clean}.items():
            (package / f"{kind}.py").write_text(text)
        SOURCES = {module_name(p): p for p in sorted(tmp_path.rglob("*.py"))}
        found = {kind: re_exports(f"amr_tf.sub.{kind}", package / f"{kind}.py") for kind in [*shims, "clean"]}
        assert [kind for kind in shims if not found[kind]] == []
        assert found["clean"] == [] and re_exports("amr_tf.sub", package / "__init__.py") == []
        assert found["alias"] == [(3, "NAME = home.NAME")] and found["modules"] == [(5, "sys.modules[...] =")]
        assert found["alias_own"] == [(5, "groups = objects")]
    finally:
        ROOT, SOURCES = old


ERROR_LINE = re.compile(r"""["']\S*: error: """)


def test_the_commands_define_flags_one_way_and_fail_one_way():
    """Every command defines its flags with absl (no argparse in amr_tf/, trainers/ or tuning/),
    and only `amr_tf.cli.fail` writes the "<program>: error: ..." line a user's mistake ends with."""
    argparse_users = sorted(name for name, path in SOURCES.items()
                            if any(base == "argparse" for base, _ in import_statements(name, path)))
    assert not argparse_users, f"argparse in {argparse_users}: define the flags with absl (amr_tf.cli)"
    own_errors = sorted(name for name, path in SOURCES.items()
                        if name != "amr_tf.cli" and ERROR_LINE.search(path.read_text()))
    assert not own_errors, f"{own_errors} write their own error line: call amr_tf.cli.fail"
