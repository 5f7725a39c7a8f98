"""The paper's figures as PNG (and one GIF), from a run's networks and a few examples.

Each function takes the networks and the examples to draw (chosen by the caller, e.g.
`amr_tf.evaluate` with a fixed seed), writes one file and returns a small description of
it for the evaluation's JSON (what the rows and columns are). Images are in [-1, 1];
decoded images are clipped to [-1, 1] (the data's range), as the served decoder clips them.

- `pairs`: interpolation strips between pairs: pixel space, then one row per run (this run,
  then any runs to compare, e.g. AE+GAN vs AMR).
- `k2_vs_k3`: a 2-way mix strip between two inputs against a 3-way path between the same two
  that bends towards a third input (barycentric weights over the triangle).
- `bernoulli`: Bernoulli mixup with a growing fraction of feature maps from the second input
  (a nested set, `mixers.bernoulli_fixed`), under the linear strip of the same pair.
- `class_mixer`: the supervised class mixer (Fig. 5): for pairs with different labels, one
  column per attribute vector y (y_mix = a y1 + (1 - a) y2, or every corner of the attribute
  cube for multi-hot attributes), decoded from `mixers.class_mix_fixed`.
- `spiral`: the 2-D spiral (Fig. 12): real points in blue, decoded random mixes in orange.
- `gif`: an animated GIF of one interpolation, there and back.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from amr_tf import images, mixers, rundir
from amr_tf.evaluation import strips
from amr_tf.evaluation.codes import decode_numpy

SCALE = 2  # pixels per image pixel in the PNGs
LABEL_WIDTH = 128  # pixels of the left margin holding the row labels


def labelled(rows, labels, scale=SCALE, pad=1):
    """images.grid(rows) upscaled, with each row's label written in a left margin (RGB or L)."""
    picture = images.grid(rows, pad=pad)
    picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    tile = np.asarray(rows[0]).shape[1]
    mode = "L" if picture.shape[-1] == 1 else "RGB"
    canvas = Image.new(mode, (picture.shape[1] + LABEL_WIDTH, picture.shape[0]), 255 if mode == "L" else (255,) * 3)
    canvas.paste(Image.fromarray(picture[..., 0] if mode == "L" else picture), (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        top = (pad + i * (tile + pad)) * scale
        draw.text((4, top + max(tile * scale // 2 - 6, 0)), str(label)[:22], fill=0 if mode == "L" else (0, 0, 0))
    out = np.asarray(canvas)
    return out[..., None] if out.ndim == 2 else out


def _save(path, picture):
    return str(images.save_png(path, picture, scale=1))


def _ends(x_a, strip, x_b):
    """[x_a, strip..., x_b]: the inputs framing a decoded strip."""
    return np.concatenate([np.asarray(x_a)[None], strip, np.asarray(x_b)[None]])


def pairs(path, x_a, x_b, runs, steps=8):
    """Strips between pairs of inputs: pixel space, then a row per run.

    Args:
        path: the PNG to write.
        x_a, x_b: [P, H, W, C] the pairs' first and second inputs.
        runs: sequence of (label, encoder, decoder); the first is the run evaluated.
        steps: images between the two inputs (the inputs frame each row).

    Returns:
        {"file", "rows": labels of the rows of one pair (repeated per pair), "pairs": P, "steps"}.
    """
    rows, labels = [], []
    for a, b in zip(x_a, x_b):
        rows.append(_ends(a, strips.pixel_interpolation(a, b, steps), b))
        labels.append("pixel")
        for label, encoder, decoder in runs:
            strip = np.clip(strips.interpolation_strip(encoder, decoder, a, b, steps, "mixup"), -1, 1)
            rows.append(_ends(a, strip, b))
            labels.append(label)
    row_labels = ["pixel", *[label for label, _, _ in runs]]
    return {"file": _save(path, labelled(rows, labels)), "rows": row_labels, "pairs": int(len(x_a)),
            "steps": int(steps), "columns": "input a, decoded alpha = 1 .. 0 (mixup), input b"}


def k2_vs_k3(path, triples, encoder, decoder, steps=8):
    """2-way against 3-way mixes on the same two ends.

    For each triple (a, b, c): the row "k=2" decodes (1 - t) f(a) + t f(b); the row "k=3"
    decodes ((1 - t)^2, t^2, 2 t (1 - t)) . (f(a), f(b), f(c)), a path over the triangle
    that starts at a, ends at b and passes closest to c half-way (weights 1/4, 1/4, 1/2).
    Each row is framed by a and b; the "k=3" row shows c after b.

    Args:
        triples: [T, 3, H, W, C].
    """
    weights3 = strips.three_way_path(steps)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)
    weights2 = np.stack([1 - t, t, np.zeros_like(t)], axis=1)
    rows, labels = [], []
    for a, b, c in triples:
        inputs = np.stack([a, b, c])
        rows.append(_ends(a, strips.weighted_strip(encoder, decoder, inputs, weights2), b))
        rows.append(np.concatenate([_ends(a, strips.weighted_strip(encoder, decoder, inputs, weights3), b),
                                    np.asarray(c)[None]]))
        labels += ["k=2", "k=3 (via c, right)"]
    return {"file": _save(path, labelled(rows, labels)), "triples": int(len(triples)), "steps": int(steps),
            "rows": ["k=2: a, decoded (1-t, t) on (a, b), b",
                     "k=3: a, decoded ((1-t)^2, t^2, 2t(1-t)) on (a, b, c), b, then c"]}


def bernoulli(path, x_a, x_b, encoder, decoder, steps=8, seed=0):
    """Bernoulli mixup strips: the share of feature maps from a falls from 1 to 0 (nested sets,
    ordered by `seed`), under the linear (mixup) strip of the same pair."""
    rows, labels = [], []
    fractions = np.linspace(1.0, 0.0, steps, dtype=np.float32)
    for a, b in zip(x_a, x_b):
        rows.append(_ends(a, np.clip(strips.interpolation_strip(encoder, decoder, a, b, steps, "mixup"), -1, 1), b))
        h = encoder(np.stack([a, b]).astype(np.float32), training=False)
        codes = mixers.bernoulli_fixed(h[0:1], h[1:2], fractions, seed=seed)
        rows.append(_ends(a, decode_numpy(decoder, codes), b))
        labels += ["mixup", "bernoulli"]
    return {"file": _save(path, labelled(rows, labels)), "pairs": int(len(x_a)), "steps": int(steps),
            "fractions_from_a": [round(float(f), 4) for f in fractions],
            "rows": ["mixup (alpha 1 .. 0)", "bernoulli_fixed (share of feature maps from a, 1 .. 0)"]}


def class_mixer(path, x_a, x_b, y_a, y_b, encoder, decoder, mixer_net, steps=8):
    """The class mixer's figure (Fig. 5): each row a pair (with different labels), each column
    an attribute vector y decoded from Mix_sup(f(a), f(b), y), mask p = embed(y)."""
    rows, columns = [], None
    for a, b, ya, yb in zip(x_a, x_b, y_a, y_b):
        attributes, columns = strips.attribute_columns(ya, yb, steps)
        strip = strips.class_mix_strip(encoder, decoder, mixer_net, a, b, attributes)
        rows.append(_ends(a, strip, b))
    labels = [f"{int(np.argmax(ya))}|{int(np.argmax(yb))}" if abs(float(np.sum(ya)) - 1) < 1e-6 else "pair"
              for ya, yb in zip(y_a, y_b)]
    return {"file": _save(path, labelled(rows, labels)), "pairs": int(len(x_a)),
            "columns": ["input a", *columns, "input b"],
            "rows": "one pair each, labelled 'class of a|class of b' for one-hot labels"}


def spiral(path, points, encoder, decoder, mixer="mixup", k=2, seed=0):
    """Fig. 12: the data (blue) and decoded random mixes of its codes (orange)."""
    h = encoder(np.asarray(points, np.float32), training=False)
    mixed = mixers.mix(h, mixers.drawn_with(mixer), k, seed=seed).h
    decoded = decode_numpy(decoder, mixed, clip=False)
    picture = images.scatter([points, decoded], size=384)
    return {"file": _save(path, picture), "points": int(len(points)), "mixer": mixers.drawn_with(mixer),
            "k": int(k), "colors": {"blue": "data (valid split)", "orange": "decoded mixes"}}


def gif(path, strip, scale=4, duration_ms=120):
    """An animated GIF of a strip [S, H, W, C] in [-1, 1], played forwards then backwards."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = images.to_uint8(strip).repeat(scale, axis=1).repeat(scale, axis=2)
    frames = [Image.fromarray(f[..., 0]) if f.shape[-1] == 1 else Image.fromarray(f).quantize(256) for f in frames]
    frames = frames + frames[-2:0:-1]
    rundir.atomic_write(path, lambda f: frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                                                       duration=duration_ms, loop=0), binary=True)
    return {"file": str(path), "frames": len(frames), "duration_ms": duration_ms}
