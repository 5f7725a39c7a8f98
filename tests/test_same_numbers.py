"""benchmarks/same_numbers.py: two commits' trainings compared bit for bit, and the line it prints
carrying a table's stamp forward."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from amr_tf import provenance
from tests.test_provenance import _git

ROOT = Path(__file__).resolve().parents[1]


def _load():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import same_numbers
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return same_numbers


def test_compare_variables_finds_one_ulp_and_forgives_a_rename():
    same_numbers = _load()
    a = {"encoder/kernel": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.array(3, np.int64)}
    assert same_numbers.compare_variables(a, {k: v.copy() for k, v in a.items()}) is None
    renamed = {"coder/kernel": a["encoder/kernel"].copy(), "step": a["step"].copy()}
    assert same_numbers.compare_variables(a, renamed) is None
    nudged = dict(a, **{"encoder/kernel": np.nextafter(a["encoder/kernel"], np.float32(9))})
    assert "variable encoder/kernel differs" in same_numbers.compare_variables(a, nudged)
    assert "the checkpoints differ" in same_numbers.compare_variables(a, dict(renamed, step=np.array(4, np.int64)))
    rows = [{"epoch": "1", "recon": "0.5"}]
    assert same_numbers.compare_metrics(rows, [{"epoch": "1", "recon": "0.5", "added_later": "1"}]) is None
    nudged_rows = [{"epoch": "1", "recon": "0.50000006"}]
    assert "recon: 0.5 against 0.50000006" in same_numbers.compare_metrics(rows, nudged_rows)


def test_compare_evaluations_finds_a_changed_score_and_ignores_timings(tmp_path):
    import json

    same_numbers = _load()
    runs = []
    for name, score, seconds in (("a", 0.5, 1.0), ("b", 0.5, 9.0), ("c", 0.5000001, 1.0)):
        (tmp_path / name / "eval").mkdir(parents=True)
        (tmp_path / name / "eval" / "spiral.json").write_text(json.dumps(
            {"seconds": seconds, "run_dir": name, "summary": {"spiral_mix_distance": score, "n": [1, 2]}}))
        runs.append(tmp_path / name)
    assert same_numbers.compare_evaluations(runs[0], runs[1]) is None  # timing and path differ only
    assert same_numbers.compare_evaluations(runs[0], runs[2]) == (
        "eval/spiral.json summary/spiral_mix_distance: 0.5 against 0.5000001")


@pytest.mark.slow
def test_a_docstring_keeps_the_numbers_and_a_changed_loss_does_not(tmp_path, monkeypatch, capsys):
    same_numbers = _load()
    repo = tmp_path / "repo"
    for package in ("amr_tf", "trainers"):
        shutil.copytree(ROOT / package, repo / package, ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    first = _git(repo, "commit", "-qm", "code")
    losses = repo / "amr_tf" / "losses.py"
    source = losses.read_text()
    line = "        return _per_example(tf.abs(x - r), tf.reduce_mean)"
    assert line in source
    losses.write_text(source.replace(line, "        # a comment\n" + line))
    _git(repo, "add", ".")
    documented = _git(repo, "commit", "-qm", "a comment")
    losses.write_text(source.replace(line, line.replace("tf.abs(x - r)", "1.0001 * tf.abs(x - r)")))
    _git(repo, "add", ".")
    changed = _git(repo, "commit", "-qm", "the L1 loss scaled")
    monkeypatch.setattr(same_numbers, "ROOT", repo)

    status = same_numbers.main([f"--since={first},{changed}", f"--at={documented}", "--configs=digits",
                                f"--work_dir={tmp_path / 'work'}"])
    out = capsys.readouterr().out
    assert status == 1
    assert f"same numbers at commit {documented} as at commit {first}" in out
    assert f"different numbers at {documented} and {changed}: digits" in out
    assert "metrics.csv epoch 1" in out  # the first difference is named
    assert not list((tmp_path / "work").glob("tree-*"))  # the worktrees are removed

    # The printed line carries a table stamped at the first commit to the documented one.
    same = next(x for x in out.splitlines() if x.startswith("same numbers"))
    table = f"### t\n\n| a |\n|---|\n| 1 |\n\nmeasured at commit {first} (d, X): `cmd`\n"
    assert provenance._carried(first, table + same) == documented
    assert provenance._carried(first, table) == first
