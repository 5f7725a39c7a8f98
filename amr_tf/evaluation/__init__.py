"""Evaluating a trained run (the library behind `python -m amr_tf.evaluate`).

`evaluate_run(run_dir, metric="all", checkpoint="best", compare=(), log=None, **options)` scores
a run with the metrics of REGISTRY (name -> metric module; `amr_tf/evaluation/runner.py`), in
this order:

- `probe` (probe.py): a logistic-regression probe re-fitted on the frozen train codes.
- `disentanglement` (disentanglement.py): Kim & Mnih's FactorVAE metric (disentanglement_lib's,
  and the original AMR code's, which Table 4 reports: disentanglement_original.py); dSprites runs
  only.
- `lines` (lines.py): ACAI's Mean Distance and Smoothness; `--dataset=lines` runs only.
- `spiral` (spiral.py): distance of decoded mixes to the spiral; `--dataset=spiral` runs only.
- `class_mixer` (class_mixer.py): the class mixer judged by a classifier trained apart; `--cls` runs.
- `interpolations` (interpolations.py): the paper's figures (`figures`).
- `fid` (fid.py): Frechet Inception Distance, with InceptionV3's weights from disk.

A metric module holds:
- `NAME`: its name in REGISTRY, on the command line and in RUN/eval/<NAME>.json;
- `OPTIONS`: the evaluation options it takes (names in DEFAULTS, or "compare", "checkpoint");
  the record's "settings" are these, less "checkpoint", which every record holds;
- `SCALARS`: the names of its summary written to TensorBoard (tag eval/<name>);
- `why_not(config)`: None if it applies to a run with that Config, else the reason (one line);
- `evaluate(run_dir, config, nets, **options)`: its results as a JSON-able dict with a
  "summary" ({name: value}, printed as name=value lines);
- optionally `check(config, **options)`, raising ValueError (one line) before anything is
  written, and `unavailable(**options)`: None, or why it cannot run on this machine (then
  "all" leaves it out with the note "<NAME> skipped: <SKIPPED>").
Adding a metric is adding such a module and its line in REGISTRY.

`codes` holds what the metrics, the figures and the training callbacks share; `strips` the
decoded paths in code space; `figures` draws them (PNG and GIF). A run's networks are loaded by
`amr_tf.checkpoint.load_networks`, imported when a run is evaluated. The numpy cores (the
FactorVAE score, ACAI's lines scores, the Frechet distance, the probe's fit) are pure functions,
also importable from this package. TensorFlow, scikit-learn and scipy are imported only by the
functions that use them.
"""

from amr_tf.evaluation.codes import (
    ENCODE_BATCH,
    ProbeAccuracy,
    Progress,
    code_function,
    decode_numpy,
    encode_numpy,
    probe_accuracy,
    reconstruction_l1,
    split_codes,
)
from amr_tf.evaluation.disentanglement import factor_vae_dsprites, factor_vae_score, grid_sampler
from amr_tf.evaluation.disentanglement_original import (
    conditional_sampler,
    original_from_moments,
    original_scheme,
    original_score,
    original_votes,
)
from amr_tf.evaluation.fid import INCEPTION_FILE, frechet_distance, inception_features, inception_weights_path
from amr_tf.evaluation.interpolations import FIGURE_STEPS, GIF_STEPS, figure_label
from amr_tf.evaluation.lines import (
    N_IDEAL,
    closest_line,
    ideal_interpolation,
    ideal_lines,
    lines_mean_distance,
    lines_metrics,
    lines_smoothness,
    smoothness_score,
)
from amr_tf.evaluation.probe import fit_linear_probe
from amr_tf.evaluation.runner import (
    DEFAULTS,
    METRICS,
    REGISTRY,
    check_options,
    evaluate_run,
    log_scalars,
    select_metrics,
    summary_lines,
)
from amr_tf.evaluation.strips import (
    attribute_columns,
    class_mix_strip,
    interpolation_strip,
    pixel_interpolation,
    three_way_path,
    weighted_strip,
)

__all__ = [
    # the evaluation
    "evaluate_run", "select_metrics", "check_options", "summary_lines", "log_scalars", "figure_label",
    "REGISTRY", "METRICS", "DEFAULTS", "FIGURE_STEPS", "GIF_STEPS", "ENCODE_BATCH",
    # codes and strips
    "probe_accuracy", "ProbeAccuracy", "reconstruction_l1", "interpolation_strip", "Progress", "code_function",
    "encode_numpy", "decode_numpy",
    "split_codes", "weighted_strip", "three_way_path", "class_mix_strip", "attribute_columns",
    # the metrics' pure parts
    "fit_linear_probe", "factor_vae_score", "factor_vae_dsprites", "grid_sampler",
    "original_score", "original_from_moments", "original_votes", "original_scheme", "conditional_sampler",
    "N_IDEAL", "ideal_lines", "closest_line", "smoothness_score", "lines_mean_distance", "lines_smoothness",
    "lines_metrics", "ideal_interpolation", "pixel_interpolation",
    "frechet_distance", "inception_features", "inception_weights_path", "INCEPTION_FILE",
]
