"""The numpy metrics of amr_tf.evaluation: Kim & Mnih's disentanglement score (disentanglement.py)
and ACAI's lines scores (lines.py)."""

import math

import numpy as np
import pytest

from amr_tf import evaluation
from amr_tf.data import lines

SIZES = (3, 6, 40, 32, 32)  # dSprites without colour: shape, scale, orientation, pos_x, pos_y
FAST = dict(batch_size=64, num_train=200, num_eval=200, num_variance_estimate=2000)


def uniform_factors(n, rng):
    return np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)


def identity_draw(classes):
    """'Images' that are the factor classes themselves, so an encoder can read them back."""
    return classes.astype(np.float32)


def true_factor_encoder(seed=1):
    """Units: [constant, 5 true factors, 3 unit-variance noise, 1 noise of std 0.01]."""
    noise = np.random.default_rng(seed)

    def encode(x):
        n = len(x)
        return np.concatenate([np.zeros((n, 1)), x, noise.normal(size=(n, 3)), 0.01 * noise.normal(size=(n, 1))], 1)

    return encode


def test_factor_vae_true_factors_score_one_and_votes_land_on_their_units():
    r = evaluation.factor_vae_score(true_factor_encoder(), uniform_factors, identity_draw, SIZES, **FAST)
    assert r["train_accuracy"] == 1.0 and r["eval_accuracy"] == 1.0
    votes = np.array(r["votes"])  # [units, factors]
    assert votes.shape == (10, 5) and votes.sum() == 200 and np.array(r["eval_votes"]).sum() == 200
    # factor k is read from unit k + 1: every vote for k lands there, whatever is pruned before it
    np.testing.assert_array_equal(votes[1:6], np.diag(votes.sum(0)))
    assert (votes.sum(0) > 0).all()
    assert r["classifier"][1:6] == [0, 1, 2, 3, 4]
    assert r["factor_names"] == [f"factor_{k}" for k in range(5)]


def test_factor_vae_random_codes_score_about_chance():
    noise = np.random.default_rng(2)
    r = evaluation.factor_vae_score(lambda x: noise.normal(size=(len(x), 10)), uniform_factors, identity_draw,
                                 SIZES, **FAST)
    assert r["num_active_dims"] == 10
    assert r["eval_accuracy"] <= 0.4  # chance is 1/5


def test_factor_vae_pruning_drops_constant_and_low_variance_units():
    encode = true_factor_encoder()
    default = evaluation.factor_vae_score(encode, uniform_factors, identity_draw, SIZES, **FAST)
    assert default["active_dims"] == list(range(1, 9)) and default["num_active_dims"] == 8  # std 0.01 < 0.05
    votes = np.array(default["votes"])
    assert votes[0].sum() == 0 and votes[9].sum() == 0
    # threshold 0 (disentanglement_lib's function default) keeps the std-0.01 unit, never a constant one
    loose = evaluation.factor_vae_score(encode, uniform_factors, identity_draw, SIZES, prune_threshold=0.0, **FAST)
    assert loose["active_dims"] == list(range(1, 10)) and loose["eval_accuracy"] == 1.0
    # nothing active: accuracy 0, as the reference
    none = evaluation.factor_vae_score(encode, uniform_factors, identity_draw, SIZES, prune_threshold=1e6, **FAST)
    assert none["train_accuracy"] == 0.0 and none["eval_accuracy"] == 0.0 and none["num_active_dims"] == 0


def test_factor_vae_is_seeded_and_flattens_codes():
    def encode(x):  # conv-like codes [n, 2, 5]: the 5 factors, then 5 noise units fixed by the factors
        noise = np.sin(x @ np.arange(1.0, 26.0).reshape(5, 5))
        return np.stack([x, noise], axis=1)

    small = dict(batch_size=32, num_train=60, num_eval=60, num_variance_estimate=500)
    a = evaluation.factor_vae_score(encode, uniform_factors, identity_draw, SIZES, seed=3, **small)
    b = evaluation.factor_vae_score(encode, uniform_factors, identity_draw, SIZES, seed=3, **small)
    c = evaluation.factor_vae_score(encode, uniform_factors, identity_draw, SIZES, seed=4, **small)
    assert a == b and a["votes"] != c["votes"]
    assert len(a["votes"]) == 10 and a["eval_accuracy"] == 1.0


def test_factor_vae_rejects_a_sampler_of_the_wrong_width():
    with pytest.raises(ValueError, match="sample_factors"):
        evaluation.factor_vae_score(lambda x: x, lambda n, rng: np.zeros((n, 4), np.int64), identity_draw, SIZES,
                                 **FAST)


def test_factor_vae_dsprites_draws_pipeline_images():
    seen = []

    def encode(x):  # centroid column, centroid row, area: they track pos_x, pos_y and scale
        seen.append(x)
        mask = (x[..., 0] > 0).astype(np.float64)
        area = mask.sum((1, 2))
        col = (mask.sum(1) * np.arange(64)).sum(1) / area
        row = (mask.sum(2) * np.arange(64)).sum(1) / area
        return np.stack([col, row, area], axis=1)

    r = evaluation.factor_vae_dsprites(encode, batch_size=48, num_train=60, num_eval=20, num_variance_estimate=600,
                                    chunk_size=300)
    assert seen[0].shape == (300, 64, 64, 1) and seen[-1].shape == (48, 64, 64, 1)
    assert seen[0].dtype == np.float32 and set(np.unique(np.concatenate(seen))) == {-1.0, 1.0}
    assert r["factor_names"] == ["shape", "scale", "orientation", "pos_x", "pos_y"]
    votes = np.array(r["votes"])
    # posX runs along columns, posY along rows: fixing one leaves that centroid nearly constant
    assert votes[:, 3].sum() > 0 and votes[0, 3] == votes[:, 3].sum()
    assert votes[:, 4].sum() > 0 and votes[1, 4] == votes[:, 4].sum()


# ----------------------------------------------------------------------------------------
# ACAI's lines benchmark
# ----------------------------------------------------------------------------------------

def random_angles(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * math.pi, n)
    return a, np.mod(a + rng.uniform(0.5 * math.pi, 0.95 * math.pi, n) * rng.choice([-1, 1], n), 2 * math.pi)


def test_closest_line_recovers_angles_and_distance_zero():
    angles = np.random.default_rng(0).uniform(0, 2 * math.pi, 50)
    dist, found = evaluation.closest_line(lines.render(angles) * 2 - 1)
    assert dist.max() < 1e-4
    gap = np.abs(np.angle(np.exp(1j * (found - angles))))
    assert gap.max() <= 2 * math.pi / evaluation.N_IDEAL
    angles_ideal, flat = evaluation.ideal_lines()
    assert flat.shape == (10000, 1024) and angles_ideal[1] == pytest.approx(2 * math.pi / 10000)


def test_ideal_interpolations_score_zero():
    a, b = random_angles(20, 1)
    strips = evaluation.ideal_interpolation(a, b, 10)
    assert strips.shape == (20, 10, 32, 32, 1) and strips.min() >= -1 and strips.max() <= 1
    scores = evaluation.lines_metrics(strips)
    assert scores["mean_distance"] < 0.02 and scores["smoothness"] < 0.05
    assert scores["mean_distance"] == pytest.approx(evaluation.lines_mean_distance(strips))
    assert scores["smoothness"] == pytest.approx(evaluation.lines_smoothness(strips))
    assert evaluation.lines_metrics(strips[..., 0]) == scores  # [n, steps, 32, 32] works too


def test_ideal_interpolation_takes_the_shorter_arc():
    strip = evaluation.ideal_interpolation(math.radians(350), math.radians(10), 5)
    assert strip.shape == (5, 32, 32, 1)
    _, found = evaluation.closest_line(strip)
    np.testing.assert_allclose(np.degrees(np.unwrap(found)) % 360, [350, 355, 0, 5, 10], atol=0.1)
    np.testing.assert_allclose(strip[0], lines.render([math.radians(350)])[0] * 2 - 1, atol=1e-6)


def test_pixel_interpolation_is_farther_from_real_lines():
    a, b = random_angles(20, 2)
    xa, xb = lines.render(a) * 2 - 1, lines.render(b) * 2 - 1
    pixel = evaluation.pixel_interpolation(xa, xb, 10)
    assert pixel.shape == (20, 10, 32, 32, 1)
    np.testing.assert_allclose(pixel[:, 0], xa)
    np.testing.assert_allclose(pixel[:, -1], xb)
    ideal = evaluation.lines_metrics(evaluation.ideal_interpolation(a, b, 10))
    pix = evaluation.lines_metrics(pixel)
    assert pix["mean_distance"] > ideal["mean_distance"] + 3e-3
    assert pix["smoothness"] > ideal["smoothness"] + 0.5


def test_a_jump_is_less_smooth_than_an_ideal_strip():
    a, b = random_angles(10, 3)
    ideal = evaluation.ideal_interpolation(a, b, 8)
    jump = np.concatenate([np.repeat(ideal[:, :1], 4, 1), np.repeat(ideal[:, -1:], 4, 1)], axis=1)
    assert evaluation.lines_mean_distance(jump) < 1e-3  # every frame is a real line...
    assert evaluation.lines_smoothness(jump) == pytest.approx(1 - 1 / 7, abs=1e-3)  # ...but it moves in one jump
    assert evaluation.lines_smoothness(ideal) < 0.05


def test_smoothness_score_formula():
    s = evaluation.smoothness_score
    assert s(np.linspace(0, 1, 10))[0] == pytest.approx(0.0, abs=1e-12)
    # max step 0.6 of a total 1.0 over 3 steps: 0.6 - 1/3
    assert s([0.0, 0.2, 0.8, 1.0])[0] == pytest.approx(0.6 - 1 / 3)
    # across 2 pi the steps are unwrapped the short way round: 6.0 -> 6.2 -> 0.1 -> 0.3
    total = 0.3 + 2 * math.pi - 6.0
    assert s([6.0, 6.2, 0.1, 0.3])[0] == pytest.approx(0.2 / total - 1 / 3)
    scores = s([[0.0, 0.5, 1.0], [1.0, 1.0, 1.0]])
    assert scores[0] == pytest.approx(0.0) and np.isnan(scores[1])  # no total change: undefined


def test_lines_smoothness_counts_undefined_strips_as_zero_like_acai():
    moving = evaluation.ideal_interpolation(1.0, 3.0, 4)
    jump = np.stack([moving[0], moving[0], moving[-1], moving[-1]])
    still = np.repeat(moving[:1], 4, axis=0)
    both = np.stack([jump, still])
    assert evaluation.lines_smoothness(both) == pytest.approx(evaluation.lines_smoothness(jump[None]) / 2)
    assert np.isnan(evaluation.lines_smoothness(still[None]))


def test_pixel_interpolation_shapes_and_errors():
    x = np.zeros((32, 32, 1)), np.ones((32, 32, 1))
    strip = evaluation.pixel_interpolation(*x, 5)
    assert strip.shape == (5, 32, 32, 1)
    np.testing.assert_allclose(strip[:, 0, 0, 0], [0, 0.25, 0.5, 0.75, 1])
    with pytest.raises(ValueError):
        evaluation.pixel_interpolation(np.zeros((32, 32, 1)), np.zeros((32, 32, 3)), 5)
    with pytest.raises(ValueError):
        evaluation.lines_metrics(np.zeros((4, 32, 32, 1)))
