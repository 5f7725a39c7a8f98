"""The acai family: the conv networks of the original (`architectures/arch_acai_kyle.py`), on square
images whose side is a power of two >= 16; the code is always 4 x 4 x latent."""

import math
from typing import NamedTuple

import keras

from amr_tf.networks.layers import (
    SLOPE,
    InstanceNormalization,
    LeakyReLU,
    OriginalNormal,
    conv,
)
from amr_tf.networks.stacks import Coder, Critic, Stack


def _block(k, k_in, dtype, norm=True, power_iterations=None, spectral_norm="reparametrized"):
    """conv3x3(k_in -> k) + instance norm (affine, eps 1e-5) + LeakyReLU(0.01)."""
    # Instance norm: moments over (H, W) per example and channel. The original's initialiser
    # also draws the affine scale: gamma ~ N(0, 1/sqrt(1.04)).
    in_norm = [InstanceNormalization(epsilon=1e-5, gamma_initializer=OriginalNormal(), dtype=dtype)]
    return ([conv(k, 3, dtype, power_iterations, fan_in=9 * k_in if k_in else None,
                   spectral_norm=spectral_norm)]
            + (in_norm if norm else []) + [LeakyReLU(negative_slope=SLOPE, dtype=dtype)])


def _encoder_stack(latent, depth, scales, dtype, norm=True, power_iterations=None,
                   spectral_norm="reparametrized"):
    """Layers of f(x) (the original's `arch_acai_kyle.py`); D reuses them without norm and with spectral norm on every
    conv but the first (the original's D starts with a plain conv1x1, as its encoder does)."""
    # The original's conv1x1 with padding=1: a 32x32 image becomes a 34x34 map (then 17, 8, 4).
    stack = [keras.layers.ZeroPadding2D(1, dtype=dtype), conv(depth, 1, dtype)]
    k_in = depth
    for s in range(scales):
        for _ in range(2):
            stack += _block(depth << s, k_in, dtype, norm, power_iterations, spectral_norm)
            k_in = depth << s
        stack.append(keras.layers.AveragePooling2D(2, dtype=dtype))
    stack += _block(depth << scales, k_in, dtype, norm, power_iterations, spectral_norm)
    return stack + [conv(latent, 3, dtype, power_iterations, fan_in=9 * (depth << scales),
                          spectral_norm=spectral_norm)]


# registered under its old name, so that a decoder.keras exported before the rename still loads
@keras.saving.register_keras_serializable(package="amr_tf", name="Encoder")
class ACAIEncoder(Coder):
    """Encoder h = f(x): [B, 32, 32, C] -> [B, 4, 4, latent].

    Args:
        latent: feature maps of the code (d_h = latent * 4 * 4 for 32x32 images).
        depth: filters of the first scale; scale s has `depth << s`.
        scales: number of average-pooling halvings.
        variational: the last conv gives 2 * latent maps, mu and log-variance (see `moments`);
            `call` returns mu.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, latent, depth=16, scales=3, variational=False, **kwargs):
        super().__init__(variational, **kwargs)
        self.keep(latent=latent, depth=depth, scales=scales)
        self.body = _encoder_stack(latent * (2 if variational else 1), depth, scales,
                                   self.dtype_policy)


# registered under its old name, so that a decoder.keras exported before the rename still loads
@keras.saving.register_keras_serializable(package="amr_tf", name="Decoder")
class ACAIDecoder(Stack):
    """Decoder r = g(h): [B, 4, 4, latent] -> [B, 32, 32, channels], linear output.

    Args:
        channels: image channels C.
        depth: filters of the last scale; scale s has `depth << s`.
        scales: number of nearest-neighbour doublings.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, channels, depth=16, scales=3, **kwargs):
        kwargs.setdefault("name", "decoder")
        super().__init__(**kwargs)
        self.keep(channels=channels, depth=depth, scales=scales)
        dtype = self.dtype_policy
        self.body = []
        k_in = None  # plain convs: their fan-in plays no part in their initialisation
        for s in reversed(range(scales)):
            self.body += _block(depth << s, k_in, dtype) + _block(depth << s, k_in, dtype)
            self.body.append(keras.layers.UpSampling2D(2, interpolation="nearest", dtype=dtype))
        self.body += _block(depth, k_in, dtype) + [conv(channels, 3, dtype)]


# registered under its old name, so that a decoder.keras exported before the rename still loads
@keras.saving.register_keras_serializable(package="amr_tf", name="Discriminator")
class ACAIDiscriminator(Critic):
    """Discriminator D(x): the encoder's stack without instance norm, every conv
    spectrally normalised (Miyato et al. 2018), the final latent map averaged to one logit.

    Args:
        latent: feature maps of the final conv before averaging.
        depth: filters of the first scale.
        scales: number of average-pooling halvings.
        power_iterations: power-iteration steps per training call of each spectral norm.
        n_attributes: outputs of the auxiliary classifier head, a spectrally normalised
            dense layer on the flattened features the final conv reads; 0: no head.
        spectral_norm: "reparametrized" (the original's: gradient through sigma, see
            `ReparametrizedSpectralNorm`) or "keras" (`keras.layers.SpectralNormalization`).
        **kwargs: `keras.Model` arguments (name, dtype, ...).

    Returns (from `call(x, training=False, with_classes=False)`):
        float32 logits of shape [B]; with `with_classes=True`, `(logits, class_logits)`
        with float32 class logits [B, n_attributes]. `training=True` advances the power
        iteration ("keras" also overwrites each kernel with kernel / sigma);
        `training=False` changes nothing.
    """

    def __init__(self, latent, depth=16, scales=3, power_iterations=1, n_attributes=0,
                 spectral_norm="reparametrized", **kwargs):
        super().__init__(power_iterations, n_attributes, spectral_norm, **kwargs)
        self.keep(latent=latent, depth=depth, scales=scales)
        self.set_layers(_encoder_stack(latent, depth, scales, self.dtype_policy, norm=False,
                                       power_iterations=power_iterations, spectral_norm=self.spectral_norm))


class ACAIPreset(NamedTuple):
    """The acai family (the original's `arch_acai_kyle.py`): conv networks for square images, code 4 x 4 x latent.

    Every preset offers `mismatch(input_shape)` (None, or why the shape does not fit) and
    `encoder/decoder/discriminator(input_shape, dtype, ...)` returning unbuilt models.

    Args:
        latent: feature maps of the code.
        depth: filters of the first scale.
        scales: poolings for 32x32 images; an image of side 2^n (n >= 4) gets
            scales + n - 5, so every such image has the same code shape.
    """

    latent: int
    depth: int = 16
    scales: int = 3

    @property
    def bottleneck(self):
        """d_h = latent * 4 * 4 (the code size for 32x32, and for any side 2^n >= 16)."""
        return self.latent * (32 >> self.scales) ** 2

    def scales_for(self, image_shape):
        """Poolings for `image_shape`: one more per doubling of a power-of-two side."""
        h, w = image_shape[:2]
        if h == w and h >= 1 and h & (h - 1) == 0:
            # Below 16 the padding quirk breaks this (8: 10 -> 5); `mismatch` says so.
            return max(0, self.scales + int(math.log2(h)) - 5)
        return self.scales

    def mismatch(self, image_shape):
        """None if the preset takes inputs of `image_shape`, else the reason (a phrase)."""
        if len(image_shape) != 3:
            return "it takes images (H, W, C)"
        # Shape arithmetic, not models: making layers would draw from the seeded Python RNG.
        scales = self.scales_for(image_shape)
        code = tuple((n + 2) >> scales for n in image_shape[:2])  # pad 1, then floor halvings
        decoded = tuple(n << scales for n in code)
        if decoded != tuple(image_shape[:2]):
            # 8x8 cannot work: the padding quirk gives 10 -> 5, which decodes to 10.
            return (f"its code {code + (self.latent,)} decodes to "
                    f"{decoded + tuple(image_shape[2:])}; use square images whose side is "
                    "a power of two >= 16 (32x32 as in the paper)")
        return None

    def encoder(self, image_shape, dtype=None, variational=False):
        """An unbuilt encoder for inputs of `image_shape` (likewise `decoder`, `discriminator`)."""
        return ACAIEncoder(self.latent, self.depth, self.scales_for(image_shape),
                       variational=variational, dtype=dtype)

    def decoder(self, image_shape, dtype=None):
        return ACAIDecoder(image_shape[-1], self.depth, self.scales_for(image_shape), dtype=dtype)

    def discriminator(self, image_shape, dtype=None, n_attributes=0, spectral_norm="reparametrized"):
        return ACAIDiscriminator(self.latent, self.depth, self.scales_for(image_shape),
                             n_attributes=n_attributes, spectral_norm=spectral_norm, dtype=dtype)
