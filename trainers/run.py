"""fit(config, run_dir): a whole training run, resumable, into a run directory.

Run directory: config.json, checkpoints/ (TensorFlow checkpoints epoch-NNNN and best-NNNN, see
`amr_tf.checkpoint`), logs/ (TensorBoard),
metrics.csv (one row per finished epoch), best.json, images/.
"""

import contextlib
import dataclasses
import sys
from pathlib import Path

import keras
import tensorflow as tf

from amr_tf import data, rundir
from amr_tf.config import Config
from trainers import callbacks, checkpoint, loop
from trainers import strategy as strategies
from trainers.amr import EVAL_NAMES
from trainers.build import build_networks, build_trainer


class TrainingError(RuntimeError):
    """An error inside `fit` (not a user's bad input)."""


class TrainingDiverged(TrainingError):
    """Training stopped on a non-finite loss. `best` is the best record of the epochs before it."""

    def __init__(self, message, best):
        super().__init__(message)
        self.best = best


def _diverged_message(run_dir, diverged):
    where = f"epoch {diverged['epoch']}" + (f", step {diverged['step']}" if diverged["step"] else "")
    latest = checkpoint.latest(Path(run_dir) / "checkpoints")
    kept = (f"the last good checkpoint is {latest} (the command again resumes from it)" if latest is not None
            else "no epoch finished, so there is no checkpoint")
    return f"training diverged: non-finite {', '.join(diverged['values'])} at {where}; {kept}"


# Settings that may change between a run and its continuation.
RESUMABLE_CHANGES = ("epochs",)
# What --restart moves aside: the whole history of the earlier run.
RESTART_MOVES = ("checkpoints", "metrics.csv", "best.json", "images", "logs")


def prepare_run_dir(config, run_dir, resume=True, restart=False):
    """Checks that `run_dir` can take this run; writes nothing (the caller writes config.json
    once the checkpoint has been read).

    Returns:
        The path of the newest epoch checkpoint to resume from, or None.

    Raises:
        ValueError: the directory holds a different run, resume=False and it has checkpoints,
            or it has a history (metrics.csv rows) but no checkpoint and not `restart`;
            `checkpoint.CheckpointError` (a ValueError): its checkpoints are an older amr_tf's
            (.npz) and not `restart`.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"{run_dir} exists and is not a directory; choose another --out_dir")
    rundir.refuse_symlinks(run_dir)
    config_path = run_dir / "config.json"
    if config_path.exists():
        try:
            old = Config.from_json(config_path.read_text())
        except (ValueError, TypeError) as e:
            raise ValueError(f"{config_path} is not a readable run config ({e})") from None
        diffs = [
            f"{f.name}={getattr(old, f.name)!r} there, {getattr(config, f.name)!r} now"
            for f in dataclasses.fields(Config)
            if f.name not in RESUMABLE_CHANGES and getattr(old, f.name) != getattr(config, f.name)
        ]
        if diffs:
            raise ValueError(
                f"{run_dir} holds a run with other settings ({'; '.join(diffs)}); "
                "choose another --out_dir"
            )
    if restart:
        return None
    latest = checkpoint.latest(run_dir / "checkpoints")  # refuses an older amr_tf's .npz checkpoints
    if latest is not None and not resume:
        raise ValueError(
            f"{run_dir} already has checkpoints (newest {latest.name}); "
            "run again with --resume to continue it, or choose another --out_dir"
        )
    if latest is None:
        _, rows, _ = rundir.read_rows(run_dir / "metrics.csv")
        if rows:
            raise ValueError(
                f"{run_dir} has {len(rows)} epoch(s) in metrics.csv but no checkpoint to resume from; "
                "pass --restart to move that history aside and train from epoch 0"
            )
    return latest


def fit(config, run_dir, resume=True, verbose="auto", extra_callbacks=(), trainer=None, strategy=None,
        restart=False):
    """Trains `config` into `run_dir`, continuing from its newest checkpoint if any.

    Args:
        config: an `amr_tf.config.Config`.
        run_dir: the run directory (created if missing).
        resume: continue from the newest checkpoint; if False, refuse a directory that has one.
        verbose: Keras' verbosity ("auto": a progress bar on a terminal, a line per epoch otherwise).
        extra_callbacks: more Keras callbacks (e.g. KerasTuner's).
        trainer: an already-built trainer for `config` (from `build_trainer`, as a KerasTuner
            HyperModel's `build` makes it); None builds one here.
        strategy: a `tf.distribute.Strategy` (see `trainers.strategy`); None or the default
            strategy trains with Keras' `fit`, any other with `trainers.loop.fit_distributed`
            (same `train_step`). Only the chief writes the run directory; the other workers
            read its checkpoints, so on several machines it must be shared storage.
        restart: move the directory's history (checkpoints, metrics.csv, best.json, images,
            logs) to `restart-backup-<time>/` and train from epoch 0.

    The chief holds the directory's lock (`amr_tf.rundir.locked`) for the whole run; a
    directory another process holds is refused (`rundir.RunDirBusy`, a ValueError).

    Returns:
        The best record {"epoch", "val_probe_accuracy", "test_probe_accuracy"} (None if no epoch ran).
    """
    run_dir = Path(run_dir)
    strategy = strategy or tf.distribute.get_strategy()
    distributed = strategy is not tf.distribute.get_strategy() or strategy.num_replicas_in_sync > 1
    chief = strategies.is_chief(strategy)
    # The data first: a data set that cannot be read (offline TFDS, ...) creates no directory.
    info = data.info(config.dataset, config)
    replicas = strategy.num_replicas_in_sync
    steps = data.steps_per_epoch(config.dataset, config, replicas=replicas)
    if trainer is None:  # before the run directory: networks that cannot take the data create nothing
        with strategy.scope():
            trainer = build_trainer(config, info)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"{run_dir} exists and is not a directory; choose another --out_dir")
    with (rundir.locked(run_dir) if chief else contextlib.nullcontext()):
        return _fit_locked(config, run_dir, resume, restart, verbose, extra_callbacks, trainer, strategy,
                           distributed, chief, info, steps, replicas)


def _fit_locked(config, run_dir, resume, restart, verbose, extra_callbacks, trainer, strategy,
                distributed, chief, info, steps, replicas):
    if chief:
        latest = prepare_run_dir(config, run_dir, resume, restart)
        for folder in (run_dir, run_dir / "checkpoints"):
            rundir.remove_stale_temps(folder)
    else:
        latest = checkpoint.latest(run_dir / "checkpoints")
    if distributed:
        print(strategies.describe(strategy), flush=True)
    recorder = callbacks.RunRecorder(run_dir, data.load(config.dataset, "test", config))
    initial_epoch = 0
    if latest is not None:
        meta = checkpoint.restore(checkpoint.objects(trainer), latest)
        if "epoch" not in meta or "history" not in meta:
            raise checkpoint.CheckpointError(f"checkpoint {latest} has no epoch and history: it is no run's checkpoint")
        initial_epoch, recorder.history = meta["epoch"], meta["history"]
    if chief:  # everything read and checked: now the directory is written
        if restart:
            backup = rundir.set_aside(run_dir, RESTART_MOVES)
            if backup is not None:
                print(f"restarting {run_dir} from epoch 0; its history is in {backup}", flush=True)
        callbacks.write_json(run_dir / "config.json", dataclasses.asdict(config))
        for line in rundir.repair_history(run_dir, recorder.history, initial_epoch):
            print(f"{run_dir}: {line}", flush=True)
        rundir.set_aside_images(run_dir, initial_epoch)
        if recorder.history:
            callbacks.write_json(run_dir / "best.json", recorder.best)
    if latest is not None:
        print(f"resuming {run_dir} after epoch {initial_epoch} ({latest.name})", flush=True)
    if initial_epoch >= config.epochs:
        print(f"{run_dir} has finished all {config.epochs} epochs; best: {recorder.best}", flush=True)
        return recorder.best

    valid = data.load(config.dataset, "valid", config)
    first_x, first_y = next(iter(valid))
    keep = len(first_x) if len(first_x.shape) == 2 else 8  # points: the whole batch for a scatter
    examples, labels = first_x.numpy()[:keep], first_y.numpy()[:keep]
    train = data.load(config.dataset, "train", config, epochs=(initial_epoch, config.epochs), steps=steps,
                      replicas=replicas)
    if config.update_g_phase == "epoch":  # before the step is traced: it reads this
        trainer.steps_per_epoch = steps
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    writers = [
        callbacks.ImageRecorder(run_dir, examples, config.mixer, labels=labels),
        recorder,
        keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False),
    ] if chief else []
    try:
        if distributed:
            loop.fit_distributed(
                trainer, strategy, train, epochs=config.epochs, initial_epoch=initial_epoch,
                steps_per_epoch=steps, validation_data=valid, verbose=verbose,
                callbacks=[*writers, *extra_callbacks], eval_names=EVAL_NAMES,
            )
        else:
            trainer.fit(
                train,
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps,
                validation_data=valid,
                verbose=verbose,
                shuffle=False,  # the pipeline shuffles, by (seed, epoch)
                callbacks=[*writers, *extra_callbacks],
            )
    except ValueError as e:
        # Past set-up a ValueError is a bug, not bad input: keep its traceback.
        raise TrainingError(f"training failed: {e}") from e
    if recorder.diverged is not None:
        raise TrainingDiverged(_diverged_message(run_dir, recorder.diverged), recorder.best)
    return recorder.best


def load_networks(run_dir, which="best"):
    """The networks of a finished (or running) run, without its trainer or optimizers.

    Args:
        run_dir: a run directory written by `fit`.
        which: "best" (best valid probe accuracy) or "last" (newest epoch checkpoint).

    Returns:
        (config, networks, meta): the run's Config, an `amr_tf.networks.Networks` with the
        checkpoint's weights, and the checkpoint's metadata (its "epoch", "history").

    Raises:
        ValueError: not a run directory, no checkpoint, or an unknown `which`.
    """
    run_dir = Path(run_dir)
    if which not in ("best", "last"):
        raise ValueError(f"unknown checkpoint '{which}'; choose one of: best, last")
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{run_dir} is not a run directory (no config.json there)")
    config = Config.from_json(config_path.read_text())
    ckpt_dir = run_dir / "checkpoints"
    path = checkpoint.best_path(ckpt_dir) if which == "best" else checkpoint.latest(ckpt_dir)
    if path is None:
        raise ValueError(f"{run_dir} has no {which} checkpoint yet (train at least one epoch)")
    info = data.info(config.dataset, config)
    nets = build_networks(config, info)
    names = [name for name in (*checkpoint.NETWORKS, "class_mixer") if getattr(nets, name) is not None]
    if config.model == "vae":
        names.remove("discriminator")  # built but never trained: not in a VAE checkpoint
    meta = checkpoint.restore({name: getattr(nets, name) for name in names}, path, partial=True)
    return config, nets, meta
