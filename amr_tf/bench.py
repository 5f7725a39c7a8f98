"""Train-step throughput: `python -m amr_tf.bench --k=8`.

Times the trainer's real `train_step` (the one `fit` runs), compiled as `fit` compiles it,
over whole generator cycles (a multiple of `update_g_every` steps, so the slower steps that
also update the auto-encoder count at their true share): samples/s is batch_size * steps /
total time. Also: median ms per step, peak RSS, model FLOPs per sample and achieved GFLOP/s,
as a fraction of two ceilings: `peak_fraction` of the nominal peak (cores x FMA FLOP/cycle of
the kernels' ISA x clock, from /proc/cpuinfo), and `roofline_fraction` of the GEMM rate this
machine measures now in the step's compute dtype (`gemm_<dtype>_gflops`: a 2048^3 matmul; float32
always, and bfloat16 where the CPU has it in hardware), which is what the step could reach.
The last line is `samples_per_s=<float> params_encoder=<int> params_decoder=<int> ...`.

`--profile=DIR` then traces --profile_steps more steps with the TensorFlow profiler into DIR
and prints the top ops by self time and their share (`amr_tf.profiling`).
"""

import sys

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli  # noqa: E402
from amr_tf.config import PRECISIONS  # noqa: E402
from trainers.throughput import benchmark, roofline  # noqa: E402

flags.DEFINE_integer("k", 2, "Examples per mix.")
flags.DEFINE_string("mixer", "mixup", "Mixing function.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("channels", 3, "Image channels (1 or 3) for --input=random.")
flags.DEFINE_integer("bottleneck", 32, "Code size d_h: 32, 256 or 1024.")
flags.DEFINE_integer("steps", 50, "Timed steps (rounded up to whole generator cycles).")
flags.DEFINE_integer("warmup", 10, "Untimed steps first (tracing, compilation, caches).")
flags.DEFINE_integer("update_g_every", 5, "Update the auto-encoder every N steps.")
flags.DEFINE_boolean("jit", False, "Compile the step with XLA (--jit / --no-jit).")
flags.DEFINE_string("precision", "float32", f"One of {', '.join(PRECISIONS)}.")
flags.DEFINE_enum("input", "random", ["random", "pipeline"],
                  "random: one fixed batch in memory; pipeline: the real tf.data input of --dataset.")
flags.DEFINE_string("dataset", "digits", "Data set for --input=pipeline.")
flags.DEFINE_integer("seed", 0, "Seed for weights and data.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored"], "tf.distribute strategy of the step.")
flags.DEFINE_integer("logical_cpus", None, "Split the CPU into N logical devices (for --strategy=mirrored).")
flags.DEFINE_string("profile", None, "Also write a profiler trace of --profile_steps steps here and print its top ops.")
flags.DEFINE_integer("profile_steps", 10, "Steps traced by --profile (rounded up to whole generator cycles).")
flags.DEFINE_boolean("roofline", True, "Measure the machine's GEMM rate for roofline_fraction (a few seconds).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from amr_tf import cpu
    from amr_tf.config import Config

    try:
        config = Config(
            dataset=FLAGS.dataset, mixer=FLAGS.mixer, k=FLAGS.k, batch_size=FLAGS.batch_size,
            bottleneck=FLAGS.bottleneck, update_g_every=FLAGS.update_g_every,
            jit_compile=FLAGS.jit, precision=FLAGS.precision, seed=FLAGS.seed,
        )
        if FLAGS.channels not in (1, 3) or FLAGS.steps < 1 or FLAGS.warmup < 0:
            raise ValueError(
                f"need --channels 1 or 3, --steps >= 1, --warmup >= 0; got "
                f"{FLAGS.channels}, {FLAGS.steps}, {FLAGS.warmup}"
            )
        from trainers import strategy as strategies

        strategy = strategies.make_strategy(FLAGS.strategy, FLAGS.logical_cpus)
        if FLAGS.profile_steps < 1:
            raise ValueError(f"need --profile_steps >= 1, got {FLAGS.profile_steps}")
        r = benchmark(config, FLAGS.channels, FLAGS.steps, FLAGS.warmup, FLAGS.input == "pipeline", strategy,
                      profile=FLAGS.profile, profile_steps=FLAGS.profile_steps)
    except ValueError as e:
        cli.fail("amr_tf.bench", str(e))
    print(
        f"mixer={config.mixer} k={config.k} batch_size={config.batch_size} channels={r['channels']} "
        f"bottleneck={config.bottleneck} jit={config.jit_compile} precision={config.precision} "
        f"input={FLAGS.input} strategy={FLAGS.strategy} steps={r['steps']} "
        f"ms_per_step_median={r['ms_per_step_median']:.1f} "
        f"peak_rss_mb={r['peak_rss_mb']:.0f}"
    )
    peak = cpu.peak_gflops()  # nominal: cores x FMA FLOP/cycle of the kernels' ISA x clock
    measured = roofline(config.precision, cpu.has_bf16_hardware()) if FLAGS.roofline else {"roofline_gflops": 0.0}
    ceiling = measured["roofline_gflops"]
    if r["profile"] is not None:
        from amr_tf import profiling

        print(f"profile of {FLAGS.profile_steps} steps in {FLAGS.profile} (open it with TensorBoard's profile plugin):")
        print(profiling.format_table(*r["profile"]))
    from amr_tf import provenance

    print(provenance.line())  # what a table of these figures was measured with (the last line: the figures)
    print(
        f"samples_per_s={r['samples_per_s']:.1f} params_encoder={r['params_encoder']} "
        f"params_decoder={r['params_decoder']} mflops_per_sample={r['mflops_per_sample']:.1f} "
        f"gflops_per_s={r['gflops_per_s']:.1f} peak_gflops={peak:.0f} "
        f"peak_fraction={r['gflops_per_s'] / peak if peak else float('nan'):.3f} "
        + "".join(f"{k}={v:.1f} " for k, v in measured.items() if k != "roofline_gflops")
        + f"roofline_fraction={r['gflops_per_s'] / ceiling if ceiling else float('nan'):.3f} {cpu.summary()}",
        flush=True,
    )


if __name__ == "__main__":
    # absl spells the negation --nojit; accept the --no-jit spelling too.
    cli.run(main, "amr_tf.bench", argv=[a.replace("--no-jit", "--nojit") for a in sys.argv])
