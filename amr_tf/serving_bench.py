"""Serving benchmark: `python -m amr_tf.serving_bench --model_dir=saved_models/demo`.

Loads an exported SavedModel with `tf.saved_model.load` in this (fresh) process, the way a
server would, and times `serving_default` (B codes -> B images) and `interpolate` (two
images -> a strip of max(B, 2) images) for each batch size B: the first call (cold), then latency
p50/p99 over `--iters` calls and throughput in images per second (`amr_tf.serving.latency`);
the model needs no amr_tf code. Inputs are random (the decoder's cost does not depend on them).
Prints one line per (signature, batch) and `serving_bench_done` last.
"""


from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

import tensorflow as tf  # noqa: E402

from amr_tf import cli  # noqa: E402
from amr_tf.serving.latency import bench  # noqa: E402

flags.DEFINE_string("model_dir", None, "A SavedModel version folder, or a model folder (its highest version).")
flags.DEFINE_list("batches", ["1", "64"], "Batch sizes (for interpolate: steps, at least 2).")
flags.DEFINE_list("signatures", ["serving_default", "interpolate"], "Signatures to time.")
flags.DEFINE_integer("iters", 200, "Timed calls per (signature, batch).")
flags.DEFINE_integer("warmup", 10, "Untimed calls before timing (after the cold first call).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        cli.fail("amr_tf.serving_bench", f"unexpected arguments {argv[1:]}; flags look like --name=value")
    try:
        if not FLAGS.model_dir:
            raise ValueError("--model_dir is required (e.g. saved_models/demo)")
        batches = [int(b) for b in FLAGS.batches]
        if min(batches) < 1 or FLAGS.iters < 1 or FLAGS.warmup < 0:
            raise ValueError(f"batches and iters must be >= 1 and warmup >= 0; got --batches={FLAGS.batches} "
                             f"--iters={FLAGS.iters} --warmup={FLAGS.warmup}")
        path, results = bench(FLAGS.model_dir, batches, FLAGS.signatures, FLAGS.iters, FLAGS.warmup)
    except ValueError as e:
        cli.fail("amr_tf.serving_bench", str(e))
    threading = tf.config.threading
    print(f"model={path} load_s={results[0]['load_s']:.2f} iters={FLAGS.iters} "
          f"threads=inter:{threading.get_inter_op_parallelism_threads()},"
          f"intra:{threading.get_intra_op_parallelism_threads()} (0 = all cores)")
    for r in results:
        print(f"signature={r['signature']} batch={r['batch']} images={r['images']} cold_ms={r['cold_ms']:.1f} "
              f"p50_ms={r['p50_ms']:.2f} p99_ms={r['p99_ms']:.2f} images_per_s={r['images_per_s']:.0f}")
    print("serving_bench_done", flush=True)


if __name__ == "__main__":
    cli.run(main, "amr_tf.serving_bench")
