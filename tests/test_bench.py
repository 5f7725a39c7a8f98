"""`python -m amr_tf.bench`: its last line's contract, and the CPU it names."""

import re

import pytest

from amr_tf import cpu
from tests.helpers import run_cli

ZEN3 = """processor\t: 0
model name\t: AMD EPYC 7B13 64-Core Processor
flags\t\t: fpu sse4_1 sse4_2 avx f16c fma avx2 bmi2
"""
ZEN4 = """processor\t: 0
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse4_2 avx fma avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16
"""
SKYLAKE = "model name\t: Intel Xeon\nflags\t\t: sse4_2 avx avx2 fma avx512f avx512cd avx512bw\n"


def test_isa_is_the_widest_vector_extension_the_flags_name():
    assert cpu.isa(ZEN3) == "avx2"
    assert cpu.isa(ZEN4) == "avx512_bf16"
    assert cpu.isa(SKYLAKE) == "avx512"
    assert cpu.isa("flags\t: fpu sse2\n") == "unknown"
    assert cpu.isa("") == "unknown"
    assert cpu.model(ZEN3) == "AMD EPYC 7B13 64-Core Processor"
    assert cpu.model("") == "unknown"


def test_onednn_path_reads_the_environment_tensorflow_reads():
    assert cpu.onednn_path({}) == "default"
    assert cpu.onednn_path({"TF_ENABLE_ONEDNN_OPTS": "0"}) == "off"
    assert cpu.onednn_path({"ONEDNN_MAX_CPU_ISA": "AVX2"}) == "max_isa=AVX2"
    assert cpu.onednn_path({"ONEDNN_MAX_CPU_ISA": "ALL"}) == "default"


def test_last_line_starts_with_the_contract_and_names_the_cpu():
    result = run_cli("amr_tf.bench", "--k=2", "--batch_size=8", "--steps=1", "--warmup=0", "--channels=1",
                     "--update_g_every=1", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    match = re.match(r"samples_per_s=(\S+) params_encoder=(\d+) params_decoder=(\d+) ", last)
    assert match, last
    assert float(match.group(1)) > 0 and int(match.group(2)) > 0 and int(match.group(3)) > 0
    assert f" isa={cpu.isa()} " in last and " onednn=" in last and 'cpu="' in last
    gemm = float(re.search(r" gemm_float32_gflops=([\d.]+) ", last).group(1))
    achieved = float(re.search(r" gflops_per_s=([\d.]+) ", last).group(1))
    fraction = float(re.search(r" roofline_fraction=([\d.]+) ", last).group(1))
    assert gemm > 0 and fraction == pytest.approx(achieved / gemm, abs=2e-3)


def test_the_roofline_is_the_gemm_rate_of_the_steps_compute_dtype(monkeypatch):
    from trainers import throughput

    rates = {"float32": 100.0, "bfloat16": 400.0, "float16": 300.0}
    measured = []
    monkeypatch.setattr(throughput, "gemm_gflops", lambda dtype: measured.append(dtype) or rates[dtype])
    assert throughput.roofline("float32", bf16_hardware=False) == {"gemm_float32_gflops": 100.0,
                                                                   "roofline_gflops": 100.0}
    assert throughput.roofline("float32", bf16_hardware=True) == {
        "gemm_float32_gflops": 100.0, "gemm_bfloat16_gflops": 400.0, "roofline_gflops": 100.0}
    assert throughput.roofline("mixed_bfloat16", bf16_hardware=True)["roofline_gflops"] == 400.0
    assert throughput.roofline("mixed_float16", bf16_hardware=False) == {
        "gemm_float32_gflops": 100.0, "gemm_float16_gflops": 300.0, "roofline_gflops": 300.0}
    assert measured.count("bfloat16") == 2  # each rate measured once a call


def test_a_gemm_rate_is_measured_in_the_type_asked():
    from trainers import throughput

    assert 0 < throughput.gemm_gflops("float32", n=256, repeats=2) < 1e5
    assert cpu.has_bf16_hardware("flags\t: avx2 avx512f amx_bf16 amx_tile\n")
    assert cpu.has_bf16_hardware("flags\t: avx2 avx512f avx512_bf16\n")
    assert not cpu.has_bf16_hardware("flags\t: avx2 fma avx512f\n")


def test_bad_flags_are_one_line_and_exit_2():
    result = run_cli("amr_tf.bench", "--channels=2")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "channels" in result.stderr


def test_flops_count_the_wrapped_convolutions_of_both_spectral_norms():
    from amr_tf import flops, networks

    counts = {}
    for kind in networks.SPECTRAL_NORMS:
        nets = networks.build_networks("acai32", (32, 32, 3), 10, spectral_norm=kind)
        counts[kind] = flops.forward_flops(nets.discriminator, (32, 32, 3))
        # D is f's conv stack without the instance norms, which are not counted
        assert counts[kind] == flops.forward_flops(nets.encoder, (32, 32, 3)) > 0, kind
    assert counts["reparametrized"] == counts["keras"] == counts["none"]


def test_peak_counts_the_kernels_isa_cores_and_clock():
    zen3 = ZEN3 + "vendor_id\t: AuthenticAMD\ncpu MHz\t\t: 2450.000\n"
    assert cpu.fp32_flops_per_cycle(zen3, {}) == 32  # 2 FMA pipes x 8 lanes x 2
    assert cpu.peak_gflops(zen3, {}, cores=2) == 2 * 32 * 2.45
    skylake = SKYLAKE + "vendor_id\t: GenuineIntel\ncpu MHz\t\t: 2000.0\n"
    assert cpu.fp32_flops_per_cycle(skylake, {}) == 64
    # a cap below the CPU's ISA lowers the kernels' peak
    assert cpu.kernel_isa(skylake, {"ONEDNN_MAX_CPU_ISA": "AVX2"}) == "avx2"
    assert cpu.fp32_flops_per_cycle(skylake, {"ONEDNN_MAX_CPU_ISA": "AVX2"}) == 32
    assert cpu.kernel_isa(ZEN3, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}) == "avx2"  # a cap never raises it
    assert cpu.fp32_flops_per_cycle(ZEN4 + "vendor_id\t: AuthenticAMD\n", {}) == 32  # Zen 4: 512 bits in two halves
    assert cpu.peak_gflops("", {}) == 0.0


def _xspace(events):
    """An XSpace of one plane and one thread line holding `events` [(name, start_ps, duration_ps)]."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    line = plane.lines.add(name="tf_Compute/1")
    for i, (name, start, duration) in enumerate(events, 1):
        plane.event_metadata[i].id = i
        plane.event_metadata[i].name = name
        line.events.add(metadata_id=i, offset_ps=start, duration_ps=duration)
    return space


def test_profile_self_time_subtracts_nested_events_and_skips_the_runtimes(tmp_path):
    from amr_tf import profiling

    ms = 10**9  # picoseconds per millisecond
    space = _xspace([("ExecutorState::Process", 0, 10 * ms),               # runtime: not an op
                     ("d/conv/Conv2D:_MklNativeFusedConv2D", 1 * ms, 4 * ms),
                     ("d/conv/inner:Sum", 2 * ms, 1 * ms),                   # nested: 1 ms off the conv
                     ("encoder/group_normalization/moments/mean:Mean", 6 * ms, 2 * ms),
                     ("EagerLocalExecute: __inference_step_1", 20 * ms, 5 * ms),
                     ("Execute", 30 * ms, 5 * ms),                            # XLA's runtime: not an op
                     ("subtract_multiply_fusion", 31 * ms, 4 * ms)])         # an XLA loop: counted
    path = tmp_path / "t.xplane.pb"
    path.write_bytes(space.SerializeToString())
    events = sorted(profiling.op_events(str(path)))
    assert events == [("d/conv/Conv2D", "_MklNativeFusedConv2D", 3.0), ("d/conv/inner", "Sum", 1.0),
                      ("encoder/group_normalization/moments/mean", "Mean", 2.0),
                      ("subtract_multiply_fusion", "XLA fusion", 4.0)]
    by_type, by_kind = profiling.op_table(events, steps=2)
    assert by_type[0] == {"name": "XLA fusion", "ms_per_step": 2.0, "calls_per_step": 0.5, "share": 0.4}
    kinds = {r["name"]: r["share"] for r in by_kind}
    assert kinds == {"norm + activation (XLA)": 0.4, "conv forward": 0.3, "instance norm": 0.2, "other": 0.1}


def test_profile_flag_writes_a_trace_and_prints_the_top_ops(tmp_path):
    result = run_cli("amr_tf.bench", "--k=2", "--batch_size=8", "--steps=1", "--warmup=1", "--channels=1",
                     "--update_g_every=1", f"--profile={tmp_path}", "--profile_steps=2", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(tmp_path.glob("plugins/profile/*/*.xplane.pb"))
    out = result.stdout
    assert "| kind | ms/step | share |" in out and "| op type | ms/step | calls/step | share |" in out
    conv = re.search(r"\| conv forward \| ([\d.]+) \| ([\d.]+)% \|", out)
    assert conv and float(conv.group(1)) > 0
    assert re.search(r" peak_fraction=[\d.]+ ", out.strip().splitlines()[-1])


@pytest.mark.slow
def test_gpu_check_dry_run_parses_every_command_and_a_bad_flag_fails_it(tmp_path):
    import subprocess
    import sys

    from tests.helpers import CLI_ENV, ROOT

    lines = tmp_path / "lines.txt"
    lines.write_text("amr_tf.bench --precision=mixed_bfloat16 --jit --batch_size=256\n"
                     "amr_tf.bench --batch_size=256 --no_such_flag=1\n")
    checked = subprocess.run([sys.executable, "benchmarks/parse_flags.py", str(lines)], cwd=ROOT, env=CLI_ENV,
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 1, checked.stderr[-2000:]
    good, bad = checked.stdout.strip().splitlines()
    assert good.startswith("ok  amr_tf.bench --precision=mixed_bfloat16")
    assert bad.startswith("BAD amr_tf.bench --batch_size=256 --no_such_flag=1: ") and "no_such_flag" in bad[40:]
    dry = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--dry-run"], cwd=ROOT,
                         env={**CLI_ENV, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-2000:]
    out = dry.stdout.splitlines()
    assert sum(line.startswith("ok  amr_tf.bench ") for line in out) == 12
    assert any(line.startswith("ok  amr_tf.reproduce --table=fashion") for line in out)
    assert re.search(r"^numerics tests: \d+/\d+ tests collected", dry.stdout, re.M)
    assert out[-1] == "gpu_check: dry run passed"
    unknown = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--fast"], cwd=ROOT, capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown argument '--fast'" in unknown.stderr
