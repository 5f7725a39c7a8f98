"""Markers shared by the suite.

`numerics`: tests whose assertions depend on floating-point results (equality of two ways of
training, resumed against unbroken runs, exported against in-process outputs, mixed precision).
`make test` runs them a second and third time with oneDNN held to AVX2 and with oneDNN off, so
a machine with AVX-512 also exercises the kernels an AVX2-only CPU runs.

`slow`: the tests of 25 s and more (whole CLI runs, kills and resumes, several processes);
`make test` runs them, `make test-fast` does not.

`bfloat16_convs`: runs bfloat16 convolutions. TensorFlow chooses oneDNN's bfloat16 kernels from
the CPU's own flags, so on an AVX-512 CPU with ONEDNN_MAX_CPU_ISA capped below AVX-512 it asks
oneDNN for a kernel the cap forbids and the convolution aborts. No real CPU is in that state (an
AVX2-only CPU gets TensorFlow's own bfloat16 kernels, the ones TF_ENABLE_ONEDNN_OPTS=0 runs), so
these tests are skipped under such a cap and run in the other two passes.
"""

import os

import pytest

from amr_tf import cpu


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "numerics: depends on floating-point results; re-run on other CPU kernel paths")
    config.addinivalue_line(
        "markers", "bfloat16_convs: bfloat16 convolutions; skipped where oneDNN is capped below the CPU")
    config.addinivalue_line(
        "markers", "slow: whole CLI runs, kills and resumes, multi-process runs; `make test-fast` leaves them out")


def _onednn_capped_below_avx512():
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if not cap or cap == "ALL" or cap.startswith("AVX512") or cap.startswith("AVX10"):
        return False
    return cpu.isa().startswith("avx512") and os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() != "0"


def pytest_collection_modifyitems(config, items):
    if not _onednn_capped_below_avx512():
        return
    skip = pytest.mark.skip(reason="bfloat16 convolutions abort with oneDNN capped below this AVX-512 CPU "
                                   "(not a state any real CPU is in)")
    for item in items:
        if "bfloat16_convs" in item.keywords:
            item.add_marker(skip)
