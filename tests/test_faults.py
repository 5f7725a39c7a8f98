"""Fault injection: what a run directory looks like after things go wrong (tiny digits runs)."""

import csv
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from amr_tf import data  # noqa: E402
from tests.helpers import run_cli, tiny_config  # noqa: E402
from trainers import run  # noqa: E402
from trainers.build import build_trainer  # noqa: E402


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
    named = out / "checkpoints" / "epoch-0001.npz"
    assert str(named) in message and named.exists()
    assert caught.value.best["epoch"] == 1
    with open(out / "metrics.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1]  # the diverged epoch has no row
    assert not list((out / "checkpoints").glob("epoch-0002*"))
    assert not list((out / "images").glob("*_epoch0002.png"))  # nor NaN pictures
    assert list((out / "images").glob("*_epoch0001.png"))


def test_a_nan_stop_exits_non_zero_in_one_line(tmp_path):
    out = tmp_path / "run"
    result = run_cli("amr_tf.train", "--dataset=digits", "--lamb=1e38", "--epochs=2", "--steps_per_epoch=2",
                     "--batch_size=8", f"--out_dir={out}")
    assert result.returncode == 3, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "training diverged: non-finite g_loss at epoch 1, step 1" in errors[0], errors
    assert "no epoch finished" in errors[0] and "Traceback" not in result.stderr
