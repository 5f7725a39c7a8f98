"""ACAITrainer: the ACAI baseline (Berthelot et al. 2019) as the AMR paper re-implemented it.

The original's `ACAIF3` (`models/acai_f3.py`): the critic regresses how mixed an image is.
- G: lamb * L1 recon(x, g(f(x))) + l_GAN(D(g(h_mix)), 0) + beta * consistency: the decoder
  tries to make its mixes look unmixed (critic output 0);
- D: l_GAN(D(x), 0) + l_GAN(D(g(f(x))), 0) + l_GAN(D(g(h_mix)), 2 min(a, 1 - a)): 0 for real
  data and reconstructions, the mixing coefficient folded to [0, 1] for mixes.
D is called as the original calls it with `d_calls="original"`: once on the mixes for the
generator (every step, updating or not), then on x, the reconstructions and the mixes in turn
for the critic's update; "batched" makes the critic's three one call.
With JS-GAN (`gan_loss="bce"`) the regression is a sigmoid cross-entropy against a soft target
(the original's choice); `gan_loss="mse"` gives ACAI's own squared error on sigmoid(D).

a is the example's own share of its mix: mixup's a, or for Bernoulli mixers the fraction of
feature maps taken from the example (k = 2 only: Config refuses other k).
"""

import keras
import tensorflow as tf

from amr_tf import losses
from trainers.amr import AMRTrainer

ACAI_LOSS_NAMES = ("g_loss", "recon", "g_gan_mix", "consistency", "d_loss", "d_real", "d_recon", "d_mix",
                   "probe_loss", "probe_accuracy")


@keras.saving.register_keras_serializable(package="amr_tf")
class ACAITrainer(AMRTrainer):
    """The ACAI critic on top of AMRTrainer's forward pass, mixing, probe and bookkeeping.

    Takes AMRTrainer's arguments (no class mixer: cls_weight must be 0, and a mixer with k = 2).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.cls_weight > 0 or self.mixer == "none" or self.k != 2:
            raise ValueError("ACAI needs a mixer with k=2 and no class mixer (cls=0)")
        self.set_loss_names(ACAI_LOSS_NAMES)

    def _generator_terms(self):
        return ["recon", "g_gan_mix", "g_loss"] + (["consistency"] if self.beta > 0 else [])

    def _fake_blocks(self, fakes, batch):
        # The generator's side calls D on the mixes only (ACAI has no GAN term on reconstructions):
        # its verdict in the update, and under d_calls="original" the discarded one of a step
        # that does not update G (the original calls D(g(h_mix)) every step).
        return [self._block(fakes, "mix", batch)]

    def _generator_losses(self, x, y, fwd):
        batch = tf.shape(x)[0]
        fakes = fwd.fakes
        out = {"recon": losses.reconstruction_loss(x, fakes[:batch], self.recon_loss)}
        d_mix, _ = self._discriminate_blocks(self._fake_blocks(fakes, batch))
        out["g_gan_mix"] = losses.gan_loss(d_mix, 0.0, self.gan_loss)
        g_loss = self.lamb * out["recon"] + out["g_gan_mix"]
        if self.beta > 0:
            out["consistency"] = self._consistency(fwd, batch)
            g_loss += self.beta * out["consistency"]
        out["g_loss"] = g_loss
        return out

    @staticmethod
    def critic_target(alpha):
        """ACAI's regression target 2 min(a, 1 - a): 0 for an unmixed code, 1 for a 50/50 mix."""
        return 2.0 * tf.minimum(alpha, 1.0 - alpha)

    def _train_discriminator(self, x, y, fwd):
        batch = tf.shape(x)[0]
        fakes = tf.stop_gradient(tf.cast(fwd.fakes, x.dtype))
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            # [x; r; r_mix] in one call ("batched"), or D(x), D(r), D(r_mix) as the original calls
            # it ("original": three power iterations of the spectral norm); the same rows either way.
            blocks = [x, self._block(fakes, "recon", batch), self._block(fakes, "mix", batch)]
            logits, _ = self._discriminate_blocks(blocks)
            out = {
                "d_real": losses.gan_loss(logits[:batch], 0.0, self.gan_loss),
                "d_recon": losses.gan_loss(logits[batch: 2 * batch], 0.0, self.gan_loss),
                "d_mix": losses.gan_loss(logits[2 * batch:], self.critic_target(fwd.alpha), self.gan_loss),
            }
            out["d_loss"] = out["d_real"] + out["d_recon"] + out["d_mix"]
            loss = self.d_optimizer.scale_loss(losses.average(out["d_loss"]) + self._decay(variables))
        self._minimize(self.d_optimizer, tape, loss, variables)
        return out
