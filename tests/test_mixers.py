"""Tests for amr_tf.mixers: the combine identity, weight laws, statistics, seeding, XLA."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf import mixers
from amr_tf.mixers import MIXERS, MixResult, bernoulli_fixed, mix, mixup_fixed

RANDOM_MIXERS = ("mixup", "mixup2", "bernoulli", "fm")
BIG_B = 20000


def _codes(shape, seed=0, dtype="float32"):
    return tf.constant(np.random.default_rng(seed).normal(size=shape), dtype=dtype)


def _numpy_combine(h, weights, indices):
    """The contract's right-hand side, computed independently of _combine."""
    h, w = np.asarray(h, np.float64), np.asarray(weights, np.float64)
    out = np.zeros_like(h)
    for j in range(indices.shape[1]):
        w_j = w[:, j].reshape((w.shape[0],) + (1,) * (h.ndim - 2) + (w.shape[2],))
        out += w_j * h[indices[:, j]]
    return out


def _check_indices(indices, batch, k):
    assert indices.dtype == np.int32 and indices.shape == (batch, k)
    np.testing.assert_array_equal(indices[:, 0], np.arange(batch))
    for j in range(1, k):
        np.testing.assert_array_equal(np.sort(indices[:, j]), np.arange(batch))


@pytest.mark.parametrize("shape", [(6, 4, 4, 5), (7, 3)], ids=["rank4", "rank2"])
@pytest.mark.parametrize("k", [2, 3, 8])
@pytest.mark.parametrize("name", RANDOM_MIXERS)
def test_contract_identity(name, k, shape):
    h = _codes(shape)
    res = mix(h, mixer=name, k=k, seed=3)
    assert isinstance(res, MixResult)
    assert res.h.shape == h.shape and res.h.dtype == h.dtype
    assert res.weights.shape == (shape[0], k, shape[-1]) and res.weights.dtype == h.dtype
    indices = res.indices.numpy()
    _check_indices(indices, shape[0], k)
    expected = _numpy_combine(h.numpy(), res.weights.numpy(), indices)
    np.testing.assert_allclose(res.h.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_codes(dtype):
    h = _codes((8, 2, 2, 4), dtype=dtype)
    res = mix(h, "mixup", k=3, seed=1)
    assert res.h.dtype == h.dtype and res.weights.dtype == h.dtype
    as_f32 = lambda t: tf.cast(t, tf.float32).numpy()  # noqa: E731
    expected = _numpy_combine(as_f32(h), as_f32(res.weights), res.indices.numpy())
    np.testing.assert_allclose(tf.cast(res.h, tf.float32).numpy(), expected, atol=0.05)


@pytest.mark.parametrize("k", [2, 3, 8])
def test_mixup_weights_equal_across_features_and_sum_to_one(k):
    w = mix(_codes((50, 6)), "mixup", k=k, seed=0).weights.numpy()
    np.testing.assert_array_equal(w, np.repeat(w[:, :, :1], 6, axis=2))
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)
    assert (w >= 0).all()


@pytest.mark.parametrize("k", [2, 3])
def test_mixup2_varies_across_features(k):
    w = mix(_codes((50, 6)), "mixup2", k=k, seed=0).weights.numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(w.std(axis=2).mean(axis=0) > 0.05)


@pytest.mark.parametrize("k", [2, 3, 8])
@pytest.mark.parametrize("name", ["bernoulli", "fm"])
def test_bernoulli_weights_are_one_hot(name, k):
    w = mix(_codes((64, 2, 2, 8)), name, k=k, seed=5).weights.numpy()
    assert set(np.unique(w)) <= {0.0, 1.0}
    np.testing.assert_array_equal(w.sum(axis=1), 1.0)
    assert 0.0 < w[:, 0].mean() < 1.0  # both sources actually used


def test_bernoulli_k2_takes_whole_feature_maps():
    h = _codes((16, 5, 5, 6))
    res = mix(h, "bernoulli", k=2, seed=11)
    own, partner = h.numpy(), h.numpy()[res.indices.numpy()[:, 1]]
    m = res.weights.numpy()[:, 0]  # [B, F]
    for b in range(16):
        for f in range(6):
            source = own if m[b, f] == 1 else partner
            np.testing.assert_array_equal(res.h.numpy()[b, :, :, f], source[b, :, :, f])


def test_mixup_k2_uniform_moments():
    w = mix(_codes((BIG_B, 2)), "mixup", k=2, seed=0).weights.numpy()[:, 0, 0]
    # Standard errors at B = 20000: mean 0.002, var 0.0005; tolerances are ~5 of them.
    assert abs(w.mean() - 0.5) < 0.01
    assert abs(w.var() - 1 / 12) < 0.003
    assert 0.0 <= w.min() and w.max() <= 1.0


@pytest.mark.parametrize("name", ["mixup", "mixup2"])
@pytest.mark.parametrize("k", [3, 8])
def test_dirichlet_moments(name, k):
    w = mix(_codes((BIG_B, 2)), name, k=k, seed=1).weights.numpy()[:, :, 0]  # [B, k]
    # Dirichlet(1..1): mean 1/k, var (k-1)/(k^2 (k+1)); tolerance 0.005 abs on the mean,
    # 5% relative on the variance (standard errors at B = 20000 are about 5x smaller).
    var = (k - 1) / (k**2 * (k + 1))
    np.testing.assert_allclose(w.mean(axis=0), 1 / k, atol=0.005)
    np.testing.assert_allclose(w.var(axis=0), var, rtol=0.05)


@pytest.mark.parametrize("name", ["bernoulli", "fm"])
@pytest.mark.parametrize("k", [3, 8])
def test_one_hot_source_frequencies(name, k):
    w = mix(_codes((BIG_B, 4)), name, k=k, seed=2).weights.numpy()
    # 80000 (example, map) draws per source: standard error <= 0.0018.
    np.testing.assert_allclose(w.mean(axis=(0, 2)), 1 / k, atol=0.01)


def test_bernoulli_k2_shares_one_p_per_batch():
    h = _codes((BIG_B, 4))
    fractions = np.array(
        [mix(h, "bernoulli", k=2, seed=s).weights.numpy()[:, 0].mean() for s in range(30)]
    )
    # Each batch's fraction of ones estimates its own p (SE < 0.002), so across batches the
    # fractions spread like U(0, 1) (std 0.289), not like a per-element p (all ~ 0.5).
    assert 0.18 < fractions.std() < 0.40
    assert fractions.min() < 0.3 and fractions.max() > 0.7
    fm = [mix(h, "fm", k=2, seed=s).weights.numpy()[:, 0].mean() for s in range(5)]
    np.testing.assert_allclose(fm, 0.5, atol=0.01)


@pytest.mark.parametrize("name", RANDOM_MIXERS)
def test_int_seed_is_stateless(name):
    h = _codes((32, 3, 3, 4))
    a, b = mix(h, name, k=3, seed=7), mix(h, name, k=3, seed=7)
    c = mix(h, name, k=3, seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert not np.array_equal(a.h.numpy(), c.h.numpy())
    # Draws inside one call are distinct: the two partner columns are not the same permutation.
    assert not np.array_equal(a.indices[:, 1].numpy(), a.indices[:, 2].numpy())


def test_int_seed_is_stateless_inside_tf_function():
    h = _codes((16, 4))
    fn = tf.function(lambda x: mix(x, "mixup", k=3, seed=4).h)
    np.testing.assert_array_equal(fn(h).numpy(), fn(h).numpy())
    np.testing.assert_allclose(fn(h).numpy(), mix(h, "mixup", k=3, seed=4).h.numpy())


def test_seed_generator_advances_and_reproduces():
    h = _codes((32, 4))
    g1, g2 = keras.random.SeedGenerator(9), keras.random.SeedGenerator(9)
    first, second = mix(h, "mixup", k=3, seed=g1), mix(h, "mixup", k=3, seed=g1)
    assert not np.array_equal(first.weights.numpy(), second.weights.numpy())
    for expected in (first, second):
        again = mix(h, "mixup", k=3, seed=g2)
        np.testing.assert_array_equal(again.weights.numpy(), expected.weights.numpy())
        np.testing.assert_array_equal(again.indices.numpy(), expected.indices.numpy())


def test_no_seed_gives_fresh_draws():
    h = _codes((32, 4))
    assert not np.array_equal(mix(h, "mixup", k=2).h.numpy(), mix(h, "mixup", k=2).h.numpy())


@pytest.mark.parametrize("name", RANDOM_MIXERS)
def test_gradients_flow_to_codes(name):
    h = _codes((8, 2, 2, 3))
    c = _codes((8, 2, 2, 3), seed=1).numpy()
    with tf.GradientTape() as tape:
        tape.watch(h)
        res = mix(h, name, k=3, seed=2)
        loss = tf.reduce_sum(res.h * c)
    grad = tf.convert_to_tensor(tape.gradient(loss, h)).numpy()  # gather gives IndexedSlices
    w, idx = res.weights.numpy(), res.indices.numpy()
    expected = np.zeros_like(grad)
    for b in range(8):
        for j in range(3):
            expected[idx[b, j]] += w[b, j][None, None, :] * c[b]
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,k", [("mixup", 8), ("bernoulli", 3)])
def test_xla_with_seed_generator(name, k):
    gen = keras.random.SeedGenerator(0)
    step = tf.function(lambda x: mix(x, name, k=k, seed=gen), jit_compile=True)
    h = _codes((16, 2, 2, 4))
    a, b = step(h), step(h)
    assert not np.array_equal(a.indices.numpy(), b.indices.numpy())  # the generator advanced
    for res in (a, b):
        _check_indices(res.indices.numpy(), 16, k)
        expected = _numpy_combine(h.numpy(), res.weights.numpy(), res.indices.numpy())
        np.testing.assert_allclose(res.h.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(5, 3, 3, 4), (5, 4)])
def test_none_is_identity(shape):
    h = _codes(shape)
    res = mix(h, "none", k=8, seed=0)
    np.testing.assert_array_equal(res.h.numpy(), h.numpy())
    np.testing.assert_array_equal(res.weights.numpy(), np.ones((5, 1, shape[-1])))
    np.testing.assert_array_equal(res.indices.numpy(), np.arange(5)[:, None])


@pytest.mark.parametrize("k", [1, 0, 2.5])
def test_bad_k_raises(k):
    with pytest.raises(ValueError, match="k"):
        mix(_codes((4, 2)), "mixup", k=k)


def test_unknown_mixer_lists_names():
    with pytest.raises(ValueError, match="mixup") as err:
        mix(_codes((4, 2)), "cutmix", k=2)
    assert "cutmix" in str(err.value) and str(sorted(MIXERS)) in str(err.value)
    with pytest.raises(ValueError, match="cutmix"):
        mixers.get_mixer("cutmix")


def test_registry():
    assert set(MIXERS) == {"mixup", "mixup2", "bernoulli", "fm", "none"}
    assert callable(mixers.get_mixer("fm"))
    with pytest.raises(ValueError, match="mixup"):
        mixers.register_mixer("mixup")(lambda h, k, seed=None: None)
    assert mixers.get_mixer("mixup") is not None and mix(_codes((4, 2)), "mixup").h.shape == (4, 2)


def test_mixup_fixed():
    h_a, h_b = _codes((1, 3, 3, 4), 0), _codes((1, 3, 3, 4), 1)
    np.testing.assert_array_equal(mixup_fixed(h_a, h_b, 1.0).numpy(), h_a.numpy())
    np.testing.assert_array_equal(mixup_fixed(h_a, h_b, 0).numpy(), h_b.numpy())
    np.testing.assert_allclose(
        mixup_fixed(h_a, h_b, 0.25).numpy(), 0.25 * h_a.numpy() + 0.75 * h_b.numpy(), rtol=1e-6
    )
    alphas = np.linspace(0, 1, 5).astype(np.float32)
    for a, b in ((h_a, h_b), (h_a[0], h_b[0])):  # batched [1, ...] and bare [...] codes
        strip = mixup_fixed(a, b, tf.constant(alphas)).numpy()
        assert strip.shape == (5, 3, 3, 4)
        np.testing.assert_array_equal(strip[0], h_b.numpy()[0])
        np.testing.assert_array_equal(strip[-1], h_a.numpy()[0])
        np.testing.assert_allclose(strip[2], 0.5 * (h_a.numpy()[0] + h_b.numpy()[0]), rtol=1e-6)
    assert mixup_fixed(_codes((1, 6)), _codes((1, 6), 1), [0.0, 1.0]).shape == (2, 6)


def test_bernoulli_fixed_nested_and_endpoints():
    features = 10
    h_a, h_b = tf.ones((3, 3, features)), tf.zeros((3, 3, features))
    np.testing.assert_array_equal(bernoulli_fixed(h_a, h_b, 1.0).numpy(), 1.0)
    np.testing.assert_array_equal(bernoulli_fixed(h_a, h_b, 0.0).numpy(), 0.0)
    fractions = np.linspace(0, 1, 11).astype(np.float32)
    strip = bernoulli_fixed(h_a[None], h_b[None], tf.constant(fractions), seed=3).numpy()
    assert strip.shape == (11, 3, 3, features)
    taken = strip[:, 0, 0, :]  # [S, F]: 1 where the map came from h_a
    np.testing.assert_array_equal(taken, strip[:, 2, 1, :])  # whole maps
    np.testing.assert_array_equal(taken.sum(axis=1), np.arange(11))
    assert np.all(taken[1:] >= taken[:-1])  # nested sets
    for i, f in enumerate(fractions):
        single = bernoulli_fixed(h_a, h_b, float(f), seed=3).numpy()
        np.testing.assert_array_equal(single[0, 0], taken[i])
    # The ordering is seeded: a fixed seed is reproducible, another seed orders differently.
    other = [bernoulli_fixed(h_a, h_b, 0.5, seed=s).numpy()[0, 0] for s in range(4)]
    assert any(not np.array_equal(o, taken[5]) for o in other)
    # round(fraction * F) maps: 0.4 of 4 maps is 2, 0.3 of 4 is 1.
    assert bernoulli_fixed(tf.ones((4,)), tf.zeros((4,)), 0.4).numpy().sum() == 2
    assert bernoulli_fixed(tf.ones((4,)), tf.zeros((4,)), 0.3).numpy().sum() == 1


@pytest.mark.parametrize("fn", [mixup_fixed, bernoulli_fixed])
@pytest.mark.parametrize("bad", [-0.1, 1.5, [0.2, 2.0]])
def test_fixed_forms_reject_out_of_range(fn, bad):
    with pytest.raises(ValueError, match="0, 1"):
        fn(tf.ones((1, 4)), tf.zeros((1, 4)), bad)


@pytest.mark.parametrize("name", MIXERS)
def test_unknown_batch_size_in_graph(name):
    spec = tf.TensorSpec([None, 3, 3, 4], tf.float32)
    fn = tf.function(lambda x: mix(x, name, k=3, seed=1), input_signature=[spec])
    h = _codes((6, 3, 3, 4))
    res = fn(h)
    assert res.h.shape == h.shape and res.weights.shape[0] == 6
    expected = _numpy_combine(h.numpy(), res.weights.numpy(), res.indices.numpy())
    np.testing.assert_allclose(res.h.numpy(), expected, rtol=1e-5, atol=1e-5)
