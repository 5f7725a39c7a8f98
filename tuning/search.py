"""Search lambda with KerasTuner: `python -m tuning.search --dataset=digits --lambdas=2,5,10,20,50`.

Each trial trains `amr_tf.train`'s model (same Config, same trainer) into a run directory inside
the tuner's trial directory; the objective is the best `val_probe_accuracy` over epochs (the
paper's model selection), averaged over `--seeds`. Prints one line per finished trial, then a
table of all trials and `best: lamb=... (val_probe_accuracy=..., test=...)`, also written to
`results.csv` and `best.json` in the search directory. Re-running the same command resumes the
search; finished trials are not re-run. With KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP /
KERASTUNER_ORACLE_PORT set, runs as KerasTuner's chief or one of its workers (see docs/tuning.md).
"""

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli, rundir  # noqa: E402
from amr_tf.config import Config  # noqa: E402
from tuning import session  # noqa: E402
from tuning.oracles import TUNERS  # noqa: E402

BASE_FIELDS = ("dataset", "mixer", "k", "beta", "epochs", "batch_size", "steps_per_epoch", "subset_train",
               "bottleneck", "update_g_every", "data_dir", "seed", "image_size", "channels", "labels", "split",
               "strict_images")
cli.define_config_flags(BASE_FIELDS, help_overrides={
    "mixer": "Mixer when --mixers is not searched.",
    "k": "k when --ks is not searched.",
    "beta": "beta when --betas is not searched.",
    "epochs": "Epochs per trial (hyperband: the largest budget).",
    "seed": "First seed (also seeds the random and bayesian tuners).",
})
flags.DEFINE_string("lambdas", "2,5,10,20,50", "Comma-separated values of lambda (reconstruction weight) to try.")
flags.DEFINE_string("mixers", "", "Comma-separated mixers to try as well (empty: only --mixer).")
flags.DEFINE_string("ks", "", "Comma-separated k to try as well (empty: only --k).")
flags.DEFINE_string("betas", "", "Comma-separated consistency weights to try as well (empty: only --beta).")
flags.DEFINE_string("tuner", "grid", f"Search algorithm: {', '.join(TUNERS)}.")
flags.DEFINE_integer("max_trials", None, "Trials at most (default: the whole grid; not for hyperband).")
flags.DEFINE_integer("seeds", 1, "Train each setting with this many seeds (--seed, --seed+1, ...); "
                     "the objective is their mean.")
flags.DEFINE_string("directory", "runs/tuning", "The tuner's directory (shared by chief and workers).")
flags.DEFINE_string("project_name", None,
                    "The search's folder in --directory (default <dataset>_<tuner>_<hash of the settings>).")
flags.DEFINE_boolean("export_best", False, "Export the best trial's decoder through amr_tf.export.")
flags.DEFINE_string("export_dir", "saved_models", "Export root for --export_best.")
flags.DEFINE_integer("fit_verbose", 0, "Keras' verbosity inside each trial (0: one line per epoch from the tuner).")
FLAGS = flags.FLAGS


def spec_from_flags():
    """The SearchSpec of the command line; raises ValueError on bad input (before any training)."""
    session.check_options(FLAGS.tuner, FLAGS.max_trials, FLAGS.seeds)
    lambdas = session.parse_list("lambdas", FLAGS.lambdas, float)
    mixers = session.parse_list("mixers", FLAGS.mixers, str) if FLAGS.mixers else ()
    ks = session.parse_list("ks", FLAGS.ks, int) if FLAGS.ks else ()
    betas = session.parse_list("betas", FLAGS.betas, float) if FLAGS.betas else ()
    base = Config(lamb=lambdas[0], **cli.config_values(BASE_FIELDS))
    if base.dataset == "folder":
        from amr_tf import data

        if data.info("folder", base).n_classes == 0:
            raise ValueError("the search's objective is the linear probe's valid accuracy, and this folder's images "
                             "have no labels (no class subfolders, or --labels=none): give them class subfolders")
    seeds = tuple(range(FLAGS.seed, FLAGS.seed + FLAGS.seeds))
    return session.make_spec(base, lambdas, mixers, ks, betas, FLAGS.tuner, FLAGS.max_trials, seeds)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    try:
        spec = spec_from_flags()
        from tuning import report

        session.role()  # a half-set distributed environment is bad input too
        tuner, who = session.run_search(spec, FLAGS.directory, FLAGS.project_name, FLAGS.fit_verbose)
    except ValueError as e:  # bad input: one line, no traceback
        fail(str(e))
    except RuntimeError as e:  # e.g. KerasTuner gives up after 3 failed trials in a row
        lines = str(e).strip().splitlines() or ["no message"]
        fail(f"search stopped: {lines[0]} (last error: {lines[-1]})", code=1)
    if who == "worker":
        print(f"worker {tuner.tuner_id}: no more trials", flush=True)
        return
    rows = report.rows(tuner.oracle)
    best = report.best(tuner.oracle, tuner.project_dir, spec.seeds)
    report.write(tuner.project_dir, rows, best)
    print(report.table(rows), flush=True)
    if best is None:
        fail(f"no trial finished; see {tuner.project_dir}/trial_*/trial.json for their errors")
    print(report.best_line(best), flush=True)
    print(f"results={tuner.project_dir}/results.csv best={tuner.project_dir}/best.json", flush=True)
    if FLAGS.export_best:
        try:
            export(best["run_dir"], FLAGS.export_dir)
        except ValueError as e:
            fail(f"exporting {best['run_dir']} failed: {e}")


def export(run_dir, export_dir):
    """Exports the best run's encoder/decoder for TF Serving (amr_tf.export's own checks apply)."""
    from amr_tf.serving import export_run

    name = rundir.read_config(run_dir).run_name()
    print(f"exported={export_run(run_dir, export_dir, model_name=name)}", flush=True)


def fail(message, code=2):
    cli.fail("tuning.search", message, code)


if __name__ == "__main__":
    cli.run(main, "tuning.search")
