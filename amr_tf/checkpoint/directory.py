"""A run's checkpoint folder: the newest complete `epoch-NNNN` and `best-NNNN`, pruning, and
setting aside the epochs after a rollback.
"""

import os
from pathlib import Path

from amr_tf.checkpoint.files import complete_prefixes, numbered
from amr_tf.checkpoint.meta import OLD_FORMAT, older_format


def _refuse_older(directory, kind):
    directory = Path(directory)
    old = sorted(p for p in directory.iterdir() if OLD_FORMAT.match(p.name)) if directory.is_dir() else []
    if old:  # named after the kind asked for when there is one
        raise older_format(max(old, key=lambda p: (p.name.startswith(kind), p.name)))


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
    found = complete_prefixes(directory, kind)
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
    epochs = [n for n, _ in complete_prefixes(directory, "epoch")]
    bests = [n for n, _ in complete_prefixes(directory, "best")]
    keeping = {"epoch": set(epochs[-keep:]), "best": set(bests[-1:])}
    for epoch in keeping["epoch"]:
        before = [b for b in bests if b <= epoch]
        if before:
            keeping["best"].add(before[-1])
    for kind, complete in (("epoch", epochs), ("best", bests)):
        if not complete:
            continue
        for number, paths in numbered(directory, kind).items():
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
        for number, paths in sorted(numbered(directory, kind).items()):
            if number <= epoch:
                continue
            Path(destination).mkdir(parents=True, exist_ok=True)
            for path in sorted(paths, key=lambda p: not p.name.endswith(".index")):
                os.replace(path, Path(destination) / path.name)
            moved.append(f"{kind}-{number:04d}")
    return moved
