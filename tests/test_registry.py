"""Every named choice, in every layer, refuses an unknown name with the one error of
`amr_tf.registry`: "unknown WHAT 'NAME'; choose one of: ..." on one line, naming every choice."""


import re

import numpy as np
import pytest

from amr_tf import losses, mixers, networks, recipes, registry
from amr_tf.data import sources as data_sources
from amr_tf.data import tfds_sources
from amr_tf.evaluation import fid, runner
from amr_tf.networks import layers
from amr_tf.serving import archive
from trainers import strategy
from tuning import session

ONE_PHRASING = re.compile(r"^unknown (?P<what>[\w .-]+) '(?P<name>[^']+)'; choose one of: (?P<choices>.+)$")


class _Attributes:
    attributes = "Male,Beard"


def _ones(n):
    return np.ones((2, n), "float32")


CASES = {
    # what, the name refused, a choice that must be listed, the call
    "mixer": ("cutmix", "mixup", lambda: mixers.get_mixer("cutmix")),
    "network preset": ("acai64", "acai32", lambda: networks.get_preset("acai64")),
    "bottleneck": ("64", "256", lambda: networks.preset_for_bottleneck(64)),
    "GAN loss": ("wgan", "bce", lambda: losses.gan_loss(_ones(1)[:, 0], 1.0, kind="wgan")),
    "reconstruction loss": ("l3", "bce_sum", lambda: losses.reconstruction_loss(_ones(3), _ones(3), kind="l3")),
    "strategy": ("tpu", "mirrored", lambda: strategy.make_strategy("tpu")),
    "spectral_norm": ("torch", "keras", lambda: layers.check_spectral_norm("torch")),
    "method": ("exact", "sqrtm", lambda: fid.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2),
                                                               method="exact")),
    "CelebA attribute": ("Beard", "Wearing_Lipstick", lambda: tfds_sources.celeba_attributes(_Attributes())),
    "recipe": ("nope", next(iter(recipes.RECIPES)), lambda: recipes.recipe("nope")),
    "table": ("9", next(iter(recipes.TABLES)), lambda: recipes.table("9")),
    "dataset": ("imagenet", "digits", lambda: data_sources.get_source("imagenet")),
    "split": ("eval", "train", lambda: data_sources.check_split("eval")),
    "metric": ("nope", "probe", lambda: runner.select_metrics("nope", {})),
    "tuner": ("annealing", "hyperband", lambda: session.check_options("annealing", None, None)),
    "format": ("onnx", archive.FORMATS[0],
               lambda: archive.write_version(None, None, (2,), "/nonexistent", format="onnx")),
}


@pytest.mark.parametrize("what", CASES)
def test_every_unknown_name_is_the_one_error(what):
    name, choice, call = CASES[what]
    with pytest.raises(ValueError) as refused:
        call()
    message = str(refused.value)
    parsed = ONE_PHRASING.match(message)
    assert parsed, message
    assert "\n" not in message
    assert (parsed["what"], parsed["name"]) == (what, name)
    assert choice in parsed["choices"]


def test_words_for_what_users_type_and_a_python_list_for_python_values():
    assert str(registry.unknown("tuner", "x", ("grid", "random"))) == (
        "unknown tuner 'x'; choose one of: grid, random")
    assert str(registry.unknown("mixer", "x", ["fm", "mixup"], as_python=True)) == (
        "unknown mixer 'x'; choose one of: ['fm', 'mixup']")
    with pytest.raises(ValueError, match=r"^unknown bottleneck '64'; choose one of: \[32, 256, 1024\]$"):
        networks.preset_for_bottleneck(64)
    assert registry.lookup("x", {"b": 2, "a": 1}, "a") == 1
    assert registry.check("x", "a", ("a",)) == "a"
