"""A run's history kept true to its checkpoints: what a resume may take, metrics.csv and best.json
repaired to the checkpoint's epoch, later epochs and `--restart`'s history set aside.
"""

import csv
import dataclasses
import os
import re
import time
from pathlib import Path

from amr_tf.rundir.files import (
    BEST_FILE,
    CHECKPOINTS_DIR,
    EVAL_DIR,
    IMAGES_DIR,
    LOGS_DIR,
    METRICS_FILE,
    PROVENANCE_FILE,
    atomic_write,
    config_path,
    read_rows,
)
from amr_tf.rundir.lock import refuse_symlinks


def _write_csv(path, header, rows):
    def write_to(f):
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)

    atomic_write(path, write_to, fsync=True)


def _format(value):
    return repr(value) if isinstance(value, float) else str(value)


# What may differ between a run directory's config.json and the command that resumes it.
RESUMABLE_CHANGES = ("epochs",)


# What --restart moves aside: the whole history of the earlier run.
RESTART_MOVES = (CHECKPOINTS_DIR, METRICS_FILE, BEST_FILE, IMAGES_DIR, LOGS_DIR, EVAL_DIR, PROVENANCE_FILE)


def check_can_take(config, run_dir, find_latest, resume=True, restart=False):
    """Checks that `run_dir` can take the run of `config`; writes nothing (the caller writes
    config.json once the checkpoint has been read).

    Args:
        config: the run's Config.
        run_dir: the directory (it may not exist yet).
        find_latest: checkpoints folder -> its newest epoch checkpoint or None (e.g.
            `amr_tf.checkpoint.latest`, which refuses an older amr_tf's checkpoints); called
            once the settings are known to match, and not at all for `restart`.
        resume: continue from the newest checkpoint; if False, a directory with checkpoints is
            refused.
        restart: the history will be moved aside: only the settings are checked.

    Returns:
        The newest epoch checkpoint to resume from, or None.

    Raises:
        ValueError: the directory holds a different run, resume=False and it has checkpoints,
            or it has a history (metrics.csv rows) but no checkpoint and not `restart`; whatever
            `find_latest` raises (`amr_tf.checkpoint.CheckpointError` for an older amr_tf's .npz
            checkpoints), except for `restart`.
    """
    from amr_tf.config import Config

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"{run_dir} exists and is not a directory; choose another --out_dir")
    refuse_symlinks(run_dir)
    path = config_path(run_dir)
    if path.exists():
        try:
            old = Config.from_json(path.read_text())
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path} is not a readable run config ({e})") from None
        if old.data_fingerprint != config.data_fingerprint and old.data_fingerprint is not None:
            raise ValueError(f"{run_dir} trained on other images: --data_dir={config.data_dir} held "
                             f"{old.data_fingerprint} then, {config.data_fingerprint} now (files added, removed or "
                             "changed); put the folder back, or train in another --out_dir")
        diffs = [
            f"{f.name}={getattr(old, f.name)!r} there, {getattr(config, f.name)!r} now"
            for f in dataclasses.fields(Config)
            if f.name not in RESUMABLE_CHANGES and getattr(old, f.name) != getattr(config, f.name)
        ]
        if diffs:
            raise ValueError(
                f"{run_dir} holds a run with other settings ({'; '.join(diffs)}); "
                "choose another --out_dir"
            )
    if restart:
        return None
    latest = find_latest(run_dir / CHECKPOINTS_DIR)
    if latest is not None and not resume:
        raise ValueError(
            f"{run_dir} already has checkpoints (newest {Path(latest).name}); "
            "run again with --resume to continue it, or choose another --out_dir"
        )
    if latest is None:
        rows = read_rows(run_dir / METRICS_FILE)[1]
        if rows:
            raise ValueError(
                f"{run_dir} has {len(rows)} epoch(s) in metrics.csv but no checkpoint to resume from; "
                "pass --restart to move that history aside and train from epoch 0"
            )
    return latest


def repair_history(run_dir, history, epoch):
    """Makes metrics.csv hold exactly `history`'s rows (the checkpoint of `epoch`'s).

    Returns a list of what was done (one string each), empty when nothing needed doing.
    """
    run_dir = Path(run_dir)
    path = run_dir / "metrics.csv"
    done = []
    header, rows, torn = read_rows(path)
    if header is None and not history:
        return done
    if header is None or "epoch" not in header:
        header = ["epoch"] + sorted({k for r in history for k in r if k != "epoch"})
    at = header.index("epoch")
    written, order = {}, []
    for r in rows:
        try:
            order.append(int(float(r[at])))
            written.setdefault(order[-1], r)
        except ValueError:
            torn = True
    unordered = order != sorted(order)
    later = [r for e, r in sorted(written.items()) if e > epoch]
    if later:
        backup = run_dir / f"metrics.after-epoch-{epoch}.csv"
        n = 1
        while backup.exists():
            n += 1
            backup = run_dir / f"metrics.after-epoch-{epoch}.{n}.csv"
        _write_csv(backup, header, later)
        done.append(f"moved {len(later)} row(s) past epoch {epoch} (the checkpoint's) to {backup.name}")
    wanted = [[_format(r.get(c, "")) for c in header] for r in history]
    kept = [written[e] for e in sorted(written) if e <= epoch]
    repeated = len(rows) != len(written)
    if torn or later or repeated or unordered or [r[at] for r in kept] != [w[at] for w in wanted]:
        # the checkpoint's own rows (it carries them all) replace whatever the file says
        _write_csv(path, header, wanted)
        if torn:
            done.append("rewrote the torn last line of metrics.csv")
        if repeated:
            done.append("dropped repeated rows of metrics.csv")
        if unordered and not repeated:
            done.append("put the rows of metrics.csv back in epoch order")
        if len(kept) < len(wanted):
            done.append(f"restored {len(wanted) - len(kept)} row(s) of metrics.csv from the checkpoint")
    return done


def set_aside(run_dir, names=("metrics.csv", "best.json", "images")):
    """Moves `names` of `run_dir` that exist to restart-backup-<time>/; returns it (None: nothing)."""
    run_dir = Path(run_dir)
    present = [run_dir / n for n in names if (run_dir / n).exists()]
    if not present:
        return None
    backup = run_dir / time.strftime("restart-backup-%Y%m%d-%H%M%S")
    n = 1
    while backup.exists():
        n += 1
        backup = run_dir / f"{time.strftime('restart-backup-%Y%m%d-%H%M%S')}.{n}"
    backup.mkdir()
    for path in present:
        os.replace(path, backup / path.name)
    return backup


_IMAGE_EPOCH = re.compile(r"_epoch(\d{4,})\.png$")


def set_aside_images(run_dir, epoch):
    """Moves images/ pictures of epochs past `epoch` to images.after-epoch-<epoch>/; returns how many."""
    images = Path(run_dir) / "images"
    later = [p for p in images.glob("*.png") if (m := _IMAGE_EPOCH.search(p.name)) and int(m.group(1)) > epoch] \
        if images.is_dir() else []
    if later:
        backup = Path(run_dir) / f"images.after-epoch-{epoch}"
        backup.mkdir(exist_ok=True)
        for path in later:
            os.replace(path, backup / path.name)
    return len(later)
