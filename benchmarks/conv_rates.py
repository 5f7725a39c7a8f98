"""How fast each convolution of the acai32 k=8 step runs, against the machine's GEMM rate.

    .venv/bin/python benchmarks/conv_rates.py [--dtypes=float32,bfloat16 --repeats=5]

For every distinct conv shape the step runs (D on [x; r; r_mix] = 192 images, f on 64, g on
[h; h_mix] = 128; batch 64, 3 channels), times the three kernels TensorFlow runs for it (forward,
backprop to the input, backprop to the filter; oneDNN on CPU), each alone, compiled, best of
--repeats runs of 10, and prints its GFLOP/s and that rate as a fraction of a 2048^3 matmul's in
the same dtype (`trainers.throughput.gemm_gflops`): where a profile shows the convolutions as the
wall, this says which kernel, at what fraction of what the cores do on a GEMM.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from amr_tf import quiet  # noqa: E402

quiet.import_tensorflow()  # without TensorFlow's start-up notices above the table
import tensorflow as tf  # noqa: E402

from amr_tf import cpu, provenance  # noqa: E402
from trainers.throughput import gemm_gflops  # noqa: E402

# (who, batch, side, in, out, kernel) of every conv of acai32's f, g and D at k=8, batch 64.
SHAPES = [
    ("D", 192, 34, 3, 16, 1), ("D", 192, 34, 16, 16, 3), ("D", 192, 17, 16, 32, 3), ("D", 192, 17, 32, 32, 3),
    ("D", 192, 8, 32, 64, 3), ("D", 192, 8, 64, 64, 3), ("D", 192, 4, 64, 128, 3), ("D", 192, 4, 128, 2, 3),
    ("f", 64, 34, 3, 16, 1), ("f", 64, 34, 16, 16, 3), ("f", 64, 17, 32, 32, 3), ("f", 64, 8, 64, 64, 3),
    ("g", 128, 32, 16, 16, 3), ("g", 128, 32, 16, 3, 3), ("g", 128, 16, 32, 16, 3), ("g", 128, 8, 64, 32, 3),
]


def _best_ms(fn, repeats):
    fn().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            out = fn()
        out.numpy()
        best = min(best, (time.perf_counter() - start) / 10 * 1000)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"# {cpu.flags_line()}")
    rng = np.random.default_rng(0)
    for dtype in args.dtypes.split(","):
        gemm = gemm_gflops(dtype)
        print(f"\n{dtype}: GEMM {gemm:.0f} GFLOP/s (2048^3 matmul)\n")
        print("| net | conv (batch x side^2 x in -> out, k x k) | MFLOP | forward | backprop input | backprop filter |")
        print("|---|---|---|---|---|---|")
        for who, n, side, cin, cout, k in SHAPES:
            x = tf.constant(rng.normal(size=(n, side, side, cin)), dtype)
            w = tf.constant(rng.normal(size=(k, k, cin, cout)), dtype)
            dy = tf.constant(rng.normal(size=(n, side, side, cout)), dtype)
            pad = "SAME" if k > 1 else "VALID"
            kernels = {
                "forward": tf.function(lambda x=x, w=w: tf.nn.conv2d(x, w, 1, pad)),
                "input": tf.function(lambda w=w, dy=dy, shape=x.shape: tf.nn.conv2d_transpose(
                    dy, w, shape, 1, pad)),
                "filter": tf.function(lambda x=x, dy=dy, shape=w.shape: tf.raw_ops.Conv2DBackpropFilter(
                    input=x, filter_sizes=shape, out_backprop=dy, strides=[1, 1, 1, 1], padding=pad)),
            }
            flop = 2.0 * n * side * side * cin * cout * k * k
            cells = []
            for name, fn in kernels.items():
                ms = _best_ms(fn, args.repeats)
                rate = flop / ms / 1e6
                cells.append(f"{ms:.2f} ms, {rate:.0f} GFLOP/s ({rate / gemm:.0%})")
            row = f"| {who} | {n} x {side}^2 x {cin} -> {cout}, {k}x{k} | {flop / 1e6:.0f} | "
            print(row + " | ".join(cells) + " |", flush=True)
        print(f"\n{provenance.line()}")


if __name__ == "__main__":
    main()
