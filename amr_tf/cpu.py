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


def summary():
    """`isa=... onednn=... cpu="..."` for a benchmark's summary line."""
    return f'isa={isa()} onednn={onednn_path()} cpu="{model()}"'
