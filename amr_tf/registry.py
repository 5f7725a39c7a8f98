"""Named choices (mixers, network presets, losses, data sets and splits, tables and recipes,
metrics, export formats and checkpoints, strategies, kinds of spectral norm, Config's choices,
...): one lookup and one error for a name that is not among them.

The error is always "unknown WHAT 'NAME'; choose one of: ..." on one line. The choices read as
the words a user types ("a, b, c"), or, for the choices a Python caller passes as values
(mixers, network presets and bottlenecks, loss kinds), as the Python list to copy from
("['a', 'b', 'c']")."""


def unknown(what, name, choices, as_python=False):
    """The one error for `name` not among `choices`: ValueError("unknown WHAT 'NAME'; choose
    one of: a, b, c"), or with `as_python` "...; choose one of: ['a', 'b', 'c']"."""
    choices = list(choices)
    listed = repr(choices) if as_python else ", ".join(str(c) for c in choices)
    return ValueError(f"unknown {what} '{name}'; choose one of: {listed}")


def check(what, name, choices, as_python=False):
    """`name` if it is one of `choices`, else `unknown`'s error."""
    if name not in choices:
        raise unknown(what, name, choices, as_python)
    return name


def lookup(what, table, name, as_python=False):
    """`table[name]`, else `unknown`'s error listing the table's names (a dict's sorted)."""
    if name not in table:
        raise unknown(what, name, sorted(table) if isinstance(table, dict) else table, as_python)
    return table[name]
