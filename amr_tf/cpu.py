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


# Low-precision convolutions a oneDNN cap can break. TensorFlow decides whether a data type goes
# to oneDNN from the CPU's own flags (its IsDataTypeSupportedByOneDNNOnThisCPU), never from
# ONEDNN_MAX_CPU_ISA; oneDNN then refuses, even in its reference kernels, a data type that the
# ISA it may use (the CPU's, lowered by the cap) lacks, and the op aborts with "could not create
# a primitive descriptor". No real CPU is in that state: it arises only when a cap hides part of
# the CPU from oneDNN, as `make test`'s AVX2 pass does.
def _flags(text):
    return set(_field(_cpuinfo() if text is None else text, "flags").split())


# Which types TensorFlow hands to oneDNN, from the CPU's flags.
_ROUTED = {
    "bfloat16": lambda f: "avx512f" in f or "avx_ne_convert" in f,
    "float16": lambda f: ("avx512bw" in f and bool({"avx512_fp16", "amx_fp16"} & f)) or "avx_ne_convert" in f,
}
# What oneDNN needs for each type: AVX-512 (core) for bfloat16, AVX512-FP16 for float16, or
# AVX2 with the VNNI-2 extension (AVX-NE-CONVERT) for either.
_NEEDS = {"bfloat16": ({"avx512_core"}, {"avx2_vnni_2"}),
          "float16": ({"avx512_core_fp16"}, {"avx2_vnni_2"})}
# What oneDNN may use under each ONEDNN_MAX_CPU_ISA value (its names; AVX10_1_512 is
# AVX512_CORE_FP16 renamed), as the capabilities above.
_CORE, _FP16 = {"avx512_core"}, {"avx512_core", "avx512_core_fp16"}
_CAP_ALLOWS = {"SSE41": set(), "AVX": set(), "AVX2": set(), "AVX2_VNNI": set(), "AVX2_VNNI_2": {"avx2_vnni_2"},
               "AVX512_CORE": _CORE, "AVX512_CORE_VNNI": _CORE, "AVX512_CORE_BF16": _CORE,
               "AVX512_CORE_FP16": _FP16, "AVX10_1_512": _FP16, "AVX512_CORE_AMX": _FP16,
               "AVX10_1_512_AMX": _FP16, "AVX512_CORE_AMX_FP16": _FP16, "AVX10_1_512_AMX_FP16": _FP16,
               "AVX10_2_512": _FP16, "AVX10_2_512_AMX_2": _FP16}
LOW_PRECISIONS = tuple(_ROUTED)


def _onednn_can(flags):
    """The capabilities of _NEEDS that the CPU itself has."""
    own = set()
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        own.add("avx512_core")
        if "avx512_fp16" in flags:
            own.add("avx512_core_fp16")
    if {"avx2", "avx_ne_convert"} <= flags:
        own.add("avx2_vnni_2")
    return own


def capped_low_precisions(text=None, environ=None):
    """The low-precision types ("bfloat16", "float16") whose convolutions abort in this process:
    TensorFlow routes them to oneDNN (from the CPU's flags) and an ONEDNN_MAX_CPU_ISA cap leaves
    oneDNN no kernel for them. Empty without a cap, with oneDNN off, or on a CPU whose flags route
    nothing there. An unknown cap name is read as no cap (oneDNN ignores it too)."""
    environ = os.environ if environ is None else environ
    path = onednn_path(environ)
    if not path.startswith("max_isa="):
        return ()
    allowed = _CAP_ALLOWS.get(path.split("=", 1)[1].upper())
    if allowed is None:
        return ()
    flags = _flags(text)
    usable = _onednn_can(flags) & allowed
    return tuple(t for t in LOW_PRECISIONS
                 if _ROUTED[t](flags) and not any(need <= usable for need in _NEEDS[t]))


# What oneDNN can use above AVX2 (AVX-512, AVX-VNNI, AVX-NE-CONVERT / AVX-VNNI-INT8, AMX): on a CPU
# with none of these, ONEDNN_MAX_CPU_ISA=AVX2 leaves oneDNN's kernels as they are.
_ABOVE_AVX2 = ("avx512f", "avx_vnni", "avx_ne_convert", "avx_vnni_int8", "amx_tile", "amx_bf16")


def has_bf16_hardware(text=None):
    """Whether the CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX-BF16)."""
    return bool({"avx512_bf16", "amx_bf16"} & _flags(text))


def above_avx2(text=None):
    """Whether oneDNN has anything above AVX2 on this CPU, i.e. whether holding it to AVX2
    (`make test`'s AVX2 pass) runs other kernels than its default. False on an AVX2-only CPU,
    where that pass would repeat the first one."""
    return bool(_flags(text) & set(_ABOVE_AVX2))


_SHOWN_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "avx512_fp16", "avx_ne_convert",
                "amx_bf16", "amx_fp16")


def flags_line(text=None, environ=None):
    """One line for a test run's header: the CPU, the flags that decide TensorFlow's kernels,
    the oneDNN setting and the low-precision convolutions it cannot run."""
    flags = _flags(text)
    seen = " ".join(f for f in _SHOWN_FLAGS if f in flags) or "none of " + " ".join(_SHOWN_FLAGS)
    broken = capped_low_precisions(text, environ)
    return (f'cpu: "{model(text)}"; flags: {seen}; onednn: {onednn_path(environ)}; '
            f"low-precision convolutions skipped: {', '.join(broken) if broken else 'none'}")


def label(text=None, environ=None):
    """The CPU as a table's stamp names it: its model and widest vector ISA, "+ AMX" where it has
    AMX's bfloat16 tiles (the ISA alone does not say: AVX512-BF16 CPUs with and without AMX run
    bfloat16 convolutions at rates several times apart), and oneDNN's setting when not the default."""
    out = f"{model(text)}; {isa(text)}" + (" + AMX" if "amx_bf16" in _flags(text) else "")
    path = onednn_path(environ)
    return out + (f"; oneDNN {path}" if path != "default" else "")
