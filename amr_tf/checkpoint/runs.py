"""A trained run's networks: `find` its best or last checkpoint, `load_networks` without its
trainer or optimizers.
"""

from pathlib import Path

from amr_tf.checkpoint.directory import best_path, latest
from amr_tf.checkpoint.files import complete_prefixes, is_complete
from amr_tf.checkpoint.meta import check_identity
from amr_tf.checkpoint.store import read_meta, restore


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
        finished = max((number for number, _ in complete_prefixes(directory, "epoch")), default=0)
        path = next((prefix for number, prefix in reversed(complete_prefixes(directory, "best")) if number <= finished),
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
    names = [name for name in nets._fields if getattr(nets, name) is not None]
    if config.model == "vae":
        names.remove("discriminator")  # built but never trained: not in a VAE checkpoint
    check_identity(path, read_meta(path), config)
    meta = restore({name: getattr(nets, name) for name in names}, path, partial=True)
    return config, nets, meta
