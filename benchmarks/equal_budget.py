"""Part 3 of `against_original.py`: the two codes trained side by side for the same budget.

    .venv/bin/python benchmarks/against_original.py --reference=PATH --parts=3 [--training_seeds=3]

For each configuration (mixup k=2, and AE+GAN with --training=mixup_k2,ae_gan), each seed and
each code, one run of `budget_protocol.STEPS` steps (`original_train.py` in the reference
environment, `amr_tf_train.py` here), one after the other, each in `<out>/training/<config>/<code>/
s<seed>/` with its log. Every run is resumable: an interrupted comparison started again skips
the finished runs and continues the unfinished one from its last record. Then:
- the logistic-regression probe (scikit-learn, standardised codes) refitted on the frozen codes
  of the first 10,000 train images and scored on the 10,000 test images;
- a table per configuration: per seed and mean +- sd of the final test L1 reconstruction, the
  last window's D loss (the original's d_x), the online probe's test accuracy (the original's
  protocol) and the refitted probe's; a metric passes when the two codes' means differ by no more
  than the larger of their seed-to-seed ranges;
- `equal_budget.png`: the curves of both codes (drawn in the reference environment, which has
  matplotlib).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import budget_protocol as protocol  # noqa: E402

# The codes that can be trained: the original, and amr_tf with its defaults or one setting changed
# (what a run of each variant says about which setting follows the original's curves).
# "{original_init}" stands for the same seed's initial weights of the original's run.
VARIANTS = {"original": None, "amr_tf": [], "amr_tf_keras_sn": ["--spectral_norm=keras"],
            "amr_tf_d_calls_original": ["--d_calls=original"], "amr_tf_d_calls_batched": ["--d_calls=batched"],
            "amr_tf_original_init": ["--init_from={original_init}"],
            "amr_tf_original_init_d_calls_original": ["--init_from={original_init}", "--d_calls=original"]}
DEFAULT_CODES = ("original", "amr_tf", "amr_tf_keras_sn")
METRICS = (("test_recon_l1", "L1 recon (test)"), ("train_d_x", "D loss (last 100 steps)"),
           ("test_probe_acc", "online probe acc (test)"), ("logreg_acc", "refitted logreg acc (test)"))


def prepare_data(path):
    """amr_tf's Fashion-MNIST splits (uint8, 32x32) as the one data file both codes read."""
    if Path(path).exists():
        return
    from amr_tf.data import idx

    parts = idx.read_mnist_dir(idx.DEBIAN_FASHION_MNIST)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_name(".data.npz.tmp.npz")
    np.savez(tmp, train_x=parts["train"][0], train_y=parts["train"][1], test_x=parts["test"][0],
             test_y=parts["test"][1])
    tmp.replace(path)


def run_dir(work, config, code, seed):
    return Path(work) / "training" / config / code / f"s{seed}"


def train(work, config, code, seed, reference, reference_python):
    out = run_dir(work, config, code, seed)
    if (out / "done.json").exists() and (code != "original" or (out / "init.npz").exists()):
        return
    out.mkdir(parents=True, exist_ok=True)
    data = str(Path(work) / "training" / "data.npz")
    if code == "original":
        cmd = [reference_python, str(ROOT / "benchmarks" / "original_train.py"), f"--reference={reference}"]
    else:
        init = run_dir(work, config, "original", seed) / "init.npz"
        cmd = [sys.executable, str(ROOT / "benchmarks" / "amr_tf_train.py"),
               *(a.format(original_init=init) for a in VARIANTS[code])]
    cmd += [f"--data={data}", f"--config={config}", f"--seed={seed}", f"--out={out}"]
    print(f"equal_budget: {code} {config} seed {seed} -> {out}", flush=True)
    with open(out / "log.txt", "a") as log:
        cwd = reference if code == "original" else ROOT
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    if result.returncode != 0:
        sys.exit(f"equal_budget: the {code} run {out} failed; see {out / 'log.txt'}")


def logreg_accuracy(final):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    labels = protocol.load_data(final["data"])
    scaler = StandardScaler().fit(final["train_codes"])
    model = LogisticRegression(max_iter=2000).fit(scaler.transform(final["train_codes"]),
                                                  labels["train_y"][:protocol.PROBE_TRAIN])
    return float(model.score(scaler.transform(final["test_codes"]), labels["test_y"]))


def collect(work, config, seeds, codes):
    """{code: {seed: {metric: value}}} of finished runs (the refitted probe cached in logreg.json)."""
    data = str(Path(work) / "training" / "data.npz")
    rows = {}
    for code in codes:
        rows[code] = {}
        for seed in seeds:
            out = run_dir(work, config, code, seed)
            if not (out / "done.json").exists():
                continue
            cached = out / "logreg.json"
            if not cached.exists():
                with np.load(out / "final.npz") as f:
                    final = {"train_codes": f["train_codes"], "test_codes": f["test_codes"], "data": data}
                protocol.write_json(cached, {"logreg_acc": logreg_accuracy(final)})
            done = json.loads((out / "done.json").read_text())
            curve = protocol.read_curve(out)
            rows[code][seed] = {"test_recon_l1": done["test_recon_l1"], "test_probe_acc": done["test_probe_acc"],
                                "train_d_x": curve[-1]["train_d_x"], "seconds": curve[-1]["seconds"],
                                **json.loads(cached.read_text())}
    return rows


def verdicts(rows, code):
    """{metric: (mean difference, allowed spread, pass)} of `code` against the original, where
    both have >= 2 seeds."""
    out = {}
    for metric, _ in METRICS:
        values = {c: [r[metric] for r in rows[c].values()] for c in ("original", code)}
        if min(len(v) for v in values.values()) < 2:
            continue
        diff = float(np.mean(values[code]) - np.mean(values["original"]))
        spread = max(float(np.ptp(v)) for v in values.values())
        out[metric] = (diff, spread, abs(diff) <= spread)
    return out


def markdown(results, settings_note):
    lines = [settings_note, ""]
    for config, rows in results.items():
        lines += [f"**3. Equal budget: {config}** ({protocol.STEPS} steps, "
                  f"batch {protocol.SETTINGS['batch_size']})", "",
                  "| code | seed | " + " | ".join(label for _, label in METRICS) + " | s/run |",
                  "|---|---|" + "---|" * len(METRICS) + "---|"]
        for code in rows:
            for seed, r in sorted(rows[code].items()):
                lines.append(f"| {code} | {seed} | " + " | ".join(f"{r[m]:.4f}" for m, _ in METRICS)
                             + f" | {r['seconds']:.0f} |")
            if len(rows[code]) > 1:
                cells = [f"{np.mean([r[m] for r in rows[code].values()]):.4f} +- "
                         f"{np.std([r[m] for r in rows[code].values()], ddof=1):.4f}" for m, _ in METRICS]
                lines.append(f"| {code} | mean +- sd | " + " | ".join(cells) + " | |")
        for code in rows:
            v = verdicts(rows, code) if code != "original" else {}
            if v:
                lines.append(f"| {code} - original | | " + " | ".join(
                    (f"{v[m][0]:+.4f} ({'within' if v[m][2] else 'OUTSIDE'} {v[m][1]:.4f})" if m in v else "")
                    for m, _ in METRICS) + " | |")
        lines.append("")
    return "\n".join(lines)


def plot(work, configs, seeds, codes, reference_python):
    """equal_budget.png beside the tables (matplotlib, in the reference environment)."""
    curves = {config: {code: {seed: protocol.read_curve(run_dir(work, config, code, seed)) for seed in seeds}
                       for code in codes} for config in configs}
    source = Path(work) / "training" / "curves.json"
    source.write_text(json.dumps(curves))
    target = Path(work) / "equal_budget.png"
    result = subprocess.run([reference_python, str(ROOT / "benchmarks" / "plot_budget.py"), str(source), str(target)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        print(f"equal_budget: no plot ({result.stderr.strip().splitlines()[-1:]})")
        return None
    return target


def part3(args, work):
    """Trains what is missing, then returns (markdown, results, all pass)."""
    configs = args.training.split(",")
    seeds = list(range(args.training_seeds))
    codes = args.training_codes.split(",")
    unknown = sorted(set(codes) - set(VARIANTS))
    if unknown or "original" not in codes:
        sys.exit(f"against_original: --training_codes takes original and any of {', '.join(VARIANTS)}; got {codes}")
    prepare_data(Path(work) / "training" / "data.npz")
    start = time.time()
    for config in configs:
        for seed in seeds:  # seed by seed: an interrupted comparison still has whole seeds of every code
            for code in codes:
                if not args.training_report_only:
                    train(work, config, code, seed, args.reference, args.reference_python)
    results = {config: collect(work, config, seeds, codes) for config in configs}
    described = [f"{c} ({' '.join(VARIANTS[c]) or 'defaults'})" for c in codes if c != "original"]
    note = (f"Codes: {', '.join(described)}; seeds {seeds}; settings {protocol.SETTINGS}; "
            f"training in this call: {time.time() - start:.0f} s.")
    png = plot(work, configs, seeds, codes, args.reference_python)
    # The verdict is amr_tf's defaults against the original; the variants are measured beside it.
    ok = "amr_tf" in codes and all(p for rows in results.values() for _, _, p in verdicts(rows, "amr_tf").values())
    return markdown(results, note) + (f"\nCurves: {png.name}\n" if png else ""), results, ok
