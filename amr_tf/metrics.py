"""Benchmark metrics in pure numpy: Kim & Mnih's disentanglement score, ACAI's lines scores.

Nothing here imports TensorFlow: an encoder is passed in as a function from numpy images
to numpy codes, and the interpolation strips as numpy arrays.

1. `factor_vae_score` (and `factor_vae_dsprites`, which wires in the procedural dSprites):
   the FactorVAE disentanglement metric of Kim & Mnih (2018, "Disentangling by
   Factorising", arXiv:1802.05983, section 4), step for step as google-research/
   disentanglement_lib computes it (`disentanglement_lib/evaluation/metrics/factor_vae.py`).
2. `lines_mean_distance`, `lines_smoothness`, `lines_metrics`: the "Mean Distance" and
   "Smoothness" scores of ACAI's synthetic lines benchmark (Berthelot et al. 2019,
   "Understanding and Improving Interpolation in Autoencoders via an Adversarial
   Regularizer", arXiv:1807.07543, section 3.1), as brain-research/acai computes them
   (`lib/eval.py`: `closest_line`, `smoothness_score`, `line_eval`), with the ideal lines
   drawn by this package's `amr_tf.data.lines.render`; `ideal_interpolation` and
   `pixel_interpolation` make the reference strips.
"""

from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "factor_vae_score", "factor_vae_dsprites",
    "ideal_lines", "closest_line", "smoothness_score",
    "lines_mean_distance", "lines_smoothness", "lines_metrics",
    "ideal_interpolation", "pixel_interpolation",
]


# ----------------------------------------------------------------------------------------
# Kim & Mnih (2018): the FactorVAE disentanglement metric
# ----------------------------------------------------------------------------------------

def _codes(encode: Callable, images: np.ndarray) -> np.ndarray:
    """encode(images) as float64 [n, d] (any code shape is flattened per example)."""
    codes = np.asarray(encode(images))
    return codes.reshape(codes.shape[0], -1).astype(np.float64)


def factor_vae_score(encode: Callable[[np.ndarray], np.ndarray],
                     sample_factors: Callable[[int, np.random.Generator], np.ndarray],
                     draw: Callable[[np.ndarray], np.ndarray],
                     factor_sizes: Sequence[int],
                     *,
                     batch_size: int = 800,
                     num_train: int = 800,
                     num_eval: int = 800,
                     num_variance_estimate: int = 10000,
                     seed: int = 0,
                     factor_names: Optional[Sequence[str]] = None,
                     prune_threshold: float = 0.05,
                     chunk_size: int = 1000) -> Dict:
    """Kim & Mnih's disentanglement score (majority-vote accuracy), as disentanglement_lib.

    The steps of disentanglement_lib's `compute_factor_vae` (`evaluation/metrics/
    factor_vae.py`), with one numpy Generator `seed` drawing everything in its order:

    1. Global scale: `s2_j = var(z_j)` (ddof=1) of each code unit j over
       `num_variance_estimate` images with factors drawn by `sample_factors`.
    2. Pruning (`_prune_dims`): unit j is active iff `sqrt(s2_j) >= prune_threshold`.
       Note that it is the standard deviation that is compared. The function's own
       default there is 0.0, but disentanglement_lib's study configs (e.g.
       `config/abstract_reasoning_study_v1/stage1/metric_configs/factor_vae_metric.gin`,
       and the unsupervised study's) bind `prune_dims.threshold = 0.05`, which is the
       default here. A unit with zero variance is never active, whatever the threshold:
       with threshold 0 the reference would keep it, get 0/0 = NaN below, and
       `np.argmin` would pick that NaN on every vote.
    3. A vote: a factor index k ~ U{0..K-1}; `batch_size` (L) factor draws; column k is
       set to the first draw's value (`factors[:, k] = factors[0, k]`); those images are
       encoded and the vote is `(k, argmin_j over active units of var_L(z_j) / s2_j)`
       (local variance with ddof=1).
    4. `num_train` votes give a count matrix V[j, k]. The classifier sends unit j to
       `argmax_k V[j, k]` (ties go to the lowest k). Train accuracy =
       `sum_j max_k V[j, k] / num_train`. Eval accuracy is that classifier's accuracy
       on `num_eval` new votes.
    5. With no active unit, both accuracies are 0 and num_active_dims is 0.

    Apart from that zero-variance rule and the random stream (a numpy Generator here,
    a RandomState there, so the draws are not the same numbers), this differs from the
    reference in two places, and neither changes an accuracy. disentanglement_lib
    stores a vote at the argmin's position *among the active units* in a row as wide
    as all units (so its vote columns are shifted once a unit is pruned), and reports
    `num_active_dims = len(mask)`, which is every unit. Here a vote is stored at the
    unit's own index, and num_active_dims counts the active units.

    The original AMR code (christopher-beckham/amr, `tools.py`
    `dsprite_disentanglement_fv`, read at commit 23e0d54d) computes something else:
    (a) it does not draw the factor at random; it votes `n_votes // (n_factors - 1)`
    times (160 of 800) for each non-colour factor in turn;
    (b) it counts hits with `for j in range(ys.max())` over factor ids 0..4, so it
    skips the last factor (posY). Those votes still count in the denominator, which
    caps the score at 0.8;
    (c) it runs the majority vote the other way: for each factor it takes the count of
    that factor's most common unit (factor -> unit), so two factors can claim the same
    unit;
    (d) it reports only this accuracy on the votes it was fitted on (a train accuracy,
    'dfv'), with no separate evaluation votes;
    (e) it divides by the standard deviation pooled over those conditional batches, not
    over a separate sample of the data; it prunes only for VAEs (`cull_dimensions`, by
    KL); and it uses numpy's unseeded global RNG.

    Args:
        encode: images -> codes [n, ...] (numpy in, numpy out; flattened per example).
        sample_factors: (n, rng) -> int factor classes [n, K], uniform over the grid.
        draw: factor classes [n, K] -> images for `encode`.
        factor_sizes: the K factor sizes that can be voted on (leave out any constant
            factor such as dSprites' colour; `sample_factors` gives exactly these K).
        batch_size: L, the images per vote.
        num_train, num_eval: votes for fitting the classifier, and for scoring it.
        num_variance_estimate: images for the global variances.
        seed: seeds the single numpy Generator behind every draw.
        factor_names: K names, echoed in the result (default "factor_0", ...).
        prune_threshold: the smallest standard deviation an active unit may have.
        chunk_size: images per `encode` call while estimating the global variances.

    Returns:
        {"train_accuracy": float, "eval_accuracy": float, "num_active_dims": int,
         "votes": train vote counts [units][K] as nested lists (unit j, factor k),
         "eval_votes": the same for the evaluation votes, "classifier": factor index per
         unit, "active_dims": active unit indices, "factor_names": K names}.
    """
    factor_sizes = tuple(int(s) for s in factor_sizes)
    n_factors = len(factor_sizes)
    if factor_names is None:
        factor_names = tuple(f"factor_{k}" for k in range(n_factors))
    factor_names = [str(n) for n in factor_names]
    if len(factor_names) != n_factors:
        raise ValueError(f"factor_names has {len(factor_names)} names for {n_factors} factors")
    if batch_size < 2 or num_variance_estimate < 2:
        raise ValueError("batch_size and num_variance_estimate must be at least 2 (variances use ddof=1)")
    rng = np.random.default_rng(seed)

    def factors(n):
        classes = np.asarray(sample_factors(n, rng), np.int64)
        if classes.shape != (n, n_factors):
            raise ValueError(f"sample_factors({n}, rng) gave shape {classes.shape}; expected {(n, n_factors)}")
        return classes

    # 1. global variances (ddof=1), encoded chunk by chunk
    classes = factors(num_variance_estimate)
    codes = np.concatenate([_codes(encode, draw(classes[i:i + chunk_size]))
                            for i in range(0, num_variance_estimate, chunk_size)])
    global_var = np.var(codes, axis=0, ddof=1)
    n_units = global_var.shape[0]
    # 2. pruning on the standard deviation, as _prune_dims
    active = (np.sqrt(global_var) >= prune_threshold) & (global_var > 0)
    active_idx = np.flatnonzero(active)
    result = {"factor_names": factor_names, "active_dims": active_idx.tolist()}
    if active_idx.size == 0:
        empty = [[0] * n_factors for _ in range(n_units)]
        result.update(train_accuracy=0.0, eval_accuracy=0.0, num_active_dims=0, votes=empty,
                      eval_votes=[row[:] for row in empty], classifier=[0] * n_units)
        return result

    # 3. votes
    def votes(num_points):
        counts = np.zeros((n_units, n_factors), np.int64)
        for _ in range(num_points):
            k = int(rng.integers(n_factors))
            batch = factors(batch_size)
            batch[:, k] = batch[0, k]
            local_var = np.var(_codes(encode, draw(batch)), axis=0, ddof=1)
            unit = active_idx[np.argmin(local_var[active_idx] / global_var[active_idx])]
            counts[unit, k] += 1
        return counts

    # 4. majority-vote classifier, unit -> factor
    train_votes = votes(num_train)
    classifier = np.argmax(train_votes, axis=1)
    units = np.arange(n_units)
    train_accuracy = float(train_votes[units, classifier].sum() / max(train_votes.sum(), 1))
    eval_votes = votes(num_eval)
    eval_accuracy = float(eval_votes[units, classifier].sum() / max(eval_votes.sum(), 1))
    result.update(train_accuracy=train_accuracy, eval_accuracy=eval_accuracy,
                  num_active_dims=int(active_idx.size), votes=train_votes.tolist(),
                  eval_votes=eval_votes.tolist(), classifier=classifier.tolist())
    return result


def factor_vae_dsprites(encode: Callable[[np.ndarray], np.ndarray], **kwargs) -> Dict:
    """`factor_vae_score` on the procedural dSprites (`amr_tf.data.dsprites`).

    The factors are shape 3, scale 6, orientation 40, pos_x 32, pos_y 32. dSprites'
    colour factor has a single value, and this grid does not include it. `encode`
    receives float32 images [n, 64, 64, 1] in {-1, 1}, drawn exactly as the
    `dsprites_procedural` split's fetch draws them (`render(classes) * 2 - 1`). Keyword
    arguments go to `factor_vae_score` (batch_size, num_train, num_eval,
    num_variance_estimate, seed, prune_threshold, chunk_size).
    """
    from amr_tf.data import dsprites

    def sample_factors(n, rng):
        return np.stack([rng.integers(0, size, n) for size in dsprites.FACTOR_SIZES], axis=1)

    def draw(classes):
        return dsprites.render(classes) * 2.0 - 1.0

    kwargs.setdefault("factor_names", dsprites.FACTORS)
    return factor_vae_score(encode, sample_factors, draw, dsprites.FACTOR_SIZES, **kwargs)


# ----------------------------------------------------------------------------------------
# ACAI's lines benchmark: Mean Distance and Smoothness
# ----------------------------------------------------------------------------------------

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

