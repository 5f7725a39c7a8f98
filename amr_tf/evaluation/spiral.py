"""The `spiral` metric: how far decoded mixes land from the spiral (supplement 7.3, Fig. 12).

The paper shows, as a picture, that the lower the consistency weight beta, the more decoded
random mixes g(a f(x1) + (1 - a) f(x2)), a ~ U(0, 1), lie on the data manifold. Here that is a
number: each decoded mix's Euclidean distance to the nearest point of a dense sample of the
noiseless curve (both arms), and the fraction of mixes within the data's own noise band (the
95th percentile of the real points' distances to the curve). Beside them, as references: the
real points, their reconstructions g(f(x)), and the same pairs mixed in input space (the
straight chord between two points of the spiral, what an auto-encoder that learned nothing
would give).
"""

import numpy as np

from amr_tf.evaluation import codes

NAME = "spiral"
OPTIONS = ("seed",)
SCALARS = ("spiral_mix_distance", "spiral_mix_within_band", "spiral_input_mix_distance")
CURVE_POINTS = 20001  # per arm: neighbouring curve points ~1e-4 apart, far below the noise (0.02)
BAND_QUANTILE = 0.95
DRAWS = 5  # mixes per valid point: 5,000 in all


def why_not(config):
    """None for a run on 2-D points (the spiral), else the reason (one line)."""
    if not codes.is_points(config):
        return f"needs a run trained on --dataset=spiral; this run is on '{config.dataset}'"
    return None


def curve(n=CURVE_POINTS):
    """The noiseless spiral, both arms: float64 [2 n, 2] (`amr_tf.data.spiral`'s curve)."""
    from amr_tf.data import spiral

    t = np.linspace(0.0, 1.0, n)
    out = []
    for arm in (0, 1):
        theta = 2 * np.pi * spiral.TURNS * t + np.pi * arm
        out.append(np.stack([t * np.cos(theta), t * np.sin(theta)], axis=1))
    return np.concatenate(out)


def distance_to_curve(points, reference=None, chunk=256):
    """Euclidean distance of each point [n, 2] to the nearest point of `reference` (default
    `curve()`): float64 [n]."""
    reference = curve() if reference is None else np.asarray(reference, np.float64)
    points = np.asarray(points, np.float64).reshape(-1, 2)
    out = np.empty(len(points))
    for i in range(0, len(points), chunk):
        diff = points[i:i + chunk, None, :] - reference[None, :, :]
        out[i:i + chunk] = np.sqrt(np.min(np.einsum("ijk,ijk->ij", diff, diff), axis=1))
    return out


def scores(real, mixes, input_mixes, reconstructions=None):
    """The metric's numbers from points (numpy, [n, 2] each; no TensorFlow).

    Args:
        real: real points (their distances set the noise band).
        mixes: decoded mixes of codes.
        input_mixes: the same pairs mixed in input space.
        reconstructions: g(f(real)), or None.

    Returns:
        {"band", "spiral_mix_distance" (mean), "spiral_mix_median_distance",
         "spiral_mix_within_band", "spiral_input_mix_distance", "spiral_input_mix_within_band",
         "spiral_data_distance", and "spiral_recon_distance" when reconstructions are given}.
    """
    reference = curve()
    real_d = distance_to_curve(real, reference)
    band = float(np.quantile(real_d, BAND_QUANTILE))
    mix_d = distance_to_curve(mixes, reference)
    input_d = distance_to_curve(input_mixes, reference)
    out = {"band": band, "spiral_mix_distance": float(mix_d.mean()),
           "spiral_mix_median_distance": float(np.median(mix_d)),
           "spiral_mix_within_band": float(np.mean(mix_d <= band)),
           "spiral_input_mix_distance": float(input_d.mean()),
           "spiral_input_mix_within_band": float(np.mean(input_d <= band)),
           "spiral_data_distance": float(real_d.mean())}
    if reconstructions is not None:
        out["spiral_recon_distance"] = float(distance_to_curve(reconstructions, reference).mean())
    return out


def random_pairs(n, draws, rng):
    """(i, j, alpha): `draws` partners per point, never itself, alpha ~ U(0, 1) (the paper's mixes)."""
    i = np.tile(np.arange(n), draws)
    j = (i + rng.integers(1, n, len(i))) % n
    return i, j, rng.uniform(0.0, 1.0, len(i)).astype(np.float32)


def evaluate(run_dir, config, nets, *, seed):
    """Scores decoded mixes of random pairs of the valid split's points (see the module's doc).

    Returns:
        {"settings": ..., "summary": {the numbers of `scores`, "band"}}.
    """
    del run_dir
    valid = codes.split(config, "valid")
    points = np.asarray(valid.fetch(np.arange(valid.size))[0], np.float32)
    h = codes.encode_numpy(nets.encoder)(points)
    i, j, alpha = random_pairs(len(points), DRAWS, np.random.default_rng(seed))
    a = alpha[:, None]
    mixes = codes.decode_numpy(nets.decoder, a * h[i] + (1 - a) * h[j], clip=False)
    result = scores(points, mixes, a * points[i] + (1 - a) * points[j],
                    codes.decode_numpy(nets.decoder, h, clip=False))
    return {"mixes": int(len(i)), "alpha": "U(0, 1), one partner per draw",
            "curve_points": 2 * CURVE_POINTS, "band_quantile": BAND_QUANTILE,
            "summary": {k: round(v, 6) for k, v in result.items()}}
