"""Data sets as `tf.data` pipelines of `(image in [-1, 1], one-hot label)`.

`load(name, split, config)` is the one entry point; sources register themselves by name.
"""

import numpy as np
import tensorflow as tf

from amr_tf.data import registry
from amr_tf.data.registry import SPLITS, DataInfo, get_source

from amr_tf.data import digits  # noqa: F401  (registers "digits")

SOURCES = registry.names()


def info(name: str, config=None) -> DataInfo:
    """Shape, classes and split sizes of data set `name`."""
    return get_source(name).info(config)


def load(name: str, split: str, config, *, training: bool = None, epochs=None, steps=None) -> tf.data.Dataset:
    """Batched pipeline for one split.

    Evaluation: cache -> batch -> prefetch. Training: for each epoch, a permutation drawn
    statelessly from (config.seed, epoch) -> batch(drop_remainder) -> gather -> prefetch.
    The order depends only on (seed, epoch), never on how many epochs this process has
    run, so a resumed run sees exactly the batches the uninterrupted run would have.

    Args:
        name: data source name.
        split: "train", "valid" or "test".
        config: an `amr_tf.config.Config` (batch_size, seed, subset_train, data_dir).
        training: shuffle and drop the last partial batch (default: split == "train").
        epochs: for training, `(first, last)`: run epochs first..last-1 back to back.
        steps: for training, batches per epoch (default: all full batches).

    Returns:
        A `tf.data.Dataset` of `(images [B, H, W, C], labels [B, n_classes])`.
    """
    registry.check_split(split)
    training = split == "train" if training is None else training
    images, labels = get_source(name).arrays(split, config)
    if split == "train" and config.subset_train:
        keep = np.random.default_rng(config.seed).permutation(len(images))[: config.subset_train]
        images, labels = images[np.sort(keep)], labels[np.sort(keep)]
    if not training:
        ds = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
        return ds.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
    first, last = epochs or (0, 1)
    n, batch = len(images), config.batch_size
    steps = min(steps or n // batch, n // batch)
    images, labels = tf.constant(images), tf.constant(labels)

    def one_epoch(epoch):
        noise = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(config.seed, tf.int64), epoch]))
        order = tf.argsort(noise)[: steps * batch]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order, [steps, batch]))

    ds = tf.data.Dataset.range(first, last).flat_map(one_epoch)
    ds = ds.map(lambda idx: (tf.gather(images, idx), tf.gather(labels, idx)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(name: str, config) -> int:
    """Full batches per training epoch (capped by config.steps_per_epoch)."""
    n = info(name, config).split_sizes["train"]
    if config.subset_train:
        n = min(n, config.subset_train)
    steps = n // config.batch_size
    if steps < 1:
        raise ValueError(
            f"batch_size={config.batch_size} is larger than the {n} training examples of '{name}'"
        )
    return min(steps, config.steps_per_epoch) if config.steps_per_epoch else steps
