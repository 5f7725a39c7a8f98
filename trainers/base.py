"""BaseTrainer: what every trainer shares (AMR, ACAI, the beta-VAE).

An auto-encoder f, g and a linear probe on its frozen codes (none on data without labels); the loss weight lamb and the
reconstruction loss; torch's coupled L2 decay as a loss term; the mixing RNG (a checkpointed
`keras.random.SeedGenerator`); one `keras.metrics.Mean` tracker per logged loss; the validation
step; which networks and optimizers a checkpoint holds; and `get_config` for the networks.
Subclasses add their own `train_step` and their own networks and optimizers.
"""

import keras
import tensorflow as tf

from amr_tf import losses

EVAL_NAMES = ("recon", "probe_loss", "probe_accuracy")
PROBE_NAMES = ("probe_loss", "probe_accuracy")


class BaseTrainer(keras.Model):
    """The shared part of every trainer.

    Args:
        encoder, decoder, probe: built Keras models (see `amr_tf.networks`); probe None on data
            without labels (no probe is trained, none of its metrics is logged).
        lamb: reconstruction weight (the paper's lambda).
        recon_loss: a reconstruction loss kind of `amr_tf.losses`.
        weight_decay: coupled L2 decay added to every gradient (as torch's Adam).
        seed: seeds the mixing randomness (a `keras.random.SeedGenerator`, checkpointed).
        loss_names: the logged losses (one tracker each).
        **kwargs: `keras.Model` arguments (name, ...).
    """

    # The networks this kind of trainer has (None where a configuration lacks one), in order: what
    # `get_config` serialises and a checkpoint holds.
    NETWORKS = ("encoder", "decoder", "probe")

    def __init__(self, encoder, decoder, probe, lamb=10.0, recon_loss="l1", weight_decay=1e-5, seed=0,
                 loss_names=EVAL_NAMES, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.probe = encoder, decoder, probe
        self.lamb, self.recon_loss = lamb, recon_loss
        self.weight_decay, self.seed = weight_decay, seed
        # Set by the run (update_g_phase="epoch") to count a cadence per epoch; None: per run.
        self.steps_per_epoch = None
        self.seed_generator = keras.random.SeedGenerator(seed, name="mix_seed")
        self.set_loss_names(loss_names)

    def set_loss_names(self, names):
        """Logs exactly `names` (a fresh tracker each), less the probe's without a probe."""
        self.loss_names = tuple(n for n in names if self.probe is not None or n not in PROBE_NAMES)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def network_names(self):
        """The networks a checkpoint holds: those of `NETWORKS` the trainer has, in that order."""
        return [name for name in self.NETWORKS if getattr(self, name, None) is not None]

    @property
    def optimizer_names(self):
        """The optimizers a checkpoint holds (attributes of the trainer, set by `compile`)."""
        return ["ae_optimizer"] + (["probe_optimizer"] if self.probe is not None else [])

    @property
    def step_optimizer(self):
        """The optimizer that applies an update on every step: its `iterations` count the steps."""
        return self.ae_optimizer

    @property
    def ae_variables(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def compile(self, ae_optimizer, probe_optimizer, **kwargs):
        super().compile(**kwargs)
        self.ae_optimizer = ae_optimizer
        self.probe_optimizer = probe_optimizer if self.probe is not None else None
        # Built here, not lazily inside the step: slots created in a tf.cond branch or
        # a replica context fail under tf.distribute (Keras creates them on first apply).
        ae_optimizer.build(self.ae_variables)
        if self.probe is not None:
            probe_optimizer.build(self.probe.trainable_variables)

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def generator_due(self, step):
        """Whether step number `step` of the run (counted from 0) updates the auto-encoder
        (always, unless a subclass has a cadence)."""
        return True

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

    def _train_probe(self, h, y):
        """One update of the linear probe on stop_gradient(h): it never changes the encoder.
        Without a probe (no labels): nothing, and no metrics."""
        if self.probe is None:
            return {}
        variables = self.probe.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.probe(tf.cast(tf.stop_gradient(h), self.probe.compute_dtype), training=True)
            per_example = losses.classifier_loss(y, logits)
            loss = self.probe_optimizer.scale_loss(losses.average(per_example) + self._decay(variables))
        self._minimize(self.probe_optimizer, tape, loss, variables)
        return {"probe_loss": per_example, "probe_accuracy": losses.classifier_accuracy(y, logits)}

    def test_step(self, data):
        x, y = data
        h = self.encoder(x, training=False)
        r = self.decoder(h, training=False)
        self.trackers["recon"].update_state(losses.reconstruction_loss(x, r, self.recon_loss))
        if self.probe is None:
            return {"recon": self.trackers["recon"].result()}
        logits = self.probe(tf.cast(h, self.probe.compute_dtype), training=False)
        self.trackers["probe_loss"].update_state(losses.classifier_loss(y, logits))
        self.trackers["probe_accuracy"].update_state(losses.classifier_accuracy(y, logits))
        return {name: self.trackers[name].result() for name in EVAL_NAMES}

    def get_config(self):
        config = super().get_config()
        for name in self.NETWORKS:
            model = getattr(self, name)
            config[name] = None if model is None else keras.saving.serialize_keras_object(model)
        config.update(lamb=self.lamb, recon_loss=self.recon_loss, weight_decay=self.weight_decay, seed=self.seed)
        return config

    @classmethod
    def from_config(cls, config):
        for name in cls.NETWORKS:
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
