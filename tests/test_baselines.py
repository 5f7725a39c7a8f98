"""ACAI, beta-VAE, the supervised class mixer (Eq. 7) and the consistency term, one step at a time.

Steps run eagerly on tiny batches: each test builds its own small trainer.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from amr_tf import losses, mixers
from amr_tf.config import Config
from tests import helpers
from tests.helpers import changed, fake_info, make_trainer, network_weights, random_batch, snapshot, tiny_config
from trainers.acai import ACAI_LOSS_NAMES, ACAITrainer
from trainers.amr import SUPERVISED_NAMES, AMRTrainer
from trainers.base import BaseTrainer
from trainers.build import build_trainer
from trainers.vae import VAE_LOSS_NAMES, VAETrainer

BATCH = 4
DSPRITES_SHAPE = (64, 64, 1)


def _logs(trainer, batch):
    return {name: float(value) for name, value in trainer.train_step(batch).items()}


def _changes(trainer, batch, names):
    """name -> whether one train step changed that network's trainable weights."""
    weights = network_weights(trainer, names)
    before = {name: snapshot(v) for name, v in weights.items()}
    logs = _logs(trainer, batch)
    return {name: changed(before[name], weights[name]) for name in names}, logs


# -- ACAI -------------------------------------------------------------------------------------


def test_acai_step_changes_its_networks_and_logs_its_terms():
    trainer = make_trainer(tiny_config(model="acai", mixer="mixup", k=2))
    assert isinstance(trainer, ACAITrainer)
    moved, logs = _changes(trainer, random_batch(BATCH, seed=1),
                           ("encoder", "decoder", "discriminator", "probe"))
    assert all(moved.values()), moved
    assert set(logs) == set(ACAI_LOSS_NAMES)
    assert all(np.isfinite(v) for v in logs.values())


@pytest.mark.parametrize("alpha, target", [(0.0, 0.0), (1.0, 0.0), (0.5, 1.0), (0.25, 0.5), (0.9, 0.2)])
def test_acai_critic_target_folds_the_coefficient(alpha, target):
    assert float(ACAITrainer.critic_target(tf.constant(alpha))) == pytest.approx(target, abs=1e-6)


class _ConstantCritic(keras.Model):
    """A critic whose logit is 1 for every input (its bias; the kernel multiplies zero)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="ones")

    def call(self, x, training=False):
        return self.dense(tf.zeros([tf.shape(x)[0], 1]))[:, 0]


@pytest.mark.parametrize("mixer", ["mixup", "bernoulli"])
def test_acai_discriminator_regresses_two_min_alpha_on_mixes_and_zero_elsewhere(mixer):
    """With logit z = 1 everywhere, bce(1, t) = softplus(1) - t: each term reveals its target."""
    trainer = make_trainer(tiny_config(model="acai", mixer=mixer, k=2))
    trainer.discriminator = _ConstantCritic()
    trainer.discriminator(tf.zeros([1, 32, 32, 1]))  # creates its variables
    trainer.d_optimizer = keras.optimizers.SGD(0.0)
    trainer.d_optimizer.build(trainer.discriminator.trainable_variables)
    x, y = random_batch(8, seed=3)
    fwd = trainer._forward(x, y)
    alpha = fwd.alpha.numpy()
    assert np.all((alpha >= 0) & (alpha <= 1)) and np.ptp(alpha) > 0
    if mixer == "bernoulli":  # the share of feature maps taken from the example itself
        latent = fwd.h.shape[-1]
        assert np.allclose(alpha * latent, np.round(alpha * latent))
    out = trainer._train_discriminator(x, y, fwd)
    base = np.logaddexp(0.0, 1.0)
    np.testing.assert_allclose(out["d_real"], base, rtol=1e-5)
    np.testing.assert_allclose(out["d_recon"], base, rtol=1e-5)
    np.testing.assert_allclose(out["d_mix"], base - 2 * np.minimum(alpha, 1 - alpha), rtol=1e-5)


def test_acai_generator_pushes_its_mixes_towards_zero():
    trainer = make_trainer(tiny_config(model="acai", mixer="mixup", k=2))
    trainer.discriminator = _ConstantCritic()
    trainer.discriminator(tf.zeros([1, 32, 32, 1]))  # creates its variables
    x, y = random_batch(BATCH, seed=4)
    out = trainer._generator_losses(x, y, trainer._forward(x, y))
    np.testing.assert_allclose(out["g_gan_mix"], np.logaddexp(0.0, 1.0), rtol=1e-5)  # bce(1, 0)
    np.testing.assert_allclose(out["g_loss"], 10 * out["recon"].numpy() + np.logaddexp(0.0, 1.0), rtol=1e-5)


# -- beta-VAE ---------------------------------------------------------------------------------


def test_gaussian_kl_matches_its_closed_form_and_a_monte_carlo_estimate():
    mu = np.array([[0.0, 0.0], [1.0, -2.0], [0.3, 0.5]], np.float32)
    logvar = np.array([[0.0, 0.0], [0.0, np.log(4.0)], [-1.0, 0.7]], np.float32)
    kl = losses.gaussian_kl(mu, logvar).numpy()
    var = np.exp(logvar.astype(np.float64))
    closed = (0.5 * (mu.astype(np.float64) ** 2 + var - 1 - np.log(var))).mean(axis=1)
    np.testing.assert_allclose(kl, closed, rtol=1e-5)
    assert kl[0] == pytest.approx(0.0, abs=1e-7)
    assert kl[1] == pytest.approx((0.5 + 0.5 * (4 + 4 - 1 - np.log(4))) / 2, rel=1e-5)
    # Monte Carlo: E_q[log q(z) - log p(z)] per unit, averaged over units.
    rng = np.random.default_rng(0)
    z = mu[2] + np.sqrt(var[2]) * rng.standard_normal((400_000, 2))
    log_q = -0.5 * (((z - mu[2]) ** 2) / var[2] + np.log(2 * np.pi * var[2]))
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    assert (log_q - log_p).mean(axis=0).mean() == pytest.approx(kl[2], abs=5e-3)


def _vae_config(**overrides):
    return Config(dataset="dsprites_procedural", model="vae", batch_size=8, epochs=1, steps_per_epoch=2,
                  **overrides)


def test_vae_defaults_follow_the_paper_on_dsprites():
    config = _vae_config()
    assert (config.kl_weight, config.lamb, config.recon_loss, config.beta1) == (100.0, 1.0, "bce_sum", 0.9)
    assert config.preset == "dsprites"
    digits = Config(dataset="digits", model="vae")
    assert (digits.kl_weight, digits.lamb, digits.recon_loss, digits.preset) == (1.0, 10.0, "bce_sum", "acai32")
    assert Config(dataset="dsprites_procedural").recon_loss == "bce_sum"  # AMR on dSprites (Table 4)
    assert Config(dataset="digits").recon_loss == "l1" and Config(dataset="digits").kl_weight is None


def test_vae_step_changes_encoder_decoder_probe_and_logs_kl():
    trainer = make_trainer(_vae_config(), DSPRITES_SHAPE, n_classes=3)
    assert isinstance(trainer, VAETrainer) and trainer.encoder.variational
    x, y = random_batch(BATCH, DSPRITES_SHAPE, 3, seed=2)
    x = tf.cast(x > 0, tf.float32) * 2 - 1  # binary images, as dSprites
    moved, logs = _changes(trainer, (x, y), ("encoder", "decoder", "probe"))
    assert all(moved.values()), moved
    assert set(logs) == set(VAE_LOSS_NAMES)
    assert logs["kl"] >= 0 and logs["recon"] > 0
    assert logs["g_loss"] == pytest.approx(logs["recon"] + 100.0 * logs["kl"], rel=1e-4)
    assert trainer.network_names == ["encoder", "decoder", "probe"]


@pytest.mark.filterwarnings("ignore:`compile\\(\\)` was not called")
def test_vae_trainer_round_trips_and_shares_only_the_base_with_amr():
    trainer = make_trainer(_vae_config(kl_weight=7.0, lamb=3.0, seed=2), DSPRITES_SHAPE, n_classes=3)
    assert isinstance(trainer, BaseTrainer) and not isinstance(trainer, AMRTrainer)
    assert trainer.optimizer_names == ["ae_optimizer", "probe_optimizer"]
    assert trainer.step_optimizer is trainer.ae_optimizer
    for copy in (VAETrainer.from_config(trainer.get_config()), helpers.roundtrip(trainer)):
        assert isinstance(copy, VAETrainer) and copy.discriminator is None and copy.encoder.variational
        assert (copy.kl_weight, copy.lamb, copy.recon_loss, copy.seed) == (7.0, 3.0, "bce_sum", 2)
        assert copy.encoder is not trainer.encoder
    # no adversary, so no D and no argument for its optimizer (not one accepted only to be refused)
    with pytest.raises(TypeError, match="d_optimizer"):
        trainer.compile(ae_optimizer=keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam(),
                        probe_optimizer=keras.optimizers.Adam())


def test_vae_code_is_the_posterior_mean():
    trainer = make_trainer(_vae_config(), DSPRITES_SHAPE, n_classes=3)
    x, _ = random_batch(BATCH, DSPRITES_SHAPE, 3, seed=5)
    mu, logvar = trainer.encoder.moments(x)
    np.testing.assert_allclose(trainer.encoder(x).numpy(), mu.numpy(), rtol=1e-6)
    assert mu.shape == logvar.shape == (BATCH, 10)


# -- the supervised class mixer (Eq. 7) -------------------------------------------------------


def test_straight_through_mask_is_hard_forward_with_an_identity_gradient():
    p = tf.Variable(tf.fill([64, 8], 0.3))
    with tf.GradientTape() as tape:
        m = mixers.bernoulli_mask(p, seed=1)
        loss = tf.reduce_sum(m * tf.range(8, dtype=tf.float32))
    values = m.numpy()
    assert set(np.unique(values)) <= {0.0, 1.0}
    assert 0.2 < values.mean() < 0.4
    np.testing.assert_allclose(tape.gradient(loss, p).numpy(), np.tile(np.arange(8.0), (64, 1)))


def test_relaxed_mask_is_soft_and_has_a_gradient():
    p = tf.Variable(tf.fill([256, 4], 0.7))
    with tf.GradientTape() as tape:
        m = mixers.bernoulli_mask(p, seed=2, temperature=0.5)
        loss = tf.reduce_sum(m)
    values = m.numpy()
    assert np.all((values > 0) & (values < 1)) and 0.55 < values.mean() < 0.85
    assert np.all(tape.gradient(loss, p).numpy() > 0)
    with pytest.raises(ValueError, match="temperature"):
        mixers.bernoulli_mask(p, temperature=0.0)


def test_class_mix_takes_feature_maps_by_mask_and_the_fixed_form_uses_p():
    h_a = tf.ones([2, 4, 4, 3])
    h_b = tf.zeros([2, 4, 4, 3])
    out = mixers.class_mix(h_a, h_b, tf.constant([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(out.numpy()[:, 0, 0, :], [[1, 0, 1], [0, 0, 1]])
    assert np.all(out.numpy() == out.numpy()[:, :1, :1, :])  # constant over H, W
    trainer = make_trainer(tiny_config(cls=1.0))
    features = trainer.encoder(random_batch(1)[0]).shape[-1]
    y = tf.constant([[1.0] + [0.0] * 9, [0.5, 0.5] + [0.0] * 8])
    p = trainer.class_mixer(y).numpy()
    assert p.shape == (2, features)
    fixed = mixers.class_mix_fixed(tf.ones([1, 4, 4, features]), tf.zeros([1, 4, 4, features]), y,
                                   trainer.class_mixer).numpy()
    assert fixed.shape == (2, 4, 4, features)
    np.testing.assert_allclose(fixed[:, 2, 3, :], p, rtol=1e-6)


def _supervised_trainer(**overrides):
    return make_trainer(tiny_config(cls=1.0, **overrides))


def test_supervised_step_changes_every_network_including_the_class_mixer():
    trainer = _supervised_trainer()
    names = ("encoder", "decoder", "discriminator", "probe", "class_mixer")
    moved, logs = _changes(trainer, random_batch(BATCH, seed=6), names)
    assert all(moved.values()), moved
    assert set(SUPERVISED_NAMES) <= set(logs)
    assert all(np.isfinite(v) for v in logs.values())
    assert 0 <= logs["cls_mix_accuracy"] <= 1 and 0 <= logs["cls_real_accuracy"] <= 1
    assert trainer.network_names[-1] == "class_mixer"


@pytest.mark.parametrize("temperature", [None, 0.5])
def test_gradients_reach_the_class_mixer_through_the_mask(temperature):
    trainer = _supervised_trainer(mask_temperature=temperature)
    x, y = random_batch(8, seed=7)  # (4 rows drew the identity permutation: no partner to mix)
    with tf.GradientTape() as tape:
        out = trainer._generator_losses(x, y, trainer._forward(x, y))
        loss = tf.reduce_mean(out["g_gan_sup"] + out["g_cls"])
    grads = tape.gradient(loss, trainer.class_mixer.trainable_variables)
    assert grads and all(g is not None for g in grads)
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


def test_supervised_targets_are_convex_mixes_of_the_pair_labels():
    trainer = _supervised_trainer()
    x, y = random_batch(8, seed=8)
    y_mix = trainer._forward(x, y).y_mix.numpy()
    np.testing.assert_allclose(y_mix.sum(axis=1), 1.0, rtol=1e-5)  # one-hot rows stay on the simplex
    own = (y_mix * y.numpy()).sum(axis=1)
    assert np.all(own >= 0) and np.all(own <= 1 + 1e-6)
    assert np.count_nonzero(y_mix > 1e-6, axis=1).max() <= 2  # at most two parents


@pytest.mark.parametrize("label_kind", ["classes", "attributes"])
def test_auxiliary_head_learns_real_labels_on_a_tiny_set(label_kind):
    """Two classes of constant images (dark, bright): D's head must tell them apart.

    D is also trained adversarially, which shakes its features, so the head is judged over
    the last 15 of 30 steps rather than at one step (chance: accuracy 0.5, loss log 2 = 0.69).
    """
    trainer = make_trainer(tiny_config(cls=1.0, lr=1e-3), n_classes=2)
    trainer.label_kind = label_kind  # steps run eagerly: takes effect now
    rng = np.random.default_rng(0)
    labels = np.tile([0, 1], 8)
    x = np.where(labels[:, None, None, None] == 0, -0.8, 0.8) + rng.normal(0, 0.05, (16, 32, 32, 1))
    batch = (tf.constant(x, tf.float32), tf.constant(np.eye(2, dtype=np.float32)[labels]))
    history = []
    for _ in range(30):
        trainer.reset_metrics()
        history.append(_logs(trainer, batch))
    assert history[0]["cls_real_accuracy"] <= 0.5  # an untrained head: no better than chance
    late = history[15:]
    assert np.mean([h["cls_real_accuracy"] == 1.0 for h in late]) >= 0.6, late
    assert np.median([h["d_cls"] for h in late]) < 0.45


def test_class_head_has_its_own_learning_rate_with_cls_lr():
    """With --cls_lr the head steps at its own rate; the rest of D is updated exactly as without it."""
    from trainers import checkpoint

    batch = random_batch(BATCH, seed=9)
    own = _supervised_trainer(cls_lr=0.1)
    shared = _supervised_trainer()
    assert own.optimizer_names[-1] == "cls_optimizer" and "cls_optimizer" not in shared.optimizer_names
    assert "cls_optimizer" in checkpoint.objects(own)
    head = {id(v) for v in own.class_head_variables}
    assert len(head) == 2 and not head & {id(v) for v in own._d_body_variables()}
    assert len(own._d_body_variables()) + 2 == len(own.discriminator.trainable_variables)

    def moves(trainer, steps=2):
        """Per step, each D variable's largest change."""
        out = []
        for _ in range(steps):
            before = [v.numpy().copy() for v in trainer.discriminator.trainable_variables]
            _logs(trainer, batch)
            out.append([np.abs(v.numpy() - b).max() for v, b in zip(trainer.discriminator.trainable_variables, before)])
        return out

    fast, slow = moves(own), moves(shared)
    names = [v.path for v in own.discriminator.trainable_variables]
    kernel = names.index("discriminator/class_head/class_head/kernel")
    # Step 2 (step 1 also rescales every kernel by its spectral norm): Adam moves by about its rate.
    assert fast[1][kernel] > 20 * slow[1][kernel], (fast[1][kernel], slow[1][kernel])
    # Step 1: same weights, same gradients, so the rest of D moves alike.
    body = [i for i, v in enumerate(own.discriminator.trainable_variables) if id(v) not in head]
    np.testing.assert_allclose([fast[0][i] for i in body], [slow[0][i] for i in body], rtol=1e-3, atol=1e-7)
    assert int(own.cls_optimizer.iterations) == 2


def test_class_loss_is_softmax_for_classes_and_sigmoid_for_attributes():
    trainer = _supervised_trainer()
    y = tf.constant([[0.7, 0.3, 0.0]])
    logits = tf.constant([[2.0, 1.0, -1.0]])
    z = logits.numpy()[0].astype(np.float64)
    softmax_ce = -(np.array([0.7, 0.3, 0.0]) * (z - np.log(np.exp(z).sum()))).sum()
    assert float(trainer._class_loss(y, logits)[0]) == pytest.approx(softmax_ce, rel=1e-5)
    assert float(trainer._class_accuracy(y, logits)[0]) == 1.0
    trainer.label_kind = "attributes"
    t = np.array([0.7, 0.3, 0.0])
    sigmoid_ce = (t * np.logaddexp(0, -z) + (1 - t) * np.logaddexp(0, z)).mean()
    assert float(trainer._class_loss(y, logits)[0]) == pytest.approx(sigmoid_ce, rel=1e-5)
    assert float(trainer._class_accuracy(y, logits)[0]) == 0.0  # attribute 2 predicted on, target off


# -- consistency (beta) -----------------------------------------------------------------------


def test_consistency_is_absent_at_beta_zero():
    trainer = make_trainer(tiny_config(beta=0.0))
    logs = _logs(trainer, random_batch(BATCH, seed=9))
    assert "consistency" not in trainer.g_terms and logs["consistency"] == 0.0


@pytest.mark.parametrize("overrides", [dict(model="amr"), dict(model="acai"), dict(model="amr", cls=1.0),
                                       dict(model="amr", mixer="none", cls=1.0)])
def test_consistency_gradient_reaches_the_encoder_when_beta_is_positive(overrides):
    trainer = make_trainer(tiny_config(beta=1.0, **overrides))
    assert "consistency" in trainer.g_terms
    x, y = random_batch(BATCH, seed=10)
    with tf.GradientTape() as tape:
        out = trainer._generator_losses(x, y, trainer._forward(x, y))
        loss = tf.reduce_mean(out["consistency"])
    assert float(loss) > 0
    grads = tape.gradient(loss, trainer.encoder.trainable_variables)
    assert all(g is not None for g in grads) and sum(float(tf.reduce_sum(tf.abs(g))) for g in grads) > 0
    logs = _logs(trainer, (x, y))
    assert logs["consistency"] > 0


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, message", [
    (dict(model="amr", kl_weight=10.0), "kl_weight=10.0 applies to --model=vae only"),
    (dict(model="vae", beta=1.0), "beta=1.0 does not apply to --model=vae"),
    (dict(model="acai", k=3), "--model=acai mixes pairs"),
    (dict(model="acai", mixer="none"), "--model=acai needs a mixer"),
    (dict(attributes="Male"), "--attributes applies to data sets with attributes"),
    (dict(mask_temperature=0.5), "applies to the supervised class mixer only"),
    (dict(cls=1.0, mask_temperature=-1.0), "mask_temperature must be > 0"),
    (dict(arch="acai99"), "unknown arch 'acai99'"),
    (dict(cls_lr=1e-3), "applies to the supervised class mixer's classifier head only"),
    (dict(cls=1.0, cls_lr=0.0), "cls_lr must be > 0"),
    (dict(cls=1.0, cls_lr=1e-3, precision="mixed_float16"), "use mixed_bfloat16"),
])
def test_meaningless_combinations_are_refused_in_one_line(overrides, message):
    with pytest.raises(ValueError, match=None) as error:
        Config(dataset="digits", **overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_cls_without_labels_and_shape_mismatches_are_refused_in_one_line():
    with pytest.raises(ValueError, match="needs labels") as error:
        build_trainer(tiny_config(cls=1.0), fake_info(n_classes=0))
    assert "\n" not in str(error.value)
    for config, shape in [(tiny_config(arch="dsprites"), (32, 32, 1)),
                          (tiny_config(arch="spiral"), (32, 32, 1)),
                          (_vae_config(arch="acai32"), (28, 28, 1))]:
        with pytest.raises(ValueError) as error:
            build_trainer(config, fake_info(shape))
        assert "\n" not in str(error.value), str(error.value)


def test_run_names_tell_models_apart():
    assert Config(dataset="digits").run_name() == "digits_mixup_k2_lamb10_s0"
    assert Config(dataset="digits", model="acai").run_name() == "digits_acai_mixup_k2_lamb10_s0"
    assert Config(dataset="digits", cls=2.0).run_name() == "digits_mixup_k2_lamb10_cls2_s0"
    assert _vae_config().run_name() == "dsprites_procedural_vae_kl100_lamb1_s0"
    assert dataclasses.replace(_vae_config(), kl_weight=4.0).run_name().startswith("dsprites_procedural_vae_kl4_")
