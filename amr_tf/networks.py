"""Networks of the paper (section 2) and the original code: encoder f, decoder g, discriminator D,
probe, class mixer.

Three families, chosen by preset name:
- "acai32" / "acai256" / "acai1024": the conv networks of the original (`architectures/arch_acai_kyle.py`), on square
  images whose side is a power of two >= 16 (the code is always 4 x 4 x latent);
- "dsprites": the "Burgess beta-VAE B" generator and its spectrally normalised critic (64x64);
- "spiral": small MLPs for 2-D points (supplement Fig. 12).

Every network is a Keras 3 subclassed model whose layers are created in `__init__` and
built by `build(input_shape)` (or the first call), so `count_params()` works once
`build_networks` returns. Layers follow the model's dtype policy (mixed precision
ready); the discriminator's logits, its class logits and the class mixer's output are
float32.
"""

import math
import numbers
import types
from typing import NamedTuple, Optional

import keras
import tensorflow as tf
from keras import ops

from amr_tf import registry

_SLOPE = 0.01  # PyTorch's LeakyReLU default, which the original code used.


# Initialisers are made per layer: an unseeded Keras initialiser instance fixes its seed
# when created, so a shared one would give every same-shaped kernel the same values.
def _torch_init():
    """torch's Linear/Conv kernel init: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))."""
    return keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def _torch_bias(fan_in):
    """torch's Linear/Conv bias init: U(+-1/sqrt(fan_in)) (fan_in = inputs x kernel area)."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


@keras.saving.register_keras_serializable(package="amr_tf")
class OriginalNormal(keras.initializers.RandomNormal):
    """The original code's initialiser (`Initializer` in its architectures/arch_kyle.py, after
    Kyle McDonald's ACAI port): N(0, s) with s = 1 / sqrt((1 + slope^2) * prod(w.shape[:-1]))
    on torch's layout, for every conv kernel and every instance-norm gamma of f and g and for
    D's first conv.

    torch lays a conv kernel out (out, in, kh, kw), so prod(shape[:-1]) = out * in * kh (not
    the fan-in: the quirk is reproduced as it is); Keras' (kh, kw, in, out) is mapped to that.
    A gamma (shape (C,)) has prod(()) = 1: gamma ~ N(0, 1 / sqrt(1.04)), about half of them
    negative. Biases and betas are zero (`bias_initializer="zeros"`).
    """

    def __init__(self, slope=0.2, seed=None):
        super().__init__(mean=0.0, stddev=1.0, seed=seed)
        self.slope = slope

    @staticmethod
    def torch_shape(shape):
        """The torch layout of a Keras kernel shape: (kh, kw, in, out) -> (out, in, kh, kw)."""
        shape = tuple(int(d) for d in shape)
        return shape if len(shape) < 2 else (shape[-1], shape[-2], *shape[:-2])

    def stddev_for(self, shape):
        return 1.0 / math.sqrt((1.0 + self.slope ** 2) * math.prod(self.torch_shape(shape)[:-1]))

    def __call__(self, shape, dtype=None):
        self.stddev = self.stddev_for(shape)
        return super().__call__(shape, dtype=dtype)

    def get_config(self):
        return {"slope": self.slope, "seed": self.seed}


SPECTRAL_NORMS = ("reparametrized", "keras")


@tf.custom_gradient
def bias_add(x, bias):
    """x + bias over the last (channel) axis, as a BiasAdd, so that grappler still fuses conv +
    bias (+ LeakyReLU) into one oneDNN kernel; but the bias gradient is a plain sum over the
    other axes (at least in float32), not BiasAddGrad, which oneDNN would fold into the conv's filter
    gradient (Conv2DBackpropFilterWithBias): with oneDNN held to AVX2 on a 2-core AMD EPYC, that
    fused kernel took 3.3 ms more than the filter gradient alone on [192, 34, 34, 16] (a separate
    sum: 0.2 ms)."""

    def grad(dy):
        axes = list(range(len(dy.shape) - 1))
        total = tf.float64 if dy.dtype == tf.float64 else tf.float32  # half-precision dy summed in float32
        return dy, tf.cast(tf.reduce_sum(tf.cast(dy, total), axes), bias.dtype)

    return tf.nn.bias_add(x, bias), grad


@keras.saving.register_keras_serializable(package="amr_tf")
class Conv2D(keras.layers.Conv2D):
    """keras' Conv2D (the same variables, config and numbers) with its bias added by `bias_add`."""

    def call(self, inputs):
        if not self.use_bias or self.data_format != "channels_last":
            return super().call(inputs)
        outputs = bias_add(self.convolution_op(inputs, self.kernel), ops.cast(self.bias, self.compute_dtype))
        return outputs if self.activation is None else self.activation(outputs)


@keras.saving.register_keras_serializable(package="amr_tf")
class ReparametrizedSpectralNorm(keras.layers.Wrapper):
    """Spectral normalisation as Miyato et al. (2018) and the original code define it: the raw
    kernel w is the trained variable, the layer computes with w / sigma(w), and the gradient
    flows through sigma (u and v, the power iteration's vectors, are held constant).

    `keras.layers.SpectralNormalization` ("keras") instead overwrites the kernel with w / sigma
    at each training call, so the optimiser steps on the normalised kernel and no gradient
    flows through sigma. Wraps a `Conv2D` or a `Dense` layer.

    With W the kernel as a matrix [fan_in, out] (the original's torch matrix transposed, its
    rows permuted: the same singular values), a training call runs `power_iterations` of
    v = normalise(W u), u = normalise(W^T v) from the stored u, stores u and v, and uses
    sigma = v^T W u; an inference call uses the stored u and v as they are.

    Args:
        layer: a `keras.layers.Conv2D` or `keras.layers.Dense`.
        power_iterations: power-iteration steps per training call (>= 1).
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            raise TypeError(f"ReparametrizedSpectralNorm wraps Conv2D or Dense, not {type(layer).__name__}")
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be >= 1, got {power_iterations}")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        kernel = self.layer.kernel
        out = int(kernel.shape[-1])
        fan_in = math.prod(int(d) for d in kernel.shape[:-1])
        # The original draws u and v ~ N(0, 1) and normalises them; they are normalised again
        # before every use here, so their scale at creation does not matter.
        self.vector_u = self.add_weight(shape=(out,), initializer=keras.initializers.RandomNormal(),
                                        trainable=False, name="vector_u", dtype=self.variable_dtype)
        self.vector_v = self.add_weight(shape=(fan_in,), initializer=keras.initializers.RandomNormal(),
                                        trainable=False, name="vector_v", dtype=self.variable_dtype)

    @staticmethod
    def _normalize(x):
        return x / (ops.sqrt(ops.sum(ops.square(x))) + 1e-12)  # torch's l2normalize, eps 1e-12

    def sigma(self, kernel, training=False):
        """sigma(kernel), differentiable in the kernel; a training call advances u and v first."""
        # float32 at least: a bfloat16 power iteration would lose the digits sigma needs
        dtype = keras.backend.result_type(kernel.dtype, "float32")
        w = ops.reshape(ops.cast(kernel, dtype), (-1, kernel.shape[-1]))
        u = ops.cast(self.vector_u, dtype)
        v = ops.cast(self.vector_v, dtype)
        if training:
            w_const = ops.stop_gradient(w)
            u = self._normalize(u)
            for _ in range(self.power_iterations):
                v = self._normalize(ops.matmul(w_const, u))
                u = self._normalize(ops.matmul(v, w_const))
            self.vector_u.assign(ops.cast(u, self.vector_u.dtype))
            self.vector_v.assign(ops.cast(v, self.vector_v.dtype))
        return self._sigma_of(w, ops.stop_gradient(u), ops.stop_gradient(v))

    def _sigma_of(self, w, u, v):
        """v^T W u, whose gradient v u^T reads u and v from this layer's variables when the
        gradient is taken, as the original's does: its SpectralNorm assigns them through
        `.data`, which autograd does not see, so when D is called several times before one
        backward pass (d_calls="original"), every call's sigma gets the gradient of the last
        call's u and v. With one call per update (d_calls="batched") that is the call's own."""
        layer = self

        @tf.custom_gradient
        def sigma(w):
            def grad(upstream):
                u_now = tf.cast(layer.vector_u, w.dtype)
                v_now = tf.cast(layer.vector_v, w.dtype)
                return upstream * v_now[:, None] * u_now[None, :]

            return tf.reduce_sum(v * tf.linalg.matvec(w, u)), grad

        return sigma(w)

    def call(self, inputs, training=False):
        layer = self.layer
        kernel = layer.kernel
        normalized = kernel / ops.cast(self.sigma(kernel, training=training), kernel.dtype)
        if isinstance(layer, keras.layers.Conv2D):
            out = layer.convolution_op(inputs, normalized)
        else:
            out = ops.matmul(inputs, normalized)
        if layer.use_bias:
            first = isinstance(layer, keras.layers.Conv2D) and layer.data_format == "channels_first"
            bias = ops.cast(layer.bias, out.dtype)
            out = tf.nn.bias_add(out, bias, data_format="NCHW") if first else bias_add(out, bias)
        if layer.activation is not None:
            out = layer.activation(out)
        return out

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


@keras.saving.register_keras_serializable(package="amr_tf")
class LeakyReLU(keras.layers.LeakyReLU):
    """LeakyReLU whose gradient reads its output, not its input: LeakyReluGrad fed y, which
    for a slope > 0 is TensorFlow's own gradient exactly (y and x have one sign). Then the
    pre-activation feeds nothing else, so grappler can fuse conv + BiasAdd + LeakyReLU into one
    oneDNN kernel; with TensorFlow's LeakyReluGrad reading it, its remapper gives up on the
    whole graph ("remapper failed: ... fanout ... exist for missing node") and logs an error."""

    def call(self, inputs):
        slope = self.negative_slope

        @tf.custom_gradient
        def leaky_relu(x):
            y = tf.nn.leaky_relu(x, alpha=slope)

            def grad(upstream):
                # TF's own kernel, fed the output: where(y > 0, upstream, slope * upstream)
                return tf.raw_ops.LeakyReluGrad(gradients=upstream, features=y, alpha=slope)

            return y, grad

        return leaky_relu(inputs)


def _instance_moments(x, gamma, beta, epsilon):
    """Forward of instance norm: (y, mean, 1/std), statistics per example and channel."""
    mean, variance = tf.nn.moments(x, [1, 2], keepdims=True)
    rstd = tf.math.rsqrt(variance + epsilon)
    scale = gamma * rstd
    return x * scale + (beta - mean * scale), mean, rstd


def _instance_backward(x, dy, mean, rstd, gamma):
    """(dx, dgamma, dbeta) of `_instance_moments`' y. With xhat = (x - mean) rstd and per
    (example, channel) means m1 = <dy>, m2 = <dy xhat> over (H, W):
    dx = gamma rstd (dy - m1 - xhat m2), written as a dy + b x + c so that xhat is never formed."""
    area = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
    scale = gamma * rstd
    m1 = tf.reduce_mean(dy, [1, 2], keepdims=True)
    m2 = rstd * (tf.reduce_mean(dy * x, [1, 2], keepdims=True) - mean * m1)
    b = -scale * m2 * rstd
    c = -scale * m1 - b * mean
    dx = scale * dy + (b * x + c)
    return dx, area * tf.reduce_sum(m2, 0, keepdims=True), area * tf.reduce_sum(m1, 0, keepdims=True)


@tf.custom_gradient
def _instance_norm(x, gamma, beta, epsilon):
    y, mean, rstd = _instance_moments(x, gamma, beta, epsilon)
    return y, lambda dy: (*_instance_backward(x, dy, mean, rstd, gamma), None)


@keras.saving.register_keras_serializable(package="amr_tf")
class InstanceNormalization(keras.layers.GroupNormalization):
    """Instance norm (affine): GroupNormalization with one group per channel, with its variables
    (gamma, then beta) and its numbers, computed in a few passes over [B, H, W, C] with its own
    gradient instead of the group reshape, moments and broadcast gradients that Keras' takes
    (with oneDNN held to AVX2 on a 2-core AMD EPYC, the k=8 step's instance-norm time fell from
    23.6 to 11.5 ms).
    Compiling the two halves with XLA measured no faster (12.0 ms) and was left out."""

    def __init__(self, epsilon=1e-5, **kwargs):
        kwargs.pop("groups", None)
        super().__init__(groups=-1, epsilon=epsilon, **kwargs)

    def call(self, inputs):
        # float16/bfloat16 inputs are normalised in float32 (their moments would overflow or
        # lose the spread), float64 ones in float64.
        dtype = tf.float64 if inputs.dtype == tf.float64 else tf.float32
        x = tf.cast(inputs, dtype)
        gamma = tf.reshape(tf.cast(self.gamma, dtype), [1, 1, 1, -1])
        beta = tf.reshape(tf.cast(self.beta, dtype), [1, 1, 1, -1])
        y = _instance_norm(x, gamma, beta, tf.constant(self.epsilon, dtype))
        return tf.cast(y, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        return config


def _he_init():
    """The Burgess networks' kaiming_init: kaiming_normal (gain sqrt 2, not truncated)."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")


def _check_spectral_norm(kind):
    return registry.check("spectral_norm", kind, SPECTRAL_NORMS)


def _spectral(layer, dtype, power_iterations, name=None, kind="reparametrized"):
    """`layer` wrapped in spectral normalisation of `kind` (see `SPECTRAL_NORMS`), named `name`,
    when `power_iterations` is given."""
    if power_iterations is None:
        return layer
    wrapper = (ReparametrizedSpectralNorm if _check_spectral_norm(kind) == "reparametrized"
               else keras.layers.SpectralNormalization)
    return wrapper(layer, power_iterations=power_iterations, dtype=dtype, name=name)


def _conv(filters, size, dtype, power_iterations=None, name=None, fan_in=None, spectral_norm="reparametrized"):
    """A conv ('same' for 3x3), initialised as the original initialises it.

    Plain: `OriginalNormal` kernel, zero bias. Spectrally normalised (`power_iterations`
    given): the original's `Initializer` never reaches a wrapped conv, so it keeps torch's
    defaults, kernel U(+-1/sqrt(fan_in)) and bias U(+-1/sqrt(fan_in)); `fan_in` (inputs x
    kernel area) is then required.
    """
    if power_iterations is None:
        kernel_init, bias_init = OriginalNormal(), "zeros"
    else:
        if fan_in is None:
            raise ValueError("a spectrally normalised conv needs its fan_in for torch's bias init")
        kernel_init, bias_init = _torch_init(), _torch_bias(fan_in)
    conv = Conv2D(
        filters, size, padding="same" if size > 1 else "valid", dtype=dtype,
        kernel_initializer=kernel_init, bias_initializer=bias_init, name=name)
    return _spectral(conv, dtype, power_iterations, name, spectral_norm)


def _dense(units, dtype, power_iterations=None, activation=None, init=_torch_init, name=None,
           spectral_norm="reparametrized"):
    """A dense layer with zero bias; spectrally normalised when `power_iterations` is given."""
    dense = keras.layers.Dense(units, activation=activation, kernel_initializer=init(),
                               bias_initializer="zeros", dtype=dtype, name=name)
    return _spectral(dense, dtype, power_iterations, name, spectral_norm)


def _block(k, k_in, dtype, norm=True, power_iterations=None, spectral_norm="reparametrized"):
    """conv3x3(k_in -> k) + instance norm (affine, eps 1e-5) + LeakyReLU(0.01)."""
    # Instance norm: moments over (H, W) per example and channel. The original's initialiser
    # also draws the affine scale: gamma ~ N(0, 1/sqrt(1.04)).
    in_norm = [InstanceNormalization(epsilon=1e-5, gamma_initializer=OriginalNormal(), dtype=dtype)]
    return ([_conv(k, 3, dtype, power_iterations, fan_in=9 * k_in if k_in else None,
                   spectral_norm=spectral_norm)]
            + (in_norm if norm else []) + [LeakyReLU(negative_slope=_SLOPE, dtype=dtype)])


def _encoder_stack(latent, depth, scales, dtype, norm=True, power_iterations=None,
                   spectral_norm="reparametrized"):
    """Layers of f(x) (the original's `arch_acai_kyle.py`); D reuses them without norm and with spectral norm on every
    conv but the first (the original's D starts with a plain conv1x1, as its encoder does)."""
    # The original's conv1x1 with padding=1: a 32x32 image becomes a 34x34 map (then 17, 8, 4).
    stack = [keras.layers.ZeroPadding2D(1, dtype=dtype), _conv(depth, 1, dtype)]
    k_in = depth
    for s in range(scales):
        for _ in range(2):
            stack += _block(depth << s, k_in, dtype, norm, power_iterations, spectral_norm)
            k_in = depth << s
        stack.append(keras.layers.AveragePooling2D(2, dtype=dtype))
    stack += _block(depth << scales, k_in, dtype, norm, power_iterations, spectral_norm)
    return stack + [_conv(latent, 3, dtype, power_iterations, fan_in=9 * (depth << scales),
                          spectral_norm=spectral_norm)]


def _burgess_convs(filters, dtype, power_iterations=None, spectral_norm="reparametrized"):
    """Four conv4x4 stride 2 + ReLU: 64 -> 32 -> 16 -> 8 -> 4 (Burgess et al. 2018)."""
    stack = []
    for _ in range(4):
        # 'same' with stride 2 on an even size pads 1 before and 1 after: torch's padding=1.
        conv = Conv2D(filters, 4, strides=2, padding="same", dtype=dtype,
                      kernel_initializer=_he_init(), bias_initializer="zeros")
        stack += [_spectral(conv, dtype, power_iterations, kind=spectral_norm), keras.layers.ReLU(dtype=dtype)]
    # Keras flattens NHWC and torch NCHW: the first dense sees its inputs in another
    # order, which changes no parameter count and nothing a freshly initialised net can tell.
    return stack + [keras.layers.Flatten(dtype=dtype)]


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


class _Coder(_Stack):
    """An encoder: `body` ends in the code layer, which gives 2x the code's feature maps
    (mu, then log-variance, on the last axis) when `variational`."""

    @property
    def variational(self):
        """True if the encoder also predicts a log-variance (a VAE encoder)."""
        return self._variational

    def moments(self, x, training=False):
        """The code's moments.

        Args:
            x: a batch of inputs.
            training: passed to every layer.

        Returns:
            `(mu, logvar)`, each of the code's shape (in the compute dtype: bfloat16 under
            mixed_bfloat16). A non-variational encoder returns `(h, None)`.
        """
        h = _Stack.call(self, x, training=training)
        if not self._variational:
            return h, None
        mu, logvar = ops.split(h, 2, axis=-1)
        return mu, logvar

    def call(self, x, training=False):
        """The code h = f(x); a variational encoder's mean mu."""
        return self.moments(x, training=training)[0]

    def compute_output_shape(self, input_shape):
        shape = tuple(super().compute_output_shape(input_shape))
        return shape[:-1] + (shape[-1] // 2,) if self._variational else shape


class _Critic(_Stack):
    """A discriminator: `body` ends in the layer that gives the real/fake logit map; `head`
    (None unless n_attributes > 0) is parallel to that layer, on the same penultimate
    features, and gives the auxiliary classifier's logits (AC-GAN, Odena et al. 2017).

    The head is a dense layer on the flattened features. The real/fake logit may average
    over positions (the logit map), but the class may not: averaged, the acai32 D's
    4x4x128 features kept almost none of the digit's class (a logistic regression on them
    read 19% of digits, against 62% on the flattened map; see README)."""

    def build(self, input_shape):
        super().build(input_shape)
        if self.head is not None:
            shape = tuple(input_shape)
            for layer in self.body[:-1]:
                shape = layer.compute_output_shape(shape)
            self.head.build((shape[0], math.prod(shape[1:])))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def advance_power_iteration(self):
        """What a training call does to the spectral norms' state, without the call: one more
        power iteration of every wrapper (the "keras" kind also rescales its kernel, as its
        call does). The original's AE+GAN baseline calls D on a mix whose verdict it discards;
        this is that call's lasting effect."""
        for layer in self.body + ([self.head] if self.head is not None else []):
            if isinstance(layer, ReparametrizedSpectralNorm):
                layer.sigma(layer.layer.kernel, training=True)
            elif isinstance(layer, keras.layers.SpectralNormalization):
                u, kernel = layer.normalized_weights()
                layer.vector_u.assign(u)
                layer.kernel.assign(kernel)

    def call(self, x, training=False, with_classes=False):
        for layer in self.body[:-1]:
            x = layer(x, training=training)
        # float32 before averaging: a bfloat16 mean over many terms loses digits.
        out = ops.cast(self.body[-1](x, training=training), "float32")
        logits = ops.mean(out, axis=tuple(range(1, len(out.shape))))
        if not with_classes:
            return logits
        if self.head is None:
            raise ValueError(f"{self.name} has no class head: build it with n_attributes > 0")
        if len(x.shape) > 2:
            x = ops.reshape(x, (-1, math.prod(x.shape[1:])))
        return logits, ops.cast(self.head(x, training=training), "float32")


@keras.saving.register_keras_serializable(package="amr_tf")
class Encoder(_Coder):
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
        kwargs.setdefault("name", "encoder")
        super().__init__(**kwargs)
        self.latent, self.depth, self.scales = latent, depth, scales
        self._variational = bool(variational)
        self.body = _encoder_stack(latent * (2 if variational else 1), depth, scales,
                                   self.dtype_policy)

    def get_config(self):
        return {**super().get_config(), "latent": self.latent, "depth": self.depth,
                "scales": self.scales, "variational": self.variational}


@keras.saving.register_keras_serializable(package="amr_tf")
class Decoder(_Stack):
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
        self.channels, self.depth, self.scales = channels, depth, scales
        dtype = self.dtype_policy
        self.body = []
        k_in = None  # plain convs: their fan-in plays no part in their initialisation
        for s in reversed(range(scales)):
            self.body += _block(depth << s, k_in, dtype) + _block(depth << s, k_in, dtype)
            self.body.append(keras.layers.UpSampling2D(2, interpolation="nearest", dtype=dtype))
        self.body += _block(depth, k_in, dtype) + [_conv(channels, 3, dtype)]

    def get_config(self):
        return {**super().get_config(),
                "channels": self.channels, "depth": self.depth, "scales": self.scales}


@keras.saving.register_keras_serializable(package="amr_tf")
class Discriminator(_Critic):
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
        kwargs.setdefault("name", "discriminator")
        super().__init__(**kwargs)
        self.latent, self.depth, self.scales = latent, depth, scales
        self.power_iterations, self.n_attributes = power_iterations, n_attributes
        self.spectral_norm = _check_spectral_norm(spectral_norm)
        self.body = _encoder_stack(latent, depth, scales, self.dtype_policy, norm=False,
                                   power_iterations=power_iterations, spectral_norm=spectral_norm)
        self.head = (_dense(n_attributes, self.dtype_policy, power_iterations, name="class_head",
                            spectral_norm=spectral_norm) if n_attributes else None)

    def get_config(self):
        return {**super().get_config(), "latent": self.latent, "depth": self.depth,
                "scales": self.scales, "power_iterations": self.power_iterations,
                "n_attributes": self.n_attributes, "spectral_norm": self.spectral_norm}


@keras.saving.register_keras_serializable(package="amr_tf")
class BurgessEncoder(_Coder):
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
        kwargs.setdefault("name", "encoder")
        super().__init__(**kwargs)
        self.z, self.filters, self.hidden = z, filters, hidden
        self._variational = bool(variational)
        dtype = self.dtype_policy
        self.body = _burgess_convs(filters, dtype) + [
            _dense(hidden, dtype, activation="relu", init=_he_init),
            _dense(hidden, dtype, activation="relu", init=_he_init),
            _dense(z * (2 if variational else 1), dtype, init=_he_init)]

    def get_config(self):
        return {**super().get_config(), "z": self.z, "filters": self.filters,
                "hidden": self.hidden, "variational": self.variational}


@keras.saving.register_keras_serializable(package="amr_tf")
class BurgessDecoder(_Stack):
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
        self.channels, self.filters, self.hidden = channels, filters, hidden
        dtype = self.dtype_policy
        self.body = [_dense(hidden, dtype, activation="relu", init=_he_init),
                     _dense(hidden, dtype, activation="relu", init=_he_init),
                     _dense(16 * filters, dtype, activation="relu", init=_he_init),
                     keras.layers.Reshape((4, 4, filters), dtype=dtype)]
        for i, out in enumerate([filters] * 3 + [channels]):
            # The original leaves ConvTranspose2d at torch's default init (its kaiming_init
            # skips it): U(+-1/sqrt(fan_in)) for kernel and bias, fan_in = out * 4 * 4 in
            # torch, and Keras' fan_in of a (4, 4, out, in) kernel is the same.
            bound = 1 / math.sqrt(16 * out)
            self.body.append(keras.layers.Conv2DTranspose(
                out, 4, strides=2, padding="same", dtype=dtype, kernel_initializer=_torch_init(),
                bias_initializer=keras.initializers.RandomUniform(-bound, bound)))
            self.body.append(keras.layers.ReLU(dtype=dtype) if i < 3
                             else keras.layers.Activation("tanh", dtype=dtype))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "filters": self.filters,
                "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="amr_tf")
class BurgessDiscriminator(_Critic):
    """dSprites discriminator (the original's konny `Discriminator`): spectrally normalised
    conv4x4 stride 2 x4 + ReLU, flatten, SN Dense(hidden) + ReLU x2, SN Dense(1) -> logits.

    The original ends in a sigmoid; this returns the logits (the losses take logits).

    Args:
        filters: channels of every conv (the original's ndf).
        hidden: units of the two hidden dense layers.
        power_iterations: power-iteration steps per training call of each spectral norm.
        n_attributes: outputs of the auxiliary classifier head, a spectrally normalised
            Dense parallel to the final Dense(1); 0: no head.
        **kwargs: `keras.Model` arguments (name, dtype, ...).

    Returns (from `call(x, training=False, with_classes=False)`):
        float32 logits [B]; with `with_classes=True`, `(logits, class_logits [B, n_attributes])`.
    """

    def __init__(self, filters=32, hidden=256, power_iterations=1, n_attributes=0,
                 spectral_norm="reparametrized", **kwargs):
        kwargs.setdefault("name", "discriminator")
        super().__init__(**kwargs)
        self.filters, self.hidden = filters, hidden
        self.power_iterations, self.n_attributes = power_iterations, n_attributes
        self.spectral_norm = sn = _check_spectral_norm(spectral_norm)
        dtype, n = self.dtype_policy, power_iterations
        self.body = _burgess_convs(filters, dtype, n, sn) + [
            _dense(hidden, dtype, n, activation="relu", init=_he_init, spectral_norm=sn),
            _dense(hidden, dtype, n, activation="relu", init=_he_init, spectral_norm=sn),
            _dense(1, dtype, n, init=_he_init, spectral_norm=sn)]
        self.head = (_dense(n_attributes, dtype, n, init=_he_init, name="class_head", spectral_norm=sn)
                     if n_attributes else None)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "hidden": self.hidden,
                "power_iterations": self.power_iterations, "n_attributes": self.n_attributes,
                "spectral_norm": self.spectral_norm}


def _mlp(hidden, n_layers, dtype, power_iterations=None, spectral_norm="reparametrized"):
    """`n_layers` x (Dense(hidden) + LeakyReLU(0.2))."""
    stack = []
    for _ in range(n_layers):
        stack += [_dense(hidden, dtype, power_iterations, spectral_norm=spectral_norm),
                  LeakyReLU(negative_slope=0.2, dtype=dtype)]
    return stack


@keras.saving.register_keras_serializable(package="amr_tf")
class MLPEncoder(_Coder):
    """Encoder of points: [B, D] -> [B, z]; `n_layers` x (Dense(hidden) + LeakyReLU(0.2)), Dense(z).

    Args:
        z: code size.
        hidden: units of each hidden layer.
        n_layers: number of hidden layers (`layers` is taken by keras.Model).
        variational: the last layer gives mu and log-variance (see `moments`); `call` returns mu.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, z=2, hidden=128, n_layers=2, variational=False, **kwargs):
        kwargs.setdefault("name", "encoder")
        super().__init__(**kwargs)
        self.z, self.hidden, self.n_layers = z, hidden, n_layers
        self._variational = bool(variational)
        self.body = _mlp(hidden, n_layers, self.dtype_policy) + [
            _dense(z * (2 if variational else 1), self.dtype_policy)]

    def get_config(self):
        return {**super().get_config(), "z": self.z, "hidden": self.hidden,
                "n_layers": self.n_layers, "variational": self.variational}


@keras.saving.register_keras_serializable(package="amr_tf")
class MLPDecoder(_Stack):
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
        self.dims, self.hidden, self.n_layers = dims, hidden, n_layers
        self.body = _mlp(hidden, n_layers, self.dtype_policy) + [_dense(dims, self.dtype_policy)]

    def get_config(self):
        return {**super().get_config(), "dims": self.dims, "hidden": self.hidden,
                "n_layers": self.n_layers}


@keras.saving.register_keras_serializable(package="amr_tf")
class MLPDiscriminator(_Critic):
    """Discriminator of points: `n_layers` x (SN Dense(hidden) + LeakyReLU(0.2)), SN Dense(1).

    Args:
        hidden: units of each hidden layer.
        n_layers: number of hidden layers (`layers` is taken by keras.Model).
        power_iterations: power-iteration steps per training call of each spectral norm.
        n_attributes: outputs of the auxiliary classifier head, a spectrally normalised
            Dense parallel to the final Dense(1); 0: no head.
        **kwargs: `keras.Model` arguments (name, dtype, ...).

    Returns (from `call(x, training=False, with_classes=False)`):
        float32 logits [B]; with `with_classes=True`, `(logits, class_logits [B, n_attributes])`.
    """

    def __init__(self, hidden=128, n_layers=2, power_iterations=1, n_attributes=0,
                 spectral_norm="reparametrized", **kwargs):
        kwargs.setdefault("name", "discriminator")
        super().__init__(**kwargs)
        self.hidden, self.n_layers = hidden, n_layers
        self.power_iterations, self.n_attributes = power_iterations, n_attributes
        self.spectral_norm = sn = _check_spectral_norm(spectral_norm)
        dtype, n = self.dtype_policy, power_iterations
        self.body = _mlp(hidden, n_layers, dtype, n, sn) + [_dense(1, dtype, n, spectral_norm=sn)]
        self.head = (_dense(n_attributes, dtype, n, name="class_head", spectral_norm=sn)
                     if n_attributes else None)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "n_layers": self.n_layers,
                "power_iterations": self.power_iterations, "n_attributes": self.n_attributes,
                "spectral_norm": self.spectral_norm}


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
        self.body = [keras.layers.Flatten(dtype=self.dtype_policy),
                     _dense(n_classes, self.dtype_policy)]

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


@keras.saving.register_keras_serializable(package="amr_tf")
class ClassMixer(_Stack):
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
        self.n_attributes, self.feature_maps, self.hidden = n_attributes, feature_maps, hidden
        dtype = self.dtype_policy
        self.body = [_dense(hidden, dtype, activation="relu"),
                     _dense(hidden, dtype, activation="relu"),
                     _dense(feature_maps, dtype)]

    def call(self, y, training=False):
        return ops.sigmoid(ops.cast(super().call(y, training=training), "float32"))

    def get_config(self):
        return {**super().get_config(), "n_attributes": self.n_attributes,
                "feature_maps": self.feature_maps, "hidden": self.hidden}


def _shape_text(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


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
        return Encoder(self.latent, self.depth, self.scales_for(image_shape),
                       variational=variational, dtype=dtype)

    def decoder(self, image_shape, dtype=None):
        return Decoder(image_shape[-1], self.depth, self.scales_for(image_shape), dtype=dtype)

    def discriminator(self, image_shape, dtype=None, n_attributes=0, spectral_norm="reparametrized"):
        return Discriminator(self.latent, self.depth, self.scales_for(image_shape),
                             n_attributes=n_attributes, spectral_norm=spectral_norm, dtype=dtype)


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


_PRESETS = {}
PRESETS = types.MappingProxyType(_PRESETS)  # read-only view; add with register_preset
_PRESET_METHODS = ("mismatch", "encoder", "decoder", "discriminator")


def register_preset(name, preset):
    """Adds `preset` under `name`; a name can be registered only once (ValueError).

    A preset is any object with the methods of `ACAIPreset`: `mismatch(input_shape)`,
    `encoder(input_shape, dtype, variational)`, `decoder(input_shape, dtype)` and
    `discriminator(input_shape, dtype, n_attributes, spectral_norm)` (TypeError otherwise).
    """
    if name in _PRESETS:
        raise ValueError(f"Network preset {name!r} is already registered; "
                         f"registered: {sorted(_PRESETS)}")
    missing = [m for m in _PRESET_METHODS if not callable(getattr(preset, m, None))]
    if missing:
        raise TypeError(f"Network preset {name!r} lacks the methods {missing}")
    _PRESETS[name] = preset


Preset = ACAIPreset  # the name before ACAIPreset sat beside BurgessPreset and MLPPreset

register_preset("acai32", ACAIPreset(latent=2))
register_preset("acai256", ACAIPreset(latent=16))
register_preset("acai1024", ACAIPreset(latent=64))
register_preset("dsprites", BurgessPreset())
# The original's dSprites AE+GAN baseline: its script sets no --ndf, so D has the default 64.
register_preset("dsprites_ndf64", BurgessPreset(d_filters=64))
register_preset("spiral", MLPPreset())


def get_preset(name):
    """Returns the preset called `name`; ValueError naming the choices if unknown."""
    if name not in _PRESETS:
        raise ValueError(f"Unknown network preset {name!r}; choose one of {sorted(_PRESETS)}")
    return _PRESETS[name]


def preset_for_bottleneck(bottleneck):
    """Maps the code size d_h (32, 256 or 1024) to its preset name ("acai32", ...)."""
    names = {p.bottleneck: n for n, p in _PRESETS.items() if n.startswith("acai")}
    if bottleneck not in names:
        raise ValueError(f"Unknown bottleneck {bottleneck!r}; choose one of {sorted(names)}")
    return names[bottleneck]


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
        n_classes: number of probe classes.
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
                                    spectral_norm=_check_spectral_norm(spectral_norm))
    probe = Probe(n_classes, dtype="float64" if dtype == "float64" else "float32")
    codes = encoder.compute_output_shape(inputs)
    encoder.build(inputs)
    decoder.build(codes)
    discriminator.build(inputs)
    probe.build(codes)
    class_mixer = None
    if n_attributes:
        class_mixer = ClassMixer(int(n_attributes), codes[-1], dtype=dtype)
        class_mixer.build((None, n_attributes))
    return Networks(encoder, decoder, discriminator, probe, class_mixer)


def count_trainable(model):
    """Number of trainable scalars of a built model."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))
