"""Data sets as `tf.data` pipelines of `(image in [-1, 1], one-hot label)`.

`load(name, split, config)` is the one entry point; sources register themselves by name
(one module each) and give, per split, a size and a random-access fetch
(`sources.SplitData`); `pipeline` orders, batches and prefetches them.

`python -m amr_tf.data NAME` prints a data set's splits, shape and origin. Importing this
package does not import TensorFlow (the CLI imports it quietly first); `load` does.
"""

# isort: off
from amr_tf.data import sources
from amr_tf.data.sources import SPLITS, DataInfo, SplitData, get_source  # noqa: F401

# Each import registers its sources, in this order (the order `SOURCES` lists them in).
from amr_tf.data import digits  # noqa: F401,E402  digits
from amr_tf.data import idx  # noqa: F401,E402  fashion_mnist
from amr_tf.data import tfds_sources  # noqa: F401,E402  mnist kmnist svhn cifar10 dsprites celeba
from amr_tf.data import dsprites  # noqa: F401,E402  dsprites_procedural
from amr_tf.data import lines  # noqa: F401,E402  lines
from amr_tf.data import spiral  # noqa: F401,E402  spiral
from amr_tf.data import folder  # noqa: F401,E402  folder
# isort: on

SOURCES = sources.names()


def info(name: str, config=None) -> DataInfo:
    """Shape, classes and split sizes of data set `name`."""
    return get_source(name).info(config)


def _keep(name, split, config):
    """Indices kept by `config.subset_train` (train split only), or None for all."""
    if split != "train" or config is None or not config.subset_train:
        return None
    n = info(name, config).split_sizes["train"]
    return sources.subset_indices(n, config.subset_train) if config.subset_train < n else None


def load(name: str, split: str, config, *, training: bool = None, epochs=None, steps=None,
         replicas=1):
    """Batched pipeline for one split.

    Evaluation: in order, batched (last partial batch kept), cached when small, prefetched.
    Training: for each epoch, a permutation drawn statelessly from (config.seed, epoch) ->
    batches (full ones; then the partial one with config.last_batch="keep") -> fetch ->
    prefetch. The order depends only on (seed, epoch),
    never on how many epochs this process has run, so a resumed run sees exactly the
    batches the uninterrupted run would have.

    Args:
        name: data source name.
        split: "train", "valid" or "test".
        config: an `amr_tf.config.Config` (batch_size, seed, subset_train, data_dir, attributes).
        training: shuffle, and treat the last partial batch as config.last_batch says
            (default: split == "train").
        epochs: for training, `(first, last)`: run epochs first..last-1 back to back.
        steps: for training, batches per epoch (default: all of them, see `steps_per_epoch`).
        replicas: for training, the replicas a batch is split across (a kept partial batch is
            cut to a multiple of it).

    Returns:
        A `tf.data.Dataset` of `(images [B, H, W, C], labels [B, n_classes])`.
    """
    from amr_tf.data import pipeline  # imports TensorFlow

    sources.check_split(split)
    source = get_source(name)
    training = split == "train" if training is None else training
    data_info = source.info(config)
    data = source.split(split, config)
    keep = _keep(name, split, config)
    shape, n_classes = tuple(data_info.image_shape), data_info.n_classes
    if not training:
        return pipeline.evaluation(data, shape, n_classes, batch_size=config.batch_size, keep=keep)
    return pipeline.training(data, shape, n_classes, batch_size=config.batch_size, seed=config.seed,
                             epochs=epochs or (0, 1), steps=steps, keep=keep,
                             last_batch=config.last_batch, multiple=replicas)


def steps_per_epoch(name: str, config, replicas=1) -> int:
    """Batches per training epoch: the full ones, plus the partial one with
    config.last_batch="keep" (cut to a multiple of `replicas`); capped by config.steps_per_epoch.

    Raises:
        ValueError: the batch is larger than the training split.
    """
    data_info = info(name, config)
    n = data_info.split_sizes["train"]
    if config.subset_train:
        n = min(n, config.subset_train)
    if n // config.batch_size < 1:
        raise ValueError(
            f"batch_size={config.batch_size} is larger than the {n} training examples of '{name}'"
        )
    full, tail = sources.epoch_batches(n, config.batch_size, config.last_batch, replicas)
    steps = full + (1 if tail else 0)
    return min(steps, config.steps_per_epoch) if config.steps_per_epoch else steps
