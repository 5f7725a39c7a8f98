"""Which low-precision convolutions a oneDNN cap breaks, decided from the CPU's flags and the cap
(`make test`'s AVX2 pass skips exactly those tests), and the line a test run prints about it."""

import pytest

from amr_tf import cpu

ZEN3 = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx f16c fma avx2 bmi2\n"
ZEN4 = ("model name\t: AMD EPYC 9B14\nflags\t\t: fpu sse4_2 avx fma avx2 avx512f avx512dq avx512cd avx512bw "
        "avx512vl avx512_bf16 avx512_vnni\n")
SKYLAKE = "model name\t: Intel Xeon\nflags\t\t: sse4_2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl\n"
# Sapphire Rapids (and later Xeons): AVX512-FP16 and AMX, with bfloat16 and float16 tiles
SAPPHIRE_RAPIDS = ("model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\nflags\t\t: fpu sse4_2 avx f16c "
                   "fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni avx512_fp16 "
                   "amx_bf16 amx_tile amx_int8\n")
GRANITE_RAPIDS = SAPPHIRE_RAPIDS.replace("amx_int8", "amx_int8 amx_fp16")
# an AVX2-only CPU with AVX-NE-CONVERT (Intel's E-core Xeons): oneDNN's AVX2-VNNI-2 kernels
SIERRA_FOREST = "model name\t: Intel Xeon 6780E\nflags\t\t: avx fma avx2 avx_vnni avx_ne_convert avx_vnni_int8\n"

AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2"}


@pytest.mark.parametrize("flags, expected", [
    (ZEN3, ()),  # nothing routed to oneDNN: TensorFlow's own kernels
    (ZEN4, ("bfloat16",)),
    (SKYLAKE, ("bfloat16",)),
    (SAPPHIRE_RAPIDS, ("bfloat16", "float16")),  # float16 aborted there until this rule
    (GRANITE_RAPIDS, ("bfloat16", "float16")),
    (SIERRA_FOREST, ("bfloat16", "float16")),
])
def test_the_avx2_cap_breaks_the_types_tensorflow_routes_to_onednn(flags, expected):
    assert cpu.capped_low_precisions(flags, AVX2) == expected


@pytest.mark.parametrize("environ", [{}, {"ONEDNN_MAX_CPU_ISA": "ALL"}, {"ONEDNN_MAX_CPU_ISA": "DEFAULT"},
                                     {"ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "0"}])
def test_no_cap_or_onednn_off_breaks_nothing(environ):
    for flags in (ZEN3, ZEN4, SAPPHIRE_RAPIDS, GRANITE_RAPIDS, SIERRA_FOREST):
        assert cpu.capped_low_precisions(flags, environ) == (), (flags, environ)


def test_a_cap_between_bfloat16_and_float16_breaks_float16_only():
    # oneDNN computes bfloat16 on any AVX-512 core, float16 only with AVX512-FP16
    for cap in ("AVX512_CORE", "avx512_core_bf16"):
        assert cpu.capped_low_precisions(SAPPHIRE_RAPIDS, {"ONEDNN_MAX_CPU_ISA": cap}) == ("float16",)
        assert cpu.capped_low_precisions(ZEN4, {"ONEDNN_MAX_CPU_ISA": cap}) == ()
    for cap in ("AVX512_CORE_AMX", "AVX10_1_512_AMX_FP16"):
        assert cpu.capped_low_precisions(GRANITE_RAPIDS, {"ONEDNN_MAX_CPU_ISA": cap}) == ()
    # AVX2 with VNNI-2 keeps both on a CPU that has it, and gives a CPU without it nothing
    assert cpu.capped_low_precisions(SIERRA_FOREST, {"ONEDNN_MAX_CPU_ISA": "AVX2_VNNI_2"}) == ()
    assert cpu.capped_low_precisions(SAPPHIRE_RAPIDS, {"ONEDNN_MAX_CPU_ISA": "AVX2_VNNI_2"}) == ("bfloat16", "float16")


def test_the_header_line_names_the_cpu_its_flags_and_what_is_skipped():
    line = cpu.flags_line(SAPPHIRE_RAPIDS, AVX2)
    assert line.startswith('cpu: "Intel(R) Xeon(R) Platinum 8481C')
    assert "avx512_fp16" in line and "amx_bf16" in line and "onednn: max_isa=AVX2" in line
    assert line.endswith("low-precision convolutions skipped: bfloat16, float16")
    zen3 = cpu.flags_line(ZEN3, {})
    assert zen3.endswith("flags: avx2 fma; onednn: default; low-precision convolutions skipped: none")
    assert "\n" not in cpu.flags_line("", {})


@pytest.mark.parametrize("flags, above", [(ZEN3, False), (ZEN4, True), (SKYLAKE, True), (SAPPHIRE_RAPIDS, True),
                                          (GRANITE_RAPIDS, True), (SIERRA_FOREST, True)])
def test_the_avx2_pass_runs_only_where_avx2_is_not_the_cpus_best(flags, above):
    assert cpu.above_avx2(flags) is above


def test_the_stamps_cpu_label_names_amx_and_a_onednn_cap():
    assert cpu.label(SAPPHIRE_RAPIDS, {}) == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz; avx512_bf16 + AMX"
    assert cpu.label(ZEN4, {}) == "AMD EPYC 9B14; avx512_bf16"
    assert cpu.label(ZEN3, AVX2) == "AMD EPYC 7B13; avx2; oneDNN max_isa=AVX2"
    assert cpu.label(SKYLAKE, {"TF_ENABLE_ONEDNN_OPTS": "0"}).endswith("; oneDNN off")
