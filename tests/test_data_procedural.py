"""Procedural sources: dSprites on its exact factor grid, ACAI's lines, the 2-D spiral."""

import math

import numpy as np
import pytest

from amr_tf import data
from amr_tf.data import dsprites, lines, spiral
from tests.helpers import tiny_config


def test_dsprites_factor_grid_is_the_originals():
    assert dsprites.FACTOR_SIZES == (3, 6, 40, 32, 32) and dsprites.N_IMAGES == 737280
    np.testing.assert_allclose(dsprites.FACTOR_VALUES[1], np.linspace(0.5, 1.0, 6), rtol=1e-6)
    np.testing.assert_allclose(dsprites.FACTOR_VALUES[2], np.linspace(0.0, 2 * math.pi, 40), rtol=1e-6)
    np.testing.assert_allclose(dsprites.FACTOR_VALUES[3], np.linspace(0.0, 1.0, 32), rtol=1e-6)
    # index order as the original's latents: posY varies fastest, shape slowest
    np.testing.assert_array_equal(dsprites.factor_classes([0, 1, 32, 737279]),
                                  [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [2, 5, 39, 31, 31]])
    idx = np.random.default_rng(0).integers(0, dsprites.N_IMAGES, 1000)
    np.testing.assert_array_equal(dsprites.grid_indices(dsprites.factor_classes(idx)), idx)


def test_dsprites_images_match_the_reference_drawing():
    classes = dsprites.factor_classes(np.random.default_rng(1).integers(0, dsprites.N_IMAGES, 300))
    images = dsprites.render(classes)
    assert images.shape == (300, 64, 64, 1) and set(np.unique(images)) == {0.0, 1.0}
    np.testing.assert_array_equal(images[..., 0].astype(bool), dsprites.draw(classes))
    assert images.sum(axis=(1, 2, 3)).min() > 20  # every sprite is visible
    assert not images[:, [0, -1]].any() and not images[:, :, [0, -1]].any()  # and inside the frame


def test_dsprites_factors_move_the_sprite():
    base = np.array([[0, 5, 0, 10, 10]])
    image = dsprites.render(base)[0, ..., 0]
    right = dsprites.render(base + [0, 0, 0, 1, 0])[0, ..., 0]  # posX + 1: one pixel right
    down = dsprites.render(base + [0, 0, 0, 0, 1])[0, ..., 0]  # posY + 1: one pixel down
    np.testing.assert_array_equal(right[:, 1:], image[:, :-1])
    np.testing.assert_array_equal(down[1:], image[:-1])
    areas = [dsprites.render(np.array([[s, scale, 0, 16, 16]])).sum() for s in range(3) for scale in (0, 5)]
    assert all(small < big for small, big in zip(areas[::2], areas[1::2]))  # scale grows the area
    assert len({a for a in areas}) == 6  # three distinct shapes


def test_sample_conditional_fixes_one_factor():
    images, classes = dsprites.sample_conditional("scale", 3, 200, seed=0)
    assert images.shape == (200, 64, 64, 1) and set(np.unique(images)) == {-1.0, 1.0}
    assert (classes[:, 1] == 3).all()
    assert all(len(np.unique(classes[:, f])) > 1 for f in (0, 2, 3, 4))
    np.testing.assert_array_equal(images, dsprites.images(dsprites.grid_indices(classes)))
    again, _ = dsprites.sample_conditional(1, 3, 200, seed=0)
    np.testing.assert_array_equal(images, again)
    with pytest.raises(ValueError, match="colour.*shape, scale"):
        dsprites.sample_conditional("colour", 0, 5)
    with pytest.raises(ValueError, match="value=6.*0..5"):
        dsprites.sample_conditional("scale", 6, 5)


def test_dsprites_procedural_splits_and_pipeline():
    info = data.info("dsprites_procedural")
    assert info.split_sizes == {"train": 700416, "valid": 18432, "test": 18432}
    assert tuple(info.image_shape) == (64, 64, 1) and info.n_classes == 3
    grid = {split: dsprites.grid_indices(dsprites.factors(split)) for split in ("train", "valid", "test")}
    assert sum(len(g) for g in grid.values()) == dsprites.N_IMAGES
    assert len(np.unique(np.concatenate(list(grid.values())))) == dsprites.N_IMAGES
    cfg = tiny_config(dataset="dsprites_procedural", batch_size=16, subset_train=64)
    batches = [(x.numpy(), y.numpy()) for x, y in data.load("dsprites_procedural", "train", cfg, epochs=(0, 2))]
    assert len(batches) == 8 and all(x.shape == (16, 64, 64, 1) and y.shape == (16, 3) for x, y in batches)
    keys = [image.tobytes() for x, _ in batches for image in x]
    assert len(set(keys[:64])) == 64 and set(keys[:64]) == set(keys[64:])  # each epoch: the 64 kept, reordered
    assert keys[:64] != keys[64:]
    x, y = next(iter(data.load("dsprites_procedural", "valid", cfg)))
    shapes = dsprites.factors("valid")[:16, 0]
    np.testing.assert_array_equal(y.numpy().argmax(1), shapes)  # labels: shape, one-hot
    np.testing.assert_array_equal(x.numpy(), dsprites.images(grid["valid"][:16]))


def test_lines():
    theta = np.array([0.0, math.pi / 2, 1.0, 2 * math.pi - 1e-4])
    images = lines.render(theta)[..., 0]
    assert images.shape == (4, 32, 32) and images.min() == 0.0 and images.max() == 1.0
    assert images[0, 15:17, 17:31].min() > 0.99 and images[0, :, :14].max() == 0.0  # angle 0: to the right
    assert images[1, 1:15, 15:17].min() > 0.99 and images[1, 18:].max() == 0.0  # pi / 2: up
    assert ((images[2] > 0) & (images[2] < 1)).any()  # antialiased
    np.testing.assert_array_equal(lines.labels(theta), [0, 2, 1, 9])
    info = data.info("lines")
    assert tuple(info.image_shape) == (32, 32, 1) and info.n_classes == 10
    x, y = data.get_source("lines").split("valid").fetch(np.arange(500))
    assert x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_array_equal(y.argmax(1), lines.labels(lines.angles("valid")[:500]))
    assert len(np.unique(y.argmax(1))) == 10


def test_spiral_is_points_and_trainable():
    info = data.info("spiral")
    assert info.image_shape == (2,) and info.n_classes == 2
    x, y = next(iter(data.load("spiral", "valid", tiny_config(dataset="spiral", batch_size=100))))
    assert x.shape == (100, 2) and y.shape == (100, 2)
    radius = np.linalg.norm(x.numpy(), axis=1)
    assert radius.max() < 1.2 and radius.min() < 0.2
    config = tiny_config(dataset="spiral", batch_size=64, steps_per_epoch=None)
    assert data.steps_per_epoch("spiral", config) == 10000 // 64
    assert spiral.POINT_SOURCES == ("spiral",)
