"""Does the code at one commit compute the same numbers as at another? Short trainings, bit for bit.

    python benchmarks/same_numbers.py --since=dacaf9f            # against HEAD
    python benchmarks/same_numbers.py --since=c69f05e,0e0cedd --at=HEAD --configs=ae_gan,amr_mixup_k2

A table of RESULTS.md names the commit that measured it; a later refactor of the code that
computes numbers (a rename, a registry, a split module) makes `python -m amr_tf.report --stale`
list it, although the numbers it would give are the same. Re-running hours of training to show
that is waste; this shows it in minutes. Each commit is checked out into its own temporary git
worktree, and each configuration below trains there (`python -m amr_tf.train`, 2 epochs of 3
steps, batch 16, seed 0, the generator every step) in a fresh process. The two trainings must
agree exactly: every column the two metrics.csv share, and every variable of the last checkpoint
(weights, optimiser slots, the spectral norm's u, the RNG state), and where a configuration is
also scored (`EVALUATIONS`: the refitted probe, disentanglement, the spiral, lines, the class
mixer's judge), every number of its `eval/*.json` but timings. On one machine TensorFlow's CPU
kernels are deterministic for a fixed thread count, so equal code gives equal bits and any
change of arithmetic - an initialiser, a loss term, a data order, a fused kernel - shows.

Several `--since` commits are each compared with `--at` (trained once). When every
configuration agrees it prints the line a table takes under its stamp:

    same numbers at commit <at> as at commit <since> (<date>, <CPU>): `<this command>`

and `report --stale` then judges the table from <at> on. It exits 1 when any configuration
differs or cannot run at one of the commits (a flag the older code lacks), naming it. What this
does not show: that a step is as fast (a speed table measures time, not arithmetic: re-run its
benchmark), and what no configuration here exercises.
"""

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from amr_tf import provenance, quiet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--epochs=2", "--steps_per_epoch=3", "--batch_size=16", "--seed=0", "--update_g_every=1"]
FASHION = ["--dataset=fashion_mnist"]
DSPRITES = ["--dataset=dsprites_procedural"]
# name: the flags of one training; together they cover every family and setting RESULTS.md reports.
CONFIGS = {
    "digits": ["--dataset=digits", "--mixer=mixup", "--k=2"],
    "ae_gan": FASHION + ["--mixer=none"],
    "amr_mixup_k2": FASHION + ["--mixer=mixup", "--k=2"],
    "amr_mixup_k3": FASHION + ["--mixer=mixup", "--k=3"],
    "cadence": FASHION + ["--mixer=mixup", "--k=2", "--update_g_every=2", "--update_g_phase=epoch"],
    "amr_bernoulli_k2": FASHION + ["--mixer=bernoulli", "--k=2"],
    "amr_mixup_k8_bf16": FASHION + ["--mixer=mixup", "--k=8", "--precision=mixed_bfloat16"],
    "d_calls_original": FASHION + ["--mixer=mixup", "--k=2", "--d_calls=original"],
    "keras_sn": FASHION + ["--mixer=mixup", "--k=2", "--spectral_norm=keras"],
    "acai256": FASHION + ["--mixer=mixup", "--k=2", "--arch=acai256", "--bottleneck=256"],
    "acai": FASHION + ["--model=acai", "--beta=1"],
    "dsprites": DSPRITES + ["--mixer=mixup", "--k=2"],
    "vae": DSPRITES + ["--model=vae"],
    "folder": ["--dataset=folder", "--mixer=mixup", "--k=2"],  # --data_dir: images this script writes
    "spiral": ["--dataset=spiral", "--mixer=mixup", "--k=2", "--beta=0.1"],
    "lines": ["--dataset=lines", "--mixer=mixup", "--k=2"],
    "class_mixer": ["--dataset=digits", "--mixer=mixup", "--k=2", "--cls=1"],
}
# name: the `python -m amr_tf.evaluate` metrics scored on that training too (small settings), whose
# numbers must agree as well: the evaluation code is compared with the training code.
EVALUATIONS = {
    "amr_mixup_k2": [["--metric=probe", "--probe_examples=2000"]],
    "dsprites": [["--metric=disentanglement", "--votes=20", "--batch_L=20", "--variance_samples=500"]],
    "spiral": [["--metric=spiral", "--checkpoint=last"]],
    "lines": [["--metric=lines", "--interpolations=4"]],
    "class_mixer": [["--metric=class_mixer", "--checkpoint=last"]],
}


def write_folder(root, per_class=24, side=32):
    """A small labelled image folder (two classes of PNGs: noisy discs and noisy squares), made from
    a fixed seed, so that both commits read the same files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side]
    for label in ("disc", "square"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            cy, cx, r = rng.integers(10, 22), rng.integers(10, 22), rng.integers(4, 9)
            shape = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) if label == "disc" else \
                ((abs(yy - cy) <= r) & (abs(xx - cx) <= r))
            pixels = np.clip(shape * 200 + rng.normal(0, 20, shape.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i:03d}.png")
    return root


def checkout(sha, work):
    """A detached worktree of commit `sha` under `work` (one per commit); its full commit id."""
    full = subprocess.run(["git", "rev-parse", "--verify", f"{sha}^{{commit}}"], cwd=ROOT,
                          capture_output=True, text=True)
    if full.returncode != 0:
        raise SystemExit(f"same_numbers: {sha!r} is no commit of this checkout")
    full = full.stdout.strip()
    if not (work / f"tree-{full}").exists():
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(work / f"tree-{full}"), full],
                       cwd=ROOT, check=True, capture_output=True)
    return full


def _run(tree, args, timeout):
    env = dict(os.environ, PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-m", *args], cwd=tree, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode == 0:
        return None
    lines = [x for x in (result.stderr + result.stdout).splitlines() if x.strip()]
    return lines[-1] if lines else f"exit {result.returncode}"


def train(tree, flags, out_dir, evaluations=(), timeout=900):
    """Trains one configuration with the code of `tree`, then scores it with each of `evaluations`
    (argument lists of `amr_tf.evaluate`); None, or the failing command's last error line."""
    error = _run(tree, ["amr_tf.train", *COMMON, *flags, f"--out_dir={out_dir}"], timeout)
    for args in evaluations:
        error = error or _run(tree, ["amr_tf.evaluate", f"--run_dir={out_dir}", *args], timeout)
    return error


def _numbers(value, path=""):
    """{path: number or bool} of a JSON value's leaves, without timings ("seconds")."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() if key != "seconds"
                for k, v in _numbers(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _numbers(item, f"{path}/{i}").items()}
    return {path: value} if isinstance(value, (int, float, bool)) or value is None else {}


def compare_evaluations(a, b):
    """None when the `eval/*.json` of two runs hold the same numbers wherever both have one; else
    what differs."""
    names = sorted(p.name for p in (Path(a) / "eval").glob("*.json"))
    for name in names:
        x, y = (_numbers(json.loads((Path(run) / "eval" / name).read_text())) for run in (a, b))
        for key in sorted(x.keys() & y.keys()):
            if x[key] != y[key]:
                return f"eval/{name} {key.lstrip('/')}: {x[key]} against {y[key]}"
    return None


def read_metrics(run_dir):
    with open(Path(run_dir) / "metrics.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def last_checkpoint(run_dir):
    """The newest epoch checkpoint's variables, {key: array}."""
    quiet.import_tensorflow()
    import tensorflow as tf

    prefixes = sorted(p.with_suffix("") for p in (Path(run_dir) / "checkpoints").glob("epoch-*.index"))
    if not prefixes:
        raise ValueError(f"{run_dir}: no epoch checkpoint")
    reader = tf.train.load_checkpoint(str(prefixes[-1]))
    return {k: np.asarray(reader.get_tensor(k)) for k in reader.get_variable_to_shape_map()
            if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def _digest(array):
    return hashlib.sha256(array.dtype.str.encode() + str(array.shape).encode() + array.tobytes()).hexdigest()


def compare_variables(a, b):
    """None when the two {key: array} hold the same arrays bit for bit (under the same keys, or,
    when a refactor renamed the keys, as the same multiset of arrays); else what differs."""
    if a.keys() == b.keys():
        for key in sorted(a):
            x, y = a[key], b[key]
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                if x.shape == y.shape and x.dtype.kind == y.dtype.kind == "f":
                    diff = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
                    return f"variable {key} differs (largest |difference| {diff:.3g})"
                return f"variable {key} differs ({x.dtype}{list(x.shape)} against {y.dtype}{list(y.shape)})"
        return None
    if sorted(map(_digest, a.values())) == sorted(map(_digest, b.values())):
        return None
    only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    return (f"the checkpoints differ: {len(a)} against {len(b)} variables; "
            f"e.g. {(only_a or ['-'])[0]} / {(only_b or ['-'])[0]}")


def compare_metrics(a, b):
    """None when every column both metrics.csv have holds the same values in every row; else what
    differs. A column only one side has (a metric added later) is not compared."""
    if len(a) != len(b):
        return f"metrics.csv has {len(a)} rows against {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        for key in sorted(x.keys() & y.keys()):
            if x[key] != y[key]:
                return f"metrics.csv epoch {i + 1}, {key}: {x[key]} against {y[key]}"
    return None


def compare_runs(a, b):
    """None when two run directories trained the same numbers; else the first difference."""
    return (compare_metrics(read_metrics(a), read_metrics(b))
            or compare_variables(last_checkpoint(a), last_checkpoint(b)) or compare_evaluations(a, b))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--since", required=True, help="The commit a table names (comma-separated: several).")
    parser.add_argument("--at", default="HEAD", help="The commit to compare them with (default HEAD).")
    parser.add_argument("--configs", default=",".join(c for c in CONFIGS if c != "spiral"),
                        help=f"Comma-separated, of: {', '.join(CONFIGS)} (default: all but spiral).")
    parser.add_argument("--skip_evaluations", action="store_true",
                        help="Compare the trainings only (a table whose numbers come from no evaluate metric, "
                             "or an older commit whose evaluate lacks a flag used here).")
    parser.add_argument("--work_dir", default=None, help="Where the worktrees and runs go (default: a temporary "
                                                         "folder, removed afterwards).")
    args = parser.parse_args(argv)
    names = [c for c in args.configs.split(",") if c]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown or not names:
        parser.error(f"--configs: unknown {', '.join(unknown) or '(none)'}; known: {', '.join(CONFIGS)}")
    sinces = [s for s in args.since.split(",") if s]

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="same_numbers-"))
    work.mkdir(parents=True, exist_ok=True)
    trees, lines, status = {}, [], 0
    try:
        trees["at"] = checkout(args.at, work)
        for i, sha in enumerate(sinces):
            trees[i] = checkout(sha, work)
        folder = write_folder(work / "folder") if "folder" in names else None
        at = trees["at"][:12]
        for i, sha in enumerate(sinces):
            since = trees[i][:12]
            print(f"{since} against {at}:")
            failures = []
            for name in names:
                flags = CONFIGS[name] + ([f"--data_dir={folder}"] if name == "folder" else [])
                runs = {side: work / "runs" / trees[side] / name for side in ("at", i)}
                errors = {side: train(work / f"tree-{trees[side]}", flags, run,
                                      () if args.skip_evaluations else EVALUATIONS.get(name, ()))
                          if not (run / "metrics.csv").exists() else None for side, run in runs.items()}
                if any(errors.values()):
                    why = "; ".join(f"at {trees[s][:12]}: {e}" for s, e in errors.items() if e)
                    result = f"cannot compare ({why})"
                else:
                    result = compare_runs(runs[i], runs["at"]) or "same"
                print(f"  {name:<20} {result}", flush=True)
                if result != "same":
                    failures.append(name)
            if failures:
                lines.append(f"different numbers at {at} and {since}: {', '.join(failures)}")
                status = 1
            else:
                r = provenance.current()
                command = " ".join(["python", "benchmarks/same_numbers.py", f"--since={sha}"]
                                   + [a for a in (argv if argv is not None else sys.argv[1:])
                                      if not a.startswith(("--since", "--work_dir"))])
                lines.append(f"same numbers at commit {at} as at commit {since} ({r['date']}, {r['cpu']}): "
                             f"`{command}`")
    finally:
        for full in set(trees.values()):
            subprocess.run(["git", "worktree", "remove", "--force", str(work / f"tree-{full}")], cwd=ROOT,
                           capture_output=True)
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
