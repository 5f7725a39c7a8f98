"""`python -m amr_tf.data NAME [--bench]`: what a data set is, and how fast it is fed.

Prints each split and its size, the image shape and range, the labels and where the data
is read from; `--bench` also times the training pipeline (images/s, median of --repeats).
Bad input ends with one line and exit code 2 (`amr_tf.cli.fail`).
"""

import statistics
import time

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()  # before amr_tf.cli, whose Config imports TensorFlow
from amr_tf import cli  # noqa: E402


def bench(name, config, batches, warmup):
    """Images/s of the training pipeline over `batches` batches after `warmup`."""
    from amr_tf import data

    steps = data.steps_per_epoch(name, config)
    epochs = -(-(batches + warmup) // steps)
    it = iter(data.load(name, "train", config, epochs=(0, epochs), steps=steps))
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * config.batch_size / (time.perf_counter() - start)


FLAGS = flags.FLAGS
# The Config fields this command reads, defined with the training CLI's help and defaults.
CONFIG_FLAGS = ("data_dir", "attributes", "subset_train", "labels", "channels", "image_size", "split",
                "strict_images", "batch_size")


def define_flags():
    """The command's flags; defined only when it runs as a program (importing it defines none)."""
    cli.define_config_flags(CONFIG_FLAGS)
    flags.DEFINE_boolean("bench", False, "Time the training pipeline (images/s).")
    flags.DEFINE_integer("batches", 300, "--bench: batches timed per repeat.")
    flags.DEFINE_integer("warmup", 20, "--bench: batches before timing.")
    flags.DEFINE_integer("repeats", 3, "--bench: timings; the median is reported.")


def main(argv):
    if len(argv) != 2:
        cli.fail("amr_tf.data", "give one data set name: python -m amr_tf.data NAME [--bench] "
                 f"(got {len(argv) - 1}: {' '.join(argv[1:]) or 'none'})")
    name = argv[1]
    if FLAGS.bench and (FLAGS.batches < 1 or FLAGS.warmup < 0 or FLAGS.repeats < 1):  # before any work
        cli.fail("amr_tf.data", f"need --batches >= 1, --warmup >= 0, --repeats >= 1; got "
                 f"{FLAGS.batches}, {FLAGS.warmup}, {FLAGS.repeats}")
    from amr_tf import data
    from amr_tf.config import Config

    try:
        config = Config(dataset=name, **cli.config_values(CONFIG_FLAGS))
        info = data.info(name, config)
        print(f"dataset: {info.name}")
        print(f"source: {info.origin}")
        kind = "points" if len(info.image_shape) == 1 else "image"
        print(f"{kind} shape: {tuple(info.image_shape)}  range: [{info.value_range[0]:g}, {info.value_range[1]:g}]")
        print(f"labels: {info.n_classes} ({info.labels})")
        for split in data.SPLITS:
            note = ""
            if split == "train" and config.subset_train and config.subset_train < info.split_sizes[split]:
                note = f"  (--subset_train keeps {config.subset_train})"
            print(f"{split}: {info.split_sizes[split]}{note}")
        if name == "folder":
            from amr_tf.data import folder

            decoded = folder.load(folder.Options.of(config))
            for split, counts in folder.class_counts(config).items() if decoded.index.classes else ():
                print(f"{split} classes: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
            skipped = f", {len(decoded.skipped)} skipped (cannot be decoded)" if decoded.skipped else ""
            print(f"decoded {len(decoded.labels)} images in {decoded.seconds:.1f} s "
                  f"({len(decoded.labels) / max(decoded.seconds, 1e-9):.0f} images/s){skipped}; "
                  f"fingerprint: {info.fingerprint}")
        if FLAGS.bench:
            rates = [bench(name, config, FLAGS.batches, FLAGS.warmup) for _ in range(FLAGS.repeats)]
            print(f"pipeline images_per_s={statistics.median(rates):.0f} (median of {FLAGS.repeats}: "
                  f"{', '.join(f'{r:.0f}' for r in rates)}; batch {config.batch_size}, {FLAGS.batches} batches "
                  f"after {FLAGS.warmup})")
    except ValueError as e:
        cli.fail("amr_tf.data", str(e))


if __name__ == "__main__":
    define_flags()
    cli.run(main, "amr_tf.data")
