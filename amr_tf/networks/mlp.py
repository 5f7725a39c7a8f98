"""The MLP family: small networks for 2-D points (the spiral, supplement Fig. 12)."""

from typing import NamedTuple

import keras
import tensorflow as tf

from amr_tf.networks.layers import LeakyReLU, dense
from amr_tf.networks.stacks import Coder, Critic, Stack


def _mlp(hidden, n_layers, dtype, power_iterations=None, spectral_norm="reparametrized"):
    """`n_layers` x (Dense(hidden) + LeakyReLU(0.2))."""
    stack = []
    for _ in range(n_layers):
        stack += [dense(hidden, dtype, power_iterations, spectral_norm=spectral_norm),
                  LeakyReLU(negative_slope=0.2, dtype=dtype)]
    return stack


@keras.saving.register_keras_serializable(package="amr_tf")
class FourierFeatures(keras.layers.Layer):
    """[B, D] -> [B, 2 features]: sin(x B) and cos(x B) for a fixed B ~ N(0, scale^2) [D, features].

    What lets a small MLP draw a decision boundary as twisted as the spiral's (Tancik et al.,
    2020): on the raw coordinates, 2 x 128 LeakyReLU units, trained on real points against
    chords between them, stay near chance for 12,000 steps at lr 1e-4 (the two-spirals problem);
    on 64 of these features at scale 8 they tell 90% of real points from 70% of chords within
    4,000. B is a non-trainable weight, drawn from the run's seed and saved with the network.

    Args:
        features: columns of B (the output has twice as many).
        scale: standard deviation of B's entries (higher resolves finer detail).
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, features=64, scale=8.0, **kwargs):
        super().__init__(**kwargs)
        self.features, self.scale = int(features), float(scale)

    def build(self, input_shape):
        self.frequencies = self.add_weight(
            shape=(input_shape[-1], self.features), name="frequencies", trainable=False,
            initializer=keras.initializers.RandomNormal(stddev=self.scale))

    def call(self, x):
        # In float32 whatever the policy: angles reach tens of radians, beyond bfloat16's resolution.
        angles = tf.matmul(tf.cast(x, "float32"), tf.cast(self.frequencies, "float32"))
        return tf.cast(tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * self.features)

    def get_config(self):
        return {**super().get_config(), "features": self.features, "scale": self.scale}


@keras.saving.register_keras_serializable(package="amr_tf")
class MLPEncoder(Coder):
    """Encoder of points: [B, D] -> [B, z]; `n_layers` x (Dense(hidden) + LeakyReLU(0.2)), Dense(z).

    Args:
        z: code size.
        hidden: units of each hidden layer.
        n_layers: number of hidden layers (`layers` is taken by keras.Model).
        variational: the last layer gives mu and log-variance (see `moments`); `call` returns mu.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, z=2, hidden=128, n_layers=2, variational=False, **kwargs):
        super().__init__(variational, **kwargs)
        self.keep(z=z, hidden=hidden, n_layers=n_layers)
        self.body = _mlp(hidden, n_layers, self.dtype_policy) + [
            dense(z * (2 if variational else 1), self.dtype_policy)]


@keras.saving.register_keras_serializable(package="amr_tf")
class MLPDecoder(Stack):
    """Decoder of points: [B, z] -> [B, dims]; `n_layers` x (Dense(hidden) + LeakyReLU(0.2)),
    then a linear Dense(dims).

    Args:
        dims: dimension D of the points.
        hidden: units of each hidden layer.
        n_layers: number of hidden layers (`layers` is taken by keras.Model).
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, dims=2, hidden=128, n_layers=2, **kwargs):
        kwargs.setdefault("name", "decoder")
        super().__init__(**kwargs)
        self.keep(dims=dims, hidden=hidden, n_layers=n_layers)
        self.body = _mlp(hidden, n_layers, self.dtype_policy) + [dense(dims, self.dtype_policy)]


@keras.saving.register_keras_serializable(package="amr_tf")
class MLPDiscriminator(Critic):
    """Discriminator of points: (FourierFeatures), `n_layers` x (SN Dense(hidden) + LeakyReLU(0.2)),
    SN Dense(1).

    Args:
        hidden: units of each hidden layer.
        n_layers: number of hidden layers (`layers` is taken by keras.Model).
        fourier: FourierFeatures' `features` before the first Dense; 0 reads the raw points.
        fourier_scale: FourierFeatures' `scale`.
        power_iterations, n_attributes, spectral_norm, **kwargs: `Critic`'s, as is `call` (the
            class head, a spectrally normalised Dense, reads what the final Dense(1) reads).
    """

    def __init__(self, hidden=128, n_layers=2, fourier=0, fourier_scale=8.0, power_iterations=1, n_attributes=0,
                 spectral_norm="reparametrized", **kwargs):
        super().__init__(power_iterations, n_attributes, spectral_norm, **kwargs)
        self.keep(hidden=hidden, n_layers=n_layers, fourier=fourier, fourier_scale=fourier_scale)
        dtype, n, sn = self.dtype_policy, power_iterations, self.spectral_norm
        features = [FourierFeatures(fourier, fourier_scale, dtype=dtype)] if fourier else []
        self.set_layers(features + _mlp(hidden, n_layers, dtype, n, sn) + [dense(1, dtype, n, spectral_norm=sn)])


class MLPPreset(NamedTuple):
    """MLPs for points of shape (D,), e.g. the 2-D spiral (supplement 7.3, Fig. 12).

    The paper does not give this architecture (our choice): 2 hidden layers of 128 units
    (LeakyReLU 0.2) in f, g and D are small yet enough capacity for a 1-D manifold in
    the plane (about 17k weights each for D = 2); z = 2 keeps the code as wide as the data
    and plottable, so the figure shows where decoded mixes land rather than what a
    narrower code loses. D reads 64 Fourier features of the points (`FourierFeatures`):
    on the raw coordinates it cannot tell the spiral from the chords across it, and then
    no adversary pulls a mix towards the curve.

    Args:
        z: code size.
        hidden: units of each hidden layer (LeakyReLU 0.2).
        n_layers: hidden layers of each network.
        fourier: D's Fourier features (0: D reads the raw points).
        fourier_scale: their frequencies' standard deviation.
    """

    z: int = 2
    hidden: int = 128
    n_layers: int = 2
    fourier: int = 64
    fourier_scale: float = 8.0

    def mismatch(self, input_shape):
        if len(input_shape) != 1:
            return "it takes points of shape (D,), e.g. (2,) for the spiral"
        return None

    def encoder(self, input_shape, dtype=None, variational=False):
        return MLPEncoder(self.z, self.hidden, self.n_layers, variational=variational, dtype=dtype)

    def decoder(self, input_shape, dtype=None):
        return MLPDecoder(input_shape[-1], self.hidden, self.n_layers, dtype=dtype)

    def discriminator(self, input_shape, dtype=None, n_attributes=0, spectral_norm="reparametrized"):
        return MLPDiscriminator(self.hidden, self.n_layers, self.fourier, self.fourier_scale, n_attributes=n_attributes,
                                spectral_norm=spectral_norm, dtype=dtype)
