"""`folder`: a folder of your own images as a data set (`--dataset=folder --data_dir=PATH`).

The conventions of `keras.utils.image_dataset_from_directory`:
- images at any depth under PATH: JPEG, PNG, BMP and GIF (its first frame), any size and mode;
- labels inferred from the first-level subfolders (their names, sorted: class i is the i-th),
  every image under a subfolder taking its class.

Each image is converted to `channels` (1 or 3; by default 3 unless every image sampled is
greyscale), centre-cropped to a square and resized (bilinear) to `image_size` x `image_size`.
The split is fixed: one permutation of the sorted file list with SPLIT_SEED, cut by `split`
(train, valid, test fractions), so every run and seed sees the same split.

The images are decoded once, in parallel threads, into uint8 pixels at the chosen size (the
whole set at 32x32x3 is 3 KB an image: 60 MB for 20,000), kept in memory up to
MEMORY_BUDGET bytes and beyond it in a file under the cache folder (`AMR_TF_CACHE`, default
~/.cache/amr_tf), which later runs on the same folder reuse; never as float32. A file that
cannot be decoded is skipped, and counted once a process, or refused with `strict_images`.

The fingerprint (the file list with sizes and modification times, and the options) goes into
the run's config.json, so that resuming a run after its folder changed is refused.
"""

import concurrent.futures
import dataclasses
import functools
import hashlib
import os
import sys
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from amr_tf.data import sources

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
IMAGE_SIZES = (32, 64)  # what the acai (32) and dsprites (64) presets take
DEFAULT_SPLIT = "0.9,0.05,0.05"
SPLIT_SEED = 0
LABELS = ("inferred", "none")
MEMORY_BUDGET = 1 << 30  # decoded pixels held in memory up to this; a cache file beyond it
SAMPLED_FOR_MODE = 256  # images whose mode decides the default channels
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclasses.dataclass(frozen=True)
class Options:
    """What the folder's images become: the Config fields that apply to `folder`."""

    data_dir: str
    labels: str = "inferred"
    channels: Optional[int] = None
    image_size: int = 32
    split: Tuple[float, float, float] = (0.9, 0.05, 0.05)
    strict: bool = False

    @classmethod
    def of(cls, config):
        data_dir = getattr(config, "data_dir", None)
        if not data_dir:
            raise ValueError("--dataset=folder needs --data_dir=PATH, the folder of images")
        return cls(data_dir=os.path.abspath(os.path.expanduser(data_dir)),
                   labels=getattr(config, "labels", "inferred") or "inferred",
                   channels=getattr(config, "channels", None),
                   image_size=getattr(config, "image_size", None) or 32,
                   split=parse_split(getattr(config, "split", None) or DEFAULT_SPLIT),
                   strict=bool(getattr(config, "strict_images", False)))


def parse_split(text):
    """"0.9,0.05,0.05" -> (0.9, 0.05, 0.05): three fractions > 0 summing to 1; ValueError otherwise."""
    try:
        parts = tuple(float(p) for p in str(text).split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or not all(0 < p < 1 for p in parts) or abs(sum(parts) - 1) > 1e-6:
        raise ValueError(f"split must be three fractions > 0 (train, valid, test) that sum to 1, "
                         f"e.g. {DEFAULT_SPLIT}; got split={text!r}")
    return parts


@dataclasses.dataclass(frozen=True)
class Index:
    """The folder's images, in sorted order, with their classes."""

    files: Tuple[str, ...]  # paths relative to the folder
    labels: Tuple[int, ...]  # class index per file (all 0 without labels)
    classes: Tuple[str, ...]  # class names (empty without labels)
    fingerprint: str


def _is_image(name):
    return name.lower().endswith(EXTENSIONS) and not name.startswith(".")


def scan(options: Options) -> Index:
    """The folder's image files and labels; ValueError in one line for a folder that cannot be one."""
    root = Path(options.data_dir)
    if not root.is_dir():
        raise ValueError(f"--data_dir={options.data_dir} is not a folder" if root.exists()
                         else f"--data_dir={options.data_dir} does not exist")
    found = []  # (relative path, size, mtime_ns)
    for folder, subfolders, names in os.walk(root):  # symlinked folders not followed (as Keras)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            if _is_image(name):
                path = os.path.join(folder, name)
                stat = os.stat(path)
                found.append((os.path.relpath(path, root), stat.st_size, stat.st_mtime_ns))
    found.sort()
    if not found:
        raise ValueError(f"--data_dir={options.data_dir} holds no images ({', '.join(EXTENSIONS)}, at any depth)")
    files = tuple(f for f, _, _ in found)
    top = [f for f in files if os.sep not in f]
    class_dirs = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if options.labels == "inferred" and class_dirs:
        if top:
            raise ValueError(f"--data_dir={options.data_dir} holds images beside its class folders "
                             f"({', '.join(top[:3])}{', ...' if len(top) > 3 else ''}): move them into a class "
                             "folder, or pass --labels=none")
        classes = tuple(class_dirs)
        labels = tuple(classes.index(f.split(os.sep, 1)[0]) for f in files)
        empty = [c for i, c in enumerate(classes) if i not in set(labels)]
        if empty:
            raise ValueError(f"--data_dir={options.data_dir}: the class folder(s) {', '.join(empty)} hold no images "
                             f"({', '.join(EXTENSIONS)}); remove them or add images")
    else:
        classes, labels = (), (0,) * len(files)
    digest = hashlib.sha256(repr((found, dataclasses.astuple(options)[1:])).encode()).hexdigest()[:16]
    return Index(files, labels, classes, f"{len(files)} files, sha256:{digest}")


def _grey(path):
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.mode == "P":
                palette = np.asarray(image.convert("RGB"))
                return bool((palette[..., 0] == palette[..., 1]).all() and (palette[..., 1] == palette[..., 2]).all())
            return image.mode in _GREY_MODES
    except Exception:  # a file that cannot be read decides nothing (it is counted when decoded)
        return True


def channels_of(options: Options, index: Index) -> int:
    """`options.channels`, or 1 when every sampled image is greyscale, else 3."""
    if options.channels is not None:
        return options.channels
    step = max(1, len(index.files) // SAMPLED_FOR_MODE)
    sample = index.files[::step][:SAMPLED_FOR_MODE]
    return 1 if all(_grey(os.path.join(options.data_dir, f)) for f in sample) else 3


def decode(path, channels, size):
    """One image file -> uint8 [size, size, channels]: the first frame, converted, centre-cropped
    to a square, resized (bilinear). Raises on a file that cannot be decoded."""
    from PIL import Image

    with Image.open(path) as image:
        image.seek(0)  # a GIF's first frame
        image.draft("L" if channels == 1 else "RGB", (size, size))  # JPEG: decode at a reduced scale
        image = image.convert("L" if channels == 1 else "RGB")  # alpha dropped, as Keras' load_img does
        w, h = image.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        image = image.crop((left, top, left + side, top + side))  # nothing outside the square bleeds in
        image = image.resize((size, size), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, np.uint8)
    return pixels.reshape(size, size, channels)


def _cache_dir():
    return Path(os.environ.get("AMR_TF_CACHE") or Path.home() / ".cache" / "amr_tf") / "folder"


@dataclasses.dataclass(frozen=True)
class Decoded:
    """The folder decoded: uint8 pixels of the images that decode, their labels, what was skipped."""

    images: np.ndarray  # uint8 [N, S, S, C], in memory or a read-only memory map
    labels: np.ndarray  # int64 [N]
    index: Index
    channels: int
    skipped: Tuple[str, ...]
    seconds: float


_REPORTED = set()


@functools.lru_cache(maxsize=4)
def load(options: Options) -> Decoded:
    """The folder, decoded once a process (and, beyond MEMORY_BUDGET, once per folder state)."""
    import time

    index = scan(options)
    channels = channels_of(options, index)
    size = options.image_size
    shape = (len(index.files), size, size, channels)
    cache = _cache_dir() / f"{index.fingerprint.rsplit(':', 1)[1]}_{channels}.npz"
    start = time.perf_counter()
    if int(np.prod(shape)) > MEMORY_BUDGET and cache.is_file():
        with np.load(cache) as saved:
            ok, images = saved["ok"], np.load(cache.with_suffix(".npy"), mmap_mode="r")
        skipped = tuple(f for f, good in zip(index.files, ok) if not good)
    else:
        big = int(np.prod(shape)) > MEMORY_BUDGET
        if big:
            cache.parent.mkdir(parents=True, exist_ok=True)
            images = np.lib.format.open_memmap(cache.with_suffix(".npy.tmp"), mode="w+", dtype=np.uint8, shape=shape)
        else:
            images = np.zeros(shape, np.uint8)
        ok = np.zeros(len(index.files), bool)

        def one(i):
            path = os.path.join(options.data_dir, index.files[i])
            try:
                images[i] = decode(path, channels, size)
                ok[i] = True
            except Exception as e:  # PIL's many errors: truncated, unknown format, ...
                if options.strict:
                    return f"{path} cannot be decoded ({type(e).__name__}: {str(e)[:100]}); remove it, " \
                           "or leave out --strict_images to skip such files"
            return None

        workers = min(32, (os.cpu_count() or 1) * 2)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for error in pool.map(one, range(len(index.files))):
                if error:
                    raise ValueError(error)
        skipped = tuple(f for f, good in zip(index.files, ok) if not good)
        if big:
            images.flush()
            del images
            os.replace(cache.with_suffix(".npy.tmp"), cache.with_suffix(".npy"))
            np.savez(cache, ok=ok)
            images = np.load(cache.with_suffix(".npy"), mmap_mode="r")
    seconds = time.perf_counter() - start
    if not ok.any():
        raise ValueError(f"--data_dir={options.data_dir}: none of its {len(index.files)} image files can be decoded")
    if skipped and options.data_dir not in _REPORTED:
        _REPORTED.add(options.data_dir)
        print(f"folder {options.data_dir}: skipped {len(skipped)} file(s) that cannot be decoded "
              f"({', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''}); --strict_images refuses them",
              file=sys.stderr, flush=True)
    keep = np.flatnonzero(ok)
    if len(keep) < len(index.files):
        images = images[keep] if not isinstance(images, np.memmap) else _Rows(images, keep)
    return Decoded(images, np.asarray(index.labels, np.int64)[keep], index, channels, skipped, seconds)


class _Rows:
    """Rows `keep` of a memory-mapped array, read on indexing (no copy of the whole set)."""

    def __init__(self, array, keep):
        self.array, self.keep = array, keep
        self.shape, self.dtype = (len(keep), *array.shape[1:]), array.dtype

    def __len__(self):
        return len(self.keep)

    def __getitem__(self, indices):
        return self.array[self.keep[indices]]


def splits(options: Options):
    """{split: indices into the decoded images}: one fixed permutation cut by options.split."""
    decoded = load(options)
    n = len(decoded.labels)
    valid, test = (round(n * f) for f in options.split[1:])
    parts = sources.permutation_split(n, {"train": None, "valid": valid, "test": test}, SPLIT_SEED)
    empty = [s for s in sources.SPLITS if len(parts[s]) == 0]
    if empty:
        raise ValueError(f"--data_dir={options.data_dir}: {n} images leave the {' and '.join(empty)} split(s) empty "
                         f"at --split={','.join(f'{f:g}' for f in options.split)}; add images or raise their share")
    return parts


def info(config=None) -> sources.DataInfo:
    options = Options.of(config)
    decoded = load(options)
    parts = splits(options)
    classes = decoded.index.classes
    labels = (f"one-hot subfolder ({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''})" if classes
              else "none (no class subfolders, or --labels=none): no probe; the best is the lowest val_recon")
    return sources.DataInfo("folder", (options.image_size, options.image_size, decoded.channels), len(classes),
                             {s: len(p) for s, p in parts.items()}, f"images under {options.data_dir}",
                             labels=labels, fingerprint=decoded.index.fingerprint)


def split(name, config=None) -> sources.SplitData:
    sources.check_split(name)
    options = Options.of(config)
    decoded = load(options)
    rows = splits(options)[name]
    images = decoded.images
    labels = decoded.labels[rows]
    eye = np.eye(len(decoded.index.classes), dtype=np.float32)  # [n, 0] labels without classes

    def fetch(indices):
        x = images[rows[indices]].astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
        return x, (eye[labels[indices]] if len(eye) else np.zeros((len(indices), 0), np.float32))

    return sources.SplitData(len(rows), fetch)


def class_counts(config):
    """{class name: images} of each split, for `python -m amr_tf.data folder`."""
    options = Options.of(config)
    decoded = load(options)
    out = {}
    for name, rows in splits(options).items():
        counts = np.bincount(decoded.labels[rows], minlength=len(decoded.index.classes))
        out[name] = dict(zip(decoded.index.classes, counts.tolist()))
    return out


sources.register_source("folder", info, split)
