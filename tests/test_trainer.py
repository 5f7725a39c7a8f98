"""Tests of trainers.amr.AMRTrainer: what one step updates, the loss values, XLA, serialization, fit.

Steps run eagerly (`trainer.train_step(batch)`): on a 2-core CPU an eager step of the acai32
networks costs well under a second, while tracing one costs several.
"""


import numpy as np
import pytest
import tensorflow as tf

from amr_tf import data, mixers, networks
from tests.helpers import (
    assert_round_trip,
    changed,
    make_trainer,
    network_weights,
    random_batch,
    roundtrip,
    snapshot,
    tiny_config,
)
from trainers.amr import LOSS_NAMES, AMRTrainer
from trainers.base import EVAL_NAMES
from trainers.build import adam, build_trainer

BATCH = 4


def _logs(trainer, batch):
    return {name: float(value) for name, value in trainer.train_step(batch).items()}


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _gan(logits, target, kind):
    """Per-example l_GAN, written from its definition (the paper's Eq. 2), in float64."""
    z = np.asarray(logits, np.float64)
    if kind == "bce":  # -t log s(z) - (1 - t) log(1 - s(z))
        return target * _softplus(-z) + (1.0 - target) * _softplus(z)
    return (_sigmoid(z) - target) ** 2


def _recon(x, r, kind):
    d = np.asarray(x, np.float64) - np.asarray(r, np.float64)
    per_pixel = np.abs(d) if kind == "l1" else d ** 2
    return per_pixel.reshape(len(d), -1).mean(axis=1)


def _cross_entropy(onehot, logits):
    z = np.asarray(logits, np.float64)
    log_softmax = z - z.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    return -(np.asarray(onehot) * log_softmax).sum(axis=1)


def test_one_step_changes_every_network_and_the_mixing_rng():
    trainer = make_trainer(tiny_config(mixer="mixup", k=2))
    weights = network_weights(trainer)
    before = {name: snapshot(v) for name, v in weights.items()}
    rng_before = snapshot([trainer.seed_generator.state])
    logs = _logs(trainer, random_batch(BATCH, seed=1))
    for name, variables in weights.items():
        assert changed(before[name], variables), f"{name} did not change in the first step"
    assert changed(rng_before, [trainer.seed_generator.state])
    assert set(logs) == set(LOSS_NAMES)
    assert all(np.isfinite(v) for v in logs.values())
    assert int(trainer.ae_optimizer.iterations) == 1


def test_generator_updates_only_every_update_g_every_steps():
    trainer = make_trainer(tiny_config(update_g_every=3))
    batch = random_batch(BATCH, seed=2)
    ae = trainer.encoder.trainable_variables + trainer.decoder.trainable_variables
    for step in range(7):
        ae_before = snapshot(ae)
        d_before = snapshot(trainer.discriminator.trainable_variables)
        probe_before = snapshot(trainer.probe.trainable_variables)
        trainer.train_step(batch)
        due = step % 3 == 0
        assert changed(ae_before, ae) == due, f"step {step}: auto-encoder update due={due}"
        assert changed(d_before, trainer.discriminator.trainable_variables), f"step {step}"
        assert changed(probe_before, trainer.probe.trainable_variables), f"step {step}"
        assert int(trainer.ae_optimizer.iterations) == step // 3 + 1
    assert int(trainer.ae_optimizer.iterations) == 3  # steps 0, 3, 6
    assert int(trainer.d_optimizer.iterations) == 7
    assert int(trainer.probe_optimizer.iterations) == 7


def test_update_g_phase_epoch_counts_the_cadence_from_each_epochs_first_step():
    """The original updates G on its batches 1, 1 + N, ... of every epoch (`iter` restarts);
    with steps_per_epoch set (update_g_phase="epoch") both the in-graph decision of `fit`'s
    path and `generator_due` (the distributed loop's) count from each epoch's first step."""
    trainer = make_trainer(tiny_config(update_g_every=2))
    trainer.steps_per_epoch = 3
    batch = random_batch(BATCH, seed=4)
    ae = trainer.encoder.trainable_variables + trainer.decoder.trainable_variables
    updated = []
    for step in range(6):
        before = snapshot(ae)
        trainer.train_step(batch)
        updated.append(changed(before, ae))
    expected = [0, 2, 3, 5]  # a count over the run would be 0, 2, 4
    assert [s for s, u in enumerate(updated) if u] == expected
    assert [s for s in range(6) if trainer.generator_due(s)] == expected
    trainer.steps_per_epoch = None
    assert [s for s in range(6) if trainer.generator_due(s)] == [0, 2, 4]


def test_fit_trains_on_the_partial_batch_with_the_original_cadence(tmp_path):
    """The run passes last_batch and update_g_phase through: 21 examples in batches of 8 are
    3 steps an epoch (8, 8, 5), G due on each epoch's steps 0 and 2."""
    from trainers import run

    config = tiny_config(batch_size=8, subset_train=21, steps_per_epoch=None, epochs=2, update_g_every=2,
                         last_batch="keep", update_g_phase="epoch")
    trainer = build_trainer(config, data.info("digits"))
    run.fit(config, tmp_path / "run", verbose=0, trainer=trainer)
    assert int(trainer.d_optimizer.iterations) == 6
    assert int(trainer.ae_optimizer.iterations) == 4  # a count over the run: 3 (steps 0, 2, 4)


def test_labels_reach_only_the_probe():
    # The probe reads stop_gradient(h): changing the labels must change nothing but the probe.
    config = tiny_config(update_g_every=1)
    a, b = make_trainer(config), make_trainer(config)
    x, y = random_batch(BATCH, seed=3)
    y_other = tf.roll(y, shift=1, axis=1)
    for _ in range(2):
        a.train_step((x, y))
        b.train_step((x, y_other))
    for name in ("encoder", "decoder", "discriminator"):
        for va, vb in zip(getattr(a, name).variables, getattr(b, name).variables):
            np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=f"{name} saw the labels")
    assert changed(snapshot(a.probe.trainable_variables), b.probe.trainable_variables)


def test_ae_gan_baseline_has_no_mix_terms():
    trainer = make_trainer(tiny_config(mixer="none", k=1))
    assert trainer.k == 1
    logs = _logs(trainer, random_batch(BATCH, seed=4))
    assert logs["g_gan_mix"] == 0.0 and logs["d_mix"] == 0.0
    for name in ("recon", "g_gan_recon", "d_real", "d_recon"):
        assert np.isfinite(logs[name]) and logs[name] > 0, name
    np.testing.assert_allclose(logs["d_loss"], logs["d_real"] + logs["d_recon"], rtol=1e-5)


@pytest.mark.numerics
@pytest.mark.parametrize(
    "mixer,k,lamb,beta,recon,gan",
    [
        ("none", 1, 3.0, 0.0, "l1", "bce"),
        ("mixup", 3, 10.0, 0.0, "l2", "mse"),
        ("mixup", 2, 5.0, 0.5, "l1", "bce"),
    ],
    ids=["ae_gan-l1-bce", "mixup3-l2-mse", "mixup2-consistency"],
)
def test_losses_match_an_eager_reference(mixer, k, lamb, beta, recon, gan):
    """Eqs. 2-3, the D loss and the probe loss, recomputed from a twin trainer's networks."""
    config = tiny_config(mixer=mixer, k=k, lamb=lamb, beta=beta, recon_loss=recon, gan_loss=gan)
    stepped, twin = make_trainer(config), make_trainer(config)  # build_trainer seeds the weights
    x, y = random_batch(BATCH, seed=5)
    logs = _logs(stepped, (x, y))

    h = twin.encoder(x, training=True)
    r = twin.decoder(h, training=True).numpy()
    fakes = r
    if mixer != "none":
        h_mix = mixers.mix(h, mixer, k, seed=twin.seed_generator).h  # same seed state as `stepped`
        r_mix = twin.decoder(h_mix, training=True).numpy()
        fakes = np.concatenate([r, r_mix])
    # D is called in training mode (one spectral-norm power iteration each) on the fakes for the
    # generator's loss, then on [x; fakes] for its own: the twin repeats both calls in order.
    z_g = twin.discriminator(fakes, training=True).numpy()
    z_d = twin.discriminator(np.concatenate([x.numpy(), fakes]), training=True).numpy()
    ref = {
        "recon": _recon(x, r, recon).mean(),
        "g_gan_recon": _gan(z_g[:BATCH], 1.0, gan).mean(),
        "d_real": _gan(z_d[:BATCH], 1.0, gan).mean(),
        "d_recon": _gan(z_d[BATCH:2 * BATCH], 0.0, gan).mean(),
        "g_gan_mix": 0.0, "d_mix": 0.0, "consistency": 0.0,
    }
    if mixer != "none":
        ref["g_gan_mix"] = _gan(z_g[BATCH:], 1.0, gan).mean()
        ref["d_mix"] = _gan(z_d[2 * BATCH:], 0.0, gan).mean()
        if beta > 0:
            h_re = twin.encoder(r_mix, training=True)
            ref["consistency"] = _recon(h_mix, h_re, recon).mean()
    ref["g_loss"] = lamb * ref["recon"] + ref["g_gan_recon"] + ref["g_gan_mix"] + beta * ref["consistency"]
    ref["d_loss"] = ref["d_real"] + ref["d_recon"] + ref["d_mix"]
    probe_logits = twin.probe(h, training=True).numpy()
    ref["probe_loss"] = _cross_entropy(y.numpy(), probe_logits).mean()
    ref["probe_accuracy"] = np.mean(probe_logits.argmax(1) == y.numpy().argmax(1))

    assert set(ref) == set(logs)
    for name in LOSS_NAMES:
        np.testing.assert_allclose(logs[name], ref[name], rtol=1e-5, atol=1e-6, err_msg=name)
    if beta > 0:
        assert np.isfinite(logs["consistency"]) and logs["consistency"] > 0
    else:
        assert logs["consistency"] == 0.0


@pytest.mark.numerics
@pytest.mark.slow
def test_xla_step_matches_the_eager_step():
    config = tiny_config(mixer="mixup", k=3, jit_compile=True)
    compiled, eager = make_trainer(config), make_trainer(config)
    assert compiled.jit_compile is True
    batch = random_batch(BATCH, seed=6)
    step = tf.function(compiled.train_step, jit_compile=compiled.jit_compile)
    got = {name: float(v) for name, v in step(batch).items()}
    want = _logs(eager, batch)
    for name in LOSS_NAMES:
        assert np.isfinite(got[name]), name
        np.testing.assert_allclose(got[name], want[name], atol=1e-4, err_msg=name)
    assert int(compiled.ae_optimizer.iterations) == 1 and int(compiled.d_optimizer.iterations) == 1


def test_test_step_reports_recon_and_probe_only_and_changes_nothing():
    trainer = make_trainer(tiny_config())
    x, y = random_batch(BATCH, seed=7)
    everything = [v for name in ("encoder", "decoder", "discriminator", "probe")
                  for v in getattr(trainer, name).variables]
    before = snapshot(everything)
    logs = {name: float(v) for name, v in trainer.test_step((x, y)).items()}
    assert set(logs) == set(EVAL_NAMES) == {"recon", "probe_loss", "probe_accuracy"}
    assert 0.0 <= logs["probe_accuracy"] <= 1.0
    assert not changed(before, everything)
    r = trainer.decoder(trainer.encoder(x)).numpy()
    np.testing.assert_allclose(logs["recon"], _recon(x, r, "l1").mean(), rtol=1e-5)


@pytest.mark.filterwarnings("ignore:`compile\\(\\)` was not called")
def test_trainer_config_round_trip():
    config = tiny_config(mixer="bernoulli", k=3, lamb=7.0, beta=0.25, update_g_every=4,
                         recon_loss="l2", gan_loss="mse", weight_decay=0.0, seed=3)
    trainer = make_trainer(config)
    copies = [AMRTrainer.from_config(trainer.get_config()), roundtrip(trainer)]
    for copy in copies:
        assert isinstance(copy, AMRTrainer)
        for attr in ("mixer", "k", "lamb", "beta", "update_g_every", "recon_loss", "gan_loss",
                     "weight_decay", "seed"):
            assert getattr(copy, attr) == getattr(trainer, attr), attr
        assert (copy.mixer, copy.k, copy.lamb) == ("bernoulli", 3, 7.0)
        for name in ("encoder", "decoder", "discriminator", "probe"):
            net, net_copy = getattr(trainer, name), getattr(copy, name)
            assert net_copy is not net
            assert networks.count_trainable(net_copy) == networks.count_trainable(net), name
    # a copy is a working trainer once given optimizers
    copy = copies[-1]
    copy.compile(ae_optimizer=adam(config, "ae"), d_optimizer=adam(config, "d"),
                 probe_optimizer=adam(config, "probe"))
    logs = _logs(copy, random_batch(BATCH, seed=8))
    assert all(np.isfinite(v) for v in logs.values())


def test_network_round_trip_keeps_shapes():
    trainer = make_trainer(tiny_config())
    x, _ = random_batch(2, seed=9)
    h = trainer.encoder(x)
    shapes = {"encoder": x.shape, "decoder": h.shape, "discriminator": x.shape, "probe": h.shape}
    for name, shape in shapes.items():
        assert_round_trip(getattr(trainer, name), (None, *shape[1:]))
    assert tuple(roundtrip(trainer.decoder)(h).shape) == tuple(x.shape)


def test_fit_logs_val_probe_accuracy():
    config = tiny_config(batch_size=8)
    trainer = build_trainer(config, data.info("digits"))
    train = data.load("digits", "train", config, epochs=(0, 1), steps=2)
    valid = data.load("digits", "valid", config)
    # Eager: tracing costs more than the two steps (the XLA test covers the traced step).
    # steps_per_epoch as trainers.run.fit passes it: the pipeline's length is unknown to Keras.
    trainer.run_eagerly = True
    history = trainer.fit(train, epochs=1, steps_per_epoch=2, validation_data=valid,
                          validation_steps=2, shuffle=False, verbose=0).history
    assert "val_probe_accuracy" in history  # KerasTuner's objective
    assert set(LOSS_NAMES) <= set(history)
    assert 0.0 <= history["val_probe_accuracy"][-1] <= 1.0
    assert np.isfinite(history["val_recon"][-1]) and history["val_recon"][-1] > 0
    assert int(trainer.d_optimizer.iterations) == 2
    assert int(trainer.ae_optimizer.iterations) == 1  # update_g_every=5: step 0 only


@pytest.mark.numerics
@pytest.mark.parametrize("precision", [
    pytest.param("mixed_bfloat16", marks=pytest.mark.low_precision_convs("bfloat16")),
    pytest.param("mixed_float16", marks=pytest.mark.low_precision_convs("float16"))])
def test_mixed_precision_step_is_finite_and_close_to_float32(precision):
    batch = random_batch(BATCH, seed=3)
    reference = _logs(make_trainer(tiny_config(mixer="mixup", k=3)), batch)
    trainer = make_trainer(tiny_config(mixer="mixup", k=3, precision=precision))
    assert trainer.encoder.compute_dtype == precision.split("_")[1]
    assert trainer.encoder.variable_dtype == "float32"  # master weights stay float32
    assert trainer.probe.compute_dtype == "float32"
    logs = _logs(trainer, batch)
    assert all(np.isfinite(v) for v in logs.values()), logs
    for name in ("recon", "g_gan_recon", "g_gan_mix", "d_loss", "probe_loss"):
        # same initial weights and mixing draw; only the arithmetic differs (bf16: 8 bits of mantissa)
        assert logs[name] == pytest.approx(reference[name], rel=3e-2, abs=3e-2), name


def test_weight_decay_is_coupled_l2_counted_once_per_global_batch():
    trainer = make_trainer(tiny_config(weight_decay=0.1))
    variables = trainer.probe.trainable_variables
    for v in variables:
        v.assign(tf.random.uniform(v.shape, -1, 1, seed=1))
    with tf.GradientTape() as tape:
        penalty = trainer._decay(variables)
    grads = tape.gradient(penalty, variables)
    for g, v in zip(grads, variables):  # torch's Adam(weight_decay=w) adds w * v to the gradient
        np.testing.assert_allclose(g.numpy(), 0.1 * v.numpy(), rtol=1e-6)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])  # one replica: the scaling is 1
    scaled = strategy.run(lambda: trainer._decay(variables))
    assert float(strategy.reduce("SUM", scaled, axis=None)) == pytest.approx(float(penalty), rel=1e-6)


def test_generator_terms_are_averaged_over_generator_steps_only():
    trainer = make_trainer(tiny_config(mixer="mixup", k=2, update_g_every=2))
    batches = [random_batch(BATCH, seed=s) for s in range(3)]
    g_losses, recons = [], []
    for i, batch in enumerate(batches):
        logs = _logs(trainer, batch)
        if i == 0:
            g_losses.append(logs["g_loss"])
        recons.append(logs["recon"])
    # step 0 and 2 update G; after step 1 (no update) g_loss still reports step 0's value
    trainer2 = make_trainer(tiny_config(mixer="mixup", k=2, update_g_every=2))
    _logs(trainer2, batches[0])
    after_two = _logs(trainer2, batches[1])
    assert after_two["g_loss"] == pytest.approx(g_losses[0], rel=1e-6)
    assert after_two["recon"] != pytest.approx(recons[0], rel=1e-6)  # recon averages both steps


@pytest.mark.parametrize("model,mixer,d_calls,due,calls", [
    ("amr", "mixup", "batched", True, 2), ("amr", "mixup", "batched", False, 1),
    ("amr", "mixup", "original", True, 5), ("amr", "mixup", "original", False, 5),
    # AE+GAN: the original still calls D on a mix it discards (4 calls a step)
    ("amr", "none", "batched", True, 2), ("amr", "none", "original", True, 4), ("amr", "none", "original", False, 4),
    # ACAI (the original's ACAIF3): D(r_mix) for the generator every step, then D(x), D(r), D(r_mix)
    ("acai", "mixup", "batched", True, 2), ("acai", "mixup", "batched", False, 1),
    ("acai", "mixup", "original", True, 4), ("acai", "mixup", "original", False, 4)])
def test_each_discriminator_call_advances_the_power_iteration_once(model, mixer, d_calls, due, calls):
    """"original" calls D five times a step, as the original code does (D(r), D(r_mix) for the
    generator even when it does not update, then D(x), D(r), D(r_mix)); "batched" once for D and
    once more on the generator's steps. D's weights do not change before its update, so u after
    the step is `calls` power iterations of u before it."""
    trainer = make_trainer(tiny_config(model=model, mixer=mixer, k=2, d_calls=d_calls))
    assert trainer.d_calls == d_calls
    sns = [layer for layer in trainer.discriminator.body if isinstance(layer, networks.ReparametrizedSpectralNorm)]
    assert len(sns) == 8
    before = [(sn.vector_u.numpy(), sn.layer.kernel.numpy()) for sn in sns]
    trainer.train_step(random_batch(BATCH, seed=8), update_generator=due)

    def normalize(a):
        return a / (np.linalg.norm(a) + 1e-12)

    for sn, (u, kernel) in zip(sns, before):
        w = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
        u = u.astype(np.float64)
        for _ in range(calls):
            u = normalize(u)
            v = normalize(w @ u)
            u = normalize(v @ w)
        np.testing.assert_allclose(sn.vector_u.numpy(), u, rtol=1e-4, atol=1e-6, err_msg=sn.name)


def test_d_calls_original_gives_the_batched_losses_at_the_first_call():
    """Both ways see the same rows; at step 0 only sigma's power-iteration state can differ,
    so D's verdict on real images (its first call of the D phase in both) is close, not equal."""
    batch = random_batch(BATCH, seed=9)
    batched = _logs(make_trainer(tiny_config(mixer="mixup", k=2)), batch)
    original = _logs(make_trainer(tiny_config(mixer="mixup", k=2, d_calls="original")), batch)
    assert batched["recon"] == pytest.approx(original["recon"], rel=1e-5)  # no D in it
    for name in ("d_real", "d_recon", "d_mix", "g_gan_recon", "g_gan_mix"):
        assert np.isfinite(original[name]) and original[name] == pytest.approx(batched[name], rel=0.05), name
    with pytest.raises(ValueError, match="unknown d_calls 'twice'; choose one of: batched, original"):
        tiny_config(d_calls="twice")


def test_probe_accuracy_traces_once_for_every_batch_size():
    """The probe accuracy a run reports each epoch is one traced function: batches of any size
    (the last one is partial) reuse it instead of tracing anew."""
    from amr_tf import evaluation

    trainer = make_trainer(tiny_config())
    accuracy = evaluation.ProbeAccuracy(trainer.encoder, trainer.probe)
    x, y = random_batch(20, seed=1)
    for batch in (8, 6, 8, 3, 7, 8):
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
        value = accuracy(dataset)
        hits = tf.argmax(trainer.probe(trainer.encoder(x, training=False)), -1) == tf.argmax(y, -1)
        assert value == pytest.approx(float(tf.reduce_mean(tf.cast(hits, tf.float32))))
    assert accuracy._hits.experimental_get_tracing_count() <= 2


@pytest.mark.slow
def test_a_run_traces_its_probe_accuracy_once(tmp_path):
    """Three epochs log no retracing warning (a function made per epoch was traced anew each
    time, and TensorFlow warned from the third epoch on)."""
    import logging

    from trainers import run

    class Records(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    records = Records()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(records)
    try:
        run.fit(tiny_config(batch_size=64, epochs=3, steps_per_epoch=1), tmp_path / "run", verbose=0)
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if "retracing" in m], records.messages
