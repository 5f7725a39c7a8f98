"""What CPU a measurement ran on: its model name and the vector instruction set that
TensorFlow's oneDNN kernels can use on it (figures differ several-fold between them)."""

import os

# Widest first: the first flag /proc/cpuinfo lists decides the name.
_ISAS = (("avx512_bf16", "avx512_bf16"), ("avx512f", "avx512"), ("avx2", "avx2"), ("avx", "avx"),
         ("sse4_2", "sse4.2"))


def _cpuinfo(path="/proc/cpuinfo"):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _field(text, name):
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def isa(text=None):
    """The CPU's widest vector ISA, as oneDNN would use it: "avx512_bf16", "avx512", "avx2",
    "avx", "sse4.2" or "unknown" (no /proc/cpuinfo, e.g. macOS)."""
    flags = set(_field(_cpuinfo() if text is None else text, "flags").split())
    return next((name for flag, name in _ISAS if flag in flags), "unknown")


def model(text=None):
    """The CPU's model name from /proc/cpuinfo ("unknown" without one)."""
    return _field(_cpuinfo() if text is None else text, "model name") or "unknown"


def onednn_path(environ=None):
    """How this process's TensorFlow is told to use oneDNN: "off" (TF_ENABLE_ONEDNN_OPTS=0),
    "max_isa=<ISA>" (ONEDNN_MAX_CPU_ISA caps it, e.g. AVX2 on an AVX-512 CPU) or "default"."""
    environ = os.environ if environ is None else environ
    if environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0":
        return "off"
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "").strip()
    return f"max_isa={cap}" if cap and cap.upper() != "ALL" else "default"


_CAP_ORDER = ("sse4.2", "avx", "avx2", "avx512", "avx512_bf16")
_CAPS = {"SSE41": "sse4.2", "AVX": "avx", "AVX2": "avx2", "AVX2_VNNI": "avx2", "AVX2_VNNI_2": "avx2",
         "AVX512_CORE": "avx512", "AVX512_CORE_VNNI": "avx512", "AVX512_CORE_BF16": "avx512_bf16",
         "AVX512_CORE_FP16": "avx512_bf16", "AVX512_CORE_AMX": "avx512_bf16"}


def kernel_isa(text=None, environ=None):
    """The ISA oneDNN's kernels use: the CPU's, lowered by an ONEDNN_MAX_CPU_ISA cap."""
    own = isa(text)
    cap = onednn_path(environ)
    if not cap.startswith("max_isa=") or own not in _CAP_ORDER:
        return own
    capped = _CAPS.get(cap.split("=", 1)[1].upper(), own)
    return min(own, capped, key=_CAP_ORDER.index)


def fp32_flops_per_cycle(text=None, environ=None):
    """Nominal FP32 FLOP per cycle per core of the kernels' ISA: two FMA pipes of its width
    (AVX2: 2 x 8 lanes x 2 = 32; AVX-512: 64 on Intel, 32 on AMD, whose Zen 4 splits a 512-bit
    FMA in two); 0 when unknown."""
    text = _cpuinfo() if text is None else text
    flags = set(_field(text, "flags").split())
    kernels = kernel_isa(text, environ)
    if kernels.startswith("avx512"):
        return 32 if "AMD" in _field(text, "vendor_id") + model(text) else 64
    if kernels == "avx2":
        return 32 if "fma" in flags else 16
    return {"avx": 16, "sse4.2": 8}.get(kernels, 0)


def peak_gflops(text=None, environ=None, cores=None):
    """This process's nominal FP32 peak: cores it may run on x FLOP/cycle x the clock that
    /proc/cpuinfo reports (GHz); 0.0 when either is unknown."""
    text = _cpuinfo() if text is None else text
    try:
        ghz = float(_field(text, "cpu MHz")) / 1000
    except ValueError:
        return 0.0
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores * fp32_flops_per_cycle(text, environ) * ghz


def summary():
    """`isa=... onednn=... cpu="..."` for a benchmark's summary line."""
    return f'isa={isa()} onednn={onednn_path()} cpu="{model()}"'
