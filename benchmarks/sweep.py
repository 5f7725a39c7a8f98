"""Runs `python -m amr_tf.bench` over the settings of the performance table and prints markdown.

    python benchmarks/sweep.py [--repeats=3] [--steps=50] [--out=benchmarks/cpu.md]

Each setting runs in a fresh process (`--repeats` times; the median samples/s is reported),
so one setting's caches and threads never help the next.
"""

import argparse
import statistics
import subprocess
import sys

BASE = {"k": 8, "batch_size": 64, "channels": 3, "bottleneck": 32, "precision": "float32"}
SETTINGS = (
    [("k", k) for k in (2, 3, 4, 6, 8)]
    + [("bottleneck", 256), ("bottleneck", 1024)]
    + [("precision", "mixed_bfloat16"), ("jit", True), ("k2_bf16", None)]
    + [("batch_size", b) for b in (32, 128, 256)]
    + [("input", "pipeline")]
)


def flags_for(name, value):
    flags = dict(BASE)
    if name == "k2_bf16":
        flags.update(k=2, precision="mixed_bfloat16")
    elif name == "input":
        flags.update(input="pipeline", dataset="digits", channels=1)
    else:
        flags[name] = value
    return flags


def run(flags, steps, warmup):
    args = [f"--{k}={v}" for k, v in flags.items() if k != "jit"]
    args += ["--jit"] if flags.get("jit") else ["--no-jit"]
    out = subprocess.run([sys.executable, "-m", "amr_tf.bench", *args, f"--steps={steps}", f"--warmup={warmup}"],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()
    fields = dict(kv.split("=") for line in out[-2:] for kv in line.split())
    return fields


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", default=None)
    parser.add_argument("--only", default=None, help="comma-separated setting names (k, bottleneck, ...)")
    args = parser.parse_args()
    rows = ["| setting | samples/s (median of %d) | ms/step (median) | MFLOP/sample | GFLOP/s | peak RSS MB |"
            % args.repeats,
            "|---|---|---|---|---|---|"]
    settings = [(n, v) for n, v in SETTINGS if not args.only or n in args.only.split(",")]
    for name, value in [("base", None)] + settings:
        flags = dict(BASE) if name == "base" else flags_for(name, value)
        if name != "base" and flags == BASE:
            continue
        runs = [run(flags, args.steps, args.warmup) for _ in range(args.repeats)]
        best = sorted(runs, key=lambda r: float(r["samples_per_s"]))[len(runs) // 2]
        label = ", ".join(f"{k}={v}" for k, v in flags.items() if name == "base" or BASE.get(k) != v) or "base"
        label = "base (k=8, batch 64, C=3, d_h=32, float32)" if name == "base" else label
        samples = [float(r["samples_per_s"]) for r in runs]
        rows.append(f"| {label} | {statistics.median(samples):.0f} ({', '.join(f'{s:.0f}' for s in samples)}) | "
                    f"{float(best['ms_per_step_median']):.0f} | {float(best['mflops_per_sample']):.0f} | "
                    f"{float(best['gflops_per_s']):.0f} | {float(best['peak_rss_mb']):.0f} |")
        print(rows[-1], flush=True)
    text = "\n".join(rows) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
