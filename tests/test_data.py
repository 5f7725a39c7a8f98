"""Tests of amr_tf.data: the digits source, the splits, and the seeded, resumable pipeline."""


import numpy as np
import pytest

from amr_tf import data
from amr_tf.data import digits, sources
from tests.helpers import tiny_config

N_DIGITS = 1797  # sklearn's bundled digits
SPLITS = ("train", "valid", "test")


def _keys(images):
    return [image.tobytes() for image in np.asarray(images)]


def _batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def _images(batches):
    return np.concatenate([x for x, _ in batches])


@pytest.fixture(scope="module")
def splits():
    return {split: digits.arrays(split) for split in SPLITS}


def test_info():
    info = data.info("digits")
    assert info.name == "digits"
    assert tuple(info.image_shape) == (32, 32, 1)
    assert info.n_classes == 10
    assert set(info.split_sizes) == set(SPLITS)
    assert sum(info.split_sizes.values()) == N_DIGITS
    assert all(size > 0 for size in info.split_sizes.values())


def test_splits_partition_the_data(splits):
    from sklearn.datasets import load_digits

    keys = {split: _keys(x) for split, (x, _) in splits.items()}
    for split, k in keys.items():
        assert len(k) == len(set(k)) == data.info("digits").split_sizes[split], split
    assert not set(keys["train"]) & set(keys["valid"])
    assert not set(keys["train"]) & set(keys["test"])
    assert not set(keys["valid"]) & set(keys["test"])
    labels = np.concatenate([y for _, y in splits.values()]).argmax(axis=1)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10),
                                  np.bincount(load_digits().target, minlength=10))


@pytest.mark.parametrize("split", SPLITS)
def test_arrays(splits, split):
    x, y = splits[split]
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.shape[1:] == (32, 32, 1) and y.shape == (len(x), 10)
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.min() < -0.9 and x.max() > 0.9
    assert set(np.unique(y)) == {0.0, 1.0}
    np.testing.assert_array_equal(y.sum(axis=1), 1.0)
    assert len(np.unique(y.argmax(1))) == 10


def test_train_batches_are_full_and_from_the_train_split(splits):
    cfg = tiny_config(batch_size=8)
    batches = _batches(data.load("digits", "train", cfg, epochs=(0, 2), steps=3))
    assert len(batches) == 6
    assert all(x.shape == (8, 32, 32, 1) and y.shape == (8, 10) for x, y in batches)
    label_of = dict(zip(_keys(splits["train"][0]), splits["train"][1].argmax(1)))
    for x, y in batches:  # images and labels are gathered with the same indices
        assert [label_of[k] for k in _keys(x)] == list(y.argmax(1))
    for epoch in (batches[:3], batches[3:]):  # an epoch is a permutation: no repeats
        keys = _keys(_images(epoch))
        assert len(set(keys)) == len(keys) == 24


def test_train_order_depends_only_on_seed_and_epoch():
    cfg = tiny_config(batch_size=8, seed=0)
    run = _images(_batches(data.load("digits", "train", cfg, epochs=(0, 2), steps=3)))
    again = _images(_batches(data.load("digits", "train", cfg, epochs=(0, 2), steps=3)))
    np.testing.assert_array_equal(run, again)
    assert not np.array_equal(run[:24], run[24:]), "epochs 0 and 1 have the same order"
    other_seed = _images(_batches(data.load("digits", "train", tiny_config(batch_size=8, seed=1),
                                            epochs=(0, 2), steps=3)))
    assert not np.array_equal(run, other_seed)
    # a run resumed at epoch 1 sees exactly what the uninterrupted run saw
    resumed = _images(_batches(data.load("digits", "train", cfg, epochs=(1, 2), steps=3)))
    np.testing.assert_array_equal(resumed, run[24:])


def test_train_epoch_drops_the_remainder():
    cfg = tiny_config(batch_size=8, subset_train=20)
    batches = _batches(data.load("digits", "train", cfg, epochs=(0, 1)))
    assert [x.shape[0] for x, _ in batches] == [8, 8]  # 20 // 8 full batches
    cfg = tiny_config(batch_size=8, subset_train=16)
    seen = _keys(_images(_batches(data.load("digits", "train", cfg, epochs=(0, 1)))))
    subset = _keys(_images(_batches(data.load("digits", "train", cfg, training=False))))
    assert sorted(seen) == sorted(subset)  # one epoch is a permutation of the subset


@pytest.mark.parametrize("split", ["valid", "test"])
def test_eval_splits_are_ordered_and_complete(splits, split):
    cfg = tiny_config(batch_size=8)
    first = _batches(data.load("digits", split, cfg))
    second = _batches(data.load("digits", split, cfg))
    x, y = splits[split]
    sizes = [b.shape[0] for b, _ in first]
    assert sum(sizes) == len(x)
    assert sizes[:-1] == [8] * (len(sizes) - 1) and sizes[-1] == len(x) - 8 * (len(sizes) - 1)
    np.testing.assert_array_equal(_images(first), _images(second))
    np.testing.assert_array_equal(_images(first), x)
    np.testing.assert_array_equal(np.concatenate([b for _, b in first]), y)


def test_subset_train_is_the_same_examples_for_every_seed(splits):
    # As the original's --subset_train: the seed varies the training, not the data.
    def subset(seed, n=50):
        cfg = tiny_config(batch_size=8, subset_train=n, seed=seed)
        return _images(_batches(data.load("digits", "train", cfg, training=False)))

    a, b, c = subset(0), subset(0), subset(1)
    assert len(a) == 50
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert set(_keys(a)) <= set(_keys(splits["train"][0]))
    assert len(set(_keys(a))) == 50
    assert set(_keys(subset(0, n=20))) <= set(_keys(a))  # a smaller subset is a prefix of the shuffle
    # ... and not simply the split's first examples
    assert set(_keys(a)) != set(_keys(splits["train"][0][:50]))


def test_steps_per_epoch():
    n_train = data.info("digits").split_sizes["train"]
    assert data.steps_per_epoch("digits", tiny_config(batch_size=8, steps_per_epoch=None)) == n_train // 8
    assert data.steps_per_epoch("digits", tiny_config(batch_size=8, steps_per_epoch=2)) == 2
    assert data.steps_per_epoch("digits", tiny_config(batch_size=8, steps_per_epoch=10**6)) == n_train // 8
    subset = tiny_config(batch_size=8, subset_train=20, steps_per_epoch=None)
    assert data.steps_per_epoch("digits", subset) == 2
    with pytest.raises(ValueError, match="batch_size=8"):
        data.steps_per_epoch("digits", tiny_config(batch_size=8, subset_train=5))
    with pytest.raises(ValueError, match=f"batch_size={n_train + 1}"):
        data.steps_per_epoch("digits", tiny_config(batch_size=n_train + 1))


def test_unknown_names_list_the_choices():
    cfg = tiny_config()
    with pytest.raises(ValueError, match="nosuchdata.*digits"):
        data.load("nosuchdata", "train", cfg)
    with pytest.raises(ValueError, match="nosuchdata.*digits"):
        data.info("nosuchdata")
    for bad_split in ("validation", "eval"):
        with pytest.raises(ValueError) as err:
            data.load("digits", bad_split, cfg)
        assert bad_split in str(err.value)
        assert all(split in str(err.value) for split in SPLITS)


def test_the_sources_registry_refuses_duplicates():
    original = sources.get_source("digits")
    with pytest.raises(ValueError, match="digits"):
        sources.register_source("digits", digits.info, digits.split)
    assert sources.get_source("digits") is original
    assert "digits" in data.SOURCES


def test_last_batch_keep_ends_each_epoch_with_the_examples_the_full_batches_left():
    """The original's DataLoader trains on an epoch's partial batch; last_batch="keep" does too,
    cut to a multiple of the replicas (which split a batch evenly); "drop" keeps one shape."""
    keep = tiny_config(batch_size=8, subset_train=21, steps_per_epoch=None, last_batch="keep")
    drop = tiny_config(batch_size=8, subset_train=21, steps_per_epoch=None, last_batch="drop")
    subset = set(_keys(_images(_batches(data.load("digits", "train", keep, training=False)))))
    assert len(subset) == 21
    dropped = _batches(data.load("digits", "train", drop, epochs=(0, 2)))
    assert data.steps_per_epoch("digits", drop) == 2 and [len(x) for x, _ in dropped] == [8, 8, 8, 8]
    for replicas, tail in ((1, 5), (2, 4), (8, 0)):
        steps = data.steps_per_epoch("digits", keep, replicas=replicas)
        assert steps == (3 if tail else 2), replicas
        batches = _batches(data.load("digits", "train", keep, epochs=(0, 2), replicas=replicas))
        sizes = [len(x) for x, _ in batches]
        assert sizes == ([8, 8, tail] if tail else [8, 8]) * 2, (replicas, sizes)
        for epoch in range(2):
            seen = _keys(_images(batches[epoch * steps:(epoch + 1) * steps]))
            assert len(set(seen)) == len(seen) == 16 + tail  # each example at most once an epoch
            assert set(seen) <= subset
            if replicas == 1:
                assert set(seen) == subset  # ... and every one of them once
            # the full batches are the ones "drop" gives: the same order, the tail appended
            np.testing.assert_array_equal(_images(batches[epoch * steps:epoch * steps + 2]),
                                          _images(dropped[epoch * 2:epoch * 2 + 2]))
    capped = tiny_config(batch_size=8, subset_train=21, steps_per_epoch=2, last_batch="keep")
    assert data.steps_per_epoch("digits", capped) == 2
    assert [len(x) for x, _ in data.load("digits", "train", capped, epochs=(0, 1), steps=2)] == [8, 8]
