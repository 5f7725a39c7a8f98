"""The `class_mixer` metric: the supervised mixer (section 2.2, Eq. 7) judged by an outside classifier.

A run trained with `--cls` decodes Mix_sup(f(x1), f(x2), y_mix), y_mix = a y1 + (1 - a) y2, into
an image that its own discriminator's class head should call y1 when a > 1/2 and y2 when a < 1/2.
D's head was trained with the mixer, so it is no judge. Here the judge is a small CNN trained
separately on the real train images (cached per data set under $AMR_TF_CACHE/judges, so that
every run on a data set meets the same judge). For test pairs of different classes and each a
of `linspace(1, 0, steps)` (a = 1/2 left out):

- `class_mixer_agreement`: how often the judge says the intended class of the class mixer's
  decoded mix (the mask set to its expectation p = embed(y_mix), as in the figure);
- `plain_mixup_agreement`: the same pairs and a, mixed without the class mixer
  (a f(x1) + (1 - a) f(x2));
- `class_mixer_chance`: 1 / classes; and the judge's accuracy on the real test images and on
  their reconstructions, the ceiling any mix can reach through this decoder.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from amr_tf.evaluation import codes

NAME = "class_mixer"
OPTIONS = ("steps", "seed")
SCALARS = ("class_mixer_agreement", "plain_mixup_agreement", "judge_recon_accuracy")
PAIRS = 500
JUDGE = {"examples": 20000, "steps": 1000, "batch_size": 128, "lr": 1e-3, "seed": 0}


def why_not(config):
    """None for a run with a class mixer on one-hot class labels, else the reason (one line)."""
    if config.cls <= 0:
        return "needs a run trained with the class mixer (--cls > 0)"
    if codes.is_points(config) or config.attributes:
        return "needs images with one class label each (not points, not attribute vectors)"
    return None


def agreement(predicted, y1, y2, alphas):
    """Fraction of the (pair, a) cells, a != 1/2, where `predicted` [P, S] is y1 for a > 1/2 and
    y2 for a < 1/2 (class indices [P]; alphas [S]); and that fraction per a ([S], NaN at 1/2)."""
    alphas = np.asarray(alphas, np.float64)
    intended = np.where(alphas[None, :] > 0.5, np.asarray(y1)[:, None], np.asarray(y2)[:, None])
    hit = np.asarray(predicted) == intended
    scored = np.abs(alphas - 0.5) > 1e-6
    per_alpha = np.where(scored, hit.mean(axis=0), np.nan)
    return float(hit[:, scored].mean()), per_alpha


def different_pairs(labels, n, rng):
    """Up to n (i, j) of different labels: a random permutation's neighbours, each index once."""
    order = rng.permutation(len(labels))
    i, j = order[0::2], order[1::2]
    i = i[:len(j)]
    keep = labels[i] != labels[j]
    return i[keep][:n], j[keep][:n]


def _judge_path(config, shape, n_classes):
    # A folder's fingerprint names its images; a fixed source is named by its data set (and directory).
    data = config.data_fingerprint or [config.data_dir, config.subset_train]
    key = json.dumps([config.dataset, data, list(shape), n_classes, JUDGE], sort_keys=True)
    root = Path(os.environ.get("AMR_TF_CACHE") or Path.home() / ".cache" / "amr_tf") / "judges"
    return root / f"{config.dataset}_{hashlib.sha256(key.encode()).hexdigest()[:16]}.weights.h5"


def judge_model(shape, n_classes):
    """The judge: two strided convolutions, global average pooling and a softmax layer."""
    import keras

    return keras.Sequential([
        keras.Input(shape),
        keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(128, 3, strides=2, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(n_classes),
    ])


def train_judge(config, shape, n_classes, log=None):
    """The data set's judge, trained on its first JUDGE["examples"] train images (or loaded from
    the cache); returns (model, where its weights are)."""
    import keras

    path = _judge_path(config, shape, n_classes)
    model = judge_model(shape, n_classes)
    if path.is_file():
        model.load_weights(str(path))
        return model, path
    keras.utils.set_random_seed(JUDGE["seed"])
    model = judge_model(shape, n_classes)
    train = codes.split(config, "train")
    x, y = train.fetch(np.arange(min(train.size, JUDGE["examples"])))
    model.compile(optimizer=keras.optimizers.Adam(JUDGE["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    epochs = -(-JUDGE["steps"] * JUDGE["batch_size"] // len(x))  # at least JUDGE["steps"] updates
    if log:
        print(f"class_mixer: training the judge on {len(x)} real train images ({epochs} epochs; cached in {path})",
              file=log, flush=True)
    model.fit(np.asarray(x, np.float32), np.argmax(y, axis=1), batch_size=JUDGE["batch_size"],
              epochs=epochs, shuffle=True, verbose=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.tmp.weights.h5")
    model.save_weights(str(tmp))
    tmp.replace(path)
    return model, path


def _classify(judge, images, batch_size=512):
    return np.concatenate([np.argmax(judge(images[i:i + batch_size], training=False), axis=1)
                           for i in range(0, len(images), batch_size)])


def evaluate(run_dir, config, nets, *, steps, seed, log=None):
    """Scores the class mixer's decoded mixes with the judge (see the module's doc).

    Returns:
        {"judge", "pairs", "alphas", "per_alpha": {...}, "summary": {...}}.
    """
    import sys

    import tensorflow as tf

    from amr_tf import mixers

    del run_dir
    test = codes.split(config, "test")
    x, y = test.fetch(np.arange(test.size))
    x, labels = np.asarray(x, np.float32), np.argmax(y, axis=1)
    n_classes = int(y.shape[1])
    judge, path = train_judge(config, x.shape[1:], n_classes, log or sys.stderr)
    h = codes.encode_numpy(nets.encoder)(x)
    i, j = different_pairs(labels, PAIRS, np.random.default_rng(seed))
    alphas = np.linspace(1.0, 0.0, steps).astype(np.float32)
    eye = np.eye(n_classes, dtype=np.float32)
    class_mixed, plain = [], []
    for a in alphas:  # one column of every pair at a time
        y_mix = a * eye[labels[i]] + (1 - a) * eye[labels[j]]
        mixed = mixers.class_mix_fixed(h[i], h[j], y_mix, nets.class_mixer)
        class_mixed.append(_classify(judge, codes.decode_numpy(nets.decoder, mixed)))
        plain.append(_classify(judge, codes.decode_numpy(nets.decoder, tf.constant(a * h[i] + (1 - a) * h[j]))))
    class_mixed, plain = np.stack(class_mixed, axis=1), np.stack(plain, axis=1)
    mixer_score, mixer_curve = agreement(class_mixed, labels[i], labels[j], alphas)
    plain_score, plain_curve = agreement(plain, labels[i], labels[j], alphas)
    real = float(np.mean(_classify(judge, x) == labels))
    recon = float(np.mean(_classify(judge, codes.decode_numpy(nets.decoder, h)) == labels))
    either = float(np.mean((class_mixed == labels[i][:, None]) | (class_mixed == labels[j][:, None])))
    return {"judge": {"weights": str(path), **JUDGE}, "pairs": int(len(i)),
            "alphas": [round(float(a), 4) for a in alphas],
            "per_alpha": {"class_mixer": [None if np.isnan(v) else round(float(v), 4) for v in mixer_curve],
                          "plain_mixup": [None if np.isnan(v) else round(float(v), 4) for v in plain_curve]},
            "summary": {"class_mixer_agreement": round(mixer_score, 4),
                        "plain_mixup_agreement": round(plain_score, 4),
                        "class_mixer_either_class": round(either, 4),
                        "class_mixer_chance": round(1.0 / n_classes, 4),
                        "judge_test_accuracy": round(real, 4), "judge_recon_accuracy": round(recon, 4)}}
