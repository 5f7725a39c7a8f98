"""Evaluating a run: which metrics apply, the options' checks, and the loop over the chosen
metrics that writes each one's RUN/eval/<metric>.json and TensorBoard scalars (RUN/logs/eval).

The metrics are the modules of REGISTRY (see `amr_tf.evaluation`); nothing here names one.
"""

import math
import sys
import time

import numpy as np

from amr_tf import registry, rundir
from amr_tf.evaluation import class_mixer, disentanglement, fid, interpolations, lines, probe, spiral

# name -> metric module, in the order the metrics are listed, run and printed. A new metric is
# a module with the interface described in amr_tf/evaluation/__init__.py, and a line here.
REGISTRY = registry.Registry("metric")
for _metric in (probe, disentanglement, lines, spiral, class_mixer, interpolations, fid):
    REGISTRY.add(_metric.NAME, _metric)
METRICS = REGISTRY.names()
# The evaluation options' defaults, the one place they are written: `evaluate`'s and `reproduce`'s
# flags, `evaluate_run` and `check_options` read them here, and each metric's `evaluate` is always
# called with every option it takes (its OPTIONS), so none of them has a default of its own.
DEFAULTS = dict(votes=800, batch_L=800, variance_samples=10000, seed=0, interpolations=16, steps=16,
                probe_examples=None, fid_examples=10000, inception_weights=None)


def _unavailable(metric, options):
    """None if `metric` can run on this machine, else why not (a metric's optional `unavailable`)."""
    unavailable = getattr(metric, "unavailable", None)
    return unavailable(**options) if unavailable else None


def select_metrics(spec, config, inception_weights=None, **options):
    """The metrics to compute for `spec` ("all" or a comma-separated list of REGISTRY's names).

    Args:
        spec: the --metric value.
        config: the run's Config; each metric's `why_not(config)` says whether it applies.
        inception_weights, **options: the evaluation's options (DEFAULTS), for the metrics that
            may be unable to run here (fid: without InceptionV3's weights on disk).

    Returns:
        (metrics in REGISTRY order, notes): notes say what "all" left out and why.

    Raises:
        ValueError: an unknown name, an empty list, or a named metric that does not apply or
        cannot run here.
    """
    options = {"inception_weights": inception_weights, **options}
    names = [n.strip() for n in str(spec or "").split(",") if n.strip()]
    if not names:
        raise ValueError(f"--metric is empty; choose one of: all, {', '.join(REGISTRY)}")
    notes = []
    if names == ["all"]:
        chosen = []
        for name, metric in REGISTRY.items():
            if metric.why_not(config) is not None:
                continue
            if _unavailable(metric, options) is None:
                chosen.append(name)
            else:
                notes.append(f"{name} skipped: {metric.SKIPPED}")
        return chosen, notes
    for name in names:
        if name not in REGISTRY:  # "all" as well: it stands alone
            raise ValueError(f"{registry.unknown('metric', name, ('all', *REGISTRY))} (all stands alone)")
    for name in names:
        reason = REGISTRY[name].why_not(config)
        if reason:
            raise ValueError(f"metric '{name}' does not apply to this run: it {reason}")
    for name in names:
        reason = _unavailable(REGISTRY[name], options)
        if reason:
            raise ValueError(reason)
    return [m for m in REGISTRY if m in names], notes


def check_options(*, votes, batch_L, variance_samples, interpolations, steps, probe_examples, fid_examples,
                  checkpoint, **_):
    """Raises ValueError (one line) for option values that cannot work (every option is given: the
    defaults are DEFAULTS alone)."""
    registry.check("checkpoint", checkpoint, rundir.CHECKPOINTS)
    for name, value, low in (("votes", votes, 1), ("batch_L", batch_L, 2), ("variance_samples", variance_samples, 2),
                             ("interpolations", interpolations, 1), ("steps", steps, 2),
                             ("fid_examples", fid_examples, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"--{name} must be an integer >= {low}; got {value!r}")
    if probe_examples is not None and (not isinstance(probe_examples, (int, np.integer)) or probe_examples < 2):
        raise ValueError(f"--probe_examples must be an integer >= 2 (or unset for all); got {probe_examples!r}")


def log_scalars(run_dir, summary, step, names=None):
    """Writes the summary's TensorBoard scalars to RUN/logs/eval at `step`, tag eval/<name>.

    Args:
        names: the summary names that are scalars (a metric's SCALARS; default every metric's).

    Returns:
        {tag: value} of what was written (non-finite and missing values are left out).
    """
    names = [n for metric in REGISTRY.values() for n in metric.SCALARS] if names is None else names
    scalars = {f"eval/{k}": float(v) for k, v in summary.items()
               if k in names and v is not None and math.isfinite(float(v))}
    if not scalars:
        return {}
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(rundir.logs_dir(run_dir, "eval")))
    with writer.as_default():
        for tag, value in scalars.items():
            tf.summary.scalar(tag, value, step=int(step))
    writer.flush()
    writer.close()
    return scalars


def _options(metric, available):
    """The options `metric` is called with (its OPTIONS), from the evaluation's."""
    return {name: available[name] for name in metric.OPTIONS}


def evaluate_run(run_dir, metric="all", checkpoint="best", compare=(), log=None, **options):
    """Evaluates a run: each metric to RUN/eval/<metric>.json and TensorBoard; returns the records.

    Args:
        run_dir: a run directory written by `trainers.run.fit` / `amr_tf.train`.
        metric: "all" (every metric that applies) or a comma-separated list of METRICS.
        checkpoint: "best" or "last".
        compare: run directories for the interpolation figures' extra rows.
        log: where progress notes go (default stderr).
        **options: votes, batch_L, variance_samples, seed, interpolations, steps,
            probe_examples, fid_examples, inception_weights (see DEFAULTS).

    Returns:
        {metric: record}; a record holds "metric", "run_dir", "checkpoint", "epoch",
        "settings", "seconds", the metric's results and "summary" ({name: value} as printed).

    Raises:
        ValueError (one line): bad options, a missing run or checkpoint, a metric that does not
        apply, data that cannot be read, FID without weights. Raised before any file is written.
    """
    log = log or sys.stderr
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    settings = {**DEFAULTS, **options}
    check_options(checkpoint=checkpoint, **settings)
    config = rundir.read_config(run_dir)
    chosen, notes = select_metrics(metric, config, **settings)
    for note in notes:
        print(note, file=log, flush=True)
    compare = [str(c) for c in compare or ()]
    available = {**settings, "compare": compare, "checkpoint": checkpoint}
    takers = [name for name, m in REGISTRY.items() if "compare" in m.OPTIONS]
    if compare and not set(takers) & set(chosen):
        raise ValueError(f"--compare is used by the {' and '.join(takers)} metric only")
    for name in chosen:
        check = getattr(REGISTRY[name], "check", None)
        if check:
            check(config, **_options(REGISTRY[name], available))
    from amr_tf import checkpoint as checkpoints  # TensorFlow and Keras: only once a run is evaluated

    config, nets, meta = checkpoints.load_networks(run_dir, checkpoint)
    epoch = int(meta["epoch"])
    rundir.refuse_symlinks(run_dir)
    # It writes eval/ and logs/eval into the run directory: not while another process holds it.
    with rundir.locked(run_dir, "evaluate"):
        return _evaluate_chosen(run_dir, config, nets, chosen, epoch, checkpoint, available, log)


def _evaluate_chosen(run_dir, config, nets, chosen, epoch, checkpoint, available, log):
    records = {}
    for name in chosen:
        metric = REGISTRY[name]
        start = time.time()
        print(f"evaluating {name} ({run_dir}, {checkpoint} checkpoint, epoch {epoch})", file=log, flush=True)
        used = _options(metric, available)
        result = metric.evaluate(run_dir, config, nets, **used)
        settings = {k: v for k, v in used.items() if k != "checkpoint"}  # every record holds "checkpoint"
        record = {"metric": name, "run_dir": str(run_dir), "checkpoint": checkpoint, "epoch": epoch,
                  "dataset": config.dataset, "settings": settings, "seconds": round(time.time() - start, 2),
                  **result}
        record["tensorboard"] = log_scalars(run_dir, result["summary"], epoch, metric.SCALARS)
        rundir.write_json(rundir.eval_path(run_dir, name), record)
        records[name] = record
    return records


def summary_lines(records):
    """The `name=value` lines of the records, in metric order (floats with 6 significant digits;
    a missing value is `nan`)."""
    out = []
    for record in records.values():
        for key, value in record["summary"].items():
            if value is None:
                text = "nan"
            elif isinstance(value, (float, np.floating)):
                text = f"{float(value):.6g}"
            else:
                text = str(value)
            out.append(f"{key}={text}")
    return out
