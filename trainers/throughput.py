"""Train-step throughput (what `python -m amr_tf.bench` prints).

Times the trainer's real `train_step` (the one `fit` runs), compiled as `fit` compiles it,
over whole generator cycles (a multiple of `update_g_every` steps, so the slower steps that
also update the auto-encoder count at their true share): samples/s is batch_size * steps /
total time. Also: median ms per step, peak RSS, model FLOPs per sample and achieved GFLOP/s,
and optionally a profiler trace of more steps (`amr_tf.profiling`).
"""

import resource
import time


def benchmark(config, channels, steps, warmup, use_pipeline=False, strategy=None, profile=None, profile_steps=10):
    """Returns a dict of measurements for `config` (random 32x32 images or its data set).

    With `profile` (a directory), also traces `profile_steps` more steps there and adds
    "profile": (rows by op type, rows by kind, wall ms per traced step) (`amr_tf.profiling`).

    With a `strategy` other than the default, the step runs as `trainers.loop` runs it:
    `strategy.run` over a distributed dataset, the generator's cadence decided in Python."""
    import numpy as np
    import tensorflow as tf

    from amr_tf import data, flops, networks
    from amr_tf.data import DataInfo
    from trainers import loop
    from trainers.build import build_trainer

    cycle = config.update_g_every
    steps = -(-steps // cycle) * cycle
    if use_pipeline:
        info = data.info(config.dataset, config)
        per_epoch = data.steps_per_epoch(config.dataset, config)
        epochs = -(-(warmup + steps) // per_epoch)
        batches = iter(data.load(config.dataset, "train", config, epochs=(0, epochs), steps=per_epoch))
    else:
        info = DataInfo("random", (32, 32, channels), 10, {}, "random")
        rng = np.random.default_rng(config.seed)
        x = tf.constant(rng.uniform(-1, 1, (config.batch_size, 32, 32, channels)).astype("float32"))
        y = tf.one_hot(rng.integers(0, 10, config.batch_size), 10)
        batches = iter(lambda: (x, y), None)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        trainer = build_trainer(config, info)
    if strategy.num_replicas_in_sync > 1:
        dist = iter(strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_generator(lambda: batches, output_signature=(
                tf.TensorSpec((config.batch_size, *info.image_shape), tf.float32),
                tf.TensorSpec((config.batch_size, info.n_classes), tf.float32)))))
        fns = loop.step_functions(trainer, strategy)

        def run_step(i):
            out = fns[trainer.generator_due(i)](dist)
            return strategy.experimental_local_results(out["g_loss"])[0]
    else:
        step = tf.function(trainer.train_step, jit_compile=config.jit_compile)

        def run_step(i):
            return step(next(batches))["g_loss"]

    for i in range(warmup):
        run_step(i).numpy()
    times = []
    for i in range(warmup, warmup + steps):
        start = time.perf_counter()
        run_step(i).numpy()  # .numpy() waits for the step to finish
        times.append(time.perf_counter() - start)
    samples_per_s = config.batch_size * steps / sum(times)
    flops_per_sample = flops.train_step_flops(trainer, info.image_shape, cycle, config.beta)
    traced = None
    if profile:
        from amr_tf import profiling

        n = -(-profile_steps // cycle) * cycle
        first = warmup + steps
        tf.profiler.experimental.start(profile)
        start = time.perf_counter()
        try:
            for i in range(first, first + n):
                run_step(i).numpy()
        finally:
            wall = 1000 * (time.perf_counter() - start) / n
            tf.profiler.experimental.stop()
        traced = (*profiling.op_table(profiling.op_events(profiling.latest_xplane(profile)), n), wall)
    return {
        "profile": traced,
        "samples_per_s": samples_per_s,
        "ms_per_step_median": 1000 * float(np.median(times)),
        "steps": steps,
        "channels": info.image_shape[-1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "mflops_per_sample": flops_per_sample / 1e6,
        "gflops_per_s": flops_per_sample * samples_per_s / 1e9,
        "params_encoder": networks.count_trainable(trainer.encoder),
        "params_decoder": networks.count_trainable(trainer.decoder),
    }


# The step's compute dtype under each precision policy: the GEMM rate it is measured against.
COMPUTE_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def gemm_gflops(dtype="float32", n=2048, repeats=3):
    """The machine's matrix-multiply rate in `dtype`: the best of `repeats` timed n x n x n
    products (after one untimed), 2 n^3 FLOP each, in GFLOP/s. On a CPU a large GEMM is the
    fastest thing its cores do in that type: the roofline a compute-bound step is held to."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((n, n), seed=(1, 2), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
    product()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product().numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9


def roofline(precision, bf16_hardware):
    """{"gemm_float32_gflops", ["gemm_bfloat16_gflops" / "gemm_float16_gflops"], "roofline_gflops"}:
    float32's GEMM rate, the step's compute dtype's, and bfloat16's where the CPU has it in
    hardware (AVX512-BF16 or AMX), so a float32 run shows what bfloat16 could reach."""
    compute = COMPUTE_DTYPES[precision]
    dtypes = ["float32"] + [d for d in (compute, "bfloat16" if bf16_hardware else None) if d and d != "float32"]
    rates = {f"gemm_{d}_gflops": gemm_gflops(d) for d in dict.fromkeys(dtypes)}
    return {**rates, "roofline_gflops": rates[f"gemm_{compute}_gflops"]}
