"""amr_tf.evaluate and its library, amr_tf.evaluation: each metric on a tiny run, the figures,
TensorBoard scalars, FID's refusal and formula, and the CLI contract (one subprocess test).

Runs: a real one-epoch supervised digits run (cls = 1: probe, figures with the class mixer)
and a real spiral run; digits AE+GAN, lines and dsprites_procedural runs are checkpoints of
freshly built trainers written the way `fit` writes them (a real lines or dSprites epoch
takes 20-25 s here, almost all of it the per-epoch evaluation of their 10k-18k-image
valid and test splits).
"""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from amr_tf import evaluation
from amr_tf.config import Config
from tests.helpers import CLI_ENV, ROOT

SUMMARY_LINE = re.compile(r"^[a-z_]+=\S+$")


def real_run(path, **overrides):
    from trainers import run

    run.fit(Config(**{"batch_size": 16, "epochs": 1, "steps_per_epoch": 2, **overrides}), path, verbose=0)
    return path


def built_run(path, **overrides):
    """A run directory holding the epoch-1 checkpoint of a freshly built trainer (no training)."""
    from amr_tf import checkpoint, data, rundir
    from trainers.build import build_trainer
    from trainers.checkpoint import objects

    config = Config(**{"batch_size": 16, "epochs": 1, **overrides})
    trainer = build_trainer(config, data.info(config.dataset, config))
    path.mkdir(parents=True)
    rundir.write_json(path / "config.json", dataclasses.asdict(config))
    meta = {"epoch": 1, "history": []}
    checkpoint.save(checkpoint.best_path(path / "checkpoints", 1), objects(trainer), meta)
    checkpoint.save(checkpoint.epoch_path(path / "checkpoints", 1), objects(trainer), meta)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Lazily made tiny runs, each once per module: runs("sup"), runs("spiral"), ..."""
    root = tmp_path_factory.mktemp("evaluate")
    makers = {
        "sup": lambda p: real_run(p, dataset="digits", cls=1.0),
        "spiral": lambda p: real_run(p, dataset="spiral"),
        "aegan": lambda p: built_run(p, dataset="digits", mixer="none"),
        "lines": lambda p: built_run(p, dataset="lines"),
        "dsprites": lambda p: built_run(p, dataset="dsprites_procedural", mixer="bernoulli"),
    }
    made = {}

    def get(name):
        if name not in made:
            made[name] = makers[name](root / name)
        return made[name]

    return get


def read_scalars(run_dir):
    """{tag: [(step, value)]} from RUN/logs/eval."""
    import tensorflow as tf

    out = {}
    for path in sorted((Path(run_dir) / "logs" / "eval").glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                out.setdefault(value.tag, []).append((event.step, number))
    return out


def test_frechet_distance_by_hand():
    eye = np.eye(3)
    for method in ("eigh", "sqrtm"):
        assert evaluation.frechet_distance(np.zeros(3), eye, np.zeros(3), eye, method) == pytest.approx(0, abs=1e-9)
        # equal covariances: only the means count, ||(1, 2, 0)||^2 = 5
        assert evaluation.frechet_distance([1, 2, 0], eye, [0, 0, 0], eye, method) == pytest.approx(5)
        # diagonal covariances: sum of (m1 - m2)^2 + (s1 - s2)^2 per axis = 9 + 16 + (1 - 3)^2 + (2 - 4)^2 = 33
        assert evaluation.frechet_distance([0, 0], np.diag([1, 4]), [3, 4], np.diag([9, 16]), method) == \
            pytest.approx(33)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 5)), rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5)) + 1
    stats = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert evaluation.frechet_distance(*stats) == pytest.approx(evaluation.frechet_distance(*stats, method="sqrtm"))


def test_fid_without_weights_is_refused_in_one_line_and_skipped_by_all(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    run_dir = runs("spiral")
    with pytest.raises(ValueError, match="does not apply"):  # points: no FID at all
        evaluation.evaluate_run(run_dir, "fid")
    run_dir = runs("aegan")
    with pytest.raises(ValueError) as refused:
        evaluation.evaluate_run(run_dir, "fid")
    message = str(refused.value)
    assert "\n" not in message and "InceptionV3" in message and "--inception_weights" in message
    with pytest.raises(ValueError, match="does not exist"):
        evaluation.evaluate_run(run_dir, "fid", inception_weights=str(tmp_path / "missing.h5"))
    chosen, notes = evaluation.select_metrics("all", Config(dataset="digits"))
    assert "fid" not in chosen and any(n.startswith("fid skipped") for n in notes)
    assert not (run_dir / "eval" / "fid.json").exists()


def test_probe_refits_on_frozen_codes_and_reports_the_tracked_accuracy(runs):
    run_dir = runs("sup")
    record = evaluation.evaluate_run(run_dir, "probe", probe_examples=400)["probe"]
    best = json.loads((run_dir / "best.json").read_text())
    assert record["train_examples"] == 400 and record["valid_examples"] == 250 and record["test_examples"] == 250
    assert record["converged"] and record["labels"] == "one-hot" and record["code_dims"] == 32
    for key in ("valid_accuracy", "test_accuracy"):
        assert 0.1 < record[key] <= 1.0  # random conv codes of digits are already linearly readable
    assert record["summary"] == {
        "probe_valid_accuracy": record["valid_accuracy"], "probe_test_accuracy": record["test_accuracy"],
        "tracked_val_probe_accuracy": best["val_probe_accuracy"],
        "tracked_test_probe_accuracy": best["test_probe_accuracy"]}
    saved = json.loads((run_dir / "eval" / "probe.json").read_text())
    assert saved["epoch"] == 1 and saved["checkpoint"] == "best" and saved["summary"] == record["summary"]
    scalars = read_scalars(run_dir)
    assert scalars["eval/probe_valid_accuracy"][-1] == (1, pytest.approx(record["valid_accuracy"]))
    assert scalars["eval/probe_test_accuracy"][-1] == (1, pytest.approx(record["test_accuracy"]))


def test_interpolation_figures_are_written_and_compare_runs_side_by_side(runs):
    from PIL import Image

    run_dir, other = runs("sup"), runs("aegan")
    record = evaluation.evaluate_run(run_dir, "interpolations", compare=[other])["interpolations"]
    figures = record["figures"]
    assert set(figures) == {"pairs", "k2_vs_k3", "bernoulli", "gif", "class_mixer"}
    assert sorted(Path(f).name for f in record["files"]) == \
        ["bernoulli.png", "class_mixer.png", "k2_vs_k3.png", "pairs.png", "strip.gif"]
    for f in record["files"]:
        assert Path(f).parent == run_dir / "eval" / "figures" and Path(f).stat().st_size > 1000
    assert [r["label"] for r in figures["pairs"]["rows"]] == ["pixel", "this: AMR mixup k2 +sup", "AE+GAN"]
    assert figures["pairs"]["rows"][2]["run_dir"] == str(other)
    # 5 pairs x 3 rows of 32 px tiles, scale 2: (1 + 15 * 33) * 2 px high
    with Image.open(figures["pairs"]["file"]) as picture:
        assert picture.size[1] == (1 + 15 * 33) * 2
        assert np.asarray(picture).std() > 10  # not blank
    with Image.open(figures["gif"]["file"]) as gif:
        assert gif.n_frames == 2 * evaluation.GIF_STEPS - 2
    assert figures["class_mixer"]["columns"][1] == "a=1.00" and len(figures["class_mixer"]["columns"]) == 10
    assert record["summary"] == {"figures": 5, "figures_dir": str(run_dir / "eval" / "figures")}
    # a fixed seed: the same pictures again
    before = (run_dir / "eval" / "figures" / "pairs.png").read_bytes()
    evaluation.evaluate_run(run_dir, "interpolations", compare=[other])
    assert (run_dir / "eval" / "figures" / "pairs.png").read_bytes() == before


def test_spiral_run_all_gives_probe_the_spiral_scores_and_the_spiral_plot_only(runs):
    from amr_tf import results

    run_dir = runs("spiral")
    records = evaluation.evaluate_run(run_dir, "all")
    assert list(records) == ["probe", "spiral", "interpolations"]
    assert [Path(f).name for f in records["interpolations"]["files"]] == ["spiral.png"]
    assert (run_dir / "eval" / "figures" / "spiral.png").stat().st_size > 1000
    assert records["probe"]["code_dims"] == 2
    summary = records["spiral"]["summary"]
    assert records["spiral"]["mixes"] == 5 * 1000
    # the real points sit in their own noise band; chords between two points of the spiral mostly do not
    assert summary["spiral_data_distance"] < summary["band"] < 0.05
    assert summary["spiral_input_mix_distance"] > summary["band"]
    assert 0 <= summary["spiral_mix_within_band"] <= 1 and summary["spiral_mix_distance"] > 0
    assert "eval/spiral_mix_distance" in read_scalars(run_dir)
    table = results.report(run_dir)
    assert "mix distance to the spiral (1e-3)" in table
    assert f"{summary['spiral_mix_distance'] * 1e3:.2f}" in table


def test_spiral_distances_by_hand():
    from amr_tf.data import spiral as spiral_data
    from amr_tf.evaluation import spiral

    # arm 0 ends at t = 1, angle 3 pi: (-1, 0); arm 1 at angle 4 pi: (1, 0); both start at the origin
    # and every point of it lies within radius 1, so (0.6, 0.8) * 5 is at least 4 away
    far = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    d = spiral.distance_to_curve(far)
    np.testing.assert_allclose(d[:3], [1.0, 1.0, 0.0], atol=1e-6)
    assert 4.0 <= d[3] < np.hypot(2.0, 4.0)
    real, _ = spiral_data.points("valid")
    on_curve = spiral.curve(500)
    chords = 0.5 * (real[:500] + real[500:])
    s = spiral.scores(real, on_curve, chords, reconstructions=real)
    # points of the curve between the reference's samples (at most ~5e-4 apart) are within half a gap
    assert s["spiral_mix_within_band"] == 1.0 and s["spiral_mix_distance"] < 2.5e-4
    assert s["spiral_recon_distance"] == pytest.approx(s["spiral_data_distance"])
    # noise N(0, 0.02^2) per coordinate: a point's distance to the curve is at most its offset
    assert 0.01 < s["spiral_data_distance"] < 0.03 and 0.03 < s["band"] < 0.06
    assert s["spiral_input_mix_within_band"] < 0.5 and s["spiral_input_mix_distance"] > 0.05
    i, j, alpha = spiral.random_pairs(10, 3, np.random.default_rng(0))
    assert len(i) == 30 and not np.any(i == j) and np.all((alpha >= 0) & (alpha < 1))


def test_class_mixer_agreement_and_pairs_by_hand():
    from amr_tf.evaluation import class_mixer

    alphas = np.array([1.0, 0.75, 0.5, 0.25, 0.0])
    y1, y2 = np.array([3, 4]), np.array([7, 1])
    always_first = np.repeat(y1[:, None], 5, axis=1)
    score, per_alpha = class_mixer.agreement(always_first, y1, y2, alphas)
    assert score == 0.5 and np.isnan(per_alpha[2])
    np.testing.assert_array_equal(per_alpha[[0, 1, 3, 4]], [1, 1, 0, 0])
    intended = np.array([[3, 3, 0, 7, 7], [4, 4, 9, 9, 1]])  # a = 1/2 is not scored; one miss
    assert class_mixer.agreement(intended, y1, y2, alphas)[0] == 7 / 8
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    i, j = class_mixer.different_pairs(labels, 100, np.random.default_rng(1))
    assert len(i) and np.all(labels[i] != labels[j]) and len(set(i) | set(j)) == 2 * len(i)


def test_class_mixer_metric_judges_a_supervised_run_with_a_cached_judge(runs, tmp_path, monkeypatch, capsys):
    from amr_tf.evaluation import class_mixer

    monkeypatch.setenv("AMR_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(class_mixer.JUDGE, "steps", 20)
    run_dir = runs("sup")
    with pytest.raises(ValueError, match="needs a run trained with the class mixer"):
        evaluation.evaluate_run(runs("aegan"), "class_mixer")
    record = evaluation.evaluate_run(run_dir, "class_mixer", steps=4)["class_mixer"]
    summary = record["summary"]
    assert summary["class_mixer_chance"] == 0.1 and record["pairs"] > 50
    assert record["alphas"] == [1.0, 0.6667, 0.3333, 0.0]
    for name in ("class_mixer_agreement", "plain_mixup_agreement", "class_mixer_either_class",
                 "judge_test_accuracy", "judge_recon_accuracy"):
        assert 0 <= summary[name] <= 1, name
    assert summary["class_mixer_either_class"] >= summary["class_mixer_agreement"]
    judge = Path(record["judge"]["weights"])
    assert judge.parent == tmp_path / "cache" / "judges" and "training the judge" in capsys.readouterr().err
    stamp = judge.stat().st_mtime_ns
    again = evaluation.evaluate_run(run_dir, "class_mixer", steps=4)["class_mixer"]
    assert again["summary"] == summary and judge.stat().st_mtime_ns == stamp
    assert "training the judge" not in capsys.readouterr().err


def test_lines_metric_scores_the_model_and_the_references(runs):
    run_dir = runs("lines")
    record = evaluation.evaluate_run(run_dir, "lines", interpolations=4, steps=8)["lines"]
    assert record["ideal"]["mean_distance"] < 1e-3 and abs(record["ideal"]["smoothness"]) < 1e-3
    assert 0 <= record["pixel"]["mean_distance"] < 0.05  # blends of two lines are close to some line
    assert record["model"]["mean_distance"] > record["pixel"]["mean_distance"]  # an untrained decoder
    assert set(record["summary"]) == {"lines_mean_distance", "lines_smoothness", "pixel_mean_distance",
                                      "pixel_smoothness"}
    assert (run_dir / "eval" / "figures" / "lines.png").stat().st_size > 1000
    scalars = read_scalars(run_dir)
    assert scalars["eval/lines_mean_distance"][-1] == (1, pytest.approx(record["model"]["mean_distance"]))
    assert "eval/lines_smoothness" in scalars


def test_disentanglement_metric_on_a_dsprites_run(runs):
    run_dir = runs("dsprites")
    record = evaluation.evaluate_run(run_dir, "disentanglement", votes=12, batch_L=16, variance_samples=200,
                                   seed=3)["disentanglement"]
    assert np.array(record["votes"]).sum() == 12 and np.array(record["eval_votes"]).sum() == 12
    assert np.array(record["votes"]).shape == (10, 5)  # the dsprites preset's 10 units, 5 factors
    assert 0 <= record["eval_accuracy"] <= 1 and 0 <= record["train_accuracy"] <= 1
    assert record["summary"]["disentanglement"] == record["eval_accuracy"]
    assert record["factor_names"] == ["shape", "scale", "orientation", "pos_x", "pos_y"]
    assert read_scalars(run_dir)["eval/disentanglement"][-1][0] == 1
    # the original AMR code's score (Table 4's scheme): 12 // 5 = 2 votes per factor, L = 16, posY not counted
    original = record["original"]
    assert original["votes_per_factor"] == 2 and original["votes"] == 10 and original["batch_L"] == 16
    assert original["vote_units"] and len(original["vote_units"]) == 10 and original["seed"] == 3
    assert original["unscored"] == ["pos_y"] and original["max_score"] == 0.8
    assert record["summary"]["original_score"] == original["score"] and 0 <= original["score"] <= 0.8
    written = json.loads((run_dir / "eval" / "disentanglement.json").read_text())
    assert written["summary"]["original_score"] == original["score"]


def test_grid_sampler_draws_any_factor_combination_from_the_splits():
    sizes = (2, 3)
    grid = np.stack(np.unravel_index(np.arange(6), sizes), axis=1)
    order = np.random.default_rng(0).permutation(6)
    parts = {"train": order[:3], "valid": order[3:5], "test": order[5:]}
    classes = {s: grid[p] for s, p in parts.items()}
    fetch = {s: (lambda idx, c=classes[s]: (c[idx].astype(np.float32) * 10, None)) for s in parts}
    sample, draw = evaluation.grid_sampler(classes, fetch, sizes)
    wanted = sample(20, np.random.default_rng(1))
    np.testing.assert_array_equal(draw(wanted), wanted * 10)
    with pytest.raises(ValueError, match="5 of the 6"):
        evaluation.grid_sampler({"train": grid[:5]}, {"train": fetch["train"]}, sizes)


def test_bad_requests_are_refused_before_anything_is_written(runs, tmp_path):
    run_dir = runs("aegan")
    cases = {
        "does not apply to this run: it needs a run trained on --dataset=lines": dict(metric="lines"),
        "does not apply to this run: it needs a run trained on dSprites": dict(metric="probe,disentanglement"),
        "unknown metric 'nope'": dict(metric="nope"),
        "--votes must be an integer >= 1": dict(metric="disentanglement", votes=0),
        "unknown checkpoint 'middle'": dict(checkpoint="middle"),
        "--compare is used by the interpolations metric only": dict(metric="probe", compare=[run_dir]),
        "has images of shape (32, 32, 1); this run's are (2,)": dict(metric="interpolations", compare=[run_dir]),
    }
    for expected, kwargs in cases.items():
        target = runs("spiral") if "(2,)" in expected else run_dir
        with pytest.raises(ValueError) as refused:
            evaluation.evaluate_run(target, **kwargs)
        assert expected in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ValueError, match="does not exist"):
        evaluation.evaluate_run(tmp_path / "nowhere", "probe")
    with pytest.raises(ValueError, match="not a run directory"):
        evaluation.evaluate_run(tmp_path, "probe")
    assert not (run_dir / "eval").exists()


def test_cli_prints_name_value_lines_last_and_fails_in_one_line(runs, tmp_path):
    run_dir = runs("spiral")
    cmd = [sys.executable, "-m", "amr_tf.evaluate"]
    procs = {
        "ok": subprocess.Popen([*cmd, f"--run_dir={run_dir}", "--metric=probe", "--checkpoint=last"],
                               cwd=ROOT, env=CLI_ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        "missing": subprocess.Popen([*cmd, f"--run_dir={tmp_path / 'nowhere'}", "--metric=probe"],
                                    cwd=ROOT, env=CLI_ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        "inapplicable": subprocess.Popen([*cmd, f"--run_dir={run_dir}", "--metric=lines"],
                                         cwd=ROOT, env=CLI_ENV, text=True, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE),
    }
    out = {name: (p.communicate(timeout=240), p.returncode) for name, p in procs.items()}
    (stdout, stderr), code = out["ok"]
    assert code == 0, stderr[-2000:]
    lines = stdout.strip().splitlines()
    assert lines[-4:] == [line for line in lines[-4:] if SUMMARY_LINE.match(line)]
    assert [line.split("=")[0] for line in lines[-4:]] == [
        "probe_valid_accuracy", "probe_test_accuracy", "tracked_val_probe_accuracy", "tracked_test_probe_accuracy"]
    assert json.loads((run_dir / "eval" / "probe.json").read_text())["checkpoint"] == "last"
    for name, expected in (("missing", "does not exist"), ("inapplicable", "does not apply")):
        (stdout, stderr), code = out[name]
        assert code == 2 and stdout == ""
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert stderr.startswith("amr_tf.evaluate: error: ") and expected in stderr
