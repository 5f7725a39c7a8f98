"""Tests of amr_tf.networks: parity with the original's parameter counts, shapes, norms."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf import networks
from tests.helpers import assert_round_trip

# (preset, channels, encoder, decoder): trainable counts of the original PyTorch models
# (architectures/arch_acai_kyle.py, latent 2; arch_acai_kyle_256.py, latent 16). acai1024's is the
# same network built with latent 64: the original's arch_acai_kyle_1024.py is not in its repository.
PARITY = [
    ("acai32", 1, 150_850, 75_745),
    ("acai32", 3, 150_882, 76_035),
    ("acai256", 3, 167_024, 84_099),
    ("acai1024", 3, 222_368, 111_747),
]


def _of_type(model, cls):
    return [layer for layer in model.body if isinstance(layer, cls)]


def _images(n=2, c=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 32, 32, c)).astype("float32")


@pytest.fixture(scope="module")
def acai32():
    keras.utils.set_random_seed(0)
    return networks.build_networks("acai32", (32, 32, 3), n_classes=10)


@pytest.mark.parametrize("preset,channels,n_encoder,n_decoder", PARITY)
def test_parameter_counts_match_the_original(preset, channels, n_encoder, n_decoder):
    nets = networks.build_networks(preset, (32, 32, channels), n_classes=10)
    assert networks.count_trainable(nets.encoder) == n_encoder
    assert networks.count_trainable(nets.decoder) == n_decoder
    latent = networks.PRESETS[preset].latent
    assert networks.count_trainable(nets.probe) == 16 * latent * 10 + 10
    # D is the encoder without instance norm; spectral norm adds only non-trainable vectors.
    in_params = sum(layer.count_params()
                    for layer in _of_type(nets.encoder, keras.layers.GroupNormalization))
    assert networks.count_trainable(nets.discriminator) == n_encoder - in_params


def test_discriminator_count_acai32_rgb(acai32):
    assert networks.count_trainable(acai32.discriminator) == 150_178
    # the power iteration's u and v for each of the 8 normalised convs, not trained
    assert len(acai32.discriminator.non_trainable_weights) == 16


@pytest.mark.parametrize("preset,channels,latent", [("acai32", 1, 2), ("acai256", 3, 16)])
def test_output_shapes(preset, channels, latent):
    nets = networks.build_networks(preset, (32, 32, channels), n_classes=7)
    x = _images(c=channels)
    h = nets.encoder(x)
    assert tuple(h.shape) == (2, 4, 4, latent)
    assert networks.code_shape(preset, (32, 32, channels)) == (4, 4, latent)
    assert tuple(nets.decoder(h).shape) == (2, 32, 32, channels)
    logits = nets.discriminator(x)
    assert tuple(logits.shape) == (2,) and logits.dtype == "float32"
    assert tuple(nets.probe(h).shape) == (2, 7)


def test_code_shapes_of_all_presets():
    assert [networks.code_shape(p, (32, 32, 3)) for p in ("acai32", "acai256", "acai1024")] == [
        (4, 4, 2), (4, 4, 16), (4, 4, 64)]


def test_first_conv_sees_a_34x34_map(acai32):
    encoder = acai32.encoder
    pad, conv = encoder.body[0], encoder.body[1]
    assert isinstance(pad, keras.layers.ZeroPadding2D)
    assert isinstance(conv, keras.layers.Conv2D) and conv.kernel_size == (1, 1)
    conv.bias.assign(np.linspace(0.1, 1.6, 16).astype("float32"))
    y = conv(pad(_images())).numpy()
    assert y.shape == (2, 34, 34, 16)
    # the padded ring holds only the bias, as PyTorch's conv1x1 with padding=1 gives
    np.testing.assert_allclose(y[:, 0, :, :], np.broadcast_to(conv.bias.numpy(), (2, 34, 16)))
    np.testing.assert_allclose(y[:, :, -1, :], np.broadcast_to(conv.bias.numpy(), (2, 34, 16)))
    conv.bias.assign(np.zeros(16, "float32"))
    # then 34 -> 17 -> 8 -> 4 through the three poolings
    sizes, x = [], _images()
    for layer in encoder.body:
        x = layer(x)
        if isinstance(layer, keras.layers.AveragePooling2D):
            sizes.append(x.shape[1])
    assert sizes == [17, 8, 4]


def test_layer_layout(acai32):
    gn = keras.layers.GroupNormalization
    assert len(_of_type(acai32.encoder, gn)) == 7  # every conv but the first and the last
    assert len(_of_type(acai32.decoder, gn)) == 7  # every conv but the last
    assert len(_of_type(acai32.decoder, keras.layers.UpSampling2D)) == 3
    assert not _of_type(acai32.discriminator, gn)
    # The original's D starts with a plain conv1x1 (its Initializer, no spectral norm); the
    # other 8 convs are spectrally normalised.
    plain = _of_type(acai32.discriminator, keras.layers.Conv2D)
    assert len(plain) == 1 and plain[0] is acai32.discriminator.body[1] and plain[0].kernel_size == (1, 1)
    assert len(_of_type(acai32.discriminator, networks.ReparametrizedSpectralNorm)) == 8
    relus = [layer for m in acai32[:3] for layer in _of_type(m, keras.layers.LeakyReLU)]
    assert len(relus) == 7 + 7 + 7 and {r.negative_slope for r in relus} == {0.01}
    # no activation after the last conv of f, g and D
    for model in acai32[:3]:
        assert not isinstance(model.body[-1], keras.layers.LeakyReLU)


def test_instance_norm_is_per_example_per_channel(acai32):
    norm = _of_type(acai32.encoder, keras.layers.GroupNormalization)[0]
    assert norm.gamma.shape == (16,) and norm.beta.shape == (16,)
    rng = np.random.default_rng(1)
    offset = rng.uniform(-5, 5, (3, 1, 1, 16))
    scale = rng.uniform(1, 4, (3, 1, 1, 16))
    x = (rng.normal(size=(3, 17, 17, 16)) * scale + offset).astype("float32")
    # the statistics are per example and channel; then gamma and beta act per channel
    # (the fixture's own gamma and beta are the original's random draws: put back after)
    gamma, beta = norm.gamma.numpy(), norm.beta.numpy()
    outputs = []
    try:
        for g, b in ((1.0, 0.0), (2.0, 3.0)):
            norm.gamma.assign(np.full(16, g, "float32"))
            norm.beta.assign(np.full(16, b, "float32"))
            outputs.append(norm(x).numpy())
    finally:
        norm.gamma.assign(gamma)
        norm.beta.assign(beta)
    for y, (g, b) in zip(outputs, ((1.0, 0.0), (2.0, 3.0))):
        np.testing.assert_allclose(y.mean(axis=(1, 2)), b, atol=1e-4)
        np.testing.assert_allclose(y.std(axis=(1, 2)), g, atol=1e-4)


def _norm_and_grads(layer, x, dy):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, dy.dtype) * dy)
    return [y] + tape.gradient(loss, [x] + layer.trainable_variables)


@pytest.mark.numerics
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_instance_norm_matches_keras_group_norm_and_its_gradients(dtype):
    """The fused instance norm (its own gradient) computes what GroupNormalization(groups=-1)
    computes: outputs and the gradients to x, gamma and beta, eagerly and compiled, against
    Keras' layer run in float64 on the same numbers."""
    rng = np.random.default_rng(3)
    x64 = rng.normal(size=(3, 9, 7, 8)) * rng.uniform(0.5, 4, (3, 1, 1, 8)) + rng.uniform(-3, 3, (3, 1, 1, 8))
    x = tf.constant(x64.astype(dtype))
    dy = tf.constant(rng.normal(size=(3, 9, 7, 8)).astype(dtype))
    ref = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, gamma_initializer="random_normal",
                                          beta_initializer="random_normal", dtype="float64")
    new = networks.InstanceNormalization(epsilon=1e-5, dtype=dtype)
    ref.build(x.shape)
    new.build(x.shape)
    new.set_weights([w.astype(dtype) for w in ref.get_weights()])
    ref.set_weights(new.get_weights())  # the same (rounded) gamma and beta on both sides
    assert [w.name for w in new.weights] == ["gamma", "beta"]
    step = tf.function(lambda x, dy: _norm_and_grads(new, x, dy))
    for rows in (3, 2):  # and a compiled partial batch
        xs, dys = tf.cast(x[:rows], tf.float64), tf.cast(dy[:rows], tf.float64)
        want = [v.numpy() for v in _norm_and_grads(ref, xs, dys)]
        # A bound, not an observation: each result is a sum of at most n = rows * H * W rounded
        # terms, whose error is at most n * eps times the sum of the terms' magnitudes; those
        # are |x| / std (the worst per example and channel) times the result's own scale, and for
        # gamma's and beta's gradients the sums over the batch of |dy xhat| and |dy|.
        xv, dyv = xs.numpy(), dys.numpy()
        std = xv.std(axis=(1, 2), keepdims=True)
        cond = np.abs(xv).max() / std.min()
        xhat = (xv - xv.mean(axis=(1, 2), keepdims=True)) / std
        n, eps = xv[..., 0].size, np.finfo(dtype).eps
        scales = [np.abs(want[0]).max(), np.abs(want[1]).max(),
                  np.abs(dyv * xhat).sum(axis=(0, 1, 2)).max(), np.abs(dyv).sum(axis=(0, 1, 2)).max()]
        for got in (_norm_and_grads(new, x[:rows], dy[:rows]), step(x[:rows], dy[:rows])):
            for w, g, scale in zip(want, got, scales):
                assert g.dtype == tf.as_dtype(dtype)
                np.testing.assert_allclose(tf.cast(g, tf.float64).numpy(), w, rtol=0, atol=n * eps * cond * scale)


@pytest.mark.numerics
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_bias_add_computes_the_sum_and_its_gradients(dtype):
    """`networks.bias_add`: x + b, with the bias gradient the sum of dy over the other axes,
    accumulated in float64 for float64 and at least float32 otherwise (TensorFlow's BiasAddGrad
    sums bfloat16 in bfloat16 and is off by a third on these 150 numbers)."""
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(size=(6, 5, 5, 4)), dtype)
    b = tf.constant(rng.normal(size=(4,)), dtype)
    dy = tf.constant(rng.normal(size=(6, 5, 5, 4)), dtype)
    with tf.GradientTape() as tape:
        tape.watch([x, b])
        y = networks.bias_add(x, b)
        loss = tf.reduce_sum(tf.cast(y, tf.float64) * tf.cast(dy, tf.float64))
    dx, db = tape.gradient(loss, [x, b])
    xv, bv, dyv = (tf.cast(v, tf.float64).numpy() for v in (x, b, dy))
    assert {v.dtype for v in (y, dx, db)} == {tf.as_dtype(dtype)}
    eps = {"float32": 2.0 ** -23, "float64": 2.0 ** -52, "bfloat16": 2.0 ** -7}[dtype]  # machine epsilons
    accumulate = 2.0 ** -52 if dtype == "float64" else 2.0 ** -23
    # y: one rounding of the exact sum; dx is dy itself; db: a sum of n = 150 terms, whose error is
    # at most n * eps (of the accumulator) times the sum of |dy|, then one rounding to dtype.
    np.testing.assert_allclose(tf.cast(y, tf.float64).numpy(), xv + bv, rtol=eps, atol=0)
    np.testing.assert_array_equal(tf.cast(dx, tf.float64).numpy(), dyv)
    n = dyv[..., 0].size
    want = dyv.sum(axis=(0, 1, 2))
    np.testing.assert_allclose(tf.cast(db, tf.float64).numpy(), want, rtol=eps,
                               atol=n * accumulate * np.abs(dyv).sum(axis=(0, 1, 2)).max())


def test_convs_add_their_bias_with_bias_add():
    conv = networks.Conv2D(3, 3, padding="same", bias_initializer="ones")
    x = tf.zeros([1, 4, 4, 2])
    conv.build(x.shape)
    with tf.GradientTape() as tape:
        y = conv(x)
        total = tf.reduce_sum(y)
    assert isinstance(conv, keras.layers.Conv2D) and [w.name for w in conv.weights] == ["kernel", "bias"]
    np.testing.assert_array_equal(y.numpy(), np.ones([1, 4, 4, 3], "float32"))
    np.testing.assert_array_equal(tape.gradient(total, conv.trainable_variables)[1].numpy(), [16.0, 16.0, 16.0])


def _leaky_norm_and_grads(fused, x, dy, bias, gamma, beta):
    """LeakyReLU(0.01)(instance norm(x + bias)) and the gradients to x, bias, gamma and beta,
    fused or as the plain layers compute it (bias added in x's dtype, the norm in float32)."""
    with tf.GradientTape() as tape:
        tape.watch([x, bias, gamma, beta])
        if fused:
            y = networks.layers.instance_norm_leaky_relu(x, gamma, beta, 1e-5, 0.01, bias)
        else:
            dtype = tf.float64 if x.dtype == tf.float64 else tf.float32
            h = tf.cast(x, dtype) + bias
            norm = networks.layers._instance_norm(h, gamma, beta, tf.constant(1e-5, dtype))
            y = tf.nn.leaky_relu(tf.cast(norm, x.dtype), alpha=0.01)
        loss = tf.reduce_sum(tf.cast(y, tf.float64) * tf.cast(dy, tf.float64))
    return [y] + tape.gradient(loss, [x, bias, gamma, beta])


# max |fused - plain| / max |plain| per output: rounding in float32 and float64; in bfloat16 the
# rounding of the output and of the gradient fed back (the fused ops compute in float32 between).
FUSED_TOLERANCE = {"float64": 1e-12, "float32": 1e-5, "bfloat16": 2e-2}


@pytest.mark.numerics
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_fused_bias_instance_norm_leaky_relu_equals_the_plain_layers(dtype):
    """The fused op (one XLA computation per half) computes what the conv's bias, instance norm
    and LeakyReLU compute, with the gradients (the bias's is zero but for rounding: the norm
    removes any shift), eagerly and compiled."""
    rng = np.random.default_rng(4)
    x64 = rng.normal(size=(3, 9, 7, 8)) * rng.uniform(0.5, 4, (3, 1, 1, 8)) + rng.uniform(-3, 3, (3, 1, 1, 8))
    stats = tf.float64 if dtype == "float64" else tf.float32
    x, dy = tf.constant(x64, dtype), tf.constant(rng.normal(size=x64.shape), dtype)
    bias = tf.constant(rng.normal(size=(8,)), stats)
    gamma = tf.constant(rng.normal(size=(1, 1, 1, 8)), stats)
    beta = tf.constant(rng.normal(size=(1, 1, 1, 8)), stats)
    want = _leaky_norm_and_grads(False, x, dy, bias, gamma, beta)
    scale = np.abs(tf.cast(want[1], tf.float64).numpy()).sum()  # dbias: a sum of dx's terms
    for got in (_leaky_norm_and_grads(True, x, dy, bias, gamma, beta),
                tf.function(_leaky_norm_and_grads)(True, x, dy, bias, gamma, beta)):
        for i, (w, g) in enumerate(zip(want, got)):
            assert g.dtype == w.dtype
            w, g = tf.cast(w, tf.float64).numpy(), tf.cast(g, tf.float64).numpy()
            bound = scale if i == 2 else np.abs(w).max()
            np.testing.assert_allclose(g, w, rtol=0, atol=FUSED_TOLERANCE[dtype] * bound)


def _xla_functions(fn, *args):
    """(the XLA-compiled functions of `fn`'s graph, the op types it runs outside them)."""
    graph = tf.function(fn).get_concrete_function(*args).graph.as_graph_def()
    compiled = [f for f in graph.library.function if f.attr["_XlaMustCompile"].b]
    plain = [n.op for n in graph.node] + [n.op for f in graph.library.function for n in f.node_def
                                          if not f.attr["_XlaMustCompile"].b]
    return compiled, set(plain)


def _run(nets, x, training):
    f, g, d = nets
    with tf.GradientTape() as tape:
        r = tf.cast(g(f(x, training=training), training=training), tf.float32)
        loss = tf.reduce_sum(r * r) + tf.reduce_sum(d(r, training=training))
    return [r] + tape.gradient(loss, f.trainable_variables + g.trainable_variables + d.trainable_variables)


@pytest.mark.low_precision_convs("bfloat16")
def test_a_half_precision_training_call_fuses_and_no_other_call_does(acai32):
    """mixed_bfloat16 training calls of f and g run their convs' biases, norms and activations as
    the fused XLA op (D's layers stay plain); float32 calls and inference calls (what a SavedModel
    holds: TF Serving compiles no XLA by default) run no XLA at all."""
    keras.utils.set_random_seed(0)
    half = networks.build_networks("acai32", (32, 32, 3), 10, dtype="mixed_bfloat16")[:3]
    x = tf.constant(_images(4))
    compiled, outside = _xla_functions(lambda x: _run(half, x, True), x)
    assert len(compiled) >= 2 and "GroupNorm" not in str(outside)

    def f_and_g(x):
        with tf.GradientTape() as tape:
            r = half[1](half[0](x, training=True), training=True)
        return tape.gradient(r, half[0].trainable_variables + half[1].trainable_variables)

    # f and g's activations all follow a norm: LeakyReLU's own gradient runs only in D's layers
    assert "LeakyReluGrad" not in _xla_functions(f_and_g, x)[1]
    assert _xla_functions(lambda y: _run(half, y, False), x)[0] == []
    assert _xla_functions(lambda y: _run(acai32[:3], y, True), x)[0] == []


def test_the_fused_layers_compute_what_the_plain_layers_compute(acai32, monkeypatch):
    """Fusion forced on in float32 (where rounding is small enough to compare 17 layers deep):
    f, g and D's training call, gradients included, equal the layers run one by one."""
    monkeypatch.setattr(networks.stacks, "FUSED_DTYPES", ("float32",))
    encoder, decoder, critic = acai32[0], acai32[1], acai32[2]
    x = tf.constant(_images(4))
    variables = encoder.trainable_variables + decoder.trainable_variables + critic.trainable_variables
    step = tf.function(lambda x: _run((encoder, decoder, critic), x, True))
    assert len(_xla_functions(lambda x: _run((encoder, decoder, critic), x, True), x)[0]) >= 2
    u = [w.numpy() for w in critic.weights if "vector_u" in w.path]
    fused = step(x)
    for w, value in zip([w for w in critic.weights if "vector_u" in w.path], u):
        w.assign(value)  # the same power iteration on both sides
    plain = [tf.convert_to_tensor(v) for v in run_plain(encoder, decoder, critic, x, variables)]
    # A conv's bias before an instance norm has a gradient of zero but for rounding (the norm
    # removes any shift), so both sides hold noise there: the op's own test bounds it.
    noise = {id(body[i].bias) for body in (encoder.body, decoder.body) for i in range(len(body) - 1)
             if isinstance(body[i + 1], networks.InstanceNormalization)}
    checked = [i for i, v in enumerate([x] + variables) if id(v) not in noise]
    assert len(checked) > len(variables) / 2
    for f, p in ((fused[i], plain[i]) for i in checked):
        np.testing.assert_allclose(f.numpy(), p.numpy(), rtol=0, atol=1e-4 * max(np.abs(p.numpy()).max(), 1e-3))


def run_plain(encoder, decoder, critic, x, variables):
    """The training call's function, layer by layer, with no fusion."""
    with tf.GradientTape() as tape:
        h = x
        for layer in encoder.body:
            h = layer(h, training=True)
        for layer in decoder.body:
            h = layer(h, training=True)
        r = tf.cast(h, tf.float32)
        d = r
        for layer in critic.body:
            d = layer(d, training=True)
        loss = tf.reduce_sum(r * r) + tf.reduce_sum(tf.reduce_mean(tf.cast(d, tf.float32), [1, 2, 3]))
    return [r] + tape.gradient(loss, variables)


def test_instance_norm_in_mixed_precision_normalises_in_float32():
    x = tf.constant(np.random.default_rng(0).normal(100, 3, (2, 5, 5, 4)).astype("float32"))
    norm = networks.InstanceNormalization(dtype="mixed_bfloat16")
    y = norm(tf.cast(x, tf.bfloat16))
    assert y.dtype == tf.bfloat16
    # normalised per (example, channel), in float32, whatever the variable and output dtypes
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy().std(axis=(1, 2)), 1.0, atol=0.05)


def _original_std(kernel_shape):
    """The original's Initializer on torch's (out, in, kh, kw): 1 / sqrt(1.04 * out * in * kh)."""
    kh, kw, c_in, c_out = kernel_shape
    return 1 / np.sqrt(1.04 * c_out * c_in * kh)


def test_encoder_and_decoder_initialise_as_the_original(acai32):
    """Every conv of f and g ~ N(0, 1/sqrt(1.04 out in kh)), biases 0; every instance-norm
    gamma ~ N(0, 1/sqrt(1.04)) (about half negative), beta 0."""
    gammas = []
    for model in (acai32.encoder, acai32.decoder):
        convs = _of_type(model, keras.layers.Conv2D)
        assert len(convs) == (9 if model is acai32.encoder else 8)
        for conv in convs:
            w = conv.kernel.numpy()
            want = _original_std(w.shape)
            # the sample std of n normal draws is within 5 / sqrt(2 n) of the truth (5 sigma)
            assert abs(w.std() - want) < want * (0.02 + 5 / np.sqrt(2 * w.size)), (conv.name, w.std(), want)
            assert abs(w.mean()) < want * (0.02 + 5 / np.sqrt(w.size)), conv.name
            assert not conv.bias.numpy().any(), conv.name
        for norm in _of_type(model, keras.layers.GroupNormalization):
            gammas.append(norm.gamma.numpy())
            assert not norm.beta.numpy().any()
    gamma = np.concatenate(gammas)
    assert gamma.size == (16 + 16 + 32 + 32 + 64 + 64 + 128) + (64 + 64 + 32 + 32 + 16 + 16 + 16)  # 7 + 7 norms
    want = 1 / np.sqrt(1.04)
    assert abs(gamma.std() - want) < 5 * want / np.sqrt(2 * gamma.size), gamma.std()
    assert abs(gamma.mean()) < 5 * want / np.sqrt(gamma.size), gamma.mean()
    assert 0.35 < np.mean(gamma < 0) < 0.65


def test_discriminator_initialises_as_the_original(acai32):
    """The plain first conv1x1 takes the original's Initializer; the spectrally normalised
    convs are out of its reach and keep torch's defaults, kernel and bias U(+-1/sqrt(fan_in))."""
    disc = acai32.discriminator
    first = disc.body[1]
    assert isinstance(first, keras.layers.Conv2D) and first.kernel.shape == (1, 1, 3, 16)
    assert not first.bias.numpy().any()
    w = first.kernel.numpy()
    assert abs(w.std() - _original_std(w.shape)) < 0.5 * _original_std(w.shape)  # 48 draws
    for sn in _of_type(disc, networks.ReparametrizedSpectralNorm):
        conv = sn.layer
        kh, kw, c_in, c_out = conv.kernel.shape
        bound = 1 / np.sqrt(kh * kw * c_in)
        for values in (conv.kernel.numpy(), conv.bias.numpy()):
            assert np.abs(values).max() <= bound
            # U(-b, b) has std b / sqrt(3); its sample std is within ~5 / sqrt(n) of that
            assert abs(values.std() - bound / np.sqrt(3)) < bound * (0.01 + 5 / np.sqrt(values.size)), conv.name
        assert conv.bias.numpy().any()


def _sigmas(layers):
    return np.array([np.linalg.svd(np.reshape(sn.layer.kernel.numpy(), (-1, sn.layer.filters)),
                                   compute_uv=False)[0] for sn in layers])


def test_keras_spectral_normalisation_overwrites_the_kernel():
    keras.utils.set_random_seed(3)
    disc = networks.ACAIDiscriminator(latent=2, spectral_norm="keras")
    disc.build((None, 32, 32, 3))
    sns = _of_type(disc, keras.layers.SpectralNormalization)
    assert len(sns) == 8
    assert np.abs(_sigmas(sns) - 1).max() > 0.2  # not normalised at initialisation
    x = _images(seed=3)
    for _ in range(50):
        disc(x, training=True)
    sigma = _sigmas(sns)
    # each training call divides the kernel by a power-iteration estimate of sigma, which
    # never exceeds the true value: sigma approaches 1 from above (about 1% after 30 calls)
    assert np.all(sigma > 0.999) and np.all(sigma < 1.02), sigma
    u = [sn.vector_u.numpy() for sn in sns]
    k = [sn.layer.kernel.numpy() for sn in sns]
    disc(x)
    disc(x, training=False)
    for sn, u0, k0 in zip(sns, u, k):
        np.testing.assert_array_equal(sn.vector_u.numpy(), u0)
        np.testing.assert_array_equal(sn.layer.kernel.numpy(), k0)
    disc(x, training=True)
    assert any(not np.array_equal(sn.vector_u.numpy(), u0) for sn, u0 in zip(sns, u))


def test_power_iterations_reach_every_wrapper():
    disc = networks.ACAIDiscriminator(latent=2, power_iterations=3)
    sns = _of_type(disc, networks.ReparametrizedSpectralNorm)
    assert len(sns) == 8 and {sn.power_iterations for sn in sns} == {3}
    disc = networks.ACAIDiscriminator(latent=2, power_iterations=2, spectral_norm="keras")
    sns = _of_type(disc, keras.layers.SpectralNormalization)
    assert len(sns) == 8 and {sn.power_iterations for sn in sns} == {2}
    with pytest.raises(ValueError, match="unknown spectral_norm 'torch'; choose one of: reparametrized, keras, none"):
        networks.ACAIDiscriminator(latent=2, spectral_norm="torch")


def test_spectral_norm_none_leaves_every_layer_of_d_unwrapped():
    for preset, shape in (("acai32", (32, 32, 3)), ("spiral", (2,)), ("dsprites", (64, 64, 1))):
        wrapped = networks.build_networks(preset, shape, 10).discriminator
        plain = networks.build_networks(preset, shape, 10, spectral_norm="none").discriminator
        assert _of_type(wrapped, networks.ReparametrizedSpectralNorm), preset
        assert not _of_type(plain, networks.ReparametrizedSpectralNorm) and not _of_type(
            plain, keras.layers.SpectralNormalization), preset
        assert plain.count_params() == wrapped.count_params() - sum(  # less the wrappers' u vectors
            int(np.prod(w.shape)) for sn in _of_type(wrapped, networks.ReparametrizedSpectralNorm)
            for w in sn.non_trainable_weights), preset


def _top_singular_value(kernel):
    return np.linalg.svd(np.reshape(kernel, (-1, kernel.shape[-1])), compute_uv=False)[0]


def test_reparametrized_spectral_norm_trains_the_raw_kernel_and_divides_by_sigma():
    keras.utils.set_random_seed(4)
    disc = networks.ACAIDiscriminator(latent=2)
    disc.build((None, 32, 32, 3))
    sns = _of_type(disc, networks.ReparametrizedSpectralNorm)
    raw = [sn.layer.kernel.numpy() for sn in sns]
    x = _images(seed=4)
    for _ in range(60):
        disc(x, training=True)
    for sn, k0 in zip(sns, raw):
        np.testing.assert_array_equal(sn.layer.kernel.numpy(), k0)  # calls never touch the raw kernel
        # sigma = v^T W u from the power iteration approaches the top singular value from
        # below: the effective kernel W / sigma has top singular value 1 (+ a little)
        effective = k0 / float(sn.sigma(sn.layer.kernel))
        assert 0.999 < _top_singular_value(effective) < 1.02, sn.name
    # inference reads the stored u and v; it neither advances nor depends on a call count
    u = [sn.vector_u.numpy() for sn in sns]
    a = disc(x, training=False).numpy()
    b = disc(x, training=False).numpy()
    np.testing.assert_array_equal(a, b)
    for sn, u0 in zip(sns, u):
        np.testing.assert_array_equal(sn.vector_u.numpy(), u0)


def test_reparametrized_spectral_norm_gradient_flows_through_sigma():
    """d/dw of <r, conv(x, w / sigma(w))> with u and v held: tape against central differences
    in float64, and not the gradient that treats sigma as a constant."""
    rng = np.random.default_rng(5)
    conv = keras.layers.Conv2D(4, 3, padding="same", dtype="float64")
    sn = networks.ReparametrizedSpectralNorm(conv, dtype="float64")
    x = rng.normal(size=(2, 6, 6, 3))
    r = rng.normal(size=(2, 6, 6, 4))
    sn(x, training=True)  # builds, and sets u and v
    for _ in range(5):
        sn(x, training=True)

    def objective():
        return tf.reduce_sum(sn(x, training=False) * r)

    kernel = conv.kernel
    with tf.GradientTape() as tape:
        value = objective()
    grad = tape.gradient(value, kernel).numpy()
    w0 = kernel.numpy()
    sigma = float(sn.sigma(kernel))
    eps = 1e-6
    flat = rng.choice(w0.size, 12, replace=False)
    numeric = []
    for i in flat:
        bumped = []
        for sign in (1, -1):
            w = w0.copy().ravel()
            w[i] += sign * eps
            kernel.assign(w.reshape(w0.shape))
            bumped.append(float(objective()))
        kernel.assign(w0)
        numeric.append((bumped[0] - bumped[1]) / (2 * eps))
    np.testing.assert_allclose(grad.ravel()[flat], numeric, rtol=1e-6, atol=1e-8)
    # treating sigma as a constant gives another gradient: conv's own, divided by sigma
    with tf.GradientTape() as tape:
        plain = tf.reduce_sum(conv.convolution_op(x, kernel / sigma) * r)
    constant_sigma = tape.gradient(plain, kernel).numpy()
    assert np.abs(constant_sigma - grad).max() > 1e-3 * np.abs(grad).max()


@pytest.mark.parametrize("cls,args,shape", [
    (networks.ACAIEncoder, dict(latent=16, depth=8, scales=2), (None, 32, 32, 3)),
    (networks.ACAIDecoder, dict(channels=1, depth=8, scales=3), (None, 4, 4, 2)),
    (networks.ACAIDiscriminator, dict(latent=4, power_iterations=2), (None, 32, 32, 3)),
    (networks.Probe, dict(n_classes=5), (None, 4, 4, 2)),
])
def test_config_round_trip(cls, args, shape):
    model = cls(**args)
    config = model.get_config()
    assert {k: config[k] for k in args} == args
    clone = assert_round_trip(model, shape)
    assert clone.count_params() == model.count_params()
    assert networks.count_trainable(clone) == networks.count_trainable(model)
    assert [type(a) for a in clone.body] == [type(b) for b in model.body]
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_every_network_gives_back_every_constructor_argument():
    """Each network's `get_config` holds every argument of its constructor, with the value it
    was given: one forgotten `keep` would rebuild a different network from a saved config."""
    import inspect

    from amr_tf.networks import stacks

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    classes = sorted(set(subclasses(stacks.Stack)), key=lambda c: c.__name__)
    assert {"ACAIEncoder", "ACAIDecoder", "ACAIDiscriminator", "BurgessEncoder", "BurgessDecoder",
            "BurgessDiscriminator", "MLPEncoder", "MLPDecoder", "MLPDiscriminator", "Probe",
            "ClassMixer"} <= {c.__name__ for c in classes}
    for cls in classes:
        if cls in (stacks.Coder, stacks.Critic):
            continue
        params = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD]
        # values unlike any default (ints 3..; the Critic's spectral norm "keras")
        args = {p.name: ("keras" if p.name == "spectral_norm" else
                         bool(p.default is False) if isinstance(p.default, bool) else i + 3)
                for i, p in enumerate(params)}
        config = cls(**args).get_config()
        assert {k: config.get(k, "missing") for k in args} == args, cls.__name__


def test_default_names(acai32):
    assert [m.name for m in acai32[:4]] == ["encoder", "decoder", "discriminator", "probe"]
    assert acai32.class_mixer is None  # only with n_attributes > 0
    with_mixer = networks.build_networks("spiral", (2,), 3, n_attributes=2)
    assert [m.name for m in with_mixer] == [
        "encoder", "decoder", "discriminator", "probe", "class_mixer"]


@pytest.mark.numerics
@pytest.mark.low_precision_convs("bfloat16")
def test_mixed_precision_keeps_the_logit_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        nets = networks.build_networks("acai32", (32, 32, 1), n_classes=10)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = _images(c=1)
    assert nets.encoder(x).dtype == "bfloat16"
    assert nets.encoder.trainable_weights[0].dtype == "float32"
    assert nets.discriminator(x, training=True).dtype == "float32"


def test_presets_and_bottlenecks():
    assert [networks.preset_for_bottleneck(b) for b in (32, 256, 1024)] == [
        "acai32", "acai256", "acai1024"]
    with pytest.raises(ValueError, match=r"64.*\[32, 256, 1024\]"):
        networks.preset_for_bottleneck(64)
    with pytest.raises(ValueError, match=r"acai64.*acai1024.*acai256.*acai32"):
        networks.build_networks("acai64", (32, 32, 3), 10)
    with pytest.raises(ValueError, match=r"already registered"):
        networks.register_preset("acai32", networks.ACAIPreset(latent=2))
    with pytest.raises(TypeError):
        networks.PRESETS["mine"] = networks.ACAIPreset(latent=1)
    with pytest.raises(ValueError, match=r"\(28, 28, 1\)"):
        networks.build_networks("acai32", (28, 28, 1), 10)


# ---- variational encoders, class heads, the class mixer, the dsprites and spiral presets ----

def _inputs(shape, n=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


@pytest.mark.parametrize("preset,shape,code", [
    ("acai32", (32, 32, 3), (4, 4, 2)),
    ("acai32", (64, 64, 3), (4, 4, 2)),  # CelebA: 66 -> 33 -> 16 -> 8 -> 4, four scales
    ("acai256", (16, 16, 1), (4, 4, 16)),
    ("dsprites", (64, 64, 1), (10,)),
    ("spiral", (2,), (2,)),
])
def test_shapes_of_every_preset(preset, shape, code):
    nets = networks.build_networks(preset, shape, n_classes=5)
    assert networks.code_shape(preset, shape) == code
    x = _inputs(shape)
    h = nets.encoder(x)
    assert tuple(h.shape) == (2, *code)
    assert tuple(nets.decoder(h).shape) == (2, *shape)
    logits = nets.discriminator(x)
    assert tuple(logits.shape) == (2,) and logits.dtype == "float32"
    assert tuple(nets.probe(h).shape) == (2, 5)
    assert not nets.encoder.variational
    mu, logvar = nets.encoder.moments(x)
    assert logvar is None
    np.testing.assert_array_equal(mu, h)


def test_acai_on_64x64_adds_one_scale_per_doubling():
    nets = networks.build_networks("acai32", (64, 64, 3), n_classes=10)
    assert nets.encoder.scales == nets.decoder.scales == nets.discriminator.scales == 4
    assert networks.get_preset("acai32").scales == 3 and networks.PRESETS["acai32"].bottleneck == 32
    assert len(_of_type(nets.decoder, keras.layers.UpSampling2D)) == 4


@pytest.mark.parametrize("preset,shape", [
    ("acai32", (32, 32, 1)), ("dsprites", (64, 64, 1)), ("spiral", (2,))])
def test_variational_encoder(preset, shape):
    nets = networks.build_networks(preset, shape, n_classes=3, variational=True)
    plain = networks.code_shape(preset, shape)
    encoder = nets.encoder
    assert encoder.variational and encoder.get_config()["variational"] is True
    with pytest.raises(AttributeError):
        encoder.variational = False  # read-only
    x = _inputs(shape)
    raw = x
    for layer in encoder.body:
        raw = layer(raw)
    assert tuple(raw.shape) == (2, *plain[:-1], 2 * plain[-1])  # mu and log-variance
    mu, logvar = encoder.moments(x)
    assert tuple(mu.shape) == tuple(logvar.shape) == (2, *plain)
    np.testing.assert_allclose(encoder(x), raw[..., :plain[-1]], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(mu, raw[..., :plain[-1]], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(logvar, raw[..., plain[-1]:], rtol=1e-6, atol=1e-6)
    assert tuple(nets.decoder(mu).shape) == (2, *shape)  # the decoder takes mu-shaped codes


def test_variational_encoder_parameters():
    plain = networks.build_networks("acai32", (32, 32, 1), 10).encoder
    vae = networks.build_networks("acai32", (32, 32, 1), 10, variational=True).encoder
    # only the last conv3x3 (128 -> latent) doubles its outputs
    assert networks.count_trainable(vae) - networks.count_trainable(plain) == 3 * 3 * 128 * 2 + 2


@pytest.mark.parametrize("preset,shape,head", [
    ("acai32", (32, 32, 3), 4 * 4 * 128 * 4 + 4),  # Dense on the flattened 4x4x128 features
    ("dsprites", (64, 64, 1), 256 * 4 + 4),  # Dense on the last 256 hidden units
    ("spiral", (2,), 128 * 4 + 4),
])
def test_auxiliary_classifier_head(preset, shape, head):
    plain = networks.build_networks(preset, shape, 10).discriminator
    nets = networks.build_networks(preset, shape, 10, n_attributes=4)
    disc = nets.discriminator
    assert plain.head is None and not any("class_head" in w.path for w in plain.weights)
    assert isinstance(disc.head, networks.ReparametrizedSpectralNorm)
    assert sorted(w.path for w in disc.head.weights) == [
        "discriminator/class_head/class_head/bias", "discriminator/class_head/class_head/kernel",
        "discriminator/class_head/vector_u", "discriminator/class_head/vector_v"]
    assert networks.count_trainable(disc) == networks.count_trainable(plain) + head
    assert len(disc.non_trainable_weights) == len(plain.non_trainable_weights) + 2  # its u and v
    x = _inputs(shape)
    logits, classes = disc(x, training=False, with_classes=True)
    assert tuple(logits.shape) == (2,) and tuple(classes.shape) == (2, 4)
    assert logits.dtype == classes.dtype == "float32"
    np.testing.assert_allclose(disc(x), logits, rtol=1e-6)  # with_classes=False: logits only
    with pytest.raises(ValueError, match="n_attributes"):
        plain(x, with_classes=True)


def test_acai_counts_unchanged_without_attributes():
    for preset, channels, n_encoder, n_decoder in PARITY:
        nets = networks.build_networks(preset, (32, 32, channels), 10, n_attributes=0)
        assert networks.count_trainable(nets.encoder) == n_encoder
        assert networks.count_trainable(nets.decoder) == n_decoder
        assert nets.discriminator.head is None and nets.class_mixer is None
    assert networks.count_trainable(
        networks.build_networks("acai32", (32, 32, 3), 10).discriminator) == 150_178


@pytest.mark.parametrize("preset,shape,maps", [
    ("acai256", (32, 32, 3), 16), ("dsprites", (64, 64, 1), 10), ("spiral", (2,), 2)])
def test_class_mixer(preset, shape, maps):
    mixer = networks.build_networks(preset, shape, 10, n_attributes=3).class_mixer
    assert isinstance(mixer, networks.ClassMixer) and mixer.feature_maps == maps
    assert networks.count_trainable(mixer) == (3 * 64 + 64) + (64 * 64 + 64) + (64 * maps + maps)
    y = tf.constant(np.random.default_rng(0).uniform(0, 1, (5, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        p = mixer(y, training=True)
        total = tf.reduce_sum(p)
    assert tuple(p.shape) == (5, maps) and p.dtype == "float32"
    assert np.all((p.numpy() > 0) & (p.numpy() < 1))
    grads = tape.gradient(total, mixer.trainable_variables)
    assert len(grads) == 6
    assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)


@pytest.mark.parametrize("preset,shape,match", [
    ("dsprites", (32, 32, 1), r"'dsprites'.*\(32, 32, 1\).*64x64"),
    ("spiral", (32, 32, 3), r"'spiral'.*\(32, 32, 3\).*\(2,\)"),
    ("acai32", (28, 28, 1), r"'acai32'.*\(28, 28, 1\).*power of two"),
    ("acai32", (8, 8, 1), r"\(8, 8, 1\)"),  # the padding quirk: 10 -> 5 decodes to 10
    ("acai32", (2,), r"'acai32'.*\(2,\).*\(H, W, C\)"),
])
def test_preset_shape_mismatch_is_one_line(preset, shape, match):
    for make in (lambda: networks.build_networks(preset, shape, 10),
                 lambda: networks.code_shape(preset, shape)):
        with pytest.raises(ValueError, match=match) as info:
            make()
        assert "\n" not in str(info.value)


def test_dsprites_parameter_counts_match_pytorch_betavae_b():
    # Trainable counts of the PyTorch BetaVAE_B (z = 10, nc = 1) and the original's SN
    # discriminator, by hand: conv = in*out*4*4 + out, convT likewise, linear = in*out + out.
    # Keras flattens NHWC and torch NCHW: that permutes the first dense's inputs only.
    convs = (1 * 32 * 16 + 32) + 3 * (32 * 32 * 16 + 32)
    trunk = convs + (512 * 256 + 256) + (256 * 256 + 256)
    deconvs = 3 * (32 * 32 * 16 + 32) + (32 * 1 * 16 + 1)
    decoder = (10 * 256 + 256) + (256 * 256 + 256) + (256 * 512 + 512) + deconvs
    nets = networks.build_networks("dsprites", (64, 64, 1), n_classes=10)
    assert networks.count_trainable(nets.encoder) == trunk + 256 * 10 + 10 == 249_482
    assert networks.count_trainable(nets.decoder) == decoder == 249_953
    assert networks.count_trainable(nets.discriminator) == trunk + 256 + 1 == 247_169
    vae = networks.build_networks("dsprites", (64, 64, 1), n_classes=10, variational=True)
    assert networks.count_trainable(vae.encoder) == trunk + 256 * 20 + 20 == 252_052
    assert networks.count_trainable(vae.decoder) == decoder
    # u and v per SN layer (4 convs, 3 dense); the decoder ends in tanh
    assert len(nets.discriminator.non_trainable_weights) == 14
    assert nets.decoder.body[-1].activation is keras.activations.tanh
    assert networks.count_trainable(nets.probe) == 10 * 10 + 10


def test_dsprites_convs_pad_like_torch_padding_1():
    nets = networks.build_networks("dsprites", (64, 64, 1), n_classes=10)
    conv, deconv = nets.encoder.body[2], nets.decoder.body[4]  # a 32 -> 32 conv, the first deconv
    assert conv.strides == deconv.strides == (2, 2) and conv.kernel_size == (4, 4)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 8, 8, 32)).astype("float32")
    y = conv(x).numpy()
    padded = keras.ops.conv(np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), conv.kernel,
                            strides=2, padding="valid") + conv.bias
    np.testing.assert_allclose(y, padded, rtol=1e-5, atol=1e-5)  # torch's padding=1
    # the transposed conv is the adjoint of that same-padded conv, as torch's
    # ConvTranspose2d(4, 2, padding=1) is of Conv2d(4, 2, padding=1)
    k = deconv.kernel
    h = rng.normal(size=(1, 4, 4, 32)).astype("float32")
    up = keras.ops.conv_transpose(h, k, strides=2, padding="same").numpy()
    assert up.shape == (1, 8, 8, 32)
    down = keras.ops.conv(x, k, strides=2, padding="same").numpy()
    np.testing.assert_allclose((up * x).sum(), (down * h).sum(), rtol=1e-4)


@pytest.mark.numerics
@pytest.mark.low_precision_convs("bfloat16")
def test_mixed_precision_of_the_new_networks():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        nets = networks.build_networks("dsprites", (64, 64, 1), 10, variational=True,
                                       n_attributes=3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = _inputs((64, 64, 1))
    mu, logvar = nets.encoder.moments(x)
    assert mu.dtype == logvar.dtype == "bfloat16"
    assert nets.decoder(mu).dtype == "bfloat16"
    logits, classes = nets.discriminator(x, training=True, with_classes=True)
    assert logits.dtype == classes.dtype == "float32"
    assert nets.class_mixer(np.full((2, 3), 0.5, "float32")).dtype == "float32"
    assert nets.class_mixer.compute_dtype == "bfloat16"
    assert nets.class_mixer.trainable_weights[0].dtype == "float32"


@pytest.mark.parametrize("cls,args,shape", [
    (networks.ACAIEncoder, dict(latent=4, scales=2, variational=True), (None, 32, 32, 3)),
    (networks.ACAIDiscriminator, dict(latent=2, n_attributes=3), (None, 32, 32, 3)),
    (networks.BurgessEncoder, dict(z=6, filters=8, hidden=32, variational=True), (None, 64, 64, 1)),
    (networks.BurgessDecoder, dict(channels=3, filters=8, hidden=32), (None, 6)),
    (networks.BurgessDiscriminator, dict(filters=8, hidden=16, power_iterations=2, n_attributes=2),
     (None, 64, 64, 1)),
    (networks.MLPEncoder, dict(z=3, hidden=16, n_layers=3, variational=True), (None, 2)),
    (networks.MLPDecoder, dict(dims=2, hidden=16, n_layers=1), (None, 3)),
    (networks.MLPDiscriminator, dict(hidden=16, n_layers=2, n_attributes=5), (None, 2)),
    (networks.ClassMixer, dict(n_attributes=3, feature_maps=16, hidden=32), (None, 3)),
])
def test_config_round_trip_of_the_new_networks(cls, args, shape):
    test_config_round_trip(cls, args, shape)
    model = cls(**args)
    model.build(shape)
    if getattr(model, "head", None) is not None:
        clone = cls.from_config(model.get_config())
        clone.build(shape)
        assert [w.shape for w in clone.head.weights] == [w.shape for w in model.head.weights]


def test_presets_registry_accepts_objects_with_the_preset_methods():
    assert networks.get_preset("dsprites").z == 10 and networks.get_preset("spiral").z == 2
    assert sorted(networks.PRESETS) == ["acai1024", "acai256", "acai32", "dsprites", "dsprites_ndf64", "spiral"]
    with pytest.raises(TypeError, match="mismatch"):
        networks.register_preset("not_a_preset", object())
    assert "not_a_preset" not in networks.PRESETS
    with pytest.raises(ValueError, match="n_attributes"):
        networks.build_networks("acai32", (32, 32, 3), 10, n_attributes=-1)


@pytest.mark.parametrize("graph", [False, True])
def test_sigma_gradient_reads_the_last_calls_u_and_v_like_the_original(graph):
    """Two training calls, then one backward pass: both sigmas get the gradient v2 u2^T of the
    second call's vectors (the original assigns u and v through `.data`, unseen by autograd)."""
    keras.utils.set_random_seed(6)
    conv = keras.layers.Conv2D(5, 3, padding="same")
    sn = networks.ReparametrizedSpectralNorm(conv)
    sn.build((None, 6, 6, 4))
    kernel = conv.kernel

    def two_calls():
        with tf.GradientTape() as tape:
            s1 = sn.sigma(kernel, training=True)
            u1 = tf.identity(sn.vector_u)
            s2 = sn.sigma(kernel, training=True)
            loss = 2.0 * s1 + 3.0 * s2
        return tape.gradient(loss, kernel), u1

    grad, u1 = (tf.function(two_calls) if graph else two_calls)()
    u2, v2 = sn.vector_u.numpy(), sn.vector_v.numpy()
    assert not np.allclose(u1.numpy(), u2)  # the calls really left different vectors
    want = 5.0 * np.outer(v2, u2).reshape(kernel.shape)
    np.testing.assert_allclose(grad.numpy(), want, rtol=1e-5, atol=1e-7)


def test_leaky_relu_gradient_from_the_output_is_tensorflows():
    """The output-reading gradient (what lets grappler fuse conv + bias + LeakyReLU) equals
    TensorFlow's LeakyReluGrad everywhere, 0 and the smallest floats included."""
    import tensorflow as tf

    x = tf.constant([-3.0, -1e-38, -1e-45, 0.0, 1e-45, 1e-38, 2.5, -0.5], tf.float32)
    for slope in (0.01, 0.2):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours = networks.LeakyReLU(negative_slope=slope)(x)
            theirs = tf.nn.leaky_relu(x, alpha=slope)
            weighted = tf.reduce_sum(ours * tf.range(1.0, 9.0)), tf.reduce_sum(theirs * tf.range(1.0, 9.0))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(tape.gradient(weighted[0], x).numpy(), tape.gradient(weighted[1], x).numpy())


def _spiral_critic_balanced_accuracy(critic, steps=3000, seed=0):
    """Trains `critic` (Adam 1e-4, beta_1 0.5, the trainer's) on real spiral points against chords
    between them; its balanced accuracy on the valid points and fresh chords."""
    from amr_tf.data import spiral

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    real, _ = spiral.points("train")

    def chords(n):
        i, j, a = rng.integers(0, len(real), n), rng.integers(0, len(real), n), rng.uniform(0, 1, (n, 1))
        return (a * real[i] + (1 - a) * real[j]).astype(np.float32)

    critic(real[:2])
    optimizer = keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.99)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = bce(y, critic(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, critic.trainable_variables), critic.trainable_variables))

    y = np.concatenate([np.ones(64), np.zeros(64)]).astype(np.float32)
    for _ in range(steps):
        step(np.concatenate([real[rng.integers(0, len(real), 64)], chords(64)]), y)
    valid, _ = spiral.points("valid")
    return (np.mean(critic(valid).numpy() > 0) + np.mean(critic(chords(5000)).numpy() < 0)) / 2


def test_the_spiral_discriminator_tells_the_curve_from_chords_across_it():
    """The spiral preset's D reads Fourier features: on the raw coordinates, the same MLP stays
    near chance against chords (the two-spirals problem), and then no adversary pulls a decoded
    mix towards the curve. A third of the chords lie within the data's noise band, so about
    0.83 is the best balanced accuracy there is."""
    preset = networks.get_preset("spiral")
    critic = preset.discriminator((2,), spectral_norm="none")
    assert isinstance(critic.body[0], networks.mlp.FourierFeatures)
    raw = networks.mlp.MLPDiscriminator(preset.hidden, preset.n_layers, fourier=0, spectral_norm="none")
    critic(np.zeros((1, 2), np.float32))
    frequencies = critic.body[0].frequencies.numpy()
    assert _spiral_critic_balanced_accuracy(critic) > 0.72
    assert not critic.body[0].trainable_weights  # fixed frequencies
    np.testing.assert_array_equal(critic.body[0].frequencies.numpy(), frequencies)
    assert _spiral_critic_balanced_accuracy(raw) < 0.65


def test_fourier_features_round_trip_with_their_frequencies():
    layer = networks.mlp.FourierFeatures(8, scale=3.0)
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    out = layer(x).numpy()
    assert out.shape == (5, 16)
    np.testing.assert_allclose(out[:, :8] ** 2 + out[:, 8:] ** 2, 1.0, atol=1e-6)
    angles = x @ layer.frequencies.numpy()
    np.testing.assert_allclose(out[:, :8], np.sin(angles), atol=1e-5)
    clone = networks.mlp.FourierFeatures.from_config(layer.get_config())
    clone.build((None, 2))
    assert clone.features == 8 and clone.scale == 3.0 and clone.frequencies.shape == (2, 8)
