"""Three AMR steps under MirroredStrategy (2 logical CPUs) and under the default strategy on the
same global batches, seeds and initial weights; prints the largest weight difference per network.

Run as a script (the CPU must be split before TensorFlow starts):
    python tests/scripts/mirrored_vs_default.py MIXER K STEPS OPTIMIZER [DTYPE [TAIL]]

TAIL > 0 appends a partial batch of TAIL examples after the STEPS full ones (last_batch="keep";
the replicas split it evenly, so TAIL must be a multiple of 2).

OPTIMIZER "adam" is the real configuration; "sgd" recompiles with plain SGD, whose update
is proportional to the gradient, so a loss averaged over the wrong batch size (which Adam's
normalisation would hide) shows up as a factor in the weights. DTYPE "float64" (default
"float32") runs the networks in double precision, so that the two strategies' different
summation orders leave differences of float64 round-off, far below any real disagreement.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from trainers import strategy as strategies  # noqa: E402

strategies.split_cpu(2)

from amr_tf.config import Config  # noqa: E402
from amr_tf.data import DataInfo  # noqa: E402
from trainers.build import build_trainer  # noqa: E402

NETS = ("encoder", "decoder", "discriminator", "probe")


def train(strategy, config, batches, optimizer, dtype):
    import keras

    with strategy.scope():
        trainer = build_trainer(config, DataInfo("random", (32, 32, 1), 10, {}, "random"), dtype=dtype)
        initial = {n: [v.numpy() for v in getattr(trainer, n).trainable_variables] for n in NETS}
        if optimizer == "sgd":
            trainer.compile(*(keras.optimizers.SGD(0.05, name=f"sgd{i}") for i in range(3)))
    ds = tf.data.Dataset.from_tensor_slices(batches).batch(config.batch_size)  # the last may be partial
    dist = strategy.experimental_distribute_dataset(ds)

    steps = {due: tf.function(lambda batch, due=due: strategy.run(
        trainer.train_step, args=(batch,), kwargs={"update_generator": due})) for due in (True, False)}
    for i, batch in enumerate(dist):
        steps[trainer.generator_due(i)](batch)
    weights = {n: [v.numpy() for v in getattr(trainer, n).trainable_variables] for n in NETS}
    logs = {m.name: float(m.result()) for m in trainer.metrics}
    moved = {n: max(float(np.max(np.abs(a - b))) for a, b in zip(weights[n], initial[n])) for n in NETS}
    return weights, logs, int(trainer.ae_optimizer.iterations.numpy()), moved, initial


def main():
    mixer, k, steps, optimizer = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    dtype = sys.argv[5] if len(sys.argv) > 5 else "float32"
    tail = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    config = Config(dataset="digits", mixer=mixer, k=k, batch_size=8, update_g_every=2, seed=3)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (steps * 8 + tail, 32, 32, 1)).astype(dtype)
    y = np.eye(10, dtype=dtype)[rng.integers(0, 10, steps * 8 + tail)]
    mirrored = strategies.make_strategy("mirrored")
    w_one, logs_one, g_one, moved, initial = train(tf.distribute.get_strategy(), config, (x, y), optimizer, dtype)
    w_two, logs_two, g_two, _, _ = train(mirrored, config, (x, y), optimizer, dtype)
    flat = {n: np.abs(np.concatenate([(a - b).ravel() for a, b in zip(w_one[n], w_two[n])])) for n in NETS}
    diffs = {n: float(flat[n].max()) for n in NETS}
    p999 = {n: float(np.quantile(flat[n], 0.999)) for n in NETS}
    # ||w_default - w_mirrored|| relative to ||w_default - w_initial||: the size of the
    # disagreement as a fraction of how far training moved the network.
    relative = {n: float(np.linalg.norm(flat[n]) / np.linalg.norm(np.concatenate(
        [(a - b).ravel() for a, b in zip(w_one[n], initial[n])]))) for n in NETS}
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync, "max_abs_diff": diffs, "p999_abs_diff": p999,
                      "relative_diff": relative, "update_size": moved,
                      "logs_default": logs_one, "logs_mirrored": logs_two, "g_updates": [g_one, g_two]}))


if __name__ == "__main__":
    main()
