"""Every table names what measured it: the runs' provenance records, the report's stamp line, and
`report --stale` finding the tables older than the code that computes them."""

import subprocess
import sys

import pytest

from amr_tf import provenance


def test_a_run_records_its_commit_date_cpu_and_command_and_the_report_prints_them(tmp_path, monkeypatch):
    from amr_tf import results
    from tests.helpers import tiny_config
    from trainers import run

    monkeypatch.setattr(sys, "argv", [str(provenance.ROOT / "amr_tf" / "train.py"), "--dataset=digits", "--k=2"])
    out = tmp_path / "runs" / "a"
    run.fit(tiny_config(), out, verbose=0)
    run.fit(tiny_config(), out, verbose=0)  # finished: trains nothing, records nothing
    records = provenance.read(out)
    assert len(records) == 1 and records[0]["command"] == "python -m amr_tf.train --dataset=digits --k=2"
    assert records[0]["commit"] == provenance.commit() and records[0]["cpu"].startswith(provenance.cpu.model())
    text = results.report(tmp_path / "runs")
    assert f"measured at commit {records[0]['commit']} ({records[0]['date']}, {records[0]['cpu']}): " \
           "`python -m amr_tf.train --dataset=digits --k=2`" in text


def test_the_stamp_names_every_commit_and_command_of_a_tables_runs(tmp_path):
    for name, sha, cmd in (("a", "abc1234", "python -m amr_tf.reproduce --table=fashion"),
                           ("b", "def5678", "python -m amr_tf.reproduce --table=fashion"),
                           ("c", None, None)):
        (tmp_path / name).mkdir()
        if sha:
            (tmp_path / name / "provenance.jsonl").write_text(
                '{"commit": "old", "date": "2026-01-01", "cpu": "X; avx2", "command": "x"}\n'
                f'{{"commit": "{sha}", "date": "2026-12-0{len(name)}", "cpu": "X; avx2", "command": "{cmd}"}}\n'
                "not json\n")
    line = provenance.stamp([tmp_path / n for n in "abc"])
    assert line == ("measured at commit abc1234, def5678 (2026-12-01, X; avx2): "
                    "`python -m amr_tf.reproduce --table=fashion`")
    assert provenance.stamp([tmp_path / "c"]) == "measured at commit unknown (these runs record none)"
    commands = [f"python -m amr_tf.reproduce --table=fashion --seeds={n}" for n in range(1, 6)]
    for n, cmd in enumerate(commands):  # a table's runs made by five commands: each is named, none elided
        (tmp_path / f"r{n}").mkdir()
        (tmp_path / f"r{n}" / "provenance.jsonl").write_text(
            f'{{"commit": "abc1234", "date": "2026-12-01", "cpu": "X; avx2", "command": "{cmd}"}}\n')
    line = provenance.stamp([tmp_path / f"r{n}" for n in range(5)])
    assert line.endswith(": " + ", ".join(f"`{c}`" for c in commands)), line


def _git(root, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)
    return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def history(tmp_path):
    """A checkout whose trainers/ changed once after a README-only commit: (root, shas)."""
    root = tmp_path / "repo"
    (root / "trainers").mkdir(parents=True)
    (root / "trainers" / "amr.py").write_text("one\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    first = _git(root, "commit", "-qm", "code")
    (root / "README.md").write_text("docs\n")
    _git(root, "add", ".")
    docs = _git(root, "commit", "-qm", "docs")
    (root / "trainers" / "amr.py").write_text("two\n")
    _git(root, "add", ".")
    changed = _git(root, "commit", "-qm", "a change to the trainer")
    (root / "trainers" / "amr.py").write_text('"""The trainer."""\n\n\n(two)  # formatting, a comment, a docstring\n')
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "the trainer documented: its code is the same")
    return root, (first, docs, changed)


def test_stale_lists_tables_older_than_the_code_that_computes_them(history):
    root, (first, docs, changed) = history

    def table(title, line):
        return f"### {title}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n{line}\n\n"

    text = ("# Results\n\n" + table("old", f"measured at commit {first} (2026-01-01, X): `cmd`")
            + table("docs only after", f"measured at commit {docs} (2026-01-02, X): `cmd`")
            + table("current", f"measured at commit {changed} (2026-01-03, X): `cmd`")
            + table("dirty", f"measured at commit {changed}+changes (2026-01-03, X): `cmd`")
            + table("unstamped", "typed by hand")
            + table("unknown", "measured at commit 0123456789ab (2026-01-03, X): `cmd`")
            + "### prose without a table\n\ntext\n"
            + "## a section's own table\n\n| a |\n|---|\n| 1 |\n\n```\n# a comment in code\n```\n\n"
            + "#### its stamp is not in a subsection\n\n"
            + f"measured at commit {changed} (2026-01-03, X): `cmd`\n")
    found = dict(provenance.stale(text, root=root))
    assert sorted(found) == ["a section's own table", "dirty", "docs only after", "old", "unknown", "unstamped"]
    assert "the code that computes it changed after" in found["old"] and "trainers/amr.py" in found["old"]
    assert "current" not in found  # what changed since is a docstring, a comment and formatting
    assert provenance.changed_code(changed, root=root) == [] and provenance.changed_code(first, root=root) == [
        "trainers/amr.py"]
    assert "a change to the trainer" in found["docs only after"]
    assert "uncommitted changes" in found["dirty"] and "no 'measured at commit' line" in found["unstamped"]
    assert "not in this checkout's history" in found["unknown"]


def test_report_stale_exits_1_naming_each_stale_table(tmp_path):
    from tests.helpers import run_cli

    doc = tmp_path / "RESULTS.md"
    doc.write_text("### typed by hand\n\n| a |\n|---|\n| 1 |\n")
    result = run_cli("amr_tf.report", f"--stale={doc}")
    assert result.returncode == 1 and f"{doc}: stale: typed by hand: no 'measured at commit' line" in result.stdout
    doc.write_text("# nothing measured\n")
    result = run_cli("amr_tf.report", f"--stale={doc}")
    assert result.returncode == 0 and "every table names a commit" in result.stdout


def test_a_same_numbers_line_carries_a_tables_commit_forward(history):
    root, (first, docs, changed) = history
    table = f"### old\n\n| a |\n|---|\n| 1 |\n\nmeasured at commit {first} (2026-01-01, X): `cmd`\n"
    assert [t for t, _ in provenance.stale(table, root=root)] == ["old"]
    carried = table + f"same numbers at commit {changed} as at commit {first} (2026-01-04, X): `cmd`\n"
    assert provenance.stale(carried, root=root) == []
    # A line about another commit carries nothing.
    other = table + f"same numbers at commit {changed} as at commit {docs} (2026-01-04, X): `cmd`\n"
    assert [t for t, _ in provenance.stale(other, root=root)] == ["old"]
