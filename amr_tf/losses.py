"""Losses of the paper (Eqs. 2, 3 and 7) and the original code as pure functions.

Every loss returns per-example float32 values of shape [B] (inputs are cast to
float32 first, so losses stay float32 under a mixed-precision policy); the trainer
reduces them with `average` and the global batch size.
"""

import tensorflow as tf

from amr_tf import registry

GAN_LOSSES = ("bce", "mse")
RECON_LOSSES = ("l1", "l2", "bce", "bce_sum")
_EPS = 1e-7  # clip for the Bernoulli likelihood of "bce" reconstruction


def _check(kind, kinds, what):
    registry.check(f"{what} loss", kind, kinds, as_python=True)


def _per_example(values, reduce):
    """Reduces `values` over every non-batch axis (rank >= 1)."""
    return reduce(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def gan_loss(logits, target, kind="bce"):
    """l_GAN(D(x), target) of Eqs. 2-3, per example.

    "bce" (JS-GAN, Goodfellow et al. 2014): -t log sigmoid(z) - (1 - t) log(1 - sigmoid(z)).
    "mse" (LS-GAN as the original code computed it, its D ending in a sigmoid):
    (sigmoid(z) - t)^2.

    Args:
        logits: D's logits z, shape [B].
        target: t, a Python float (1 real, 0 fake) or a [B] tensor (e.g. ACAI's 2 min(a, 1 - a)).
        kind: one of `GAN_LOSSES`.

    Returns:
        float32 tensor [B].
    """
    _check(kind, GAN_LOSSES, "GAN")
    logits = tf.cast(logits, tf.float32)
    target = tf.zeros_like(logits) + tf.cast(target, tf.float32)
    if kind == "bce":
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits)
    return tf.square(tf.sigmoid(logits) - target)


def reconstruction_loss(x, r, kind="l1"):
    """recon(x, r) = ||x - r|| of Eq. 2, per example.

    "l1": mean |x - r| (the original code's default); "l2": mean (x - r)^2 (the paper's
    ||.||_2^2 up to a constant); "bce": mean Bernoulli cross-entropy of target (x + 1) / 2
    under prediction (r + 1) / 2 clipped to [1e-7, 1 - 1e-7]; "bce_sum": the same summed
    per image (dSprites, beta-VAE). Means and sums run over every non-batch axis, so
    images [B, H, W, C] and points [B, 2] both work.

    Args:
        x: target in [-1, 1], shape [B, ...].
        r: reconstruction g(f(x)), same shape.
        kind: one of `RECON_LOSSES`.

    Returns:
        float32 tensor [B].
    """
    _check(kind, RECON_LOSSES, "reconstruction")
    x, r = tf.cast(x, tf.float32), tf.cast(r, tf.float32)
    if kind == "l1":
        return _per_example(tf.abs(x - r), tf.reduce_mean)
    if kind == "l2":
        return _per_example(tf.square(x - r), tf.reduce_mean)
    t = (x + 1.0) / 2.0
    p = tf.clip_by_value((r + 1.0) / 2.0, _EPS, 1.0 - _EPS)
    bce = -(t * tf.math.log(p) + (1.0 - t) * tf.math.log(1.0 - p))
    return _per_example(bce, tf.reduce_sum if kind == "bce_sum" else tf.reduce_mean)


def consistency_loss(h_mix, h_re, kind="l1"):
    """Consistency term recon(f(g(h_mix)), h_mix) of the supplement (section 7.3), per example.

    The mixed code is the target; whether gradients reach it is the caller's choice.

    Args:
        h_mix: mixed code, shape [B, ...].
        h_re: f(g(h_mix)), the re-encoded decoding, same shape.
        kind: one of `RECON_LOSSES`.

    Returns:
        float32 tensor [B].
    """
    return reconstruction_loss(h_mix, h_re, kind)


def classifier_loss(labels, logits):
    """Softmax cross-entropy -sum_c y_c log softmax(z)_c: the probe's loss and l_cls of Eq. 7.

    Args:
        labels: one-hot or soft labels [B, n_classes].
        logits: [B, n_classes].

    Returns:
        float32 tensor [B].
    """
    return tf.nn.softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.float32), logits=tf.cast(logits, tf.float32))


def classifier_accuracy(labels, logits):
    """1.0 where argmax(logits) == argmax(labels), else 0.0; float32 [B]."""
    hit = tf.equal(tf.argmax(labels, axis=-1), tf.argmax(logits, axis=-1))
    return tf.cast(hit, tf.float32)


def attribute_loss(attributes, logits):
    """l_cls of Eq. 7: sigmoid cross-entropy per attribute, averaged over attributes.

    The auxiliary classifier p(y|x) scores each binary attribute independently (CelebA's
    attributes are not exclusive; one-hot classes are A attributes of which one is on).
    Targets may be soft: y_mix = a y_1 + (1 - a) y_2 of Eq. 7.

    Args:
        attributes: targets in [0, 1], [B, A].
        logits: [B, A].

    Returns:
        float32 tensor [B].
    """
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(attributes, tf.float32), logits=tf.cast(logits, tf.float32)), axis=-1)


def attribute_accuracy(attributes, logits):
    """1.0 where every attribute is right after thresholding both at 0.5, else 0.0; float32 [B].

    (A target of exactly 0.5 counts as off.) For one-hot classes mixed with a > 0.5 this
    asks the classifier to find the majority parent's class and nothing else.
    """
    target = tf.cast(attributes, tf.float32) > 0.5
    predicted = tf.cast(logits, tf.float32) > 0.0
    return tf.cast(tf.reduce_all(tf.equal(target, predicted), axis=-1), tf.float32)


def gaussian_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, 1)) per unit, averaged over the units, per example.

    The closed form 0.5 (mu^2 + exp(logvar) - 1 - logvar) per unit. Averaged (not summed)
    over the units as the original code did (`kl_divergence(...).mean()`), so its
    --beta=100 on a 10-unit code is beta = 10 in the usual summed form.

    Args:
        mu, logvar: [B, ...] mean and log-variance of the posterior.

    Returns:
        float32 tensor [B].
    """
    mu, logvar = tf.cast(mu, tf.float32), tf.cast(logvar, tf.float32)
    return _per_example(0.5 * (tf.square(mu) + tf.exp(logvar) - 1.0 - logvar), tf.reduce_mean)


def average(per_example, global_batch_size=None):
    """Mean of per-example losses that is correct on every replica.

    Under `tf.distribute`, each replica's gradients are summed across replicas, and
    Keras 3 does not rescale a loss computed in a hand-written `train_step`: a plain
    `reduce_mean` would give replicas x the single-device gradient. Dividing the
    replica's sum by the *global* batch size makes the summed gradients equal the
    single-device ones (`tf.nn.compute_average_loss`).

    Args:
        per_example: float tensor [B] (this replica's examples).
        global_batch_size: examples across all replicas; None means B times the
            number of replicas in sync (B itself outside a strategy).

    Returns:
        float32 scalar.
    """
    return tf.nn.compute_average_loss(
        tf.cast(per_example, tf.float32), global_batch_size=global_batch_size)
