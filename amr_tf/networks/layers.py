"""Building blocks of every network: the original's initialisers, convs and dense layers with
their bias added as a plain sum, spectral normalisation (reparametrized, or Keras'), instance
normalisation with its own gradient, LeakyReLU, and the layer stacks every model is made of."""

import math

import keras
import tensorflow as tf
from keras import ops

from amr_tf import registry

SLOPE = 0.01  # PyTorch's LeakyReLU default, which the original code used.


# Initialisers are made per layer: an unseeded Keras initialiser instance fixes its seed
# when created, so a shared one would give every same-shaped kernel the same values.
def torch_init():
    """torch's Linear/Conv kernel init: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))."""
    return keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_bias(fan_in):
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


# "none": D without spectral normalisation (an ablation, and what a discriminator of low-dimensional
# points needs: a 1-Lipschitz D moves its logit by at most the distance between two inputs).
SPECTRAL_NORMS = ("reparametrized", "keras", "none")


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

    def call(self, inputs, defer_bias=False):
        """The conv; with `defer_bias`, without its bias, for the instance norm after it to add
        (`run_layers` asks that in training calls)."""
        if not self.use_bias or self.data_format != "channels_last":
            return super().call(inputs)
        outputs = self.convolution_op(inputs, self.kernel)
        if defer_bias:
            return outputs
        outputs = bias_add(outputs, ops.cast(self.bias, self.compute_dtype))
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


_FUSED = {}


def _stats_dtype(dtype):
    """Where a fused op computes: float64 for float64 tensors, float32 for every other float."""
    return tf.float64 if dtype == tf.float64 else tf.float32


def _fused_halves(slope, epsilon):
    """The forward and backward halves of LeakyReLU(slope)(instance_norm(x + bias)), each one XLA
    computation (cached per slope and epsilon; XLA compiles once per shape and dtype).

    Each half reads its [B, H, W, C] inputs once or twice and writes once, in the input's dtype,
    computing in float32 (float64 for float64 inputs): the casts, the conv's bias, the statistics
    and the activation are fused into a few loops instead of a dozen TensorFlow kernels with a
    tensor between each (under mixed_bfloat16 that was half the step's time, with LeakyReluGrad
    in bfloat16 alone slower than float32's)."""
    key = ("norm", float(slope), float(epsilon))
    if key not in _FUSED:
        def forward(x, bias, gamma, beta):
            dtype = _stats_dtype(x.dtype)
            y, mean, rstd = _instance_moments(tf.cast(x, dtype) + bias, gamma, beta, tf.constant(epsilon, dtype))
            return tf.cast(tf.nn.leaky_relu(y, alpha=slope), x.dtype), mean, rstd

        def backward(x, bias, z, dz, mean, rstd, gamma):
            dtype = mean.dtype
            # TensorFlow's own LeakyReLU gradient (its slope rounded to float32, as in the forward),
            # fed the output z: z and y have one sign (slope > 0)
            dy = tf.raw_ops.LeakyReluGrad(gradients=tf.cast(dz, dtype), features=tf.cast(z, dtype), alpha=slope)
            dx, dgamma, dbeta = _instance_backward(tf.cast(x, dtype) + bias, dy, mean, rstd, gamma)
            # The bias gradient, the sum of dx, is zero but for rounding (the norm removes any
            # shift): summed per example first, then over the batch (a reduction to C numbers in
            # one go would run on one thread).
            return tf.cast(dx, x.dtype), tf.reduce_sum(tf.reduce_sum(dx, [1, 2]), 0), dgamma, dbeta

        _FUSED[key] = (tf.function(forward, jit_compile=True), tf.function(backward, jit_compile=True))
    return _FUSED[key]


def instance_norm_leaky_relu(x, gamma, beta, epsilon, slope, bias=None):
    """LeakyReLU(slope)(instance_norm(x + bias)) and its gradient, each half one XLA computation
    (`_fused_halves`); x in any float dtype, the result in x's. gamma and beta: [1, 1, 1, C] and
    bias ([C], the conv's before the norm; None: none) in float32 (float64 with float64 x);
    their gradients come back in their dtypes."""
    forward, backward = _fused_halves(slope, epsilon)
    if bias is None:
        bias = tf.zeros(x.shape[-1:], gamma.dtype)

    @tf.custom_gradient
    def fused(x, bias, gamma, beta):
        z, mean, rstd = forward(x, bias, gamma, beta)

        def grad(dz):
            dx, dbias, dgamma, dbeta = backward(x, bias, z, dz, mean, rstd, gamma)
            return dx, tf.cast(dbias, bias.dtype), dgamma, dbeta

        return z, grad

    return fused(x, bias, gamma, beta)


@keras.saving.register_keras_serializable(package="amr_tf")
class InstanceNormalization(keras.layers.GroupNormalization):
    """Instance norm (affine): GroupNormalization with one group per channel, with its variables
    (gamma, then beta) and its numbers, computed in a few passes over [B, H, W, C] with its own
    gradient instead of the group reshape, moments and broadcast gradients that Keras' takes
    (with oneDNN held to AVX2 on a 2-core AMD EPYC, the k=8 step's instance-norm time fell from
    23.6 to 11.5 ms). In half-precision training calls `run_layers` goes further: the conv's bias,
    this norm and the LeakyReLU after it run as one XLA computation per direction
    (`instance_norm_leaky_relu`)."""

    def __init__(self, epsilon=1e-5, **kwargs):
        kwargs.pop("groups", None)
        super().__init__(groups=-1, epsilon=epsilon, **kwargs)

    def call(self, inputs, leaky_relu=None, bias=None):
        """Instance norm of `inputs`; with `leaky_relu` (a slope), LeakyReLU(slope) of it, of
        `inputs + bias` (the conv's bias, when the conv left it out), as the fused
        `instance_norm_leaky_relu` (`run_layers` passes both in training calls)."""
        # float16/bfloat16 inputs are normalised in float32 (their moments would overflow or
        # lose the spread), float64 ones in float64.
        dtype = _stats_dtype(inputs.dtype)
        gamma = tf.reshape(tf.cast(self.gamma, dtype), [1, 1, 1, -1])
        beta = tf.reshape(tf.cast(self.beta, dtype), [1, 1, 1, -1])
        if leaky_relu is not None:
            x = tf.cast(inputs, self.compute_dtype)
            bias = None if bias is None else tf.cast(bias, dtype)
            return instance_norm_leaky_relu(x, gamma, beta, self.epsilon, leaky_relu, bias)
        x = tf.cast(inputs, dtype)
        y = _instance_norm(x, gamma, beta, tf.constant(self.epsilon, dtype))
        return tf.cast(y, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        return config


def he_init():
    """The Burgess networks' kaiming_init: kaiming_normal (gain sqrt 2, not truncated)."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")


def check_spectral_norm(kind):
    return registry.check("spectral_norm", kind, SPECTRAL_NORMS)


def spectral(layer, dtype, power_iterations, name=None, kind="reparametrized"):
    """`layer` wrapped in spectral normalisation of `kind` (see `SPECTRAL_NORMS`), named `name`,
    when `power_iterations` is given (and `kind` is not "none": then the layer, initialised as
    a wrapped one is)."""
    if power_iterations is None or check_spectral_norm(kind) == "none":
        return layer
    wrapper = (ReparametrizedSpectralNorm if check_spectral_norm(kind) == "reparametrized"
               else keras.layers.SpectralNormalization)
    return wrapper(layer, power_iterations=power_iterations, dtype=dtype, name=name)


def conv(filters, size, dtype, power_iterations=None, name=None, fan_in=None, spectral_norm="reparametrized"):
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
        kernel_init, bias_init = torch_init(), torch_bias(fan_in)
    conv = Conv2D(
        filters, size, padding="same" if size > 1 else "valid", dtype=dtype,
        kernel_initializer=kernel_init, bias_initializer=bias_init, name=name)
    return spectral(conv, dtype, power_iterations, name, spectral_norm)


def dense(units, dtype, power_iterations=None, activation=None, init=torch_init, name=None,
           spectral_norm="reparametrized"):
    """A dense layer with zero bias; spectrally normalised when `power_iterations` is given."""
    dense = keras.layers.Dense(units, activation=activation, kernel_initializer=init(),
                               bias_initializer="zeros", dtype=dtype, name=name)
    return spectral(dense, dtype, power_iterations, name, spectral_norm)
