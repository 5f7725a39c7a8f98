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

from amr_tf import checkpoint, data, provenance, rundir
from trainers import callbacks, loop
from trainers import checkpoint as trainer_checkpoint
from trainers import strategy as strategies
from trainers.base import EVAL_NAMES
from trainers.build import build_trainer


class TrainingError(RuntimeError):
    """An error inside `fit` (not a user's bad input)."""


class TrainingDiverged(TrainingError):
    """Training stopped on a non-finite loss. `best` is the best record of the epochs before it."""

    def __init__(self, message, best):
        super().__init__(message)
        self.best = best


@dataclasses.dataclass(frozen=True)
class Session:
    """What one training session works with, settled before the run directory is touched: the
    run's config and directory, the built trainer, the strategy and the data's shape of an epoch."""

    config: object  # amr_tf.config.Config
    run_dir: Path
    trainer: object  # a built trainer (trainers.build.build_trainer)
    strategy: tf.distribute.Strategy
    steps: int  # steps per epoch
    replicas: int

    @property
    def distributed(self):
        return (self.strategy is not tf.distribute.get_strategy()
                or self.strategy.num_replicas_in_sync > 1)

    @property
    def chief(self):
        return strategies.is_chief(self.strategy)


def _diverged_message(run_dir, diverged):
    where = f"epoch {diverged['epoch']}" + (f", step {diverged['step']}" if diverged["step"] else "")
    latest = checkpoint.latest(rundir.checkpoints_dir(run_dir))
    kept = (f"the last good checkpoint is {latest} (the command again resumes from it)" if latest is not None
            else "no epoch finished, so there is no checkpoint")
    return f"training diverged: non-finite {', '.join(diverged['values'])} at {where}; {kept}"


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
    # The data first: a data set that cannot be read (offline TFDS, ...) creates no directory.
    info = data.info(config.dataset, config)
    if info.fingerprint != config.data_fingerprint:  # recorded in config.json; a changed folder is refused
        config = dataclasses.replace(config, data_fingerprint=info.fingerprint)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        # each replica takes an equal share of the global batch (the gather of the global batch
        # relies on it): another split would train on something else, silently
        raise ValueError(f"batch_size={config.batch_size} does not split evenly over {replicas} replicas; "
                         f"choose a multiple of {replicas}")
    steps = data.steps_per_epoch(config.dataset, config, replicas=replicas)
    if trainer is None:  # before the run directory: networks that cannot take the data create nothing
        with strategy.scope():
            trainer = build_trainer(config, info)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"{run_dir} exists and is not a directory; choose another --out_dir")
    session = Session(config, run_dir, trainer, strategy, steps, replicas)
    with (rundir.locked(run_dir) if session.chief else contextlib.nullcontext()):
        return _fit_locked(session, resume, restart, verbose, extra_callbacks)


def _fit_locked(session, resume, restart, verbose, extra_callbacks):
    config, run_dir, trainer, strategy = session.config, session.run_dir, session.trainer, session.strategy
    chief, distributed, steps, replicas = session.chief, session.distributed, session.steps, session.replicas
    if chief:
        latest = rundir.check_can_take(config, run_dir, checkpoint.latest, resume, restart)
        for folder in (run_dir, rundir.checkpoints_dir(run_dir)):
            rundir.remove_stale_temps(folder)
    else:
        latest = checkpoint.latest(rundir.checkpoints_dir(run_dir))
    if distributed:
        print(strategies.describe(strategy), flush=True)
    recorder = callbacks.RunRecorder(run_dir, data.load(config.dataset, "test", config),
                                     identity=checkpoint.identity(config))
    initial_epoch = 0
    if latest is not None:
        checkpoint.check_identity(latest, checkpoint.read_meta(latest), config)
        meta = checkpoint.restore(trainer_checkpoint.objects(trainer), latest)
        if "epoch" not in meta or "history" not in meta:
            raise checkpoint.CheckpointError(f"checkpoint {latest} has no epoch and history: it is no run's checkpoint")
        initial_epoch, recorder.history = meta["epoch"], meta["history"]
        held = [row.get("epoch") if isinstance(row, dict) else None for row in recorder.history]
        if held != list(range(1, initial_epoch + 1)):
            raise checkpoint.CheckpointError(
                f"checkpoint {latest} is of epoch {initial_epoch} but its history holds epochs {held[:8]}"
                f"{' ...' if len(held) > 8 else ''}: it is no run's checkpoint")
    if chief:  # everything read and checked: now the directory is written
        if restart:
            backup = rundir.set_aside(run_dir, rundir.RESTART_MOVES)
            if backup is not None:
                print(f"restarting {run_dir} from epoch 0; its history is in {backup}", flush=True)
        rundir.write_json(rundir.config_path(run_dir), dataclasses.asdict(config))
        for line in rundir.repair_history(run_dir, recorder.history, initial_epoch):
            print(f"{run_dir}: {line}", flush=True)
        after = rundir.checkpoints_after(run_dir, initial_epoch)
        moved = checkpoint.set_aside_after(rundir.checkpoints_dir(run_dir), initial_epoch, after)
        if moved:
            print(f"{run_dir}: moved checkpoint(s) past epoch {initial_epoch} (the one resumed) to "
                  f"{after.name}: {', '.join(moved)}", flush=True)
        rundir.set_aside_images(run_dir, initial_epoch)
        if recorder.history:
            rundir.write_json(run_dir / rundir.BEST_FILE, recorder.best)
    if latest is not None:
        print(f"resuming {run_dir} after epoch {initial_epoch} ({latest.name})", flush=True)
    if initial_epoch >= config.epochs:
        print(f"{run_dir} has finished all {config.epochs} epochs; best: {recorder.best}", flush=True)
        return recorder.best
    if chief:  # what trains this session: the commit, date, CPU and command, for the tables made of it
        provenance.record(run_dir)

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
        keras.callbacks.TensorBoard(str(rundir.logs_dir(run_dir)), write_graph=False),
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
