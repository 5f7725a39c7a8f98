"""Benchmark metrics in pure numpy: Kim & Mnih's disentanglement score, ACAI's lines scores.

The code lives in the evaluation package, beside the metrics that use it:
`amr_tf.evaluation.disentanglement` (`factor_vae_score`, `factor_vae_dsprites`: the FactorVAE
metric of Kim & Mnih 2018, as google-research/disentanglement_lib computes it) and
`amr_tf.evaluation.lines` (ACAI's Mean Distance and Smoothness, as brain-research/acai's
`lib/eval.py` computes them, and the reference strips). This module re-exports them; importing
it does not import TensorFlow.
"""

from amr_tf.evaluation.disentanglement import factor_vae_dsprites, factor_vae_score
from amr_tf.evaluation.lines import (
    N_IDEAL,
    closest_line,
    ideal_interpolation,
    ideal_lines,
    lines_mean_distance,
    lines_metrics,
    lines_smoothness,
    pixel_interpolation,
    smoothness_score,
)

__all__ = [
    "factor_vae_score", "factor_vae_dsprites",
    "ideal_lines", "closest_line", "smoothness_score",
    "lines_mean_distance", "lines_smoothness", "lines_metrics",
    "ideal_interpolation", "pixel_interpolation",
    "N_IDEAL",
]
