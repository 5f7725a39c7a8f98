"""Benchmark metrics in pure numpy: Kim & Mnih's disentanglement score, ACAI's lines scores.

The code lives in the evaluation package, beside the metrics that use it:
`amr_tf.evaluation.disentanglement` (`factor_vae_score`, `factor_vae_dsprites`: the FactorVAE
metric of Kim & Mnih 2018, as google-research/disentanglement_lib computes it; `original_score`:
the original AMR code's version of it, which the paper's Table 4 reports) and
`amr_tf.evaluation.lines` (ACAI's Mean Distance and Smoothness, as brain-research/acai's
`lib/eval.py` computes them, and the reference strips). This module re-exports them; importing
it does not import TensorFlow.
"""

from amr_tf import evaluation as _evaluation

NAMES = ("factor_vae_score", "factor_vae_dsprites", "original_score", "ideal_lines", "closest_line", "smoothness_score",
         "lines_mean_distance", "lines_smoothness", "lines_metrics", "ideal_interpolation",
         "pixel_interpolation", "N_IDEAL")


def __getattr__(name):
    if name in NAMES:
        return getattr(_evaluation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(NAMES)
