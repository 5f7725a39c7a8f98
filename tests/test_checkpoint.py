"""Tests of amr_tf.checkpoint on a trainer's objects (trainers.checkpoint): exact round trips by
name, atomic writes, refusing bad, foreign and older checkpoints without changing anything, never
unpickling."""

import json
import os
import pickle

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf import checkpoint
from amr_tf.checkpoint import CheckpointError
from amr_tf.checkpoint.meta import MetaState
from tests.helpers import make_trainer, random_batch, tiny_config
from trainers import checkpoint as trainer_checkpoint

# The networks of tiny_config()'s trainer (AMR without a class mixer).
NETWORKS = ("encoder", "decoder", "discriminator", "probe")
META = {"epoch": 3, "history": [{"epoch": 1, "val_probe_accuracy": 0.25}], "best": None}
DATA = ".data-00000-of-00001"


@pytest.fixture(scope="module")
def stepped():
    """A tiny trainer after one step: weights, optimizer slots and mixing RNG all moved."""
    trainer = make_trainer(tiny_config())
    trainer.train_step(random_batch(4, seed=0))
    return trainer


@pytest.fixture(scope="module")
def saved(stepped, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "epoch-0003"
    checkpoint.save(path, trainer_checkpoint.objects(stepped), META)
    return path


def _variables(obj):
    return [obj] if isinstance(obj, (keras.Variable, tf.Variable)) else list(obj.variables)


def _values(trainer_or_objects):
    objects = trainer_or_objects
    if not isinstance(objects, dict):
        objects = trainer_checkpoint.objects(trainer_or_objects)
    return {name: [np.array(v.numpy(), copy=True) for v in _variables(obj)] for name, obj in objects.items()}


def _assert_same(a, b, names=None):
    for name in names or a:
        assert len(a[name]) == len(b[name]), name
        for i, (x, y) in enumerate(zip(a[name], b[name])):
            assert x.dtype == y.dtype and x.shape == y.shape, f"{name}/{i}"
            np.testing.assert_array_equal(x, y, err_msg=f"{name}/{i}")


def _differs(a, b, name):
    return any(not np.array_equal(x, y) for x, y in zip(a[name], b[name]))


def _keys(path):
    return [name for name, _ in tf.train.list_variables(str(path))]


def test_objects_cover_networks_optimizers_and_rng(stepped, saved):
    objects = trainer_checkpoint.objects(stepped)
    assert set(objects) == {"encoder", "decoder", "discriminator", "probe",
                            "ae_optimizer", "d_optimizer", "probe_optimizer", "rng"}
    assert objects["rng"] is stepped.seed_generator.state
    # every variable of every object is in the checkpoint, once (keys() would refuse an unnamed one)
    every = {id(v): v for obj in objects.values() for v in _variables(obj)}
    keys = checkpoint.keys(objects)
    assert len(keys) == len(every) and {id(v) for v in keys.values()} == set(every)
    assert set(_keys(saved)) == set(keys) | {"meta/.ATTRIBUTES/py_state", "_CHECKPOINTABLE_OBJECT_GRAPH"}
    assert keys["ae_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"] is stepped.ae_optimizer.iterations
    # spectral norm's power-iteration vectors are state too
    assert any(k.startswith("discriminator/") and "vector_u" in k for k in keys)


def test_round_trip_restores_every_group(stepped, saved):
    fresh = make_trainer(tiny_config())
    want, before = _values(stepped), _values(fresh)
    for name in ("encoder", "discriminator", "probe", "ae_optimizer", "d_optimizer", "rng"):
        assert _differs(want, before, name), f"{name}: the test would prove nothing"
    meta = checkpoint.restore(trainer_checkpoint.objects(fresh), saved)
    assert meta == META
    _assert_same(want, _values(fresh))
    assert int(fresh.d_optimizer.iterations) == 1 and int(fresh.ae_optimizer.iterations) == 1


def test_restore_only_some_groups(stepped, saved):
    fresh = make_trainer(tiny_config())
    before = _values(fresh)
    checkpoint.restore(trainer_checkpoint.objects(fresh), saved, only=NETWORKS)
    after, want = _values(fresh), _values(stepped)
    _assert_same(want, after, names=NETWORKS)
    _assert_same(before, after, names=["ae_optimizer", "d_optimizer", "probe_optimizer", "rng"])
    # the networks alone, as export and evaluation restore them
    nets = {name: getattr(make_trainer(tiny_config()), name) for name in NETWORKS}
    assert checkpoint.restore(nets, saved, partial=True) == META
    _assert_same(want, _values(nets), names=NETWORKS)
    with pytest.raises(CheckpointError, match="ae_optimizer"):  # a full restore wants everything
        checkpoint.restore(nets, saved)


def test_file_is_a_plain_archive(saved):
    """Numbers and one JSON string: nothing that loading would run."""
    reader = tf.train.load_checkpoint(str(saved))
    dtypes = reader.get_variable_to_dtype_map()
    assert dtypes.pop("meta/.ATTRIBUTES/py_state") == tf.string
    assert json.loads(reader.get_tensor("meta/.ATTRIBUTES/py_state")) == META
    assert all(d.is_floating or d.is_integer for k, d in dtypes.items() if k != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert sorted(p.name for p in saved.parent.iterdir()) == ["epoch-0003" + DATA, "epoch-0003.index"]


def test_keys_are_names_not_positions(saved):
    keys = _keys(saved)
    encoder = [k for k in keys if k.startswith("encoder/")]
    assert encoder and all(k.endswith("/.ATTRIBUTES/VARIABLE_VALUE") for k in encoder)
    assert any("kernel" in k for k in encoder) and any("gamma" in k for k in encoder)
    assert "encoder/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys  # layer 1 of the encoder's body
    # the .npz format's positional keys, and an optimizer's list positions, are gone
    assert not [k for k in keys if k.split("/")[0] in NETWORKS and k.split("/")[1].isdigit()]
    assert not [k for k in keys if "/_variables/" in k or "/_trainable_variables/" in k]
    # an optimizer's slots are named after the variable they belong to
    assert "ae_optimizer/_momentums/encoder/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert "d_optimizer/_velocities/discriminator/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys


class _Pair(keras.layers.Layer):
    """Two Dense layers of the same shape; `flip` creates (and so lists) the second first."""

    def __init__(self, flip=False, **kwargs):
        super().__init__(**kwargs)
        if flip:
            self.second = keras.layers.Dense(4)
            self.first = keras.layers.Dense(4)
        else:
            self.first = keras.layers.Dense(4)
            self.second = keras.layers.Dense(4)

    def call(self, x):
        return self.second(self.first(x))


def _pair(flip, seed):
    keras.utils.set_random_seed(seed)
    layer = _Pair(flip)
    layer(np.zeros((1, 4), np.float32))
    optimizer = keras.optimizers.Adam(0.1)
    optimizer.build(layer.trainable_variables)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(np.ones((2, 4), np.float32)) ** 2)
    optimizer.apply(tape.gradient(loss, layer.trainable_variables), layer.trainable_variables)
    return layer, optimizer


def test_variables_created_in_another_order_restore_by_name(tmp_path):
    ours, ours_adam = _pair(flip=False, seed=1)
    theirs, theirs_adam = _pair(flip=True, seed=2)
    # the same shapes in another order: the .npz format would have swapped the two layers silently
    assert ours.variables[0] is ours.first.kernel and theirs.variables[0] is theirs.second.kernel
    assert not np.array_equal(ours.first.kernel.numpy(), theirs.first.kernel.numpy())
    path = checkpoint.save(tmp_path / "pair", {"net": ours, "adam": ours_adam}, {})
    # and the dict in the other order too
    checkpoint.restore({"adam": theirs_adam, "net": theirs}, path)
    for name in ("first", "second"):
        for attr in ("kernel", "bias"):
            mine, restored = getattr(getattr(ours, name), attr), getattr(getattr(theirs, name), attr)
            np.testing.assert_array_equal(restored.numpy(), mine.numpy(), err_msg=f"{name}.{attr}")
            for slot in ("_momentums", "_velocities"):  # Adam's slots follow their variables
                want = getattr(ours_adam, slot)[ours_adam._get_variable_index(mine)]
                got = getattr(theirs_adam, slot)[theirs_adam._get_variable_index(restored)]
                np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"{slot} of {name}.{attr}")
    assert int(theirs_adam.iterations) == 1


def test_a_trainer_restores_from_a_dict_in_any_order(stepped, saved):
    fresh = make_trainer(tiny_config())
    objects = trainer_checkpoint.objects(fresh)
    checkpoint.restore(dict(reversed(list(objects.items()))), saved)
    _assert_same(_values(stepped), _values(fresh))


class _Hidden(keras.layers.Layer):
    """A weight no attribute holds: a checkpoint could not name it."""

    def build(self, input_shape):
        self.add_weight(shape=(2,), name="hidden")

    def call(self, x):
        return x


def test_a_variable_no_name_reaches_is_refused_at_save(tmp_path):
    layer = _Hidden()
    layer(np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="hidden"):
        checkpoint.save(tmp_path / "x", {"net": layer}, {})
    assert not list(tmp_path.iterdir())


def test_save_is_atomic_and_replaces(stepped, tmp_path):
    path = tmp_path / "sub" / "epoch-0001"  # the directory is created
    objects = trainer_checkpoint.objects(stepped)
    checkpoint.save(path, objects, {"epoch": 1})
    assert sorted(os.listdir(path.parent)) == ["epoch-0001" + DATA, "epoch-0001.index"]
    checkpoint.save(path, objects, {"epoch": 2})
    assert sorted(os.listdir(path.parent)) == ["epoch-0001" + DATA, "epoch-0001.index"]
    assert checkpoint.read(path)[1] == {"epoch": 2}
    assert checkpoint.read_meta(path) == {"epoch": 2}


def test_failed_save_keeps_the_old_file(stepped, tmp_path, monkeypatch):
    path = tmp_path / "best-0001"
    objects = trainer_checkpoint.objects(stepped)
    checkpoint.save(path, objects, {"epoch": 1})
    good = [p.read_bytes() for p in checkpoint.files(path)]

    def disk_full(self, file_prefix, options=None):
        with open(f"{file_prefix}{DATA}", "wb") as f:
            f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.train.Checkpoint, "write", disk_full)
    with pytest.raises(OSError):
        checkpoint.save(path, objects, {"epoch": 2})
    monkeypatch.undo()
    assert [p.read_bytes() for p in checkpoint.files(path)] == good
    assert checkpoint.read(path)[1] == {"epoch": 1}
    assert sorted(os.listdir(tmp_path)) == ["best-0001" + DATA, "best-0001.index"]  # no temporary left


def test_a_kill_between_the_renames_leaves_the_previous_checkpoint(stepped, tmp_path, monkeypatch):
    """The data file moves in first, the index last: a kill between the two leaves a data file
    that nothing reads, and the previous checkpoint stays the newest."""
    objects = trainer_checkpoint.objects(stepped)
    checkpoint.save(checkpoint.epoch_path(tmp_path, 1), objects, {"epoch": 1})
    real = os.replace

    def killed_before_the_index(src, dst):
        if str(dst).endswith(".index"):
            raise KeyboardInterrupt  # stands for the SIGKILL
        real(src, dst)

    monkeypatch.setattr(os, "replace", killed_before_the_index)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(checkpoint.epoch_path(tmp_path, 2), objects, {"epoch": 2})
    monkeypatch.undo()
    assert (tmp_path / ("epoch-0002" + DATA)).exists() and not (tmp_path / "epoch-0002.index").exists()
    assert checkpoint.latest(tmp_path) == tmp_path / "epoch-0001"
    with pytest.raises(CheckpointError, match="epoch-0002 is corrupt"):
        checkpoint.restore(objects, tmp_path / "epoch-0002")
    checkpoint.save(checkpoint.epoch_path(tmp_path, 3), objects, {"epoch": 3})
    checkpoint.prune(tmp_path, keep=2)  # the orphan goes with the old ones
    assert sorted(os.listdir(tmp_path)) == [f"epoch-000{e}{s}" for e in (1, 3) for s in (DATA, ".index")]


@pytest.mark.parametrize("damage", ["half", "tail", "garbage", "empty", "no_meta"])
def test_corrupt_files_are_refused(stepped, saved, tmp_path, damage):
    path = tmp_path / "epoch-0003"
    for file in checkpoint.files(saved):
        (tmp_path / file.name).write_bytes(file.read_bytes())
    data = tmp_path / ("epoch-0003" + DATA)
    good = data.read_bytes()
    if damage == "half":
        data.write_bytes(good[: len(good) // 2])
    elif damage == "tail":
        data.write_bytes(good[:-10])
    elif damage == "garbage":
        data.write_bytes(np.random.default_rng(0).bytes(len(good)))
    elif damage == "empty":
        data.write_bytes(b"")
    else:
        tf.train.Checkpoint(encoder=tf.Variable(np.zeros(3, np.float32))).write(str(path))
    fresh = make_trainer(tiny_config())
    before = _values(fresh)
    for load in (checkpoint.read, lambda p: checkpoint.restore(trainer_checkpoint.objects(fresh), p)):
        with pytest.raises(CheckpointError) as err:
            load(path)
        assert str(path) in str(err.value) and "corrupt" in str(err.value)
        assert "\n" not in str(err.value)
    _assert_same(before, _values(fresh))
    assert issubclass(CheckpointError, ValueError)


@pytest.mark.parametrize("damage", ["half", "garbage", "empty"])
def test_corrupt_index_is_refused(saved, tmp_path, damage):
    path = tmp_path / "epoch-0003"
    for file in checkpoint.files(saved):
        (tmp_path / file.name).write_bytes(file.read_bytes())
    index = tmp_path / "epoch-0003.index"
    good = index.read_bytes()
    index.write_bytes({"half": good[: len(good) // 2], "garbage": np.random.default_rng(1).bytes(len(good)),
                       "empty": b""}[damage])
    for load in (checkpoint.read, checkpoint.read_meta, lambda p: checkpoint.restore({}, p)):
        with pytest.raises(CheckpointError, match=f"{path} is corrupt"):
            load(path)


def test_missing_file_is_refused(tmp_path):
    path = tmp_path / "epoch-0009"
    with pytest.raises(CheckpointError, match="epoch-0009 does not exist"):
        checkpoint.read(path)
    with pytest.raises(CheckpointError, match="epoch-0009 does not exist"):
        checkpoint.restore({}, path)


def test_other_channels_are_refused_naming_the_shapes(tmp_path):
    rgb = make_trainer(tiny_config(), image_shape=(32, 32, 3))
    path = tmp_path / "rgb"
    checkpoint.save(path, trainer_checkpoint.objects(rgb), {})
    gray = make_trainer(tiny_config())
    with pytest.raises(CheckpointError) as err:
        checkpoint.restore(trainer_checkpoint.objects(gray), path)
    message = str(err.value)
    assert "shape" in message and "(1, 1, 3, 16)" in message and "(1, 1, 1, 16)" in message
    assert str(path) in message


@pytest.fixture(scope="module")
def wide_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("wide") / "acai256"
    # seed 1: the layers both presets share must hold other values than a seed-0 acai32's
    checkpoint.save(path, trainer_checkpoint.objects(make_trainer(tiny_config(bottleneck=256, seed=1))), {})
    return path


def test_other_bottleneck_is_refused(wide_checkpoint):
    narrow = make_trainer(tiny_config(bottleneck=32))
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.restore(trainer_checkpoint.objects(narrow), wide_checkpoint)


def test_refused_checkpoint_changes_nothing(wide_checkpoint):
    narrow = make_trainer(tiny_config(bottleneck=32))
    before = _values(narrow)
    first_kernel = checkpoint.read(wide_checkpoint)[0]["encoder/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    assert first_kernel.shape == narrow.encoder.body[1].kernel.shape
    assert not np.array_equal(first_kernel, narrow.encoder.body[1].kernel.numpy())  # else this would prove nothing
    with pytest.raises(CheckpointError):
        checkpoint.restore(trainer_checkpoint.objects(narrow), wide_checkpoint)
    _assert_same(before, _values(narrow))


@pytest.fixture(scope="module")
def supervised_checkpoint(tmp_path_factory):
    """A checkpoint of another model with one network more (the class mixer)."""
    path = tmp_path_factory.mktemp("sup") / "epoch-0001"
    checkpoint.save(path, trainer_checkpoint.objects(make_trainer(tiny_config(cls=1.0, seed=1))), {"epoch": 1})
    return path


def test_another_model_is_refused_and_changes_nothing(stepped, saved, supervised_checkpoint):
    plain = make_trainer(tiny_config())
    before = _values(plain)
    with pytest.raises(CheckpointError, match="has class_mixer, which this model lacks"):
        checkpoint.restore(trainer_checkpoint.objects(plain), supervised_checkpoint)
    _assert_same(before, _values(plain))
    supervised = make_trainer(tiny_config(cls=1.0))
    before = _values(supervised)
    with pytest.raises(CheckpointError, match="lacks class_mixer: it was written by another model"):
        checkpoint.restore(trainer_checkpoint.objects(supervised), saved)
    _assert_same(before, _values(supervised))
    # the networks alone: a discriminator with a class head is another network
    nets = {name: getattr(plain, name) for name in NETWORKS}
    before = _values(nets)
    with pytest.raises(CheckpointError, match="discriminator/"):
        checkpoint.restore(nets, supervised_checkpoint, partial=True)
    _assert_same(before, _values(nets))


class _Payload:
    """Unpickling this runs os.mkdir(marker): the test fails if anything unpickles it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "epoch-0001"
    payload = pickle.dumps(_Payload(str(marker)))
    tf.train.Checkpoint(meta=MetaState(payload)).write(str(path))  # a 'meta' of arbitrary bytes
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.read(path)
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.restore({}, path)
    assert not marker.exists()
    # the payload is live: unpickling the stored bytes would have run it
    pickle.loads(tf.train.load_checkpoint(str(path)).get_tensor("meta/.ATTRIBUTES/py_state"))
    assert marker.exists()


def _touch(directory, *names):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"")


def _checkpoints(*prefixes):
    return [name for prefix in prefixes for name in (prefix + ".index", prefix + DATA)]


def test_latest_picks_the_highest_epoch(tmp_path):
    assert checkpoint.latest(tmp_path / "missing") is None
    assert checkpoint.latest(tmp_path) is None
    _touch(tmp_path, *_checkpoints("epoch-0002", "epoch-0010", "epoch-0001", "best-0002", "epoch-7"),
           "epoch-0050.index", "epoch-0060" + DATA,  # incomplete: a kill between the two renames
           "epoch-0070.index", "epoch-0070.data-00000-of-00002",  # one shard of two
           ".epoch-0080.tmp-123", "epoch-0040.index.bak", "notes.txt")
    (tmp_path / ".epoch-0090.tmp-123").mkdir()
    _touch(tmp_path / ".epoch-0090.tmp-123", *_checkpoints("epoch-0090"))
    assert checkpoint.latest(tmp_path) == tmp_path / "epoch-0010"
    _touch(tmp_path, *_checkpoints("epoch-9999", "epoch-10000"))  # numeric, not lexicographic
    assert checkpoint.latest(tmp_path) == tmp_path / "epoch-10000"
    assert checkpoint.epoch_path(tmp_path, 12) == tmp_path / "epoch-0012"
    assert checkpoint.best_path(tmp_path, 12) == tmp_path / "best-0012"
    assert checkpoint.best_path(tmp_path) == tmp_path / "best-0002"
    _touch(tmp_path, "best-0005.index")
    assert checkpoint.best_path(tmp_path) == tmp_path / "best-0002"


def test_prune_keeps_the_newest_and_best(tmp_path):
    _touch(tmp_path, *_checkpoints(*[f"epoch-{e:04d}" for e in (1, 2, 3, 10, 4)], "best-0002", "best-0003"),
           "epoch-0002.index.tmp", "notes.txt")
    (tmp_path / "epoch-0001.index").unlink()  # an orphan data file
    checkpoint.prune(tmp_path, keep=2)
    assert sorted(os.listdir(tmp_path)) == sorted(
        _checkpoints("best-0003", "epoch-0004", "epoch-0010") + ["epoch-0002.index.tmp", "notes.txt"])
    checkpoint.prune(tmp_path, keep=2)  # nothing more to delete
    assert len(os.listdir(tmp_path)) == 8
    checkpoint.prune(tmp_path, keep=1)
    assert sorted(os.listdir(tmp_path)) == sorted(
        _checkpoints("best-0003", "epoch-0010") + ["epoch-0002.index.tmp", "notes.txt"])


def test_prune_keep_zero_deletes_or_refuses(tmp_path):
    _touch(tmp_path, *_checkpoints("epoch-0001", "epoch-0002", "best-0001"))
    try:
        checkpoint.prune(tmp_path, keep=0)
    except ValueError:
        return  # refusing keep=0 is fine too
    assert sorted(os.listdir(tmp_path)) == _checkpoints("best-0001")


def test_an_older_npz_checkpoint_is_refused_in_one_line(tmp_path):
    """A run directory of an older amr_tf (.npz checkpoints) is never taken for an empty one."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    np.savez(folder / "epoch-0002.npz", **{"encoder/0000": np.zeros(3, np.float32),
                                           "__meta__": np.frombuffer(b'{"epoch": 2}', np.uint8)})
    np.savez(folder / "best.npz", **{"encoder/0000": np.zeros(3, np.float32)})
    for find, name in ((checkpoint.latest, "epoch-0002.npz"), (checkpoint.best_path, "best.npz")):
        with pytest.raises(CheckpointError) as err:
            find(folder)
        assert f"{name} was written by an older amr_tf" in str(err.value) and "\n" not in str(err.value)
    assert checkpoint.latest(folder, refuse_old=False) is None
    for path in (folder / "epoch-0002.npz", folder / "epoch-0002"):
        with pytest.raises(CheckpointError, match="epoch-0002.npz was written by an older amr_tf"):
            checkpoint.restore({}, path)
    # once a new checkpoint is there, it is the one that counts
    tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(folder / "epoch-0003"))
    assert checkpoint.latest(folder) == folder / "epoch-0003"


def test_prune_keeps_the_best_each_kept_epoch_was_written_with(tmp_path):
    # a resume from epoch 3 (epoch 4's checkpoint lost) needs best-0001, the best it was written with
    _touch(tmp_path, *_checkpoints("epoch-0002", "epoch-0003", "epoch-0004", "best-0001", "best-0004"))
    checkpoint.prune(tmp_path, keep=2)
    assert sorted(os.listdir(tmp_path)) == sorted(_checkpoints("epoch-0003", "epoch-0004", "best-0001", "best-0004"))
    checkpoint.prune(tmp_path, keep=1)
    assert sorted(os.listdir(tmp_path)) == sorted(_checkpoints("epoch-0004", "best-0004"))


def test_set_aside_after_moves_the_abandoned_epochs_checkpoints(tmp_path):
    ckpts, aside = tmp_path / "checkpoints", tmp_path / "aside"
    ckpts.mkdir()
    _touch(ckpts, *_checkpoints("epoch-0001", "epoch-0002", "best-0002", "best-0003"), "epoch-0003" + DATA)
    assert checkpoint.set_aside_after(ckpts, 2, aside) == ["epoch-0003", "best-0003"]
    assert sorted(os.listdir(ckpts)) == sorted(_checkpoints("epoch-0001", "epoch-0002", "best-0002"))
    assert sorted(os.listdir(aside)) == sorted(_checkpoints("best-0003") + ["epoch-0003" + DATA])
    assert checkpoint.set_aside_after(ckpts, 2, tmp_path / "other") == [] and not (tmp_path / "other").exists()


def test_the_best_is_the_one_best_json_names(tmp_path):
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    _touch(ckpts, *_checkpoints("epoch-0002", "best-0001", "best-0003"))  # best-0003: epoch 3 was never finished
    (tmp_path / "best.json").write_text('{"epoch": 1}')
    from amr_tf.checkpoint import find

    assert find(tmp_path, "best") == ckpts / "best-0001"
    (tmp_path / "best.json").write_text('{"epoch": 2}')
    with pytest.raises(ValueError, match="best.json names epoch 2, but .* holds no complete best-0002"):
        find(tmp_path, "best")
    # no best.json (no finite probe accuracy yet): the newest best of a finished epoch, never
    # best-0003, whose epoch has no checkpoint
    (tmp_path / "best.json").unlink()
    assert find(tmp_path, "best") == ckpts / "best-0001"
