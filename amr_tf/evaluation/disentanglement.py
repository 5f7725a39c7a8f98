"""The `disentanglement` metric: Kim & Mnih's FactorVAE score of a dSprites run.

`factor_vae_score` (and `factor_vae_dsprites`, which wires in the procedural dSprites) is
the FactorVAE disentanglement metric of Kim & Mnih (2018, "Disentangling by Factorising",
arXiv:1802.05983, section 4), step for step as google-research/disentanglement_lib computes
it (`disentanglement_lib/evaluation/metrics/factor_vae.py`), in pure numpy: the encoder is
passed in as a function from numpy images to numpy codes. `grid_sampler` draws any factor
combination from data stored in splits (TFDS dsprites); `evaluate` scores a run.

`original_score` (numpy) and `original_votes` (its sampler), joined by `original_scheme`, are
the score the paper's Table 4 reports: the original AMR code's `dsprite_disentanglement_fv`
(christopher-beckham/amr, `tools.py`, BSD 3-Clause), rebuilt here from a description of what
it computes, bug for bug, with a seeded numpy Generator. Its maximum is 0.8, not 1 (see
`original_score`). `evaluate` writes both scores.
"""

from typing import Callable, Dict, Optional, Sequence

import numpy as np

from amr_tf.evaluation import codes

NAME = "disentanglement"
# The original code read for the `original_*` functions: christopher-beckham/amr, tools.py.
ORIGINAL = "christopher-beckham/amr tools.py dsprite_disentanglement_fv (read at commit 1bd67b9; same at 23e0d54)"
OPTIONS = ("votes", "batch_L", "variance_samples", "seed")
SCALARS = ("disentanglement",)


def why_not(config):
    """None for a dSprites run, else the reason (one line)."""
    from amr_tf.config import DSPRITES  # not at the top: amr_tf.config imports TensorFlow (via amr_tf.mixers)

    if config.dataset not in DSPRITES:
        return (f"needs a run trained on dSprites (--dataset={' or --dataset='.join(DSPRITES)}); "
                f"this run is on '{config.dataset}'")
    return None


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
    over a separate sample of the data; it prunes nothing (its `cull_dimensions`, a KL
    cut for VAEs, is off by default and in its scripts); and it uses numpy's unseeded
    global RNG.
    That score, bug for bug, is `original_score` / `original_scheme` below.

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


def grid_sampler(split_classes, split_fetch, factor_sizes):
    """`sample_factors` and `draw` for `factor_vae_score` over a data set stored in splits
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


# -- the original AMR code's score (the paper's Table 4) ---------------------------------------


def original_score(codes, vote_factors) -> Dict:
    """The score of the original AMR code (`dsprite_disentanglement_fv`), from the codes of its votes.

    What the original computes, step by step (christopher-beckham/amr, `tools.py`), rebuilt here:

    1. Scale: each code unit is divided by its standard deviation (ddof 0) pooled over every
       image of every vote (not over a separate sample of the data).
    2. A vote goes to the unit whose scaled codes vary least (variance, ddof 0) over the
       vote's L images (`np.argmin`, so the lowest index on ties).
    3. For each factor j in `range(max(vote_factors))` the count of its most common unit
       among the votes of factor j is a hit count (factor -> unit: two factors may both
       claim one unit, which counts for both). The loop's bound skips the last factor: with
       dSprites' five factors (colour left out) the votes of posY are never counted.
    4. score = hits / all votes, the votes of the skipped factor included. With equal votes
       per factor (as the original samples them: `original_votes`), that caps the score at
       (K - 1) / K = 0.8. There is no held-out set: this is the accuracy on the votes the
       factor -> unit majority was read from.

    A unit whose codes are all one value has standard deviation 0 in step 1. The original
    then divides 0 by 0 and gets NaN, and `np.argmin` takes the first NaN, so that unit wins
    every vote (and the score is the 0.8 maximum). This is kept, bug for bug, and reported
    under "constant_units". Here the arithmetic is float64 (the original's is float32, the
    codes as PyTorch returned them); var(z / s) is computed as var(z) / s^2, which is the
    same up to rounding. The original's `cull_dimensions` (a KL cut for VAEs, off by
    default and in every call its scripts make) is not rebuilt.

    Args:
        codes: [V, L, ...] the codes of V votes of L images each (flattened per image), or a
            sequence of V arrays [L, ...].
        vote_factors: [V] the factor each vote fixed (0-based: 0 = shape, ..., 4 = posY for
            dSprites; the original's `k_fixed - 1`).

    Returns:
        `original_from_moments`' result.
    """
    codes = [np.asarray(c, np.float64).reshape(len(c), -1) for c in codes]
    if not codes:
        raise ValueError("no votes")
    lengths = {len(c) for c in codes}
    if len(lengths) != 1:
        raise ValueError(f"every vote needs the same number of images L; got {sorted(lengths)}")
    stacked = np.stack(codes)
    constant = np.ptp(stacked.reshape(-1, stacked.shape[-1]), axis=0) == 0
    return original_from_moments(stacked.mean(axis=1), stacked.var(axis=1), vote_factors, constant)


def original_from_moments(means, variances, vote_factors, constant=None) -> Dict:
    """`original_score` from each vote's per-unit mean and variance (ddof 0) over its L images.

    The pooled variance of a unit over all V * L images (the votes have equal L) is the mean
    of the votes' variances plus the variance (ddof 0) of their means. This lets a caller
    keep [V, d] numbers instead of [V, L, d] codes.

    Args:
        means, variances: [V, d] float.
        vote_factors: [V] the 0-based factor of each vote.
        constant: [d] bool, the units whose codes are all one value (default: those whose
            pooled variance is exactly 0); see `original_score`.

    Returns:
        {"score": hits / V, "hits": the sum of the majority counts, "votes": V,
         "scored_factors": the factor ids counted (`range(max(vote_factors))`),
         "majority_count": [K] the most common unit's count for each factor id 0..K-1 (K =
         max + 1; the unscored factor's too, for information), "majority_unit": [K] that unit
         (the lowest one on a tie; only the count is scored), "unit_votes": [K][d] how many
         votes of each factor went to each unit, "vote_units": [V] the unit of each vote,
         "constant_units": unit indices}.

    Raises:
        ValueError: shapes that do not match, negative factor ids, or a counted factor with
            no vote (the original fails there: `Counter([]).most_common()[0]`).
    """
    means = np.asarray(means, np.float64)
    variances = np.asarray(variances, np.float64)
    factors = np.asarray(vote_factors, np.int64).reshape(-1)
    if means.ndim != 2 or means.shape != variances.shape or means.shape[0] != factors.size:
        raise ValueError(f"means {means.shape} and variances {variances.shape} must be [V, d] for the "
                         f"{factors.size} vote factors")
    if factors.size == 0:
        raise ValueError("no votes")
    if factors.min() < 0:
        raise ValueError("vote factors are 0-based factor ids (>= 0)")
    n_units = means.shape[1]
    pooled = variances.mean(axis=0) + means.var(axis=0)
    constant = (pooled == 0) if constant is None else np.asarray(constant, bool).reshape(-1)
    if constant.shape != (n_units,):
        raise ValueError(f"constant must have one entry per unit ({n_units})")
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = variances / pooled
    scaled[:, constant] = np.nan  # 0 / 0 in the original: np.argmin takes the first NaN
    vote_units = np.argmin(scaled, axis=1)
    n_factors = int(factors.max()) + 1
    unit_votes = np.zeros((n_factors, n_units), np.int64)
    np.add.at(unit_votes, (factors, vote_units), 1)
    scored = list(range(n_factors - 1))  # the original's `range(ys.max())`: the last factor is left out
    empty = [j for j in scored if unit_votes[j].sum() == 0]
    if empty:
        raise ValueError(f"factor ids {empty} have no vote; the original's code fails there")
    majority = unit_votes.max(axis=1)
    hits = int(majority[scored].sum())
    return {"score": hits / factors.size, "hits": hits, "votes": int(factors.size), "scored_factors": scored,
            "majority_count": majority.tolist(), "majority_unit": np.argmax(unit_votes, axis=1).tolist(),
            "unit_votes": unit_votes.tolist(), "vote_units": vote_units.tolist(),
            "constant_units": np.flatnonzero(constant).tolist()}


def conditional_sampler(sample_factors, draw):
    """A `conditional(factor, value, n, rng) -> (images, classes)` for `original_votes` from a
    (`sample_factors`, `draw`) pair of `factor_vae_score`: every factor drawn by `sample_factors`,
    then `factor` set to `value`, as `amr_tf.data.dsprites.sample_conditional` does."""

    def conditional(factor, value, n, rng):
        classes = np.array(sample_factors(n, rng), np.int64)
        classes[:, factor] = value
        return draw(classes), classes

    return conditional


def dsprites_conditional(factor, value, n, rng):
    """`amr_tf.data.dsprites.sample_conditional` drawing from the Generator `rng`."""
    from amr_tf.data import dsprites

    return dsprites.sample_conditional(factor, value, n, seed=rng)  # default_rng(rng) is rng itself


def original_votes(conditional, factor_sizes: Sequence[int], n_votes: int = 800, L: int = 800, seed: int = 0):
    """The votes of the original's `dsprite_disentanglement_fv`, in its order, from a seeded Generator.

    For each factor k = 0..K-1 in turn, `n_votes // K` votes (the original: 800 // 5 = 160, its
    `n_votes // (n_factors - 1)` with colour among its 6 factors and left out); a vote is a
    value of k drawn uniformly (the original: `np.random.randint`, unseeded) and L images with
    factor k fixed at it and the others uniform (its `ds.sample_conditional`). One numpy
    Generator (`seed`) draws everything, value then images, vote after vote.

    Args:
        conditional: (factor, value, n, rng) -> (images [n, ...], factor classes [n, K]), as
            `dsprites_conditional`, or `conditional_sampler(sample_factors, draw)`.
        factor_sizes: the K factor sizes (without colour).
        n_votes: the original's n_votes; n_votes // K votes per factor (the rest is dropped, as
            there).
        L: images per vote.
        seed: the Generator's seed.

    Yields:
        (factor, value, images, classes) for each vote.
    """
    sizes = tuple(int(s) for s in factor_sizes)
    rng = np.random.default_rng(seed)
    for k, size in enumerate(sizes):
        for _ in range(int(n_votes) // len(sizes)):
            value = int(rng.integers(0, size))
            images, classes = conditional(k, value, int(L), rng)
            yield k, value, images, classes


def original_scheme(encode: Callable[[np.ndarray], np.ndarray], conditional, factor_sizes: Sequence[int], *,
                    n_votes: int = 800, L: int = 800, seed: int = 0,
                    factor_names: Optional[Sequence[str]] = None) -> Dict:
    """The original's score of an encoder: `original_votes`, encoded, then `original_score`.

    Only each vote's per-unit mean and variance are kept (`original_from_moments`), so the
    memory does not grow with L. A VAE is scored on its posterior mean, as the original's
    `is_vae` does (here an encoder's output is already the mean).

    Args:
        encode: images -> codes [n, ...] (numpy; flattened per image).
        conditional, factor_sizes, n_votes, L, seed: as `original_votes`.
        factor_names: K names (default "factor_0", ...).

    Returns:
        `original_from_moments`' result with "score" None (and a "note") when n_votes < K
        (no vote per factor; the original divides by zero there), plus "votes_per_factor",
        "n_votes" (the votes asked for), "batch_L", "seed", "factor_names", "scored" and
        "unscored" (the factors' names), "max_score" (the score when every counted vote hits),
        "reference".
    """
    sizes = tuple(int(s) for s in factor_sizes)
    names = [str(n) for n in (factor_names or [f"factor_{k}" for k in range(len(sizes))])]
    if len(names) != len(sizes):
        raise ValueError(f"factor_names has {len(names)} names for {len(sizes)} factors")
    per_factor = int(n_votes) // len(sizes)
    out = {"votes_per_factor": per_factor, "n_votes": int(n_votes), "batch_L": int(L), "seed": seed,
           "factor_names": names, "reference": ORIGINAL}
    if per_factor == 0:
        out.update(score=None, note=f"n_votes={n_votes} gives no vote per factor ({len(sizes)} factors): "
                   "the original's score is undefined (its code divides by zero)")
        return out
    factors, means, variances, low, high = [], [], [], None, None
    for k, _, images, _ in original_votes(conditional, sizes, n_votes, L, seed):
        z = _codes(encode, images)
        factors.append(k)
        means.append(z.mean(axis=0))
        variances.append(z.var(axis=0))
        low = z.min(axis=0) if low is None else np.minimum(low, z.min(axis=0))
        high = z.max(axis=0) if high is None else np.maximum(high, z.max(axis=0))
    result = original_from_moments(np.stack(means), np.stack(variances), factors, constant=low == high)
    out.update(result)
    out.update(scored=[names[j] for j in result["scored_factors"]],
               unscored=[n for j, n in enumerate(names) if j not in result["scored_factors"]],
               max_score=len(result["scored_factors"]) * per_factor / result["votes"])
    return out


def evaluate(run_dir, config, nets, votes=800, batch_L=800, variance_samples=10000, seed=0):
    """Kim & Mnih's FactorVAE score on dSprites (`factor_vae_score`), and the original AMR code's
    score (`original_scheme`), which is what the paper's Table 4 reports.

    Procedural dSprites draws any factor combination; TFDS dSprites looks it up in its three
    splits, which together hold the whole grid once. Colour (a single value) is not a factor.
    The options are shared: `votes` is disentanglement_lib's num_train (and num_eval), and
    the original's n_votes (votes // 5 per factor: the defaults, 800, are both codes'
    defaults); `batch_L` is L for both; `seed` seeds each score's own Generator;
    `variance_samples` is for disentanglement_lib's score only (the original scales by the
    std pooled over its votes' images).

    Returns:
        The metric's result (train/eval accuracy, votes, classifier, active units), "original"
        (`original_scheme`'s result), and "summary": {"disentanglement": eval accuracy,
        "disentanglement_train": train accuracy, "disentanglement_active_dims": active units,
        "original_score": the original's score (at most 0.8; None when votes < 5)}.
    """
    from amr_tf import data
    from amr_tf.data import dsprites

    encode = codes.encode_numpy(nets.encoder, codes.ENCODE_BATCH)
    original_images = (votes // len(dsprites.FACTOR_SIZES)) * len(dsprites.FACTOR_SIZES) * batch_L
    progress = codes.Progress("disentanglement (images encoded)",
                              variance_samples + 2 * votes * batch_L + original_images)

    def counted(x):
        h = encode(x)
        progress.update(len(x))
        return h

    kwargs = dict(batch_size=batch_L, num_train=votes, num_eval=votes, num_variance_estimate=variance_samples,
                  seed=seed)
    if config.dataset == "dsprites_procedural":
        result = factor_vae_dsprites(counted, **kwargs)
        source = "procedural dSprites (amr_tf.data.dsprites)"
        conditional = dsprites_conditional
    else:
        from amr_tf.data import tfds_sources

        classes = {s: tfds_sources.factors(s, config) for s in data.SPLITS}
        fetch = {s: codes.split(config, s).fetch for s in data.SPLITS}
        sample_factors, draw = grid_sampler(classes, fetch, dsprites.FACTOR_SIZES)
        result = factor_vae_score(counted, sample_factors, draw, dsprites.FACTOR_SIZES,
                                  factor_names=dsprites.FACTORS, **kwargs)
        source = "TFDS dsprites (all three splits)"
        conditional = conditional_sampler(sample_factors, draw)
    result.update(source=source, votes_each=votes, batch_L=batch_L, variance_samples=variance_samples, seed=seed,
                  reference="Kim & Mnih (2018) as google-research/disentanglement_lib factor_vae.py")
    original = original_scheme(counted, conditional, dsprites.FACTOR_SIZES, n_votes=votes, L=batch_L, seed=seed,
                               factor_names=dsprites.FACTORS)
    original["about"] = ("The paper's Table 4 scheme: votes // 5 votes for each factor in turn, the vote to the unit "
                         "of least variance (scaled by the std pooled over these votes' images), for each factor "
                         "the count of its most common unit, over all votes; the original's loop skips the last "
                         "factor (pos_y), so the maximum is 0.8. A train accuracy: no held-out votes.")
    result["original"] = original
    result["summary"] = {"disentanglement": result["eval_accuracy"],
                         "disentanglement_train": result["train_accuracy"],
                         "disentanglement_active_dims": result["num_active_dims"],
                         "original_score": original["score"]}
    return result
