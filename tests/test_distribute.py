"""MirroredStrategy over 2 logical CPUs gives the same training as one device."""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, cli_env

ENV = cli_env(TF_CPP_MIN_LOG_LEVEL="3")
NETS = ("encoder", "decoder", "discriminator", "probe")


def compare(mixer, k, steps, optimizer, dtype="float64", tail=0):
    script = ROOT / "tests" / "scripts" / "mirrored_vs_default.py"
    out = subprocess.run([sys.executable, str(script), mixer, str(k), str(steps), optimizer, dtype, str(tail)],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# Why float64 and these bounds. The two strategies compute the same maths in different orders
# (per-replica convolutions over half the batch, all-reduced gradients), so they differ by
# round-off, which a GAN step then amplifies. In float32 that amplification made the relative
# weight difference anything from 1e-6 to 2.5e-3 depending on the CPU's convolution kernels
# (AVX-512, AVX2, oneDNN off) and the seed: no tolerance between that and a real bug would be
# a bound. In float64 (eps 1.1e-16, and TensorFlow's float64 kernels are Eigen's on every x86
# CPU) the same amplification leaves ~1e-10, while the bugs this test exists for move the
# weights by a large fraction of their update. Measured by breaking each on purpose (SGD, mixer
# bernoulli k=2; Adam, mixup k=3; ||w_default - w_mirrored|| / ||w_default - w_initial||):
#   loss averaged per replica instead of over the global batch:  SGD >= 1.3e-2 (D) and ~1 (f, g)
#                                                                Adam >= 1.9e-4
#   partners drawn per replica instead of over the global batch: SGD >= 2.0e-4, Adam >= 4.7e-4
#   correct code:                                                SGD <= 3.1e-10, Adam <= 4.9e-9
# RELATIVE_BOUND sits four orders of magnitude from either side. The losses go through float32
# (every loss is cast to float32), so their logged means differ by float32 summation order:
# at most ~(terms averaged) * 6e-8 = 24 * 6e-8 < 1.5e-6 relative over 3 steps of 8 examples.
RELATIVE_BOUND = 1e-6
LOG_REL = 1e-5
# Not numerics tests (run again with oneDNN held to AVX2 and with oneDNN off): oneDNN has no
# float64 kernels, so those settings leave these float64 runs on the same Eigen kernels. The
# script's output was the same to the bit under all three (the three cases below, on an AMD EPYC
# Zen 4 with AVX-512): running them again would repeat the same computation.


def _assert_same_training(r, moved):
    for n in NETS:
        assert r["update_size"][n] > moved, n  # the weights really moved
        assert r["relative_diff"][n] < RELATIVE_BOUND, (n, r["relative_diff"][n])
    for name, value in r["logs_default"].items():
        assert r["logs_mirrored"][name] == pytest.approx(value, rel=LOG_REL, abs=1e-7), name


@pytest.mark.parametrize("mixer,k,tail", [("mixup", 3, 0), ("bernoulli", 2, 4)])
@pytest.mark.slow
def test_mirrored_matches_default_with_sgd(mixer, k, tail):
    # SGD's update is proportional to the gradient: a loss averaged per replica instead of over
    # the global batch, or partners drawn per replica, would show here (Adam would hide a scale).
    # tail: a fourth, partial batch of 4 (last_batch="keep"), split 2 + 2 across the replicas.
    r = compare(mixer, k, 3, "sgd", tail=tail)
    assert r["replicas"] == 2
    assert r["g_updates"] == [2, 2]  # steps 0 and 2 with update_g_every=2
    _assert_same_training(r, moved=1e-3)


@pytest.mark.slow
def test_mirrored_matches_default_with_the_real_adam():
    r = compare("mixup", 3, 3, "adam")
    assert r["g_updates"] == [2, 2]
    _assert_same_training(r, moved=1.5e-4)  # Adam moves a weight by about lr = 1e-4 an update


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


VAE_UNDER_MIRRORED = """
import json
import numpy as np
import tensorflow as tf
from trainers import strategy as strategies
from trainers import loop
from trainers.base import EVAL_NAMES
from trainers.build import build_trainer
from amr_tf.config import Config
from amr_tf.data.sources import DataInfo

strategy = strategies.make_strategy("mirrored", 2)
config = Config(dataset="dsprites_procedural", model="vae", batch_size=8, epochs=1, steps_per_epoch=2)
info = DataInfo("random", (64, 64, 1), 3, {"train": 16, "valid": 8, "test": 8}, "tests")
with strategy.scope():
    trainer = build_trainer(config, info)
rng = np.random.default_rng(0)
x = np.where(rng.uniform(size=(16, 64, 64, 1)) > 0.5, 1.0, -1.0).astype("float32")
y = np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]
batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
history = loop.fit_distributed(trainer, strategy, batches.repeat(), epochs=1, initial_epoch=0, steps_per_epoch=2,
                               validation_data=batches, callbacks=[], verbose=0, eval_names=EVAL_NAMES)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "steps": int(trainer.ae_optimizer.iterations.numpy()),
                  "kl": history.history["kl"][-1]}))
"""


def test_the_vae_trains_under_mirrored_strategy():
    # Our loop counts steps with the trainer's step optimizer: the VAE has no discriminator
    # (the loop used to read d_optimizer.iterations, an AttributeError for the VAE).
    out = subprocess.run([sys.executable, "-c", VAE_UNDER_MIRRORED], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["replicas"] == 2 and r["steps"] == 2 and r["kl"] >= 0


# -- resuming from a checkpoint under the strategies ------------------------------------------

SMALL = ["--epochs={}", "--steps_per_epoch=2", "--batch_size=16", "--mixer=mixup", "--k=2", "--update_g_every=2"]
COMPARED = ("g_loss", "d_loss", "recon", "probe_accuracy", "val_probe_accuracy", "g_updates")


def _flags(epochs):
    return [flag.format(epochs) for flag in SMALL]


def _rows(out):
    import csv

    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _multi_worker(out, epochs):
    """Two MultiWorkerMirroredStrategy workers on localhost training into `out` (`epochs` of the small
    run, or a list of train flags); their outputs, once both exited 0."""
    flags = _flags(epochs) if isinstance(epochs, int) else list(epochs)
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "amr_tf.train", "--strategy=multi_worker", *flags, f"--out_dir={out}"],
            cwd=ROOT, env={**ENV, "TF_CONFIG": tf_config}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=540)[0])
    finally:
        for proc in procs:
            proc.kill()
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
    return outputs


def _mirrored(out, epochs):
    result = subprocess.run([sys.executable, "-m", "amr_tf.train", "--strategy=mirrored", "--logical_cpus=2",
                             *_flags(epochs), f"--out_dir={out}"], cwd=ROOT, env=ENV, capture_output=True,
                            text=True, timeout=540)
    assert result.returncode == 0, result.stderr[-3000:]
    return [result.stdout]


# Not numerics tests (run again on other kernels): a resume equals an unbroken run on any kernels.
@pytest.mark.slow
def test_a_mirrored_run_resumed_from_its_checkpoint_matches_an_unbroken_one(tmp_path):
    """Epoch 1, then a second command that resumes from the epoch-1 checkpoint, gives the rows of
    one two-epoch run, to the bit (MirroredStrategy over 2 logical CPUs)."""
    _assert_resume_matches_unbroken(tmp_path, _mirrored)


@pytest.mark.slow
def test_two_worker_multi_worker_run_on_localhost_finishes_an_epoch(tmp_path):
    """Two MultiWorkerMirroredStrategy workers on localhost: the first epoch is a run of its own
    (2 replicas, the chief's one row and checkpoint, the same losses logged by both workers), and
    a second command that resumes from it (every worker reads the chief's checkpoint) gives the
    rows of one two-epoch run, to the bit."""
    def check_first_epoch(out, outputs):
        assert all("2 replicas" in output for output in outputs)
        # both workers trained the same replicated model: identical logged losses
        losses = [[part for part in o.splitlines() if "d_loss:" in part][-1].split(" - ")[3:8] for o in outputs]
        assert losses[0] == losses[1]

    _assert_resume_matches_unbroken(tmp_path, _multi_worker, check_first_epoch)


def _assert_resume_matches_unbroken(tmp_path, train, check_first_epoch=None):
    unbroken, resumed = tmp_path / "unbroken", tmp_path / "resumed"
    train(unbroken, 2)
    first = train(resumed, 1)
    assert [r["epoch"] for r in _rows(resumed)] == ["1"]  # the chief wrote the one finished epoch
    assert (resumed / "checkpoints" / "epoch-0001.index").exists()
    if check_first_epoch is not None:
        check_first_epoch(resumed, first)
    outputs = train(resumed, 2)
    assert all("resuming" in output and "epoch-0001" in output for output in outputs), outputs[0][-2000:]
    rows, reference = _rows(resumed), _rows(unbroken)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for row, ref in zip(rows, reference):
        assert {k: row[k] for k in COMPARED} == {k: ref[k] for k in COMPARED}, row["epoch"]
    assert sorted(p.name for p in (resumed / "checkpoints").glob("*.index"))[-2:] == [
        "epoch-0001.index", "epoch-0002.index"]


def test_a_batch_the_replicas_do_not_divide_is_refused_in_one_line(tmp_path):
    """16 examples over 3 replicas: the global-batch gather assumes equal shares, so it would
    train on something else; it is refused before anything is written."""
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "amr_tf.train", "--strategy=mirrored", "--logical_cpus=3",
                             "--dataset=digits", "--batch_size=16", "--steps_per_epoch=1", "--epochs=1",
                             f"--out_dir={out}"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "batch_size=16 does not split evenly over 3 replicas" in errors[0], errors
    assert "Traceback" not in result.stderr and not out.exists()
