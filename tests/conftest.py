"""Markers shared by the suite.

`numerics`: tests whose assertions depend on floating-point results (equality of two ways of
training, resumed against unbroken runs, exported against in-process outputs, mixed precision).
`make test` runs them a second and third time with oneDNN held to AVX2 and with oneDNN off, so
a machine with AVX-512 also exercises the kernels an AVX2-only CPU runs.

`slow`: the tests of 25 s and more (whole CLI runs, kills and resumes, several processes);
`make test` runs them, `make test-fast` does not.

`low_precision_convs(dtype, ...)`: runs convolutions in bfloat16 or float16. TensorFlow decides
from the CPU's own flags whether oneDNN computes those types, so when ONEDNN_MAX_CPU_ISA hides
part of the CPU from oneDNN (the AVX2 pass on an AVX-512 CPU) it may ask oneDNN for a type the
cap leaves no kernel for, and the convolution aborts. `amr_tf.cpu.capped_low_precisions` says
which types are in that state here (bfloat16 on an AVX-512 CPU, float16 too on one with
AVX512-FP16 or AMX-FP16); the tests marked with one of them are skipped, with the reason, and run
in the other passes. No real CPU is in that state: a CPU without those flags gets TensorFlow's
own kernels, the ones the oneDNN-off pass runs.
"""

import os

# Once for the whole suite, before anything imports TensorFlow: its C++ start-up notices off.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from amr_tf import cpu  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "numerics: depends on floating-point results; re-run on other CPU kernel paths")
    config.addinivalue_line(
        "markers", "low_precision_convs(*dtypes): bfloat16/float16 convolutions; skipped where a oneDNN "
                   "cap leaves TensorFlow's choice of kernels for those types without one")
    config.addinivalue_line(
        "markers", "slow: whole CLI runs, kills and resumes, multi-process runs; `make test-fast` leaves them out")


def pytest_report_header(config):
    return cpu.flags_line()


def pytest_collection_modifyitems(config, items):
    broken = set(cpu.capped_low_precisions())
    if not broken:
        return
    for item in items:
        for mark in item.iter_markers("low_precision_convs"):
            hit = sorted(broken & set(mark.args))
            if hit:
                item.add_marker(pytest.mark.skip(
                    reason=f"{', '.join(hit)} convolutions abort with oneDNN capped at "
                           f"{cpu.onednn_path().split('=', 1)[1]} on this CPU (TensorFlow routes them to oneDNN "
                           "from the CPU's flags; no real CPU is in this state)"))
