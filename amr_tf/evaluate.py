"""Evaluate a trained run: `python -m amr_tf.evaluate --run_dir=RUN --metric=NAME[,NAME...]|all`.

Metrics (each writes `RUN/eval/<metric>.json` and ends the output with `name=value` lines):
- `probe`: a logistic-regression probe re-fitted to convergence on the frozen codes of the
  train split (scikit-learn, lbfgs, standardised codes), scored on valid and test, beside the
  probe accuracy tracked during training (RUN/best.json).
- `disentanglement`: Kim & Mnih's FactorVAE metric on dSprites (`amr_tf.metrics`, as
  disentanglement_lib computes it); dSprites runs only.
- `lines`: ACAI's Mean Distance and Smoothness of latent interpolations, with pixel-space
  interpolation as a reference; `--dataset=lines` runs only.
- `interpolations`: the paper's figures in RUN/eval/figures/ (see `amr_tf.figures`).
- `fid`: Frechet Inception Distance of reconstructions and of decoded mixes against the test
  split, when Keras' InceptionV3 ImageNet weights are on disk (nothing is downloaded).

Scalars also go to TensorBoard (RUN/logs/eval, step = the checkpoint's epoch). The library
functions (`evaluate_run`, `evaluate_probe`, ...) take plain arguments; the flags exist only
when this module runs as a program.
"""

import math
import os
import sys
import time
from pathlib import Path

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from amr_tf import cli, data, evaluation, figures, metrics, rundir  # noqa: E402
from amr_tf.config import DSPRITES  # noqa: E402

METRICS = ("probe", "disentanglement", "lines", "interpolations", "fid")
CHECKPOINTS = ("best", "last")
FIGURE_STEPS = 8  # images between the two inputs of a figure's strip
GIF_STEPS = 16
ENCODE_BATCH = 256
INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_FILE)
# summary name -> TensorBoard tag (RUN/logs/eval)
TENSORBOARD = {
    "probe_valid_accuracy": "eval/probe_valid_accuracy",
    "probe_test_accuracy": "eval/probe_test_accuracy",
    "disentanglement": "eval/disentanglement",
    "lines_mean_distance": "eval/lines_mean_distance",
    "lines_smoothness": "eval/lines_smoothness",
    "fid_reconstructions": "eval/fid_reconstructions",
    "fid_mixes": "eval/fid_mixes",
}
DEFAULTS = dict(votes=800, batch_L=800, variance_samples=10000, seed=0, interpolations=16, steps=16,
                probe_examples=None, fid_examples=10000, inception_weights=None)

FLAGS = flags.FLAGS


def define_flags():
    """The CLI's flags; defined only when run as a program (the module is also a library)."""
    flags.DEFINE_string("run_dir", None, "The run directory to evaluate (written by amr_tf.train).")
    flags.DEFINE_string("metric", "all", f"Comma-separated metrics: {', '.join(METRICS)}; or all "
                        "(every metric that applies to the run).")
    flags.DEFINE_string("checkpoint", "best", f"Which checkpoint: {', '.join(CHECKPOINTS)} "
                        "(best = best valid probe accuracy).")
    flags.DEFINE_list("compare", [], "interpolations: more run directories drawn beside this one in pairs.png "
                      "(e.g. AE+GAN vs AMR): --compare=RUN2,RUN3 or --compare RUN2 RUN3.")
    flags.DEFINE_integer("votes", DEFAULTS["votes"], "disentanglement: votes to fit the majority-vote "
                         "classifier, and as many again to score it.")
    flags.DEFINE_integer("batch_L", DEFAULTS["batch_L"], "disentanglement: images per vote (L).")
    flags.DEFINE_integer("variance_samples", DEFAULTS["variance_samples"],
                         "disentanglement: images for the global variance of each code unit.")
    flags.DEFINE_integer("seed", DEFAULTS["seed"], "Seed for every random choice (votes, pairs, subsets).")
    flags.DEFINE_integer("interpolations", DEFAULTS["interpolations"], "lines: interpolations (pairs).")
    flags.DEFINE_integer("steps", DEFAULTS["steps"], "lines: images per interpolation.")
    flags.DEFINE_integer("probe_examples", None, "probe: fit on at most this many (seeded) train examples "
                         "(default all).")
    flags.DEFINE_integer("fid_examples", DEFAULTS["fid_examples"], "fid: test images (capped by the split).")
    flags.DEFINE_string("inception_weights", None, f"fid: the {INCEPTION_FILE} file (default: Keras' cache, "
                        "$KERAS_HOME/models or ~/.keras/models).")


# -- which metrics apply ---------------------------------------------------------------------


read_config = rundir.read_config


def _is_points(config):
    from amr_tf.data import spiral

    return config.dataset in spiral.POINT_SOURCES


def why_not(metric, config):
    """None if `metric` applies to a run with `config`, else the reason (one line)."""
    if metric == "disentanglement" and config.dataset not in DSPRITES:
        return (f"needs a run trained on dSprites (--dataset={' or --dataset='.join(DSPRITES)}); "
                f"this run is on '{config.dataset}'")
    if metric == "lines" and config.dataset != "lines":
        return f"needs a run trained on --dataset=lines; this run is on '{config.dataset}'"
    if metric == "fid" and _is_points(config):
        return f"needs images; '{config.dataset}' holds 2-D points"
    return None


def inception_weights_path(path=None):
    """Where InceptionV3's no-top ImageNet weights are on disk, or None.

    Args:
        path: an explicit file (returned if it exists); default: Keras' cache, the folder
            `keras.applications` downloads into ($KERAS_HOME, else ~/.keras, else /tmp/.keras;
            subfolder models/).
    """
    if path:
        return Path(path) if Path(path).is_file() else None
    homes = [os.environ["KERAS_HOME"]] if "KERAS_HOME" in os.environ else [
        os.path.join(os.path.expanduser("~"), ".keras"), os.path.join("/tmp", ".keras")]
    for home in homes:
        candidate = Path(home) / "models" / INCEPTION_FILE
        if candidate.is_file():
            return candidate
    return None


def fid_unavailable(path=None):
    """None if FID can run offline, else a one-line explanation of how to get the weights."""
    if inception_weights_path(path) is not None:
        return None
    where = f"--inception_weights={path} does not exist" if path else (
        f"Keras' cache has no {INCEPTION_FILE} "
        f"({os.path.join(os.environ.get('KERAS_HOME', '~/.keras'), 'models')})")
    return (f"fid needs InceptionV3's ImageNet weights and {where}; this machine cannot download them. "
            f"On a machine with internet run `python -c \"import keras; keras.applications.InceptionV3("
            f"include_top=False, pooling='avg')\"` (or fetch {INCEPTION_URL}) and copy the file into "
            f"~/.keras/models/ here, or pass --inception_weights=PATH")


def select_metrics(spec, config, inception_weights=None):
    """The metrics to compute for `spec` ("all" or a comma-separated list).

    Returns:
        (metrics in METRICS order, notes): notes say what "all" left out and why.

    Raises:
        ValueError: an unknown name, an empty list, or a named metric that does not apply.
    """
    names = [n.strip() for n in str(spec or "").split(",") if n.strip()]
    if not names:
        raise ValueError(f"--metric is empty; choose from: all, {', '.join(METRICS)}")
    notes = []
    if names == ["all"]:
        chosen = []
        for metric in METRICS:
            reason = why_not(metric, config) or (fid_unavailable(inception_weights) if metric == "fid" else None)
            if reason is None:
                chosen.append(metric)
            elif metric == "fid" and why_not(metric, config) is None:
                notes.append("fid skipped: no InceptionV3 weights on disk (--metric=fid says how to get them)")
        return chosen, notes
    unknown = [n for n in names if n not in METRICS]
    if unknown or "all" in names:
        raise ValueError(f"unknown metric {(unknown or ['all'])[0]!r}; choose from: all, {', '.join(METRICS)} "
                         "(all stands alone)")
    for metric in names:
        reason = why_not(metric, config)
        if reason:
            raise ValueError(f"metric '{metric}' does not apply to this run: it {reason}")
    if "fid" in names:
        reason = fid_unavailable(inception_weights)
        if reason:
            raise ValueError(reason)
    return [m for m in METRICS if m in names], notes


def check_options(votes=800, batch_L=800, variance_samples=10000, interpolations=16, steps=16,
                  probe_examples=None, fid_examples=10000, checkpoint="best", **_):
    """Raises ValueError (one line) for option values that cannot work."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint '{checkpoint}'; choose one of: {', '.join(CHECKPOINTS)}")
    for name, value, low in (("votes", votes, 1), ("batch_L", batch_L, 2), ("variance_samples", variance_samples, 2),
                             ("interpolations", interpolations, 1), ("steps", steps, 2),
                             ("fid_examples", fid_examples, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"--{name} must be an integer >= {low}; got {value!r}")
    if probe_examples is not None and (not isinstance(probe_examples, (int, np.integer)) or probe_examples < 2):
        raise ValueError(f"--probe_examples must be an integer >= 2 (or unset for all); got {probe_examples!r}")


# -- the metrics -----------------------------------------------------------------------------


def _split(config, name):
    return data.get_source(config.dataset).split(name, config)


def _train_indices(config, split_data):
    """The train examples the run trained on (its `subset_train`, if any)."""
    from amr_tf.data import registry

    n = split_data.size
    if config.subset_train and config.subset_train < n:
        return registry.subset_indices(n, config.subset_train)
    return np.arange(n)


def evaluate_probe(run_dir, config, nets, probe_examples=None, seed=0, batch_size=ENCODE_BATCH):
    """A linear probe re-fitted to convergence on the frozen codes of the train split.

    The codes are f(x) flattened (a VAE's posterior mean), standardised with the train
    codes' mean and std; scikit-learn's LogisticRegression (lbfgs, L2 with C = 1) is fitted
    until it converges (at most 5,000 iterations; the result says whether it did) and
    scored on the whole valid and test splits.

    Args:
        run_dir: the run (its best.json gives the accuracies tracked during training).
        config, nets: from `trainers.run.load_networks`.
        probe_examples: fit on at most this many train examples (a seeded subset; default all).
        seed: the subset's seed.

    Returns:
        {"summary": {...}, "valid_accuracy", "test_accuracy", "train_accuracy",
         "tracked_val_probe_accuracy", "tracked_test_probe_accuracy", "tracked_epoch",
         "train_examples", "converged", "iterations", "labels", "code_dims"}.
    """
    train = _split(config, "train")
    indices = _train_indices(config, train)
    if probe_examples is not None and probe_examples < len(indices):
        indices = np.sort(np.random.default_rng(seed).choice(indices, probe_examples, replace=False))
    codes, labels = evaluation.split_codes(nets.encoder, train, indices, batch_size, label="train")
    evals = {name: evaluation.split_codes(nets.encoder, _split(config, name), None, batch_size, label=name)
             for name in ("valid", "test")}
    fitted = evaluation.fit_linear_probe(codes, labels, evals, seed=seed)
    best = rundir.read_best(run_dir)
    result = {
        "valid_accuracy": fitted["valid_accuracy"], "test_accuracy": fitted["test_accuracy"],
        "train_accuracy": fitted["train_accuracy"],
        "tracked_val_probe_accuracy": best.get("val_probe_accuracy"),
        "tracked_test_probe_accuracy": best.get("test_probe_accuracy"),
        "tracked_epoch": best.get("epoch"),
        "train_examples": int(len(indices)), "valid_examples": int(len(evals["valid"][0])),
        "test_examples": int(len(evals["test"][0])), "code_dims": int(codes.shape[1]),
        "converged": fitted["converged"], "iterations": fitted["iterations"], "labels": fitted["labels"],
        "probe": "sklearn LogisticRegression(lbfgs, C=1, max_iter=5000) on standardised codes",
    }
    result["summary"] = {
        "probe_valid_accuracy": result["valid_accuracy"], "probe_test_accuracy": result["test_accuracy"],
        "tracked_val_probe_accuracy": result["tracked_val_probe_accuracy"],
        "tracked_test_probe_accuracy": result["tracked_test_probe_accuracy"],
    }
    return result


def grid_sampler(split_classes, split_fetch, factor_sizes):
    """`sample_factors` and `draw` for `metrics.factor_vae_score` over a data set stored in splits
    that together hold every combination of the factors once (TFDS dsprites).

    Args:
        split_classes: {split: factor classes int [n, K]}.
        split_fetch: {split: fetch(indices) -> (images, labels)}.
        factor_sizes: the K factor sizes.

    Raises:
        ValueError: the splits do not cover the factor grid.
    """
    sizes = tuple(int(s) for s in factor_sizes)
    total = int(np.prod(sizes))
    names = list(split_classes)
    owner = np.full(total, -1, np.int8)
    row = np.zeros(total, np.int64)
    for i, name in enumerate(names):
        grid = np.ravel_multi_index(tuple(np.asarray(split_classes[name], np.int64).T), sizes)
        owner[grid] = i
        row[grid] = np.arange(len(grid))
    missing = int(np.sum(owner < 0))
    if missing:
        raise ValueError(f"the data holds {total - missing} of the {total} factor combinations; "
                         "the disentanglement metric needs every one")

    def sample_factors(n, rng):
        return np.stack([rng.integers(0, size, n) for size in sizes], axis=1)

    def draw(classes):
        grid = np.ravel_multi_index(tuple(np.asarray(classes, np.int64).T), sizes)
        out = None
        for i, name in enumerate(names):
            mask = owner[grid] == i
            if not mask.any():
                continue
            x = np.asarray(split_fetch[name](row[grid[mask]])[0], np.float32)
            if out is None:
                out = np.zeros((len(grid),) + x.shape[1:], np.float32)
            out[mask] = x
        return out

    return sample_factors, draw


def evaluate_disentanglement(config, nets, votes=800, batch_L=800, variance_samples=10000, seed=0):
    """Kim & Mnih's FactorVAE score on dSprites (`metrics.factor_vae_score`).

    Procedural dSprites draws any factor combination; TFDS dSprites looks it up in its three
    splits, which together hold the whole grid once. Colour (a single value) is not a factor.

    Returns:
        The metric's result (train/eval accuracy, votes, classifier, active units) with
        "summary": {"disentanglement": eval accuracy, "disentanglement_train": train accuracy,
        "disentanglement_active_dims": active units}.
    """
    from amr_tf.data import dsprites

    encode = evaluation.encode_numpy(nets.encoder, ENCODE_BATCH)
    progress = evaluation.Progress("disentanglement (images encoded)", variance_samples + 2 * votes * batch_L)

    def counted(x):
        codes = encode(x)
        progress.update(len(x))
        return codes

    kwargs = dict(batch_size=batch_L, num_train=votes, num_eval=votes, num_variance_estimate=variance_samples,
                  seed=seed)
    if config.dataset == "dsprites_procedural":
        result = metrics.factor_vae_dsprites(counted, **kwargs)
        source = "procedural dSprites (amr_tf.data.dsprites)"
    else:
        from amr_tf.data import tfds_sources

        classes = {s: tfds_sources.factors(s, config) for s in data.SPLITS}
        fetch = {s: _split(config, s).fetch for s in data.SPLITS}
        sample_factors, draw = grid_sampler(classes, fetch, dsprites.FACTOR_SIZES)
        result = metrics.factor_vae_score(counted, sample_factors, draw, dsprites.FACTOR_SIZES,
                                          factor_names=dsprites.FACTORS, **kwargs)
        source = "TFDS dsprites (all three splits)"
    result.update(source=source, votes_each=votes, batch_L=batch_L, variance_samples=variance_samples, seed=seed,
                  reference="Kim & Mnih (2018) as google-research/disentanglement_lib factor_vae.py")
    result["summary"] = {"disentanglement": result["eval_accuracy"],
                         "disentanglement_train": result["train_accuracy"],
                         "disentanglement_active_dims": result["num_active_dims"]}
    return result


def evaluate_lines(run_dir, config, nets, interpolations=16, steps=16, seed=0):
    """ACAI's lines benchmark: Mean Distance and Smoothness of latent interpolations.

    `interpolations` pairs of distinct test lines (seeded); for each, `steps` images decoded
    from (1 - t) f(a) + t f(b), t = linspace(0, 1, steps), clipped to [-1, 1]; scored by
    `metrics.lines_metrics` against 10,000 ideal lines. The same pairs interpolated in pixel
    space, and ideally (the angle moving linearly), are scored as reference points. The
    strips are drawn to RUN/eval/figures/lines.png (rows: model, pixel).
    """
    from amr_tf.data import lines

    test = _split(config, "test")
    rng = np.random.default_rng(seed)
    idx = rng.choice(test.size, 2 * interpolations, replace=False)
    x, _ = test.fetch(idx)
    x = np.asarray(x, np.float32)
    a, b = x[:interpolations], x[interpolations:]
    h = tf.cast(nets.encoder(x, training=False), tf.float32)
    t = tf.reshape(tf.linspace(0.0, 1.0, steps), [1, steps] + [1] * (len(h.shape) - 1))
    codes = (1.0 - t) * h[:interpolations, None] + t * h[interpolations:, None]  # [n, steps, ...]
    flat = tf.reshape(codes, [-1] + list(h.shape[1:]))
    strips = evaluation.decode_numpy(nets.decoder, flat).reshape((interpolations, steps) + x.shape[1:])
    pixel = metrics.pixel_interpolation(a, b, steps)
    angles = lines.angles("test")[idx]
    ideal = metrics.ideal_interpolation(angles[:interpolations], angles[interpolations:], steps)
    model_scores, pixel_scores, ideal_scores = (metrics.lines_metrics(s) for s in (strips, pixel, ideal))
    rows = [row for pair in zip(strips, pixel) for row in pair]
    figure = figures._save(Path(run_dir) / "eval" / "figures" / "lines.png",
                           figures._labelled(rows, ["model", "pixel"] * interpolations))
    result = {"model": model_scores, "pixel": pixel_scores, "ideal": ideal_scores,
              "interpolations": interpolations, "steps": steps, "seed": seed, "n_ideal": metrics.N_IDEAL,
              "test_indices": idx.tolist(), "files": [figure],
              "decoded": "clipped to [-1, 1]; codes mixed linearly, t = linspace(0, 1, steps)"}
    result["summary"] = {"lines_mean_distance": model_scores["mean_distance"],
                         "lines_smoothness": model_scores["smoothness"],
                         "pixel_mean_distance": pixel_scores["mean_distance"],
                         "pixel_smoothness": pixel_scores["smoothness"]}
    return result


def describe(config):
    """A short label of a run's method, for figure rows: AE+GAN, AMR mixup k2, ACAI, VAE, (+ sup)."""
    if config.model == "vae":
        label = "VAE"
    elif config.model == "acai":
        label = "ACAI"
    elif config.mixer == "none":
        label = "AE+GAN"
    else:
        label = f"AMR {config.mixer} k{config.k}"
    return label + (" +sup" if config.cls > 0 else "")


def _pick(split_data, n, rng):
    idx = rng.choice(split_data.size, min(n, split_data.size), replace=False)
    x, y = split_data.fetch(idx)
    return np.asarray(x, np.float32), np.asarray(y, np.float32), idx


def _pairs_with_different_labels(y, n):
    """Up to n disjoint (i, j) with labels that differ, in order of appearance."""
    used, pairs = set(), []
    for i in range(len(y)):
        if i in used:
            continue
        for j in range(i + 1, len(y)):
            if j not in used and not np.array_equal(y[i], y[j]):
                pairs.append((i, j))
                used.update((i, j))
                break
        if len(pairs) == n:
            break
    return pairs


def evaluate_interpolations(run_dir, config, nets, compare=(), seed=0, checkpoint="best", pairs=5):
    """The figures, in RUN/eval/figures/ (examples from the test split, chosen by `seed`).

    Image runs: pairs.png, k2_vs_k3.png, bernoulli.png, strip.gif, and class_mixer.png when the
    run has a class mixer. Spiral runs: spiral.png only (the valid split's points).

    Args:
        compare: more run directories (same data set) drawn as extra rows of pairs.png.
        checkpoint: which checkpoint of the compared runs.

    Returns:
        {"files": [...], "figures": {name: description}, "summary": {"figures": n, "figures_dir"}}.
    """
    from trainers import run as runs

    out = Path(run_dir) / "eval" / "figures"
    rng = np.random.default_rng(seed)
    described = {}
    if _is_points(config):
        points = _split(config, "valid").fetch(np.arange(_split(config, "valid").size))[0]
        described["spiral"] = figures.spiral(out / "spiral.png", points, nets.encoder, nets.decoder,
                                             config.mixer, config.effective_k if config.mixes else 2, seed)
    else:
        test = _split(config, "test")
        x, y, idx = _pick(test, max(64, 2 * pairs + 3), rng)
        x_a, x_b = x[:pairs], x[pairs:2 * pairs]
        rows = [(f"this: {describe(config)}", nets.encoder, nets.decoder)]
        compared = [{"label": "pixel"}, {"label": rows[0][0], "run_dir": str(run_dir), "checkpoint": checkpoint}]
        for other in compare:
            other_config, other_nets, other_meta = runs.load_networks(other, checkpoint)
            rows.append((describe(other_config), other_nets.encoder, other_nets.decoder))
            compared.append({"label": rows[-1][0], "run_dir": str(other), "checkpoint": checkpoint,
                             "epoch": int(other_meta["epoch"])})
        described["pairs"] = figures.pairs(out / "pairs.png", x_a, x_b, rows, FIGURE_STEPS)
        described["pairs"]["rows"] = compared
        described["pairs"]["test_indices"] = [idx[:pairs].tolist(), idx[pairs:2 * pairs].tolist()]
        triples = np.stack([x[:3], x[3:6], x[6:9]], axis=1)
        described["k2_vs_k3"] = figures.k2_vs_k3(out / "k2_vs_k3.png", triples, nets.encoder, nets.decoder,
                                                 FIGURE_STEPS)
        described["bernoulli"] = figures.bernoulli(out / "bernoulli.png", x_a[:4], x_b[:4], nets.encoder,
                                                   nets.decoder, FIGURE_STEPS, seed)
        strip = np.clip(evaluation.interpolation_strip(nets.encoder, nets.decoder, x_a[0], x_b[0], GIF_STEPS,
                                                       "mixup"), -1, 1)
        described["gif"] = figures.gif(out / "strip.gif", strip)
        if nets.class_mixer is not None:
            chosen = _pairs_with_different_labels(y, pairs)
            if chosen:
                i, j = np.array(chosen).T
                described["class_mixer"] = figures.class_mixer(out / "class_mixer.png", x[i], x[j], y[i], y[j],
                                                               nets.encoder, nets.decoder, nets.class_mixer,
                                                               FIGURE_STEPS)
    files = [d["file"] for d in described.values()]
    return {"files": files, "figures": described, "seed": seed,
            "summary": {"figures": len(files), "figures_dir": str(out)}}


def inception_features(model, images, batch_size=50):
    """InceptionV3 pool features [n, 2048] of images in [-1, 1] (grey tiled to RGB, resized to 299)."""
    feats = []

    @tf.function(reduce_retracing=True)
    def run(x):
        if x.shape[-1] == 1:
            x = tf.tile(x, [1, 1, 1, 3])
        x = tf.image.resize(x, (299, 299), method="bilinear")  # [-1, 1]: InceptionV3's own input range
        return model(x, training=False)

    for i in range(0, len(images), batch_size):
        feats.append(run(tf.constant(images[i:i + batch_size])).numpy().astype(np.float64))
    return np.concatenate(feats)


def evaluate_fid(config, nets, fid_examples=10000, seed=0, inception_weights=None):
    """FID of reconstructions and of decoded random mixes against the same test images.

    Features: keras.applications.InceptionV3(include_top=False, pooling="avg") with the
    ImageNet weights from disk; statistics: mean and covariance of the 2048 features. This is
    Keras' InceptionV3, not the TF-slim graph of the reference FID code, so the numbers rank
    runs measured here but are not comparable with published FIDs.

    Raises:
        ValueError: the weights are not on disk (nothing is downloaded).
    """
    import keras

    from amr_tf import mixers

    reason = fid_unavailable(inception_weights)
    if reason:
        raise ValueError(reason)
    weights = inception_weights_path(inception_weights)
    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=str(weights),
                                           input_shape=(299, 299, 3))
    test = _split(config, "test")
    x, _, _ = _pick(test, fid_examples, np.random.default_rng(seed))
    h = tf.cast(nets.encoder(x, training=False), tf.float32) if len(x) <= ENCODE_BATCH else tf.concat(
        [tf.cast(nets.encoder(x[i:i + ENCODE_BATCH], training=False), tf.float32)
         for i in range(0, len(x), ENCODE_BATCH)], 0)
    recon = evaluation.decode_numpy(nets.decoder, h)
    mixer = config.mixer if config.mixes else "mixup"
    k = config.effective_k if config.mixes else 2
    mixed = evaluation.decode_numpy(nets.decoder, mixers.mix(h, mixer, k, seed=seed).h)

    def stats(images):
        f = inception_features(model, images)
        return f.mean(0), np.cov(f, rowvar=False)

    real = stats(x)
    result = {"fid_reconstructions": evaluation.frechet_distance(*real, *stats(recon)),
              "fid_mixes": evaluation.frechet_distance(*real, *stats(mixed)),
              "examples": int(len(x)), "mixer": mixer, "k": k, "weights": str(weights),
              "note": "Keras InceptionV3 features; not comparable with published FIDs"
                      + ("; fewer examples than the 2048 features: the covariance is singular"
                         if len(x) < 2048 else "")}
    result["summary"] = {"fid_reconstructions": result["fid_reconstructions"], "fid_mixes": result["fid_mixes"]}
    return result


# -- the whole evaluation --------------------------------------------------------------------


def log_scalars(run_dir, summary, step):
    """Writes the summary's TensorBoard scalars (see TENSORBOARD) to RUN/logs/eval at `step`."""
    scalars = {TENSORBOARD[k]: float(v) for k, v in summary.items()
               if k in TENSORBOARD and v is not None and math.isfinite(float(v))}
    if not scalars:
        return {}
    writer = tf.summary.create_file_writer(str(Path(run_dir) / "logs" / "eval"))
    with writer.as_default():
        for tag, value in scalars.items():
            tf.summary.scalar(tag, value, step=int(step))
    writer.flush()
    writer.close()
    return scalars


def evaluate_run(run_dir, metric="all", checkpoint="best", compare=(), log=None, **options):
    """Evaluates a run: each metric to RUN/eval/<metric>.json and TensorBoard; returns the records.

    Args:
        run_dir: a run directory written by `trainers.run.fit` / `amr_tf.train`.
        metric: "all" (every metric that applies) or a comma-separated list of METRICS.
        checkpoint: "best" or "last".
        compare: run directories for the interpolation figures' extra rows.
        log: where progress notes go (default stderr).
        **options: votes, batch_L, variance_samples, seed, interpolations, steps,
            probe_examples, fid_examples, inception_weights (see DEFAULTS).

    Returns:
        {metric: record}; a record holds "metric", "run_dir", "checkpoint", "epoch",
        "settings", "seconds", the metric's results and "summary" ({name: value} as printed).

    Raises:
        ValueError (one line): bad options, a missing run or checkpoint, a metric that does not
        apply, data that cannot be read, FID without weights. Raised before any file is written.
    """
    from trainers import run as runs

    log = log or sys.stderr
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    settings = {**DEFAULTS, **options}
    check_options(checkpoint=checkpoint, **settings)
    config = read_config(run_dir)
    chosen, notes = select_metrics(metric, config, settings["inception_weights"])
    for note in notes:
        print(note, file=log, flush=True)
    compare = [str(c) for c in compare or ()]
    if compare:
        if "interpolations" not in chosen:
            raise ValueError("--compare is used by the interpolations metric only")
        shape = tuple(data.info(config.dataset, config).image_shape)
        for other in compare:
            other_config = read_config(other)
            other_shape = tuple(data.info(other_config.dataset, other_config).image_shape)
            if other_shape != shape:
                raise ValueError(f"--compare run {other} has images of shape {other_shape}; this run's are {shape}")
    config, nets, meta = runs.load_networks(run_dir, checkpoint)
    epoch = int(meta["epoch"])
    from amr_tf import rundir

    rundir.refuse_symlinks(run_dir)
    # It writes eval/ and logs/eval into the run directory: not while another process holds it.
    with rundir.locked(run_dir, "evaluate"):
        return _evaluate_chosen(run_dir, config, nets, chosen, epoch, checkpoint, compare, settings, log)


def _evaluate_chosen(run_dir, config, nets, chosen, epoch, checkpoint, compare, settings, log):
    records = {}
    for name in chosen:
        start = time.time()
        print(f"evaluating {name} ({run_dir}, {checkpoint} checkpoint, epoch {epoch})", file=log, flush=True)
        if name == "probe":
            result = evaluate_probe(run_dir, config, nets, settings["probe_examples"], settings["seed"])
            used = {k: settings[k] for k in ("probe_examples", "seed")}
        elif name == "disentanglement":
            used = {k: settings[k] for k in ("votes", "batch_L", "variance_samples", "seed")}
            result = evaluate_disentanglement(config, nets, **used)
        elif name == "lines":
            used = {k: settings[k] for k in ("interpolations", "steps", "seed")}
            result = evaluate_lines(run_dir, config, nets, **used)
        elif name == "interpolations":
            used = {"seed": settings["seed"], "compare": compare}
            result = evaluate_interpolations(run_dir, config, nets, compare, settings["seed"], checkpoint)
        else:
            used = {k: settings[k] for k in ("fid_examples", "seed", "inception_weights")}
            result = evaluate_fid(config, nets, **used)
        record = {"metric": name, "run_dir": str(run_dir), "checkpoint": checkpoint, "epoch": epoch,
                  "dataset": config.dataset, "settings": used, "seconds": round(time.time() - start, 2), **result}
        record["tensorboard"] = log_scalars(run_dir, result["summary"], epoch)
        rundir.write_json(rundir.eval_path(run_dir, name), record)
        records[name] = record
    return records


def summary_lines(records):
    """The `name=value` lines of the records, in metric order (floats with 6 significant digits;
    a missing value is `nan`)."""
    out = []
    for record in records.values():
        for key, value in record["summary"].items():
            if value is None:
                text = "nan"
            elif isinstance(value, (float, np.floating)):
                text = f"{float(value):.6g}"
            else:
                text = str(value)
            out.append(f"{key}={text}")
    return out


def main(argv):
    compare = list(FLAGS.compare)
    extra = argv[1:]
    if extra and FLAGS["compare"].present:  # `--compare RUN2 RUN3`: absl takes RUN2, RUN3 is left over
        compare += extra
        extra = []
    if extra:
        fail(f"unexpected arguments {extra}; flags look like --name=value")
    if not FLAGS.run_dir:
        fail("--run_dir is required (a run directory written by amr_tf.train)")
    options = {name: getattr(FLAGS, name) for name in DEFAULTS}
    try:
        records = evaluate_run(FLAGS.run_dir, FLAGS.metric, FLAGS.checkpoint, compare, **options)
    except ValueError as e:  # bad input: one line, no traceback
        fail(str(e))
    for record in records.values():
        print(f"wrote {Path(record['run_dir']) / 'eval' / (record['metric'] + '.json')}", file=sys.stderr)
    sys.stderr.flush()
    for line in summary_lines(records):
        print(line)
    sys.stdout.flush()


def fail(message):
    cli.fail("amr_tf.evaluate", message)


if __name__ == "__main__":
    define_flags()
    cli.run(main, "amr_tf.evaluate")
