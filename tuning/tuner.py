"""AMRTuner: KerasTuner's Tuner with one resumable run directory per (trial, seed).

A trial trains its setting once per seed, each into `<trial dir>/run_s<seed>/` through
`trainers.run.fit` (so a trial cut short resumes its runs from their checkpoints when the
oracle retries it), and reports to the oracle the mean over seeds of each run's best
`val_probe_accuracy` over epochs, with its standard deviation and the test accuracy at
the best valid epoch. The oracles print one line per finished trial wherever the oracle
lives (the only process, or the chief in distributed tuning).
"""

import gc
import shutil
from pathlib import Path

import keras
import keras_tuner
import numpy as np

from amr_tf.results import format_score
from tuning.oracles import TUNERS

OBJECTIVE = "val_probe_accuracy"
# Metrics each trial reports (besides the objective), in the order the table shows them.
METRICS = (OBJECTIVE, f"{OBJECTIVE}_std", "test_probe_accuracy", "test_probe_accuracy_std", "best_epoch",
           "n_seeds")


def run_dir(project_dir, trial_id, seed):
    """The run directory of one seed of one trial: `<project>/trial_<id>/run_s<seed>`."""
    return Path(project_dir) / f"trial_{trial_id}" / f"run_s{seed}"


def objective():
    """The search objective: the best valid probe accuracy over epochs, maximised (the paper's)."""
    return keras_tuner.Objective(OBJECTIVE, "max")


def hyperparameter_values(trial):
    """The trial's searched values ({"lamb": 2.0, ...}); of Hyperband's bookkeeping, its epochs."""
    values = trial.hyperparameters.values
    out = {k: v for k, v in values.items() if not k.startswith("tuner/")}
    if "tuner/epochs" in values:
        out["epochs"] = values["tuner/epochs"]
    return out


def format_values(values):
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def trial_metrics(trial):
    """{metric: last reported value} for a finished trial (empty if it reported nothing)."""
    return {name: trial.metrics.get_last_value(name) for name in METRICS if trial.metrics.exists(name)}


def metric_text(metrics, name, digits=4):
    """A trial's metric `name` as the tables print a score (`amr_tf.results.format_score`): the
    mean, with "+- std" over several seeds; "-" when missing."""
    value = metrics.get(name)
    score = None if value is None else (value, metrics.get(f"{name}_std", 0.0), metrics.get("n_seeds", 1))
    return format_score(score, digits)


def trial_line(trial):
    """`trial N: lamb=... val_probe_accuracy=...` for a finished (or failed) trial."""
    head = f"trial {int(trial.trial_id)}: {format_values(hyperparameter_values(trial))}"
    if trial.status != keras_tuner.engine.trial.TrialStatus.COMPLETED:
        reason = (trial.message or "").strip().splitlines()
        return f"{head} {trial.status}: {reason[-1] if reason else 'no result'}"
    metrics = trial_metrics(trial)
    return (f"{head} {OBJECTIVE}={metric_text(metrics, OBJECTIVE)} "
            f"test_probe_accuracy={metric_text(metrics, 'test_probe_accuracy')}")


class _ReportingOracle:
    """Prints `trial_line` when a trial ends (not when it is sent back for a retry)."""

    def end_trial(self, trial):
        super().end_trial(trial)
        ended = self.trials[trial.trial_id]
        if trial.trial_id in self.end_order:
            print(trial_line(ended), flush=True)


ORACLES = {
    name: type(f"Reporting{oracle}", (_ReportingOracle, getattr(keras_tuner.oracles, oracle)), {})
    for name, oracle in TUNERS.items()
}


def make_oracle(tuner, max_trials=None, max_epochs=None, seed=0):
    """The oracle for a tuner name (grid, random, bayesian, hyperband).

    Args:
        tuner: the name.
        max_trials: trials at most (grid: None = the whole grid); unused by hyperband.
        max_epochs: hyperband's largest budget (the search's --epochs).
        seed: seeds the oracle's sampling.
    """
    # The oracles treat seed=0 as "draw a random seed"; shift it so that every seed is reproducible.
    kwargs = {"objective": objective(), "seed": seed + 1}
    if tuner == "hyperband":
        kwargs.update(max_epochs=max_epochs, factor=3)
    else:
        kwargs["max_trials"] = max_trials
    oracle = ORACLES[tuner](**kwargs)
    oracle.verbose = 0  # the oracle's own tables; `trial_line` says what matters
    return oracle


class _EpochCallback(keras.callbacks.Callback):
    """Hands each epoch's logs (val_probe_accuracy among them) to the tuner."""

    def __init__(self, tuner, trial, seed):
        super().__init__()
        self.tuner, self.trial, self.seed = tuner, trial, seed

    def on_epoch_end(self, epoch, logs=None):
        self.tuner.on_epoch_end(self.trial, self.model, epoch, logs=dict(logs or {}, seed=self.seed))


class AMRTuner(keras_tuner.Tuner):
    """A Tuner whose trials are `trainers.run.fit` runs inside the tuner's trial directories.

    Args:
        oracle: from `make_oracle`.
        hypermodel: an `AMRHyperModel`.
        seeds: the seeds each setting is trained with; the trial's objective is their mean.
        fit_verbose: Keras' verbosity inside each trial (0: the per-epoch line of `on_epoch_end`).
        **kwargs: `keras_tuner.Tuner` arguments (directory, project_name, overwrite).
    """

    def __init__(self, oracle, hypermodel, seeds=(0,), fit_verbose=0, **kwargs):
        super().__init__(oracle, hypermodel, **kwargs)
        self.seeds = tuple(seeds)
        self.fit_verbose = fit_verbose

    def run_dir(self, trial_id, seed):
        """The run directory of one seed of one trial (inside KerasTuner's trial directory)."""
        self.get_trial_dir(trial_id)  # creates it
        return run_dir(self.project_dir, trial_id, seed)

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        if "tuner/epochs" in hp.values:  # Hyperband: this round's budget, continuing a parent trial
            kwargs["epochs"] = hp.values["tuner/epochs"]
            parent = hp.values.get("tuner/trial_id")
            if parent is not None:
                for seed in self.seeds:
                    source, target = self.run_dir(parent, seed), self.run_dir(trial.trial_id, seed)
                    if source.is_dir() and not target.exists():  # copy, then rename: never half a copy
                        partial = target.with_name(target.name + ".partial")
                        shutil.rmtree(partial, ignore_errors=True)
                        shutil.copytree(source, partial)
                        partial.rename(target)
        given = kwargs.pop("callbacks", [])
        records = []
        for seed in self.seeds:
            keras.backend.clear_session()
            gc.collect()
            model = self.hypermodel.build(hp, seed=seed)
            callbacks = [*self._deepcopy_callbacks(given), _EpochCallback(self, trial, seed)]
            records.append(self.hypermodel.fit(
                hp, model, run_dir=self.run_dir(trial.trial_id, seed), seed=seed,
                callbacks=callbacks, verbose=self.fit_verbose, **kwargs,
            ))
        return summarize(records)

    def on_epoch_end(self, trial, model, epoch, logs=None):
        logs = logs or {}
        if OBJECTIVE in logs:
            print(f"  trial {int(trial.trial_id)} seed {logs['seed']} epoch {epoch + 1}: "
                  f"{OBJECTIVE}={logs[OBJECTIVE]:.4f}", flush=True)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self._is_worker():  # the chief's oracle prints it there too
            print(trial_line(self.oracle.get_trial(trial.trial_id)), flush=True)

    def load_model(self, trial):
        """The best networks of the trial's first seed (`amr_tf.checkpoint.load_networks`)."""
        from amr_tf import checkpoint

        return checkpoint.load_networks(self.run_dir(trial.trial_id, self.seeds[0]))[1]


def summarize(records):
    """Mean and standard deviation over seeds of each run's best record."""
    out = {}
    for name in (OBJECTIVE, "test_probe_accuracy"):
        values = np.array([r[name] for r in records], dtype=float)
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std())
    out["best_epoch"] = float(np.mean([r["best_epoch"] for r in records]))
    out["n_seeds"] = float(len(records))
    return out
