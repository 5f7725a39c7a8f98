"""The one input pipeline every source goes through.

Training: per epoch, a permutation drawn statelessly from (seed, epoch) -> batch
(drop_remainder, or the partial batch last with last_batch="keep") -> fetch the batch's examples
(`tf.numpy_function` over the source's `fetch`, in parallel, order kept) -> prefetch(AUTOTUNE).
The order depends only on (seed, epoch), never on how many epochs this process has run, so a resumed run sees
exactly the batches the uninterrupted run would have.

Evaluation: the split in order -> batch (last partial batch kept) -> fetch ->
cache (when the split fits in CACHE_BYTES as float32) -> prefetch.

The "cache" of the map -> cache -> shuffle -> batch -> prefetch recipe is the source
itself: in-memory sources keep uint8 pixels (a quarter of float32) and convert per batch;
procedural sources draw a batch on demand and are never held whole.
"""

import math

import numpy as np
import tensorflow as tf

from amr_tf.data import sources
from amr_tf.data.sources import SplitData

CACHE_BYTES = 512 * 2**20  # evaluation splits up to this size (as float32) are cached


def _fetcher(data: SplitData, image_shape, n_classes, keep=None):
    """A tf.data map function: int64 indices [B] -> (images [B, *image_shape], labels [B, n_classes])."""

    def fetch(indices):
        indices = np.asarray(indices, dtype=np.int64)
        x, y = data.fetch(keep[indices] if keep is not None else indices)
        return np.asarray(x, np.float32), np.asarray(y, np.float32)

    def op(indices):
        x, y = tf.numpy_function(fetch, [indices], (tf.float32, tf.float32), stateful=False)
        x.set_shape([None, *image_shape])
        y.set_shape([None, n_classes])
        return x, y

    return op


def training(data: SplitData, image_shape, n_classes, *, batch_size, seed, epochs=(0, 1), steps=None,
             keep=None, last_batch="drop", multiple=1) -> tf.data.Dataset:
    """Shuffled batches for epochs first..last-1, the first `steps` of each: the full batches,
    then (last_batch="keep") the partial one, cut to a multiple of `multiple` (the replicas)."""
    n = data.size if keep is None else len(keep)
    first, last = epochs
    full, tail = sources.epoch_batches(n, batch_size, last_batch, multiple)
    per_epoch = full + (1 if tail else 0)
    steps = min(steps or per_epoch, per_epoch)
    full_steps = min(steps, full)

    def one_epoch(epoch):
        noise = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        order = tf.cast(tf.argsort(noise), tf.int64)
        batches = tf.data.Dataset.from_tensor_slices(
            tf.reshape(order[: full_steps * batch_size], [full_steps, batch_size]))
        if steps > full:  # the partial batch: the examples the full batches left
            last = order[full * batch_size: full * batch_size + tail]
            batches = batches.concatenate(tf.data.Dataset.from_tensors(last))
        return batches

    ds = tf.data.Dataset.range(first, last).flat_map(one_epoch)
    ds = ds.map(_fetcher(data, image_shape, n_classes, keep), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def evaluation(data: SplitData, image_shape, n_classes, *, batch_size, keep=None) -> tf.data.Dataset:
    """The split in order, in batches of `batch_size` (the last one may be smaller)."""
    n = data.size if keep is None else len(keep)
    ds = tf.data.Dataset.range(n).batch(batch_size)
    ds = ds.map(_fetcher(data, image_shape, n_classes, keep), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    if n * (math.prod(image_shape) + n_classes) * 4 <= CACHE_BYTES:
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE)
