"""The equal-budget training protocol that both codes follow in `against_original.py`'s part 3.

NumPy only: the original's side (`original_train.py`, torch's environment) and amr_tf's side
(`amr_tf_train.py`) import this one module, so the two codes see the same batches in the same
order, are measured at the same steps on the same images, and write the same records.

- Settings: the original's scripts for MNIST-like data (`exps/mnist/mixup_lamb10.sh`): lamb 10,
  beta 0, Adam lr 1e-4 with betas (0.5, 0.99), coupled weight decay 1e-5, the generator updated
  on every 5th step of an epoch (counted from the epoch's first batch, as its `iter` is), batch 64,
  its linear probe trained beside it with the same Adam.
- Data: `data.npz` (written by `against_original.py` from amr_tf's Fashion-MNIST splits: the same
  uint8 pixels for both codes), scaled to [-1, 1] like the original's Normalize((0.5,), (0.5,)).
- Order: epoch e is a permutation drawn by RandomState([seed, e]), cut into batches of 64, the
  last partial batch kept (the original's DataLoader(shuffle=True) keeps it).
- Records: `curve.jsonl`, one line per EVAL_EVERY steps: the means of the training losses over
  those steps (recon, d_x as the original logs it: the mean of D's terms) and, on the first
  CURVE_TEST test images, L1 reconstruction and the online probe's accuracy. At the end,
  `final.npz`: the same two on all test images, and the codes of the first PROBE_TRAIN train
  images and of the test images (the frozen codes the logistic-regression probe is refitted on).
- Resume: `state.*` after every record; a restarted run continues from it with the RNG states it
  saved, and `curve.jsonl` is cut back to the records that state has.
"""

import json
import os
from pathlib import Path

import numpy as np

SETTINGS = {"lamb": 10.0, "beta": 0.0, "lr": 1e-4, "beta1": 0.5, "beta2": 0.99, "weight_decay": 1e-5,
            "update_g_every": 5, "batch_size": 64}
STEPS = 1500
EVAL_EVERY = 100
CURVE_TEST = 2000
PROBE_TRAIN = 10000
CONFIGS = {"mixup_k2": {"mixer": "mixup", "k": 2}, "ae_gan": {"mixer": "none", "k": 2}}


def add_run_arguments(parser):
    """The flags both drivers take: --data, --config, --seed, --out, --steps, --eval_every."""
    parser.add_argument("--data", required=True, help="data.npz (see the module's docstring)")
    parser.add_argument("--config", default="mixup_k2", choices=sorted(CONFIGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="the run's folder (curve.jsonl, state, final.npz)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--eval_every", type=int, default=EVAL_EVERY)


def scale(images_uint8):
    """uint8 pixels -> float32 in [-1, 1]."""
    return (images_uint8.astype(np.float32) / 255.0 - 0.5) / 0.5


def load_data(path):
    with np.load(path) as f:
        return {key: f[key] for key in f.files}


def batches(n, batch_size, seed, steps, start=0):
    """Yields (step, iter_in_epoch counted from 1, indices) for steps start..steps-1."""
    per_epoch = -(-n // batch_size)
    step = start
    while step < steps:
        epoch, b = divmod(step, per_epoch)
        order = np.random.RandomState([seed, epoch]).permutation(n)
        yield step, b + 1, order[b * batch_size:(b + 1) * batch_size]
        step += 1


def generator_due(iter_in_epoch, every=SETTINGS["update_g_every"]):
    """The original's cadence: its `(iter - 1) % update_g_every == 0`, iter restarting each epoch."""
    return (iter_in_epoch - 1) % every == 0


def write_json(path, value):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1) + "\n")
    os.replace(tmp, path)


def read_curve(out_dir):
    path = Path(out_dir) / "curve.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def keep_curve(out_dir, upto_step):
    """Cuts curve.jsonl back to the records at steps <= upto_step (the saved state's)."""
    rows = [r for r in read_curve(out_dir) if r["step"] <= upto_step]
    path = Path(out_dir) / "curve.jsonl"
    tmp = path.with_name(".curve.jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, path)
    return rows


def append_curve(out_dir, row):
    with open(Path(out_dir) / "curve.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


class Window:
    """Means of the training losses since the last record."""

    def __init__(self):
        self.sums, self.count = {}, 0

    def add(self, values):
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.count += 1

    def means(self):
        out = {f"train_{k}": v / max(self.count, 1) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return out
