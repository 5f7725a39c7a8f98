"""Tests of amr_tf.losses against numbers worked out by hand (math/numpy), not by the code."""

import math

import numpy as np
import pytest
import tensorflow as tf

from amr_tf import losses

LOGITS = [0.0, 2.0, -1.0]


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


def _close(got, want, rtol=1e-6, atol=1e-7):
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), np.asarray(want, "float64"), rtol=rtol, atol=atol)


def test_gan_bce_real_and_fake():
    # -log sigmoid(z) = log(1 + e^-z); -log(1 - sigmoid(z)) = log(1 + e^z)
    _close(losses.gan_loss(LOGITS, 1.0), [math.log(2), math.log(1 + math.exp(-2)),
                                          math.log(1 + math.e)])
    _close(losses.gan_loss(LOGITS, 0.0), [0.6931471805599453, 2.1269280110429727,
                                          0.31326168751822286])


def test_gan_bce_per_example_targets():
    target = [1.0, 0.0, 0.25]
    want = [-(t * math.log(_sigmoid(z)) + (1 - t) * math.log(1 - _sigmoid(z)))
            for z, t in zip(LOGITS, target)]
    _close(losses.gan_loss(tf.constant(LOGITS), tf.constant(target)), want)


def test_gan_mse_is_least_squares_on_the_sigmoid():
    # sigmoid(0, 2, -1) = 0.5, 0.880797, 0.268941
    _close(losses.gan_loss(LOGITS, 1.0, kind="mse"), [0.25, 0.0142093, 0.5344466], rtol=1e-5)
    _close(losses.gan_loss(LOGITS, 0.0, kind="mse"), [0.25, 0.7758035, 0.0723295], rtol=1e-5)


# two "images" of 2x1x2 (H, W, C): differences x - r are (0.5, -1, 0, 2) and (0, 0, 0, -0.4)
X = np.array([[[[1.0, -1.0]], [[0.0, 1.0]]], [[[0.5, 0.5]], [[-1.0, -0.6]]]], "float32")
R = np.array([[[[0.5, 0.0]], [[0.0, -1.0]]], [[[0.5, 0.5]], [[-1.0, -0.2]]]], "float32")


def test_reconstruction_l1_and_l2():
    _close(losses.reconstruction_loss(X, R, "l1"), [(0.5 + 1 + 0 + 2) / 4, 0.4 / 4])
    _close(losses.reconstruction_loss(X, R, "l2"), [(0.25 + 1 + 0 + 4) / 4, 0.16 / 4])
    assert losses.reconstruction_loss(X, R).numpy()[0] == pytest.approx(0.875)  # l1 by default


def test_reconstruction_bce_mean_and_sum():
    # targets (x + 1) / 2 = (0, 1), predictions (r + 1) / 2 = (0.5, 0.8)
    x = np.array([[-1.0, 1.0]], "float32")
    r = np.array([[0.0, 0.6]], "float32")
    per_pixel = [math.log(2), -math.log(0.8)]
    _close(losses.reconstruction_loss(x, r, "bce"), [sum(per_pixel) / 2], rtol=1e-5)
    _close(losses.reconstruction_loss(x, r, "bce_sum"), [sum(per_pixel)], rtol=1e-5)


def test_reconstruction_bce_clips_the_prediction():
    # predictions 1 and -0.25 clip to 1 - 1e-7 and 1e-7; in float32, 1 - 1e-7 is 1 - 2^-23
    x = np.array([[-1.0, 1.0]], "float32")
    r = np.array([[1.0, -1.5]], "float32")
    assert float(np.float32(1 - 1e-7)) == 1 - 2 ** -23
    want = -math.log(2 ** -23) - math.log(1e-7)
    _close(losses.reconstruction_loss(x, r, "bce_sum"), [want], rtol=1e-5)


@pytest.mark.parametrize("kind", losses.RECON_LOSSES)
def test_reconstruction_is_per_example_for_any_rank(kind):
    rng = np.random.default_rng(0)
    for shape in [(5, 2), (5, 8, 8, 3)]:
        x = rng.uniform(-1, 1, shape).astype("float32")
        r = rng.uniform(-1, 1, shape).astype("float32")
        per_example = losses.reconstruction_loss(x, r, kind)
        assert per_example.shape == (5,)
        # example b's loss depends only on example b
        alone = losses.reconstruction_loss(x[2:3], r[2:3], kind)
        np.testing.assert_allclose(per_example.numpy()[2], alone.numpy()[0], rtol=1e-6)


def test_consistency_is_the_distance_between_codes():
    h_mix = np.array([[[[1.0, 2.0]]], [[[0.0, -3.0]]]], "float32")  # [2, 1, 1, 2]
    h_re = np.array([[[[0.0, 2.0]]], [[[1.0, -1.0]]]], "float32")
    _close(losses.consistency_loss(h_mix, h_re), [0.5, 1.5])
    _close(losses.consistency_loss(h_mix, h_re, kind="l2"), [0.5, 2.5])


def test_classifier_loss_and_accuracy():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], "float32")
    one_hot = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], "float32")
    log_z = math.log(math.e + math.e ** 2 + math.e ** 3)
    _close(losses.classifier_loss(one_hot, logits), [log_z - 2, math.log(3)], rtol=1e-5)
    soft = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]], "float32")
    _close(losses.classifier_loss(soft, logits), [log_z - 2, math.log(3)], rtol=1e-5)
    _close(losses.classifier_accuracy(one_hot, logits), [0.0, 1.0])
    _close(losses.classifier_accuracy(np.eye(3, dtype="float32")[[2, 2]], logits), [1.0, 0.0])


def test_losses_are_float32_for_bfloat16_inputs():
    bf = lambda a: tf.constant(a, tf.bfloat16)  # noqa: E731
    z = bf(LOGITS)
    outputs = [losses.gan_loss(z, 1.0), losses.gan_loss(z, bf([1.0, 0.0, 1.0]), "mse"),
               losses.classifier_loss(bf(np.eye(3)), bf(np.eye(3))),
               losses.classifier_accuracy(bf(np.eye(3)), bf(np.eye(3))),
               losses.consistency_loss(bf(X), bf(R)), losses.average(bf([1.0, 2.0]))]
    outputs += [losses.reconstruction_loss(bf(X), bf(R), k) for k in losses.RECON_LOSSES]
    assert [o.dtype for o in outputs] == [tf.float32] * len(outputs)
    # bfloat16 rounds -0.6 and -0.2 (0.7% off here); the arithmetic itself is float32
    _close(losses.reconstruction_loss(bf(X), bf(R), "l2"), [1.3125, 0.04], rtol=1e-2)


def test_unknown_kinds_name_the_choices():
    with pytest.raises(ValueError, match=r"'wgan'.*'bce', 'mse'"):
        losses.gan_loss(LOGITS, 1.0, kind="wgan")
    with pytest.raises(ValueError, match=r"'l3'.*'l1', 'l2', 'bce', 'bce_sum'"):
        losses.reconstruction_loss(X, R, kind="l3")
    with pytest.raises(ValueError, match=r"'huber'"):
        losses.consistency_loss(X, R, kind="huber")


def test_average_uses_the_global_batch_size():
    per_example = tf.constant([1.0, 2.0, 3.0, 6.0])
    assert losses.average(per_example).numpy() == pytest.approx(3.0)
    assert losses.average(per_example, global_batch_size=8).numpy() == pytest.approx(12.0 / 8)
    # in a replica context (one replica), None still means this batch's mean
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    assert strategy.run(losses.average, (per_example,)).numpy() == pytest.approx(3.0)
    assert strategy.run(losses.average, (per_example, 2)).numpy() == pytest.approx(6.0)
