"""PNG grids of images in [-1, 1]: what people look at after each epoch."""

from pathlib import Path

import numpy as np
from PIL import Image

from amr_tf import rundir


def to_uint8(images):
    """Maps images in [-1, 1] to uint8 [0, 255] (values outside are clipped)."""
    return np.clip((np.asarray(images, np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def grid(rows, pad=1):
    """Tiles rows of images into one uint8 picture.

    Args:
        rows: a sequence of rows, each an array [N, H, W, C] in [-1, 1] (rows may differ in N).
        pad: pixels of white between tiles.

    Returns:
        uint8 array [rows * (H + pad) + pad, max N * (W + pad) + pad, C].
    """
    rows = [to_uint8(r) for r in rows]
    h, w, c = rows[0].shape[1:]
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            top, left = pad + i * (h + pad), pad + j * (w + pad)
            out[top: top + h, left: left + w] = img
    return out


def save_png(path, picture, scale=2):
    """Writes a uint8 [H, W, 1|3] picture as PNG, upscaled `scale` times (nearest)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = np.asarray(picture)
    if scale > 1:
        picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    mode_image = Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture)
    return rundir.atomic_write(path, lambda f: mode_image.save(f, format="PNG"), binary=True)


BLUE, ORANGE = (31, 119, 180), (255, 127, 14)  # real data, decoded mixes (as the supplement's Fig. 12)


def scatter(point_sets, colors=(BLUE, ORANGE), size=256, extent=1.25, dot=1):
    """Rasterises sets of 2-D points onto one RGB picture (later sets drawn on top).

    Args:
        point_sets: sequence of arrays [N, 2] (x right, y up) in about [-extent, extent].
        colors: one RGB triple per set.
        size: picture width and height in pixels.
        extent: half the side of the square shown.
        dot: a point covers (2 * dot + 1)^2 pixels.

    Returns:
        uint8 array [size, size, 3] (points outside the square are dropped).
    """
    out = np.full((size, size, 3), 255, np.uint8)
    mid = size // 2
    out[mid, :], out[:, mid] = 225, 225  # faint axes
    for points, color in zip(point_sets, colors):
        p = np.asarray(points, np.float64).reshape(-1, 2)
        cols = np.round((p[:, 0] + extent) / (2 * extent) * (size - 1)).astype(int)
        rows = np.round((extent - p[:, 1]) / (2 * extent) * (size - 1)).astype(int)
        for dr in range(-dot, dot + 1):
            for dc in range(-dot, dot + 1):
                r, c = rows + dr, cols + dc
                keep = (r >= 0) & (r < size) & (c >= 0) & (c < size)
                out[r[keep], c[keep]] = color
    return out
