"""Strips: paths between examples as numpy arrays (what the figures draw and the callbacks
save): in pixel space, and decoded from code space: the linear or feature-map path between two
inputs, a weighted path between k inputs (with the three-way path's weights), and the class
mixer's strip over attribute vectors (with the columns a class-mixer figure decodes).
"""

import numpy as np

from amr_tf.evaluation.codes import decode_numpy


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
    import tensorflow as tf

    from amr_tf import mixers

    h = encoder(tf.stack([x_a, x_b]), training=False)
    h_a, h_b = h[0:1], h[1:2]
    if mixer in mixers.FEATURE_MIXERS:
        codes = tf.concat(
            [mixers.bernoulli_fixed(h_a, h_b, float(f)) for f in np.linspace(1.0, 0.0, steps)], axis=0
        )
    else:
        codes = tf.concat([mixers.mixup_fixed(h_a, h_b, float(a)) for a in np.linspace(1.0, 0.0, steps)], axis=0)
    return decoder(codes, training=False).numpy()


def weighted_strip(encoder, decoder, inputs, weights, clip=True):
    """Decodes mixes of k inputs with given weights: g(sum_j weights[s, j] f(inputs[j])).

    Args:
        inputs: k images [k, H, W, C] (or points [k, D]).
        weights: [S, k], each row a point of the path (rows of barycentric weights for mixup).
        clip: clip the images to [-1, 1].

    Returns:
        float32 [S, H, W, C].
    """
    import tensorflow as tf

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
    import tensorflow as tf

    from amr_tf import mixers

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


def pixel_interpolation(x_a: np.ndarray, x_b: np.ndarray, steps: int) -> np.ndarray:
    """Pixel-space interpolation (1 - t) x_a + t x_b for t = linspace(0, 1, steps).

    A single image [H, W, C] gives [steps, H, W, C]; a batch [n, H, W, C] gives
    [n, steps, H, W, C]. Images stay in their input range.
    """
    x_a, x_b = np.asarray(x_a, np.float32), np.asarray(x_b, np.float32)
    if x_a.shape != x_b.shape:
        raise ValueError(f"x_a {x_a.shape} and x_b {x_b.shape} differ in shape")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)
    if x_a.ndim == 3:
        return (1.0 - t)[:, None, None, None] * x_a[None] + t[:, None, None, None] * x_b[None]
    if x_a.ndim == 4:
        return (1.0 - t)[None, :, None, None, None] * x_a[:, None] + t[None, :, None, None, None] * x_b[:, None]
    raise ValueError(f"expected an image [H, W, C] or a batch [n, H, W, C]; got shape {x_a.shape}")
