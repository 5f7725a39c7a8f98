"""MirroredStrategy over 2 logical CPUs gives the same training as one device."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
NETS = ("encoder", "decoder", "discriminator", "probe")


def compare(mixer, k, steps, optimizer):
    script = ROOT / "tests" / "scripts" / "mirrored_vs_default.py"
    out = subprocess.run([sys.executable, str(script), mixer, str(k), str(steps), optimizer],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mixer,k", [("mixup", 3), ("bernoulli", 2)])
def test_mirrored_matches_default_with_sgd(mixer, k):
    # SGD's update is proportional to the gradient: a loss averaged per replica instead of over
    # the global batch, or partners drawn per replica, would show here (Adam would hide a scale).
    r = compare(mixer, k, 3, "sgd")
    assert r["replicas"] == 2
    assert r["g_updates"] == [2, 2]  # steps 0 and 2 with update_g_every=2
    for n in NETS:
        assert r["update_size"][n] > 1e-3, n  # the weights really moved
        assert r["max_abs_diff"][n] < 1e-4, (n, r["max_abs_diff"][n])  # float32 round-off only
        assert r["p999_abs_diff"][n] < 1e-5, (n, r["p999_abs_diff"][n])
    for name, value in r["logs_default"].items():
        assert r["logs_mirrored"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def test_mirrored_matches_default_with_the_real_adam():
    r = compare("mixup", 3, 3, "adam")
    for n in NETS:
        # Adam moves each weight by about lr = 1e-4 a step whatever the gradient's size, so a
        # weight whose gradient is ~0 can flip sign on round-off: bound by a few steps' worth.
        assert r["max_abs_diff"][n] < 5e-4, (n, r["max_abs_diff"][n])
        assert r["p999_abs_diff"][n] < 1e-4, (n, r["p999_abs_diff"][n])
    for name, value in r["logs_default"].items():
        assert r["logs_mirrored"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_worker_multi_worker_run_on_localhost_finishes_an_epoch(tmp_path):
    out = tmp_path / "run"
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "amr_tf.train", "--strategy=multi_worker", "--epochs=1",
             "--steps_per_epoch=2", "--batch_size=16", f"--out_dir={out}"],
            cwd=ROOT, env={**ENV, "TF_CONFIG": tf_config}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=540)[0])
    finally:
        for proc in procs:
            proc.kill()
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
        assert "2 replicas" in output
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 2 and rows[1].startswith("1,")  # the chief wrote the one finished epoch
    assert (out / "checkpoints" / "epoch-0001.npz").exists()
    # both workers trained the same replicated model: identical logged losses
    losses = [[part for part in o.splitlines() if "d_loss:" in part][-1].split(" - ")[3:8] for o in outputs]
    assert losses[0] == losses[1]
