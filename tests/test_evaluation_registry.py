"""amr_tf.evaluation's registry: the metrics it holds, that choosing and running metrics goes through
it (a fake metric registered here is selected, called and written like the real ones), and the
package's light import (no TensorFlow when it is imported).

No network is built: the fake metric's run loads through a stand-in for `amr_tf.checkpoint.load_networks`.
"""

import dataclasses
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from amr_tf import evaluation, rundir

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("probe", "disentanglement", "lines", "spiral", "class_mixer", "interpolations", "fid")


def test_the_registry_holds_the_metrics_in_their_order_with_one_interface():
    assert tuple(evaluation.REGISTRY) == evaluation.METRICS == ORDER
    takes = set(evaluation.DEFAULTS) | {"compare", "checkpoint"}
    for name, metric in evaluation.REGISTRY.items():
        assert metric.NAME == name and metric.__name__ == f"amr_tf.evaluation.{name}"
        assert callable(metric.why_not) and callable(metric.evaluate)
        assert set(metric.OPTIONS) <= takes, name
        assert isinstance(metric.SCALARS, tuple)


@pytest.fixture
def register(request):
    """Adds a metric to the registry for one test (`register(name, metric)`); it is taken out after."""
    def add(name, metric):
        if name in evaluation.REGISTRY:
            evaluation.REGISTRY.remove(name)
        evaluation.REGISTRY.add(name, metric)
        request.addfinalizer(lambda: name in evaluation.REGISTRY and evaluation.REGISTRY.remove(name))
    return add


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A run directory with only a config.json; loading its networks gives a stand-in at epoch 7."""
    from amr_tf import checkpoint
    from amr_tf.config import Config

    config = Config(dataset="digits")
    path = tmp_path / "run"
    rundir.write_json(path / "config.json", dataclasses.asdict(config))
    monkeypatch.setattr(checkpoint, "load_networks",
                        lambda run, which="best": (config, f"nets of {which}", {"epoch": 7}))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no_keras_home"))  # fid cannot run: "all" leaves it out
    return path


def fake_metric(calls, why=None, unavailable=None):
    def evaluate(run_dir, config, nets, **options):
        calls.append((run_dir, config.dataset, nets, options))
        return {"answer": 42, "summary": {"fake_score": 0.5}}

    metric = types.SimpleNamespace(NAME="fake", OPTIONS=("seed", "checkpoint"), SCALARS=(), SKIPPED="no fake here",
                                   why_not=lambda config: why, evaluate=evaluate)
    if unavailable:
        metric.unavailable = lambda **options: unavailable
    return metric


def test_a_registered_metric_is_chosen_called_and_written_like_the_others(run_dir, register):
    calls = []
    register("fake", fake_metric(calls))
    config = rundir.read_config(run_dir)
    assert evaluation.select_metrics("all", config) == (
        ["probe", "interpolations", "fake"],
        ["fid skipped: no InceptionV3 weights on disk (--metric=fid says how to get them)"])
    records = evaluation.evaluate_run(run_dir, "fake", checkpoint="last", seed=5)
    assert calls == [(run_dir, "digits", "nets of last", {"seed": 5, "checkpoint": "last"})]
    record = json.loads(rundir.eval_path(run_dir, "fake").read_text())
    assert record == records["fake"]
    assert record["answer"] == 42 and record["summary"] == {"fake_score": 0.5} and record["tensorboard"] == {}
    assert record["settings"] == {"seed": 5}  # the checkpoint is the record's own field
    assert (record["metric"], record["checkpoint"], record["epoch"]) == ("fake", "last", 7)
    assert evaluation.summary_lines(records) == ["fake_score=0.5"]


def test_a_metric_that_does_not_apply_or_cannot_run_is_left_out_of_all_and_refused_by_name(run_dir, register):
    config = rundir.read_config(run_dir)
    calls = []
    register("fake", fake_metric(calls, why="needs a fake run"))
    assert evaluation.select_metrics("all", config) == (["probe", "interpolations"], [
        "fid skipped: no InceptionV3 weights on disk (--metric=fid says how to get them)"])
    with pytest.raises(ValueError, match="^metric 'fake' does not apply to this run: it needs a fake run$"):
        evaluation.evaluate_run(run_dir, "fake")
    register("fake", fake_metric(calls, unavailable="fake weights are missing"))
    assert evaluation.select_metrics("all", config)[1][-1] == "fake skipped: no fake here"
    with pytest.raises(ValueError, match="^fake weights are missing$"):
        evaluation.evaluate_run(run_dir, "fake")
    assert calls == [] and not (run_dir / "eval").exists()


def test_an_unknown_metric_is_one_line_listing_the_registry(run_dir, register):
    config = rundir.read_config(run_dir)
    with pytest.raises(ValueError) as refused:
        evaluation.select_metrics("probe,nope", config)
    assert str(refused.value) == ("unknown metric 'nope'; choose one of: all, probe, disentanglement, lines, "
                                  "spiral, class_mixer, interpolations, fid (all stands alone)")
    register("fake", fake_metric([]))
    with pytest.raises(ValueError, match="^unknown metric 'nope'; choose one of: all, probe, .*, fid, fake "):
        evaluation.evaluate_run(run_dir, "nope")
    with pytest.raises(ValueError, match="^unknown metric 'all'"):  # all stands alone
        evaluation.select_metrics("probe,all", config)


# -- import rules (the layering itself is tests/test_architecture.py's) ---------------------------------


def test_importing_the_package_and_the_numpy_metrics_does_not_import_tensorflow():
    code = ("import sys, amr_tf.evaluation, amr_tf.evaluation.disentanglement, amr_tf.evaluation.lines; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'scipy', 'trainers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "[]"


def test_the_evaluation_defaults_are_written_once():
    """DEFAULTS is the one place an option's default lives: every metric's `evaluate` and
    `check_options` take their options without defaults of their own (the runner always passes
    them all), and the flags of `amr_tf.evaluate` and `amr_tf.reproduce` default to DEFAULTS."""
    import inspect

    from amr_tf import evaluate as evaluate_command
    from amr_tf import reproduce as reproduce_command
    from amr_tf.evaluation import runner

    def own_defaults(function, names):
        params = inspect.signature(function).parameters
        missing = [n for n in names if n not in params]
        assert not missing, f"{function.__module__}.{function.__name__} lacks {missing}"
        return {n: params[n].default for n in names
                if params[n].default is not inspect.Parameter.empty or params[n].kind != params[n].KEYWORD_ONLY}

    for name, metric in evaluation.REGISTRY.items():
        assert not own_defaults(metric.evaluate, metric.OPTIONS), f"{name}.evaluate has defaults of its own"
    checked = [n for n, p in inspect.signature(runner.check_options).parameters.items() if p.kind != p.VAR_KEYWORD]
    assert set(checked) <= {*evaluation.DEFAULTS, "checkpoint"}
    assert not own_defaults(runner.check_options, checked)

    class Recorder:
        """Stands in for absl's `flags` module while a command defines its flags: records them."""
        def __init__(self):
            self.defaults = {}

        def __getattr__(self, define):
            def record(name, default, *args, **kwargs):
                self.defaults[name] = default
            return record

    from amr_tf import cli

    assert set(cli.EVALUATION_HELP) == set(evaluation.DEFAULTS)  # each option described once, for both
    for command in (evaluate_command, reproduce_command):
        recorder = Recorder()
        real = command.flags, cli.flags
        command.flags = cli.flags = recorder
        try:
            command.define_flags()
        finally:
            command.flags, cli.flags = real
        shared = set(recorder.defaults) & set(evaluation.DEFAULTS)
        assert shared, command.__name__
        assert {n: recorder.defaults[n] for n in shared} == {n: evaluation.DEFAULTS[n] for n in shared}, \
            command.__name__
