"""The training CLI end to end: a short digits run, kill-and-resume, and bad input."""

import csv
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import CLI_ENV, ROOT, run

SHORT = ["--dataset=digits", "--batch_size=16", "--steps_per_epoch=4"]


def train_cmd(*flags):
    return [sys.executable, "-m", "amr_tf.train", *flags]


def read_rows(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_one_short_epoch_writes_the_run_directory(tmp_path):
    out = tmp_path / "run"
    result = run(train_cmd(*SHORT, "--mixer=mixup", "--k=3", "--epochs=1", f"--out_dir={out}"))
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert (config["mixer"], config["k"], config["dataset"]) == ("mixup", 3, "digits")
    assert (out / "checkpoints" / "epoch-0001.data-00000-of-00001").stat().st_size > 100_000
    assert (out / "checkpoints" / "epoch-0001.index").exists()
    assert (out / "checkpoints" / "best-0001.index").exists()
    assert list((out / "logs").rglob("events.out.tfevents.*")), "no TensorBoard events"
    rows = read_rows(out)
    assert [r["epoch"] for r in rows] == ["1"]
    for column in ("recon", "g_gan_recon", "g_gan_mix", "g_loss", "d_real", "d_recon", "d_mix",
                   "d_loss", "consistency", "probe_loss", "probe_accuracy",
                   "val_probe_accuracy", "test_probe_accuracy"):
        assert column in rows[0], column
    assert 0.0 <= float(rows[0]["val_probe_accuracy"]) <= 1.0
    assert float(rows[0]["recon"]) > 0
    assert int(rows[0]["g_updates"]) == 1  # steps 0..3 with update_g_every=5: only step 0
    best = json.loads((out / "best.json").read_text())
    assert best["epoch"] == 1
    assert best["val_probe_accuracy"] == pytest.approx(float(rows[0]["val_probe_accuracy"]))
    assert best["test_probe_accuracy"] == pytest.approx(float(rows[0]["test_probe_accuracy"]))
    pngs = sorted(p.name for p in (out / "images").glob("*.png"))
    assert pngs == ["mixes_epoch0001.png", "reconstructions_epoch0001.png"]
    assert all((out / "images" / p).stat().st_size > 500 for p in pngs)
    assert f"run_dir={out}" in result.stdout
    # absl's INFO lines (TensorFlow's saver wrote one per checkpoint) are not for the user
    assert not [line for line in result.stderr.splitlines() if re.match(r"[IW]\d{4} ", line)], result.stderr[-2000:]


@pytest.mark.numerics
@pytest.mark.slow
def test_sigkill_then_resume_loses_at_most_one_epoch_and_matches_an_unbroken_run(tmp_path):
    flags = [*SHORT, "--mixer=mixup", "--k=2", "--epochs=4", "--update_g_every=2"]
    broken, unbroken = tmp_path / "broken", tmp_path / "unbroken"
    proc = subprocess.Popen(train_cmd(*flags, f"--out_dir={broken}"), cwd=ROOT, env=CLI_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not (broken / "checkpoints" / "epoch-0001.index").exists():
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.time() < deadline, "no checkpoint after 240 s"
            time.sleep(0.05)
        time.sleep(0.5)  # into epoch 2 (or between its writes: both must be safe)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    done_before = [int(r["epoch"]) for r in read_rows(broken)]
    assert done_before and done_before == list(range(1, len(done_before) + 1))
    assert done_before[-1] < 4, "the run finished before the kill; the test proves nothing"

    resumed = run(train_cmd(*flags, f"--out_dir={broken}"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout
    reference = run(train_cmd(*flags, f"--out_dir={unbroken}"))
    assert reference.returncode == 0, reference.stderr[-3000:]

    rows, ref_rows = read_rows(broken), read_rows(unbroken)
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]  # no epoch lost, none repeated
    for row, ref in zip(rows, ref_rows):  # same weights, optimizer state, RNG and data order
        for key in ("g_loss", "d_loss", "recon", "probe_accuracy", "val_probe_accuracy", "g_updates"):
            assert float(row[key]) == pytest.approx(float(ref[key]), rel=1e-4, abs=1e-5), (row["epoch"], key)
    assert sorted(p.name for p in (broken / "checkpoints").glob("epoch-*.index")) == [
        "epoch-0003.index", "epoch-0004.index"]

    again = run(train_cmd(*flags, f"--out_dir={broken}"))  # finished: nothing re-run or rewritten
    assert again.returncode == 0 and "finished all 4 epochs" in again.stdout
    assert read_rows(broken) == rows


@pytest.mark.slow
def test_corrupt_checkpoint_is_one_line_and_nothing_is_overwritten(tmp_path):
    out = tmp_path / "run"
    flags = [*SHORT, "--mixer=none", "--epochs=1", f"--out_dir={out}"]
    assert run(train_cmd(*flags)).returncode == 0
    ckpt = out / "checkpoints" / "epoch-0001.data-00000-of-00001"
    ckpt.write_bytes(ckpt.read_bytes()[:5000])  # a truncated write
    before = ckpt.read_bytes()
    result = run(train_cmd(*flags[:-2], "--epochs=2", f"--out_dir={out}"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert "corrupt" in lines[-1] and "epoch-0001" in lines[-1]
    assert ckpt.read_bytes() == before
    assert [r["epoch"] for r in read_rows(out)] == ["1"]


BAD = {
    "unknown dataset": (["--dataset=imagenet"], ["imagenet", "digits"]),
    "unknown mixer": (["--mixer=cutmix"], ["cutmix", "mixup", "bernoulli"]),
    "k < 2 with a mixer": (["--mixer=mixup", "--k=1"], ["k=1", "mixup"]),
    "negative lamb": (["--lamb=-1"], ["lamb"]),
    "negative beta": (["--beta=-0.5"], ["beta"]),
    "batch_size 0": (["--batch_size=0"], ["batch_size"]),
    "missing run_dir": (["--run_dir=/nonexistent/run"], ["/nonexistent/run"]),
    "unknown bottleneck": (["--bottleneck=64"], ["64", "32"]),
    "kl_weight without vae": (["--kl_weight=4"], ["kl_weight", "--model=vae"]),
    "attributes on digits": (["--cls=1", "--attributes=Male"], ["--attributes", "digits"]),
    "preset cannot take the data": (["--arch=dsprites"], ["dsprites"]),
    "acai with k=3": (["--model=acai", "--k=3"], ["acai", "k=3"]),
    "NaN lamb": (["--lamb=nan"], ["lamb", "finite"]),
    "inf lr": (["--lr=inf"], ["lr", "finite"]),
    "NaN weight_decay": (["--weight_decay=nan"], ["weight_decay", "finite"]),
    "inf probe_lr": (["--probe_lr=inf"], ["probe_lr", "finite"]),
}


@pytest.mark.slow
def test_bad_input_is_one_line_nonzero_and_creates_nothing(tmp_path):
    procs = {}
    for name, (flags, _) in BAD.items():
        out = tmp_path / name.replace(" ", "_")
        cmd = train_cmd(*flags, *([] if "run_dir" in flags[0] else [f"--out_dir={out}"]))
        procs[name] = (out, subprocess.Popen(cmd, cwd=ROOT, env=CLI_ENV, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True))
    for name, (out, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode != 0, name
        assert "Traceback" not in stderr, (name, stderr[-2000:])
        error_lines = [line for line in stderr.splitlines() if "error" in line.lower()]
        assert len(error_lines) == 1, (name, stderr[-2000:])
        for word in BAD[name][1]:
            assert word in error_lines[0], (name, word, error_lines[0])
        assert not out.exists(), name


@pytest.mark.slow
def test_a_run_directory_refuses_other_settings(tmp_path):
    out = tmp_path / "run"
    assert run(train_cmd(*SHORT, "--epochs=1", "--lamb=10", f"--out_dir={out}")).returncode == 0
    config_before = (out / "config.json").read_text()
    result = run(train_cmd(*SHORT, "--epochs=1", "--lamb=5", f"--out_dir={out}"))
    assert result.returncode != 0 and "lamb" in result.stderr.strip().splitlines()[-1]
    refused = run(train_cmd(*SHORT, "--epochs=1", "--lamb=10", "--noresume", f"--out_dir={out}"))
    assert refused.returncode != 0 and "already has checkpoints" in refused.stderr
    assert (out / "config.json").read_text() == config_before
    extended = run(train_cmd("--run_dir=" + str(out), "--epochs=2"))  # continue by run_dir
    assert extended.returncode == 0, extended.stderr[-3000:]
    assert [r["epoch"] for r in read_rows(out)] == ["1", "2"]
