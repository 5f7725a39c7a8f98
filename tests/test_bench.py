"""`python -m amr_tf.bench`: its last line's contract, and the CPU it names."""

import re

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
    assert counts["reparametrized"] == counts["keras"]
