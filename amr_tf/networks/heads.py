"""Heads on the code: the linear probe and the supervised class mixer."""


import keras
from keras import ops

from amr_tf.networks.layers import dense
from amr_tf.networks.stacks import Stack


@keras.saving.register_keras_serializable(package="amr_tf")
class Probe(Stack):
    """Linear probe (Alain & Bengio 2016): logits = Dense(flatten(h)), trained on stop_gradient(h).

    Args:
        n_classes: number of classes.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, n_classes, **kwargs):
        kwargs.setdefault("name", "probe")
        super().__init__(**kwargs)
        self.keep(n_classes=n_classes)
        self.body = [keras.layers.Flatten(dtype=self.dtype_policy),
                     dense(n_classes, self.dtype_policy)]


@keras.saving.register_keras_serializable(package="amr_tf")
class ClassMixer(Stack):
    """embed(y) of the supervised mixer (section 2.2, Eq. 7): attributes -> the probability
    that each feature map of the code comes from the first source.

    Dense(hidden) + ReLU x2, Dense(feature_maps), sigmoid (computed in float32).

    Args:
        n_attributes: size A of the attribute vector y (floats in [0, 1], e.g. a mix of two).
        feature_maps: F, the last axis of the code (latent for acai, z for flat codes).
        hidden: units of the two hidden layers.
        **kwargs: `keras.Model` arguments (name, dtype, ...).

    Returns (from `call(y)`):
        p, float32 [B, feature_maps] in (0, 1).
    """

    def __init__(self, n_attributes, feature_maps, hidden=64, **kwargs):
        kwargs.setdefault("name", "class_mixer")
        super().__init__(**kwargs)
        self.keep(n_attributes=n_attributes, feature_maps=feature_maps, hidden=hidden)
        dtype = self.dtype_policy
        self.body = [dense(hidden, dtype, activation="relu"),
                     dense(hidden, dtype, activation="relu"),
                     dense(feature_maps, dtype)]

    def call(self, y, training=False):
        return ops.sigmoid(ops.cast(super().call(y, training=training), "float32"))
