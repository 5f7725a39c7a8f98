"""The named view of Keras objects that a checkpoint writes and reads: every variable of a layer,
model or optimizer reachable under a stable key (see the package's docstring).
"""


import keras
import tensorflow as tf

from amr_tf.checkpoint.meta import META

_VALUE = ".ATTRIBUTES/VARIABLE_VALUE"


# Optimizer attributes that only list variables held elsewhere (the model's, or its own slots).
_OPTIMIZER_ALIASES = ("_variables", "_trainable_variables", "_trainable_variables_indices")


class _Node(tf.__internal__.tracking.Trackable):
    """A checkpoint node with fixed, named children and no value of its own."""

    def __init__(self, children):
        self._maybe_initialize_trackable()
        self._named_children = dict(children)

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        return dict(self._named_children)


def _is_variable(value):
    return isinstance(value, (keras.Variable, tf.Variable))


def _shown(path):
    return "/".join(path)


class View:
    """Builds the tree of `_Node`s a checkpoint is written from and read into.

    Each variable sits at exactly one path (the first met, networks before optimizers, names in
    sorted order), so the keys TensorFlow writes are those paths, whatever the dicts' order.
    """

    def __init__(self, objects):
        if META in objects:
            raise ValueError(f"'{META}' is the metadata's name in a checkpoint; name the object otherwise")
        self.order = list(objects)  # the caller's order, for messages
        self.seen = set()
        self.paths = {}  # id(variable) -> its path
        self.leaves = []  # (path, variable), in order
        self.roots = {}
        names = sorted(objects)
        optimizers = [n for n in names if isinstance(objects[n], keras.optimizers.Optimizer)]
        for name in [n for n in names if n not in optimizers] + optimizers:  # slots are named after variables
            self.roots[name] = self._root((name,), objects[name])

    def _root(self, path, obj):
        node = self._add(path, obj)
        if node is None:
            if id(obj) in self.seen:
                raise ValueError(f"checkpoint object '{path[0]}' is already in the checkpoint under another name")
            raise TypeError(f"cannot checkpoint '{path[0]}': a {type(obj).__name__} "
                            "(expected a Keras layer or model, a Keras optimizer, or a variable)")
        return node

    def _leaf(self, path, variable):
        self.seen.add(id(variable))
        self.paths[id(variable)] = path
        self.leaves.append((path, variable))
        return variable

    def _add(self, path, obj):
        """The checkpoint node for `obj` at `path`, or None (already placed, or holds no state)."""
        if id(obj) in self.seen:
            return None
        if _is_variable(obj):
            return self._leaf(path, obj)
        if isinstance(obj, keras.optimizers.Optimizer):
            return self._optimizer(path, obj)
        if isinstance(obj, keras.layers.Layer):
            return self._layer(path, obj)
        if isinstance(obj, (list, tuple)):
            return self._collection(path, [(str(i), v) for i, v in enumerate(obj)])
        if isinstance(obj, dict):
            return self._collection(path, list(obj.items()))
        return None  # not state (strings, shapes, Keras' call bookkeeping)

    def _collection(self, path, items):
        children = {}
        for key, value in items:
            if not (_is_variable(value) or isinstance(value, (keras.layers.Layer, list, tuple, dict))):
                continue
            if not isinstance(key, str):
                raise TypeError(f"cannot name {_shown(path)}[{key!r}] in a checkpoint: its key is not a string")
            node = self._add(path + (key,), value)
            if node is not None:
                children[key] = node
        return _Node(children) if children else None

    def _layer(self, path, layer):
        self.seen.add(id(layer))
        children = {}
        # Attributes TensorFlow tracks itself (variables, sub-layers set one by one), then the
        # lists and dicts Keras tracks (sub-layers in a list), public names first.
        for name, child in layer._trackable_children("checkpoint").items():
            if not (_is_variable(child) or isinstance(child, keras.layers.Layer)):
                raise TypeError(f"cannot checkpoint {_shown(path + (name,))}: a {type(child).__name__}")
            node = self._add(path + (name,), child)
            if node is not None:
                children[name] = node
        for name in sorted(getattr(layer, "_tracked", ()), key=lambda n: n.startswith("_")):
            value = getattr(layer, name, None)
            if name in children or not isinstance(value, (list, tuple, dict)):
                continue  # sets have no order to name their items by
            node = self._add(path + (name,), value)
            if node is not None:
                children[name] = node
        self._check_reached(path, layer.variables)
        return _Node(children)

    def _optimizer(self, path, optimizer):
        self.seen.add(id(optimizer))
        updated = list(getattr(optimizer, "_trainable_variables", None) or [])
        children = {}
        for name, child in optimizer._trackable_children("checkpoint").items():
            if name in _OPTIMIZER_ALIASES:
                continue
            if isinstance(child, (list, tuple)) and updated and len(child) == len(updated):
                node = self._slots(path + (name,), child, updated)  # one slot per updated variable
            elif _is_variable(child) or isinstance(child, (keras.optimizers.Optimizer, list, tuple, dict)):
                node = self._add(path + (name,), child)
            else:
                raise TypeError(f"cannot checkpoint {_shown(path + (name,))}: a {type(child).__name__}")
            if node is not None:
                children[name] = node
        self._check_reached(path, optimizer.variables)
        return _Node(children)

    def _slots(self, path, slots, updated):
        """Slot i of an optimizer belongs to its variable i: named after that variable's path
        (its position only if the variable is in no object of the checkpoint)."""
        tree = {}
        for i, (slot, variable) in enumerate(zip(slots, updated)):
            if slot is None or not _is_variable(slot) or id(slot) in self.seen:
                continue
            owner = self.paths.get(id(variable), (str(i),))
            level = tree
            for part in owner[:-1]:
                level = level.setdefault(part, {})
                if not isinstance(level, dict):
                    raise ValueError(f"{_shown(path + owner)}: slot paths collide")
            if owner[-1] in level:
                raise ValueError(f"{_shown(path + owner)}: slot paths collide")
            level[owner[-1]] = slot
        return self._slot_nodes(path, tree) if tree else None

    def _slot_nodes(self, path, tree):
        children = {}
        for key, value in tree.items():
            children[key] = self._slot_nodes(path + (key,), value) if isinstance(value, dict) \
                else self._leaf(path + (key,), value)
        return _Node(children)

    def _check_reached(self, path, variables):
        missing = [v for v in variables if id(v) not in self.seen]
        if missing:
            names = ", ".join(getattr(v, "path", None) or getattr(v, "name", "?") for v in missing[:5])
            raise ValueError(f"{_shown(path)}: {len(missing)} variable(s) ({names}) are held where a checkpoint "
                             "cannot name them; keep them in attributes, lists or dicts of the layer")

    def keys(self, names=None):
        """checkpoint key -> variable, for the roots `names` (default: all), in the caller's order."""
        leaves = sorted(self.leaves, key=lambda leaf: self.order.index(leaf[0][0]))
        return {_key(path): v for path, v in leaves if names is None or path[0] in names}


def escape(name):
    return name.replace(".", "..").replace("/", ".S")  # as TensorFlow escapes a name in a key


def _key(path):
    return "/".join(escape(p) for p in path) + "/" + _VALUE


def keys(objects):
    """checkpoint key -> variable for `objects`, as `save` writes them (without the metadata)."""
    return View(objects).keys()
