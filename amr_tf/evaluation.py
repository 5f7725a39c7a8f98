"""Measuring a trained auto-encoder: probe accuracy and interpolation strips as arrays."""

import numpy as np
import tensorflow as tf

from amr_tf import mixers

FEATURE_MIXERS = ("bernoulli", "fm")


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
