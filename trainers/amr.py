"""AMRTrainer: the adversarial mixup resynthesis update as one Keras `train_step`.

One step (the paper's section 2, in the original code's order):
1. auto-encoder forward: h = f(x), r = g(h), h_mix = Mix(h, h', ...), r_mix = g(h_mix), every
   step; on every `update_g_every`-th step (0, N, 2N, ...) also its loss (Eq. 3)
   lamb * recon(x, r) + l_GAN(D(r), 1) + l_GAN(D(r_mix), 1) [+ beta * consistency] and update.
   D's verdict on the fakes feeds only that loss, so the other steps skip it (the original
   computed and discarded it);
2. discriminator: l_GAN(D(x), 1) + l_GAN(D(r), 0) + l_GAN(D(r_mix), 0) on detached fakes;
3. linear probe on stop_gradient(h), with its own optimizer: it never changes the encoder.
`mixer="none"` drops the mix terms: the AE+GAN baseline (Eq. 2).

With `cls > 0` (section 2.2, Eq. 7) a third set of fakes joins: pairs (x1, y1), (x2, y2),
y_mix = a y1 + (1 - a) y2 with a ~ U(0, 1), p = embed(y_mix) (the class mixer, trained with
the auto-encoder), m ~ Bernoulli(p) made differentiable (`mixers.bernoulli_mask`), and
h_sup = m f(x1) + (1 - m) f(x2). G adds l_GAN(D(g(h_sup)), 1) + cls * l_cls(p(y|g(h_sup)), y_mix);
D adds l_GAN(D(g(h_sup)), 0) and learns its auxiliary classifier p(y|x) on real (x, y).
These terms are added to the unsupervised ones ("in addition to", as the paper says).
"""

from typing import NamedTuple, Tuple

import keras
import tensorflow as tf

from amr_tf import losses, mixers, registry
from amr_tf.config import D_CALLS
from amr_tf.networks.presets import Networks
from trainers import strategy as strategies
from trainers.base import BaseTrainer

LOSS_NAMES = (
    "g_loss", "recon", "g_gan_recon", "g_gan_mix", "consistency",
    "d_loss", "d_real", "d_recon", "d_mix", "probe_loss", "probe_accuracy",
)
SUPERVISED_NAMES = ("g_gan_sup", "g_cls", "d_sup", "d_cls", "cls_real_accuracy", "cls_mix_accuracy")
LABEL_KINDS = ("classes", "attributes")
# How D meets the batch's images (`D_CALLS`). "batched": one call over [x; r; r_mix; ...] for D's
# update and one over the fakes on the generator's steps. "original": the original's five calls
# a step, D(r) and D(r_mix) for the generator on every step (their verdict discarded when it does
# not update), then D(x), D(r), D(r_mix) for D; with spectral norm every call advances the power
# iteration and has its own sigma, so only "original" reproduces its updates exactly.


class Forward(NamedTuple):
    """One auto-encoder forward pass of a step.

    h: the codes f(x) [B, ...]; fakes: g of [h; h_mix; h_sup] in one decoder pass, laid out as
    the trainer's `blocks`; alpha [B]: each example's own share of its unsupervised mix (0
    without one); y_mix: the supervised mix's target (y itself without one); mixed: the codes
    decoded after h, in block order (only inside the step that made them)."""

    h: tf.Tensor
    fakes: tf.Tensor
    alpha: tf.Tensor
    y_mix: tf.Tensor
    mixed: Tuple[tf.Tensor, ...] = ()


@keras.saving.register_keras_serializable(package="amr_tf")
class AMRTrainer(BaseTrainer):
    """Trains an encoder/decoder pair against a discriminator on mixed codes.

    Args:
        encoder, decoder, discriminator, probe: built Keras models (see `amr_tf.networks`).
        class_mixer: the supervised mixer's embed(y) (`amr_tf.networks.ClassMixer`), needed
            when cls > 0 (the discriminator must then have an auxiliary classifier head).
        mixer: name in `amr_tf.mixers` ("none" for AE+GAN).
        k: number of examples per mix.
        lamb: reconstruction weight (the paper's lambda).
        beta: consistency weight (supplement 7.3), on every kind of mix the run decodes.
        cls_weight: weight of the class-consistency term of Eq. 7 (Config's `cls`; `cls` itself
            is a reserved argument of keras.Model); 0 trains no supervised mixes.
        mask_temperature: None (straight-through Bernoulli mask) or a relaxed-Bernoulli temperature.
        label_kind: "classes" (one-hot, exclusive: l_cls is a softmax cross-entropy against the
            soft y_mix, accuracy by argmax) or "attributes" (multi-hot, e.g. CelebA's: a sigmoid
            cross-entropy per attribute, accuracy = every attribute right at 0.5).
        update_g_every: apply the auto-encoder update every this many steps.
        recon_loss, gan_loss: loss kinds of `amr_tf.losses`.
        weight_decay: coupled L2 decay added to every gradient (as torch's Adam).
        seed: seeds the mixing randomness (a `keras.random.SeedGenerator`, checkpointed).
        d_calls: one of `D_CALLS`.

    Example:
        >>> nets = networks.build_networks("acai32", (32, 32, 1), 10)
        >>> trainer = AMRTrainer(*nets, mixer="mixup", k=3)
        >>> trainer.compile(ae_optimizer=..., d_optimizer=..., probe_optimizer=...)
        >>> trainer.fit(dataset_of_images_and_onehot_labels)
    """

    def __init__(self, encoder, decoder, discriminator, probe, class_mixer=None, mixer="mixup", k=2,
                 lamb=10.0, beta=0.0, cls_weight=0.0, mask_temperature=None, label_kind="classes",
                 update_g_every=5,
                 recon_loss="l1", gan_loss="bce", weight_decay=1e-5, seed=0, d_calls="batched", **kwargs):
        super().__init__(encoder, decoder, probe, lamb=lamb, recon_loss=recon_loss, weight_decay=weight_decay,
                         seed=seed, loss_names=LOSS_NAMES + (SUPERVISED_NAMES if cls_weight > 0 else ()), **kwargs)
        self.discriminator, self.class_mixer = discriminator, class_mixer
        self.mixer, self.k = mixer, (1 if mixer == "none" else k)
        self.beta = beta
        self.cls_weight, self.mask_temperature = cls_weight, mask_temperature
        self.label_kind = registry.check("label_kind", label_kind, LABEL_KINDS)
        self.update_g_every = update_g_every
        self.gan_loss = gan_loss
        self.d_calls = registry.check("d_calls", d_calls, D_CALLS)
        mixers.get_mixer(mixer)  # fail early on an unknown name
        if cls_weight > 0 and class_mixer is None:
            raise ValueError(f"cls_weight={cls_weight} needs a class mixer (build the networks with n_attributes > 0)")
        # Rows of the decoder's batch: reconstructions, then unsupervised mixes, then class mixes.
        self.blocks = ["recon"] + (["mix"] if mixer != "none" else []) + (["sup"] if cls_weight > 0 else [])
        # Generator terms this configuration has (the others stay at 0 in the logs).
        self.g_terms = self._generator_terms()

    def _generator_terms(self):
        terms = ["recon", "g_gan_recon", "g_loss"]
        terms += ["g_gan_mix"] if "mix" in self.blocks else []
        terms += ["g_gan_sup", "g_cls"] if "sup" in self.blocks else []
        terms += ["consistency"] if self.beta > 0 and len(self.blocks) > 1 else []
        return terms

    NETWORKS = Networks._fields  # every network a run builds

    @property
    def optimizer_names(self):
        names = ["ae_optimizer", "d_optimizer"] + (["probe_optimizer"] if self.probe is not None else [])
        return names + (["cls_optimizer"] if getattr(self, "cls_optimizer", None) is not None else [])

    @property
    def step_optimizer(self):
        """D updates on every step (G every `update_g_every`-th): its iterations count the steps."""
        return self.d_optimizer

    @property
    def class_head_variables(self):
        """D's auxiliary classifier head (empty without one)."""
        head = getattr(self.discriminator, "head", None) if self.discriminator is not None else None
        return head.trainable_variables if head is not None else []

    @property
    def ae_variables(self):
        mixer_vars = self.class_mixer.trainable_variables if self.class_mixer is not None else []
        return self.encoder.trainable_variables + self.decoder.trainable_variables + mixer_vars

    def compile(self, ae_optimizer, d_optimizer=None, probe_optimizer=None, cls_optimizer=None, **kwargs):
        """`cls_optimizer` (optional) updates D's auxiliary classifier head on its own (the
        supervised mixer's `cls_lr`); without it `d_optimizer` updates the head with the rest of D."""
        self.d_optimizer = d_optimizer
        self.cls_optimizer = cls_optimizer if self.class_head_variables else None
        super().compile(ae_optimizer, probe_optimizer, **kwargs)
        if d_optimizer is not None:
            d_optimizer.build(self._d_body_variables())
        if self.cls_optimizer is not None:
            self.cls_optimizer.build(self.class_head_variables)

    def _d_body_variables(self):
        """D's variables that `d_optimizer` updates: all of them, less the class head when the
        head has its own optimizer."""
        variables = self.discriminator.trainable_variables
        if getattr(self, "cls_optimizer", None) is None:
            return variables
        head = {id(v) for v in self.class_head_variables}
        return [v for v in variables if id(v) not in head]

    # -- the three updates -------------------------------------------------------------

    def _block(self, t, name, batch):
        """Rows of `t` (laid out as `self.blocks`, `batch` rows each) that hold block `name`."""
        i = self.blocks.index(name)
        return t[i * batch: (i + 1) * batch]

    def _forward(self, x, y):
        """h = f(x), the mixes, and every fake g([h; h_mix; h_sup]) in one decoder pass
        (instance norm is per example, so one pass over all of them is exact).

        Returns a `Forward`."""
        batch = tf.shape(x)[0]
        h = self.encoder(x, training=True)
        alpha, y_mix = tf.zeros([batch], tf.float32), tf.cast(y, tf.float32)
        codes = [h]
        if "mix" in self.blocks:
            h_mix, alpha = self._mix(h)
            codes.append(h_mix)
        if "sup" in self.blocks:
            h_sup, y_mix = self._class_mix(h, y)
            codes.append(tf.cast(h_sup, h.dtype))
        fakes = self.decoder(tf.concat(codes, axis=0) if len(codes) > 1 else h, training=True)
        return Forward(h=h, fakes=fakes, alpha=alpha, y_mix=y_mix, mixed=tuple(codes[1:]))

    def _mix(self, h):
        """(h_mix, alpha): codes mixed with partners from the global batch, and each example's
        own share of its mix (its weight, averaged over feature maps), float32 [B]."""

        def mix(codes):
            result = mixers.mix(codes, self.mixer, self.k, seed=self.seed_generator)
            return result.h, tf.reduce_mean(tf.cast(result.weights[:, 0, :], tf.float32), axis=-1)

        return strategies.on_global_batch(mix, h)

    def _class_mix(self, h, y):
        """(h_sup, y_mix) of Eq. 7: a partner from the global batch and a ~ U(0, 1) per example,
        y_mix = a y + (1 - a) y', m ~ Bernoulli(embed(y_mix)), h_sup = m h + (1 - m) h'."""

        def mix(codes, labels):
            pair = mixers.mix(codes, "mixup", 2, seed=self.seed_generator)  # partners and a
            a = tf.cast(pair.weights[:, 0, :1], tf.float32)
            partner = pair.indices[:, 1]
            labels = tf.cast(labels, tf.float32)
            y_mix = a * labels + (1.0 - a) * tf.gather(labels, partner)
            p = self.class_mixer(y_mix, training=True)
            mask = mixers.bernoulli_mask(p, self.seed_generator, self.mask_temperature)
            return mixers.class_mix(codes, tf.gather(codes, partner), mask), y_mix

        return strategies.on_global_batch(mix, h, y)

    def _consistency(self, fwd, batch):
        """beta's term: recon(f(g(h_mix)), h_mix) per example, averaged over the kinds of mix."""
        fakes = tf.concat([self._block(fwd.fakes, name, batch) for name in self.blocks[1:]], axis=0)
        mixed = tf.concat(fwd.mixed, axis=0)
        per_row = losses.consistency_loss(mixed, self.encoder(fakes, training=True), self.recon_loss)
        return tf.reduce_mean(tf.reshape(per_row, [len(self.blocks) - 1, batch]), axis=0)

    def _class_loss(self, targets, logits):
        """l_cls of Eq. 7 per example (see `label_kind`)."""
        if self.label_kind == "classes":
            return losses.classifier_loss(targets, logits)
        return losses.attribute_loss(targets, logits)

    def _class_accuracy(self, targets, logits):
        """Classes: argmax(logits) == argmax(targets) (for y_mix, the parent with a > 1/2);
        attributes: every attribute right, both thresholded at 1/2."""
        if self.label_kind == "classes":
            return losses.classifier_accuracy(targets, logits)
        return losses.attribute_accuracy(targets, logits)

    def _discriminate(self, images):
        """D's logits [N] and, with the supervised mixer, its class logits [N, A] (else None)."""
        if self.cls_weight > 0:
            return self.discriminator(images, training=True, with_classes=True)
        return self.discriminator(images, training=True), None

    def _discriminate_blocks(self, blocks):
        """`_discriminate` over the concatenated `blocks`: one call ("batched") or one call per
        block, in order ("original"); the outputs are the same rows either way."""
        if self.d_calls == "batched" or len(blocks) == 1:
            return self._discriminate(tf.concat(blocks, axis=0) if len(blocks) > 1 else blocks[0])
        outs = [self._discriminate(block) for block in blocks]
        logits = tf.concat([o[0] for o in outs], axis=0)
        return logits, (None if outs[0][1] is None else tf.concat([o[1] for o in outs], axis=0))

    def _discarded_mix_call(self):
        """With d_calls="original" and no mixer (AE+GAN): the original still decodes a mix and
        calls D on it, discarding the verdict; its lasting effect, one more power iteration."""
        if self.d_calls == "original" and "mix" not in self.blocks:
            self.discriminator.advance_power_iteration()

    def _fake_blocks(self, fakes, batch):
        return [self._block(fakes, name, batch) for name in self.blocks]

    def _generator_losses(self, x, y, fwd):
        """Per-example terms of the auto-encoder's loss (Eq. 2 / Eq. 3 / Eq. 7, + consistency)."""
        batch = tf.shape(x)[0]
        fakes = fwd.fakes
        d_fake, class_logits = self._discriminate_blocks(self._fake_blocks(fakes, batch))
        self._discarded_mix_call()
        out = {"recon": losses.reconstruction_loss(x, fakes[:batch], self.recon_loss)}
        out["g_gan_recon"] = losses.gan_loss(d_fake[:batch], 1.0, self.gan_loss)
        g_loss = self.lamb * out["recon"] + out["g_gan_recon"]
        if "mix" in self.blocks:
            out["g_gan_mix"] = losses.gan_loss(self._block(d_fake, "mix", batch), 1.0, self.gan_loss)
            g_loss += out["g_gan_mix"]
        if "sup" in self.blocks:
            out["g_gan_sup"] = losses.gan_loss(self._block(d_fake, "sup", batch), 1.0, self.gan_loss)
            out["g_cls"] = self._class_loss(fwd.y_mix, self._block(class_logits, "sup", batch))
            g_loss += out["g_gan_sup"] + self.cls_weight * out["g_cls"]
        if "consistency" in self.g_terms:
            out["consistency"] = self._consistency(fwd, batch)
            g_loss += self.beta * out["consistency"]
        out["g_loss"] = g_loss
        return out

    def _train_autoencoder(self, x, y, due=None):
        """Returns (`Forward`, generator terms, due). The forward pass runs every step
        (D and the probe need it); D's verdict on the fakes and the update only when G is due.

        `due=None` decides in the graph from the step count (the `fit` path); a Python bool
        comes from a loop of ours under a tf.distribute strategy, where a synchronising
        update (gradient all-reduce, all_gather) inside `tf.cond` is not supported."""
        batch = tf.shape(x)[0]

        def update():
            with tf.GradientTape() as tape:
                fwd = self._forward(x, y)
                out = self._generator_losses(x, y, fwd)
                loss = losses.average(out["g_loss"]) + self._decay(self.ae_variables)
                loss = self.ae_optimizer.scale_loss(loss)
            self._minimize(self.ae_optimizer, tape, loss, self.ae_variables)
            return fwd._replace(mixed=()), [out[name] for name in self.g_terms]

        def forward_only():
            fwd = self._forward(x, y)
            if self.d_calls == "original":  # the original's discarded verdicts (they advance u)
                self._discriminate_blocks(self._fake_blocks(fwd.fakes, batch))
                self._discarded_mix_call()
            recon = losses.reconstruction_loss(x, fwd.fakes[:batch], self.recon_loss)
            terms = [recon if name == "recon" else tf.zeros_like(recon) for name in self.g_terms]
            return fwd._replace(mixed=()), terms

        if due is None:
            due = self.generator_due(tf.convert_to_tensor(self.step_optimizer.iterations))
            fwd, terms = tf.cond(due, update, forward_only)
        else:
            fwd, terms = update() if due else forward_only()
            due = tf.constant(due)
        return fwd, dict(zip(self.g_terms, terms)), due

    def _train_discriminator(self, x, y, fwd):
        batch = tf.shape(x)[0]
        fakes = tf.stop_gradient(tf.cast(fwd.fakes, x.dtype))
        variables = self._d_body_variables()
        head = self.class_head_variables if self.cls_optimizer is not None else []
        with tf.GradientTape() as tape:
            # One pass over [x; r; r_mix; r_sup]: D has no batch statistics, so this is exact.
            logits, class_logits = self._discriminate_blocks([x] + self._fake_blocks(fakes, batch))
            fake_logits = logits[batch:]
            out = {
                "d_real": losses.gan_loss(logits[:batch], 1.0, self.gan_loss),
                "d_recon": losses.gan_loss(self._block(fake_logits, "recon", batch), 0.0, self.gan_loss),
            }
            d_loss = out["d_real"] + out["d_recon"]
            if "mix" in self.blocks:
                out["d_mix"] = losses.gan_loss(self._block(fake_logits, "mix", batch), 0.0, self.gan_loss)
                d_loss += out["d_mix"]
            if "sup" in self.blocks:
                out["d_sup"] = losses.gan_loss(self._block(fake_logits, "sup", batch), 0.0, self.gan_loss)
                # The auxiliary classifier learns on real data only (AC-GAN), with weight 1.
                out["d_cls"] = self._class_loss(y, class_logits[:batch])
                d_loss += out["d_sup"] + out["d_cls"]
            out["d_loss"] = d_loss
            # One loss scale for both (mixed_float16 with --cls_lr is refused by the Config).
            loss = self.d_optimizer.scale_loss(losses.average(d_loss) + self._decay(variables + head))
        grads = tape.gradient(loss, variables + head)
        self.d_optimizer.apply(grads[:len(variables)], variables)
        if head:
            self.cls_optimizer.apply(grads[len(variables):], head)
        if "sup" in self.blocks:
            out["cls_real_accuracy"] = self._class_accuracy(y, class_logits[:batch])
            mix_logits = self._block(class_logits[batch:], "sup", batch)
            out["cls_mix_accuracy"] = self._class_accuracy(fwd.y_mix, mix_logits)
        return out

    def generator_due(self, step):
        """Whether step number `step` of the run (counted from 0; an int, or a tensor inside the
        step) updates the auto-encoder: every `update_g_every`-th step, counted from the run's
        first step, or, when `steps_per_epoch` is set (update_g_phase="epoch"), from each epoch's
        first."""
        if self.steps_per_epoch:
            step = step % self.steps_per_epoch
        return step % self.update_g_every == 0

    def train_step(self, data, update_generator=None):
        """One AMR step on `data` = (images, one-hot labels).

        Args:
            update_generator: None (decide from the step count, in the graph) or a Python
                bool from a loop that counts steps itself (see `generator_due`).
        """
        x, y = data
        fwd, out, due = self._train_autoencoder(x, y, update_generator)
        # The generator's terms are averaged over the steps that update it (they are what
        # it minimises); recon, D's and the probe's over every step.
        g_weight = tf.cast(due, tf.float32)
        for name, values in out.items():
            weight = None if name == "recon" else g_weight * tf.ones_like(values)
            self.trackers[name].update_state(values, sample_weight=weight)
        d_out = self._train_discriminator(x, y, fwd)
        for name, values in {**d_out, **self._train_probe(fwd.h, y)}.items():
            self.trackers[name].update_state(values)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        config = super().get_config()
        config.update(
            mixer=self.mixer, k=self.k, beta=self.beta, cls_weight=self.cls_weight,
            mask_temperature=self.mask_temperature, label_kind=self.label_kind,
            update_g_every=self.update_g_every, gan_loss=self.gan_loss, d_calls=self.d_calls,
        )
        return config
