"""Checkpoints: TensorFlow checkpoints (`tf.train.Checkpoint`) whose variables are keyed by name.

What a checkpoint holds. `save(prefix, objects, meta)` takes a dict name -> object: Keras layers
and models (networks), Keras optimizers, and variables (e.g. a `keras.random.SeedGenerator`'s
state); `trainers.checkpoint.objects(trainer)` gives a trainer's. Every variable of every object
is written, and the metadata record `meta` (e.g. {"epoch", "history"}) is stored inside the same
checkpoint as a JSON string. A checkpoint is a TensorFlow checkpoint prefix: two files,
`PREFIX.index` and `PREFIX.data-00000-of-00001`, that `tf.train.list_variables(prefix)` and
`tf.train.load_checkpoint(prefix)` read.

The names a user sees. A variable's key is its object path from the name it was given, e.g.

    encoder/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE             item 1 of the encoder's `body` list
    encoder/body/3/gamma/.ATTRIBUTES/VARIABLE_VALUE               an instance norm's scale
    discriminator/body/2/layer/_kernel/.ATTRIBUTES/VARIABLE_VALUE a spectrally normed convolution
    discriminator/body/2/vector_u/.ATTRIBUTES/VARIABLE_VALUE      its power-iteration vector
    ae_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE           an optimizer's step count
    ae_optimizer/_momentums/encoder/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE   its Adam slot for that kernel
    rng/.ATTRIBUTES/VARIABLE_VALUE                                the mixing RNG's state
    meta/.ATTRIBUTES/py_state                                     the JSON metadata

(`_kernel` is the attribute Keras keeps a kernel in.)

Keras 3 layers keep their sub-layers in lists that TensorFlow's checkpointing does not see, and
Keras optimizers list the variables they update: a bare `tf.train.Checkpoint(encoder=...)` would
save no encoder variable at all, or name them after an optimizer's list positions. So `save` and
`restore` checkpoint a *view* of each object, built here: a layer's attributes (variables,
sub-layers, and the lists and dicts Keras tracks), an optimizer's own state (its slots named
after the variable they belong to). Every variable of every object must be reachable by name, or
saving refuses (a silent omission would lose state). Keys therefore do not depend on the order in
which variables were created or listed, only on the attributes that hold them.

Kill safety. `save` writes into a temporary folder `.PREFIX.tmp-<pid>/` next to the target,
fsyncs the files, then moves the data file(s) into place and the index last, and fsyncs the
folder. A checkpoint is complete only when its index and all its data files exist; `latest` and
`best_path` see only complete ones, so a kill at any moment leaves the previous checkpoint the
newest usable one. Leftovers (the temporary folder, TensorFlow's `*_temp` parts inside it, a
data file without its index) are never read; `amr_tf.rundir.remove_stale_temps` removes the
temporary folders of dead writers, `prune` the orphan files. A fixed name is never rewritten in
place: the best checkpoint is `best-NNNN` (NNNN its epoch), the older one deleted only after the
newer is complete. (Only an epoch trained again after its checkpoint was deleted, or a best of
that epoch, replaces a checkpoint of the same name: its old index goes first, so a kill then
leaves it incomplete, and ignored, never an old index over new data.)

Refusals. `restore` first reads the whole checkpoint (TensorFlow checks each tensor's CRC) and
compares its keys, shapes and dtypes with the objects' own, and checks the metadata; only then does
`tf.train.Checkpoint.read` assign, followed by `assert_existing_objects_matched()` and, for a full
restore, `assert_consumed()` (nothing of another model left over). Any failure raises
`CheckpointError` (a ValueError) in one line naming the checkpoint, and leaves every variable as it
was (the values are also snapshotted and put back should the read itself fail). A `.npz`
checkpoint of an older amr_tf is refused in one line, never ignored.

No code runs on load: a TensorFlow checkpoint holds tensors and a protocol buffer, and the
metadata is parsed with `json.loads` only.

Distributed training: only the chief writes (`trainers.strategy.is_chief`); variables are read
from their primary replica, so saving needs no other worker. Every worker restores the chief's
checkpoint.
"""

import json
import os
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

META = "meta"
_VALUE = ".ATTRIBUTES/VARIABLE_VALUE"
_META_KEY = f"{META}/.ATTRIBUTES/py_state"
_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_DATA = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_OLD = re.compile(r"^(?:epoch-\d{4,}|best)\.npz$")
# Optimizer attributes that only list variables held elsewhere (the model's, or its own slots).
_OPTIMIZER_ALIASES = ("_variables", "_trainable_variables", "_trainable_variables_indices")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, of an older amr_tf, or does not fit the model."""


# -- the metadata record --------------------------------------------------------------------

class _Meta(tf.train.experimental.PythonState):
    """The JSON metadata inside a checkpoint. Restoring only stores the bytes; `read_meta`
    parses them with json.loads (no pickle, no code)."""

    def __init__(self, text="{}"):
        self.text = text

    def serialize(self):
        return self.text

    def deserialize(self, string_value):
        self.text = string_value


def check_meta(meta):
    """Raises TypeError unless `meta` is a record whose "epoch" (if any) is an int >= 0 and whose
    "history" (if any) is a list of rows with int epochs, as `save`'s callers write them."""
    if not isinstance(meta, dict):
        raise TypeError("its metadata is not a record")
    epoch, history = meta.get("epoch", 0), meta.get("history", [])
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise TypeError(f"its epoch is {epoch!r}")
    if not isinstance(history, list) or not all(
            isinstance(r, dict) and isinstance(r.get("epoch"), int) and not isinstance(r.get("epoch"), bool)
            for r in history):
        raise TypeError("its history is not a list of epoch rows")
    identity = meta.get("identity", {})
    if not isinstance(identity, dict) or not all(isinstance(v, str) for v in identity.values()):
        raise TypeError(f"its identity is {identity!r}")


# What a run's checkpoint is of: the fields of its config that decide what its weights mean.
IDENTITY = ("model", "preset", "dataset")


def identity(config):
    """The run's identity a checkpoint records ({"model", "preset", "dataset"}), so that a config.json
    edited to another trainer or network is not resumed, evaluated or exported with these weights."""
    return {name: str(getattr(config, name)) for name in IDENTITY}


def check_identity(prefix, meta, config):
    """CheckpointError when the checkpoint `prefix` (its `meta`) is of another model, network or data
    than `config` (a checkpoint written before identities were recorded passes)."""
    recorded, wanted = meta.get("identity", {}), identity(config)
    diffs = [f"{name}={recorded[name]} there, {wanted[name]} in config.json"
             for name in IDENTITY if name in recorded and recorded[name] != wanted[name]]
    if diffs:
        raise CheckpointError(f"checkpoint {prefix} is of another run ({'; '.join(diffs)}): was config.json "
                              "edited? Put it back, or train the new settings in another run directory")


# -- the named view of Keras objects --------------------------------------------------------

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


class _View:
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


def _escape(name):
    return name.replace(".", "..").replace("/", ".S")  # as TensorFlow escapes a name in a key


def _key(path):
    return "/".join(_escape(p) for p in path) + "/" + _VALUE


def keys(objects):
    """checkpoint key -> variable for `objects`, as `save` writes them (without the metadata)."""
    return _View(objects).keys()


# -- files ----------------------------------------------------------------------------------

def _data_files(prefix):
    prefix = Path(prefix)
    if not prefix.parent.is_dir():
        return []
    start = prefix.name + ".data-"
    return sorted(p for p in prefix.parent.iterdir() if p.name.startswith(start) and _DATA.search(p.name))


def is_complete(prefix):
    """True when the checkpoint `prefix` has its index and every data file the names promise."""
    prefix = Path(prefix)
    if not Path(f"{prefix}.index").is_file():
        return False
    data = [_DATA.search(p.name) for p in _data_files(prefix)]
    if not data:
        return False
    total = int(data[0].group(2))
    return total > 0 and {(int(m.group(1)), int(m.group(2))) for m in data} >= {(i, total) for i in range(total)}


def files(prefix):
    """The files of the checkpoint `prefix` that exist: its index, then its data files in order."""
    index = Path(f"{prefix}.index")
    return ([index] if index.is_file() else []) + [p for p in _data_files(prefix) if p.is_file()]


def _fsync(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(prefix, objects, meta):
    """Writes `objects` (name -> Keras layer, optimizer or variable) and the JSON record `meta`
    as the checkpoint `prefix` (files `prefix.index`, `prefix.data-*`), atomically (module
    docstring). The folder is created if needed. Returns `prefix` as a Path."""
    from amr_tf import rundir

    prefix = Path(prefix)
    directory = prefix.parent
    directory.mkdir(parents=True, exist_ok=True)
    view = _View(objects)
    text = json.dumps(meta)
    tmp = directory / f".{prefix.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)  # this process's own leftover
    tmp.mkdir()
    try:
        with rundir.tensorflow_writes(prefix):
            tf.train.Checkpoint(**view.roots, **{META: _Meta(text)}).write(str(tmp / prefix.name))
        written = files(tmp / prefix.name)
        if not is_complete(tmp / prefix.name):
            raise OSError(f"TensorFlow wrote {[p.name for p in written]} for {prefix}, not a whole checkpoint")
        for path in written:
            _fsync(path)
        # An earlier checkpoint of the same name (an epoch run again): its index goes first, so it
        # is incomplete, never mixed with the new data, until the new index is in place.
        old = files(prefix)
        for path in old:
            path.unlink()
        index, data = written[0], written[1:]
        for path in data + [index]:  # the index last: it makes the checkpoint complete
            os.replace(path, directory / path.name)
        _fsync(directory, directory=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return prefix


# -- reading --------------------------------------------------------------------------------

def _corrupt(prefix, why):
    if isinstance(why, BaseException):
        first = (str(why).strip().splitlines() or [""])[0][:120]
        why = f"{type(why).__name__}: {first}" if first else type(why).__name__
    return CheckpointError(f"checkpoint {prefix} is corrupt or unreadable ({why}); {_fallback(prefix)}")


def _fallback(prefix):
    """What a user can do without the damaged checkpoint `prefix`: the advice names what is left."""
    prefix = Path(prefix)
    kind, _, number = prefix.name.partition("-")
    if kind == "best":
        return ("its weights are lost: evaluate or export --checkpoint=last instead (training on "
                "rewrites the best when an epoch beats it)")
    if kind == "epoch" and number.isdigit():
        earlier = [p for n, p in _complete(prefix.parent, "epoch") if n < int(number)]
        if earlier:
            return f"delete its files ({prefix.name}.*) to resume from {earlier[-1].name}, the one before it"
        return "no earlier epoch checkpoint is left to resume from: train the run again with --restart"
    return "it cannot be used"


def _older(path):
    return CheckpointError(
        f"checkpoint {path} was written by an older amr_tf (a .npz archive), which this version does not "
        "read; finish that run with the amr_tf that started it, or train it again (amr_tf.train --restart "
        "sets its history aside)")


def _open(prefix):
    """(reader, meta) of the checkpoint `prefix`, or CheckpointError in one line."""
    prefix = Path(prefix)
    if prefix.suffix == ".npz" and prefix.is_file():
        raise _older(prefix)
    if not files(prefix):
        if Path(f"{prefix}.npz").is_file():
            raise _older(Path(f"{prefix}.npz"))
        raise CheckpointError(f"checkpoint {prefix} does not exist")
    if not is_complete(prefix):
        raise _corrupt(prefix, "its index or a data file is missing: an interrupted write?")
    try:
        reader = tf.train.load_checkpoint(str(prefix))
    except Exception as e:  # the C++ reader's errors: OpError, IndexError ("read less bytes"), ...
        raise _corrupt(prefix, e) from None
    return reader, _meta_of(prefix, reader)


def _meta_of(prefix, reader):
    try:
        if not reader.has_tensor(_META_KEY):
            raise _corrupt(prefix, "it has no metadata")
        raw = reader.get_tensor(_META_KEY)
    except CheckpointError:
        raise
    except Exception as e:
        raise _corrupt(prefix, e) from None
    try:
        raw = raw.item() if isinstance(raw, np.ndarray) else raw
        meta = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        check_meta(meta)
    except (ValueError, TypeError, UnicodeDecodeError, AttributeError) as e:
        raise _corrupt(prefix, f"its metadata: {e}" if isinstance(e, TypeError) else
                       f"its metadata is not JSON ({type(e).__name__})") from None
    return meta


def read_meta(prefix):
    """The checkpoint's metadata record (checked), or CheckpointError in one line."""
    return _open(prefix)[1]


def read(prefix):
    """(key -> NumPy array of every variable, meta) of a checkpoint, or CheckpointError in one line."""
    reader, meta = _open(prefix)
    values = _read_all(prefix, reader)
    return {key: value for key, value in values.items() if key not in (_GRAPH_KEY, _META_KEY)}, meta


def _read_all(prefix, reader):
    """Every tensor of the checkpoint (TensorFlow checks each one's CRC32C), or CheckpointError."""
    try:
        return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}
    except Exception as e:
        raise _corrupt(prefix, e) from None


def _dtype(value):
    return tf.as_dtype(value.dtype).base_dtype


def restore(objects, prefix, only=None, partial=False):
    """Assigns the checkpoint `prefix` to `objects` (as `save` took them); returns its metadata.

    Args:
        objects: name -> Keras layer, optimizer or variable.
        prefix: the checkpoint (a prefix, e.g. `.../checkpoints/epoch-0003`).
        only: restore just these names of `objects` (e.g. the networks, for export).
        partial: `objects` may be a part of what the checkpoint holds (e.g. just the networks);
            each object still has to match the checkpoint's entirely. Implied by `only`.

    Raises:
        CheckpointError: missing, corrupt, of an older amr_tf, or not this model's (names, shapes
            or dtypes differ; for a full restore, the checkpoint holds something the objects lack).
            Nothing has been assigned then.
    """
    view = _View(objects)
    names = set(view.roots) if only is None else set(only) & set(view.roots)
    partial = partial or only is not None
    reader, meta = _open(prefix)
    wanted = view.keys(names)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    chosen = {_escape(n) for n in names}
    stored = {k for k in shapes if k not in (_GRAPH_KEY, _META_KEY)}
    if partial:  # the rest of the checkpoint is not asked for
        stored = {k for k in stored if k.split("/", 1)[0] in chosen}
    stored_roots = {k.split("/", 1)[0] for k in stored}
    wanted_roots = {k.split("/", 1)[0] for k in wanted}
    absent = [n for n in view.order if _escape(n) in wanted_roots - stored_roots]
    if absent:
        raise CheckpointError(f"checkpoint {prefix} lacks {', '.join(absent)}: it was written by another model")
    foreign = sorted(stored_roots - chosen)
    if foreign:
        raise CheckpointError(f"checkpoint {prefix} has {', '.join(foreign)}, which this model lacks: "
                              "it was written by another model")
    lacking = [k for k in wanted if k not in stored]
    if lacking:
        raise CheckpointError(f"checkpoint {prefix} lacks {lacking[0]}"
                              f"{f' (and {len(lacking) - 1} more)' if len(lacking) > 1 else ''}: "
                              "it was written by another model")
    extra = sorted(stored - set(wanted))
    if extra:
        raise CheckpointError(f"checkpoint {prefix} has {extra[0]}"
                              f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}, which this model "
                              "lacks: it was written by another model")
    for key, variable in wanted.items():
        if tuple(shapes[key]) != tuple(variable.shape):
            raise CheckpointError(f"checkpoint {prefix} does not fit this model: {key} has shape "
                                  f"{tuple(shapes[key])}, the model needs {tuple(variable.shape)}")
        if dtypes[key] != _dtype(variable):
            raise CheckpointError(f"checkpoint {prefix} does not fit this model: {key} is "
                                  f"{dtypes[key].name}, the model needs {_dtype(variable).name}")
    _read_all(prefix, reader)  # the whole file read (and its checksums checked) before anything is assigned
    before = [(v, np.array(v.numpy(), copy=True)) for v in wanted.values()]
    try:
        roots = {n: view.roots[n] for n in names}
        status = tf.train.Checkpoint(**roots, **{META: _Meta()}).read(str(prefix))
        status.assert_existing_objects_matched()
        if partial:
            status.expect_partial()
        else:
            status.assert_consumed()
    except Exception as e:  # AssertionError (unmatched objects), OpError, ...
        for variable, value in before:  # put back whatever the read assigned
            variable.assign(value)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {prefix} does not fit this model ({first[:200]})") from None
    return meta


# -- a run's checkpoint folder --------------------------------------------------------------

def epoch_path(directory, epoch):
    """The prefix of epoch `epoch`'s checkpoint: `directory/epoch-NNNN`."""
    return Path(directory) / f"epoch-{epoch:04d}"


def _numbered(directory, kind):
    """{number: [files]} of the `kind`-NNNN checkpoints in `directory` (complete or not)."""
    pattern = re.compile(rf"^{kind}-(\d{{4,}})\.(?:index|data-\d{{5}}-of-\d{{5}})$")
    found = {}
    directory = Path(directory)
    if directory.is_dir():
        for path in directory.iterdir():
            if (m := pattern.match(path.name)) and path.is_file():
                found.setdefault(int(m.group(1)), []).append(path)
    return found


def _complete(directory, kind):
    """Sorted (number, prefix) of the complete `kind`-NNNN checkpoints in `directory`."""
    out = []
    for number, paths in _numbered(directory, kind).items():
        prefix = paths[0].with_name(paths[0].name.split(".", 1)[0])
        if is_complete(prefix):
            out.append((number, prefix))
    return sorted(out)


def _refuse_older(directory, kind):
    directory = Path(directory)
    old = sorted(p for p in directory.iterdir() if _OLD.match(p.name)) if directory.is_dir() else []
    if old:  # named after the kind asked for when there is one
        raise _older(max(old, key=lambda p: (p.name.startswith(kind), p.name)))


def latest(directory, refuse_old=True):
    """The prefix of the complete epoch checkpoint with the highest epoch in `directory`, or None.

    Raises:
        CheckpointError: there is none but the folder holds .npz checkpoints of an older amr_tf
            (unless `refuse_old` is False).
    """
    return _newest(directory, "epoch", refuse_old)


def best_path(directory, epoch=None, refuse_old=True):
    """With `epoch`: the prefix the best checkpoint of that epoch is written to, `directory/best-NNNN`.
    Without: the newest complete best checkpoint in `directory`, or None (CheckpointError as `latest`)."""
    if epoch is not None:
        return Path(directory) / f"best-{epoch:04d}"
    return _newest(directory, "best", refuse_old)


def _newest(directory, kind, refuse_old):
    found = _complete(directory, kind)
    if found:
        return found[-1][1]
    if refuse_old:
        _refuse_older(directory, kind)
    return None


def prune(directory, keep=2):
    """Deletes all but the newest `keep` (>= 1) complete epoch checkpoints, all best ones but those
    a resume can need, and the leftovers (incomplete files) of older ones.

    The best ones kept: the newest, and for each kept epoch checkpoint the best it was written
    with (the newest best of that epoch or before). A resume from an older epoch checkpoint (its
    successor killed half-written, or deleted as corrupt) sets aside the bests past it
    (`set_aside_after`), and its own best must still be there: the one its history names.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got keep={keep}")
    epochs = [n for n, _ in _complete(directory, "epoch")]
    bests = [n for n, _ in _complete(directory, "best")]
    keeping = {"epoch": set(epochs[-keep:]), "best": set(bests[-1:])}
    for epoch in keeping["epoch"]:
        before = [b for b in bests if b <= epoch]
        if before:
            keeping["best"].add(before[-1])
    for kind, complete in (("epoch", epochs), ("best", bests)):
        if not complete:
            continue
        for number, paths in _numbered(directory, kind).items():
            if number in keeping[kind] or number > complete[-1]:
                continue
            for path in sorted(paths, key=lambda p: not p.name.endswith(".index")):  # the index first
                path.unlink(missing_ok=True)


def set_aside_after(directory, epoch, destination):
    """Moves the epoch and best checkpoints (complete or not) of epochs past `epoch` from
    `directory` to `destination` (created when needed), index files first; returns their names.
    A run resumed at `epoch` has abandoned those epochs: a best of one of them must not stay
    the run's best, nor be taken by export or evaluate."""
    moved = []
    for kind in ("epoch", "best"):
        for number, paths in sorted(_numbered(directory, kind).items()):
            if number <= epoch:
                continue
            Path(destination).mkdir(parents=True, exist_ok=True)
            for path in sorted(paths, key=lambda p: not p.name.endswith(".index")):
                os.replace(path, Path(destination) / path.name)
            moved.append(f"{kind}-{number:04d}")
    return moved


# -- a trained run's networks ---------------------------------------------------------------

# The networks a run's checkpoint may hold, by the names its trainer gives them.
RUN_NETWORKS = ("encoder", "decoder", "discriminator", "probe", "class_mixer")


def find(run_dir, which="best"):
    """The prefix of a run's "best" or "last" (newest epoch) checkpoint; ValueError if it has none.
    The best is the one best.json names, when it names one (a run killed after writing a best
    checkpoint but before finishing its epoch has a newer best file that is not yet its best)."""
    from amr_tf import rundir

    directory = Path(run_dir) / rundir.CHECKPOINTS_DIR
    path = best_path(directory) if which == "best" else latest(directory)
    named = rundir.read_best(run_dir).get("epoch") if which == "best" else None
    if isinstance(named, int) and not isinstance(named, bool) and path is not None:
        # the best is the one best.json names (newer best files belong to no finished epoch yet)
        path = best_path(directory, named)
        if not is_complete(path):
            raise ValueError(f"{run_dir}: best.json names epoch {named}, but {directory} holds no complete "
                             f"{path.name}; use the last checkpoint instead")
    elif which == "best" and path is not None:
        # no best.json (a run whose probe accuracy was never finite): the newest best of a
        # finished epoch
        finished = max((number for number, _ in _complete(directory, "epoch")), default=0)
        path = next((prefix for number, prefix in reversed(_complete(directory, "best")) if number <= finished),
                    None)
    if path is None:
        raise ValueError(f"{run_dir} has no {which} checkpoint yet (train at least one epoch)")
    return path


def load_networks(run_dir, which="best", path=None):
    """The networks of a finished (or running) run, without its trainer or optimizers.

    Args:
        run_dir: a run directory written by `trainers.run.fit`.
        which: "best" (best valid probe accuracy) or "last" (newest epoch checkpoint).
        path: that checkpoint's prefix, when the caller has found it already (`find`).

    Returns:
        (config, networks, meta): the run's Config, an `amr_tf.networks.Networks` with the
        checkpoint's weights, and the checkpoint's metadata (its "epoch", "history").

    Raises:
        ValueError: not a run directory, no checkpoint, or an unknown `which`.
    """
    from amr_tf import data, networks, registry, rundir

    registry.check("checkpoint", which, rundir.CHECKPOINTS)
    config = rundir.read_config(run_dir)
    path = find(run_dir, which) if path is None else path
    nets = networks.for_config(config, data.info(config.dataset, config))
    names = [name for name in RUN_NETWORKS if getattr(nets, name) is not None]
    if config.model == "vae":
        names.remove("discriminator")  # built but never trained: not in a VAE checkpoint
    check_identity(path, read_meta(path), config)
    meta = restore({name: getattr(nets, name) for name in names}, path, partial=True)
    return config, nets, meta
