"""Config -> a compiled trainer: the one way every entry point builds a model."""

import keras

from amr_tf import networks
from trainers.amr import AMRTrainer


def adam(config, name, learning_rate=None):
    """Adam with torch's epsilon (1e-8); the coupled decay is a loss term of the trainer.
    Under float16 it is wrapped in a LossScaleOptimizer (bfloat16 needs no loss scaling)."""
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate or config.lr, beta_1=config.beta1, beta_2=config.beta2,
        epsilon=1e-8, name=name,
    )
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    return optimizer


def build_trainer(config, info):
    """Networks, trainer and optimizers for `config` on data described by `info`.

    Args:
        config: an `amr_tf.config.Config`.
        info: the `amr_tf.data.DataInfo` of the data set (image shape, classes).

    Returns:
        A compiled `AMRTrainer`. Weights are seeded by `config.seed`.
    """
    keras.utils.set_random_seed(config.seed)
    nets = networks.build_networks(
        config.preset, tuple(info.image_shape), info.n_classes, dtype=config.precision
    )
    trainer = AMRTrainer(
        nets.encoder, nets.decoder, nets.discriminator, nets.probe,
        mixer=config.mixer, k=config.k, lamb=config.lamb, beta=config.beta,
        update_g_every=config.update_g_every, recon_loss=config.recon_loss,
        gan_loss=config.gan_loss, weight_decay=config.weight_decay, seed=config.seed,
        name="amr_trainer",
    )
    trainer.compile(
        ae_optimizer=adam(config, "ae_adam"),
        d_optimizer=adam(config, "d_adam"),
        probe_optimizer=adam(config, "probe_adam", config.probe_lr),
        jit_compile=config.jit_compile,
    )
    return trainer
