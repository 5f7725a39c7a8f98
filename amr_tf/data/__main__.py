"""`python -m amr_tf.data NAME [--bench]`: what a data set is, and how fast it is fed.

Prints each split and its size, the image shape and range, the labels and where the data
is read from; `--bench` also times the training pipeline (images/s, median of --repeats).
Bad input ends with one line and exit code 2.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m amr_tf.data", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="data set name")
    parser.add_argument("--data_dir", default=None, help="where data sets are read from (TFDS data_dir)")
    parser.add_argument("--attributes", default=None, help="CelebA attributes as multi-hot labels")
    parser.add_argument("--subset_train", type=int, default=None, help="keep this many training examples")
    parser.add_argument("--labels", default="inferred", help="folder: inferred (from subfolders) or none")
    parser.add_argument("--channels", type=int, default=None, help="folder: 1 or 3 (default: from the images)")
    parser.add_argument("--image_size", type=int, default=None, help="folder: 32 or 64 (default 32)")
    parser.add_argument("--split", default="0.9,0.05,0.05", help="folder: train,valid,test fractions")
    parser.add_argument("--strict_images", action="store_true", help="folder: refuse undecodable images")
    parser.add_argument("--bench", action="store_true", help="time the training pipeline")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=300, help="batches timed per repeat")
    parser.add_argument("--warmup", type=int, default=20, help="batches before timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings; the median is reported")
    args = parser.parse_args(argv)

    from amr_tf import quiet

    quiet.import_tensorflow()
    from amr_tf import data
    from amr_tf.config import Config

    try:
        config = Config(dataset=args.name, data_dir=args.data_dir, attributes=args.attributes,
                        subset_train=args.subset_train, batch_size=args.batch_size, labels=args.labels,
                        channels=args.channels, image_size=args.image_size, split=args.split,
                        strict_images=args.strict_images)
        info = data.info(args.name, config)
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
        if args.name == "folder":
            from amr_tf.data import folder

            decoded = folder.load(folder.Options.of(config))
            for split, counts in folder.class_counts(config).items() if decoded.index.classes else ():
                print(f"{split} classes: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
            skipped = f", {len(decoded.skipped)} skipped (cannot be decoded)" if decoded.skipped else ""
            print(f"decoded {len(decoded.labels)} images in {decoded.seconds:.1f} s "
                  f"({len(decoded.labels) / max(decoded.seconds, 1e-9):.0f} images/s){skipped}; "
                  f"fingerprint: {info.fingerprint}")
        if args.bench:
            rates = [bench(args.name, config, args.batches, args.warmup) for _ in range(args.repeats)]
            print(f"pipeline images_per_s={statistics.median(rates):.0f} (median of {args.repeats}: "
                  f"{', '.join(f'{r:.0f}' for r in rates)}; batch {config.batch_size}, {args.batches} batches "
                  f"after {args.warmup})")
    except ValueError as e:
        print(f"amr_tf.data: error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
