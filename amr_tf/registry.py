"""Named choices (mixers, network presets, losses, data sets and splits, tables and recipes,
metrics, export formats and checkpoints, strategies, kinds of spectral norm, Config's choices,
...): one lookup and one error for a name that is not among them.

The error is always "unknown WHAT 'NAME'; choose one of: ..." on one line. The choices read as
the words a user types ("a, b, c"), or, for the choices a Python caller passes as values
(mixers, network presets and bottlenecks, loss kinds), as the Python list to copy from
("['a', 'b', 'c']").

`Registry` holds the things of one kind by name, for the kinds code adds to (mixers, network
presets, data sources, metrics, trainers, tuners, strategies); fixed lists of words are checked
with `check` and `lookup`."""


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


class Registry:
    """Things of one kind by name (mixers, network presets, data sources, metrics, trainers,
    tuners, strategies): each name added once, looked up with the one error above.

    Reads like a read-only dict (name -> thing, in the order things were added: `in`, `[]`,
    iteration, `keys`, `values`, `items`, `len`), except that `get` refuses an unknown name;
    `names()` lists the names as the error does (sorted with `sort=True`).

    Args:
        what: the kind's name in the error ("unknown WHAT 'NAME'; ...").
        as_python: the error lists the choices as a Python list (names a caller passes as values).
        sort: `names()` and the error list the names sorted, not in the order they were added.
    """

    def __init__(self, what, as_python=False, sort=False):
        self.what, self.as_python, self.sort = what, as_python, sort
        self._things = {}

    def add(self, name, thing):
        """Adds `thing` as `name` and returns it; a name already taken is a ValueError."""
        if name in self._things:
            raise ValueError(f"{self.what} '{name}' is already registered; registered: {list(self.names())}")
        self._things[name] = thing
        return thing

    def remove(self, name):
        """Takes `name` out (a test's or a plugin's own addition); an unknown name is `get`'s error."""
        self.get(name)
        del self._things[name]

    def register(self, name):
        """A decorator: `@REGISTRY.register("name")` adds the function or class it decorates."""
        return lambda thing: self.add(name, thing)

    def get(self, name):
        """The thing called `name`; else `unknown`'s ValueError listing `names()`."""
        if name not in self._things:
            raise unknown(self.what, name, self.names(), self.as_python)
        return self._things[name]

    def check(self, name):
        """`name` if it is registered; else `get`'s error."""
        self.get(name)
        return name

    def names(self):
        """The names, sorted (`sort=True`) or in the order they were added."""
        return tuple(sorted(self._things) if self.sort else self._things)

    def __getitem__(self, name):
        return self._things[name]

    def __contains__(self, name):
        return name in self._things

    def __iter__(self):
        return iter(self._things)

    def __len__(self):
        return len(self._things)

    def keys(self):
        return self._things.keys()

    def values(self):
        return self._things.values()

    def items(self):
        return self._things.items()
