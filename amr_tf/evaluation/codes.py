"""What the metrics, the figures and the training callbacks share: a trained auto-encoder's codes
and decodings as numpy arrays, the probe accuracy tracked during training, progress lines, the
splits and test examples a metric reads (the decoded strips the figures draw are `strips'; a
run's networks come from `amr_tf.checkpoint.load_networks`).

TensorFlow (and `amr_tf.mixers`, which imports it) is imported inside the functions that use
it, so that importing `amr_tf.evaluation` and its numpy metrics (`disentanglement`, `lines`)
stays light.
"""

import numpy as np

ENCODE_BATCH = 256  # examples per encoder call when a metric encodes a whole split


def probe_accuracy(encoder, probe, dataset):
    """Fraction of examples whose probe prediction matches the one-hot label.

    Args:
        encoder, probe: Keras models (codes -> logits).
        dataset: batches of (images, one-hot labels).
    """
    return ProbeAccuracy(encoder, probe)(dataset)


class ProbeAccuracy:
    """`probe_accuracy` for one encoder and probe, traced once: a training run asks every epoch,
    and a function made per call would be traced anew each time (TensorFlow then warns about
    retracing). The batch dimension is left free, for the last, partial batch."""

    def __init__(self, encoder, probe):
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def hits(x, y):
            logits = probe(encoder(x, training=False), training=False)
            return tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == tf.argmax(y, -1), tf.int64))

        self._hits = hits

    def __call__(self, dataset):
        correct, total = 0, 0
        for x, y in dataset:
            correct += int(self._hits(x, y))
            total += int(x.shape[0])
        return correct / max(total, 1)


# -- whole-split measurements (the metrics) -------------------------------------------------


class Progress:
    """A line on stderr now and then while a long job runs (tqdm is not a dependency).

    Args:
        label: what is being counted (e.g. "encoding train").
        total: the count at which the job is done.
        every_s: seconds between lines; nothing is printed for jobs shorter than that.
    """

    def __init__(self, label, total, every_s=10.0, stream=None):
        import sys
        import time

        self.label, self.total, self.every_s = label, max(int(total), 1), every_s
        self.stream = stream or sys.stderr
        self._clock = time.monotonic
        self.start = self.last = self._clock()
        self.done = 0
        self.printed = False

    def update(self, n):
        self.done += int(n)
        now = self._clock()
        if now - self.last >= self.every_s or (self.printed and self.done >= self.total):
            self.last = now
            self.printed = True
            elapsed = now - self.start
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            print(f"{self.label}: {self.done}/{self.total} ({100 * self.done / self.total:.0f}%), "
                  f"{elapsed:.0f} s, about {max(eta, 0):.0f} s left", file=self.stream, flush=True)


_CODE_FUNCTIONS = {}


def code_function(encoder):
    """A compiled `x -> f(x)` (float32; a VAE encoder gives its posterior mean), one per encoder."""
    import tensorflow as tf

    key = id(encoder)
    if key not in _CODE_FUNCTIONS or _CODE_FUNCTIONS[key][0] is not encoder:

        @tf.function(reduce_retracing=True)
        def encode(x):
            return tf.cast(encoder(x, training=False), tf.float32)

        _CODE_FUNCTIONS[key] = (encoder, encode)
        while len(_CODE_FUNCTIONS) > 8:  # keep the newest few encoders alive, not every one ever seen
            _CODE_FUNCTIONS.pop(next(iter(_CODE_FUNCTIONS)))
    return _CODE_FUNCTIONS[key][1]


def encode_numpy(encoder, batch_size=256):
    """`images (numpy) -> codes (numpy float32)`, in batches: what the numpy metrics call."""
    import tensorflow as tf

    encode = code_function(encoder)

    def run(x):
        x = np.asarray(x, np.float32)
        return np.concatenate([encode(tf.constant(x[i:i + batch_size])).numpy()
                               for i in range(0, len(x), batch_size)]) if len(x) else np.zeros((0,))

    return run


def decode_numpy(decoder, codes, batch_size=256, clip=True):
    """g(codes) as numpy float32, in batches; clipped to [-1, 1] (the data's range) by default."""
    import tensorflow as tf

    codes = tf.cast(codes, tf.float32)  # numpy, or a bfloat16 code of a mixed-precision run
    out = np.concatenate([tf.cast(decoder(codes[i:i + batch_size], training=False), tf.float32).numpy()
                          for i in range(0, int(codes.shape[0]), batch_size)])
    return np.clip(out, -1.0, 1.0) if clip else out


def reconstruction_l1(encoder, decoder, x, batch_size=256):
    """How well an auto-encoder reconstructs images x ([N, H, W, C] in [-1, 1]).

    Returns:
        (l1, constant_l1): the mean |x - g(f(x))| (decoded images clipped to [-1, 1]), and the
        same for the best constant image (the per-pixel median of x), which a decoder that
        has learned nothing about its input scores at best.
    """
    x = np.asarray(x, np.float32)
    recon = decode_numpy(decoder, encode_numpy(encoder, batch_size)(x), batch_size)
    return float(np.mean(np.abs(recon - x))), float(np.mean(np.abs(np.median(x, axis=0) - x)))


def split_codes(encoder, split_data, indices=None, batch_size=256, label=None):
    """Codes (flattened per example) and labels of a split.

    Args:
        encoder: the run's encoder.
        split_data: an `amr_tf.data.SplitData` (size and `fetch(indices)`).
        indices: which examples (default all), in the order given.
        batch_size: examples per fetch and per encoder call.
        label: if given, progress lines on stderr for long jobs ("encoding <label>").

    Returns:
        (codes float32 [n, d], labels float32 [n, n_classes]).
    """
    import tensorflow as tf

    indices = np.arange(split_data.size) if indices is None else np.asarray(indices, np.int64)
    encode = code_function(encoder)
    progress = Progress(f"encoding {label}", len(indices)) if label else None
    codes, labels = [], []
    for i in range(0, len(indices), batch_size):
        x, y = split_data.fetch(indices[i:i + batch_size])
        h = encode(tf.constant(np.asarray(x, np.float32))).numpy()
        codes.append(h.reshape(len(h), -1))
        labels.append(np.asarray(y, np.float32))
        if progress:
            progress.update(len(h))
    return np.concatenate(codes), np.concatenate(labels)


# -- a run's data -------------------------------------------------------------------------------


def split(config, name):
    """The run's split `name` (an `amr_tf.data.SplitData`: size and `fetch(indices)`)."""
    from amr_tf import data

    return data.get_source(config.dataset).split(name, config)


def is_points(config):
    """Whether the run's data are 2-D points (the spiral) rather than images."""
    from amr_tf.data import spiral

    return config.dataset in spiral.POINT_SOURCES


def pick(split_data, n, rng):
    """n examples of a split (all of them if it holds fewer), drawn without replacement by `rng`:
    (images float32, labels float32, indices)."""
    idx = rng.choice(split_data.size, min(n, split_data.size), replace=False)
    x, y = split_data.fetch(idx)
    return np.asarray(x, np.float32), np.asarray(y, np.float32), idx
