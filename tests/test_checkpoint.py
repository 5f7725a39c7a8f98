"""Tests of trainers.checkpoint: exact round trips, atomic writes, refusing bad files, never unpickling."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.helpers import make_trainer, random_batch, snapshot, tiny_config  # noqa: E402
from trainers import checkpoint  # noqa: E402
from trainers.checkpoint import CheckpointError  # noqa: E402

META = {"epoch": 3, "history": [{"epoch": 1, "val_probe_accuracy": 0.25}], "best": None}


@pytest.fixture(scope="module")
def stepped():
    """A tiny trainer after one step: weights, optimizer slots and mixing RNG all moved."""
    trainer = make_trainer(tiny_config())
    trainer.train_step(random_batch(4, seed=0))
    return trainer


@pytest.fixture(scope="module")
def saved(stepped, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "epoch-0003.npz"
    checkpoint.save(path, checkpoint.groups(stepped), META)
    return path


def _values(trainer):
    return {name: snapshot(variables) for name, variables in checkpoint.groups(trainer).items()}


def _assert_same(a, b, names=None):
    for name in names or a:
        assert len(a[name]) == len(b[name]), name
        for i, (x, y) in enumerate(zip(a[name], b[name])):
            assert x.dtype == y.dtype and x.shape == y.shape, f"{name}/{i}"
            np.testing.assert_array_equal(x, y, err_msg=f"{name}/{i}")


def _differs(a, b, name):
    return any(not np.array_equal(x, y) for x, y in zip(a[name], b[name]))


def test_groups_cover_networks_optimizers_and_rng(stepped):
    groups = checkpoint.groups(stepped)
    assert set(groups) == {"encoder", "decoder", "discriminator", "probe",
                           "ae_optimizer", "d_optimizer", "probe_optimizer", "rng"}
    assert groups["rng"][0] is stepped.seed_generator.state
    assert any(v is stepped.ae_optimizer.iterations for v in groups["ae_optimizer"])
    # spectral norm's power-iteration vectors are state too
    assert len(groups["discriminator"]) > len(stepped.discriminator.trainable_variables)


def test_round_trip_restores_every_group(stepped, saved):
    fresh = make_trainer(tiny_config())
    want, before = _values(stepped), _values(fresh)
    for name in ("encoder", "discriminator", "probe", "ae_optimizer", "d_optimizer", "rng"):
        assert _differs(want, before, name), f"{name}: the test would prove nothing"
    meta = checkpoint.restore(checkpoint.groups(fresh), saved)
    assert meta == META
    _assert_same(want, _values(fresh))
    assert int(fresh.d_optimizer.iterations) == 1 and int(fresh.ae_optimizer.iterations) == 1


def test_restore_only_some_groups(stepped, saved):
    fresh = make_trainer(tiny_config())
    before = _values(fresh)
    checkpoint.restore(checkpoint.groups(fresh), saved, only=checkpoint.NETWORKS)
    after, want = _values(fresh), _values(stepped)
    _assert_same(want, after, names=checkpoint.NETWORKS)
    _assert_same(before, after, names=["ae_optimizer", "d_optimizer", "probe_optimizer", "rng"])


def test_file_is_a_plain_archive(saved):
    with np.load(saved, allow_pickle=False) as archive:
        assert "__meta__" in archive.files
        assert all(archive[key].dtype != object for key in archive.files)


def test_save_is_atomic_and_replaces(stepped, tmp_path):
    path = tmp_path / "sub" / "epoch-0001.npz"  # the directory is created
    groups = checkpoint.groups(stepped)
    checkpoint.save(path, groups, {"epoch": 1})
    assert sorted(os.listdir(path.parent)) == ["epoch-0001.npz"]
    checkpoint.save(path, groups, {"epoch": 2})
    assert sorted(os.listdir(path.parent)) == ["epoch-0001.npz"]
    assert checkpoint.read(path)[1] == {"epoch": 2}


def test_failed_save_keeps_the_old_file(stepped, tmp_path, monkeypatch):
    path = tmp_path / "best.npz"
    groups = checkpoint.groups(stepped)
    checkpoint.save(path, groups, {"epoch": 1})
    good = path.read_bytes()

    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError):
        checkpoint.save(path, groups, {"epoch": 2})
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert checkpoint.read(path)[1] == {"epoch": 1}


@pytest.mark.parametrize("damage", ["half", "tail", "garbage", "empty", "no_meta"])
def test_corrupt_files_are_refused(saved, tmp_path, damage):
    path = tmp_path / "epoch-0003.npz"
    good = saved.read_bytes()
    if damage == "half":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "tail":
        path.write_bytes(good[:-10])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        np.savez(path, **{"encoder/0000": np.zeros(3, np.float32)})
    for load in (checkpoint.read, lambda p: checkpoint.restore({}, p)):
        with pytest.raises(CheckpointError) as err:
            load(path)
        assert str(path) in str(err.value) and "corrupt" in str(err.value)
    assert issubclass(CheckpointError, ValueError)


def test_missing_file_is_refused(tmp_path):
    path = tmp_path / "epoch-0009.npz"
    with pytest.raises(CheckpointError, match="epoch-0009.npz"):
        checkpoint.read(path)
    with pytest.raises(CheckpointError, match="epoch-0009.npz"):
        checkpoint.restore({"encoder": []}, path)


def test_other_channels_are_refused_naming_the_shapes(tmp_path):
    rgb = make_trainer(tiny_config(), image_shape=(32, 32, 3))
    path = tmp_path / "rgb.npz"
    checkpoint.save(path, checkpoint.groups(rgb), {})
    gray = make_trainer(tiny_config())
    with pytest.raises(CheckpointError) as err:
        checkpoint.restore(checkpoint.groups(gray), path)
    message = str(err.value)
    assert "shape" in message and "(1, 1, 3, 16)" in message and "(1, 1, 1, 16)" in message
    assert str(path) in message


@pytest.fixture(scope="module")
def wide_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("wide") / "acai256.npz"
    # seed 1: the layers both presets share must hold other values than a seed-0 acai32's
    checkpoint.save(path, checkpoint.groups(make_trainer(tiny_config(bottleneck=256, seed=1))), {})
    return path


def test_other_bottleneck_is_refused(wide_checkpoint):
    narrow = make_trainer(tiny_config(bottleneck=32))
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.restore(checkpoint.groups(narrow), wide_checkpoint)


def test_refused_checkpoint_changes_nothing(wide_checkpoint):
    narrow = make_trainer(tiny_config(bottleneck=32))
    before = _values(narrow)
    first_kernel = checkpoint.read(wide_checkpoint)[0]["encoder/0000"]
    assert first_kernel.shape == before["encoder"][0].shape
    assert not np.array_equal(first_kernel, before["encoder"][0])  # else this would prove nothing
    with pytest.raises(CheckpointError):
        checkpoint.restore(checkpoint.groups(narrow), wide_checkpoint)
    _assert_same(before, _values(narrow))


class _Payload:
    """Unpickling this runs os.mkdir(marker): the test fails if anything unpickles it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "epoch-0001.npz"
    np.savez(path, **{
        "encoder/0000": np.array([_Payload(str(marker))], dtype=object),
        "__meta__": np.frombuffer(b"{}", dtype=np.uint8),
    })
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.read(path)
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.restore({"encoder": []}, path)
    assert not marker.exists()
    # the payload is live: plain pickle-enabled loading would have run it
    with np.load(path, allow_pickle=True) as archive:
        archive["encoder/0000"]
    assert marker.exists()


def _touch(directory, *names):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"")


def test_latest_picks_the_highest_epoch(tmp_path):
    assert checkpoint.latest(tmp_path / "missing") is None
    assert checkpoint.latest(tmp_path) is None
    _touch(tmp_path, "epoch-0002.npz", "epoch-0010.npz", "epoch-0001.npz", "best.npz",
           ".epoch-0050.npz.tmp-123", "epoch-0040.npz.bak", "epoch-7.npz", "notes.txt")
    assert checkpoint.latest(tmp_path) == tmp_path / "epoch-0010.npz"
    _touch(tmp_path, "epoch-9999.npz", "epoch-10000.npz")  # numeric, not lexicographic
    assert checkpoint.latest(tmp_path) == tmp_path / "epoch-10000.npz"
    assert checkpoint.epoch_path(tmp_path, 12) == tmp_path / "epoch-0012.npz"
    assert checkpoint.best_path(tmp_path) == tmp_path / "best.npz"


def test_prune_keeps_the_newest_and_best(tmp_path):
    _touch(tmp_path, *[f"epoch-{e:04d}.npz" for e in (1, 2, 3, 10, 4)], "best.npz", "notes.txt")
    checkpoint.prune(tmp_path, keep=2)
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "epoch-0004.npz", "epoch-0010.npz", "notes.txt"]
    checkpoint.prune(tmp_path, keep=2)  # nothing more to delete
    assert len(os.listdir(tmp_path)) == 4
    checkpoint.prune(tmp_path, keep=1)
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "epoch-0010.npz", "notes.txt"]


def test_prune_keep_zero_deletes_or_refuses(tmp_path):
    _touch(tmp_path, "epoch-0001.npz", "epoch-0002.npz", "best.npz")
    try:
        checkpoint.prune(tmp_path, keep=0)
    except ValueError:
        return  # refusing keep=0 is fine too
    assert sorted(os.listdir(tmp_path)) == ["best.npz"]
