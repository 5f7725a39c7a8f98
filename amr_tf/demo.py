"""`make demo`: train AMR (mixup) on the bundled digits, offline, then draw interpolations.

Writes runs/demo/ (the run directory) and runs/demo/interpolation.png: for pairs of test
digits, pixel-space interpolation (top of each pair) against decoding mixed codes (below),
then exports the best checkpoint for TF Serving to saved_models/demo/<version>/.
Re-running resumes or reuses the finished run, and reuses its export when the checkpoint
is unchanged.
"""

import dataclasses
import os
import sys
import time

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli  # noqa: E402

flags.DEFINE_string("out_dir", "runs/demo", "Run directory of the demo.")
flags.DEFINE_integer("epochs", 10, "Epochs on digits (about 5 s each on a 2-core CPU).")
FLAGS = flags.FLAGS

PAIRS = ((0, 1), (3, 8), (4, 9), (5, 6), (7, 2))  # digit classes to interpolate between
STEPS = 10
EXPORT_DIR = "saved_models"  # TF Serving's model base paths live under it: saved_models/<run name>


def set_aside_other_run(out_dir, config):
    """Renames out_dir if it holds a run with other settings (e.g. from an older version's
    defaults): the demo then trains afresh and nothing is lost."""
    from amr_tf import rundir

    if not rundir.config_path(out_dir).exists():
        return
    try:
        old = rundir.read_config(out_dir)
        same = dataclasses.replace(old, epochs=config.epochs) == config  # more epochs extend it
    except ValueError:
        same = False
    if not same:
        moved = f"{out_dir.rstrip('/')}-{time.strftime('%Y%m%d-%H%M%S')}"
        os.rename(out_dir, moved)
        print(f"{out_dir} held a run with other settings: moved it to {moved}", flush=True)


def main(argv):
    del argv
    import numpy as np

    from amr_tf import checkpoint, data, evaluation, images
    from amr_tf.config import Config
    from trainers import run

    config = Config(dataset="digits", mixer="mixup", k=2, epochs=FLAGS.epochs)
    set_aside_other_run(FLAGS.out_dir, config)
    start = time.time()
    best = run.fit(config, FLAGS.out_dir)
    print(f"trained in {time.time() - start:.0f} s; best: {best}", flush=True)

    _, nets, meta = checkpoint.load_networks(FLAGS.out_dir, "best")
    x, y = data.get_source("digits").arrays("test", config)
    labels = y.argmax(-1)
    rows = []
    for a, b in PAIRS:
        xa, xb = x[np.argmax(labels == a)], x[np.argmax(labels == b)]
        alphas = np.linspace(1.0, 0.0, STEPS, dtype=np.float32)[:, None, None, None]
        rows.append(alphas * xa + (1 - alphas) * xb)  # pixel space
        rows.append(evaluation.interpolation_strip(nets.encoder, nets.decoder, xa, xb, STEPS, "mixup"))
    path = images.save_png(os.path.join(FLAGS.out_dir, "interpolation.png"), images.grid(rows), scale=3)
    print(f"interpolation strips (best checkpoint, epoch {meta['epoch']}): {path}")
    print(f"per-epoch pictures: {os.path.join(FLAGS.out_dir, 'images')}; "
          f"TensorBoard: tensorboard --logdir {os.path.join(FLAGS.out_dir, 'logs')}")

    from amr_tf.serving import export_run

    exported = export_run(FLAGS.out_dir, EXPORT_DIR, checkpoint="best", reuse_same=True)
    print(f"exported for TF Serving: {exported} (--model_base_path={os.path.abspath(os.path.dirname(exported))}; "
          "see README, Serving with TF Serving)")
    sys.stdout.flush()


if __name__ == "__main__":
    cli.run(main, "amr_tf.demo")
