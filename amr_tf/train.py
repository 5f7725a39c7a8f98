"""Train AE+GAN, AMR, supervised AMR (--cls), ACAI (--model=acai) or beta-VAE (--model=vae):
`python -m amr_tf.train --dataset=digits --mixer=mixup --k=3`.

Re-running the same command resumes from the run directory's newest checkpoint;
`--run_dir=RUN` continues an existing run from its own config.json (add --epochs=N to extend it).
"""

import dataclasses
import os

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli, rundir  # noqa: E402
from amr_tf.config import Config  # noqa: E402

cli.define_config_flags()
flags.DEFINE_string("out_dir", None, "Run directory (default runs/<dataset>_<mixer>_k<k>_lamb<lamb>_s<seed>).")
flags.DEFINE_string("run_dir", None, "Continue the existing run in this directory (its config.json).")
flags.DEFINE_boolean("resume", True, "Resume from the run directory's newest checkpoint (--noresume refuses one).")
flags.DEFINE_boolean("restart", False, "Move the run directory's history (checkpoints, metrics.csv, best.json, "
                     "images, logs) to restart-backup-<time>/ and train from epoch 0.")
flags.DEFINE_enum("strategy", "auto", ["auto", "default", "mirrored", "multi_worker"],
                  "tf.distribute strategy: auto (mirrored when >1 GPU is visible), default (one device), "
                  "mirrored (all local GPUs, or --logical_cpus), multi_worker (machines in TF_CONFIG).")
flags.DEFINE_integer("logical_cpus", None, "Split the CPU into N logical devices (mirrored training without GPUs).")
FLAGS = flags.FLAGS


def config_from_flags():
    """Returns (config, run_dir) from the command line; raises ValueError on bad input."""
    if FLAGS.run_dir and FLAGS.out_dir:
        raise ValueError("give --run_dir (continue that run) or --out_dir (where a new run goes), not both")
    if FLAGS.run_dir:
        base = rundir.read_config(FLAGS.run_dir, label=f"--run_dir={FLAGS.run_dir}")
        return dataclasses.replace(base, **cli.config_values(only_given=True)), FLAGS.run_dir
    config = Config(**cli.config_values())
    return config, FLAGS.out_dir or os.path.join("runs", config.run_name())


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    from amr_tf import checkpoint
    from trainers import run
    from trainers import strategy as strategies

    run_dir = None
    try:
        config, run_dir = config_from_flags()
        strategy = strategies.make_strategy(FLAGS.strategy, FLAGS.logical_cpus)
        best = run.fit(config, run_dir, resume=FLAGS.resume, strategy=strategy, restart=FLAGS.restart)
    except ValueError as e:  # bad input: one line, no traceback
        fail(str(e))
    except run.TrainingDiverged as e:  # a script, or a tuner, must be able to tell
        cli.fail("amr_tf.train", str(e), code=3)
    except OSError as e:  # an unwritable or vanished run directory, a full disk
        cli.fail("amr_tf.train", *cli.os_error_line(e, run_dir))
    except KeyboardInterrupt:
        latest = checkpoint.latest(rundir.checkpoints_dir(run_dir), refuse_old=False) if run_dir else None
        where = (f"the same command resumes {run_dir} after its last finished epoch ({latest.name})" if latest
                 else "no epoch had finished, so the same command starts it again")
        cli.fail("amr_tf.train", f"interrupted; {where}", code=130)
    print(f"run_dir={run_dir} best={best}", flush=True)


def fail(message):
    cli.fail("amr_tf.train", message)


if __name__ == "__main__":
    cli.run(main, "amr_tf.train")
