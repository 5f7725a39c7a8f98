"""Tests of amr_tf.config.Config: the original's defaults, JSON, immutability, validation, names."""

import dataclasses
import json

import pytest

from amr_tf.config import Config


def test_defaults_are_the_originals():
    cfg = Config()
    # The original's defaults (its launcher's argparse), written out here rather than read from its code.
    expected = dict(lamb=10.0, beta=0.0, k=2, batch_size=64, lr=1e-4, beta1=0.5, beta2=0.99,
                    weight_decay=1e-5, update_g_every=5, recon_loss="l1", gan_loss="bce",
                    bottleneck=32, cls=0.0, mixer="mixup", model="amr", dataset="digits")
    for name, value in expected.items():
        assert getattr(cfg, name) == value, name
    assert cfg.preset == "acai32"
    assert cfg.effective_k == 2


def test_json_round_trip():
    cfg = Config(mixer="fm", k=4, lamb=2.5, beta=0.1, bottleneck=256, subset_train=100,
                 steps_per_epoch=3, seed=7, data_dir="/tmp/x", jit_compile=True, probe_lr=None)
    text = cfg.to_json()
    assert json.loads(text)["k"] == 4
    assert Config.from_json(text) == cfg
    assert Config.from_json(Config().to_json()) == Config()


def test_from_json_names_unknown_keys():
    values = json.loads(Config().to_json())
    values["lambda_"] = 3
    with pytest.raises(ValueError, match="lambda_"):
        Config.from_json(json.dumps(values))


def test_from_json_validates():
    values = json.loads(Config().to_json())
    values["k"] = 0
    with pytest.raises(ValueError, match="k=0"):
        Config.from_json(json.dumps(values))


def test_frozen():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lamb = 3.0
    assert dataclasses.replace(cfg, lamb=3.0).lamb == 3.0 and cfg.lamb == 10.0


@pytest.mark.parametrize(
    "overrides,needles",
    [
        (dict(k=0), ["k=0"]),
        (dict(k=-2, mixer="none"), ["k=-2"]),
        (dict(k=1, mixer="mixup"), ["k=1", "mixup"]),
        (dict(k=1, mixer="bernoulli"), ["k=1", "bernoulli"]),
        (dict(lamb=-1.0), ["lamb", "-1"]),
        (dict(beta=-0.5), ["beta", "-0.5"]),
        (dict(weight_decay=-1e-3), ["weight_decay", "-0.001"]),
        (dict(batch_size=0), ["batch_size", "0"]),
        (dict(epochs=0), ["epochs", "0"]),
        (dict(update_g_every=0), ["update_g_every", "0"]),
        (dict(steps_per_epoch=0), ["steps_per_epoch", "0"]),
        (dict(subset_train=0), ["subset_train", "0"]),
        (dict(lr=0.0), ["lr", "0"]),
        (dict(beta2=1.0), ["beta2", "1.0"]),
        (dict(dataset="mnist_typo"), ["mnist_typo", "digits"]),
        (dict(mixer="cutmix"), ["cutmix", "mixup", "none"]),
        (dict(recon_loss="l3"), ["l3", "l1", "l2"]),
        (dict(gan_loss="wgan"), ["wgan", "bce", "mse"]),
        (dict(bottleneck=64), ["64", "32", "256", "1024"]),
        (dict(model="vae_typo"), ["vae_typo", "amr"]),
    ],
    ids=lambda v: ",".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else None,
)
def test_bad_values_are_named(overrides, needles):
    with pytest.raises(ValueError) as err:
        Config(**overrides)
    message = str(err.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


@pytest.mark.parametrize("k", [1, 2])
def test_ae_gan_baseline_accepts_any_k(k):
    cfg = Config(mixer="none", k=k)
    assert cfg.effective_k == 1


def test_replace_validates():
    with pytest.raises(ValueError, match="k=1"):
        dataclasses.replace(Config(), k=1)


def test_run_name():
    cfg = Config(dataset="digits", mixer="mixup", k=3, lamb=10.0, seed=0)
    assert cfg.run_name() == "digits_mixup_k3_lamb10_s0"
    assert Config(mixer="none", k=2, lamb=2.5, seed=4).run_name() == "digits_none_k1_lamb2.5_s4"
    assert Config(mixer="none").run_name().startswith("digits_none_k1_")


FLOAT_FIELDS = ("lamb", "beta", "cls", "weight_decay", "lr", "probe_lr", "beta1", "beta2")


@pytest.mark.parametrize("name", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        Config(**{name: value})


def test_non_finite_floats_of_other_models_are_refused():
    for overrides in ({"model": "vae", "mixer": "none", "kl_weight": float("nan")},
                      {"cls": 1.0, "cls_lr": float("inf")},
                      {"cls": 1.0, "mask_temperature": float("nan")}):
        with pytest.raises(ValueError, match="must be a finite number"):
            Config(**overrides)


@pytest.mark.parametrize("overrides,needle", [({"k": "two"}, "k must be an int, got 'two'"),
                                              ({"k": 2.5}, "k must be an int"),
                                              ({"k": True}, "k must be an int"),
                                              ({"lamb": "10"}, "lamb must be a float"),
                                              ({"jit_compile": 1}, "jit_compile must be a bool"),
                                              ({"dataset": None}, "dataset must be set")])
def test_wrong_types_are_one_value_error(overrides, needle):
    with pytest.raises(ValueError, match=needle):
        Config(**overrides)
    base = json.loads(Config().to_json())
    with pytest.raises(ValueError, match=needle):  # as a config.json holding it reads
        Config.from_json(json.dumps({**base, **overrides}))


def test_k_is_bounded_by_the_batch():
    with pytest.raises(ValueError, match="k=99999999999999999999 mixes more examples than a batch holds "
                                         r"\(batch_size=64\); choose k <= 64"):
        Config(k=99999999999999999999)
    assert Config(k=64).k == 64
    assert Config(mixer="none", k=100).effective_k == 1  # no mixing: k is not used
