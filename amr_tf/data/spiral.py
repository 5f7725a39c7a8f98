"""The supplement's 2-D spiral (points, not images), for the consistency-loss figure.

Two interleaved arms: for t ~ U[0, 1], radius r = t and angle 3 pi t (+ pi for arm 1),
plus N(0, 0.02^2) noise per coordinate; the label is the arm, one-hot (2). Points lie in
about [-1, 1]^2. Splits: train 10,000, valid 1,000, test 1,000, each from its own fixed
seed. Training uses the "spiral" network preset (small MLPs).
"""

import math

import numpy as np

from amr_tf.data import sources

POINT_SOURCES = ("spiral",)  # registered sources whose examples are points, not images
SIZES = {"train": 10000, "valid": 1000, "test": 1000}
SEEDS = {"train": 11, "valid": 12, "test": 13}
TURNS = 1.5  # 3 pi radians per arm
NOISE = 0.02


def points(split: str):
    """(points float32 [n, 2], arm int64 [n]) of a split."""
    sources.check_split(split)
    rng = np.random.default_rng(SEEDS[split])
    n = SIZES[split]
    t = rng.uniform(0.0, 1.0, n)
    arm = rng.integers(0, 2, n)
    theta = 2 * math.pi * TURNS * t + math.pi * arm
    xy = np.stack([t * np.cos(theta), t * np.sin(theta)], axis=1) + rng.normal(0.0, NOISE, (n, 2))
    return xy.astype(np.float32), arm.astype(np.int64)


def info(config=None) -> sources.DataInfo:
    del config
    return sources.DataInfo("spiral", (2,), 2, dict(SIZES), "procedural (2-D points)",
                             value_range=(-1.1, 1.1), labels="one-hot spiral arm (2)")


def split(name: str, config=None) -> sources.SplitData:
    del config
    return sources.array_split(*points(name), n_classes=2)


sources.register_source("spiral", info, split)
