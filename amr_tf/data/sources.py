"""Data sources: what one gives (`DataInfo`; per split, `SplitData`), the split helpers every
source shares (`SPLITS`, `permutation_split`, `array_split`, ...) and the `Registry` of sources
by name.

A source gives, for each split, its size and a random-access `fetch(indices)`; the
pipeline (`amr_tf.data.pipeline`) decides the order and batches. Nothing here holds a
whole split as float32: in-memory sources keep uint8 pixels and convert one batch at a
time, procedural sources draw the images a batch asks for.
"""

import dataclasses
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from amr_tf import registry as choices

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """What a data set is, without reading a batch of it.

    Attributes:
        name: the source's registry name.
        image_shape: (H, W, C) of one image, values in [-1, 1] ((2,) for the spiral's points).
        n_classes: width of the label (one-hot, or multi-hot for CelebA attributes).
        split_sizes: examples per split, before `subset_train`.
        origin: where the data is read from, for people.
        value_range: (min, max) of the image values.
        labels: what a label is, for people (e.g. "one-hot digit class").
        fingerprint: what the data is, where it can change under a run (a folder of images): a
            string recorded in the run's config.json; None for fixed sources.
    """

    name: str
    image_shape: Tuple[int, ...]
    n_classes: int
    split_sizes: Dict[str, int]
    origin: str
    value_range: Tuple[float, float] = (-1.0, 1.0)
    labels: str = "one-hot class"
    fingerprint: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class SplitData:
    """One split of a source: its size and a random-access fetch.

    Attributes:
        size: number of examples.
        fetch: `(indices int64 [n]) -> (images float32 [n, *image_shape] in [-1, 1],
            labels float32 [n, n_classes])`; a pure function of the indices (thread-safe,
            no hidden random state), so any order of calls gives the same examples.
    """

    size: int
    fetch: Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


def array_split(images: np.ndarray, labels: np.ndarray, n_classes: Optional[int] = None) -> SplitData:
    """A split held in memory.

    Args:
        images: uint8 [N, ...] in 0..255 (scaled to [-1, 1] per batch), or float32 already in range.
        labels: int class indices [N] (one-hot on fetch, needs `n_classes`) or float32 [N, n_classes].
        n_classes: width of the one-hot label for integer labels.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if labels.ndim == 1:
        if n_classes is None:
            raise ValueError("integer labels need n_classes")
        eye = np.eye(n_classes, dtype=np.float32)
    scale = images.dtype == np.uint8

    def fetch(indices):
        x = images[indices]
        x = x.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0) if scale else x.astype(np.float32)
        y = eye[labels[indices]] if labels.ndim == 1 else labels[indices].astype(np.float32)
        return x, y

    return SplitData(len(images), fetch)


def permutation_split(n: int, sizes: Dict[str, int], seed: int) -> Dict[str, np.ndarray]:
    """Splits range(n) by a seeded permutation into parts of `sizes` (taken in order).

    Each part is sorted, so a split reads its source in storage order. A size of None
    takes what is left.
    """
    order = np.random.default_rng(seed).permutation(n)
    parts, start = {}, 0
    for split, size in sizes.items():
        size = n - sum(s for s in sizes.values() if s is not None) if size is None else size
        parts[split] = np.sort(order[start:start + size])
        start += size
    if start != n:
        raise ValueError(f"split sizes {sizes} do not add up to {n}")
    return parts


def epoch_batches(n, batch_size, last_batch="drop", multiple=1):
    """(full batches, size of the partial batch or 0) of a training epoch over `n` examples:
    last_batch="keep" keeps the examples the full batches leave as one more batch, cut to a
    multiple of `multiple` (the replicas, which split a batch evenly); "drop" drops them."""
    full = n // batch_size
    tail = n - full * batch_size if last_batch == "keep" else 0
    return full, tail - tail % multiple


def subset_indices(n: int, subset: int) -> np.ndarray:
    """The (sorted) indices of the `subset` training examples kept out of `n`: the first `subset`
    of one fixed shuffle, the same for every seed, as the original's `--subset_train` keeps
    (its per-seed shuffle reorders the first N indices without changing which they are), so
    that seeds vary the training, not the data."""
    return np.sort(np.random.default_rng(0).permutation(n)[:subset])


@dataclasses.dataclass(frozen=True)
class Source:
    """A registered data source.

    Attributes:
        info: `(config) -> DataInfo`.
        split: `(split, config) -> SplitData`.
    """

    info: Callable[..., DataInfo]
    split: Callable[..., SplitData]

    def arrays(self, split: str, config=None) -> Tuple[np.ndarray, np.ndarray]:
        """A whole split as float arrays (small data sets and tests only)."""
        data = self.split(split, config)
        return data.fetch(np.arange(data.size))


_SOURCES = choices.Registry("dataset", sort=True)


def register_source(name: str, info, split) -> Source:
    """Adds a source; a name can be registered only once (ValueError)."""
    return _SOURCES.add(name, Source(info=info, split=split))


def get_source(name: str) -> Source:
    return _SOURCES.get(name)


def names() -> Tuple[str, ...]:
    return _SOURCES.names()


def check_split(split: str):
    if split not in SPLITS:
        raise choices.unknown("split", split, SPLITS)
