"""AMRTrainer: the adversarial mixup resynthesis update as one Keras `train_step`.

One step (SPEC.md section 2, the original code's order):
1. auto-encoder forward: h = f(x), r = g(h), h_mix = Mix(h, h', ...), r_mix = g(h_mix), every
   step; on every `update_g_every`-th step (0, N, 2N, ...) also its loss (Eq. 3)
   lamb * recon(x, r) + l_GAN(D(r), 1) + l_GAN(D(r_mix), 1) [+ beta * consistency] and update.
   D's verdict on the fakes feeds only that loss, so the other steps skip it (the original
   computed and discarded it);
2. discriminator: l_GAN(D(x), 1) + l_GAN(D(r), 0) + l_GAN(D(r_mix), 0) on detached fakes;
3. linear probe on stop_gradient(h), with its own optimizer: it never changes the encoder.
`mixer="none"` drops the mix terms: the AE+GAN baseline (Eq. 2).
"""

import keras
import tensorflow as tf

from amr_tf import losses, mixers

LOSS_NAMES = (
    "g_loss", "recon", "g_gan_recon", "g_gan_mix", "consistency",
    "d_loss", "d_real", "d_recon", "d_mix", "probe_loss", "probe_accuracy",
)
EVAL_NAMES = ("recon", "probe_loss", "probe_accuracy")


@tf.custom_gradient
def _dense_gradient(x):
    # all_gather's gradient cannot take the IndexedSlices that the mixers' tf.gather produce.
    return tf.identity(x), lambda dy: tf.convert_to_tensor(dy)


@keras.saving.register_keras_serializable(package="amr_tf")
class AMRTrainer(keras.Model):
    """Trains an encoder/decoder pair against a discriminator on mixed codes.

    Args:
        encoder, decoder, discriminator, probe: built Keras models (see `amr_tf.networks`).
        mixer: name in `amr_tf.mixers` ("none" for AE+GAN).
        k: number of examples per mix.
        lamb: reconstruction weight (the paper's lambda).
        beta: consistency weight (supplement 7.3).
        update_g_every: apply the auto-encoder update every this many steps.
        recon_loss, gan_loss: loss kinds of `amr_tf.losses`.
        weight_decay: coupled L2 decay added to every gradient (as torch's Adam).
        seed: seeds the mixing randomness (a `keras.random.SeedGenerator`, checkpointed).

    Example:
        >>> nets = networks.build_networks("acai32", (32, 32, 1), 10)
        >>> trainer = AMRTrainer(*nets, mixer="mixup", k=3)
        >>> trainer.compile(ae_optimizer=..., d_optimizer=..., probe_optimizer=...)
        >>> trainer.fit(dataset_of_images_and_onehot_labels)
    """

    def __init__(self, encoder, decoder, discriminator, probe, mixer="mixup", k=2, lamb=10.0,
                 beta=0.0, update_g_every=5, recon_loss="l1", gan_loss="bce",
                 weight_decay=1e-5, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.discriminator, self.probe = discriminator, probe
        self.mixer, self.k = mixer, (1 if mixer == "none" else k)
        self.lamb, self.beta = lamb, beta
        self.update_g_every = update_g_every
        self.recon_loss, self.gan_loss = recon_loss, gan_loss
        self.weight_decay, self.seed = weight_decay, seed
        mixers.get_mixer(mixer)  # fail early on an unknown name
        self.seed_generator = keras.random.SeedGenerator(seed, name="mix_seed")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}
        # Generator terms this configuration has (the others stay at 0 in the logs).
        self.g_terms = ["recon", "g_gan_recon", "g_loss"]
        self.g_terms += [] if self.mixer == "none" else ["g_gan_mix"] + (["consistency"] if beta > 0 else [])

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def ae_variables(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def compile(self, ae_optimizer, d_optimizer, probe_optimizer, **kwargs):
        super().compile(**kwargs)
        self.ae_optimizer = ae_optimizer
        self.d_optimizer = d_optimizer
        self.probe_optimizer = probe_optimizer
        # Built here, not lazily inside the step: slots created in a tf.cond branch or
        # a replica context fail (NOTES_TF.md items 3 and 5).
        ae_optimizer.build(self.ae_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        probe_optimizer.build(self.probe.trainable_variables)

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    # -- the three updates -------------------------------------------------------------

    def _decay(self, variables):
        """Coupled L2 decay as a loss term: its gradient is weight_decay * v, as torch's Adam
        adds; scaled per replica so that summing replica gradients counts it once."""
        if not self.weight_decay:
            return 0.0
        penalty = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])
        return tf.nn.scale_regularization_loss(0.5 * self.weight_decay * penalty)

    def _minimize(self, optimizer, tape, loss, variables):
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)

    def _forward(self, x):
        """h = f(x), the mixed codes h_mix (None for AE+GAN) and the fakes [r; r_mix] = g([h; h_mix])
        in one decoder pass (instance norm is per example, so one pass over both is exact)."""
        h = self.encoder(x, training=True)
        if self.mixer == "none":
            return h, None, self.decoder(h, training=True)
        h_mix = self._mix(h)
        return h, h_mix, self.decoder(tf.concat([h, h_mix], axis=0), training=True)

    def _mix(self, h):
        """Mixes codes with partners drawn from the whole global batch.

        Under a strategy with R replicas, every replica gathers all codes (all_gather is
        differentiable), makes the same draw (the RNG state is mirrored) and keeps its own
        rows: the same mixes, partners and gradients as one device on the global batch.
        """
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:
            return mixers.mix(h, self.mixer, self.k, seed=self.seed_generator).h
        local = tf.shape(h)[0]
        gathered = _dense_gradient(tf.ensure_shape(ctx.all_gather(h, axis=0), [None, *h.shape[1:]]))
        mixed = mixers.mix(gathered, self.mixer, self.k, seed=self.seed_generator)
        start = ctx.replica_id_in_sync_group * local
        return mixed.h[start: start + local]

    def _generator_losses(self, x, h_mix, fakes):
        """Per-example terms of the auto-encoder's loss (Eq. 2 / Eq. 3, + consistency)."""
        batch = tf.shape(x)[0]
        d_fake = self.discriminator(fakes, training=True)
        out = {"recon": losses.reconstruction_loss(x, fakes[:batch], self.recon_loss)}
        out["g_gan_recon"] = losses.gan_loss(d_fake[:batch], 1.0, self.gan_loss)
        g_loss = self.lamb * out["recon"] + out["g_gan_recon"]
        if h_mix is not None:
            out["g_gan_mix"] = losses.gan_loss(d_fake[batch:], 1.0, self.gan_loss)
            g_loss += out["g_gan_mix"]
            if self.beta > 0:
                h_re = self.encoder(fakes[batch:], training=True)
                out["consistency"] = losses.consistency_loss(h_mix, h_re, self.recon_loss)
                g_loss += self.beta * out["consistency"]
        out["g_loss"] = g_loss
        return out

    def _train_autoencoder(self, x, due=None):
        """Returns (h, fakes, generator terms, due). The forward pass runs every step (D and
        the probe need it); D's verdict on the fakes and the update only when G is due.

        `due=None` decides in the graph from the step count (the `fit` path); a Python bool
        comes from a loop of ours under a tf.distribute strategy, where a synchronising
        update (gradient all-reduce, all_gather) inside `tf.cond` is not supported."""
        batch = tf.shape(x)[0]

        def update():
            with tf.GradientTape() as tape:
                h, h_mix, fakes = self._forward(x)
                out = self._generator_losses(x, h_mix, fakes)
                loss = losses.average(out["g_loss"]) + self._decay(self.ae_variables)
                loss = self.ae_optimizer.scale_loss(loss)
            self._minimize(self.ae_optimizer, tape, loss, self.ae_variables)
            return h, fakes, [out[name] for name in self.g_terms]

        def forward_only():
            h, _, fakes = self._forward(x)
            recon = losses.reconstruction_loss(x, fakes[:batch], self.recon_loss)
            return h, fakes, [recon if name == "recon" else tf.zeros_like(recon) for name in self.g_terms]

        if due is None:
            due = tf.equal(self.d_optimizer.iterations % self.update_g_every, 0)
            h, fakes, terms = tf.cond(due, update, forward_only)
        else:
            h, fakes, terms = update() if due else forward_only()
            due = tf.constant(due)
        return h, fakes, dict(zip(self.g_terms, terms)), due

    def _train_discriminator(self, x, fakes):
        batch = tf.shape(x)[0]
        fakes = tf.stop_gradient(tf.cast(fakes, x.dtype))
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            # One pass over [x; r; r_mix]: D has no batch statistics, so this is exact.
            logits = self.discriminator(tf.concat([x, fakes], axis=0), training=True)
            out = {
                "d_real": losses.gan_loss(logits[:batch], 1.0, self.gan_loss),
                "d_recon": losses.gan_loss(logits[batch: 2 * batch], 0.0, self.gan_loss),
            }
            d_loss = out["d_real"] + out["d_recon"]
            if self.mixer != "none":
                out["d_mix"] = losses.gan_loss(logits[2 * batch:], 0.0, self.gan_loss)
                d_loss += out["d_mix"]
            out["d_loss"] = d_loss
            loss = self.d_optimizer.scale_loss(losses.average(d_loss) + self._decay(variables))
        self._minimize(self.d_optimizer, tape, loss, variables)
        return out

    def _train_probe(self, h, y):
        variables = self.probe.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.probe(tf.cast(tf.stop_gradient(h), self.probe.compute_dtype), training=True)
            per_example = losses.classifier_loss(y, logits)
            loss = self.probe_optimizer.scale_loss(losses.average(per_example) + self._decay(variables))
        self._minimize(self.probe_optimizer, tape, loss, variables)
        return {"probe_loss": per_example, "probe_accuracy": losses.classifier_accuracy(y, logits)}

    def generator_due(self, step):
        """Whether step number `step` (counted from 0) updates the auto-encoder."""
        return step % self.update_g_every == 0

    def train_step(self, data, update_generator=None):
        """One AMR step on `data` = (images, one-hot labels).

        Args:
            update_generator: None (decide from the step count, in the graph) or a Python
                bool from a loop that counts steps itself (see `generator_due`).
        """
        x, y = data
        h, fakes, out, due = self._train_autoencoder(x, update_generator)
        # The generator's terms are averaged over the steps that update it (they are what
        # it minimises); recon, D's and the probe's over every step.
        g_weight = tf.cast(due, tf.float32)
        for name, values in out.items():
            weight = None if name == "recon" else g_weight * tf.ones_like(values)
            self.trackers[name].update_state(values, sample_weight=weight)
        for name, values in {**self._train_discriminator(x, fakes), **self._train_probe(h, y)}.items():
            self.trackers[name].update_state(values)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        x, y = data
        h = self.encoder(x, training=False)
        r = self.decoder(h, training=False)
        logits = self.probe(tf.cast(h, self.probe.compute_dtype), training=False)
        self.trackers["recon"].update_state(losses.reconstruction_loss(x, r, self.recon_loss))
        self.trackers["probe_loss"].update_state(losses.classifier_loss(y, logits))
        self.trackers["probe_accuracy"].update_state(losses.classifier_accuracy(y, logits))
        return {name: self.trackers[name].result() for name in EVAL_NAMES}

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            probe=keras.saving.serialize_keras_object(self.probe),
            mixer=self.mixer, k=self.k, lamb=self.lamb, beta=self.beta,
            update_g_every=self.update_g_every, recon_loss=self.recon_loss,
            gan_loss=self.gan_loss, weight_decay=self.weight_decay, seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        for name in ("encoder", "decoder", "discriminator", "probe"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
