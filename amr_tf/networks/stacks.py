"""The model bases every network is made of: `Stack` (a chain of layers, built shape by shape),
`Coder` (an encoder, variational or not) and `Critic` (a discriminator with an optional class
head), and `run_layers`, the one loop that runs a chain and fuses norms and activations when
that pays."""

import math

import keras
from keras import ops

from amr_tf.networks.layers import (
    Conv2D,
    InstanceNormalization,
    LeakyReLU,
    ReparametrizedSpectralNorm,
    check_spectral_norm,
    dense,
    torch_init,
)


def _fusable_conv(layer):
    """True for our Conv2D, channels last, with a bias and no activation of its own: a conv whose
    bias `run_layers` may hand to the instance norm after it."""
    return (type(layer) is Conv2D and layer.use_bias and layer.activation in (None, keras.activations.linear)
            and layer.data_format == "channels_last")


# Compute dtypes whose training calls `run_layers` fuses: there the casts to and from the norm's
# float32 dominate, and the fused step ran 1.17x the unfused (mixed_bfloat16, AMX Xeon, side by
# side); float32's ran no faster (0.98x), and keeps the plain kernels.
FUSED_DTYPES = ("bfloat16", "float16")


def run_layers(layers, x, training=False):
    """`x` through `layers` in order. A training call in half precision (`FUSED_DTYPES`) fuses
    each instance norm with the LeakyReLU after it, and the bias of a conv before it, into one
    XLA op (`instance_norm_leaky_relu`; the conv runs without its bias). Other calls, and every
    inference call (what a SavedModel holds: TF Serving compiles no XLA by default), run each
    layer as it is. Either way the same function is computed, to float rounding.

    (A conv + LeakyReLU without a norm, as in D, was tried with the LeakyReLU and bias gradients
    in one XLA op: no faster, its bfloat16 loops slower than TensorFlow's LeakyReluGrad.)"""
    i = 0
    while i < len(layers):
        layer, after = layers[i], layers[i + 1:i + 3]
        fuse = training and layer.compute_dtype in FUSED_DTYPES
        norm_next = bool(after) and isinstance(after[0], InstanceNormalization)
        if fuse and _fusable_conv(layer) and len(after) == 2 and norm_next and type(after[1]) is LeakyReLU:
            x = after[0](layer(x, defer_bias=True), leaky_relu=float(after[1].negative_slope), bias=layer.bias)
            i += 3
        elif fuse and isinstance(layer, InstanceNormalization) and after and type(after[0]) is LeakyReLU:
            x = layer(x, leaky_relu=float(after[0].negative_slope))
            i += 2
        else:
            x = layer(x, training=training)
            i += 1
    return x


class Stack(keras.Model):
    """A chain of layers in `self.body`, built shape by shape without running them.

    A network keeps its constructor's arguments with `self.keep(name=value, ...)`: each becomes
    an attribute, and `get_config` returns them all, so the Keras round trip
    (`from_config(get_config())`) rebuilds the same network without a `get_config` per class.
    """

    def keep(self, **arguments):
        """Stores `arguments` as attributes and adds their names to what `get_config` returns."""
        for name, value in arguments.items():
            setattr(self, name, value)
        object.__setattr__(self, "_kept", (*getattr(self, "_kept", ()), *arguments))

    def get_config(self):
        return {**super().get_config(), **{name: getattr(self, name) for name in getattr(self, "_kept", ())}}

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
        return run_layers(self.body, x, training)


class Coder(Stack):
    """An encoder: `body` ends in the code layer, which gives 2x the code's feature maps
    (mu, then log-variance, on the last axis) when `variational`."""

    def __init__(self, variational=False, **kwargs):
        kwargs.setdefault("name", "encoder")
        super().__init__(**kwargs)
        self._variational = bool(variational)

    def get_config(self):
        return {**super().get_config(), "variational": self.variational}

    @property
    def variational(self):
        """True if the encoder also predicts a log-variance (a VAE encoder); read-only."""
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
        h = Stack.call(self, x, training=training)
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


class Critic(Stack):
    """A discriminator: `body` ends in the layer that gives the real/fake logit map; `head`
    (None unless n_attributes > 0) is parallel to that layer, on the same penultimate
    features, and gives the auxiliary classifier's logits (AC-GAN, Odena et al. 2017).

    The head is a dense layer on the flattened features. The real/fake logit may average
    over positions (the logit map), but the class may not: averaged, the acai32 D's
    4x4x128 features kept almost none of the digit's class (a logistic regression on them
    read 19% of digits, against 62% on the flattened map; see docs/training.md).

    Args (every family's discriminator):
        power_iterations: power-iteration steps per training call of each spectral norm.
        n_attributes: outputs of the auxiliary classifier head; 0: no head.
        spectral_norm: one of `SPECTRAL_NORMS`.
        **kwargs: `keras.Model` arguments (name, dtype, ...).
    """

    def __init__(self, power_iterations=1, n_attributes=0, spectral_norm="reparametrized", **kwargs):
        kwargs.setdefault("name", "discriminator")
        super().__init__(**kwargs)
        self.keep(power_iterations=power_iterations, n_attributes=n_attributes,
                  spectral_norm=check_spectral_norm(spectral_norm))

    def set_layers(self, body, head_init=torch_init):
        """`body`, then (with n_attributes > 0) the class head, a spectrally normalised dense layer
        made after the body's layers (their initialisers' seeds follow creation order)."""
        self.body = body
        self.head = (dense(self.n_attributes, self.dtype_policy, self.power_iterations, init=head_init,
                           name="class_head", spectral_norm=self.spectral_norm) if self.n_attributes else None)

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
        x = run_layers(self.body[:-1], x, training)
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
