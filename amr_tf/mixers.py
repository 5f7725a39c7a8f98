"""Mixing functions for the latent codes (paper section 3, Eqs. 4-6).

Every mixer draws per-example weights over k sources and combines whole codes:
``h_mix[b] = sum_j weights[b, j, :] * h[indices[b, j]]``, broadcast over the spatial axes,
where source 0 is the example itself and sources 1..k-1 are random permutations of the batch.

Randomness goes through `keras.random.uniform` only (no shuffle, no gamma), so every mixer
also compiles under `tf.function(jit_compile=True)` on XLA_CPU (TensorFlow's shuffle and
gamma ops have no XLA kernel).
"""

import functools
import itertools
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from amr_tf import registry

_EPS = 1e-7  # keeps -log(U) finite
_REGISTRY = registry.Registry("mixer", as_python=True, sort=True)


class MixResult(NamedTuple):
    """Mixed codes and how they were made.

    Attributes:
        h: mixed codes, same shape and dtype as the input.
        weights: [B, k, F] weight of source j for each feature map, in h's dtype.
        indices: int32 [B, k] batch row of source j; column 0 is the example itself.
    """

    h: tf.Tensor
    weights: tf.Tensor
    indices: tf.Tensor


def register_mixer(name):
    """Decorator adding `fn(h, k, seed) -> MixResult` to the registry under `name`."""
    return _REGISTRY.register(name)


def get_mixer(name):
    """Returns the mixer `fn(h, k, seed) -> MixResult` registered as `name`."""
    return _REGISTRY.get(name)


def mix(h, mixer="mixup", k=2, seed=None):
    """Mixes each code with k - 1 random partners from the same batch.

    Args:
        h: float codes [B, H, W, F] or [B, F]; F (feature maps) is the last axis.
        mixer: a registered name: "mixup" (Eq. 4 for k = 2, Eq. 6 for k > 2), "mixup2",
            "bernoulli" (Eq. 5, the paper's "Bern"), "fm" or "none" (AE+GAN, no mixing).
        k: number of sources per mixed code, >= 2 (forced to 1 for "none").
        seed: None, a Python int (stateless: same int, same result) or a
            `keras.random.SeedGenerator` (stateful: advances on every call).

    Returns:
        `MixResult(h, weights, indices)`.
    """
    fn = get_mixer(mixer)
    if mixer != "none" and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2):
        raise ValueError(f"k must be an integer >= 2 for mixer {mixer!r}; got k={k!r}.")
    return fn(tf.convert_to_tensor(h), int(k), seed)


def _seed_stream(seed):
    """Returns a function giving the seed for each successive draw of one call."""
    if seed is None or isinstance(seed, keras.random.SeedGenerator):
        return lambda: seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        # Python-side derivation creates no variable, so an int seed also stays stateless
        # inside tf.function, and the draws of one call still differ from each other.
        count = itertools.count()
        root = int(seed) % (1 << 64)
        return lambda: int(np.random.SeedSequence([root, next(count)]).generate_state(1)[0])
    raise ValueError(f"seed must be None, an int or a keras.random.SeedGenerator; got {seed!r}.")


def _uniform(shape, draw):
    return keras.random.uniform(shape, dtype="float32", seed=draw())


def _combine(h, weights, indices):
    """The one formula every mixer obeys: sum_j weights[:, j] * h[indices[:, j]]."""
    sources = tf.gather(h, indices)  # [B, k, ..., F]
    w = tf.cast(weights, h.dtype)
    for _ in range(h.shape.rank - 2):
        w = tf.expand_dims(w, 2)  # constant over the spatial axes
    return tf.reduce_sum(w * sources, axis=1)


def _resynthesis(sample_weights):
    """Turns `sample_weights(batch, features, k, draw) -> [B, k, F]` into a registered mixer."""

    @functools.wraps(sample_weights)
    def mixer(h, k, seed=None):
        draw = _seed_stream(seed)
        batch = h.shape[0] if h.shape[0] is not None else tf.shape(h)[0]
        # Partners first, so one int seed pairs the same examples whatever the mixer.
        partners = tf.transpose(tf.argsort(_uniform([k - 1, batch], draw), axis=-1))
        own = tf.range(batch, dtype=tf.int32)[:, None]
        indices = tf.concat([own, tf.cast(partners, tf.int32)], axis=1)
        weights = sample_weights(batch, h.shape[-1], k, draw)
        return MixResult(_combine(h, weights, indices), tf.cast(weights, h.dtype), indices)

    return mixer


def _dirichlet_ones(shape, k, draw):
    """Dirichlet(1, ..., 1) over axis 1 as normalised exponentials (no gamma on XLA_CPU)."""
    e = -tf.math.log(tf.clip_by_value(_uniform([shape[0], k, *shape[1:]], draw), _EPS, 1.0))
    return e / tf.reduce_sum(e, axis=1, keepdims=True)


def _one_hot_sources(batch, features, k, draw):
    """Each feature map taken whole from one of k sources, chosen uniformly."""
    return tf.one_hot(tf.argmax(_uniform([batch, k, features], draw), axis=1), k, axis=1)


def _two_sources(m):
    return tf.stack([m, 1.0 - m], axis=1)


@register_mixer("mixup")
@_resynthesis
def _mixup(batch, features, k, draw):
    """Eq. 4 (k = 2: a ~ U(0, 1)) and Eq. 6 (k > 2: a ~ Dirichlet(1..1)), one a per example."""
    a = _two_sources(_uniform([batch], draw)) if k == 2 else _dirichlet_ones([batch], k, draw)
    return tf.repeat(a[:, :, None], features, axis=2)


@register_mixer("mixup2")
@_resynthesis
def _mixup2(batch, features, k, draw):
    """Mixup with an independent a per feature map."""
    if k == 2:
        return _two_sources(_uniform([batch, features], draw))
    return _dirichlet_ones([batch, features], k, draw)


@register_mixer("bernoulli")
@_resynthesis
def _bernoulli(batch, features, k, draw):
    """Eq. 5: one p ~ U(0, 1) per batch, m ~ Bernoulli(p) per (example, feature map)."""
    if k > 2:
        return _one_hot_sources(batch, features, k, draw)
    p = _uniform([], draw)
    return _two_sources(tf.cast(_uniform([batch, features], draw) < p, tf.float32))


@register_mixer("fm")
@_resynthesis
def _fm(batch, features, k, draw):
    """m ~ Bernoulli(u), u ~ U(0, 1) per (example, feature map)."""
    if k > 2:
        # The original KGAN assigned (enc_mix = alpha[:, i]*enc[perms[i]]) instead of
        # accumulating here, so only the last source survived; we accumulate.
        return _one_hot_sources(batch, features, k, draw)
    u = _uniform([batch, features], draw)
    return _two_sources(tf.cast(_uniform([batch, features], draw) < u, tf.float32))


@register_mixer("none")
def _none(h, k, seed=None):
    """AE+GAN: no mixing, k = 1."""
    batch = h.shape[0] if h.shape[0] is not None else tf.shape(h)[0]
    weights = tf.ones([batch, 1, h.shape[-1]], h.dtype)
    return MixResult(h, weights, tf.range(batch, dtype=tf.int32)[:, None])


MIXERS = tuple(sorted(_REGISTRY))  # the built-in names, for flag validation


def drawn_with(mixer):
    """The mixer a run's pictures of mixes are drawn with: the run's own, or mixup for a run that
    trains without mixing ("none": AE+GAN, the VAE), whose codes can still be mixed."""
    return "mixup" if mixer == "none" else mixer


# The mixers that mix feature maps (a mask per map), not whole codes by a weight: their
# interpolation strips sweep how many maps come from each side.
FEATURE_MIXERS = ("bernoulli", "fm")


def _check_unit(name, value):
    if not tf.is_tensor(value):
        v = np.asarray(value, dtype=np.float64)
        if v.ndim > 1 or np.any((v < 0) | (v > 1)) or np.any(np.isnan(v)):
            raise ValueError(f"{name} must be in [0, 1] (a number or a 1-D list); got {value!r}.")
    return value


def _blend(h_a, h_b, w):
    """w * h_a + (1 - w) * h_b; w is [], [F], or [S, 1] / [S, F] for a strip."""
    h_a, h_b = tf.convert_to_tensor(h_a), tf.convert_to_tensor(h_b)
    w = tf.cast(w, h_a.dtype)
    if w.shape.rank == 2:
        if h_a.shape.rank > 1 and h_a.shape[0] == 1:  # a leading size-1 axis is the batch axis
            h_a, h_b = h_a[0], h_b[0]
        for _ in range(h_a.shape.rank - 1):
            w = tf.expand_dims(w, 1)
    return w * h_a + (1 - w) * h_b


def mixup_fixed(h_a, h_b, alpha):
    """Deterministic mixup for figures (Eq. 4 with a given alpha).

    Args:
        h_a: codes [..., F]; with a 1-D alpha, one code [1, ...] or [...].
        h_b: codes shaped like h_a.
        alpha: weight of h_a in [0, 1]: a float or scalar tensor (result shaped like h_a),
            or a 1-D [S] tensor/list (result [S, ...]: an interpolation strip).

    Returns:
        `alpha * h_a + (1 - alpha) * h_b`.
    """
    alpha = tf.convert_to_tensor(_check_unit("alpha", alpha), tf.float32)
    return _blend(h_a, h_b, alpha[:, None] if alpha.shape.rank == 1 else alpha)


def bernoulli_fixed(h_a, h_b, fraction, seed=0):
    """Deterministic Bernoulli mixup for figures (Eq. 5 with a fixed mask).

    Feature maps follow one ordering fixed by `seed`; the first round(fraction * F) come from
    h_a and the rest from h_b, so a growing fraction takes nested sets of maps from h_a.

    Args:
        h_a: codes [..., F]; with a 1-D fraction, one code [1, ...] or [...].
        h_b: codes shaped like h_a.
        fraction: share of feature maps from h_a in [0, 1]: a float or scalar tensor (result
            shaped like h_a), or a 1-D [S] tensor/list (result [S, ...]: a strip).
        seed: int fixing the ordering of the feature maps.

    Returns:
        The mixed codes: fraction 0 gives h_b, 1 gives h_a.
    """
    fraction = tf.convert_to_tensor(_check_unit("fraction", fraction), tf.float32)
    features = tf.convert_to_tensor(h_a).shape[-1]
    order = tf.argsort(keras.random.uniform([features], dtype="float32", seed=seed))
    rank = tf.cast(tf.argsort(order), tf.float32)  # position of each map in the ordering
    taken = tf.round(fraction * features)
    mask = rank < (taken[:, None] if fraction.shape.rank == 1 else taken)
    return _blend(h_a, h_b, tf.cast(mask, tf.float32))


# -- the supervised class mixer (section 2.2, Eq. 7) ----------------------------------------


def bernoulli_mask(p, seed=None, temperature=None):
    """A differentiable sample m ~ Bernoulli(p) for the class mixer (Eq. 7).

    The paper samples a hard mask but does not say how gradients reach embed(y) through
    it (the released code never contained this formulation). Two estimators:
    - `temperature=None` (the default): straight-through (Bengio et al. 2013): the forward
      value is the hard 0/1 sample, the backward pass treats dm/dp as 1. The decoder only
      ever sees whole feature maps from one parent, as in Eq. 5, so the mixes the
      discriminator judges are exactly the ones the figures show.
    - `temperature=T > 0`: relaxed Bernoulli (binary Concrete, Maddison et al. 2017):
      m = sigmoid((logit(p) + logit(u)) / T), u ~ U(0, 1): unbiased in the limit T -> 0 but
      soft masks (blends of feature maps) during training.

    Args:
        p: Bernoulli parameters in [0, 1], float [B, F].
        seed: None, an int, or a `keras.random.SeedGenerator`.
        temperature: None (straight-through) or a float > 0.

    Returns:
        float32 [B, F]: 0/1 values (straight-through) or values in (0, 1) (relaxed).
    """
    p = tf.cast(p, tf.float32)
    u = keras.random.uniform(tf.shape(p), dtype="float32", seed=seed)
    if temperature is None:
        hard = tf.cast(u < p, tf.float32)
        return p + tf.stop_gradient(hard - p)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (or None for straight-through); got {temperature!r}.")
    p = tf.clip_by_value(p, _EPS, 1.0 - _EPS)
    u = tf.clip_by_value(u, _EPS, 1.0 - _EPS)
    logits = tf.math.log(p) - tf.math.log1p(-p) + tf.math.log(u) - tf.math.log1p(-u)
    return tf.sigmoid(logits / temperature)


def class_mix(h_a, h_b, mask):
    """Mix_sup's last step: m * h_a + (1 - m) * h_b with m [B, F] constant over the spatial axes.

    Args:
        h_a, h_b: codes [B, ..., F].
        mask: [B, F] (a sample of `bernoulli_mask`, or p itself for `class_mix_fixed`).
    """
    h_a = tf.convert_to_tensor(h_a)
    m = tf.cast(mask, h_a.dtype)
    for _ in range(h_a.shape.rank - 2):
        m = tf.expand_dims(m, 1)
    return m * h_a + (1 - m) * tf.cast(h_b, h_a.dtype)


def class_mix_fixed(h_a, h_b, attributes, class_mixer):
    """Deterministic class-conditional mix for figures: Mix_sup(h_a, h_b, y) with the mask set
    to its expectation p = embed(y) (so a figure does not depend on a random draw).

    Args:
        h_a, h_b: codes [B, ..., F] (or one code each, broadcast against B attribute rows).
        attributes: attribute vectors y [B, A] in [0, 1] (e.g. y_mix = a y_1 + (1 - a) y_2).
        class_mixer: the run's `amr_tf.networks.ClassMixer` (y -> p in [0, 1]^F).

    Returns:
        p * h_a + (1 - p) * h_b, [B, ..., F].
    """
    p = class_mixer(tf.convert_to_tensor(attributes, tf.float32), training=False)
    h_a, h_b = tf.convert_to_tensor(h_a), tf.convert_to_tensor(h_b)
    batch = tf.shape(p)[0]
    h_a = tf.broadcast_to(h_a, tf.concat([[batch], tf.shape(h_a)[1:]], 0))
    h_b = tf.broadcast_to(h_b, tf.shape(h_a))
    return class_mix(h_a, h_b, p)
