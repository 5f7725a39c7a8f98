"""Tables from run directories, in the paper's form: `python -m amr_tf.report --runs=runs/`.

Every run directory under --runs (a folder holding config.json) is read: its best.json (the best
valid probe accuracy over training and the test accuracy at that epoch), and its
eval/disentanglement.json and eval/lines.json when `amr_tf.evaluate` or `amr_tf.reproduce` wrote
them. Runs that differ only by seed (and run length) are one setting; each setting prints as
mean +- std over its seeds (sample std, n - 1, as numpy.std(ddof=1); 0 for one seed), in %, next
to the paper's number where the setting is one of the paper's recipes (`amr_tf/recipes.py`).
dSprites settings show disentanglement_lib's score (out of 100) and, beside the paper's column,
the original AMR code's (out of 80: the scheme of the paper's Table 4; "-" for an eval file from
before it was computed).

    python -m amr_tf.report --runs=runs/results/fashion
    python -m amr_tf.report --runs=runs/ --format=csv > results.csv
    python -m amr_tf.report --stale=RESULTS.md      # tables older than the code that computes them

Under each table a line names what measured it, from the runs' provenance.jsonl (each training
session records its commit, date, CPU and command): "measured at commit <sha> (<date>, <CPU>):
`<command>`".
"""

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli  # noqa: E402
from amr_tf.results import FORMATS, report  # noqa: E402


def main(argv):
    flags_ = flags.FLAGS
    if len(argv) > 1:
        cli.fail("amr_tf.report", f"unexpected arguments {argv[1:]}; flags look like --name=value")
    if flags_.stale:
        return check_stale(flags_.stale)
    try:
        print(report(flags_.runs, flags_.format), end="" if flags_.format == "csv" else "\n")
    except ValueError as e:
        cli.fail("amr_tf.report", str(e))


def check_stale(path):
    """Lists the tables of the markdown file `path` that are stale (see `provenance.stale`); 1 if any."""
    from amr_tf import provenance

    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        cli.fail("amr_tf.report", f"cannot read --stale={path}: {e.strerror}")
    found = provenance.stale(text)
    for title, why in found:
        print(f"{path}: stale: {title}: {why}")
    if not found:
        print(f"{path}: every table names a commit that no later change to the code computing it follows")
    return 1 if found else 0


if __name__ == "__main__":
    flags.DEFINE_string("runs", "runs", "Folder searched (recursively) for run directories.")
    flags.DEFINE_enum("format", "markdown", list(FORMATS), "markdown (tables per setting) or csv (one line each).")
    flags.DEFINE_string("stale", None, "A markdown file (e.g. RESULTS.md): list its tables whose 'measured at "
                        "commit' line is missing or older than a change to the code that computes the numbers "
                        "(networks, losses, mixers, data, evaluation, trainers); exit 1 when any.")
    cli.run(main, "amr_tf.report")
