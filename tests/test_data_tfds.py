"""TFDS sources with `tfds.testing.mock_data` (nothing downloads), and the offline error."""


import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from amr_tf import data
from amr_tf.data import tfds_sources
from tests.helpers import tiny_config

N = 60  # mock examples per TFDS split
SPLITS = ("train", "valid", "test")
# name -> (image shape, label width, expected split sizes from N mock examples per TFDS split)
EXPECTED = {
    "mnist": ((32, 32, 1), 10, {"train": 50, "valid": 10, "test": N}),
    "kmnist": ((32, 32, 1), 10, {"train": 50, "valid": 10, "test": N}),
    "svhn": ((32, 32, 3), 10, {"train": 54, "valid": 6, "test": N}),
    "cifar10": ((32, 32, 3), 10, {"train": 48, "valid": 12, "test": N}),
    "dsprites": ((64, 64, 1), 3, {"train": 56, "valid": 2, "test": 2}),
    "celeba": ((64, 64, 3), 3, {"train": N, "valid": N, "test": N}),
}


def _all(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mocked_tfds_source(name, tmp_path):
    shape, width, sizes = EXPECTED[name]
    cfg = tiny_config(dataset=name, data_dir=str(tmp_path), batch_size=4)
    with tfds.testing.mock_data(num_examples=N):
        info = data.info(name, cfg)
        assert tuple(info.image_shape) == shape and info.n_classes == width
        assert info.split_sizes == sizes
        splits = {split: _all(data.load(name, split, cfg, training=False)) for split in SPLITS}
        train = _all(data.load(name, "train", cfg, epochs=(0, 1)))
    keys = {split: {image.tobytes() for image in x} for split, (x, _) in splits.items()}
    for split, (x, y) in splits.items():
        assert x.shape == (sizes[split], *shape) and y.shape == (sizes[split], width)
        assert x.dtype == np.float32 and y.dtype == np.float32
        assert x.min() >= -1.0 and x.max() <= 1.0 and x.max() > x.min()
        assert set(np.unique(y)) <= {0.0, 1.0}
        if name != "celeba":  # one-hot; CelebA attributes are multi-hot
            np.testing.assert_array_equal(y.sum(axis=1), 1.0)
    if name != "celeba":  # the permutation splits TFDS' train split: no shared example
        assert not keys["train"] & keys["valid"]  # (CelebA's are official; mocks repeat across them)
    assert len(train[0]) == (sizes["train"] // 4) * 4
    assert {image.tobytes() for image in train[0]} <= keys["train"]


def test_celeba_attributes_are_multi_hot_in_the_order_asked(tmp_path):
    cfg = tiny_config(dataset="celeba", data_dir=str(tmp_path), attributes="Smiling,Male", batch_size=8)
    with tfds.testing.mock_data(num_examples=N):
        ds = tfds.load("celeb_a", split="validation", data_dir=str(tmp_path))
        expected = np.array([[ex["attributes"]["Smiling"], ex["attributes"]["Male"]]
                             for ex in tfds.as_numpy(ds)], np.float32)
        info = data.info("celeba", cfg)
        _, y = _all(data.load("celeba", "valid", cfg))
    assert info.n_classes == 2 and "Smiling,Male" in info.labels
    np.testing.assert_array_equal(y, expected)
    assert 0 < y.sum() < y.size  # random mock attributes: both values occur


def test_celeba_unknown_attribute_names_the_choices(tmp_path):
    cfg = tiny_config(dataset="celeba", data_dir=str(tmp_path), attributes="Male,Beard")
    with pytest.raises(ValueError, match="Beard.*Wearing_Lipstick"):
        data.info("celeba", cfg)


def test_mnist_prefers_idx_files_in_data_dir(tmp_path):
    from tests.test_data_idx import write_mnist_dir

    write_mnist_dir(tmp_path / "mnist", n_train=30, n_test=6)
    info = data.info("mnist", tiny_config(dataset="mnist", data_dir=str(tmp_path)))
    assert info.split_sizes == {"train": 25, "valid": 5, "test": 6}
    assert "IDX" in info.origin


def test_offline_tfds_fails_fast_with_one_line(tmp_path, monkeypatch):
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(tfds_sources, "PROBE_HOST", ("127.0.0.1", 9))  # nothing listens: as offline
    start = time.monotonic()
    with pytest.raises(ValueError) as err:
        data.info("svhn", tiny_config(dataset="svhn", data_dir=str(tmp_path)))
    assert time.monotonic() - start < 20
    message = str(err.value)
    assert "\n" not in message
    for part in ("'svhn'", "svhn_cropped", "could not be downloaded", "--data_dir", "tfds.load('svhn_cropped')"):
        assert part in message
