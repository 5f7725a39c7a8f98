"""A finished search as rows: the printed table, `results.csv` and `best.json` of its directory."""

import csv
import math
from pathlib import Path

from amr_tf import rundir
from tuning.tuner import METRICS, OBJECTIVE, format_values, hyperparameter_values, metric_text, run_dir, trial_metrics


def rows(oracle):
    """One dict per trial the oracle knows, in trial order: its values, status and metrics."""
    out = []
    for trial_id in sorted(oracle.trials, key=int):
        trial = oracle.trials[trial_id]
        row = {"trial": int(trial_id), **hyperparameter_values(trial), "status": trial.status}
        row.update(trial_metrics(trial))
        out.append(row)
    return out


def best(oracle, project_dir, seeds):
    """The best finished trial as a JSON-able dict (None if no trial finished).

    Its `run_dir` is the run of the seed with the best valid probe accuracy (the one to export).
    """
    completed = [t for t in oracle.trials.values()
                 if t.status == "COMPLETED" and trial_metrics(t).get(OBJECTIVE) is not None]
    if not completed:
        return None
    # Ties go to the earliest trial, so that a resumed search names the same best.
    trial = max(completed, key=lambda t: (trial_metrics(t)[OBJECTIVE], -int(t.trial_id)))
    run_dirs = [str(run_dir(project_dir, trial.trial_id, seed)) for seed in seeds]
    per_seed = [rundir.read_best(d) or None for d in run_dirs]
    scores = [r.get(OBJECTIVE, -math.inf) if r else -math.inf for r in per_seed]
    return {
        "trial": int(trial.trial_id),
        "hyperparameters": hyperparameter_values(trial),
        **trial_metrics(trial),
        "objective": f"{OBJECTIVE} (max over epochs, mean over seeds)",
        "seeds": list(seeds),
        "run_dirs": run_dirs,
        "run_dir": run_dirs[scores.index(max(scores))],
    }


def best_line(record):
    """`best: lamb=... (val_probe_accuracy=..., test=...)`."""
    return (f"best: {format_values(record['hyperparameters'])} "
            f"({OBJECTIVE}={metric_text(record, OBJECTIVE)}, "
            f"test={metric_text(record, 'test_probe_accuracy')})")


def table(trial_rows):
    """The rows as an aligned text table (accuracies with +- std when several seeds)."""
    if not trial_rows:
        return "(no trials)"
    names = [k for k in trial_rows[0] if k not in METRICS and k != "status"]
    header = [*names, OBJECTIVE, "test_probe_accuracy", "best_epoch", "status"]
    lines = [header]
    for row in trial_rows:
        values = [format_values({k: row.get(k)}).split("=", 1)[1] for k in names]
        epoch = row.get("best_epoch")
        lines.append([*values, metric_text(row, OBJECTIVE), metric_text(row, "test_probe_accuracy"),
                      "-" if epoch is None else f"{epoch:g}", row["status"]])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(v).rjust(w) for v, w in zip(line, widths)) for line in lines)


def write(project_dir, trial_rows, best_record):
    """Writes `results.csv` (every trial) and `best.json` (the best one) into `project_dir`."""
    project_dir = Path(project_dir)
    columns = []
    for row in trial_rows:
        columns += [k for k in row if k not in columns]
    rundir.atomic_write(project_dir / "results.csv", lambda f: _write_csv(f, columns, trial_rows))
    if best_record is not None:
        rundir.write_json(project_dir / "best.json", best_record)


def _write_csv(f, columns, trial_rows):
    writer = csv.DictWriter(f, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(trial_rows)
