"""Tests of amr_tf.networks: parity with the original's parameter counts, shapes, norms."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from amr_tf import networks  # noqa: E402

# (preset, channels, encoder, decoder): trainable counts of the original PyTorch models (SPEC 1).
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
    # one power-iteration vector u per conv, shape (1, filters), not trained
    assert len(acai32.discriminator.non_trainable_weights) == 9


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
    assert not _of_type(acai32.discriminator, keras.layers.Conv2D)  # all wrapped
    assert len(_of_type(acai32.discriminator, keras.layers.SpectralNormalization)) == 9
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
    y = norm(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-4)
    # the affine parameters act per channel
    norm.gamma.assign(np.full(16, 2.0, "float32"))
    norm.beta.assign(np.full(16, 3.0, "float32"))
    try:
        y = norm(x).numpy()
    finally:
        norm.gamma.assign(np.ones(16, "float32"))
        norm.beta.assign(np.zeros(16, "float32"))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 3.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 2.0, atol=1e-4)


def test_initialisers_match_pytorch_defaults(acai32):
    conv = acai32.encoder.body[-4]  # conv3x3 64 -> 128, then IN, act and the last conv
    assert conv.kernel.shape == (3, 3, 64, 128)
    bound = 1 / np.sqrt(3 * 3 * 64)
    w = conv.kernel.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound
    assert not conv.bias.numpy().any()


def _sigmas(layers):
    return np.array([np.linalg.svd(np.reshape(sn.layer.kernel.numpy(), (-1, sn.layer.filters)),
                                   compute_uv=False)[0] for sn in layers])


def test_spectral_normalisation():
    keras.utils.set_random_seed(3)
    disc = networks.Discriminator(latent=2)
    disc.build((None, 32, 32, 3))
    sns = _of_type(disc, keras.layers.SpectralNormalization)
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
    disc = networks.Discriminator(latent=2, power_iterations=3)
    sns = _of_type(disc, keras.layers.SpectralNormalization)
    assert len(sns) == 9 and {sn.power_iterations for sn in sns} == {3}


@pytest.mark.parametrize("cls,args,shape", [
    (networks.Encoder, dict(latent=16, depth=8, scales=2), (None, 32, 32, 3)),
    (networks.Decoder, dict(channels=1, depth=8, scales=3), (None, 4, 4, 2)),
    (networks.Discriminator, dict(latent=4, power_iterations=2), (None, 32, 32, 3)),
    (networks.Probe, dict(n_classes=5), (None, 4, 4, 2)),
])
def test_config_round_trip(cls, args, shape):
    model = cls(**args)
    config = model.get_config()
    assert {k: config[k] for k in args} == args
    clone = cls.from_config(config)
    assert clone.get_config() == config and clone.name == model.name
    model.build(shape)
    clone.build(shape)
    assert clone.count_params() == model.count_params()
    assert networks.count_trainable(clone) == networks.count_trainable(model)
    assert [type(a) for a in clone.body] == [type(b) for b in model.body]
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_default_names(acai32):
    assert [m.name for m in acai32] == ["encoder", "decoder", "discriminator", "probe"]


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
        networks.register_preset("acai32", networks.Preset(latent=2))
    with pytest.raises(TypeError):
        networks.PRESETS["mine"] = networks.Preset(latent=1)
    with pytest.raises(ValueError, match=r"\(28, 28, 1\)"):
        networks.build_networks("acai32", (28, 28, 1), 10)
