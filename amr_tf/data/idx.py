"""IDX files (the MNIST file format), and the MNIST-family splits.

`fashion_mnist` reads Debian's `dataset-fashion-mnist` package
(/usr/share/datasets/fashion-mnist) or the same four files in `--data_dir`; `mnist` and
`kmnist` (in `tfds_sources`) read IDX files from `--data_dir` first, so they work offline
once a user has copied the files. All are resized 28 -> 32 (bilinear) and split like
MNIST: the 60k training images by a seeded permutation into 50k train / 10k valid, the
official 10k test images as test.
"""

import functools
import gzip
import os
import zlib
from typing import Dict, Optional, Tuple

import numpy as np

from amr_tf.data import sources

SPLIT_SEED = 0  # the split is the same for every run seed
VALID_FRACTION = 1 / 6  # 60k -> 50k train / 10k valid
IMAGE_SHAPE = (32, 32, 1)
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
N_CLASSES = 10  # every MNIST-format set: digits, clothes, Kuzushiji
FILES = {  # split -> (images, labels), without the optional ".gz"
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Reads one IDX file (gzipped if its name ends in .gz) into an array of its shape.

    Raises:
        ValueError: the file is not a valid IDX file (bad magic, type or size).
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:  # truncated or not gzip at all
        raise ValueError(f"{path} is damaged: {type(e).__name__}: {e}; download it again") from None
    except OSError as e:
        raise ValueError(f"{path} cannot be read: {e.strerror or e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path} is not an IDX file (magic {raw[:4].hex()!r})")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(f"{path}: header says {dims} ({expected} bytes) but holds {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def find_files(directory: Optional[str]) -> Optional[Dict[str, Tuple[str, str]]]:
    """The four MNIST-format files in `directory` (each plain or .gz), or None if any is missing."""
    if not directory or not os.path.isdir(directory):
        return None
    found = {}
    for split, names in FILES.items():
        paths = []
        for name in names:
            for candidate in (name, name + ".gz", name.replace("-idx", ".idx")):
                if os.path.isfile(os.path.join(directory, candidate)):
                    paths.append(os.path.join(directory, candidate))
                    break
            else:
                return None
        found[split] = tuple(paths)
    return found


def idx_directory(name: str, data_dir: Optional[str], defaults=()) -> Optional[str]:
    """The first of <data_dir>/<name>, <data_dir>/<name with '-'>, <data_dir>, *defaults holding the files."""
    candidates = []
    if data_dir and not os.path.isdir(data_dir):
        raise ValueError(f"--data_dir={data_dir} does not exist (or is not a directory)")
    if data_dir:
        candidates += [os.path.join(data_dir, name), os.path.join(data_dir, name.replace("_", "-")), data_dir]
    for directory in [*candidates, *defaults]:
        if find_files(directory):
            return directory
    return None


def resize_28_to_32(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28(, 1)] -> uint8 [N, 32, 32, 1], bilinear (28 -> 32, the networks' input size)."""
    import tensorflow as tf

    images = images.reshape(len(images), images.shape[1], images.shape[2], 1)
    out = np.empty((len(images), *IMAGE_SHAPE), np.uint8)
    for start in range(0, len(images), 10000):
        chunk = tf.image.resize(images[start:start + 10000].astype(np.float32), IMAGE_SHAPE[:2], "bilinear")
        out[start:start + 10000] = np.clip(np.round(chunk.numpy()), 0, 255).astype(np.uint8)
    return out


def mnist_splits(train: Tuple[np.ndarray, np.ndarray], test: Tuple[np.ndarray, np.ndarray]):
    """{split: (uint8 images [N, 32, 32, 1], int labels [N])} from the official train and test parts.

    The official train part is split by a permutation with SPLIT_SEED: 1/6 of it
    (10k of MNIST's 60k) is the validation split.
    """
    (x_train, y_train), (x_test, y_test) = train, test
    n = len(x_train)
    parts = sources.permutation_split(n, {"train": None, "valid": round(n * VALID_FRACTION)}, SPLIT_SEED)
    x_train = resize_28_to_32(x_train)
    return {
        "train": (x_train[parts["train"]], y_train[parts["train"]].astype(np.int64)),
        "valid": (x_train[parts["valid"]], y_train[parts["valid"]].astype(np.int64)),
        "test": (resize_28_to_32(x_test), y_test.astype(np.int64)),
    }


@functools.lru_cache(maxsize=4)
def read_mnist_dir(directory: str):
    """{split: (uint8 images, int labels)} from the four IDX files of `directory`, split like MNIST."""
    files = find_files(directory)
    if files is None:
        raise ValueError(f"{directory} does not hold the four MNIST-format files "
                         f"({', '.join(n for pair in FILES.values() for n in pair)}, each plain or .gz)")
    parts = {}
    for split, (images_path, labels_path) in files.items():
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{images_path} / {labels_path}: expected images [N, H, W] and labels [N], "
                             f"got {images.shape} and {labels.shape}")
        outside = labels[(labels < 0) | (labels >= N_CLASSES) | (labels != np.floor(labels))]
        if outside.size:
            raise ValueError(f"{labels_path}: label {outside[0]} is outside the {N_CLASSES} classes "
                             f"(0-{N_CLASSES - 1}) of an MNIST-format set")
        parts[split] = (images, labels)
    return mnist_splits(parts["train"], parts["test"])


def _fashion_directory(config) -> str:
    data_dir = getattr(config, "data_dir", None)
    directory = idx_directory("fashion_mnist", data_dir, defaults=(DEBIAN_FASHION_MNIST,))
    if directory is None:
        where = f"--data_dir={data_dir} (or its fashion_mnist/ folder) nor " if data_dir else ""
        raise ValueError(
            f"dataset 'fashion_mnist': the IDX files are in neither {where}{DEBIAN_FASHION_MNIST}; "
            "install Debian's package (apt-get install dataset-fashion-mnist) or copy "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz into a folder and pass it as --data_dir"
        )
    return directory


def fashion_info(config=None) -> sources.DataInfo:
    directory = _fashion_directory(config)
    sizes = {split: len(y) for split, (_, y) in read_mnist_dir(directory).items()}
    return sources.DataInfo("fashion_mnist", IMAGE_SHAPE, N_CLASSES, sizes, f"IDX files in {directory}",
                             labels="one-hot clothing class (10)")


def fashion_split(split, config=None) -> sources.SplitData:
    sources.check_split(split)
    return sources.array_split(*read_mnist_dir(_fashion_directory(config))[split], n_classes=N_CLASSES)


sources.register_source("fashion_mnist", fashion_info, fashion_split)
