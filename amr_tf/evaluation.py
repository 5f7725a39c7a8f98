"""Measuring a trained auto-encoder: probe accuracy and interpolation strips as arrays."""

import numpy as np
import tensorflow as tf

from amr_tf import mixers
from amr_tf.mixers import FEATURE_MIXERS


def probe_accuracy(encoder, probe, dataset):
    """Fraction of examples whose probe prediction matches the one-hot label.

    Args:
        encoder, probe: Keras models (codes -> logits).
        dataset: batches of (images, one-hot labels).
    """
    correct, total = 0, 0

    @tf.function
    def hits(x, y):
        logits = probe(encoder(x, training=False), training=False)
        return tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == tf.argmax(y, -1), tf.int64))

    for x, y in dataset:
        correct += int(hits(x, y))
        total += int(x.shape[0])
    return correct / max(total, 1)


def interpolation_strip(encoder, decoder, x_a, x_b, steps=8, mixer="mixup"):
    """Decodes a path in code space from x_a to x_b.

    Args:
        encoder, decoder: Keras models.
        x_a, x_b: single images [H, W, C] in [-1, 1].
        steps: images in the strip (>= 2).
        mixer: "bernoulli"/"fm" take whole feature maps (a growing, nested set from x_b);
            anything else mixes linearly (mixup with alpha from 1 to 0).

    Returns:
        float32 array [steps, H, W, C]; the first is the reconstruction of x_a, the last of x_b.
    """
    h = encoder(tf.stack([x_a, x_b]), training=False)
    h_a, h_b = h[0:1], h[1:2]
    if mixer in FEATURE_MIXERS:
        codes = tf.concat(
            [mixers.bernoulli_fixed(h_a, h_b, float(f)) for f in np.linspace(1.0, 0.0, steps)], axis=0
        )
    else:
        codes = tf.concat([mixers.mixup_fixed(h_a, h_b, float(a)) for a in np.linspace(1.0, 0.0, steps)], axis=0)
    return decoder(codes, training=False).numpy()


# -- whole-split measurements (amr_tf.evaluate) ---------------------------------------------


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
    """`images (numpy) -> codes (numpy float32)`, in batches: what `amr_tf.metrics` calls."""
    encode = code_function(encoder)

    def run(x):
        x = np.asarray(x, np.float32)
        return np.concatenate([encode(tf.constant(x[i:i + batch_size])).numpy()
                               for i in range(0, len(x), batch_size)]) if len(x) else np.zeros((0,))

    return run


def decode_numpy(decoder, codes, batch_size=256, clip=True):
    """g(codes) as numpy float32, in batches; clipped to [-1, 1] (the data's range) by default."""
    codes = tf.cast(codes, tf.float32)  # numpy, or a bfloat16 code of a mixed-precision run
    out = np.concatenate([tf.cast(decoder(codes[i:i + batch_size], training=False), tf.float32).numpy()
                          for i in range(0, int(codes.shape[0]), batch_size)])
    return np.clip(out, -1.0, 1.0) if clip else out


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


def fit_linear_probe(train_codes, train_labels, eval_sets, max_iter=5000, seed=0):
    """A logistic-regression probe on frozen codes, fitted to convergence (scikit-learn, lbfgs).

    Codes are standardised with the train split's mean and std. One-hot labels give one
    multinomial regression (accuracy = argmax hits); multi-hot labels (CelebA attributes) give
    one binary regression per attribute (accuracy = mean over attributes of per-attribute hits).

    Args:
        train_codes, train_labels: [n, d] and [n, n_classes] of the train split.
        eval_sets: {name: (codes, labels)} to score.
        max_iter: lbfgs iteration cap (the result says whether it converged before it).
        seed: random_state of the solver.

    Returns:
        {"<name>_accuracy": float for each eval set, "train_accuracy", "converged": bool,
         "iterations": int, "labels": "one-hot" | "multi-hot"}.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_codes)
    multi_hot = bool(np.any(np.abs(np.sum(train_labels, axis=1) - 1.0) > 1e-6))

    def fit(x, y):
        model = LogisticRegression(solver="lbfgs", max_iter=max_iter, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if len(np.unique(y)) < 2:  # a constant label (e.g. an attribute never on in the subset)
                return None, 0
            model.fit(x, y)
        return model, int(np.max(model.n_iter_))

    x_train = scaler.transform(train_codes)
    sets = {"train": (train_codes, train_labels), **eval_sets}
    result = {"labels": "multi-hot" if multi_hot else "one-hot"}
    if multi_hot:
        models = [fit(x_train, (train_labels[:, a] > 0.5).astype(int)) for a in range(train_labels.shape[1])]
        iterations = max(n for _, n in models)
        for name, (codes, labels) in sets.items():
            x = scaler.transform(codes)
            hits = []
            for a, (model, _) in enumerate(models):
                truth = (labels[:, a] > 0.5).astype(int)
                guess = model.predict(x) if model is not None else np.full(len(x), int(train_labels[0, a] > 0.5))
                hits.append(np.mean(guess == truth))
            result[f"{name}_accuracy"] = float(np.mean(hits))
    else:
        model, iterations = fit(x_train, np.argmax(train_labels, axis=1))
        for name, (codes, labels) in sets.items():
            truth = np.argmax(labels, axis=1)
            guess = model.predict(scaler.transform(codes)) if model is not None else np.full(len(truth), truth[0])
            result[f"{name}_accuracy"] = float(np.mean(guess == truth))
    result.update(converged=bool(iterations < max_iter), iterations=int(iterations))
    return result


def weighted_strip(encoder, decoder, inputs, weights, clip=True):
    """Decodes mixes of k inputs with given weights: g(sum_j weights[s, j] f(inputs[j])).

    Args:
        inputs: k images [k, H, W, C] (or points [k, D]).
        weights: [S, k], each row a point of the path (rows of barycentric weights for mixup).
        clip: clip the images to [-1, 1].

    Returns:
        float32 [S, H, W, C].
    """
    h = tf.cast(encoder(tf.convert_to_tensor(inputs, tf.float32), training=False), tf.float32)
    w = tf.convert_to_tensor(weights, tf.float32)
    codes = tf.tensordot(w, h, axes=[[1], [0]])
    return decode_numpy(decoder, codes, clip=clip)


def three_way_path(steps):
    """Barycentric weights [steps, 3] for a path from input 0 to input 1 that bends towards
    input 2: ((1 - t)^2, t^2, 2 t (1 - t)), t = linspace(0, 1, steps) (a quadratic Bezier
    curve over the triangle; the middle step is 1/4, 1/4, 1/2). The k = 2 strip between the
    same two ends is the straight edge ((1 - t), t, 0)."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)
    return np.stack([(1 - t) ** 2, t ** 2, 2 * t * (1 - t)], axis=1)


def class_mix_strip(encoder, decoder, class_mixer, x_a, x_b, attributes, clip=True):
    """g(Mix_sup(f(x_a), f(x_b), y)) for each attribute vector y (the mask set to p = embed(y)).

    Args:
        x_a, x_b: single images [H, W, C].
        attributes: [S, A] attribute vectors.

    Returns:
        float32 [S, H, W, C].
    """
    h = encoder(tf.stack([tf.convert_to_tensor(x_a, tf.float32), tf.convert_to_tensor(x_b, tf.float32)]),
                training=False)
    codes = mixers.class_mix_fixed(h[0:1], h[1:2], np.asarray(attributes, np.float32), class_mixer)
    return decode_numpy(decoder, codes, clip=clip)


def attribute_columns(y_a, y_b, steps=8, max_corners=16):
    """The attribute vectors a class-mixer figure decodes, one per column.

    One-hot labels (or more attributes than fit `max_corners` corners): y_mix = a y_a +
    (1 - a) y_b for a = linspace(1, 0, steps). Multi-hot labels with 2^A <= max_corners:
    every corner of the attribute cube {0, 1}^A, in binary order.

    Returns:
        (float32 [S, A], list of S column labels).
    """
    y_a, y_b = np.asarray(y_a, np.float32), np.asarray(y_b, np.float32)
    one_hot = abs(float(y_a.sum()) - 1.0) < 1e-6 and abs(float(y_b.sum()) - 1.0) < 1e-6
    n = y_a.shape[-1]
    if not one_hot and 2 ** n <= max_corners:
        corners = np.array([[(c >> (n - 1 - j)) & 1 for j in range(n)] for c in range(2 ** n)], np.float32)
        return corners, ["".join(str(int(v)) for v in row) for row in corners]
    alphas = np.linspace(1.0, 0.0, steps, dtype=np.float32)
    return alphas[:, None] * y_a + (1 - alphas[:, None]) * y_b, [f"a={a:.2f}" for a in alphas]


def frechet_distance(mu1, sigma1, mu2, sigma2, method="eigh", eps=1e-6):
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2) (numpy/scipy):

        ||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^(1/2))

    Args:
        mu1, mu2: means [d].
        sigma1, sigma2: covariances [d, d] (symmetric, positive semi-definite).
        method: "eigh" (default): Tr((sigma1 sigma2)^(1/2)) as the sum of the square roots of
            the eigenvalues of sigma1^(1/2) sigma2 sigma1^(1/2), which has the same eigenvalues
            (symmetric eigendecompositions: about 3x faster than sqrtm for d = 2048, and
            real by construction). "sqrtm": scipy.linalg.sqrtm of the product, as the
            reference FID code (pytorch-fid, TTUR) computes it, with eps added to both
            diagonals when the result is not finite and the imaginary part dropped.

    Returns:
        float (>= 0 up to round-off).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    if method == "eigh":
        w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        inner = root @ sigma2 @ root
        trace_covmean = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None))))
    elif method == "sqrtm":
        from scipy import linalg

        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
        trace_covmean = float(np.trace(covmean).real)
    else:
        raise ValueError(f"unknown method {method!r}; choose eigh or sqrtm")
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean)
