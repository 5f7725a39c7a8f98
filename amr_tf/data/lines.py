"""ACAI's synthetic `lines` benchmark (Berthelot et al. 2019), drawn by code.

A 32x32x1 image holds one antialiased line of width 2 from the centre towards the border
(length 15 px) at an angle ~ U[0, 2 pi); the label is int(10 * angle / 2 pi) (10 classes,
one-hot). Each split has a fixed set of angles (train 50,000, valid 10,000, test 10,000,
each from its own fixed seed); an image is drawn when a batch asks for it.
"""

import math

import numpy as np

from amr_tf.data import sources

IMAGE_SIZE = 32
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
N_CLASSES = 10
LINE_WIDTH = 2.0
LENGTH = IMAGE_SIZE / 2 - 1
SIZES = {"train": 50000, "valid": 10000, "test": 10000}
SEEDS = {"train": 1, "valid": 2, "test": 3}
_PIXELS = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5


def render(angles: np.ndarray) -> np.ndarray:
    """Angles [n] (radians) -> images float32 [n, 32, 32, 1] in [0, 1].

    A pixel's intensity is the line's coverage, approximated from its centre's distance d
    to the segment: clip(width / 2 + 1/2 - d, 0, 1).
    """
    angles = np.asarray(angles, np.float32)[:, None, None]
    c = IMAGE_SIZE / 2
    ux, uy = np.cos(angles), -np.sin(angles)  # angle counter-clockwise from +x, image rows grow down
    px = _PIXELS[None, None, :] - c
    py = _PIXELS[None, :, None] - c
    t = np.clip(px * ux + py * uy, 0.0, LENGTH)  # projection onto the segment
    d = np.sqrt((px - t * ux) ** 2 + (py - t * uy) ** 2)
    return np.clip(LINE_WIDTH / 2 + 0.5 - d, 0.0, 1.0)[..., None]


def labels(angles: np.ndarray) -> np.ndarray:
    """int(10 * angle / 2 pi), in 0..9."""
    return np.minimum((N_CLASSES * np.asarray(angles) / (2 * math.pi)).astype(np.int64), N_CLASSES - 1)


def angles(split: str) -> np.ndarray:
    """The split's angles, float32 [n] in [0, 2 pi)."""
    sources.check_split(split)
    rng = np.random.default_rng(SEEDS[split])
    return (rng.uniform(0.0, 2 * math.pi, SIZES[split]) % (2 * math.pi)).astype(np.float32)


def info(config=None) -> sources.DataInfo:
    del config
    return sources.DataInfo("lines", IMAGE_SHAPE, N_CLASSES, dict(SIZES), "procedural (drawn on the fly)",
                             labels="one-hot int(10 * angle / 2 pi) (10)")


def split(name: str, config=None) -> sources.SplitData:
    del config
    theta = angles(name)
    y = labels(theta)
    eye = np.eye(N_CLASSES, dtype=np.float32)

    def fetch(indices):
        return render(theta[indices]) * 2.0 - 1.0, eye[y[indices]]

    return sources.SplitData(len(theta), fetch)


sources.register_source("lines", info, split)
