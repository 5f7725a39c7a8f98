"""The `interpolations` metric: the paper's figures in RUN/eval/figures/ (see `amr_tf.evaluation.figures`).

Image runs: pairs.png (optionally beside other runs' rows), k2_vs_k3.png, bernoulli.png,
strip.gif, and class_mixer.png when the run has a class mixer; spiral runs: spiral.png.
"""


import numpy as np

from amr_tf.evaluation import codes, strips

NAME = "interpolations"
OPTIONS = ("seed", "compare", "checkpoint")
SCALARS = ()
FIGURE_STEPS = 8  # images between the two inputs of a figure's strip
GIF_STEPS = 16


def why_not(config):
    """None: every run has figures (spiral runs a plot of the points instead of strips)."""
    return None


def check(config, compare=(), **_):
    """Raises ValueError (one line) for compared runs whose images are not this run's shape."""
    from amr_tf import data, rundir

    if not compare:
        return
    shape = tuple(data.info(config.dataset, config).image_shape)
    for other in compare:
        other_config = rundir.read_config(other)
        other_shape = tuple(data.info(other_config.dataset, other_config).image_shape)
        if other_shape != shape:
            raise ValueError(f"--compare run {other} has images of shape {other_shape}; this run's are {shape}")


def figure_label(config):
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


def evaluate(run_dir, config, nets, *, seed, compare, checkpoint, pairs=5):
    """The figures, in RUN/eval/figures/ (examples from the test split, chosen by `seed`).

    Image runs: pairs.png, k2_vs_k3.png, bernoulli.png, strip.gif, and class_mixer.png when the
    run has a class mixer. Spiral runs: spiral.png only (the valid split's points).

    Args:
        compare: more run directories (same data set) drawn as extra rows of pairs.png.
        checkpoint: which checkpoint of the compared runs.

    Returns:
        {"files": [...], "figures": {name: description}, "summary": {"figures": n, "figures_dir"}}.
    """
    from amr_tf import checkpoint as checkpoints
    from amr_tf import rundir
    from amr_tf.evaluation import figures

    out = rundir.figures_dir(run_dir)
    rng = np.random.default_rng(seed)
    described = {}
    if codes.is_points(config):
        points = codes.split(config, "valid").fetch(np.arange(codes.split(config, "valid").size))[0]
        described["spiral"] = figures.spiral(out / "spiral.png", points, nets.encoder, nets.decoder,
                                             config.mixer, config.effective_k if config.mixes else 2, seed)
    else:
        test = codes.split(config, "test")
        x, y, idx = codes.pick(test, max(64, 2 * pairs + 3), rng)
        if len(x) < 2 * pairs + 3:  # a small test split (a folder of a few images): repeat it
            repeat = np.resize(np.arange(len(x)), 2 * pairs + 3)
            x, y, idx = x[repeat], y[repeat], idx[repeat]
        x_a, x_b = x[:pairs], x[pairs:2 * pairs]
        rows = [(f"this: {figure_label(config)}", nets.encoder, nets.decoder)]
        compared = [{"label": "pixel"}, {"label": rows[0][0], "run_dir": str(run_dir), "checkpoint": checkpoint}]
        for other in compare:
            other_config, other_nets, other_meta = checkpoints.load_networks(other, checkpoint)
            rows.append((figure_label(other_config), other_nets.encoder, other_nets.decoder))
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
        strip = np.clip(strips.interpolation_strip(nets.encoder, nets.decoder, x_a[0], x_b[0], GIF_STEPS, "mixup"),
                        -1, 1)
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
