"""Command-line plumbing shared by the CLIs: one absl flag per Config field, and one-line errors.

The CLI layer only: nothing below the entry points imports this or reads flags.
"""

import dataclasses
import errno
import sys
import typing

from absl import flags

from amr_tf.config import BOTTLENECKS, GAN_LOSSES, MIXERS, MODELS, PRECISIONS, RECON_LOSSES, RECORDED_FIELDS, Config

HELP = {
    "dataset": "Data set: digits (offline default), fashion_mnist, mnist, kmnist, svhn, cifar10, celeba, "
               "dsprites, dsprites_procedural, lines, folder (--data_dir=PATH: your own images); "
               "see `python -m amr_tf.data NAME`.",
    "model": f"Trainer: {', '.join(MODELS)}.",
    "mixer": f"Mixing function: {', '.join(MIXERS)} (none = AE+GAN baseline).",
    "k": "Examples per mix (>= 2 with a mixer).",
    "lamb": "Reconstruction loss weight (the paper's lambda; default 10, 1 on dSprites).",
    "beta": "Consistency loss weight (supplement 7.3).",
    "cls": "Supervised class-mixer weight (Eq. 7; labels or --attributes as y); 0 = unsupervised.",
    "mask_temperature": "Class mixer mask: unset = Bernoulli sample with a straight-through gradient; "
                        "T > 0 = relaxed Bernoulli (binary Concrete) at temperature T.",
    "cls_lr": "Adam learning rate of D's auxiliary classifier head (--cls only); unset: --lr, like the rest of D.",
    "kl_weight": "beta-VAE KL weight (--model=vae only; default 100 on dSprites, else 1).",
    "arch": "Network preset (default: dsprites for dSprites, spiral for the spiral, else "
            "acai<bottleneck>); see amr_tf.networks.PRESETS.",
    "bottleneck": f"Code size d_h: {', '.join(map(str, BOTTLENECKS))}.",
    "batch_size": "Global batch size (split across replicas under a strategy).",
    "epochs": "Epochs to train (raise it to extend a finished run).",
    "steps_per_epoch": "Cap on steps per epoch (default: the whole train split).",
    "last_batch": "The partial batch an epoch's full batches leave: drop (one batch shape) or keep "
                  "(the original's: train on it; the paper's recipes do).",
    "subset_train": "Keep this many training examples (one fixed subset, the same for every --seed).",
    "lr": "Adam learning rate of the auto-encoder and the discriminator.",
    "beta1": "Adam beta_1 (default 0.5; 0.9 for --model=vae).",
    "beta2": "Adam beta_2.",
    "probe_lr": "The linear probe's Adam learning rate (the original used --lr, 1e-4).",
    "weight_decay": "Coupled L2 weight decay (as torch's Adam).",
    "update_g_every": "Update the auto-encoder every N steps.",
    "update_g_phase": "Where --update_g_every's count starts: run (steps 0, N, 2N, ... of the run) or epoch "
                      "(the original's: each epoch's first step; the paper's recipes do).",
    "recon_loss": f"Reconstruction loss: {', '.join(RECON_LOSSES)} (default l1; bce_sum on dSprites "
                  "and for --model=vae).",
    "gan_loss": f"GAN loss: {', '.join(GAN_LOSSES)}.",
    "seed": "Seed for weights, mixing and data order.",
    "data_dir": "Where data sets are read from (TFDS data_dir, IDX files, or --dataset=folder's images).",
    "attributes": "Comma-separated attributes as multi-hot labels (CelebA).",
    "jit_compile": "Compile the train step with XLA.",
    "spectral_norm": "D's spectral norm: reparametrized (the original's: the raw kernel is trained and the "
                     "gradient flows through sigma) or keras (keras.layers.SpectralNormalization: the kernel "
                     "is overwritten by kernel / sigma, no gradient through sigma) or none (no spectral norm).",
    "d_calls": "How the trainer calls D: batched (one call over [x; r; r_mix]; fast) or original (the original "
               "code's five calls a step, each advancing the spectral norm's power iteration).",
    "precision": f"Compute precision: {', '.join(PRECISIONS)} (losses and the probe stay float32).",
    "image_size": "--dataset=folder: the side its images are centre-cropped and resized to: 32 or 64 (default 32).",
    "channels": "--dataset=folder: 1 or 3 (default: 3 unless every image sampled is greyscale).",
    "labels": "--dataset=folder: inferred (from the first-level subfolders' names) or none.",
    "split": "--dataset=folder: train,valid,test fractions of its fixed split.",
    "strict_images": "--dataset=folder: refuse an image that cannot be decoded (default: skip it, counted).",
}
# The evaluation options as `evaluate` and `reproduce` describe them (their defaults:
# amr_tf.evaluation.DEFAULTS). "{inception_file}" is fid's INCEPTION_FILE.
EVALUATION_HELP = {
    "votes": "disentanglement: votes to fit the majority-vote classifier, and as many again to score it; "
             "for the original's score (Table 4's scheme) its n_votes, votes // 5 per factor (the paper: 800).",
    "batch_L": "disentanglement: images per vote (L), for both scores (the paper: 800).",
    "variance_samples": "disentanglement: images for the global variance of each code unit.",
    "seed": "Seed for every random choice (votes, pairs, subsets).",
    "interpolations": "lines: pairs of test lines interpolated and scored.",
    "steps": "lines: images per interpolation; class_mixer: mixing weights a per pair.",
    "probe_examples": "probe: fit on at most this many (seeded) train examples (default all).",
    "fid_examples": "fid: test images (capped by the split).",
    "inception_weights": "fid: the {inception_file} file (default: Keras' cache, $KERAS_HOME/models or "
                         "~/.keras/models).",
}


def define_evaluation_flags(names):
    """Defines the evaluation options `names` as flags: each one's default from
    amr_tf.evaluation.DEFAULTS (the one place it is written), its help from EVALUATION_HELP."""
    from amr_tf.evaluation import DEFAULTS
    from amr_tf.evaluation.fid import INCEPTION_FILE

    for name in names:
        define = flags.DEFINE_string if name == "inception_weights" else flags.DEFINE_integer
        define(name, DEFAULTS[name], EVALUATION_HELP[name].format(inception_file=INCEPTION_FILE))


FIELDS = tuple(f.name for f in dataclasses.fields(Config) if f.name not in RECORDED_FIELDS)
_DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string,
           bool: flags.DEFINE_boolean}


def define_config_flags(names=FIELDS, help_overrides=None):
    """Defines `--<field>` for each Config field in `names`, with the Config's default."""
    hints = typing.get_type_hints(Config)
    # The fields' own defaults, not Config()'s: an unset model/data-dependent default
    # (None) must reach Config unset so that it is filled in for the chosen model and data.
    defaults = {f.name: f.default for f in dataclasses.fields(Config)}
    for name in names:
        kind = hints[name]
        kind = next(a for a in typing.get_args(kind) if a is not type(None)) if typing.get_args(kind) else kind
        _DEFINE[kind](name, defaults[name], (help_overrides or {}).get(name, HELP[name]))


def config_values(names=FIELDS, only_given=False):
    """{field: flag value} for `names` (only those given on the command line if `only_given`)."""
    return {name: flags.FLAGS[name].value for name in names if not only_given or flags.FLAGS[name].present}


def run(main, program, argv=None):
    """`absl.app.run(main)` with a flag of the wrong type (`--k=two`) one line and exit 2, like
    every other bad input, and Ctrl-C one line (exit 130) instead of a traceback."""
    from absl import app

    def parse(args):
        try:
            return flags.FLAGS(args)
        except flags.Error as e:
            fail(program, str(e))

    def guarded(args):
        from absl import logging

        # absl logs INFO by default, and TensorFlow's saver logs a line through it on every
        # checkpoint: a CLI shows warnings and errors unless --verbosity asks for more.
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        try:
            return main(args)
        except KeyboardInterrupt:
            fail(program, "interrupted", code=130)
        except OSError as e:  # a path that cannot be used, a full disk: what and where, one line
            fail(program, *os_error_line(e))

    app.run(guarded, argv=argv, flags_parser=parse)


# The OS errors of the machine (a full disk or quota, a failing or read-only device): exit 1;
# the other OS errors come from the paths a user gave: exit 2.
MACHINE_FAULTS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)


def os_error_line(error, where=None):
    """(one line, exit code) for an OSError that ends a command: what failed and where; code 1
    for the machine's faults (MACHINE_FAULTS), 2 for the rest."""
    name = error.filename or where
    what = error.strerror or str(error)
    return (f"cannot use {name}: {what}" if name else what), (1 if error.errno in MACHINE_FAULTS else 2)


def fail(program, message, code=2):
    """Ends the program with one line on stderr (a user's mistake: no traceback)."""
    print(f"{program}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)
