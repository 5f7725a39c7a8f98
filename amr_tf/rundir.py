"""The run directory's one owner: its layout, its files' readers and writers, its lock, its
history's repair, its clean-up.

Layout: `config.json` (the run's Config), `checkpoints/`, `logs/` (TensorBoard), `metrics.csv`
(one row per finished epoch), `best.json` (the best valid probe accuracy, its epoch and test
accuracy), `images/`, `eval/<metric>.json` (amr_tf.evaluate).

- `read_config(run_dir)` / `try_config(run_dir)`: the run's Config (one clear line, or None).
- `read_best(run_dir)`, `finished_epochs(run_dir)`, `read_json(path)`: what a run has done.
- `write_json(path, value)`: every JSON file of a run is written here, atomically, with one
  policy for non-finite numbers (NaN and infinities become null: the files stay strict JSON).

- `locked(run_dir)`: an exclusive OS file lock (`fcntl.flock` on `.lock`) held for the run's
  life. The kernel releases it when the process dies, however it dies, so a SIGKILL never leaves
  a stale lock; a second process is refused in one line naming the holder's PID.
- `remove_stale_temps(directory)`: temporary files and folders named `...tmp-<PID>...` or
  `.export-<PID>-...` whose process is gone (a SIGKILL mid-write leaves them) are removed.
- `refuse_symlinks(run_dir)`: a run file that is a symlink would make a resume write outside
  the run directory; it is refused.
- `repair_history(run_dir, history, epoch)`: metrics.csv made to hold exactly the checkpoint's
  rows, in order: a torn last line is dropped and rewritten, a missing row appended, rows past
  the checkpoint's epoch moved to `metrics.after-epoch-<N>.csv` (never silently kept or repeated);
  best.json rewritten from the same history.
  Pictures of those later epochs go to `images.after-epoch-<N>/` (`set_aside_images`).
- `set_aside(run_dir, names)`: `--restart`: the earlier run's history moved to
  `restart-backup-<time>/` before the run starts again from epoch 0.
"""

import contextlib
import csv
import dataclasses
import errno
import io
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
BEST_FILE = "best.json"
CHECKPOINTS_DIR = "checkpoints"
EVAL_DIR = "eval"
IMAGES_DIR = "images"
LOGS_DIR = "logs"
# Which checkpoint of a run a reader asks for: the best valid probe accuracy, or the newest epoch.
CHECKPOINTS = ("best", "last")
LOCK_FILE = ".lock"
PROVENANCE_FILE = "provenance.jsonl"  # one line a training session: commit, date, CPU, command
RUN_FILES = (CONFIG_FILE, METRICS_FILE, BEST_FILE, CHECKPOINTS_DIR, IMAGES_DIR, LOGS_DIR, EVAL_DIR, LOCK_FILE,
             PROVENANCE_FILE)


def plain(value):
    """JSON-safe: numpy scalars and arrays to Python, NaN/inf to None, recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    return value


def write_json(path, value):
    """Writes `value` as JSON to `path` atomically (a temporary file, then a rename: a kill leaves
    the old file or the new one); non-finite numbers become null. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(plain(value), indent=2, sort_keys=True, allow_nan=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_json(path):
    """The JSON value in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def tensorflow_writes(path):
    """Turns TensorFlow's failure to write `path` (a checkpoint, a SavedModel) into an OSError
    naming it, as Python's own writes fail: a full disk is ResourceExhaustedError, a name too
    long InvalidArgumentError, neither an OSError, and both would end a command in a traceback."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as e:
        # "{{function_node ...SaveV2...}} /long/temporary/path; No space left on device": the
        # reason, without the graph node and the temporary file's name
        text = re.sub(r"\{\{[^}]*\}\}\s*", "", str(e.message or e)).strip()
        low = text.lower()
        code = (errno.ENOSPC if isinstance(e, tf.errors.ResourceExhaustedError) or "no space" in low
                else errno.ENAMETOOLONG if "too long" in low
                else errno.EDQUOT if "quota" in low
                else errno.EIO)
        reason = os.strerror(code) if code != errno.EIO else ((text.splitlines() or [""])[0][-160:] or "I/O error")
        raise OSError(code, f"{reason} (TensorFlow's {type(e).__name__} while writing it)", str(path)) from None


_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_folder_name(what, name, hint=""):
    """`name` if it is one plain folder name (letters, digits, '_', '.', '-'; not starting with
    '.' or '-'; no '/', no newline), else ValueError naming `what`: a name that becomes a folder
    must not escape its parent or break a listing."""
    if not isinstance(name, str) or not _FOLDER_NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} must be letters, digits, '_', '.' or '-' (a folder name){hint}")
    return name


def config_path(run_dir):
    return Path(run_dir) / CONFIG_FILE


def eval_path(run_dir, metric):
    """Where `amr_tf.evaluate` writes a metric's record."""
    return Path(run_dir) / EVAL_DIR / f"{metric}.json"


def figures_dir(run_dir):
    """Where `amr_tf.evaluate` draws its figures."""
    return Path(run_dir) / EVAL_DIR / "figures"


def checkpoints_dir(run_dir):
    return Path(run_dir) / CHECKPOINTS_DIR


def checkpoints_after(run_dir, epoch):
    """Where a resume at `epoch` moves the checkpoints of the epochs it abandons."""
    return Path(run_dir) / f"{CHECKPOINTS_DIR}.after-epoch-{epoch}"


def images_dir(run_dir):
    """The pictures drawn while training (one set per epoch)."""
    return Path(run_dir) / IMAGES_DIR


def logs_dir(run_dir, *parts):
    """TensorBoard's logs (training's, and `parts` below them: "images", "eval")."""
    return Path(run_dir, LOGS_DIR, *parts)


def read_config(run_dir, label=None):
    """The Config of a run directory (cheap: no checkpoint is read).

    Args:
        run_dir: the directory.
        label: how the messages name it (e.g. "--run_dir=RUN"); the path by default.

    Raises:
        ValueError: the directory is missing, is not a run, or its config.json is invalid.
    """
    from amr_tf.config import Config

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run directory {label or run_dir} does not exist")
    path = config_path(run_dir)
    if not path.is_file():
        raise ValueError(f"{label or run_dir} is not a run directory (no {CONFIG_FILE} there)")
    try:
        return Config.from_json(path.read_text())
    except ValueError as e:  # not JSON, not an object, a value of the wrong type: name the file
        raise ValueError(f"{path}: {e}") from None


def try_config(run_dir):
    """The Config of a run directory, leniently (fields this version does not know are dropped,
    e.g. of a run written by an older one), or None when it holds no readable, valid config."""
    from amr_tf.config import Config

    raw = read_json(config_path(run_dir))
    if not isinstance(raw, dict):
        return None
    try:
        return Config(**{k: v for k, v in raw.items() if k in Config.__dataclass_fields__})
    except (TypeError, ValueError):
        return None


def read_best(run_dir):
    """The run's best record ({"epoch", "val_probe_accuracy", "test_probe_accuracy"}), or {}."""
    best = read_json(Path(run_dir) / BEST_FILE)
    # A best.json damaged by hand or by a tool (a list, an epoch that is no whole number, an
    # accuracy that is no number) is no best record: the run's history rewrites it at its
    # next epoch, and meanwhile the readers fall back as for a run with none.
    if not isinstance(best, dict):
        return {}
    epoch = best.get("epoch")
    if not (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 1):
        return {}
    if any(not isinstance(best.get(key), (int, float)) or isinstance(best.get(key), bool)
           for key in ("val_probe_accuracy", "test_probe_accuracy") if best.get(key) is not None):
        return {}
    return best


def finished_epochs(run_dir):
    """Epochs the run has finished: the complete rows of its metrics.csv."""
    return len(read_rows(Path(run_dir) / METRICS_FILE)[1])


_TEMP = re.compile(r"(?:\.tmp-(\d+)|^\.export-(\d+)-)")


class RunDirBusy(ValueError):
    """Another live process holds the run directory."""


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


@contextlib.contextmanager
def locked(run_dir, what="train"):
    """Holds the run directory's exclusive lock; raises RunDirBusy if another process has it."""
    import fcntl

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    if path.is_symlink():
        raise ValueError(f"{path} is a symlink; a run directory's files must be its own")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RunDirBusy(f"{run_dir} is in use by another process ({holder}); wait for it to finish "
                             f"or stop it, or choose another directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {what}".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock (the kernel does it too if the process dies)


def remove_stale_temps(directory):
    """Removes `directory`'s temporary files and folders whose writer process is gone; returns them."""
    directory = Path(directory)
    removed = []
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        match = _TEMP.search(path.name)
        if not match or not path.name.startswith("."):
            continue
        pid = int(match.group(1) or match.group(2))
        if pid == os.getpid() or pid_alive(pid):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def refuse_symlinks(run_dir):
    """Raises ValueError naming the first run file of `run_dir` that is a symlink."""
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        return  # the directory itself may be a link; its files may not
    for name in RUN_FILES:
        path = run_dir / name
        if path.is_symlink():
            raise ValueError(f"{path} is a symlink; a run directory's files must be its own "
                             "(a resume would write where it points)")


def read_rows(path):
    """(header, rows as lists of strings, whether the last line was torn) of a metrics.csv."""
    text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
    torn = bool(text) and not text.endswith("\n")
    lines = text.splitlines()
    if torn:
        lines = lines[:-1]  # a kill mid-append: the last line is incomplete
    if not lines:
        return None, [], torn
    parsed = list(csv.reader(io.StringIO("\n".join(lines) + "\n")))
    header, rows = parsed[0], parsed[1:]
    return header, [r for r in rows if len(r) == len(header)], torn or any(len(r) != len(header) for r in rows)


def _write_csv(path, header, rows):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
