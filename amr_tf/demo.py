"""`make demo`: train AMR (mixup) on the bundled digits, offline, then draw interpolations.

Writes runs/demo/ (the run directory), runs/demo/interpolation.png (for pairs of test digits:
pixel-space interpolation, then decoding mixed codes, each row labelled) and runs/demo/demo.json
(the checkpoint drawn and its reconstruction error), then exports that checkpoint for TF
Serving to saved_models/demo/<version>/. Re-running resumes or reuses the finished run, and
reuses its export when the checkpoint is unchanged.

The demo's settings are not the paper's (`DEMO`): at the original's lr 1e-4 with the generator
updated every 5th step, a few minutes on a CPU give the decoder 40 updates and it has learned
nothing (every digit decodes to the same grey blob). At lr 1e-3 with the generator updated every
step it reconstructs after about 100 updates and its decoded mixes morph one digit into another.
"""

import dataclasses
import os
import sys
import time

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli  # noqa: E402

# lr 1e-3 and a generator update every step (the paper: 1e-4, every 5th), batch 32: twice the
# updates of batch 64 for the same arithmetic, which is what a short CPU run is short of.
DEMO = dict(dataset="digits", mixer="mixup", k=2, lr=1e-3, update_g_every=1, batch_size=32)

flags.DEFINE_string("out_dir", "runs/demo", "Run directory of the demo.")
flags.DEFINE_integer("epochs", 6, "Epochs on digits (about 25 s each on a 2-core CPU).")
FLAGS = flags.FLAGS

PAIRS = ((0, 1), (3, 8), (4, 9), (5, 6), (7, 2))  # digit classes to interpolate between
STEPS = 10
EXPORT_DIR = "saved_models"  # TF Serving's model base paths live under it: saved_models/<run name>
SUMMARY = "demo.json"


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


def reconstructing_checkpoint(out_dir):
    """"best" (best probe accuracy) or "last", whichever reconstructs the valid split better:
    the picture is of decoded images, and the probe's best epoch may come before the decoder's."""
    from amr_tf import rundir

    header, rows, _ = rundir.read_rows(os.path.join(out_dir, rundir.METRICS_FILE))
    recon = {int(row[header.index("epoch")]): float(row[header.index("val_recon")]) for row in rows}
    best, last = rundir.read_best(out_dir)["epoch"], max(recon)
    return "last" if recon[last] < recon[best] else "best"


def main(argv):
    del argv
    import numpy as np

    from amr_tf import checkpoint, data, evaluation, images, rundir
    from amr_tf.config import Config
    from amr_tf.evaluation import figures
    from trainers import run

    config = Config(**DEMO, epochs=FLAGS.epochs)
    set_aside_other_run(FLAGS.out_dir, config)
    start = time.time()
    run.fit(config, FLAGS.out_dir)
    print(f"trained in {time.time() - start:.0f} s", flush=True)

    which = reconstructing_checkpoint(FLAGS.out_dir)
    _, nets, meta = checkpoint.load_networks(FLAGS.out_dir, which)
    x, y = data.get_source("digits").arrays("test", config)
    l1, constant_l1 = evaluation.reconstruction_l1(nets.encoder, nets.decoder, x)
    labels = y.argmax(-1)
    rows, names = [], []
    for a, b in PAIRS:
        xa, xb = x[np.argmax(labels == a)], x[np.argmax(labels == b)]
        alphas = np.linspace(1.0, 0.0, STEPS, dtype=np.float32)[:, None, None, None]
        rows += [alphas * xa + (1 - alphas) * xb,
                 evaluation.interpolation_strip(nets.encoder, nets.decoder, xa, xb, STEPS, "mixup")]
        names += [f"{a} -> {b}: pixels", f"{a} -> {b}: decoded mix"]
    path = images.save_png(os.path.join(FLAGS.out_dir, "interpolation.png"),
                           figures.labelled(rows, names, scale=3), scale=1)
    rundir.write_json(os.path.join(FLAGS.out_dir, SUMMARY), {
        "checkpoint": which, "epoch": meta["epoch"], "test_recon_l1": l1, "constant_image_l1": constant_l1})
    print(f"reconstruction L1 on the test digits: {l1:.3f} (the best constant image: {constant_l1:.3f}); "
          f"checkpoint: {which}, epoch {meta['epoch']}")
    print(f"interpolation strips: {path}")
    print(f"per-epoch pictures: {rundir.images_dir(FLAGS.out_dir)}; "
          f"TensorBoard: tensorboard --logdir {rundir.logs_dir(FLAGS.out_dir)}")

    from amr_tf.serving import export_run

    exported = export_run(FLAGS.out_dir, EXPORT_DIR, checkpoint=which, reuse_same=True)
    print(f"exported for TF Serving: {exported} (--model_base_path={os.path.abspath(os.path.dirname(exported))}; "
          "see docs/serving.md)")
    sys.stdout.flush()


if __name__ == "__main__":
    cli.run(main, "amr_tf.demo")
