"""Serving benchmark: `python -m amr_tf.serving_bench --model_dir=saved_models/demo`.

Loads an exported SavedModel with `tf.saved_model.load` in this (fresh) process, the way a
server would, and times `serving_default` (B codes -> B images) and `interpolate` (two
images -> a strip of max(B, 2) images) for each batch size B: the first call (cold), then latency
p50/p99 over `--iters` calls and throughput in images per second. Nothing of amr_tf but
this file is imported; inputs are random (the decoder's cost does not depend on them).
Prints one line per (signature, batch) and `serving_bench_done` last.
"""

import sys
import time
from pathlib import Path

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from amr_tf import cli  # noqa: E402

flags.DEFINE_string("model_dir", None, "A SavedModel version folder, or a model folder (its highest version).")
flags.DEFINE_list("batches", ["1", "64"], "Batch sizes (for interpolate: steps, at least 2).")
flags.DEFINE_list("signatures", ["serving_default", "interpolate"], "Signatures to time.")
flags.DEFINE_integer("iters", 200, "Timed calls per (signature, batch).")
flags.DEFINE_integer("warmup", 10, "Untimed calls before timing (after the cold first call).")
FLAGS = flags.FLAGS


def resolve(model_dir):
    """The SavedModel folder: `model_dir` itself, or its highest numeric version."""
    path = Path(model_dir)
    if (path / "saved_model.pb").is_file():
        return path
    found = sorted((int(p.name), p) for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file())
    if not found:
        raise ValueError(f"{model_dir} holds no SavedModel (no saved_model.pb, no numeric version folder with one)")
    return found[-1][1]


def steps_for(batch):
    """interpolate's steps for a batch size: a strip has at least its two ends."""
    return max(batch, 2)


def make_inputs(signature, batch, rng):
    """Random inputs for `signature` with `batch` images out."""
    specs = signature.structured_input_signature[1]
    if "steps" in specs:  # interpolate
        shape = specs["image_a"].shape.as_list()
        pair = [tf.constant(rng.uniform(-1, 1, shape).astype(np.float32)) for _ in range(2)]
        return {"image_a": pair[0], "image_b": pair[1], "steps": tf.constant(steps_for(batch), tf.int32)}
    name, spec = next(iter(specs.items()))
    shape = [batch] + spec.shape.as_list()[1:]
    return {name: tf.constant(rng.normal(size=shape).astype(np.float32))}


def time_signature(fn, inputs, iters, warmup):
    """(cold first call, sorted latencies) in seconds; each call waits for its result on the host."""
    start = time.perf_counter()
    [out.numpy() for out in fn(**inputs).values()]
    cold = time.perf_counter() - start
    for _ in range(warmup):
        [out.numpy() for out in fn(**inputs).values()]
    latencies = []
    for _ in range(iters):
        start = time.perf_counter()
        [out.numpy() for out in fn(**inputs).values()]
        latencies.append(time.perf_counter() - start)
    return cold, np.sort(latencies)


def bench(model_dir, batches=(1, 64), signatures=("serving_default", "interpolate"), iters=200, warmup=10):
    """Loads `model_dir` and times each signature and batch; returns a list of result dicts."""
    path = resolve(model_dir)
    start = time.perf_counter()
    model = tf.saved_model.load(str(path))
    load_s = time.perf_counter() - start
    unknown = sorted(set(signatures) - set(model.signatures))
    if unknown:
        raise ValueError(f"{path} has no signature {unknown}; it has {sorted(model.signatures)}")
    rng = np.random.default_rng(0)
    results = []
    for name in signatures:
        for batch in batches:
            cold, lat = time_signature(model.signatures[name], make_inputs(model.signatures[name], batch, rng),
                                       iters, warmup)
            images = steps_for(batch) if name == "interpolate" else batch
            results.append({"signature": name, "batch": batch, "images": images, "load_s": load_s,
                            "cold_ms": 1e3 * cold, "p50_ms": 1e3 * np.percentile(lat, 50),
                            "p99_ms": 1e3 * np.percentile(lat, 99), "images_per_s": images * len(lat) / lat.sum()})
    return path, results


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    try:
        if not FLAGS.model_dir:
            raise ValueError("--model_dir is required (e.g. saved_models/demo)")
        batches = [int(b) for b in FLAGS.batches]
        if min(batches) < 1 or FLAGS.iters < 1 or FLAGS.warmup < 0:
            raise ValueError(f"batches and iters must be >= 1 and warmup >= 0; got --batches={FLAGS.batches} "
                             f"--iters={FLAGS.iters} --warmup={FLAGS.warmup}")
        path, results = bench(FLAGS.model_dir, batches, FLAGS.signatures, FLAGS.iters, FLAGS.warmup)
    except ValueError as e:
        fail(str(e))
    threading = tf.config.threading
    print(f"model={path} load_s={results[0]['load_s']:.2f} iters={FLAGS.iters} "
          f"threads=inter:{threading.get_inter_op_parallelism_threads()},"
          f"intra:{threading.get_intra_op_parallelism_threads()} (0 = all cores)")
    for r in results:
        print(f"signature={r['signature']} batch={r['batch']} images={r['images']} cold_ms={r['cold_ms']:.1f} "
              f"p50_ms={r['p50_ms']:.2f} p99_ms={r['p99_ms']:.2f} images_per_s={r['images_per_s']:.0f}")
    print("serving_bench_done", flush=True)


def fail(message):
    print(f"amr_tf.serving_bench: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


if __name__ == "__main__":
    cli.run(main, "amr_tf.serving_bench")
