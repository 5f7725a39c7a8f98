"""The IDX (MNIST file format) reader and fashion_mnist, on files the test writes and the real ones."""

import gzip
import os

import numpy as np
import pytest

from amr_tf import data
from amr_tf.data import idx
from tests.helpers import tiny_config

REAL = idx.find_files(idx.DEBIAN_FASHION_MNIST)


def write_idx(path, array):
    """Writes `array` (uint8) as an IDX file, gzipped if `path` ends in .gz."""
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def write_mnist_dir(directory, n_train, n_test, seed=0):
    """Four MNIST-format files of random images; returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    parts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = rng.integers(0, 256, (n, 28, 28)), np.arange(n) % 10
        write_idx(os.path.join(directory, idx.FILES[split][0] + ".gz"), images)
        write_idx(os.path.join(directory, idx.FILES[split][1]), labels)  # plain, not gzipped
        parts[split] = (images.astype(np.uint8), labels.astype(np.uint8))
    return parts


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, suffix):
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3))
    write_idx(tmp_path / f"x{suffix}", array)
    out = idx.read_idx(str(tmp_path / f"x{suffix}"))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, array)


def test_read_idx_refuses_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an IDX file"):
        idx.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + np.array([5], ">u4").tobytes() + b"abc")
    with pytest.raises(ValueError, match="holds 3 bytes"):
        idx.read_idx(str(tmp_path / "short"))


def test_fashion_mnist_from_data_dir_is_split_like_mnist(tmp_path):
    parts = write_mnist_dir(tmp_path, n_train=36, n_test=7)
    cfg = tiny_config(dataset="fashion_mnist", data_dir=str(tmp_path), batch_size=4)
    info = data.info("fashion_mnist", cfg)
    assert info.split_sizes == {"train": 30, "valid": 6, "test": 7}
    assert str(tmp_path) in info.origin
    x, y = data.get_source("fashion_mnist").arrays("test", cfg)
    assert x.shape == (7, 32, 32, 1) and y.shape == (7, 10)
    np.testing.assert_array_equal(y.argmax(1), parts["test"][1])
    expected = idx.resize_28_to_32(parts["test"][0]).astype(np.float32) * (2 / 255) - 1
    np.testing.assert_allclose(x, expected, atol=1e-6)
    train_labels = np.concatenate([data.get_source("fashion_mnist").arrays(s, cfg)[1] for s in ("train", "valid")])
    np.testing.assert_array_equal(np.sort(train_labels.argmax(1)), np.sort(parts["train"][1]))


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist"):
        data.info("fashion_mnist", tiny_config(dataset="fashion_mnist", data_dir=str(tmp_path)))


@pytest.mark.skipif(REAL is None,
                    reason=f"Debian's dataset-fashion-mnist is not installed ({idx.DEBIAN_FASHION_MNIST})")
def test_real_fashion_mnist():
    cfg = tiny_config(dataset="fashion_mnist", batch_size=500)
    info = data.info("fashion_mnist", cfg)
    assert info.split_sizes == {"train": 50000, "valid": 10000, "test": 10000}
    assert tuple(info.image_shape) == (32, 32, 1) and info.n_classes == 10
    source = data.get_source("fashion_mnist")
    x, y = source.split("test", cfg).fetch(np.arange(10000))
    assert x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y.argmax(1)), [1000] * 10)  # the test set is balanced
    train = source.split("train", cfg).fetch(np.arange(0, 50000, 7))[0]
    assert not {a.tobytes() for a in train} & {a.tobytes() for a in x[::3]}
    batch = next(iter(data.load("fashion_mnist", "train", cfg, epochs=(0, 1))))
    assert batch[0].shape == (500, 32, 32, 1) and batch[1].shape == (500, 10)


def test_python_m_amr_tf_data_prints_the_splits_and_fails_in_one_line(tmp_path):
    from tests.helpers import run_cli

    write_mnist_dir(tmp_path, n_train=36, n_test=7)
    result = run_cli("amr_tf.data", "fashion_mnist", f"--data_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    for line in ("train: 30", "valid: 6", "test: 7", "image shape: (32, 32, 1)", "range: [-1, 1]", str(tmp_path)):
        assert line in result.stdout
    for args, words in ((["nosuchdata"], "unknown dataset 'nosuchdata'"), ([], "give one data set name"),
                        (["digits", "--batch_size=two"], "flag --batch_size=two"),
                        (["digits", "--bench", "--batches=0"], "need --batches >= 1")):
        result = run_cli("amr_tf.data", *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and not result.stdout, (result.stdout, result.stderr)
        assert lines[0].startswith(f"amr_tf.data: error: {words}"), lines


@pytest.mark.parametrize("label", [10, 255])
def test_a_label_outside_the_classes_is_refused_naming_the_file_before_a_run_is_written(tmp_path, label):
    from tests.helpers import run_cli

    folder = tmp_path / "fashion"
    write_mnist_dir(folder, n_train=36, n_test=7)
    labels = np.arange(7) % 10
    labels[3] = label
    write_idx(folder / idx.FILES["test"][1], labels)
    with pytest.raises(ValueError, match=f"t10k-labels-idx1-ubyte: label {label} is outside the 10 classes"):
        idx.read_mnist_dir(str(folder))
    if label == 10:  # the CLI says so in one line, and no run directory is left behind
        out = tmp_path / "run"
        result = run_cli("amr_tf.train", "--dataset=fashion_mnist", f"--data_dir={folder}", "--epochs=1",
                         "--batch_size=4", "--steps_per_epoch=1", f"--out_dir={out}")
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert "label 10 is outside the 10 classes" in result.stderr.strip().splitlines()[-1]
        assert not out.exists()
