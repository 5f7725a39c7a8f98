"""The run directory's layout: its files' names and paths, and their JSON readers and writers.

Every JSON file of a run is written by `write_json`, atomically, with one policy for non-finite
numbers (NaN and infinities become null: the files stay strict JSON).
"""

import contextlib
import csv
import errno
import io
import json
import math
import os
import re
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


def atomic_write(path, write_to, fsync=False, binary=False):
    """Writes `path` atomically: `write_to(f)` fills a temporary file beside it (`.NAME.tmp-<PID>`,
    which `remove_stale_temps` removes should the process die), then a rename puts it in place, so
    a kill leaves the old file or the new one. `fsync` flushes it to the disk first (a history a
    resume reads back); `binary` opens it for bytes (a PNG). The one atomic writer of the project's
    files. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with (open(tmp, "wb") if binary else open(tmp, "w", newline="", encoding="utf-8")) as f:
            write_to(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path, value):
    """Writes `value` as JSON to `path` atomically (`atomic_write`); non-finite numbers become
    null. Returns the path."""
    text = json.dumps(plain(value), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text))


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


def finished_epochs(run_dir):
    """Epochs the run has finished: the complete rows of its metrics.csv."""
    return len(read_rows(Path(run_dir) / METRICS_FILE)[1])
