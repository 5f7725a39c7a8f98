"""The score the paper's Table 4 reports: the original AMR code's `dsprite_disentanglement_fv`
(christopher-beckham/amr, `tools.py`, BSD 3-Clause), rebuilt here from a description of what it
computes, bug for bug, with a seeded numpy Generator: `original_score` (numpy) and
`original_votes` (its sampler), joined by `original_scheme`. Its maximum is 0.8, not 1 (see
`original_score`). `amr_tf.evaluation.disentanglement.evaluate` writes it beside Kim & Mnih's.
"""

from typing import Callable, Dict, Optional, Sequence

import numpy as np

# The original code read for the `original_*` functions: christopher-beckham/amr, tools.py.
ORIGINAL = "christopher-beckham/amr tools.py dsprite_disentanglement_fv (read at commit 1bd67b9; same at 23e0d54)"


def flat_codes(encode: Callable, images: np.ndarray) -> np.ndarray:
    """encode(images) as float64 [n, d] (any code shape is flattened per example)."""
    codes = np.asarray(encode(images))
    return codes.reshape(codes.shape[0], -1).astype(np.float64)


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
        z = flat_codes(encode, images)
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
