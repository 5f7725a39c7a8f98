"""The `disentanglement` metric: Kim & Mnih's FactorVAE score of a dSprites run.

`factor_vae_score` (and `factor_vae_dsprites`, which wires in the procedural dSprites) is
the FactorVAE disentanglement metric of Kim & Mnih (2018, "Disentangling by Factorising",
arXiv:1802.05983, section 4), step for step as google-research/disentanglement_lib computes
it (`disentanglement_lib/evaluation/metrics/factor_vae.py`), in pure numpy: the encoder is
passed in as a function from numpy images to numpy codes. `grid_sampler` draws any factor
combination from data stored in splits (TFDS dsprites); `evaluate` scores a run.

`evaluate` writes it and the score the paper's Table 4 reports, the original AMR code's
(`amr_tf.evaluation.disentanglement_original`).
"""

from typing import Callable, Dict, Optional, Sequence

import numpy as np

from amr_tf.evaluation import codes
from amr_tf.evaluation.disentanglement_original import (
    conditional_sampler,
    dsprites_conditional,
    flat_codes,
    original_scheme,
)

NAME = "disentanglement"
OPTIONS = ("votes", "batch_L", "variance_samples", "seed")
SCALARS = ("disentanglement",)


def why_not(config):
    """None for a dSprites run, else the reason (one line)."""
    from amr_tf.config import DSPRITES  # not at the top: amr_tf.config imports TensorFlow (via amr_tf.mixers)

    if config.dataset not in DSPRITES:
        return (f"needs a run trained on dSprites (--dataset={' or --dataset='.join(DSPRITES)}); "
                f"this run is on '{config.dataset}'")
    return None


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
    codes = np.concatenate([flat_codes(encode, draw(classes[i:i + chunk_size]))
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
            local_var = np.var(flat_codes(encode, draw(batch)), axis=0, ddof=1)
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


def evaluate(run_dir, config, nets, *, votes, batch_L, variance_samples, seed):
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
