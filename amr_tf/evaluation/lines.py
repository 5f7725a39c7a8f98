"""The `lines` metric: ACAI's Mean Distance and Smoothness of latent interpolations on lines.

The numpy cores: `lines_mean_distance`, `lines_smoothness`, `lines_metrics` are the "Mean
Distance" and "Smoothness" scores of ACAI's synthetic lines benchmark (Berthelot et al. 2019,
"Understanding and Improving Interpolation in Autoencoders via an Adversarial Regularizer",
arXiv:1807.07543, section 3.1), as brain-research/acai computes them (`lib/eval.py`:
`closest_line`, `smoothness_score`, `line_eval`), with the ideal lines drawn by this
package's `amr_tf.data.lines.render`; `ideal_interpolation` and `strips.pixel_interpolation` make
the reference strips. They take strips as numpy arrays (no TensorFlow). `evaluate` decodes a
run's interpolations and scores them beside those references.
"""

from typing import Dict, Tuple

import numpy as np

from amr_tf.evaluation import codes
from amr_tf.evaluation.strips import pixel_interpolation

NAME = "lines"
OPTIONS = ("interpolations", "steps", "seed")
SCALARS = ("lines_mean_distance", "lines_smoothness")


def why_not(config):
    """None for a `--dataset=lines` run, else the reason (one line)."""
    if config.dataset != "lines":
        return f"needs a run trained on --dataset=lines; this run is on '{config.dataset}'"
    return None


N_IDEAL = 10000
_IDEAL_CACHE: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}


def _render_pm1(angles: np.ndarray) -> np.ndarray:
    """Angles [n] -> line images float32 [n, 32, 32, 1] in [-1, 1] (the pipeline's range)."""
    from amr_tf.data import lines

    angles = np.asarray(angles, np.float64).reshape(-1)
    out = [lines.render(angles[i:i + 1000]) * 2.0 - 1.0 for i in range(0, len(angles), 1000)]
    return np.concatenate(out) if out else np.zeros((0,) + lines.IMAGE_SHAPE, np.float32)


def ideal_lines(n_ideal: int = N_IDEAL) -> Tuple[np.ndarray, np.ndarray]:
    """ACAI's reference lines: (angles [n], unit-norm flat images float64 [n, 1024]).

    The angles are `linspace(0, 2 pi - 2 pi / n, n)`, as in ACAI's `closest_line`. The
    images are drawn by `amr_tf.data.lines.render`, mapped to [-1, 1] and divided by
    their norm. They are cached per n.
    """
    if n_ideal not in _IDEAL_CACHE:
        angles = np.linspace(0.0, 2 * np.pi - 2 * np.pi / n_ideal, n_ideal)
        flat = _render_pm1(angles).reshape(n_ideal, -1).astype(np.float64)
        flat /= np.linalg.norm(flat, axis=1, keepdims=True)
        _IDEAL_CACHE[n_ideal] = (angles, flat)
    return _IDEAL_CACHE[n_ideal]


def closest_line(images: np.ndarray, n_ideal: int = N_IDEAL) -> Tuple[np.ndarray, np.ndarray]:
    """Cosine distance to, and angle of, the nearest ideal line for each image.

    The numpy equivalent of ACAI's `closest_line` (`scipy.spatial.distance.cdist(...,
    'cosine')`): `d(x, y) = 1 - <x, y> / (|x| |y|)` on flattened images in [-1, 1]. An
    all-zero image, which has no direction, is given distance 1 where scipy would give
    NaN.

    Args:
        images: [n, 32, 32, 1] or [n, 32, 32], in [-1, 1].
        n_ideal: how many ideal lines, at evenly spaced angles.

    Returns:
        (min_dist float64 [n], angle of the nearest ideal line float64 [n], in [0, 2 pi)).
    """
    angles, ideal = ideal_lines(n_ideal)
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    if flat.shape[1] != ideal.shape[1]:
        raise ValueError(f"images have {flat.shape[1]} pixels each; the ideal lines have {ideal.shape[1]} (32x32)")
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    flat = flat / np.maximum(norms, 1e-12)
    dists, idx = [], []
    for i in range(0, len(flat), 512):
        d = 1.0 - flat[i:i + 512] @ ideal.T
        j = np.argmin(d, axis=1)
        idx.append(j)
        dists.append(d[np.arange(len(j)), j])
    if not idx:
        return np.zeros(0), np.zeros(0)
    return np.maximum(np.concatenate(dists), 0.0), angles[np.concatenate(idx)]


def smoothness_score(angles: np.ndarray) -> np.ndarray:
    """ACAI's `smoothness_score`: how unevenly each interpolation moves through angle.

    For one interpolation with d angles theta_1..theta_d (those of the nearest ideal
    lines), after `np.unwrap` along the steps (which removes jumps larger than pi, so a
    step goes the shorter way round the circle):

        smoothness = max_t |theta_{t+1} - theta_t| / |theta_d - theta_1|  -  1 / (d - 1)

    This is 0 when the angle moves in equal steps from end to end, and it grows to
    1 - 1/(d-1) when the whole change happens in a single jump. It is NaN when
    |theta_d - theta_1| < 1e-4, where it cannot be computed.

    Args:
        angles: [n_interpolations, d] (or [d]) angles in radians.

    Returns:
        float64 [n_interpolations] scores (NaN where undefined).
    """
    angles = np.unwrap(np.atleast_2d(np.asarray(angles, np.float64)), axis=-1)
    if angles.shape[1] < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    diffs = np.abs(np.diff(angles, axis=-1))
    total = np.abs(angles[:, :1] - angles[:, -1:])
    zero = (total < 1e-4).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.max(diffs / total, axis=-1) - 1.0 / (angles.shape[1] - 1)
    deviation[zero] = np.nan
    return deviation


def _strips(strips: np.ndarray) -> np.ndarray:
    strips = np.asarray(strips, np.float32)
    if strips.ndim == 4:
        strips = strips[..., None]
    if strips.ndim != 5:
        raise ValueError(f"strips must be [n_interp, steps, 32, 32, 1]; got shape {strips.shape}")
    return strips


def _mean_smoothness(scores: np.ndarray) -> float:
    """ACAI's `line_eval` average: NaN scores add 0 but still count; all NaN gives NaN."""
    nan = np.isnan(scores)
    if nan.all():
        return float("nan")
    return float(np.sum(scores[~nan]) / len(scores))


def lines_metrics(strips: np.ndarray, n_ideal: int = N_IDEAL) -> Dict[str, float]:
    """ACAI's `line_eval`: {"mean_distance", "smoothness"} of interpolation strips.

    mean_distance = mean over every image of every strip of its cosine distance to the
    nearest of `n_ideal` ideal lines (`closest_line`). smoothness = the sum of the
    per-strip `smoothness_score` (on the nearest ideal lines' angles) over the strips
    where it is defined, divided by the number of all strips (ACAI's choice: an
    undefined strip counts as 0). It is NaN if no strip is defined. Lower is better for
    both.

    Args:
        strips: [n_interp, steps, 32, 32, 1] (or [..., 32, 32]) images in [-1, 1], the
            range of the `lines` pipeline and of ACAI's `draw_line`. Map decoder
            outputs in [0, 1] with `2 x - 1` first. Cosine distance depends on the
            offset, so the range matters.
        n_ideal: ideal lines to compare against (ACAI: 10,000).
    """
    strips = _strips(strips)
    n, steps = strips.shape[:2]
    dist, angles = closest_line(strips.reshape((n * steps,) + strips.shape[2:]), n_ideal)
    return {"mean_distance": float(np.mean(dist)),
            "smoothness": _mean_smoothness(smoothness_score(angles.reshape(n, steps)))}


def lines_mean_distance(strips: np.ndarray, n_ideal: int = N_IDEAL) -> float:
    """ACAI's Mean Distance of strips [n_interp, steps, 32, 32, 1] in [-1, 1] (see `lines_metrics`)."""
    strips = _strips(strips)
    return float(np.mean(closest_line(strips.reshape((-1,) + strips.shape[2:]), n_ideal)[0]))


def lines_smoothness(strips: np.ndarray, n_ideal: int = N_IDEAL) -> float:
    """ACAI's Smoothness of strips [n_interp, steps, 32, 32, 1] in [-1, 1] (see `lines_metrics`)."""
    strips = _strips(strips)
    n, steps = strips.shape[:2]
    angles = closest_line(strips.reshape((n * steps,) + strips.shape[2:]), n_ideal)[1]
    return _mean_smoothness(smoothness_score(angles.reshape(n, steps)))


def ideal_interpolation(angle_a, angle_b, steps: int) -> np.ndarray:
    """The ideal interpolation: lines whose angle moves linearly along the shorter arc.

    theta_t = angle_a + t * delta for t = linspace(0, 1, steps), where
    delta = ((angle_b - angle_a + pi) mod 2 pi) - pi, so |delta| <= pi. The result is in
    [-1, 1]: float32 [steps, 32, 32, 1] for scalar angles, or [n, steps, 32, 32, 1] for
    angle arrays of shape [n].
    """
    a, b = np.asarray(angle_a, np.float64), np.asarray(angle_b, np.float64)
    scalar = a.ndim == 0 and b.ndim == 0
    a, b = np.broadcast_arrays(np.atleast_1d(a), np.atleast_1d(b))
    delta = np.mod(b - a + np.pi, 2 * np.pi) - np.pi
    theta = np.mod(a[:, None] + np.linspace(0.0, 1.0, steps)[None, :] * delta[:, None], 2 * np.pi)
    images = _render_pm1(theta.reshape(-1)).reshape(theta.shape + (32, 32, 1))
    return images[0] if scalar else images


def evaluate(run_dir, config, nets, *, interpolations, steps, seed):
    """ACAI's lines benchmark: Mean Distance and Smoothness of latent interpolations.

    `interpolations` pairs of distinct test lines (seeded); for each, `steps` images decoded
    from (1 - t) f(a) + t f(b), t = linspace(0, 1, steps), clipped to [-1, 1]; scored by
    `lines_metrics` against 10,000 ideal lines. The same pairs interpolated in pixel
    space, and ideally (the angle moving linearly), are scored as reference points. The
    strips are drawn to RUN/eval/figures/lines.png (rows: model, pixel).
    """
    import tensorflow as tf

    from amr_tf import rundir
    from amr_tf.data import lines
    from amr_tf.evaluation import figures

    test = codes.split(config, "test")
    rng = np.random.default_rng(seed)
    idx = rng.choice(test.size, 2 * interpolations, replace=False)
    x, _ = test.fetch(idx)
    x = np.asarray(x, np.float32)
    a, b = x[:interpolations], x[interpolations:]
    h = tf.cast(nets.encoder(x, training=False), tf.float32)
    t = tf.reshape(tf.linspace(0.0, 1.0, steps), [1, steps] + [1] * (len(h.shape) - 1))
    mixed = (1.0 - t) * h[:interpolations, None] + t * h[interpolations:, None]  # [n, steps, ...]
    flat = tf.reshape(mixed, [-1] + list(h.shape[1:]))
    strips = codes.decode_numpy(nets.decoder, flat).reshape((interpolations, steps) + x.shape[1:])
    pixel = pixel_interpolation(a, b, steps)
    angles = lines.angles("test")[idx]
    ideal = ideal_interpolation(angles[:interpolations], angles[interpolations:], steps)
    model_scores, pixel_scores, ideal_scores = (lines_metrics(s) for s in (strips, pixel, ideal))
    rows = [row for pair in zip(strips, pixel) for row in pair]
    figure = figures._save(rundir.figures_dir(run_dir) / "lines.png",
                           figures.labelled(rows, ["model", "pixel"] * interpolations))
    result = {"model": model_scores, "pixel": pixel_scores, "ideal": ideal_scores,
              "interpolations": interpolations, "steps": steps, "seed": seed, "n_ideal": N_IDEAL,
              "test_indices": idx.tolist(), "files": [figure],
              "decoded": "clipped to [-1, 1]; codes mixed linearly, t = linspace(0, 1, steps)"}
    result["summary"] = {"lines_mean_distance": model_scores["mean_distance"],
                         "lines_smoothness": model_scores["smoothness"],
                         "pixel_mean_distance": pixel_scores["mean_distance"],
                         "pixel_smoothness": pixel_scores["smoothness"]}
    return result
