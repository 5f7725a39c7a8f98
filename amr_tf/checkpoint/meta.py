"""The metadata record inside a checkpoint (JSON, parsed without running code), the error every
refusal raises, and the identity of the run a checkpoint belongs to.
"""

import re

import tensorflow as tf

META = "meta"


META_KEY = f"{META}/.ATTRIBUTES/py_state"


GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


# A checkpoint of an older amr_tf (a .npz archive): refused, never ignored.
OLD_FORMAT = re.compile(r"^(?:epoch-\d{4,}|best)\.npz$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, of an older amr_tf, or does not fit the model."""


class MetaState(tf.train.experimental.PythonState):
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


def older_format(path):
    return CheckpointError(
        f"checkpoint {path} was written by an older amr_tf (a .npz archive), which this version does not "
        "read; finish that run with the amr_tf that started it, or train it again (amr_tf.train --restart "
        "sets its history aside)")
