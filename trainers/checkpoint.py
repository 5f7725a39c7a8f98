"""Checkpoints: every variable of a trainer in one .npz, written atomically.

A checkpoint holds the trainer's networks, its optimizers' slots and iteration
counts, the mixing RNG state, and a JSON metadata record (epoch, history, best).
It is a plain NumPy archive read with `allow_pickle=False`: loading one never runs
code (the original's torch.load pickles did). It is written to a temporary file,
fsync'ed and renamed, so a kill leaves either the old or the new file, never half of one.
"""

import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np

NETWORKS = ("encoder", "decoder", "discriminator", "probe")
_EPOCH_FILE = re.compile(r"^epoch-(\d{4,})\.npz$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit the model."""


def groups(trainer):
    """Named groups of variables whose order is fixed by the architecture: the trainer's
    networks (`trainer.network_names`: the VAE has no discriminator, the supervised mixer
    adds its class mixer) and optimizers (`trainer.optimizer_names`)."""
    out = {name: getattr(trainer, name).variables for name in trainer.network_names}
    for name in trainer.optimizer_names:
        out[name] = getattr(trainer, name).variables
    out["rng"] = [trainer.seed_generator.state]
    return out


def _flatten(var_groups):
    return {f"{g}/{i:04d}": v for g, variables in var_groups.items() for i, v in enumerate(variables)}


def save(path, var_groups, meta):
    """Atomically writes `var_groups` (name -> list of variables) and `meta` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {key: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for key, v in _flatten(var_groups).items()}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read(path):
    """Returns (arrays, meta) of a checkpoint, or raises CheckpointError in one line."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
        _check_meta(meta)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(e).__name__}); "
            "delete it to fall back to the previous one"
        ) from None
    return arrays, meta


def _check_meta(meta):
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


def restore(var_groups, path, only=None):
    """Assigns the checkpoint at `path` to `var_groups`; returns its metadata.

    Args:
        var_groups: name -> list of variables, as `groups()` returns.
        path: the .npz file.
        only: restore just these group names (e.g. the networks, for export).
    """
    arrays, meta = read(path)
    pairs = []
    for name, variables in var_groups.items():
        if only is not None and name not in only:
            continue
        for i, var in enumerate(variables):
            key = f"{name}/{i:04d}"
            if key not in arrays:
                raise CheckpointError(f"checkpoint {path} lacks {key}: it was written by another model")
            value = arrays[key]
            if tuple(value.shape) != tuple(var.shape):
                raise CheckpointError(
                    f"checkpoint {path} does not fit this model: {key} has shape "
                    f"{tuple(value.shape)}, the model needs {tuple(var.shape)}"
                )
            pairs.append((var, value))
    for var, value in pairs:  # all checked first: a refused checkpoint changes nothing
        var.assign(value)
    return meta


def epoch_path(directory, epoch):
    return Path(directory) / f"epoch-{epoch:04d}.npz"


def best_path(directory):
    return Path(directory) / "best.npz"


def latest(directory):
    """The epoch checkpoint with the highest epoch in `directory`, or None."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _EPOCH_FILE.match(p.name))]
    return max(found)[1] if found else None


def prune(directory, keep=2):
    """Deletes all but the newest `keep` (>= 1) epoch checkpoints (best.npz is kept)."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got keep={keep}")
    directory = Path(directory)
    found = sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := _EPOCH_FILE.match(p.name)))
    for _, p in found[:-keep]:
        p.unlink()
