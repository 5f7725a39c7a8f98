"""VAETrainer: the beta-VAE baseline (Higgins et al. 2017; Burgess et al. 2018) for Table 4.

loss = lamb * recon(x, g(z)) + kl_weight * KL(q(z|x) || N(0, I)), z = mu + sigma * eps,
with the original's choices (`models/vae.py`): BCE summed per image
(`recon_loss="bce_sum"`), the KL averaged over the code units, Adam beta1 0.9, and
kl_weight = 100 on dSprites. No discriminator and nothing mixed while training: the encoder
network returns the posterior mean mu, which is the code that the probe, mixes, figures,
metrics and the exported `encode` signature use. The original read the second half of the
encoder's output as a standard deviation (a negative one breaks torch's Normal); here it is
a log-variance.
"""

import keras
import tensorflow as tf

from amr_tf import losses
from trainers.base import BaseTrainer

VAE_LOSS_NAMES = ("g_loss", "recon", "kl", "probe_loss", "probe_accuracy")


@keras.saving.register_keras_serializable(package="amr_tf")
class VAETrainer(BaseTrainer):
    """beta-VAE with the shared probe, seeding, evaluation and bookkeeping (`BaseTrainer`).

    Args:
        encoder: a variational encoder (`encoder.moments(x) -> (mu, logvar)`; `encoder(x)` is mu).
        decoder, probe: as for AMRTrainer (no discriminator: the VAE has no adversary).
        kl_weight: the beta of beta-VAE.
        lamb, recon_loss, weight_decay, seed: as for `BaseTrainer`.
    """

    def __init__(self, encoder, decoder, probe=None, kl_weight=100.0, **kwargs):
        if not getattr(encoder, "variational", False):
            raise ValueError("VAETrainer needs a variational encoder (build_networks(..., variational=True))")
        super().__init__(encoder, decoder, probe, loss_names=VAE_LOSS_NAMES, **kwargs)
        self.kl_weight = kl_weight
        self.discriminator, self.class_mixer = None, None
        self.mixer = "none"  # what it trains: no mixes (mixes of its codes are still drawn in figures)

    def _vae_losses(self, x):
        mu, logvar = self.encoder.moments(x, training=True)
        mu, logvar = tf.cast(mu, tf.float32), tf.cast(logvar, tf.float32)
        eps = keras.random.normal(tf.shape(mu), dtype="float32", seed=self.seed_generator)
        z = mu + tf.exp(0.5 * logvar) * eps
        r = self.decoder(tf.cast(z, self.decoder.compute_dtype), training=True)
        out = {"recon": losses.reconstruction_loss(x, r, self.recon_loss), "kl": losses.gaussian_kl(mu, logvar)}
        out["g_loss"] = self.lamb * out["recon"] + self.kl_weight * out["kl"]
        return mu, out

    def train_step(self, data, update_generator=None):
        del update_generator  # updated every step
        x, y = data
        with tf.GradientTape() as tape:
            mu, out = self._vae_losses(x)
            loss = losses.average(out["g_loss"]) + self._decay(self.ae_variables)
            loss = self.ae_optimizer.scale_loss(loss)
        self._minimize(self.ae_optimizer, tape, loss, self.ae_variables)
        for name, values in {**out, **self._train_probe(mu, y)}.items():
            self.trackers[name].update_state(values)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        return {**super().get_config(), "kl_weight": self.kl_weight}
