"""scikit-learn's bundled 8x8 handwritten digits: the offline default data set.

1,797 images, upsampled to 32x32x1 (bilinear) and scaled to [-1, 1], split into
train / valid / test by a permutation with a fixed seed (the split is the same for
every run seed, so runs are compared on the same test set).
"""

import functools

import numpy as np

from amr_tf.data import sources

SPLIT_SEED = 0
VALID_SIZE = 250
TEST_SIZE = 250
IMAGE_SHAPE = (32, 32, 1)
N_CLASSES = 10


@functools.lru_cache(maxsize=1)
def _arrays():
    import tensorflow as tf
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    bunch = load_digits()
    images = bunch.images.astype(np.float32)[..., None] / 16.0  # pixel values are 0..16
    images = tf.image.resize(images, IMAGE_SHAPE[:2], method="bilinear").numpy()
    images = np.clip(images * 2.0 - 1.0, -1.0, 1.0)
    labels = np.eye(N_CLASSES, dtype=np.float32)[bunch.target]
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    cut_test, cut_valid = len(images) - TEST_SIZE, len(images) - TEST_SIZE - VALID_SIZE
    parts = {
        "train": order[:cut_valid],
        "valid": order[cut_valid:cut_test],
        "test": order[cut_test:],
    }
    return {split: (images[idx], labels[idx]) for split, idx in parts.items()}


def info(config=None) -> sources.DataInfo:
    del config
    sizes = {split: len(x) for split, (x, _) in _arrays().items()}
    return sources.DataInfo("digits", IMAGE_SHAPE, N_CLASSES, sizes, "sklearn.datasets.load_digits (bundled)",
                             labels="one-hot digit 0-9")


def split(name, config=None) -> sources.SplitData:
    del config
    sources.check_split(name)
    return sources.array_split(*_arrays()[name])


def arrays(name, config=None):
    """The split `name` as float arrays (images in [-1, 1], one-hot labels)."""
    del config
    sources.check_split(name)
    return _arrays()[name]


sources.register_source("digits", info, split)
