"""The run directory's one owner: its layout, its files' readers and writers, its lock, its
history's repair, its clean-up.

Modules: `files` (the layout, paths, JSON readers and writers), `lock` (the run's lock, dead
writers' temporaries, symlinks), `history` (resume checks, the history's repair, setting aside).
Their public names are gathered here: `from amr_tf import rundir`.

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

from amr_tf.rundir.files import (  # noqa: F401
    BEST_FILE,
    CHECKPOINTS,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    EVAL_DIR,
    IMAGES_DIR,
    LOCK_FILE,
    LOGS_DIR,
    METRICS_FILE,
    PROVENANCE_FILE,
    RUN_FILES,
    atomic_write,
    check_folder_name,
    checkpoints_after,
    checkpoints_dir,
    config_path,
    eval_path,
    figures_dir,
    finished_epochs,
    images_dir,
    logs_dir,
    plain,
    read_best,
    read_config,
    read_json,
    read_rows,
    tensorflow_writes,
    try_config,
    write_json,
)
from amr_tf.rundir.history import (  # noqa: F401
    RESTART_MOVES,
    RESUMABLE_CHANGES,
    check_can_take,
    repair_history,
    set_aside,
    set_aside_images,
)
from amr_tf.rundir.lock import RunDirBusy, locked, pid_alive, refuse_symlinks, remove_stale_temps  # noqa: F401
