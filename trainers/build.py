"""Config -> a compiled trainer: the one way every entry point builds a model."""

import keras

from amr_tf import networks, registry
from amr_tf.config import ATTRIBUTE_DATASETS
from trainers.acai import ACAITrainer
from trainers.amr import AMRTrainer
from trainers.vae import VAETrainer

TRAINERS = registry.Registry("model")
for _name, _trainer in (("amr", AMRTrainer), ("acai", ACAITrainer), ("vae", VAETrainer)):
    TRAINERS.add(_name, _trainer)


def adam(config, name, learning_rate=None):
    """Adam with torch's epsilon (1e-8); the coupled decay is a loss term of the trainer.
    Keras adds epsilon before the bias correction, torch after it: only gradients near 1e-7
    see the difference. (A subclass with torch's placement, through Keras' per-op update_step,
    made the k=8 step about 20% slower, for no measurable change in training.)
    Under float16 it is wrapped in a LossScaleOptimizer (bfloat16 needs no loss scaling)."""
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate or config.lr, beta_1=config.beta1, beta_2=config.beta2,
        epsilon=1e-8, name=name,
    )
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    return optimizer


def build_trainer(config, info, dtype=None):
    """Networks, trainer and optimizers for `config` on data described by `info`.

    Args:
        config: an `amr_tf.config.Config`.
        info: the `amr_tf.data.DataInfo` of the data set (image shape, classes).
        dtype: the networks' dtype policy in place of `config.precision`; "float64" runs the
            networks' arithmetic in double precision (numerics checks; the losses stay float32).

    Returns:
        A compiled trainer (`AMRTrainer`, `ACAITrainer` or `VAETrainer` after `config.model`).
        Weights are seeded by `config.seed`.
    """
    keras.utils.set_random_seed(config.seed)
    nets = networks.for_config(config, info, dtype=dtype or config.precision)
    common = dict(lamb=config.lamb, recon_loss=config.recon_loss, weight_decay=config.weight_decay,
                  seed=config.seed, name=f"{config.model}_trainer")
    trainer_class = TRAINERS.get(config.model)
    ae_optimizer = adam(config, "ae_adam")
    if trainer_class is VAETrainer:  # no adversary: no D, no class mixer, no optimizers of theirs
        trainer = VAETrainer(nets.encoder, nets.decoder, nets.probe, kl_weight=config.kl_weight, **common)
        adversary = {}
    else:
        trainer = trainer_class(
            nets.encoder, nets.decoder, nets.discriminator, nets.probe, nets.class_mixer,
            mixer=config.mixer, k=config.k, beta=config.beta, cls_weight=config.cls,
            mask_temperature=config.mask_temperature, update_g_every=config.update_g_every,
            label_kind="attributes" if config.dataset in ATTRIBUTE_DATASETS else "classes",
            gan_loss=config.gan_loss, d_calls=config.d_calls, **common,
        )
        adversary = {"d_optimizer": adam(config, "d_adam")}
    probe_optimizer = adam(config, "probe_adam", config.probe_lr) if nets.probe is not None else None
    if config.cls_lr and trainer_class is not VAETrainer:
        adversary["cls_optimizer"] = adam(config, "cls_adam", config.cls_lr)
    trainer.compile(ae_optimizer=ae_optimizer, probe_optimizer=probe_optimizer, jit_compile=config.jit_compile,
                    **adversary)
    return trainer
