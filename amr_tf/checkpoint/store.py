"""Writing and reading one checkpoint: `save` (kill-safe), `read`, `read_meta`, `restore` (every
check first, then one assignment).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from amr_tf.checkpoint.files import complete_prefixes, files, fsync, is_complete
from amr_tf.checkpoint.meta import (
    GRAPH_KEY,
    META,
    META_KEY,
    CheckpointError,
    MetaState,
    check_meta,
    older_format,
)
from amr_tf.checkpoint.view import View, escape


def save(prefix, objects, meta):
    """Writes `objects` (name -> Keras layer, optimizer or variable) and the JSON record `meta`
    as the checkpoint `prefix` (files `prefix.index`, `prefix.data-*`), atomically (module
    docstring). The folder is created if needed. Returns `prefix` as a Path."""
    from amr_tf import rundir

    prefix = Path(prefix)
    directory = prefix.parent
    directory.mkdir(parents=True, exist_ok=True)
    view = View(objects)
    text = json.dumps(meta)
    tmp = directory / f".{prefix.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)  # this process's own leftover
    tmp.mkdir()
    try:
        with rundir.tensorflow_writes(prefix):
            tf.train.Checkpoint(**view.roots, **{META: MetaState(text)}).write(str(tmp / prefix.name))
        written = files(tmp / prefix.name)
        if not is_complete(tmp / prefix.name):
            raise OSError(f"TensorFlow wrote {[p.name for p in written]} for {prefix}, not a whole checkpoint")
        for path in written:
            fsync(path)
        # An earlier checkpoint of the same name (an epoch run again): its index goes first, so it
        # is incomplete, never mixed with the new data, until the new index is in place.
        old = files(prefix)
        for path in old:
            path.unlink()
        index, data = written[0], written[1:]
        for path in data + [index]:  # the index last: it makes the checkpoint complete
            os.replace(path, directory / path.name)
        fsync(directory, directory=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return prefix


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
        earlier = [p for n, p in complete_prefixes(prefix.parent, "epoch") if n < int(number)]
        if earlier:
            return f"delete its files ({prefix.name}.*) to resume from {earlier[-1].name}, the one before it"
        return "no earlier epoch checkpoint is left to resume from: train the run again with --restart"
    return "it cannot be used"


def _open(prefix):
    """(reader, meta) of the checkpoint `prefix`, or CheckpointError in one line."""
    prefix = Path(prefix)
    if prefix.suffix == ".npz" and prefix.is_file():
        raise older_format(prefix)
    if not files(prefix):
        if Path(f"{prefix}.npz").is_file():
            raise older_format(Path(f"{prefix}.npz"))
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
        if not reader.has_tensor(META_KEY):
            raise _corrupt(prefix, "it has no metadata")
        raw = reader.get_tensor(META_KEY)
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
    return {key: value for key, value in values.items() if key not in (GRAPH_KEY, META_KEY)}, meta


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
    view = View(objects)
    names = set(view.roots) if only is None else set(only) & set(view.roots)
    partial = partial or only is not None
    reader, meta = _open(prefix)
    wanted = view.keys(names)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    chosen = {escape(n) for n in names}
    stored = {k for k in shapes if k not in (GRAPH_KEY, META_KEY)}
    if partial:  # the rest of the checkpoint is not asked for
        stored = {k for k in stored if k.split("/", 1)[0] in chosen}
    stored_roots = {k.split("/", 1)[0] for k in stored}
    wanted_roots = {k.split("/", 1)[0] for k in wanted}
    absent = [n for n in view.order if escape(n) in wanted_roots - stored_roots]
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
        status = tf.train.Checkpoint(**roots, **{META: MetaState()}).read(str(prefix))
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
