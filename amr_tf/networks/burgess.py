"""The dSprites family: the "Burgess beta-VAE B" generator (Burgess et al. 2018) and its
spectrally normalised critic, on 64x64 images with a flat code."""

import math
from typing import NamedTuple, Optional

import keras

from amr_tf.networks.layers import (
    Conv2D,
    dense,
    he_init,
    spectral,
    torch_init,
)
from amr_tf.networks.stacks import Coder, Critic, Stack


def _burgess_convs(filters, dtype, power_iterations=None, spectral_norm="reparametrized"):
    """Four conv4x4 stride 2 + ReLU: 64 -> 32 -> 16 -> 8 -> 4 (Burgess et al. 2018)."""
    stack = []
    for _ in range(4):
        # 'same' with stride 2 on an even size pads 1 before and 1 after: torch's padding=1.
        conv = Conv2D(filters, 4, strides=2, padding="same", dtype=dtype,
                      kernel_initializer=he_init(), bias_initializer="zeros")
        stack += [spectral(conv, dtype, power_iterations, kind=spectral_norm), keras.layers.ReLU(dtype=dtype)]
    # Keras flattens NHWC and torch NCHW: the first dense sees its inputs in another
    # order, which changes no parameter count and nothing a freshly initialised net can tell.
    return stack + [keras.layers.Flatten(dtype=dtype)]


@keras.saving.register_keras_serializable(package="amr_tf")
class BurgessEncoder(Coder):
    """dSprites encoder ("Burgess beta-VAE B", Burgess et al. 2018): [B, 64, 64, C] -> [B, z].

    conv4x4 stride 2 (C -> filters, then filters -> filters) x4, each + ReLU; flatten
    (4 * 4 * filters = 512); Dense(hidden) + ReLU x2; Dense(z), or Dense(2z) when variational.

    Args:
        z: code size.
        filters: channels of every conv.
        hidden: units of the two hidden dense layers.
        variational: the last layer gives mu and log-variance (see `moments`); `call` returns mu.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, z=10, filters=32, hidden=256, variational=False, **kwargs):
        super().__init__(variational, **kwargs)
        self.keep(z=z, filters=filters, hidden=hidden)
        dtype = self.dtype_policy
        self.body = _burgess_convs(filters, dtype) + [
            dense(hidden, dtype, activation="relu", init=he_init),
            dense(hidden, dtype, activation="relu", init=he_init),
            dense(z * (2 if variational else 1), dtype, init=he_init)]


@keras.saving.register_keras_serializable(package="amr_tf")
class BurgessDecoder(Stack):
    """dSprites decoder ("Burgess beta-VAE B"): [B, z] -> [B, 64, 64, channels] in (-1, 1).

    Dense(hidden) + ReLU x2, Dense(4 * 4 * filters) + ReLU, reshape 4x4xfilters, then
    Conv2DTranspose 4x4 stride 2 'same' (= torch's padding=1): filters x3 with ReLU,
    then channels, and tanh.

    Args:
        channels: image channels C.
        filters: channels of the transposed convs.
        hidden: units of the two hidden dense layers.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, channels=1, filters=32, hidden=256, **kwargs):
        kwargs.setdefault("name", "decoder")
        super().__init__(**kwargs)
        self.keep(channels=channels, filters=filters, hidden=hidden)
        dtype = self.dtype_policy
        self.body = [dense(hidden, dtype, activation="relu", init=he_init),
                     dense(hidden, dtype, activation="relu", init=he_init),
                     dense(16 * filters, dtype, activation="relu", init=he_init),
                     keras.layers.Reshape((4, 4, filters), dtype=dtype)]
        for i, out in enumerate([filters] * 3 + [channels]):
            # The original leaves ConvTranspose2d at torch's default init (its kaiming_init
            # skips it): U(+-1/sqrt(fan_in)) for kernel and bias, fan_in = out * 4 * 4 in
            # torch, and Keras' fan_in of a (4, 4, out, in) kernel is the same.
            bound = 1 / math.sqrt(16 * out)
            self.body.append(keras.layers.Conv2DTranspose(
                out, 4, strides=2, padding="same", dtype=dtype, kernel_initializer=torch_init(),
                bias_initializer=keras.initializers.RandomUniform(-bound, bound)))
            self.body.append(keras.layers.ReLU(dtype=dtype) if i < 3
                             else keras.layers.Activation("tanh", dtype=dtype))


@keras.saving.register_keras_serializable(package="amr_tf")
class BurgessDiscriminator(Critic):
    """dSprites discriminator (the original's konny `Discriminator`): spectrally normalised
    conv4x4 stride 2 x4 + ReLU, flatten, SN Dense(hidden) + ReLU x2, SN Dense(1) -> logits.

    The original ends in a sigmoid; this returns the logits (the losses take logits).

    Args:
        filters: channels of every conv (the original's ndf).
        hidden: units of the two hidden dense layers.
        The rest, and `call`: `Critic`'s; its class head sits beside the final Dense(1).
    """

    def __init__(self, filters=32, hidden=256, power_iterations=1, n_attributes=0,
                 spectral_norm="reparametrized", **kwargs):
        super().__init__(power_iterations, n_attributes, spectral_norm, **kwargs)
        self.keep(filters=filters, hidden=hidden)
        dtype, n, sn = self.dtype_policy, power_iterations, self.spectral_norm
        self.set_layers(_burgess_convs(filters, dtype, n, sn) + [
            dense(hidden, dtype, n, activation="relu", init=he_init, spectral_norm=sn),
            dense(hidden, dtype, n, activation="relu", init=he_init, spectral_norm=sn),
            dense(1, dtype, n, init=he_init, spectral_norm=sn)], head_init=he_init)


class BurgessPreset(NamedTuple):
    """The dSprites networks (Burgess et al. 2018, "beta-VAE B"): 64x64xC images, flat code (z,).

    Args:
        z: code size (10 in the paper).
        filters: channels of every conv of f and g (32).
        hidden: units of the hidden dense layers (256).
        d_filters: channels of D's convs, the original's ndf (None: `filters`).
    """

    z: int = 10
    filters: int = 32
    hidden: int = 256
    d_filters: Optional[int] = None

    def mismatch(self, image_shape):
        if len(image_shape) != 3 or tuple(image_shape[:2]) != (64, 64):
            return "it takes 64x64 images (64, 64, C)"
        return None

    def encoder(self, image_shape, dtype=None, variational=False):
        return BurgessEncoder(self.z, self.filters, self.hidden, variational=variational,
                              dtype=dtype)

    def decoder(self, image_shape, dtype=None):
        return BurgessDecoder(image_shape[-1], self.filters, self.hidden, dtype=dtype)

    def discriminator(self, image_shape, dtype=None, n_attributes=0, spectral_norm="reparametrized"):
        return BurgessDiscriminator(self.d_filters or self.filters, self.hidden, n_attributes=n_attributes,
                                    spectral_norm=spectral_norm, dtype=dtype)
