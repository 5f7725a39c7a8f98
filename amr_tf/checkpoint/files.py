"""The files of a checkpoint prefix and of a folder of numbered ones: which exist, which are complete.
"""

import os
import re
from pathlib import Path

_DATA = re.compile(r"\.data-(\d{5})-of-(\d{5})$")


def _data_files(prefix):
    prefix = Path(prefix)
    if not prefix.parent.is_dir():
        return []
    start = prefix.name + ".data-"
    return sorted(p for p in prefix.parent.iterdir() if p.name.startswith(start) and _DATA.search(p.name))


def is_complete(prefix):
    """True when the checkpoint `prefix` has its index and every data file the names promise."""
    prefix = Path(prefix)
    if not Path(f"{prefix}.index").is_file():
        return False
    data = [_DATA.search(p.name) for p in _data_files(prefix)]
    if not data:
        return False
    total = int(data[0].group(2))
    return total > 0 and {(int(m.group(1)), int(m.group(2))) for m in data} >= {(i, total) for i in range(total)}


def files(prefix):
    """The files of the checkpoint `prefix` that exist: its index, then its data files in order."""
    index = Path(f"{prefix}.index")
    return ([index] if index.is_file() else []) + [p for p in _data_files(prefix) if p.is_file()]


def fsync(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def epoch_path(directory, epoch):
    """The prefix of epoch `epoch`'s checkpoint: `directory/epoch-NNNN`."""
    return Path(directory) / f"epoch-{epoch:04d}"


def numbered(directory, kind):
    """{number: [files]} of the `kind`-NNNN checkpoints in `directory` (complete or not)."""
    pattern = re.compile(rf"^{kind}-(\d{{4,}})\.(?:index|data-\d{{5}}-of-\d{{5}})$")
    found = {}
    directory = Path(directory)
    if directory.is_dir():
        for path in directory.iterdir():
            if (m := pattern.match(path.name)) and path.is_file():
                found.setdefault(int(m.group(1)), []).append(path)
    return found


def complete_prefixes(directory, kind):
    """Sorted (number, prefix) of the complete `kind`-NNNN checkpoints in `directory`."""
    out = []
    for number, paths in numbered(directory, kind).items():
        prefix = paths[0].with_name(paths[0].name.split(".", 1)[0])
        if is_complete(prefix):
            out.append((number, prefix))
    return sorted(out)
