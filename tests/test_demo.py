"""`make demo`'s outputs: a decoder that has learned the digits, a labelled interpolation picture,
a TF Serving export, and output a person can read."""

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import cli_env

# The demo as a user runs it (no TF_CPP_MIN_LOG_LEVEL of the suite's), from tmp_path, so that
# saved_models/ (the demo's export folder) is the test's own.
USER_ENV = cli_env(TF_CPP_MIN_LOG_LEVEL=None)
# TensorFlow's C++ and absl log lines ("I1203 12:00:00.000 ...", "E0000 00:00:..."), Python
# warnings and tf.function's retracing warning: none is for the person who typed `make demo`.
NOISE = re.compile(r"^[IWEF]\d{4} |retracing|oneDNN|Warning:|^WARNING")


def _demo(tmp_path):
    # the demo's own settings, 4 of its 6 epochs (for the suite's time: by then its test
    # reconstruction error is already below half the constant image's)
    cmd = [sys.executable, "-m", "amr_tf.demo", "--out_dir=runs/demo", "--epochs=4"]
    return subprocess.run(cmd, cwd=tmp_path, env=USER_ENV, capture_output=True, text=True, timeout=1500)


@pytest.mark.slow
def test_demo_learns_draws_and_exports(tmp_path):
    from amr_tf import checkpoint, data, evaluation

    out = _demo(tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    noise = [line for line in (out.stdout + out.stderr).splitlines() if NOISE.search(line)]
    assert not noise, noise[:5]
    assert "reconstruction L1 on the test digits" in out.stdout

    run = tmp_path / "runs" / "demo"
    config = json.loads((run / "config.json").read_text())
    assert (config["dataset"], config["mixer"], config["k"]) == ("digits", "mixup", 2)
    with open(run / "metrics.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == list(range(1, config["epochs"] + 1))
    picture = (run / "interpolation.png").read_bytes()
    assert picture.startswith(b"\x89PNG") and len(picture) > 1000

    # The drawn checkpoint has learned the digits: its reconstructions are much closer to the
    # inputs than the best constant image (a decoder that ignores its input scores about 1.0 of
    # it), and a decoded strip between two digits goes from one to the other.
    summary = json.loads((run / "demo.json").read_text())
    _, nets, meta = checkpoint.load_networks(run, summary["checkpoint"])
    assert meta["epoch"] == summary["epoch"]
    x, y = data.get_source("digits").arrays("test", None)
    recon = np.clip(nets.decoder(nets.encoder(x, training=False), training=False).numpy(), -1, 1)
    l1 = np.abs(recon - x).mean()
    constant_l1 = np.abs(np.median(x, axis=0) - x).mean()
    assert l1 < 0.6 * constant_l1, (l1, constant_l1)
    assert abs(summary["test_recon_l1"] - l1) < 1e-3 and abs(summary["constant_image_l1"] - constant_l1) < 1e-6
    labels = y.argmax(-1)
    for a, b in ((0, 1), (3, 8), (7, 2)):
        xa, xb = x[np.argmax(labels == a)], x[np.argmax(labels == b)]
        strip = evaluation.interpolation_strip(nets.encoder, nets.decoder, xa, xb, 10, "mixup")
        apart = np.abs(xa - xb).mean()
        # the ends are the two digits, not one texture
        assert np.abs(strip[0] - xa).mean() < 0.6 * apart and np.abs(strip[-1] - xb).mean() < 0.6 * apart, (a, b)
        assert np.abs(strip[0] - strip[-1]).mean() > 0.5 * apart, (a, b)
        # and it moves all along: the middle is neither end
        middle = strip[len(strip) // 2]
        assert min(np.abs(middle - strip[0]).mean(), np.abs(middle - strip[-1]).mean()) > 0.1 * apart, (a, b)

    version = tmp_path / "saved_models" / "demo" / "1"
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    assert "exported for TF Serving: saved_models/demo/1" in out.stdout
    # a second run reuses the finished run and its export: no new version
    again = _demo(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "saved_models" / "demo")) == ["1"]


def test_reconstruction_l1_against_the_best_constant_image():
    import keras

    from amr_tf import evaluation

    x = np.random.default_rng(0).uniform(-1, 1, (9, 4, 4, 1)).astype("float32")
    identity = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Identity()])
    l1, constant_l1 = evaluation.reconstruction_l1(identity, identity, x, batch_size=4)
    assert l1 == 0.0
    # the per-pixel median is the constant image of least L1: no other constant does better
    assert constant_l1 == pytest.approx(np.abs(np.median(x, axis=0) - x).mean())
    assert constant_l1 < min(np.abs(c - x).mean() for c in (x.mean(axis=0), x[0], np.zeros_like(x[0])))
    grey = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Lambda(lambda h: 0.0 * h + 2.0)])
    l1, _ = evaluation.reconstruction_l1(identity, grey, x)  # decoded images are clipped to 1
    assert l1 == pytest.approx(np.abs(1.0 - x).mean())
