"""Run one table of the paper from its recipes: `python -m amr_tf.reproduce --table=1`.

Each recipe of the table (see `trainers/recipes.py`, or `--list`) is trained for each seed into
`<out_dir>/<recipe name>/s<seed>`, then scored by its table's metric (the probe is tracked while
training; dSprites and lines runs are evaluated afterwards into `eval/<metric>.json`). Finished
runs are skipped and interrupted ones resume from their newest checkpoint, so running the same
command again continues where it stopped. `--scale` shrinks the paper's epochs (at least one),
e.g. `--scale=0.01` for a quick look; `--only=amr_mixup` keeps the recipes whose name matches.

    python -m amr_tf.reproduce --table=fashion --scale=0.0015 --steps_per_epoch=250
    python -m amr_tf.report --runs=runs/reproduce/fashion
"""

import os
import time
import traceback

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli, rundir  # noqa: E402
from trainers import recipes  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The CLI's flags; defined only when run as a program (the module is also a library)."""
    flags.DEFINE_string("table", None, f"Table to run: {', '.join(recipes.TABLES)}.")
    flags.DEFINE_float("scale", 1.0, "Multiply the paper's epochs by this (at least 1 epoch per run).")
    flags.DEFINE_integer("seeds", recipes.SEEDS, "Seeds per recipe (0 .. N-1); the paper used 3.")
    flags.DEFINE_string("only", None, "Comma-separated patterns: keep recipes whose name contains one.")
    flags.DEFINE_integer("steps_per_epoch", None, "Cap on steps per epoch (default: the whole train split).")
    flags.DEFINE_string("out_dir", "runs/reproduce", "Where the runs go (<out_dir>/<recipe>/s<seed>).")
    flags.DEFINE_string("data_dir", None, "Where data sets are read from (TFDS data_dir or IDX files).")
    flags.DEFINE_boolean("list", False, "Print the table's recipes and run directories, and train nothing.")
    flags.DEFINE_integer("votes", 800, "disentanglement: votes (the paper: 800).")
    flags.DEFINE_integer("batch_L", 800, "disentanglement: images per vote (the paper: 800).")
    flags.DEFINE_integer("variance_samples", 10000, "disentanglement: images for each unit's global std.")
    flags.DEFINE_integer("interpolations", 16, "lines: pairs of test lines interpolated and scored.")


def plan(table, scale=1.0, seeds=recipes.SEEDS, only=None, steps_per_epoch=None, out_dir="runs/reproduce",
         data_dir=None):
    """[(recipe, config, run_dir)] for every seed and recipe of `table`: seed 0 of every recipe
    first, so that a table stopped part-way has whole rows to compare."""
    if scale <= 0:
        raise ValueError(f"--scale must be > 0, got {scale}")
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    out = []
    chosen = recipes.select(table, only)
    for seed in range(seeds):
        for recipe in chosen:
            config = recipe.config(seed=seed, scale=scale, steps_per_epoch=steps_per_epoch, data_dir=data_dir)
            out.append((recipe, config, os.path.join(out_dir, recipe.name, f"s{seed}")))
    return out


finished_epochs = rundir.finished_epochs


def evaluated(run_dir, metric):
    return metric == "probe" or rundir.eval_path(run_dir, metric).is_file()


def run_one(recipe, config, run_dir, eval_options, log=print):
    """Trains (or resumes) one run and scores it; returns "skipped" or "done"."""
    import keras

    from amr_tf import evaluate
    from trainers import run

    if finished_epochs(run_dir) >= config.epochs and evaluated(run_dir, recipe.metric):
        return "skipped"
    if finished_epochs(run_dir) < config.epochs:
        run.fit(config, run_dir)
    if not evaluated(run_dir, recipe.metric):
        records = evaluate.evaluate_run(run_dir, metric=recipe.metric, **eval_options)
        summary = records[recipe.metric]["summary"]
        log("  " + " ".join(f"{k}={rundir.plain(v)}" for k, v in summary.items()))
    keras.backend.clear_session()  # the next run builds its networks afresh
    return "done"


def reproduce(table, scale=1.0, seeds=recipes.SEEDS, only=None, steps_per_epoch=None, out_dir="runs/reproduce",
              data_dir=None, eval_options=None, log=print):
    """Runs a table; returns {"done": n, "skipped": n, "failed": [run_dir, ...]}.

    A run that fails past set-up is reported (with its traceback) and the others go on; bad input
    (an unknown table, data that cannot be read) raises ValueError before anything is trained.
    """
    runs = plan(table, scale, seeds, only, steps_per_epoch, out_dir, data_dir)
    eval_options = eval_options or {}
    counts = {"done": 0, "skipped": 0, "failed": []}
    for i, (recipe, config, run_dir) in enumerate(runs, 1):
        start = time.time()
        log(f"[{i}/{len(runs)}] {recipe.name} seed {config.seed}: {config.epochs} epochs -> {run_dir}")
        try:
            status = run_one(recipe, config, run_dir, eval_options, log)
        except ValueError:
            if counts["done"] or counts["skipped"]:  # bad input found late: keep what was done
                log(f"  stopped after {counts['done']} done, {counts['skipped']} skipped")
            raise
        except Exception:  # noqa: BLE001 - one broken run must not lose the others
            log(traceback.format_exc())
            log(f"  FAILED: {run_dir}")
            counts["failed"].append(run_dir)
            continue
        counts[status] += 1
        log(f"  {status} in {time.time() - start:.0f} s")
    return counts


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
                      f"-> {run_dir} ({finished_epochs(run_dir)} done){paper}")
            return
        counts = reproduce(
            FLAGS.table, FLAGS.scale, FLAGS.seeds, FLAGS.only, FLAGS.steps_per_epoch, FLAGS.out_dir,
            FLAGS.data_dir, dict(votes=FLAGS.votes, batch_L=FLAGS.batch_L, variance_samples=FLAGS.variance_samples,
                 interpolations=FLAGS.interpolations),
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
