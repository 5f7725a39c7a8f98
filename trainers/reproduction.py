"""A table of the paper, run: every recipe of it trained for each seed, then scored.

Runs go to `<out_dir>/<recipe name>/s<seed>`, seed 0 of every recipe first. Each is scored by its
table's metric (the probe is tracked while training; dSprites and lines runs are evaluated
afterwards into `eval/<metric>.json`). Finished runs are skipped and interrupted ones resume from
their newest checkpoint, so running the same table again continues where it stopped.
"""

import os
import time
import traceback

from amr_tf import recipes, rundir


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


def evaluated(run_dir, metric):
    return metric == "probe" or rundir.eval_path(run_dir, metric).is_file()


def run_one(recipe, config, run_dir, eval_options, log=print):
    """Trains (or resumes) one run and scores it; returns "skipped" or "done"."""
    import keras

    from amr_tf import evaluation
    from trainers import run

    if rundir.finished_epochs(run_dir) >= config.epochs and evaluated(run_dir, recipe.metric):
        return "skipped"
    if rundir.finished_epochs(run_dir) < config.epochs:
        run.fit(config, run_dir)
    if not evaluated(run_dir, recipe.metric):
        records = evaluation.evaluate_run(run_dir, metric=recipe.metric, checkpoint=recipe.checkpoint, **eval_options)
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
