"""Data sources by name: a registry that refuses duplicates and names the choices."""

import dataclasses
from typing import Callable, Dict, Tuple

import numpy as np

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """What a data set is, without reading it.

    Attributes:
        name: the source's registry name.
        image_shape: (H, W, C) of one image, values in [-1, 1].
        n_classes: width of the one-hot label.
        split_sizes: examples per split, before `subset_train`.
        origin: where the data is read from, for people.
    """

    name: str
    image_shape: Tuple[int, int, int]
    n_classes: int
    split_sizes: Dict[str, int]
    origin: str


@dataclasses.dataclass(frozen=True)
class Source:
    """A registered data source.

    Attributes:
        info: `(config) -> DataInfo`.
        arrays: `(split, config) -> (images, labels)`: NumPy arrays, images float32
            [N, H, W, C] in [-1, 1], labels float32 one-hot [N, n_classes].
    """

    info: Callable[..., DataInfo]
    arrays: Callable[..., Tuple[np.ndarray, np.ndarray]]


_SOURCES: Dict[str, Source] = {}


def register_source(name: str, info, arrays) -> Source:
    if name in _SOURCES:
        raise ValueError(f"data source '{name}' is already registered")
    _SOURCES[name] = Source(info=info, arrays=arrays)
    return _SOURCES[name]


def get_source(name: str) -> Source:
    if name not in _SOURCES:
        raise ValueError(f"unknown dataset '{name}'; choose one of: {', '.join(sorted(_SOURCES))}")
    return _SOURCES[name]


def names() -> Tuple[str, ...]:
    return tuple(sorted(_SOURCES))


def check_split(split: str):
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; choose one of: {', '.join(SPLITS)}")
