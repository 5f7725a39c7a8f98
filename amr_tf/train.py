"""Train AE+GAN or AMR: `python -m amr_tf.train --dataset=digits --mixer=mixup --k=3`.

Re-running the same command resumes from the run directory's newest checkpoint;
`--run_dir=RUN` continues an existing run from its own config.json (add --epochs=N to extend it).
"""

import dataclasses
import os
import sys

from absl import app, flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf.config import BOTTLENECKS, GAN_LOSSES, MIXERS, MODELS, PRECISIONS, RECON_LOSSES, Config  # noqa: E402

_D = Config()
flags.DEFINE_string("dataset", _D.dataset, "Data set: digits (offline default), ...; see `python -m amr_tf.data`.")
flags.DEFINE_string("model", _D.model, f"Trainer: {', '.join(MODELS)}.")
flags.DEFINE_string("mixer", _D.mixer, f"Mixing function: {', '.join(MIXERS)} (none = AE+GAN baseline).")
flags.DEFINE_integer("k", _D.k, "Examples per mix (>= 2 with a mixer).")
flags.DEFINE_float("lamb", _D.lamb, "Reconstruction loss weight (the paper's lambda).")
flags.DEFINE_float("beta", _D.beta, "Consistency loss weight (supplement 7.3).")
flags.DEFINE_float("cls", _D.cls, "Supervised class-mixer weight (Eq. 7); 0 = unsupervised.")
flags.DEFINE_integer("bottleneck", _D.bottleneck, f"Code size d_h: {', '.join(map(str, BOTTLENECKS))}.")
flags.DEFINE_integer("epochs", _D.epochs, "Epochs to train (raise it to extend a finished run).")
flags.DEFINE_integer("batch_size", _D.batch_size, "Global batch size.")
flags.DEFINE_integer("steps_per_epoch", _D.steps_per_epoch, "Cap on steps per epoch (default: the whole train split).")
flags.DEFINE_integer("subset_train", _D.subset_train, "Keep this many (seeded) training examples.")
flags.DEFINE_integer("update_g_every", _D.update_g_every, "Update the auto-encoder every N steps.")
flags.DEFINE_string("recon_loss", _D.recon_loss, f"Reconstruction loss: {', '.join(RECON_LOSSES)}.")
flags.DEFINE_string("gan_loss", _D.gan_loss, f"GAN loss: {', '.join(GAN_LOSSES)}.")
flags.DEFINE_float("lr", _D.lr, "Adam learning rate (all three optimizers).")
flags.DEFINE_float("probe_lr", _D.probe_lr, "The linear probe's Adam learning rate (the original used --lr, 1e-4).")
flags.DEFINE_float("beta1", _D.beta1, "Adam beta_1.")
flags.DEFINE_float("beta2", _D.beta2, "Adam beta_2.")
flags.DEFINE_float("weight_decay", _D.weight_decay, "Coupled L2 weight decay (as torch's Adam).")
flags.DEFINE_integer("seed", _D.seed, "Seed for weights, mixing and data order.")
flags.DEFINE_string("data_dir", _D.data_dir, "Where data sets are read from (TFDS data_dir).")
flags.DEFINE_string("attributes", _D.attributes, "Comma-separated attributes as multi-hot labels (CelebA).")
flags.DEFINE_boolean("jit_compile", _D.jit_compile, "Compile the train step with XLA.")
flags.DEFINE_string("precision", _D.precision, f"Compute precision: {', '.join(PRECISIONS)} (losses stay float32).")
flags.DEFINE_string("out_dir", None, "Run directory (default runs/<dataset>_<mixer>_k<k>_lamb<lamb>_s<seed>).")
flags.DEFINE_string("run_dir", None, "Continue the existing run in this directory (its config.json).")
flags.DEFINE_boolean("resume", True, "Resume from the run directory's newest checkpoint (--noresume refuses one).")
flags.DEFINE_enum("strategy", "auto", ["auto", "default", "mirrored", "multi_worker"],
                  "tf.distribute strategy: auto (mirrored when >1 GPU is visible), default (one device), "
                  "mirrored (all local GPUs, or --logical_cpus), multi_worker (machines in TF_CONFIG).")
flags.DEFINE_integer("logical_cpus", None, "Split the CPU into N logical devices (mirrored training without GPUs).")
FLAGS = flags.FLAGS
FIELDS = [f.name for f in dataclasses.fields(Config)]


def config_from_flags():
    """Returns (config, run_dir) from the command line; raises ValueError on bad input."""
    if FLAGS.run_dir:
        path = os.path.join(FLAGS.run_dir, "config.json")
        if not os.path.isfile(path):
            raise ValueError(f"--run_dir={FLAGS.run_dir} is not a run directory (no config.json there)")
        with open(path) as f:
            base = Config.from_json(f.read())
        given = {name: FLAGS[name].value for name in FIELDS if FLAGS[name].present}
        return dataclasses.replace(base, **given), FLAGS.run_dir
    config = Config(**{name: FLAGS[name].value for name in FIELDS})
    return config, FLAGS.out_dir or os.path.join("runs", config.run_name())


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    try:
        config, run_dir = config_from_flags()
        from trainers import run
        from trainers import strategy as strategies

        strategy = strategies.make_strategy(FLAGS.strategy, FLAGS.logical_cpus)
        best = run.fit(config, run_dir, resume=FLAGS.resume, strategy=strategy)
    except ValueError as e:  # bad input: one line, no traceback
        fail(str(e))
    print(f"run_dir={run_dir} best={best}", flush=True)


def fail(message):
    print(f"amr_tf.train: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


if __name__ == "__main__":
    app.run(main)
