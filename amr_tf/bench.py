"""Train-step throughput on random data: `python -m amr_tf.bench --k=8`.

Times the trainer's real `train_step` (the one `fit` runs), compiled as `fit` compiles it,
over whole generator cycles (a multiple of `update_g_every` steps, so the slower steps that
also update the auto-encoder are counted at their true share). The last line is
`samples_per_s=<float> params_encoder=<int> params_decoder=<int> ...`.
"""

import os
import time

from absl import app, flags

from amr_tf import quiet

quiet.import_tensorflow()

flags.DEFINE_integer("k", 2, "Examples per mix.")
flags.DEFINE_string("mixer", "mixup", "Mixing function.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("channels", 3, "Image channels (1 or 3).")
flags.DEFINE_integer("bottleneck", 32, "Code size d_h: 32, 256 or 1024.")
flags.DEFINE_integer("steps", 50, "Timed steps (rounded up to whole generator cycles).")
flags.DEFINE_integer("warmup", 10, "Untimed steps first (tracing, compilation, caches).")
flags.DEFINE_integer("update_g_every", 5, "Update the auto-encoder every N steps.")
flags.DEFINE_boolean("jit_compile", False, "Compile the step with XLA.")
flags.DEFINE_integer("seed", 0, "Seed for weights and data.")
FLAGS = flags.FLAGS


def benchmark(config, channels, steps, warmup):
    """Returns a dict of measurements for `config` on random 32x32 images."""
    import numpy as np
    import tensorflow as tf

    from amr_tf import networks
    from amr_tf.data import DataInfo
    from trainers.build import build_trainer

    info = DataInfo("random", (32, 32, channels), 10, {}, "random")
    trainer = build_trainer(config, info)
    rng = np.random.default_rng(config.seed)
    x = tf.constant(rng.uniform(-1, 1, (config.batch_size, 32, 32, channels)).astype("float32"))
    y = tf.one_hot(rng.integers(0, 10, config.batch_size), 10)
    step = tf.function(trainer.train_step, jit_compile=config.jit_compile)
    cycle = config.update_g_every
    steps = -(-steps // cycle) * cycle
    for _ in range(warmup):
        step((x, y))["g_loss"].numpy()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step((x, y))["g_loss"].numpy()  # .numpy() waits for the step to finish
        times.append(time.perf_counter() - start)
    return {
        "samples_per_s": config.batch_size * steps / sum(times),
        "ms_per_step_median": 1000 * float(np.median(times)),
        "steps": steps,
        "params_encoder": networks.count_trainable(trainer.encoder),
        "params_decoder": networks.count_trainable(trainer.decoder),
    }


def main(argv):
    del argv
    import sys

    from amr_tf.config import Config

    try:
        config = Config(
            dataset="digits", mixer=FLAGS.mixer, k=FLAGS.k, batch_size=FLAGS.batch_size,
            bottleneck=FLAGS.bottleneck, update_g_every=FLAGS.update_g_every,
            jit_compile=FLAGS.jit_compile, seed=FLAGS.seed,
        )
        if FLAGS.channels not in (1, 3) or FLAGS.steps < 1 or FLAGS.warmup < 0:
            raise ValueError(
                f"need --channels 1 or 3, --steps >= 1, --warmup >= 0; got "
                f"{FLAGS.channels}, {FLAGS.steps}, {FLAGS.warmup}"
            )
    except ValueError as e:
        print(f"amr_tf.bench: error: {e}", file=sys.stderr)
        sys.exit(2)
    result = benchmark(config, FLAGS.channels, FLAGS.steps, FLAGS.warmup)
    print(
        f"mixer={config.mixer} k={config.k} batch_size={config.batch_size} channels={FLAGS.channels} "
        f"bottleneck={config.bottleneck} jit={config.jit_compile} steps={result['steps']} "
        f"ms_per_step_median={result['ms_per_step_median']:.1f}"
    )
    print(
        f"samples_per_s={result['samples_per_s']:.1f} params_encoder={result['params_encoder']} "
        f"params_decoder={result['params_decoder']}",
        flush=True,
    )


if __name__ == "__main__":
    app.run(main)
