"""Run one table of the paper from its recipes: `python -m amr_tf.reproduce --table=1`.

Each recipe of the table (see `amr_tf/recipes.py`, or `--list`) is trained for each seed into
`<out_dir>/<recipe name>/s<seed>`, then scored by its table's metric (the probe is tracked while
training; dSprites and lines runs are evaluated afterwards into `eval/<metric>.json`). Finished
runs are skipped and interrupted ones resume from their newest checkpoint, so running the same
command again continues where it stopped. `--scale` shrinks the paper's epochs (at least one),
e.g. `--scale=0.01` for a quick look; `--only=amr_mixup` keeps the recipes whose name matches.

    python -m amr_tf.reproduce --table=fashion --scale=0.0015 --steps_per_epoch=250
    python -m amr_tf.report --runs=runs/reproduce/fashion
"""

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli, recipes, rundir  # noqa: E402
from trainers.reproduction import plan, reproduce  # noqa: E402

FLAGS = flags.FLAGS
# The evaluation options a table's scoring takes (as flags: `cli.define_evaluation_flags`).
EVAL_FLAGS = ("votes", "batch_L", "variance_samples", "interpolations")


def define_flags():
    """The CLI's flags; defined only when run as a program, so that importing several commands (as
    the tests do) never defines a flag twice."""
    flags.DEFINE_string("table", None, f"Table to run: {', '.join(recipes.TABLES)}.")
    flags.DEFINE_float("scale", 1.0, "Multiply the paper's epochs by this (at least 1 epoch per run).")
    flags.DEFINE_integer("seeds", recipes.SEEDS, "Seeds per recipe (0 .. N-1); the paper used 3.")
    flags.DEFINE_string("only", None, "Comma-separated patterns: keep recipes whose name contains one.")
    flags.DEFINE_integer("steps_per_epoch", None, "Cap on steps per epoch (default: the whole train split).")
    flags.DEFINE_string("out_dir", "runs/reproduce", "Where the runs go (<out_dir>/<recipe>/s<seed>).")
    flags.DEFINE_string("data_dir", None, "Where data sets are read from (TFDS data_dir or IDX files).")
    flags.DEFINE_boolean("list", False, "Print the table's recipes and run directories, and train nothing.")
    cli.define_evaluation_flags(EVAL_FLAGS)


def main(argv):
    if len(argv) > 1:
        cli.fail("amr_tf.reproduce", f"unexpected arguments {argv[1:]}; flags look like --name=value")
    if not FLAGS.table:
        cli.fail("amr_tf.reproduce", f"--table is required; choose one of: {', '.join(recipes.TABLES)}")
    try:
        if FLAGS.list:
            for recipe, config, run_dir in plan(FLAGS.table, FLAGS.scale, FLAGS.seeds, FLAGS.only,
                                                FLAGS.steps_per_epoch, FLAGS.out_dir, FLAGS.data_dir):
                paper = "" if recipe.paper is None else f"  paper {recipe.paper[0]:.2f} +- {recipe.paper[1]:.2f}"
                print(f"{recipe.name} seed {config.seed}: lamb={config.lamb:g} epochs={config.epochs} "
                      f"-> {run_dir} ({rundir.finished_epochs(run_dir)} done){paper}")
            return
        counts = reproduce(
            FLAGS.table, FLAGS.scale, FLAGS.seeds, FLAGS.only, FLAGS.steps_per_epoch, FLAGS.out_dir,
            FLAGS.data_dir, {name: getattr(FLAGS, name) for name in EVAL_FLAGS},
        )
    except ValueError as e:
        cli.fail("amr_tf.reproduce", str(e))
    print(f"table {FLAGS.table}: {counts['done']} run, {counts['skipped']} already finished, "
          f"{len(counts['failed'])} failed; `python -m amr_tf.report --runs={FLAGS.out_dir}` prints it", flush=True)
    if counts["failed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    define_flags()
    cli.run(main, "amr_tf.reproduce")
