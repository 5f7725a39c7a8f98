"""Fault injection: what a run directory looks like after things go wrong (tiny digits runs)."""

import csv
import dataclasses
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from amr_tf import data
from tests.helpers import CLI_ENV, ROOT, run_cli, tiny_config
from trainers import run
from trainers.build import build_trainer


class _Poison(keras.callbacks.Callback):
    """Makes the decoder's weights NaN at the first step of epoch `epoch` (counted from 1)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == 0:
            for v in self.model.decoder.trainable_variables:
                v.assign(np.full(v.shape, np.nan, v.dtype))


def test_a_nan_stop_raises_naming_the_loss_the_step_and_an_existing_checkpoint(tmp_path):
    config = tiny_config(epochs=3, steps_per_epoch=2)
    out = tmp_path / "run"
    trainer = build_trainer(config, data.info("digits"))
    with pytest.raises(run.TrainingDiverged) as caught:
        run.fit(config, out, verbose=0, trainer=trainer, extra_callbacks=[_Poison(2)])
    message = str(caught.value)
    assert "epoch 2, step 1" in message and "recon" in message
    named = out / "checkpoints" / "epoch-0001"
    assert str(named) in message and (out / "checkpoints" / "epoch-0001.index").exists()
    assert caught.value.best["epoch"] == 1
    with open(out / "metrics.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1]  # the diverged epoch has no row
    assert not list((out / "checkpoints").glob("epoch-0002*"))
    assert not list((out / "images").glob("*_epoch0002.png"))  # nor NaN pictures
    assert list((out / "images").glob("*_epoch0001.png"))


@pytest.mark.slow
def test_a_nan_stop_exits_non_zero_in_one_line(tmp_path):
    out = tmp_path / "run"
    result = run_cli("amr_tf.train", "--dataset=digits", "--lamb=1e38", "--epochs=2", "--steps_per_epoch=2",
                     "--batch_size=8", f"--out_dir={out}")
    assert result.returncode == 3, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "training diverged: non-finite g_loss at epoch 1, step 1" in errors[0], errors
    assert "no epoch finished" in errors[0] and "Traceback" not in result.stderr


# -- the run directory belongs to one run ---------------------------------------------------

TRAIN = ["--dataset=digits", "--batch_size=16", "--steps_per_epoch=3"]


def _epochs(out):
    with open(out / "metrics.csv", newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def _fit(out, epochs, **kwargs):
    config = tiny_config(epochs=epochs, steps_per_epoch=2)
    return run.fit(config, out, verbose=0, **kwargs)


@pytest.mark.slow
def test_two_processes_on_one_run_directory_one_trains_the_other_exits_2(tmp_path):
    out = tmp_path / "conc"
    cmd = [sys.executable, "-m", "amr_tf.train", *TRAIN, "--epochs=2", f"--out_dir={out}"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=CLI_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], [(c, e[-1500:]) for c, _, e in results]
    loser = next(err for code, _, err in results if code == 2)
    winner_pid = next(p.pid for p, (code, _, _) in zip(procs, results) if code == 0)
    errors = [line for line in loser.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and f"in use by another process (pid {winner_pid}, train)" in errors[0], errors
    assert _epochs(out) == [1, 2]  # every row once


@pytest.mark.slow
def test_a_held_directory_is_refused_and_a_killed_holder_leaves_no_lock(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom amr_tf import rundir\n"
                               f"with rundir.locked({str(out)!r}, 'test'):\n    print('held', flush=True)\n"
                               "    time.sleep(120)"], cwd=ROOT, env=CLI_ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=f"in use by another process \\(pid {holder.pid}, test\\)"):
            _fit(out, 1)
        assert not (out / "config.json").exists()  # refused before anything was written
    finally:
        holder.kill()  # SIGKILL: the kernel releases the lock
        holder.wait()
    _fit(out, 1)
    assert _epochs(out) == [1]


@pytest.mark.slow
def test_no_checkpoint_but_history_is_refused_unless_restart(tmp_path):
    out = tmp_path / "run"
    _fit(out, 2)
    for path in (out / "checkpoints").iterdir():
        path.unlink()
    config_before = (out / "config.json").read_text()
    with pytest.raises(ValueError, match="2 epoch\\(s\\) in metrics.csv but no checkpoint.*--restart"):
        _fit(out, 3)
    assert (out / "config.json").read_text() == config_before and _epochs(out) == [1, 2]
    _fit(out, 1, restart=True)
    assert _epochs(out) == [1]
    backups = list(out.glob("restart-backup-*"))
    assert len(backups) == 1 and (backups[0] / "metrics.csv").exists()
    with open(backups[0] / "metrics.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]


@pytest.mark.slow
def test_resuming_from_an_older_checkpoint_moves_later_rows_aside(tmp_path):
    """The program's own advice for a corrupt newest checkpoint is to delete it: the resume then
    starts after the older one, and the rows and pictures past it must not stay or repeat."""
    out = tmp_path / "run"
    _fit(out, 3)
    for path in (out / "checkpoints").glob("epoch-0003.*"):
        path.unlink()
    _fit(out, 3)
    assert _epochs(out) == [1, 2, 3]
    with open(out / "metrics.after-epoch-2.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [3]
    assert sorted(p.name for p in (out / "images.after-epoch-2").iterdir()) == [
        "mixes_epoch0003.png", "reconstructions_epoch0003.png"]
    assert (out / "images" / "mixes_epoch0003.png").exists()  # the new epoch 3's


def test_a_refused_resume_writes_nothing(tmp_path):
    out = tmp_path / "run"
    _fit(out, 2)
    (out / "checkpoints" / "epoch-0002.data-00000-of-00001").write_bytes(b"garbage")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="epoch-0002 is corrupt"):
        _fit(out, 3)  # epochs 2 -> 3 must not reach config.json
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == {p: v for p, v in before.items() if p.name != ".lock"}


@pytest.mark.slow
def test_a_torn_last_line_is_repaired_from_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    _fit(out, 2)
    text = (out / "metrics.csv").read_text()
    (out / "metrics.csv").write_text(text[:-15])  # killed mid-append of row 2
    _fit(out, 3)
    assert _epochs(out) == [1, 2, 3]
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(len(r) == len(rows[0]) and None not in r.values() for r in rows)
    assert float(rows[1]["recon"]) > 0


@pytest.mark.slow
def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "run"
    _fit(out, 1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = out / "checkpoints" / f".epoch-0002.tmp-{dead_pid}"  # with TensorFlow's half-written parts
    (stale / "epoch-0002_temp").mkdir(parents=True)
    (stale / "epoch-0002_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 1000)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        live = out / "checkpoints" / f".best-0002.tmp-{sleeper.pid}"  # another run's, still writing
        live.mkdir()
        (live / "best-0002.index").write_bytes(b"x")
        _fit(out, 2)
        assert not stale.exists() and live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_symlinked_run_files_are_refused(tmp_path):
    out = tmp_path / "run"
    _fit(out, 1)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text((out / "metrics.csv").read_text())
    (out / "metrics.csv").unlink()
    (out / "metrics.csv").symlink_to(outside)
    before = outside.read_text()
    with pytest.raises(ValueError, match="metrics.csv is a symlink"):
        _fit(out, 2)
    assert outside.read_text() == before


def test_an_out_dir_that_is_a_file_is_one_line(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    result = run_cli("amr_tf.train", *TRAIN, "--epochs=1", f"--out_dir={path}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "exists and is not a directory" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_concurrent_exports_take_two_versions_and_stale_export_folders_go(tmp_path):
    out = tmp_path / "run"
    _fit(out, 1)
    models = tmp_path / "models"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (models / "m").mkdir(parents=True)
    stale = models / "m" / f".export-{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "saved_model.pb").write_bytes(b"half")
    cmd = [sys.executable, "-m", "amr_tf.export", f"--run_dir={out}", f"--export_dir={models}", "--model_name=m"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=CLI_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.communicate()[1][-2000:]
    assert sorted(p.name for p in (models / "m").iterdir() if not p.name.startswith(".")) == ["1", "2"]
    assert all((models / "m" / v / "saved_model.pb").exists() for v in ("1", "2"))
    assert not stale.exists()


# -- broken inputs are one line -------------------------------------------------------------

def _fashion_copy(tmp_path, damage):
    import shutil

    from amr_tf.data import idx

    folder = tmp_path / "fashion"
    shutil.copytree(idx.DEBIAN_FASHION_MNIST, folder)
    target = next(folder.glob("train-images*"))
    damage(target)
    return folder, target


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"), reason="needs dataset-fashion-mnist")
@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_fashion_mnist_files_are_one_line_naming_the_file(tmp_path, damage):
    def hurt(path):
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2] if damage == "truncated" else b"not a gzip file at all" * 100)

    folder, target = _fashion_copy(tmp_path, hurt)
    result = run_cli("amr_tf.train", "--dataset=fashion_mnist", f"--data_dir={folder}", "--epochs=1",
                     "--steps_per_epoch=1", f"--out_dir={tmp_path / 'run'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert str(target) in last and "damaged" in last, last
    assert not (tmp_path / "run").exists()


def test_a_missing_data_dir_is_refused_not_replaced(tmp_path):
    result = run_cli("amr_tf.train", "--dataset=fashion_mnist", f"--data_dir={tmp_path / 'nowhere'}", "--epochs=1",
                     f"--out_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "does not exist" in result.stderr.strip().splitlines()[-1] and "nowhere" in result.stderr


def test_a_flag_of_the_wrong_type_exits_2_in_one_line():
    result = run_cli("amr_tf.train", "--k=two")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and "--k=two" in lines[0], lines


@pytest.mark.slow
def test_a_config_json_of_the_wrong_type_is_one_line_in_train_export_and_evaluate(tmp_path):
    import json

    out = tmp_path / "run"
    _fit(out, 1)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "k": "two"}))
    for module, flags in (("amr_tf.train", [f"--run_dir={out}"]),
                          ("amr_tf.export", [f"--run_dir={out}", f"--export_dir={tmp_path / 'm'}"]),
                          ("amr_tf.evaluate", [f"--run_dir={out}", "--metric=probe"])):
        result = run_cli(module, *flags)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (module, result.stderr[-2000:])
        assert "k must be an int, got 'two'" in result.stderr.strip().splitlines()[-1], module


def test_checkpoint_metadata_of_the_wrong_type_is_refused(tmp_path):
    from amr_tf import checkpoint
    from trainers.checkpoint import objects

    out = tmp_path / "run"
    _fit(out, 1)
    path = out / "checkpoints" / "epoch-0001"
    trainer = build_trainer(tiny_config(epochs=1, steps_per_epoch=2), data.info("digits"))
    checkpoint.save(path, objects(trainer), {"epoch": "one", "history": []})
    with pytest.raises(checkpoint.CheckpointError, match="epoch-0001 is corrupt"):
        _fit(out, 2)


@pytest.mark.slow
def test_a_run_directory_of_an_older_amr_tf_is_refused_not_restarted(tmp_path):
    """Its .npz checkpoints are not this version's: one line says so (train, export, the CLI),
    nothing is written, and the run does not silently start again from epoch 0."""
    from amr_tf import checkpoint, rundir

    out = tmp_path / "run"  # what an older amr_tf left after one epoch: config, its row, .npz files
    rundir.write_json(rundir.config_path(out), dataclasses.asdict(tiny_config(epochs=1, steps_per_epoch=2)))
    (out / "metrics.csv").write_text("epoch,val_probe_accuracy\n1,0.5\n")
    folder = rundir.checkpoints_dir(out)
    folder.mkdir()
    for name in ("epoch-0001.npz", "best.npz"):  # as the .npz format's save wrote them
        np.savez(folder / name, **{"encoder/0000": np.zeros(3, np.float32),
                                   "__meta__": np.frombuffer(b'{"epoch": 1, "history": []}', np.uint8)})
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(checkpoint.CheckpointError, match="epoch-0001.npz was written by an older amr_tf"):
        _fit(out, 2)
    with pytest.raises(checkpoint.CheckpointError, match="best.npz was written by an older amr_tf"):
        checkpoint.load_networks(out)
    result = run_cli("amr_tf.train", f"--run_dir={out}", "--epochs=2")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert "epoch-0001.npz was written by an older amr_tf" in lines[-1] and "--restart" in lines[-1], lines
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"} == before
    _fit(out, 1, restart=True)  # what the message offers: the old history set aside, a new run
    assert _epochs(out) == [1] and checkpoint.latest(out / "checkpoints") == out / "checkpoints" / "epoch-0001"
    backups = list(out.glob("restart-backup-*"))
    assert len(backups) == 1 and (backups[0] / "checkpoints" / "epoch-0001.npz").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory anyway")
def test_an_unwritable_run_directory_is_one_line(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = run_cli("amr_tf.train", *TRAIN, "--epochs=1", f"--out_dir={out}")
    finally:
        out.chmod(0o700)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot use" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_ctrl_c_is_one_line_naming_where_the_run_resumes(tmp_path):
    import signal
    import time

    def as_from_a_terminal():
        # A shell in a terminal starts a command with SIGINT deliverable and at its default. A test
        # worker need not be in that state (under pytest-xdist the Ctrl-C was lost: the child ran
        # all 50 epochs and exited 0), and a child inherits a blocked or ignored signal.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "amr_tf.train", *TRAIN, "--epochs=50", f"--out_dir={out}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=CLI_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal)
    deadline = time.time() + 240
    while not (out / "checkpoints" / "epoch-0001.index").exists() and time.time() < deadline:
        time.sleep(0.5)
    with open(f"/proc/{proc.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    status = {k: v.strip() for k, v in status.items()}
    masks = {k: status.get(k) for k in ("SigBlk", "SigIgn", "SigCgt")}
    assert not int(masks["SigBlk"], 16) & 2 and not int(masks["SigIgn"], 16) & 2, masks  # SIGINT is bit 1
    proc.send_signal(signal.SIGINT)
    # Long enough for the 49 epochs left to finish on a loaded machine, should the signal be lost:
    # then the exit code and the epochs printed say so.
    stdout, stderr = proc.communicate(timeout=400)
    assert proc.returncode == 130, (proc.returncode, stdout.count("Epoch "), masks, stderr[-2000:])
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("amr_tf.train: error: interrupted; the same command resumes") and "epoch-" in last, last


# -- SIGKILL at the end of an epoch and during an export --------------------------------------

KILL_FLAGS = [*TRAIN, "--mixer=mixup", "--k=2", "--epochs=3", "--update_g_every=2"]


def _kill_when(cmd, ready, timeout=240):
    """Starts `cmd`, SIGKILLs it as soon as `ready()` is true; returns whether it was killed."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=CLI_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while not ready():
            if proc.poll() is not None or time.time() > deadline:
                return False
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        return True
    finally:
        proc.wait(timeout=60)


def _all_readable(out):
    from amr_tf import checkpoint

    with open(out / "metrics.csv", newline="") as f:
        list(csv.DictReader(f))
    for path in out.rglob("*.json"):
        json.loads(path.read_text())
    for path in (out / "checkpoints").glob("*.index"):
        checkpoint.read(path.with_suffix(""))


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    out = tmp_path_factory.mktemp("unbroken") / "run"
    result = run_cli("amr_tf.train", *KILL_FLAGS, f"--out_dir={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _rows(out):
    path = out / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("point", ["checkpoint written, row not yet", "row written, best.json not yet"])
@pytest.mark.slow
def test_sigkill_at_an_epochs_end_loses_nothing_and_resumes_to_the_unbroken_run(tmp_path, unbroken, point):
    out = tmp_path / "run"
    if point.startswith("checkpoint"):
        ready = lambda: (out / "checkpoints" / "epoch-0002.index").exists()  # noqa: E731
    else:
        ready = lambda: len(_rows(out)) >= 2  # noqa: E731
    assert _kill_when([sys.executable, "-m", "amr_tf.train", *KILL_FLAGS, f"--out_dir={out}"], ready), \
        "the run ended before the kill point"
    _all_readable(out)
    before = [int(r["epoch"]) for r in _rows(out)]
    assert before == list(range(1, len(before) + 1))
    resumed = run_cli("amr_tf.train", *KILL_FLAGS, f"--out_dir={out}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _all_readable(out)
    rows = _rows(out)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    for row, ref in zip(rows, unbroken):
        for key in ("g_loss", "d_loss", "recon", "val_probe_accuracy", "g_updates"):
            assert float(row[key]) == pytest.approx(float(ref[key]), rel=1e-4, abs=1e-5), (row["epoch"], key)
    assert json.loads((out / "best.json").read_text())["epoch"] in (1, 2, 3)


@pytest.mark.slow
def test_sigkill_during_an_export_leaves_no_version_and_the_next_export_cleans_up(tmp_path):
    out = tmp_path / "run"
    _fit(out, 1)
    models = tmp_path / "models"
    cmd = [sys.executable, "-m", "amr_tf.export", f"--run_dir={out}", f"--export_dir={models}", "--model_name=m"]
    assert _kill_when(cmd, lambda: bool(glob.glob(str(models / "m" / ".export-*" / "*")))), "export ended first"
    assert not [p for p in (models / "m").iterdir() if p.name.isdigit()]  # TF Serving sees no half version
    assert glob.glob(str(models / "m" / ".export-*"))
    result = run_cli("amr_tf.export", f"--run_dir={out}", f"--export_dir={models}", "--model_name=m")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in (models / "m").iterdir() if not p.name.startswith(".")) == ["1"]
    assert not glob.glob(str(models / "m" / ".export-*"))


# -- kills anywhere in an epoch's end: the invariants hold after every resume ----------------

class _Killed(BaseException):
    """Stands for a SIGKILL between two of an epoch end's writes (nothing after it runs)."""


def _kill_at(monkeypatch, event):
    """Raises _Killed before the `event`-th write of the epoch-end sequence (best checkpoint,
    epoch checkpoint, metrics row, best.json, pruning; counted over all epochs from 1)."""
    from amr_tf import checkpoint as ckpt
    from trainers import callbacks

    seen = [0]

    def before(fn):
        def wrapped(*args, **kwargs):
            seen[0] += 1
            if seen[0] == event:
                raise _Killed()
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(ckpt, "save", before(ckpt.save))
    monkeypatch.setattr(ckpt, "prune", before(ckpt.prune))
    monkeypatch.setattr(callbacks, "write_json", before(callbacks.write_json))
    monkeypatch.setattr(callbacks.RunRecorder, "_append", before(callbacks.RunRecorder._append))


def _check_invariants(out):
    """Every epoch's row once and in order, up to the newest checkpoint; best.json names the best
    of those rows, its checkpoint exists, and export and evaluate would take that one."""
    from amr_tf import checkpoint

    ckpts = out / "checkpoints"
    last = checkpoint.read_meta(checkpoint.latest(ckpts))
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, last["epoch"] + 1))
    assert [r["epoch"] for r in last["history"]] == list(range(1, last["epoch"] + 1))
    accuracy = [float(r["val_probe_accuracy"]) for r in rows]
    best = int(np.argmax(accuracy)) + 1  # the first of equals, as the run's own rule
    assert json.loads((out / "best.json").read_text())["epoch"] == best
    assert checkpoint.find(out, "best") == ckpts / f"best-{best:04d}"
    assert checkpoint.read_meta(ckpts / f"best-{best:04d}")["epoch"] == best
    numbers = {int(p.name.split("-")[1].split(".")[0]) for p in ckpts.iterdir() if p.name[:5] in ("epoch", "best-")}
    assert max(numbers) <= last["epoch"], sorted(os.listdir(ckpts))


@pytest.mark.slow
def test_kills_anywhere_in_the_epoch_end_keep_every_row_once_and_the_best_the_one_best_json_names(
        tmp_path, monkeypatch):
    from amr_tf import checkpoint

    out, epochs = tmp_path / "run", 5
    # val_probe_accuracy moves every epoch at this step size, so bests change hands (one step an
    # epoch, at the probe's learning rate)
    config = tiny_config(epochs=epochs, steps_per_epoch=1, batch_size=16)
    # One trainer for every attempt, as a new process would rebuild it: each resume restores all
    # its state (weights, optimizer slots, RNG) from the checkpoint, and its step is traced once.
    trainer = build_trainer(config, data.info("digits"))
    rng = np.random.default_rng(0)
    kills = 0
    for _ in range(12):
        with monkeypatch.context() as patch:
            _kill_at(patch, int(rng.integers(1, 10)))
            try:
                run.fit(config, out, verbose=0, trainer=trainer)
            except _Killed:
                kills += 1
        ckpts = out / "checkpoints"
        complete = [p for p in sorted(ckpts.glob("epoch-*.index")) if checkpoint.is_complete(ckpts / p.stem)]
        if len(complete) >= 2 and rng.random() < 0.3:
            # the newest found corrupt and deleted, as the refusal advises: a resume one epoch back
            for path in ckpts.glob(complete[-1].stem + ".*"):
                path.unlink()
        if checkpoint.latest(ckpts) is None:
            continue  # killed before the first epoch checkpoint: the next attempt starts afresh
        # a resume that trains nothing (the run's own epochs) repairs the directory
        latest = checkpoint.read_meta(checkpoint.latest(ckpts))["epoch"]
        run.fit(dataclasses.replace(config, epochs=latest), out, verbose=0, trainer=trainer)
        _check_invariants(out)
        if latest == epochs and kills >= 4:
            break
    assert kills >= 4


# -- a full disk: one line naming what and where, exit 1, the run directory consistent --------

@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs (a checkpoint of these networks is 4.6 MB: the first epoch's second one does
    not fit); skips where this process may not mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {(mounted.stderr.strip() or 'mount failed')[:120]}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _one_error_line(result):
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr[-2000:]
    return errors[0]


@pytest.mark.slow
def test_a_full_disk_while_checkpointing_is_one_line_and_the_run_stays_consistent(small_disk):
    out = small_disk / "run"
    result = run_cli("amr_tf.train", *TRAIN, "--epochs=2", f"--out_dir={out}")
    assert result.returncode == 1, result.stderr[-2000:]
    line = _one_error_line(result)
    assert "space" in line.lower() and str(out) in line, line
    # nothing claims an epoch that has no checkpoint
    rows = _epochs(out) if (out / "metrics.csv").exists() else []
    from amr_tf import checkpoint
    latest = checkpoint.latest(out / "checkpoints")
    assert rows == (list(range(1, checkpoint.read_meta(latest)["epoch"] + 1)) if latest else [])


@pytest.mark.slow
def test_a_full_disk_while_exporting_is_one_line_and_leaves_no_version(tmp_path, small_disk):
    out = tmp_path / "run"
    _fit(out, 1)
    (small_disk / "filler").write_bytes(b"\0" * (5 << 20))  # 1 MB left: less than the SavedModel
    result = run_cli("amr_tf.export", f"--run_dir={out}", f"--export_dir={small_disk}")
    assert result.returncode == 1, result.stderr[-2000:]
    line = _one_error_line(result)
    assert "space" in line.lower() and str(small_disk) in line, line
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "run"]
    assert list((small_disk / "run").iterdir()) == []  # no version, no half-written folder


# -- names that become folders ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["../x", "a/b", "abc\n", ".hidden", "-x", "", "two words", None])
def test_a_name_that_is_no_plain_folder_name_is_refused(name):
    from amr_tf import rundir

    with pytest.raises(ValueError, match="must be letters, digits"):
        rundir.check_folder_name("model name", name)


def test_plain_folder_names_pass():
    from amr_tf import rundir

    for name in ("demo", "digits_mixup_k2_lamb10_s0", "run-1.2"):
        assert rundir.check_folder_name("model name", name) == name


def test_exports_default_model_name_is_checked_too(tmp_path):
    from amr_tf.serving import export_run

    run_dir = tmp_path / "my run"  # a run directory's name that is no model name
    run_dir.mkdir()
    with pytest.raises(ValueError, match="model name 'my run' .* \\(the run directory's name: give one with"):
        export_run(run_dir, tmp_path / "exports")
    with pytest.raises(ValueError, match="model name 'abc\\\\n' must be"):
        export_run(run_dir, tmp_path / "exports", model_name="abc\n")
    assert not (tmp_path / "exports").exists()


# -- the history's details ------------------------------------------------------------------


@pytest.mark.slow
def test_a_rollback_moves_the_abandoned_best_aside_and_the_best_stays_the_one_best_json_names(tmp_path):
    """Epoch 3 deleted as corrupt, as the refusal advises: best-0003 (had epoch 3 been the best)
    must not stay the run's best, and what export and evaluate take is best.json's."""
    from amr_tf import checkpoint

    out = tmp_path / "run"
    _fit(out, 3)
    ckpts = out / "checkpoints"
    if not (ckpts / "best-0003.index").exists():  # make epoch 3 a best, as it may well be
        for path in ckpts.glob("epoch-0003.*"):
            shutil.copy(path, ckpts / path.name.replace("epoch-", "best-"))
    for path in ckpts.glob("epoch-0003.*"):
        path.unlink()
    _fit(out, 2)  # resumes at epoch 2, trains nothing
    assert not list(ckpts.glob("*-0003.*"))
    assert (out / "checkpoints.after-epoch-2" / "best-0003.index").exists()
    best = json.loads((out / "best.json").read_text())["epoch"]
    assert best <= 2 and checkpoint.find(out, "best") == ckpts / f"best-{best:04d}"


def test_a_restart_sets_the_old_evaluation_aside_too(tmp_path):
    # what --restart moves: an old eval/ left beside a new run would be reported as its scores
    from amr_tf import rundir

    for name in ("eval", "images"):
        (tmp_path / name).mkdir()
    (tmp_path / "eval" / "probe.json").write_text("{}")
    (tmp_path / "metrics.csv").write_text("epoch\n1\n")
    backup = rundir.set_aside(tmp_path, rundir.RESTART_MOVES)
    assert not (tmp_path / "eval").exists() and (backup / "eval" / "probe.json").exists()
    assert (backup / "metrics.csv").exists() and (backup / "images").is_dir()


def test_metrics_rows_out_of_order_are_put_back_in_order(tmp_path):
    from amr_tf import rundir

    history = [{"epoch": e, "recon": 0.5 / e} for e in (1, 2, 3)]
    (tmp_path / "metrics.csv").write_text("epoch,recon\n1,0.5\n3,0.16666666666666666\n2,0.25\n")
    assert rundir.repair_history(tmp_path, history, 3) == ["put the rows of metrics.csv back in epoch order"]
    assert _epochs(tmp_path) == [1, 2, 3]
    assert rundir.repair_history(tmp_path, history, 3) == []  # in order now: nothing to do


def test_a_checkpoint_whose_history_disagrees_with_its_epoch_is_refused(tmp_path):
    from amr_tf import checkpoint
    from trainers.checkpoint import objects

    out = tmp_path / "run"
    _fit(out, 1)
    ckpts = out / "checkpoints"
    meta = checkpoint.read_meta(ckpts / "epoch-0001")
    trainer = build_trainer(tiny_config(epochs=2, steps_per_epoch=2), data.info("digits"))
    checkpoint.restore(objects(trainer), ckpts / "epoch-0001")
    checkpoint.save(ckpts / "epoch-0002", objects(trainer), {**meta, "epoch": 2})  # one row, epoch 2
    with pytest.raises(ValueError, match="epoch-0002 is of epoch 2 but its history holds epochs \\[1\\]"):
        _fit(out, 3)
    assert _epochs(out) == [1]


def test_out_dir_beside_run_dir_is_one_line(tmp_path):
    result = run_cli("amr_tf.train", f"--run_dir={tmp_path}", f"--out_dir={tmp_path / 'other'}")
    assert result.returncode == 2
    assert "give --run_dir (continue that run) or --out_dir (where a new run goes), not both" in \
        _one_error_line(result)


@pytest.mark.parametrize("error, errno_name, code", [
    ("ResourceExhaustedError", "ENOSPC", 1),  # a full disk: the machine's fault
    ("InvalidArgumentError", "ENAMETOOLONG", 2),  # a path the user gave
])
def test_tensorflows_write_errors_become_one_os_error_line(error, errno_name, code):
    import errno

    import tensorflow as tf

    from amr_tf import cli, rundir

    node = "{{function_node __wrapped__SaveV2_dtypes_9_device_/job:localhost/replica:0/task:0/device:CPU:0}}"
    temporary = "/runs/x/checkpoints/.epoch-0001.tmp-1/epoch-0001_temp/part-00000-of-00001.data-00000-of-00001"
    message = f"{node} {temporary}; " + ("No space left on device" if code == 1 else "File name too long")
    with pytest.raises(OSError) as caught:
        with rundir.tensorflow_writes("/runs/x/checkpoints/epoch-0001"):
            raise getattr(tf.errors, error)(None, None, message)
    assert caught.value.errno == getattr(errno, errno_name)
    line, exit_code = cli.os_error_line(caught.value)
    assert exit_code == code and "\n" not in line and "function_node" not in line
    assert line.startswith(f"cannot use /runs/x/checkpoints/epoch-0001: {os.strerror(caught.value.errno)} "
                           f"(TensorFlow's {error} while writing it)"), line


# -- files a user or a tool damaged: one line naming the file --------------------------------

@pytest.mark.parametrize("text, found", [("null", "null"), ("3", "a number"), ("[]", "an array"),
                                         ('"run"', "a string"), ("{bad", "Expecting property name")])
def test_a_config_json_that_is_no_object_is_one_line_naming_it(tmp_path, text, found):
    from amr_tf import rundir

    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ValueError) as caught:  # train --run_dir, export, evaluate all read it so
        rundir.read_config(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'config.json'}: ") and found in str(caught.value)


@pytest.mark.parametrize("text, why", [
    ('[1]', "is not a JSON object"),
    ('{}', 'has no "cluster" object'),
    ('{"cluster": {"worker": "localhost:1"}, "task": {"type": "worker", "index": 0}}',
     'lists job "worker" as "localhost:1", not a non-empty list'),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', 'lists job "worker" as []'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', 'has no "task" whose "type"'),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     'gives task index 2: job "worker" has 2 task(s)'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', 'gives task index "0"'),
    ("{bad", "is not valid JSON"),
])
def test_a_tf_config_multi_worker_cannot_use_is_refused_in_one_line(text, why):
    from trainers import strategy

    with pytest.raises(ValueError, match="^TF_CONFIG ") as caught:
        strategy.check_tf_config(text)
    assert why in str(caught.value) and "\n" not in str(caught.value)
    strategy.check_tf_config('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}')


@pytest.mark.parametrize("text, why", [("[]", "holds no search's settings"), ("{bad", "is not valid JSON")])
def test_a_search_json_that_is_no_object_is_one_line_naming_it(tmp_path, text, why):
    from tuning import session

    class Spec:
        def to_dict(self):
            return {"lambdas": [1.0]}

    (tmp_path / "search.json").write_text(text)
    with pytest.raises(ValueError, match=f"^{tmp_path / 'search.json'} {why}"):
        session.check_project(tmp_path, Spec())
    (tmp_path / "search.json").unlink()
    session.check_project(tmp_path, Spec())  # a fresh project records its settings
    session.check_project(tmp_path, Spec())  # and accepts them again


@pytest.mark.parametrize("best", ['[1]', '{"epoch": [1], "val_probe_accuracy": 0.5}', '{"epoch": true}',
                                  '{"epoch": 1, "val_probe_accuracy": "high"}', '{"epoch": 0}'])
def test_a_damaged_best_json_or_eval_file_is_read_as_none_by_report(tmp_path, best):
    import json

    from amr_tf import results, rundir

    rundir.write_json(rundir.config_path(tmp_path), dataclasses.asdict(tiny_config()))
    (tmp_path / "best.json").write_text(best)
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "disentanglement.json").write_text("[0.5]")
    (tmp_path / "eval" / "lines.json").write_text(json.dumps({"summary": {"lines_mean_distance": [1],
                                                                         "lines_smoothness": 0.25}}))
    assert rundir.read_best(tmp_path) == {}
    run = results.read_run(tmp_path)
    assert run["val_probe"] is None and run["test_probe"] is None and run["disentanglement"] is None
    assert run["mean_distance"] is None and run["smoothness"] == 0.25
    assert "| - | - |" in results.report(tmp_path)


@pytest.mark.slow
def test_evaluate_on_a_read_only_run_and_export_into_a_file_are_one_line(tmp_path):
    out = tmp_path / "run"
    _fit(out, 1)
    (out / ".lock").unlink(missing_ok=True)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    result = run_cli("amr_tf.export", f"--run_dir={out}", f"--export_dir={a_file}")
    assert result.returncode == 2 and f"cannot use {a_file}" in _one_error_line(result)
    assert a_file.read_text() == "not a folder"
    mounted = subprocess.run(f"mount --bind {out} {out} && mount -o remount,ro,bind {out}", shell=True,
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {mounted.stderr.strip()[:120]}")
    try:
        result = run_cli("amr_tf.evaluate", f"--run_dir={out}", "--metric=probe")
    finally:
        subprocess.run(["umount", "-l", str(out)], capture_output=True)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Read-only file system" in _one_error_line(result) and str(out) in _one_error_line(result)


def test_the_corrupt_checkpoint_advice_names_what_is_left(tmp_path):
    import tensorflow as tf

    from amr_tf import checkpoint

    def damaged(name):
        for suffix in (".index", ".data-00000-of-00001"):
            (tmp_path / f"{name}{suffix}").write_bytes(b"garbage")
        with pytest.raises(checkpoint.CheckpointError) as caught:
            checkpoint.read_meta(tmp_path / name)
        return str(caught.value)

    assert "no earlier epoch checkpoint is left to resume from: train the run again with --restart" in \
        damaged("epoch-0001")
    (tmp_path / "epoch-0001.index").unlink()
    checkpoint.save(tmp_path / "epoch-0001", {"v": tf.Variable([1.0])}, {"epoch": 1, "history": []})
    assert "delete its files (epoch-0002.*) to resume from epoch-0001, the one before it" in damaged("epoch-0002")
    assert "its weights are lost: evaluate or export --checkpoint=last instead" in damaged("best-0002")


def test_a_checkpoint_of_another_model_is_refused_after_config_json_is_edited(tmp_path):
    import json

    from amr_tf import checkpoint

    out = tmp_path / "run"
    _fit(out, 1)
    meta = checkpoint.read_meta(out / "checkpoints" / "epoch-0001")
    assert meta["identity"] == {"model": "amr", "preset": "acai32", "dataset": "digits"}
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "model": "acai"}))
    with pytest.raises(checkpoint.CheckpointError, match="epoch-0001 is of another run \\(model=amr there, "
                                                         "acai in config.json\\): was config.json edited"):
        run.fit(dataclasses.replace(tiny_config(epochs=2, steps_per_epoch=2), model="acai"), out, verbose=0)
    with pytest.raises(checkpoint.CheckpointError, match="of another run \\(model=amr there, acai in config.json"):
        checkpoint.load_networks(out)
    assert _epochs(out) == [1]
