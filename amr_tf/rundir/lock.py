"""Who may write a run directory: the OS lock held for a run's life, the temporary files of dead
writers, symlinks refused.
"""

import contextlib
import errno
import os
import re
import shutil
from pathlib import Path

from amr_tf.rundir.files import LOCK_FILE, RUN_FILES

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
