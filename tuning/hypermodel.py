"""AMRHyperModel: the KerasTuner search space over a base Config (lambda, optionally mixer, k, beta).

`build(hp)` makes the Config and the trainer exactly as `amr_tf.train` does
(`dataclasses.replace` on a Config, then `trainers.build.build_trainer`), and `fit` trains it
with `trainers.run.fit` into a resumable run directory, forwarding KerasTuner's callbacks.
"""

import dataclasses

import keras_tuner

from amr_tf import data
from trainers import run
from trainers.build import build_trainer

# The paper's hand-tuned grid for lambda (section 4).
LAMBDAS = (2.0, 5.0, 10.0, 20.0, 50.0)


class AMRHyperModel(keras_tuner.HyperModel):
    """Tunes the reconstruction weight `lamb` (and optionally `mixer`, `k`, `beta`) of a Config.

    Args:
        base: the `amr_tf.config.Config` every trial starts from (dataset, epochs, ...).
        lambdas: values of `lamb` to choose from.
        mixers: values of `mixer` to choose from; None keeps `base.mixer`.
        ks: values of `k` to choose from; None keeps `base.k`. Only active for a mixer other
            than "none" when mixers are searched too (k means nothing to AE+GAN).
        betas: values of the consistency weight `beta`; None keeps `base.beta`.
        **kwargs: `keras_tuner.HyperModel` arguments (name, tunable).

    Example:
        >>> hm = AMRHyperModel(Config(dataset="digits", epochs=5), lambdas=(2.0, 20.0))
        >>> hm.config(keras_tuner.HyperParameters()).lamb
        2.0
    """

    def __init__(self, base, lambdas=LAMBDAS, mixers=None, ks=None, betas=None, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.lambdas = tuple(float(v) for v in lambdas)
        self.mixers = tuple(mixers) if mixers else None
        self.ks = tuple(int(v) for v in ks) if ks else None
        self.betas = tuple(float(v) for v in betas) if betas else None

    def config(self, hp, seed=None):
        """The trial's Config: `base` with the values `hp` holds (declaring them on first use)."""
        values = {"lamb": hp.Choice("lamb", self.lambdas)}
        if self.mixers:
            values["mixer"] = hp.Choice("mixer", self.mixers)
        mixing = [m for m in self.mixers if m != "none"] if self.mixers else None
        if self.ks and mixing != []:  # [] = only AE+GAN: no k to search
            if mixing is not None and len(mixing) < len(self.mixers):
                with hp.conditional_scope("mixer", mixing):
                    k = hp.Choice("k", self.ks)
            else:
                k = hp.Choice("k", self.ks)
            if k is not None:  # None: k is inactive (mixer "none")
                values["k"] = k
        if self.betas:
            values["beta"] = hp.Choice("beta", self.betas)
        if seed is not None:
            values["seed"] = seed
        return dataclasses.replace(self.base, **values)

    def build(self, hp, seed=None):
        """A compiled `AMRTrainer` for the trial's Config (weights seeded by `seed`)."""
        config = self.config(hp, seed)
        return build_trainer(config, data.info(config.dataset, config))

    def fit(self, hp, model, run_dir, seed=None, epochs=None, callbacks=(), verbose=0, **kwargs):
        """Trains `model` (from `build`) into `run_dir`, continuing what is already there.

        Args:
            hp: the trial's `HyperParameters`.
            model: the trainer `build(hp, seed)` returned.
            run_dir: the run directory (inside the tuner's trial directory).
            seed: the seed `model` was built with.
            epochs: total epochs (Hyperband's budget for this round); None keeps the base's.
            callbacks: Keras callbacks from KerasTuner (forwarded to `Model.fit` each epoch).
            verbose: Keras' verbosity.
            **kwargs: more `trainers.run.fit` arguments (e.g. `resume`).

        Returns:
            {"val_probe_accuracy": the best over epochs, "test_probe_accuracy": at that epoch,
            "best_epoch": its epoch}, as KerasTuner's objective reads them.
        """
        config = self.config(hp, seed)
        if epochs is not None:
            config = dataclasses.replace(config, epochs=int(epochs))
        diverged = 0.0
        try:
            best = run.fit(config, run_dir, verbose=verbose, extra_callbacks=list(callbacks),
                           trainer=model, **kwargs)
        except run.TrainingDiverged as e:  # scored by the epochs before it, and marked
            print(f"{run_dir}: {e}", flush=True)
            best, diverged = e.best, 1.0
        if best is None:
            raise run.TrainingError(f"{run_dir}: no epoch finished")
        return {
            "val_probe_accuracy": float(best["val_probe_accuracy"]),
            "test_probe_accuracy": float(best["test_probe_accuracy"]),
            "best_epoch": float(best["epoch"]),
            "diverged": diverged,
        }
