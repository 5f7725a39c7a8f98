"""A table of results from run directories, in the paper's form (what `amr_tf.report` prints).

Every run directory under a folder (one holding config.json) is read through `amr_tf.rundir`:
its best.json (the best valid probe accuracy over training and the test accuracy at that epoch),
and its eval/disentanglement.json, eval/lines.json, eval/spiral.json, eval/probe.json (the probe
refitted on frozen codes, printed beside the online one) and eval/class_mixer.json when
`amr_tf.evaluate` or `amr_tf.reproduce` wrote them. Runs that differ only by seed (and run length) are one setting;
each setting prints as mean +- std over its seeds (sample std, n - 1, as numpy.std(ddof=1); 0 for
one seed), in %, next to the paper's number where the setting is one of the paper's recipes
(`amr_tf/recipes.py`).

dSprites settings show two disentanglement scores: disentanglement_lib's (eval accuracy, at most
100%) and, next to the paper's column, the original AMR code's (`original_score`, the scheme the
paper's Table 4 used, at most 80% because its loop skips the last factor). Only the second is on
the paper's scale; an eval file written before it existed shows "-" there.
"""

import csv
import io
import math
import statistics
from pathlib import Path

from amr_tf import provenance, recipes, registry, rundir
from amr_tf.config import DSPRITES

FORMATS = ("markdown", "csv")
# Columns of each kind of table: (header, row key).
PROBE_COLUMNS = (("valid probe %", "val_probe"), ("test probe %", "test_probe"))
DISENTANGLEMENT_COLUMNS = (("disentanglement % (disentanglement_lib)", "disentanglement"),)
# The original AMR code's score (the paper's Table 4 scheme, at most 0.8), printed beside the paper's column.
ORIGINAL_COLUMNS = (("disentanglement % (original's scheme, max 80)", "disentanglement_original"),)
LINES_COLUMNS = (("Mean Distance (1e-3)", "mean_distance"), ("Smoothness", "smoothness"),
                 ("pixel Mean Distance (1e-3)", "pixel_mean_distance"), ("pixel Smoothness", "pixel_smoothness"))
# The spiral (supplement Fig. 12): decoded mixes' distance to the curve, and the same pairs mixed in input space.
SPIRAL_COLUMNS = (("mix distance to the spiral (1e-3)", "spiral_mix_distance"),
                  ("mixes within the noise band %", "spiral_mix_within_band"),
                  ("input-space mix distance (1e-3)", "spiral_input_mix_distance"))
# The probe refitted to convergence on the frozen codes (`evaluate --metric=probe`), beside the online one.
REFIT_COLUMNS = (("refitted probe valid %", "refit_val_probe"), ("refitted probe test %", "refit_test_probe"))
# The class mixer judged by a separately trained classifier (`evaluate --metric=class_mixer`).
CLASS_MIXER_COLUMNS = (("class mixes judged as intended %", "class_mixer_agreement"),
                       ("plain mixup judged as intended %", "plain_mixup_agreement"),
                       ("judge on reconstructions %", "judge_recon_accuracy"), ("chance %", "class_mixer_chance"))
# The original's disentanglement score stays last, before the paper's (csv).
SCORE_COLUMNS = (PROBE_COLUMNS + DISENTANGLEMENT_COLUMNS + LINES_COLUMNS + SPIRAL_COLUMNS + REFIT_COLUMNS
                 + CLASS_MIXER_COLUMNS + ORIGINAL_COLUMNS)


def read_run(run_dir):
    """One run's scores: {config, run_dir, epochs_done, val_probe, test_probe, disentanglement,
    disentanglement_original, mean_distance, smoothness, pixel_...}; scores a run lacks are None.
    None if not a run."""
    run_dir = Path(run_dir)
    config = rundir.try_config(run_dir)
    if config is None:
        return None
    best = rundir.read_best(run_dir)
    out = {"config": config, "run_dir": str(run_dir), "epochs_done": rundir.finished_epochs(run_dir),
           "val_probe": _percent(best.get("val_probe_accuracy")),
           "test_probe": _percent(best.get("test_probe_accuracy")), "checkpoints": []}
    recipe = recipes.find(config)

    def _summary(metric):
        return _scored_summary(run_dir, metric, table_checkpoint(recipe, metric), out["checkpoints"])

    disentanglement = _summary("disentanglement")
    out["disentanglement"] = _percent(disentanglement.get("disentanglement"))
    out["disentanglement_original"] = _percent(disentanglement.get("original_score"))
    lines = _summary("lines")
    for name in ("mean_distance", "smoothness"):
        scale = 1e3 if name == "mean_distance" else 1.0
        for prefix, source in (("", "lines_"), ("pixel_", "pixel_")):
            value = _number(lines.get(f"{source}{name}"))
            out[f"{prefix}{name}"] = None if value is None else value * scale
    spiral = _summary("spiral")
    for name in ("spiral_mix_distance", "spiral_input_mix_distance"):
        value = _number(spiral.get(name))
        out[name] = None if value is None else value * 1e3
    out["spiral_mix_within_band"] = _percent(spiral.get("spiral_mix_within_band"))
    refit = _summary("probe")
    out["refit_val_probe"] = _percent(refit.get("probe_valid_accuracy"))
    out["refit_test_probe"] = _percent(refit.get("probe_test_accuracy"))
    class_mixer = _summary("class_mixer")
    for _, name in CLASS_MIXER_COLUMNS:
        out[name] = _percent(class_mixer.get(name))
    return out


def table_checkpoint(recipe, metric):
    """The checkpoint a recipe's table reads `metric` of: the recipe's for its own metric (the
    spiral's scores the last), else the best (where the online probe's best.json is);
    None for a run of no recipe, whose evaluations are read at whichever checkpoint they scored."""
    if recipe is None:
        return None
    return recipe.checkpoint if recipe.metric == metric else "best"


def _scored_summary(run_dir, metric, checkpoint, notes):
    """The "summary" object of the run's eval/<metric>.json; {} when missing or not an object.

    A table never mixes checkpoints without saying so. A record of another checkpoint than
    `checkpoint` (evaluate run again with another --checkpoint) is not read: it goes into `notes`
    as (eval file, its checkpoint, `checkpoint`). Where `checkpoint` is None (no recipe) a record
    of any checkpoint is read, and one not of the best (where best.json's online probe is) goes
    into `notes` as (eval file, its checkpoint, None)."""
    path = rundir.eval_path(run_dir, metric)
    record = rundir.read_json(path)
    if not isinstance(record, dict):
        return {}
    found = str(record.get("checkpoint", checkpoint or "best"))
    if checkpoint is not None and found != checkpoint:
        notes.append((str(path), found, checkpoint))
        return {}
    if checkpoint is None and found != "best":
        notes.append((str(path), found, None))
    summary = record.get("summary")
    return summary if isinstance(summary, dict) else {}


def _number(value):
    """`value` as a float, or None when it is none (a score a file lacks or holds as no number)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _percent(value):
    value = _number(value)
    return None if value is None else 100.0 * value


def find_runs(runs_dir):
    """Every run under `runs_dir` (itself included), sorted by path."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise ValueError(f"--runs={runs_dir} is not a directory")
    found = [read_run(p.parent) for p in sorted(root.rglob(rundir.CONFIG_FILE))]
    return [r for r in found if r is not None]


def method_columns(config):
    """(method, mix, k) of a config, as the paper's tables label them (a figure's one-line label:
    `amr_tf.evaluation.interpolations.figure_label`)."""
    if config.model == "vae":
        return "beta-VAE", "-", "-"
    if config.model == "acai":
        return "ACAI", config.mixer, str(config.k)
    if config.mixer == "none":
        return "AE+GAN", "-", "-"
    method = "AMR" + (f" +cls {config.cls:g}" if config.cls else "")
    return method, {"bernoulli": "Bern"}.get(config.mixer, config.mixer), str(config.k)


def _setting_label(config):
    label = {"fashion_mnist": "Fashion-MNIST", "dsprites_procedural": "dSprites (procedural)"}.get(
        config.dataset, config.dataset)
    if config.dataset not in ("lines", "spiral") and config.dataset not in DSPRITES:
        label += f" d_h={config.bottleneck}" if config.preset.startswith("acai") else f" ({config.preset})"
    if config.subset_train:
        label += f" ({config.subset_train} train)"
    return label


def group(runs):
    """Settings, in recipe order then by label: dicts with table, setting, method, mix, k, lamb,
    seeds, epochs, steps_per_epoch, each score's (mean, std, n), paper, metric, run_dirs."""
    groups = {}
    for run in runs:
        groups.setdefault(recipes.key(run["config"]), []).append(run)
    order = {name: i for i, name in enumerate(recipes.RECIPES)}
    rows = []
    for members in groups.values():
        members.sort(key=lambda r: r["config"].seed)
        config = members[0]["config"]
        recipe = recipes.find(config)
        method, mix, k = method_columns(config)
        row = {
            "table": recipe.table if recipe else "-",
            "setting": recipe.setting if recipe else _setting_label(config),
            "method": method, "mix": mix, "k": k,
            "lamb": "-" if config.model == "vae" else f"{config.lamb:g}",
            "seeds": [r["config"].seed for r in members],
            "epochs": sorted({r["epochs_done"] for r in members}),
            "unfinished": sum(r["epochs_done"] < r["config"].epochs for r in members),
            "steps_per_epoch": config.steps_per_epoch if len({r["config"].steps_per_epoch for r in members}) == 1
            else "mixed",
            "paper": recipe.paper if recipe else None,
            "metric": recipe.metric if recipe else _metric_of(config),
            "run_dirs": [r["run_dir"] for r in members],
            "checkpoints": [item for r in members for item in r["checkpoints"]],
            "_key": dict(recipes.key(config)),
            "_order": (order.get(recipe.name, len(order)) if recipe else len(order), _setting_label(config), method,
                       mix, k),
        }
        for _, name in SCORE_COLUMNS:
            row[name] = summarise([r[name] for r in members])
        rows.append(row)
    _tell_apart(rows)
    rows.sort(key=lambda r: r["_order"])
    return rows


def _tell_apart(rows):
    """Settings whose labels coincide (same method, mix, k, lambda) but whose Configs differ
    (another lr, batch size, ...) get the differing fields after their method's name."""
    same = {}
    for row in rows:
        key = (row["table"], row["setting"], row["method"], row["mix"], row["k"], row["lamb"])
        same.setdefault(key, []).append(row)
    for members in same.values():
        if len(members) < 2:
            continue
        fields = [f for f in members[0]["_key"] if len({str(m["_key"][f]) for m in members}) > 1]
        for row in members:
            row["method"] += " (" + ", ".join(f"{f}={row['_key'][f]}" for f in fields) + ")"


def _metric_of(config):
    if config.dataset in DSPRITES:
        return "disentanglement"
    return config.dataset if config.dataset in ("lines", "spiral") else "probe"


def summarise(values):
    """(mean, sample std, n) of the values that exist; None if none does."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), std, len(values)


def format_score(score, digits=2):
    """`mean +- std` (`mean` alone for one value); `-` when missing."""
    if score is None:
        return "-"
    mean, std, n = score
    return f"{mean:.{digits}f}" if n == 1 else f"{mean:.{digits}f} +- {std:.{digits}f}"


def _columns(metric, members=()):
    """The score columns of a table of `metric`; a probe table adds the refitted probe's and a
    class-mixer table the judge's where any of its `members` has them."""
    def having(columns):
        return columns if any(r[name] is not None for r in members for _, name in columns) else ()

    if metric == "probe":
        return PROBE_COLUMNS + having(REFIT_COLUMNS) + having(CLASS_MIXER_COLUMNS)
    if metric == "disentanglement":  # the original's score last: beside the paper's column, on its scale
        return DISENTANGLEMENT_COLUMNS + PROBE_COLUMNS[:1] + ORIGINAL_COLUMNS
    if metric == "lines":
        return LINES_COLUMNS
    if metric == "spiral":  # the probe too: the spiral's arm
        return SPIRAL_COLUMNS + PROBE_COLUMNS
    raise ValueError(f"no columns for metric {metric!r}")


def _epochs(row):
    """Finished epochs (x steps when capped), and how many seeds have not finished their run."""
    epochs = "/".join(str(e) for e in row["epochs"])
    if row["steps_per_epoch"] not in (None, "mixed"):
        epochs += f" x {row['steps_per_epoch']} steps"
    return epochs + (f" ({row['unfinished']} unfinished)" if row["unfinished"] else "")


def _checkpoint_note(path, found, wanted):
    """The line under a table for an evaluation of another checkpoint than the table's best.json."""
    if wanted is None:
        return f"{Path(path).stem} of {Path(path).parent.parent}: scored at its {found} checkpoint"
    return (f"left out: {path} scores the {found} checkpoint; this recipe's table reads the {wanted} "
            f"(`python -m amr_tf.evaluate --run_dir={Path(path).parent.parent} --metric={Path(path).stem} "
            f"--checkpoint={wanted}`)")


def markdown(rows):
    """One table per setting: Method | Mix | k | lambda | seeds | epochs | scores | paper."""
    out = []
    by_setting = {}
    for row in rows:
        by_setting.setdefault((row["table"], row["setting"]), []).append(row)
    for (table, setting), members in by_setting.items():
        metric = members[0]["metric"]
        columns = _columns(metric, members)
        title = f"{setting}" + (f" (table {table})" if table != "-" else "")
        header = ["Method", "Mix", "k", "λ", "seeds", "epochs", *[c for c, _ in columns]]
        with_paper = any(r["paper"] for r in members)
        if with_paper:
            header.append("paper (table %s)" % table if table in recipes.PAPER_TABLES else "paper (dSprites)")
        out += [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in members:
            digits = {"mean_distance": 3, "pixel_mean_distance": 3, "smoothness": 3, "pixel_smoothness": 3,
                      "spiral_mix_within_band": 1, **{name: 1 for _, name in CLASS_MIXER_COLUMNS}}
            cells = [r["method"], r["mix"], r["k"], r["lamb"], str(len(r["seeds"])), _epochs(r)]
            cells += [format_score(r[name], digits.get(name, 2)) for _, name in columns]
            if with_paper:
                cells.append(format_score((*r["paper"], 3)) if r["paper"] else "-")
            out.append("| " + " | ".join(cells) + " |")
        out += ["", provenance.stamp([d for r in members for d in r["run_dirs"]]), ""]
        notes = [_checkpoint_note(*item) for r in members for item in r["checkpoints"]]
        out += notes + ([""] if notes else [])
    return "\n".join(out) if out else "(no runs)"


def to_csv(rows):
    """One line per setting: labels, then each score's mean, std and n (the original's
    disentanglement score after the others), then the paper's."""
    names = [n for _, n in SCORE_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "setting", "method", "mix", "k", "lamb", "seeds", "epochs", "steps_per_epoch"]
                    + [f"{n}_{s}" for n in names for s in ("mean", "std", "n")] + ["paper_mean", "paper_std"])
    for r in rows:
        line = [r["table"], r["setting"], r["method"], r["mix"], r["k"], r["lamb"],
                " ".join(map(str, r["seeds"])), "/".join(map(str, r["epochs"])), r["steps_per_epoch"] or ""]
        for n in names:
            line += ["", "", 0] if r[n] is None else [f"{r[n][0]:.6g}", f"{r[n][1]:.6g}", r[n][2]]
        line += list(r["paper"]) if r["paper"] else ["", ""]
        writer.writerow(line)
    return buffer.getvalue()


def report(runs_dir, fmt="markdown"):
    """The report of every run under `runs_dir` as text."""
    if fmt not in FORMATS:
        raise registry.unknown("--format", fmt, FORMATS)
    runs = find_runs(runs_dir)
    if not runs:
        raise ValueError(f"no run directories (with a config.json) under {runs_dir}")
    rows = group(runs)
    return markdown(rows) if fmt == "markdown" else to_csv(rows)
