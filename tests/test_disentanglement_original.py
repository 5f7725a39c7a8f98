"""The original AMR code's disentanglement score (the paper's Table 4 scheme), rebuilt in
amr_tf.evaluation.disentanglement: reproduced on fixed codes, its sampler, and the report's column.

The reference numbers below were printed by the original's own `dsprite_disentanglement_fv`
(christopher-beckham/amr tools.py, commit 1bd67b9b4fb2fcf07cc8faba3c863f5ad5d4c4c0) on the same
codes, with:

    make reference-venv
    benchmarks/.venv-reference/bin/python benchmarks/original_disentanglement.py
    -> {"commit": "1bd67b9b4fb2fcf07cc8faba3c863f5ad5d4c4c0", "seed": 2019, "votes_per_factor": 8,
        "L": 20, "split": 0.55, "constant": 0.8, "vae": 0.55, "noise": 0.275}

`make_codes` is imported from that script, so the test's codes are the ones the numbers came from.
"""

import json

import numpy as np
import pytest

from amr_tf.evaluation import disentanglement_original as dis

# the codes' recipe is the benchmark's own (numpy only at import; torch only where it runs the original)
from benchmarks.original_disentanglement import UNITS, VOTES_PER_FACTOR, make_codes
from tests.helpers import fake_run

REFERENCE = {"split": 0.55, "constant": 0.8, "vae": 0.55, "noise": 0.275}
FACTORS = np.repeat(np.arange(5), VOTES_PER_FACTOR)  # the original's vote order: factor by factor
SIZES = (3, 6, 40, 32, 32)


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_original_score_reproduces_the_original_code(case):
    codes = make_codes(case)
    if case == "vae":  # the original's is_vae scores the mean half; an amr_tf VAE encoder outputs the mean
        codes = codes[..., :UNITS]
    result = dis.original_score(codes, FACTORS)
    assert result["score"] == REFERENCE[case]
    assert result["votes"] == 40 and result["scored_factors"] == [0, 1, 2, 3]  # posY (4) never counted


def test_original_score_counts_as_the_original_not_as_disentanglement_lib():
    r = dis.original_score(make_codes("split"), FACTORS)
    # factor -> its most common unit: shape and scale both claim unit 0, orientation splits 4/4
    assert r["majority_count"] == [6, 5, 4, 7, 8] and r["majority_unit"][:2] == [0, 0]
    assert r["hits"] == 22 and r["score"] == 22 / 40
    assert sum(r["majority_count"]) / 40 == 0.75  # what scoring posY too would give
    assert np.array(r["unit_votes"]).sum() == 40 and len(r["vote_units"]) == 40
    assert r["constant_units"] == []
    # unscaled variances would send all but one vote to unit 5 (the smallest raw scale)
    raw = make_codes("split").astype(np.float64)
    assert (np.argmin(raw.var(axis=1), axis=1) == 5).sum() == 39
    # a constant unit is 0 / 0 = NaN in the original, and np.argmin takes it in every vote
    c = dis.original_score(make_codes("constant"), FACTORS)
    assert c["constant_units"] == [6] and set(c["vote_units"]) == {6} and c["score"] == 0.8


def test_original_from_moments_matches_the_codes_and_refuses_what_the_original_cannot_do():
    codes = make_codes("noise").astype(np.float64)
    whole = dis.original_score(codes, FACTORS)
    moments = dis.original_from_moments(codes.mean(axis=1), codes.var(axis=1), FACTORS)
    assert moments == whole
    assert dis.original_score(list(codes), FACTORS) == whole  # a sequence of [L, d] votes
    with pytest.raises(ValueError, match=r"factor ids \[1\] have no vote"):
        dis.original_score(codes[:3], [0, 2, 2])
    with pytest.raises(ValueError, match="must be"):
        dis.original_score(codes, FACTORS[:-1])


def classes_as_images(classes):
    """'Images' that are the factor classes, so an encoder can read them back."""
    return classes.astype(np.float32)


def uniform_factors(n, rng):
    return np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)


def test_original_votes_go_factor_by_factor_with_the_factor_fixed():
    conditional = dis.conditional_sampler(uniform_factors, classes_as_images)
    votes = list(dis.original_votes(conditional, SIZES, n_votes=14, L=6, seed=5))  # 14 // 5 = 2 each
    assert [k for k, *_ in votes] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    for k, value, images, classes in votes:
        assert classes.shape == (6, 5) and (classes[:, k] == value).all() and 0 <= value < SIZES[k]
        np.testing.assert_array_equal(images, classes)
    assert any(len(np.unique(c[:, 2])) > 1 for k, _, _, c in votes if k != 2)  # the other factors vary
    again = list(dis.original_votes(conditional, SIZES, n_votes=14, L=6, seed=5))
    assert all((a[3] == b[3]).all() for a, b in zip(votes, again))
    assert len(list(dis.original_votes(conditional, SIZES, n_votes=800, L=2))) == 800  # 160 per factor


def test_original_votes_on_procedural_dsprites_use_its_sample_conditional():
    from amr_tf.data import dsprites

    votes = list(dis.original_votes(dis.dsprites_conditional, dsprites.FACTOR_SIZES, n_votes=5, L=3, seed=0))
    assert [k for k, *_ in votes] == [0, 1, 2, 3, 4]
    for k, value, images, classes in votes:
        assert images.shape == (3, 64, 64, 1) and (classes[:, k] == value).all()
        np.testing.assert_array_equal(images, dsprites.render(classes) * 2.0 - 1.0)


def test_original_scheme_of_an_encoder_that_reads_the_factors():
    conditional = dis.conditional_sampler(uniform_factors, classes_as_images)
    r = dis.original_scheme(lambda x: x + 0.0, conditional, SIZES, n_votes=25, L=16, seed=1,
                            factor_names=("shape", "scale", "orientation", "pos_x", "pos_y"))
    assert r["votes_per_factor"] == 5 and r["votes"] == 25 and r["batch_L"] == 16
    assert r["vote_units"] == [k for k in range(5) for _ in range(5)]  # the fixed factor's unit
    assert r["score"] == 0.8 and r["max_score"] == 0.8
    assert r["scored"] == ["shape", "scale", "orientation", "pos_x"] and r["unscored"] == ["pos_y"]
    json.dumps(r)
    codes = [classes_as_images(c) for *_, c in dis.original_votes(conditional, SIZES, n_votes=25, L=16, seed=1)]
    assert dis.original_score(codes, FACTORS[::8].repeat(5))["score"] == r["score"]
    few = dis.original_scheme(lambda x: x, conditional, SIZES, n_votes=4, L=4)
    assert few["score"] is None and "undefined" in few["note"]


def test_report_prints_the_original_score_beside_the_paper(tmp_path):
    from amr_tf import results

    for seed, summary in ((0, {"disentanglement": 0.5, "original_score": 0.55}),
                          (1, {"disentanglement": 0.6, "original_score": 0.45})):
        run_dir = fake_run(tmp_path, "dsp", seed, 0.4, 0.4, dataset="dsprites_procedural", mixer="bernoulli", k=3,
                            probe_lr=None, weight_decay=0.0, last_batch="keep", update_g_phase="epoch")
        (run_dir / "eval").mkdir()
        (run_dir / "eval" / "disentanglement.json").write_text(json.dumps({"summary": summary}))
    old = fake_run(tmp_path, "old", 0, 0.4, 0.4, dataset="dsprites_procedural", mixer="mixup", k=2,
                    probe_lr=None, weight_decay=0.0, last_batch="keep", update_g_phase="epoch")
    (old / "eval").mkdir()
    (old / "eval" / "disentanglement.json").write_text(json.dumps({"summary": {"disentanglement": 0.7}}))
    lines = results.report(tmp_path).splitlines()
    header = next(line for line in lines if line.startswith("| Method"))
    assert header.endswith("| disentanglement % (disentanglement_lib) | valid probe % | "
                           "disentanglement % (original's scheme, max 80) | paper (dSprites) |")
    row = next(line for line in lines if line.startswith("| AMR | Bern | 3"))
    assert row.endswith("| 55.00 +- 7.07 | 40.00 +- 0.00 | 50.00 +- 7.07 | 56.00 +- 0.91 |")
    row = next(line for line in lines if line.startswith("| AMR | mixup | 2"))
    assert row.endswith("| 70.00 | 40.00 | - | 49.00 +- 6.72 |")  # an eval file from before: no original's score
    csv = results.report(tmp_path, "csv").splitlines()
    names = csv[0].split(",")
    assert names[-5:] == ["disentanglement_original_mean", "disentanglement_original_std",
                          "disentanglement_original_n", "paper_mean", "paper_std"]
