"""`make demo`'s outputs: a trained run, its interpolation picture and a TF Serving export."""

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import CLI_ENV


@pytest.mark.slow
def test_demo_trains_draws_and_exports(tmp_path):
    # from tmp_path, so that saved_models/ (the demo's export folder) is the test's own
    cmd = [sys.executable, "-m", "amr_tf.demo", "--out_dir=runs/demo", "--epochs=1"]
    out = subprocess.run(cmd, cwd=tmp_path, env=CLI_ENV, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "runs" / "demo"
    config = json.loads((run / "config.json").read_text())
    assert (config["dataset"], config["mixer"], config["k"], config["epochs"]) == ("digits", "mixup", 2, 1)
    with open(run / "metrics.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1"]
    picture = (run / "interpolation.png").read_bytes()
    assert picture.startswith(b"\x89PNG") and len(picture) > 1000
    version = tmp_path / "saved_models" / "demo" / "1"
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    assert "exported for TF Serving: saved_models/demo/1" in out.stdout
    # a second run reuses the finished run and its export: no new version
    again = subprocess.run(cmd, cwd=tmp_path, env=CLI_ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "saved_models" / "demo")) == ["1"]
