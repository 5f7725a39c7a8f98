"""Evaluate a trained run: `python -m amr_tf.evaluate --run_dir=RUN --metric=NAME[,NAME...]|all`.

Metrics (each writes `RUN/eval/<metric>.json` and ends the output with `name=value` lines):
- `probe`: a logistic-regression probe re-fitted to convergence on the frozen codes of the
  train split (scikit-learn, lbfgs, standardised codes), scored on valid and test, beside the
  probe accuracy tracked during training (RUN/best.json).
- `disentanglement`: Kim & Mnih's FactorVAE metric on dSprites, as disentanglement_lib
  computes it (`disentanglement`) and as the original AMR code did for the paper's Table 4
  (`original_score`, at most 0.8); dSprites runs only.
- `lines`: ACAI's Mean Distance and Smoothness of latent interpolations, with pixel-space
  interpolation as a reference; `--dataset=lines` runs only.
- `spiral`: how far decoded random mixes land from the spiral (supplement Fig. 12): mean
  distance to the noiseless curve and the fraction within the data's noise band, beside the
  same pairs mixed in input space; `--dataset=spiral` runs only.
- `class_mixer`: the class mixer's decoded mixes (Eq. 7) classified by a judge trained apart on
  the real images: how often it names the intended class, against plain mixup of the same
  pairs and chance; runs trained with `--cls` only.
- `interpolations`: the paper's figures in RUN/eval/figures/ (see `amr_tf.evaluation.figures`).
- `fid`: Frechet Inception Distance of reconstructions and of decoded mixes against the test
  split, when Keras' InceptionV3 ImageNet weights are on disk (nothing is downloaded).

Scalars also go to TensorBoard (RUN/logs/eval, step = the checkpoint's epoch). This module is
the command only: its flags, then one call of the library, `amr_tf.evaluation.evaluate_run`
(one module per metric in amr_tf/evaluation/), whose functions take plain arguments; the
flags exist only when this module runs as a program.
"""

import sys
from pathlib import Path

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()  # now, silenced, rather than with TF's start-up notices when a metric first uses it

from amr_tf import cli, rundir  # noqa: E402
from amr_tf.evaluation import DEFAULTS, METRICS, evaluate_run, summary_lines  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The CLI's flags; defined only when run as a program (amr_tf.reproduce and tests import the module)."""
    flags.DEFINE_string("run_dir", None, "The run directory to evaluate (written by amr_tf.train).")
    flags.DEFINE_string("metric", "all", f"Comma-separated metrics: {', '.join(METRICS)}; or all "
                        "(every metric that applies to the run).")
    flags.DEFINE_string("checkpoint", "best", f"Which checkpoint: {', '.join(rundir.CHECKPOINTS)} "
                        "(best = best valid probe accuracy).")
    flags.DEFINE_list("compare", [], "interpolations: more run directories drawn beside this one in pairs.png "
                      "(e.g. AE+GAN vs AMR): --compare=RUN2,RUN3 or --compare RUN2 RUN3.")
    cli.define_evaluation_flags(DEFAULTS)


def main(argv):
    compare = list(FLAGS.compare)
    extra = argv[1:]
    if extra and FLAGS["compare"].present:  # `--compare RUN2 RUN3`: absl takes RUN2, RUN3 is left over
        compare += extra
        extra = []
    if extra:
        fail(f"unexpected arguments {extra}; flags look like --name=value")
    if not FLAGS.run_dir:
        fail("--run_dir is required (a run directory written by amr_tf.train)")
    options = {name: getattr(FLAGS, name) for name in DEFAULTS}
    try:
        records = evaluate_run(FLAGS.run_dir, FLAGS.metric, FLAGS.checkpoint, compare, **options)
    except ValueError as e:  # bad input: one line, no traceback
        fail(str(e))
    for record in records.values():
        print(f"wrote {Path(record['run_dir']) / 'eval' / (record['metric'] + '.json')}", file=sys.stderr)
    sys.stderr.flush()
    for line in summary_lines(records):
        print(line)
    sys.stdout.flush()


def fail(message):
    cli.fail("amr_tf.evaluate", message)


if __name__ == "__main__":
    define_flags()
    cli.run(main, "amr_tf.evaluate")
