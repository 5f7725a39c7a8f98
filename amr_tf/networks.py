"""The "acai" networks of SPEC.md section 1: encoder f, decoder g, discriminator D, probe.

All four are Keras 3 subclassed models whose layers are created in `__init__` and
built by `build(input_shape)` (or the first call), so `count_params()` works once
`build_networks` returns. Layers follow the model's dtype policy (mixed precision
ready); only the discriminator's logit is forced to float32.
"""

import math
import types
from typing import NamedTuple

import keras
from keras import ops

_SLOPE = 0.01  # PyTorch's LeakyReLU default, which the original code used.


def _conv(filters, size, dtype, power_iterations=None):
    """A conv ('same' for 3x3); spectrally normalised when `power_iterations` is given."""
    conv = keras.layers.Conv2D(
        filters, size, padding="same" if size > 1 else "valid", dtype=dtype,
        # Kernel: PyTorch's default kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)); bias: zeros.
        kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
        bias_initializer="zeros")
    if power_iterations is None:
        return conv
    return keras.layers.SpectralNormalization(conv, power_iterations=power_iterations, dtype=dtype)


def _block(k, dtype, norm=True, power_iterations=None):
    """conv3x3(k) + instance norm (affine, eps 1e-5) + LeakyReLU(0.01)."""
    # groups=-1 is one group per channel: moments over (H, W) per example and channel.
    in_norm = [keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, dtype=dtype)]
    return ([_conv(k, 3, dtype, power_iterations)] + (in_norm if norm else [])
            + [keras.layers.LeakyReLU(negative_slope=_SLOPE, dtype=dtype)])


def _encoder_stack(latent, depth, scales, dtype, norm=True, power_iterations=None):
    """Layers of f(x) (SPEC 1); D reuses them without norm and with spectral norm."""
    # The original's conv1x1 with padding=1: a 32x32 image becomes a 34x34 map (then 17, 8, 4).
    stack = [keras.layers.ZeroPadding2D(1, dtype=dtype), _conv(depth, 1, dtype, power_iterations)]
    for s in range(scales):
        for _ in range(2):
            stack += _block(depth << s, dtype, norm, power_iterations)
        stack.append(keras.layers.AveragePooling2D(2, dtype=dtype))
    stack += _block(depth << scales, dtype, norm, power_iterations)
    return stack + [_conv(latent, 3, dtype, power_iterations)]


class _Stack(keras.Model):
    """A chain of layers in `self.body`, built shape by shape without running them."""

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.body:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.body:
            shape = layer.compute_output_shape(shape)
        return shape

    def call(self, x, training=False):
        for layer in self.body:
            x = layer(x, training=training)
        return x


@keras.saving.register_keras_serializable(package="amr_tf")
class Encoder(_Stack):
    """Encoder h = f(x) (SPEC 1): [B, 32, 32, C] -> [B, 4, 4, latent].

    Args:
        latent: feature maps of the code (d_h = latent * 4 * 4 for 32x32 images).
        depth: filters of the first scale; scale s has `depth << s`.
        scales: number of average-pooling halvings.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, latent, depth=16, scales=3, **kwargs):
        kwargs.setdefault("name", "encoder")
        super().__init__(**kwargs)
        self.latent, self.depth, self.scales = latent, depth, scales
        self.body = _encoder_stack(latent, depth, scales, self.dtype_policy)

    def get_config(self):
        return {**super().get_config(),
                "latent": self.latent, "depth": self.depth, "scales": self.scales}


@keras.saving.register_keras_serializable(package="amr_tf")
class Decoder(_Stack):
    """Decoder r = g(h) (SPEC 1): [B, 4, 4, latent] -> [B, 32, 32, channels], linear output.

    Args:
        channels: image channels C.
        depth: filters of the last scale; scale s has `depth << s`.
        scales: number of nearest-neighbour doublings.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, channels, depth=16, scales=3, **kwargs):
        kwargs.setdefault("name", "decoder")
        super().__init__(**kwargs)
        self.channels, self.depth, self.scales = channels, depth, scales
        dtype = self.dtype_policy
        self.body = []
        for s in reversed(range(scales)):
            self.body += _block(depth << s, dtype) + _block(depth << s, dtype)
            self.body.append(keras.layers.UpSampling2D(2, interpolation="nearest", dtype=dtype))
        self.body += _block(depth, dtype) + [_conv(channels, 3, dtype)]

    def get_config(self):
        return {**super().get_config(),
                "channels": self.channels, "depth": self.depth, "scales": self.scales}


@keras.saving.register_keras_serializable(package="amr_tf")
class Discriminator(_Stack):
    """Discriminator D(x) (SPEC 1): the encoder's stack without instance norm, every conv
    spectrally normalised (Miyato et al. 2018), the final latent map averaged to one logit.

    Args:
        latent: feature maps of the final conv before averaging.
        depth: filters of the first scale.
        scales: number of average-pooling halvings.
        power_iterations: power-iteration steps per training call of each spectral norm.
        **kwargs: `keras.Model` arguments (name, dtype, ...).

    Returns (from `call(x, training=False)`):
        float32 logits of shape [B]. `training=True` advances the power iteration and
        overwrites each kernel with kernel / sigma (Keras' SpectralNormalization);
        `training=False` changes nothing.
    """

    def __init__(self, latent, depth=16, scales=3, power_iterations=1, **kwargs):
        kwargs.setdefault("name", "discriminator")
        super().__init__(**kwargs)
        self.latent, self.depth, self.scales = latent, depth, scales
        self.power_iterations = power_iterations
        self.body = _encoder_stack(latent, depth, scales, self.dtype_policy, norm=False,
                                   power_iterations=power_iterations)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def call(self, x, training=False):
        logits = ops.mean(super().call(x, training=training), axis=(1, 2, 3))
        return ops.cast(logits, "float32")

    def get_config(self):
        return {**super().get_config(), "latent": self.latent, "depth": self.depth,
                "scales": self.scales, "power_iterations": self.power_iterations}


@keras.saving.register_keras_serializable(package="amr_tf")
class Probe(_Stack):
    """Linear probe (Alain & Bengio 2016): logits = Dense(flatten(h)), trained on stop_gradient(h).

    Args:
        n_classes: number of classes.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, n_classes, **kwargs):
        kwargs.setdefault("name", "probe")
        super().__init__(**kwargs)
        self.n_classes = n_classes
        init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
        self.body = [keras.layers.Flatten(dtype=self.dtype_policy),
                     keras.layers.Dense(n_classes, kernel_initializer=init,
                                        bias_initializer="zeros", dtype=self.dtype_policy)]

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


class Preset(NamedTuple):
    """Architecture of one member of the acai family (SPEC 1)."""

    latent: int
    depth: int = 16
    scales: int = 3

    @property
    def bottleneck(self):
        """d_h = latent * 4 * 4 for 32x32 images."""
        return self.latent * (32 >> self.scales) ** 2


_PRESETS = {}
PRESETS = types.MappingProxyType(_PRESETS)  # read-only view; add with register_preset


def register_preset(name, preset):
    """Adds `preset` under `name`; a name can be registered only once (ValueError)."""
    if name in _PRESETS:
        raise ValueError(f"Network preset {name!r} is already registered; "
                         f"registered: {sorted(_PRESETS)}")
    _PRESETS[name] = preset


register_preset("acai32", Preset(latent=2))
register_preset("acai256", Preset(latent=16))
register_preset("acai1024", Preset(latent=64))


def get_preset(name):
    """Returns the `Preset` called `name`; ValueError naming the choices if unknown."""
    if name not in _PRESETS:
        raise ValueError(f"Unknown network preset {name!r}; choose one of {sorted(_PRESETS)}")
    return _PRESETS[name]


def preset_for_bottleneck(bottleneck):
    """Maps the code size d_h (32, 256 or 1024) to its preset name ("acai32", ...)."""
    names = {p.bottleneck: n for n, p in _PRESETS.items() if n.startswith("acai")}
    if bottleneck not in names:
        raise ValueError(f"Unknown bottleneck {bottleneck!r}; choose one of {sorted(names)}")
    return names[bottleneck]


class Networks(NamedTuple):
    """The four built networks of one run."""

    encoder: Encoder
    decoder: Decoder
    discriminator: Discriminator
    probe: Probe


def code_shape(preset, image_shape):
    """Shape of f(x) without the batch axis: (4, 4, latent) for 32x32 images."""
    p = get_preset(preset)
    encoder = Encoder(p.latent, p.depth, p.scales)
    return tuple(encoder.compute_output_shape((None, *image_shape))[1:])


def build_networks(preset, image_shape, n_classes, dtype=None):
    """Builds f, g, D and the probe of `preset` for images of shape (H, W, C).

    Args:
        preset: a name in `PRESETS`.
        image_shape: (H, W, C); the decoder must map the code back to it (32x32 does).
        n_classes: number of probe classes.
        dtype: dtype policy of f, g and D (e.g. "mixed_bfloat16"); None: the global policy.
            The probe stays float32: it is a measuring instrument.

    Returns:
        `Networks(encoder, decoder, discriminator, probe)`, all built.
    """
    p = get_preset(preset)
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {image_shape!r}")
    images = (None, *image_shape)
    encoder = Encoder(p.latent, p.depth, p.scales, dtype=dtype)
    decoder = Decoder(image_shape[-1], p.depth, p.scales, dtype=dtype)
    codes = encoder.compute_output_shape(images)
    decoded = decoder.compute_output_shape(codes)
    if tuple(decoded) != images:
        raise ValueError(f"Preset {preset!r} cannot reconstruct images of shape "
                         f"{tuple(image_shape)}: its code {codes[1:]} decodes to {decoded[1:]}; "
                         "use 32x32 images")
    discriminator = Discriminator(p.latent, p.depth, p.scales, dtype=dtype)
    probe = Probe(n_classes, dtype="float32")
    encoder.build(images)
    decoder.build(codes)
    discriminator.build(images)
    probe.build(codes)
    return Networks(encoder, decoder, discriminator, probe)


def count_trainable(model):
    """Number of trainable scalars of a built model."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))
