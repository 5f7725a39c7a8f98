"""Named choices (data sets, splits, tables, export formats and checkpoints, kinds of spectral
norm, Config's choices, ...): one lookup and one error for a name that is not among them."""


def unknown(what, name, choices):
    """The one error for `name` not among `choices`:
    ValueError("unknown WHAT 'NAME'; choose one of: a, b, c")."""
    return ValueError(f"unknown {what} '{name}'; choose one of: {', '.join(str(c) for c in choices)}")


def check(what, name, choices):
    """`name` if it is one of `choices`, else `unknown`'s error."""
    if name not in choices:
        raise unknown(what, name, choices)
    return name


def lookup(what, table, name):
    """`table[name]`, else `unknown`'s error listing the table's names (a dict's sorted)."""
    if name not in table:
        raise unknown(what, name, sorted(table) if isinstance(table, dict) else table)
    return table[name]
