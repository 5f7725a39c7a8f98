"""Presets by name (`acai32`, `acai256`, `acai1024`, `dsprites`, `dsprites_ndf64`, `spiral`) and
`build_networks`, which builds one run's f, g, D, probe and class mixer."""

import math
import numbers
from typing import NamedTuple

import keras

from amr_tf import registry
from amr_tf.networks.acai import ACAIPreset
from amr_tf.networks.burgess import BurgessPreset
from amr_tf.networks.heads import ClassMixer, Probe
from amr_tf.networks.layers import check_spectral_norm
from amr_tf.networks.mlp import MLPPreset


def _shape_text(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


PRESETS = registry.Registry("network preset", as_python=True, sort=True)  # add with register_preset
_PRESET_METHODS = ("mismatch", "encoder", "decoder", "discriminator")


def register_preset(name, preset):
    """Adds `preset` under `name`; a name can be registered only once (ValueError).

    A preset is any object with the methods of `ACAIPreset`: `mismatch(input_shape)`,
    `encoder(input_shape, dtype, variational)`, `decoder(input_shape, dtype)` and
    `discriminator(input_shape, dtype, n_attributes, spectral_norm)` (TypeError otherwise).
    """
    missing = [m for m in _PRESET_METHODS if not callable(getattr(preset, m, None))]
    if missing:
        raise TypeError(f"Network preset {name!r} lacks the methods {missing}")
    PRESETS.add(name, preset)


register_preset("acai32", ACAIPreset(latent=2))
register_preset("acai256", ACAIPreset(latent=16))
register_preset("acai1024", ACAIPreset(latent=64))
register_preset("dsprites", BurgessPreset())
# The original's dSprites AE+GAN baseline: its script sets no --ndf, so D has the default 64.
register_preset("dsprites_ndf64", BurgessPreset(d_filters=64))
register_preset("spiral", MLPPreset())


def get_preset(name):
    """Returns the preset called `name`; ValueError naming the choices if unknown."""
    return PRESETS.get(name)


def preset_for_bottleneck(bottleneck):
    """Maps the code size d_h (32, 256 or 1024) to its preset name ("acai32", ...)."""
    names = {p.bottleneck: n for n, p in PRESETS.items() if n.startswith("acai")}
    return registry.lookup("bottleneck", names, bottleneck, as_python=True)


def _checked(name, input_shape):
    """(preset `name`, shape), after checking that it takes `input_shape` (one-line ValueError)."""
    p = get_preset(name)
    shape = tuple(input_shape)
    reason = p.mismatch(shape)
    if reason:
        raise ValueError(f"Preset {name!r} cannot take inputs of shape {_shape_text(shape)}: "
                         f"{reason}")
    return p, shape


class Networks(NamedTuple):
    """The built networks of one run; `class_mixer` only with n_attributes > 0."""

    encoder: keras.Model
    decoder: keras.Model
    discriminator: keras.Model
    probe: Probe
    class_mixer: ClassMixer = None


def code_shape(preset, image_shape):
    """Shape of f(x) without the batch axis: (4, 4, latent) for acai, (z,) for dsprites/spiral.

    Its last axis is F, the number of feature maps that mixers and `ClassMixer` act on.
    """
    p, shape = _checked(preset, image_shape)
    return tuple(p.encoder(shape).compute_output_shape((None, *shape))[1:])


def build_networks(preset, image_shape, n_classes, dtype=None, *, variational=False,
                   n_attributes=0, spectral_norm="reparametrized"):
    """Builds f, g, D, the probe (and the class mixer) of `preset` for inputs of `image_shape`.

    Args:
        preset: a name in `PRESETS`.
        image_shape: (H, W, C) for images (acai: square, side a power of two >= 16;
            dsprites: 64x64), (D,) for the spiral's points.
        n_classes: number of probe classes (0: data without labels, no probe).
        dtype: dtype policy of f, g, D and the class mixer (e.g. "mixed_bfloat16"); None: the
            global policy. The probe stays float32 (it is a measuring instrument), unless
            dtype is "float64" (numerics checks), which every network then follows.
        variational: the encoder predicts (mu, logvar) (`encoder.moments`); `encoder(x)`
            and the decoder's input keep the code's shape.
        n_attributes: A > 0 gives D an auxiliary classifier head (`with_classes=True`) and
            builds `ClassMixer(A, F)` with F = `code_shape(...)[-1]`.
        spectral_norm: D's spectral normalisation, one of `SPECTRAL_NORMS` (see
            `ReparametrizedSpectralNorm`).

    Returns:
        `Networks(encoder, decoder, discriminator, probe, class_mixer)`, all built;
        `class_mixer` is None when n_attributes == 0.
    """
    if (isinstance(n_attributes, bool) or not isinstance(n_attributes, numbers.Integral)
            or n_attributes < 0):
        raise ValueError(f"n_attributes must be an integer >= 0, got {n_attributes!r}")
    p, shape = _checked(preset, image_shape)
    inputs = (None, *shape)
    encoder = p.encoder(shape, dtype, variational=variational)
    decoder = p.decoder(shape, dtype)
    discriminator = p.discriminator(shape, dtype, n_attributes=int(n_attributes),
                                    spectral_norm=check_spectral_norm(spectral_norm))
    # no labels (n_classes 0): no probe
    probe = Probe(n_classes, dtype="float64" if dtype == "float64" else "float32") if n_classes else None
    codes = encoder.compute_output_shape(inputs)
    encoder.build(inputs)
    decoder.build(codes)
    discriminator.build(inputs)
    if probe is not None:
        probe.build(codes)
    class_mixer = None
    if n_attributes:
        class_mixer = ClassMixer(int(n_attributes), codes[-1], dtype=dtype)
        class_mixer.build((None, n_attributes))
    return Networks(encoder, decoder, discriminator, probe, class_mixer)


def count_trainable(model):
    """Number of trainable scalars of a built model."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def for_config(config, info, dtype=None):
    """The networks of `config` for data described by `info` (`amr_tf.networks.Networks`).

    The preset comes from `config.preset`; the VAE gets a variational encoder; the supervised
    mixer (cls > 0) gets a class mixer and a discriminator head over the labels' width.

    Raises:
        ValueError (one line): the preset cannot take the data's shape, or cls > 0 on a data
            set without labels.
    """
    if config.cls > 0 and info.n_classes < 1:
        raise ValueError(f"--cls={config.cls:g} needs labels, and '{config.dataset}' has none")
    return build_networks(
        config.preset, tuple(info.image_shape), info.n_classes, dtype=dtype,
        variational=config.model == "vae", n_attributes=info.n_classes if config.cls > 0 else 0,
        spectral_norm=config.spectral_norm,
    )
