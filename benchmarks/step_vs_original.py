"""amr_tf's fp32 train step against the original's, side by side: alternating A/B pairs in one run.

    .venv/bin/python benchmarks/step_vs_original.py --reference=PATH [--pairs=3 --k=8 --isa=AVX2]
        [--precision=mixed_bfloat16] [--before=OTHER_CHECKOUT_OF_AMR_TF]

Each pair runs `python -m amr_tf.bench` (this tree) and `original_step.py` (the reference
environment), one fresh process each, on the same shapes (acai32, batch 64, 3 channels, G every
5th step). `--isa=AVX2` sets ONEDNN_MAX_CPU_ISA for both (torch's and TensorFlow's oneDNN honour
it), and with AVX2 also ATEN_CPU_CAPABILITY=avx2 for torch's other kernels: the kernels an
AVX2-only CPU would run, on a CPU that has more (TensorFlow's other kernels are built for AVX). Prints each pair, the
medians and their ratio, and the CPU (model, ISA, oneDNN cap). `--before` also times another
checkout of amr_tf (e.g. a `git worktree` of an older commit) in each round, for a before/after
measured in the same run. `--precision` sets amr_tf's (and --before's) policy; the original
always runs in float32, as it did.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amr_tf import provenance  # noqa: E402


def _rate(text):
    match = re.search(r"samples_per_s=([\d.]+)", text)
    if not match:
        sys.exit(f"step_vs_original: no samples_per_s in:\n{text[-2000:]}")
    return float(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--reference_python", default=str(ROOT / "benchmarks" / ".venv-reference" / "bin" / "python"))
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--isa", default=None, help="ONEDNN_MAX_CPU_ISA for both sides (e.g. AVX2)")
    parser.add_argument("--before", default=None, help="another amr_tf checkout, timed in each round too")
    parser.add_argument("--precision", default="float32", help="amr_tf's precision policy (the original: float32)")
    args = parser.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.isa:
        env["ONEDNN_MAX_CPU_ISA"] = args.isa
        if args.isa.upper().startswith("AVX2"):
            # torch's own (non-oneDNN) kernels dispatch on the CPU too: hold them to AVX2 as well.
            env["ATEN_CPU_CAPABILITY"] = "avx2"
    shape = [f"--k={args.k}", "--batch_size=64", "--channels=3", f"--steps={args.steps}", f"--warmup={args.warmup}"]
    ours_cmd = [sys.executable, "-m", "amr_tf.bench", *shape, "--bottleneck=32",
                 f"--precision={args.precision}", "--noroofline"]
    theirs_cmd = [args.reference_python, str(ROOT / "benchmarks" / "original_step.py"), f"--reference={args.reference}",
                  *shape, "--threads=2"]
    ours, theirs, before, line = [], [], [], ""
    for i in range(args.pairs):
        a = subprocess.run(ours_cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        b = subprocess.run(theirs_cmd, cwd=args.reference, env=env, capture_output=True, text=True)
        ours.append(_rate(a.stdout))
        theirs.append(_rate(b.stdout))
        line = a.stdout.strip().splitlines()[-1]
        extra = ""
        if args.before:
            c = subprocess.run(ours_cmd, cwd=args.before, env={**env, "PYTHONPATH": args.before},
                               capture_output=True, text=True)
            before.append(_rate(c.stdout))
            extra = f"  before {before[-1]:.1f} (ratio {before[-1] / theirs[-1]:.2f})"
        print(f"pair {i + 1}: amr_tf {ours[-1]:.1f}  original {theirs[-1]:.1f}  ratio {ours[-1] / theirs[-1]:.2f}"
              + extra, flush=True)
    cpu = " ".join(f for f in line.split() if f.startswith(("isa=", "onednn=", "peak_fraction="))) + \
        " " + line[line.index("cpu="):] if "cpu=" in line else ""
    print(f"median samples/s: amr_tf {np.median(ours):.1f}, original {np.median(theirs):.1f}; "
          f"ratio {np.median(ours) / np.median(theirs):.2f}x (k={args.k}, batch 64, 3 channels, "
          f"amr_tf {args.precision}, original float32; {cpu})")
    if before:
        print(f"median samples/s of --before: {np.median(before):.1f}; "
              f"ratio {np.median(before) / np.median(theirs):.2f}x; "
              f"this tree / before: {np.median(ours) / np.median(before):.2f}x")
    print(provenance.line())


if __name__ == "__main__":
    main()
