"""The lambda search: the search space, best-trial selection, the CLI end to end (report, resume),
KerasTuner's chief/worker mode on localhost, and bad input."""

import csv
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from amr_tf.config import Config
from tests.helpers import CLI_ENV, ROOT, run

TINY = ["--dataset=digits", "--batch_size=16", "--steps_per_epoch=2", "--epochs=1"]
TRIAL_LINE = re.compile(r"^trial (\d+): lamb=(\S+) val_probe_accuracy=([0-9.]+) test_probe_accuracy=([0-9.]+)$")
BEST_LINE = re.compile(r"^best: lamb=(\S+) \(val_probe_accuracy=([0-9.]+), test=([0-9.]+)\)$")


def search_cmd(*flags):
    return [sys.executable, "-m", "tuning.search", *flags]


def trial_lines(stdout):
    return [m.groups() for m in map(TRIAL_LINE.match, stdout.splitlines()) if m]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def only_project(directory):
    projects = [p for p in Path(directory).iterdir() if p.is_dir()]
    assert len(projects) == 1, projects
    return projects[0]


# --- in process: the space and the choice of the best trial -------------------------------------


def test_the_hypermodel_varies_only_the_searched_fields_of_the_base_config():
    import keras_tuner

    from tuning.hypermodel import AMRHyperModel

    base = Config(dataset="digits", mixer="mixup", k=3, epochs=7, batch_size=16)
    hp = keras_tuner.HyperParameters()
    model = AMRHyperModel(base, lambdas=(2, 20), mixers=("none", "bernoulli"), ks=(2, 4))
    config = model.config(hp, seed=5)
    assert config == Config(dataset="digits", mixer="none", k=3, epochs=7, batch_size=16, lamb=2.0, seed=5)
    assert [p.name for p in hp.space] == ["lamb", "mixer", "k"]
    hp.values.update(lamb=20.0, mixer="bernoulli", k=4)
    assert model.config(hp) == Config(dataset="digits", mixer="bernoulli", k=4, epochs=7, batch_size=16,
                                      lamb=20.0)


def test_the_best_trial_is_the_one_with_the_highest_val_probe_accuracy(tmp_path, capsys):
    import keras_tuner

    from tuning import report
    from tuning.tuner import make_oracle

    oracle = make_oracle("grid")
    oracle._set_project_dir(str(tmp_path), "p")  # what a Tuner does with its directory
    hp = keras_tuner.HyperParameters()
    hp.Choice("lamb", [2.0, 5.0, 20.0])
    oracle.update_space(hp)
    scores = {2.0: (0.30, 0.31), 5.0: (0.70, 0.66), 20.0: (0.50, 0.52)}
    for _ in scores:
        trial = oracle.create_trial("tuner0")
        val, test = scores[trial.hyperparameters.get("lamb")]
        oracle.update_trial(trial.trial_id, {"val_probe_accuracy": val, "test_probe_accuracy": test,
                                             "best_epoch": 1.0, "n_seeds": 1.0})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    printed = trial_lines(capsys.readouterr().out)
    assert [(lamb, float(v)) for _, lamb, v, _ in printed] == [("2", 0.3), ("5", 0.7), ("20", 0.5)]

    project = tmp_path / "p"
    best = report.best(oracle, project, seeds=(0,))
    assert (best["hyperparameters"], best["val_probe_accuracy"], best["test_probe_accuracy"]) == (
        {"lamb": 5.0}, 0.70, 0.66)
    assert best["run_dir"] == str(project / "trial_0001" / "run_s0")  # grid ids: 4 digits
    assert BEST_LINE.match(report.best_line(best)).groups() == ("5", "0.7000", "0.6600")
    report.write(project, report.rows(oracle), best)
    rows = read_csv(project / "results.csv")
    assert [(r["lamb"], r["status"], float(r["val_probe_accuracy"])) for r in rows] == [
        ("2.0", "COMPLETED", 0.3), ("5.0", "COMPLETED", 0.7), ("20.0", "COMPLETED", 0.5)]
    assert json.loads((project / "best.json").read_text())["hyperparameters"] == {"lamb": 5.0}


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_two_trial_grid_search_reports_both_picks_the_best_and_resumes_without_rerunning(tmp_path):
    flags = search_cmd(*TINY, "--lambdas=2,20", f"--directory={tmp_path}")
    first = run(flags)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = trial_lines(first.stdout)
    assert sorted(lamb for _, lamb, _, _ in lines) == ["2", "20"], first.stdout
    assert re.search(r"^  trial 0 seed 0 epoch 1: val_probe_accuracy=", first.stdout, re.M), \
        "the per-epoch logs did not reach the tuner"
    best_lines = [m.groups() for m in map(BEST_LINE.match, first.stdout.splitlines()) if m]
    assert len(best_lines) == 1, first.stdout

    project = only_project(tmp_path)
    rows = read_csv(project / "results.csv")
    assert [(r["trial"], r["status"]) for r in rows] == [("0", "COMPLETED"), ("1", "COMPLETED")]
    best = json.loads((project / "best.json").read_text())
    top = max(float(r["val_probe_accuracy"]) for r in rows)
    assert best["val_probe_accuracy"] == pytest.approx(top)
    assert best["hyperparameters"]["lamb"] in [float(r["lamb"]) for r in rows
                                               if float(r["val_probe_accuracy"]) == pytest.approx(top)]
    assert best_lines[0][0] == f"{best['hyperparameters']['lamb']:g}"
    # Each trial's objective is its own run's best epoch, and that run lives in its trial directory.
    metrics_files = []
    for row in rows:
        run_dir = project / f"trial_{int(row['trial']):04d}" / "run_s0"
        assert json.loads((run_dir / "config.json").read_text())["lamb"] == float(row["lamb"])
        run_best = json.loads((run_dir / "best.json").read_text())
        assert run_best["val_probe_accuracy"] == pytest.approx(float(row["val_probe_accuracy"]))
        assert len(read_csv(run_dir / "metrics.csv")) == 1
        metrics_files.append(run_dir / "metrics.csv")
    stamps = [p.stat().st_mtime_ns for p in metrics_files]

    again = run(flags)
    assert again.returncode == 0, again.stderr[-3000:]
    assert trial_lines(again.stdout) == [], "a finished trial ran again"
    assert "epoch 1:" not in again.stdout
    assert "2 trials finished" in again.stdout
    assert [m.groups() for m in map(BEST_LINE.match, again.stdout.splitlines()) if m] == best_lines
    assert [p.stat().st_mtime_ns for p in metrics_files] == stamps
    assert len(read_csv(project / "results.csv")) == 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_chief_and_one_worker_on_localhost_finish_a_three_trial_search(tmp_path):
    flags = search_cmd(*TINY, "--lambdas=2,5,20", f"--directory={tmp_path}")
    dist = {**CLI_ENV, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    procs = {}
    try:
        for tuner_id in ("chief", "tuner0"):
            procs[tuner_id] = subprocess.Popen(
                flags, cwd=ROOT, env={**dist, "KERASTUNER_TUNER_ID": tuner_id},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        worker_out, worker_err = procs["tuner0"].communicate(timeout=400)
        chief_out, chief_err = procs["chief"].communicate(timeout=120)  # it exits once the worker stops
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    assert procs["tuner0"].returncode == 0, worker_err[-3000:]
    assert procs["chief"].returncode == 0, chief_err[-3000:]
    assert sorted(lamb for _, lamb, _, _ in trial_lines(worker_out)) == ["2", "20", "5"], worker_out
    assert "worker tuner0: no more trials" in worker_out
    chief_trials = trial_lines(chief_out)
    assert sorted(lamb for _, lamb, _, _ in chief_trials) == ["2", "20", "5"], chief_out
    assert "epoch 1:" not in chief_out, "the chief trained"
    best = [m.groups() for m in map(BEST_LINE.match, chief_out.splitlines()) if m]
    assert len(best) == 1 and float(best[0][1]) == max(float(v) for _, _, v, _ in chief_trials)
    project = only_project(tmp_path)
    rows = read_csv(project / "results.csv")
    assert [r["status"] for r in rows] == ["COMPLETED"] * 3
    assert sorted(p.parent.parent.name for p in project.glob("trial_*/run_s0/best.json")) == [
        "trial_0000", "trial_0001", "trial_0002"]


BAD = {
    "empty lambdas": (["--lambdas="], ["--lambdas", "empty"]),
    "non-numeric lambdas": (["--lambdas=2,ten"], ["'ten'", "not a number"]),
    "unknown tuner": (["--tuner=annealing"], ["annealing", "grid, random, bayesian, hyperband"]),
    "zero trials": (["--max_trials=0"], ["--max_trials", ">= 1"]),
    "half-set distributed environment": (["--lambdas=2"], ["KERASTUNER_ORACLE_PORT"]),
    "a project name that leaves the directory": (["--project_name=../../x"], ["project name '../../x'"]),
}


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path):
    procs = {}
    for name, (flags, _) in BAD.items():
        env = {**CLI_ENV, "KERASTUNER_ORACLE_IP": "127.0.0.1"} if "distributed" in name else CLI_ENV
        out = tmp_path / name.replace(" ", "_")
        procs[name] = (out, subprocess.Popen(search_cmd(*TINY, *flags, f"--directory={out}"), cwd=ROOT,
                                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True))
    try:
        for name, (out, proc) in procs.items():
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 2, (name, stderr[-2000:])
            lines = stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("tuning.search: error: "), (name, stderr[-2000:])
            for word in BAD[name][1]:
                assert word in lines[0], (name, word, lines[0])
            assert not out.exists(), name
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
