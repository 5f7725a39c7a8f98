"""The MLP family: small networks for 2-D points (the spiral, supplement Fig. 12)."""

from typing import NamedTuple

import keras

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
    """Discriminator of points: `n_layers` x (SN Dense(hidden) + LeakyReLU(0.2)), SN Dense(1).

    Args:
        hidden: units of each hidden layer.
        n_layers: number of hidden layers (`layers` is taken by keras.Model).
        power_iterations, n_attributes, spectral_norm, **kwargs: `Critic`'s, as is `call` (the
            class head, a spectrally normalised Dense, reads what the final Dense(1) reads).
    """

    def __init__(self, hidden=128, n_layers=2, power_iterations=1, n_attributes=0,
                 spectral_norm="reparametrized", **kwargs):
        super().__init__(power_iterations, n_attributes, spectral_norm, **kwargs)
        self.keep(hidden=hidden, n_layers=n_layers)
        dtype, n, sn = self.dtype_policy, power_iterations, self.spectral_norm
        self.set_layers(_mlp(hidden, n_layers, dtype, n, sn) + [dense(1, dtype, n, spectral_norm=sn)])


class MLPPreset(NamedTuple):
    """MLPs for points of shape (D,), e.g. the 2-D spiral (supplement 7.3, Fig. 12).

    The paper does not give this architecture (our choice): 2 hidden layers of 128 units
    (LeakyReLU 0.2) in f, g and D are small yet enough capacity for a 1-D manifold in
    the plane (about 17k weights each for D = 2); z = 2 keeps the code as wide as the data
    and plottable, so the figure shows where decoded mixes land rather than what a
    narrower code loses.

    Args:
        z: code size.
        hidden: units of each hidden layer (LeakyReLU 0.2).
        n_layers: hidden layers of each network.
    """

    z: int = 2
    hidden: int = 128
    n_layers: int = 2

    def mismatch(self, input_shape):
        if len(input_shape) != 1:
            return "it takes points of shape (D,), e.g. (2,) for the spiral"
        return None

    def encoder(self, input_shape, dtype=None, variational=False):
        return MLPEncoder(self.z, self.hidden, self.n_layers, variational=variational, dtype=dtype)

    def decoder(self, input_shape, dtype=None):
        return MLPDecoder(input_shape[-1], self.hidden, self.n_layers, dtype=dtype)

    def discriminator(self, input_shape, dtype=None, n_attributes=0, spectral_norm="reparametrized"):
        return MLPDiscriminator(self.hidden, self.n_layers, n_attributes=n_attributes,
                                spectral_norm=spectral_norm, dtype=dtype)
