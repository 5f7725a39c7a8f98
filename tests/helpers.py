"""Shared test helpers: tiny configs and trainers, random batches, weight snapshots, round trips,
and the one way the tests run a command (`run`, `run_cli`, `CLI_ENV`)."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from amr_tf.config import Config
from amr_tf.data.sources import DataInfo
from trainers.build import build_trainer

IMAGE_SHAPE = (32, 32, 1)
N_CLASSES = 10
NETWORKS = ("encoder", "decoder", "discriminator", "probe")


def tiny_config(**overrides):
    """A digits Config small enough for a unit test (batch 8, one epoch of 2 steps)."""
    base = Config(dataset="digits", batch_size=8, epochs=1, steps_per_epoch=2)
    return dataclasses.replace(base, **overrides)


def fake_info(image_shape=IMAGE_SHAPE, n_classes=N_CLASSES):
    """A DataInfo describing random data of `image_shape` (nothing is read)."""
    return DataInfo("random", tuple(image_shape), n_classes, {"train": 0, "valid": 0, "test": 0}, "tests")


def make_trainer(config, image_shape=IMAGE_SHAPE, n_classes=N_CLASSES):
    """A compiled AMRTrainer for `config`, built the way every entry point builds one."""
    return build_trainer(config, fake_info(image_shape, n_classes))


def random_batch(batch=8, image_shape=IMAGE_SHAPE, n_classes=N_CLASSES, seed=0):
    """(images uniform in [-1, 1], one-hot labels) as float32 tensors."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (batch,) + tuple(image_shape)).astype("float32")
    y = np.eye(n_classes, dtype="float32")[rng.integers(0, n_classes, batch)]
    return tf.constant(x), tf.constant(y)


def snapshot(variables):
    """NumPy copies of `variables` (a list of variables or tensors)."""
    return [np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True) for v in variables]


def changed(before, variables):
    """True if any variable differs from its `snapshot`."""
    after = snapshot(variables)
    assert len(before) == len(after), "the variable list changed length"
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def network_weights(trainer, names=NETWORKS):
    """name -> trainable variables of the trainer's networks."""
    return {name: getattr(trainer, name).trainable_variables for name in names}


def roundtrip(obj):
    """`obj` serialized with Keras and deserialized again (a new object)."""
    config = keras.saving.serialize_keras_object(obj)
    return keras.saving.deserialize_keras_object(config)


def assert_round_trip(model, input_shape, seed=0):
    """Checks that `model` survives both of Keras' round trips (`cls.from_config(get_config())` and
    serialize/deserialize): the same config and name, a new object of the same class with the same
    variable shapes, and, given the same weights, the same outputs on a random batch.

    Returns the deserialized copy (built)."""
    shape = tuple(input_shape)
    if not model.built:
        model.build(shape)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config and clone.name == model.name
    copy = roundtrip(model)
    for other in (clone, copy):
        assert type(other) is type(model) and other is not model
        if not other.built:  # a deserialized built model comes back built
            other.build(shape)
        assert [tuple(v.shape) for v in other.weights] == [tuple(v.shape) for v in model.weights]
        other.set_weights(model.get_weights())
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (2,) + shape[1:]).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    for other in (clone, copy):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(other(x)), expected)
    return copy


# -- running the commands ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
# KerasTuner's distributed mode reads these: a command under test must never join a search by accident.
KERASTUNER_VARIABLES = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def cli_env(**overrides):
    """The environment a command under test runs in: TensorFlow's C++ logs quiet, this checkout
    first on the path, no GPU, none of KerasTuner's distributed variables; then `overrides`
    (a value of None removes the variable)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    for name in KERASTUNER_VARIABLES:
        env.pop(name, None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


CLI_ENV = cli_env()


def command(module, *flags):
    """The argv of `python -m module flags...` with this interpreter."""
    return [sys.executable, "-m", module, *flags]


def run(cmd, *, cwd=ROOT, env=None, timeout=300):
    """Runs `cmd` (an argv) to completion from `cwd` (the repository root) in `env` (`CLI_ENV`);
    the CompletedProcess, its output captured as text."""
    return subprocess.run(cmd, cwd=cwd, env=CLI_ENV if env is None else env, capture_output=True, text=True,
                          timeout=timeout)


def run_cli(module, *flags, timeout=300, **kwargs):
    """`python -m module flags...` from the repository root (see `run`)."""
    return run(command(module, *flags), timeout=timeout, **kwargs)


def fake_run(root, name, seed, val, test, **config):
    """A run directory root/name/s<seed> with a config.json, a best.json (val and test probe
    accuracies at epoch 3) and three epochs done, as `report` reads one (no training)."""
    import json

    run_dir = Path(root) / name / f"s{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(Config(seed=seed, **config).to_json())
    (run_dir / "best.json").write_text(json.dumps({"epoch": 3, "val_probe_accuracy": val,
                                                   "test_probe_accuracy": test}))
    (run_dir / "metrics.csv").write_text("epoch,x\n1,0\n2,0\n3,0\n")
    return run_dir
