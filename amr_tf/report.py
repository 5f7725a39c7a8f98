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
"""

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli  # noqa: E402
from amr_tf.results import FORMATS, find_runs, group, markdown, read_run, report, to_csv  # noqa: E402,F401


def main(argv):
    flags_ = flags.FLAGS
    if len(argv) > 1:
        cli.fail("amr_tf.report", f"unexpected arguments {argv[1:]}; flags look like --name=value")
    try:
        print(report(flags_.runs, flags_.format), end="" if flags_.format == "csv" else "\n")
    except ValueError as e:
        cli.fail("amr_tf.report", str(e))


if __name__ == "__main__":
    flags.DEFINE_string("runs", "runs", "Folder searched (recursively) for run directories.")
    flags.DEFINE_enum("format", "markdown", list(FORMATS), "markdown (tables per setting) or csv (one line each).")
    cli.run(main, "amr_tf.report")
