"""amr_tf's side of `against_original.py --families=...`: the families beyond acai32 and the AMR
step (`original_families.py` is the original's side; read against_original.py's docstring first).

Same weights, same numbers: acai256 (the acai32 check with 16 code maps and a 256-input probe),
dsprites and dsprites_ndf64 (Burgess's "beta-VAE B" f and g, konny's spectrally normalised D,
ndf 32 and 64), and vae (the beta-VAE's variational encoder: the mean, the second half as it
comes out of the last layer, and g(mean)). One training step: acai_step (ACAIF3's
`train_on_instance` against ACAITrainer's `train_step` with d_calls="original") and vae_step
(VAE's `train_on_instance` against VAETrainer's `train_step`).

Weights cross as in against_original.py (torch NCHW kernels (out, in, kh, kw) -> Keras
(kh, kw, in, out)); ConvTranspose2d's (in, out, kh, kw) -> Conv2DTranspose's (kh, kw, out, in);
Linear's (out, in) -> Dense's (in, out). Where torch flattens an NCHW map into a Linear (the
Burgess encoder's and D's first dense layer) the Keras kernel's rows, and v of its spectral
norm, are permuted from (c, h, w) to (h, w, c); where a Linear's output is viewed as an NCHW
map (the Burgess decoder's third), its columns and bias are.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

PART1_FAMILIES = ("acai256", "dsprites", "dsprites_ndf64", "vae")
STEP_FAMILIES = ("acai_step", "vae_step")
# family -> (amr_tf preset, data set of its inputs, image side)
FAMILY_DATA = {"acai256": ("acai256", "fashion_mnist"), "dsprites": ("dsprites", "dsprites_procedural"),
               "dsprites_ndf64": ("dsprites_ndf64", "dsprites_procedural"), "vae": ("dsprites", "dsprites_procedural")}
FAMILY_OUTPUTS = {"acai256": ("code", "reconstruction", "d_logit", "probe_logits"),
                  "dsprites": ("code", "reconstruction", "d_logit"),
                  "dsprites_ndf64": ("code", "reconstruction", "d_logit"),
                  "vae": ("mean", "second_half", "reconstruction")}
# ACAI's configurations (its consistency weight beta; the scripts' is 0) and the VAE's: as the
# original reads the posterior (vae), and the diagnostic where its std reading is handed exp(s / 2)
ACAI_CONFIGS = {"acai_beta0": 0.0, "acai_beta1": 1.0}
VAE_CONFIGS = ("vae", "vae_logvar")
ACAI_LOSSES = {"recon": "recon", "disc_g_mix": "g_gan_mix", "gen_loss": "g_loss", "consist": "consistency",
               "d_x": "d_loss", "cls_enc_loss": "probe_loss"}
VAE_LOSSES = {"recon": "recon", "kl": "kl", "gen_loss": "g_loss"}
# float64 SGD bounds of the VAE step (||diff|| / ||update||): f and g at float32 round-off (the
# VAE's mean, log-variance, draw and losses stay float32 in amr_tf even for float64 networks)
VAE_BOUNDS = {"encoder": 1e-5, "decoder": 1e-5}


# The spectral norms compared with the original's: "none" (no spectral norm, the spiral's D) has no
# counterpart there, whose D is always normalised.
COMPARED_NORMS = ("reparametrized", "keras")


def test_images(dataset, n):
    """The first `n` test images of `dataset` as amr_tf feeds them ([-1, 1], NHWC) and their labels."""
    from amr_tf import data
    from amr_tf.config import Config

    config = Config(dataset=dataset, batch_size=n)
    images, labels = next(iter(data.load(dataset, "test", config, training=False)))
    return images.numpy().astype(np.float32), labels.numpy()


def _run(python, reference, inputs, out, extra):
    cmd = [python, str(ROOT / "benchmarks" / "original_families.py"), f"--reference={reference}",
           f"--inputs={inputs}", f"--out={out}"] + extra
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=reference)
    if result.returncode != 0:
        sys.exit(f"against_original: the original's side failed ({' '.join(extra)}):\n{result.stderr[-3000:]}")
    with np.load(out) as f:
        return {key: f[key] for key in f.files}


def _torch_layers(ref, prefix, net):
    """[(kind, {name: array})] of one original network, in its Sequential's order."""
    from against_original import _torch_layers as layers

    return layers(ref, prefix, net)


def _chw_to_hwc_rows(matrix, hwc):
    """Rows of `matrix` [c*h*w, ...] indexed (c, h, w) -> indexed (h, w, c)."""
    h, w, c = hwc
    rest = matrix.shape[1:]
    return matrix.reshape(c, h, w, *rest).transpose(1, 2, 0, *range(3, 3 + len(rest))).reshape(h * w * c, *rest)


def copy_stack(model, ref, prefix, net, input_shape):
    """Assigns the original's `<prefix>/<net>` (Burgess layers: conv, conv_t, linear, sn_conv,
    sn_linear) to the amr_tf network `model` (a Stack: its `body` in order), in place."""
    import keras

    from amr_tf.networks import ReparametrizedSpectralNorm

    torch_layers = iter(_torch_layers(ref, prefix, net))
    shape, shapes = (None, *input_shape), []
    for layer in model.body:
        shapes.append(shape)
        shape = layer.compute_output_shape(shape)
    body = list(model.body)
    for i, layer in enumerate(body):
        if not layer.weights:
            continue
        kind, p = next(torch_layers)
        wrapped = isinstance(layer, (ReparametrizedSpectralNorm, keras.layers.SpectralNormalization))
        inner = layer.layer if wrapped else layer
        assert wrapped == kind.startswith("sn_"), (net, i, kind, layer)
        w, b = p["weight"], p["bias"]
        v = p.get("v")
        if isinstance(inner, keras.layers.Conv2DTranspose):
            assert kind == "conv_t", (net, i, kind)
            kernel = np.transpose(w, (2, 3, 1, 0))  # (in, out, kh, kw) -> (kh, kw, out, in)
        elif isinstance(inner, keras.layers.Conv2D):
            assert kind in ("conv", "sn_conv"), (net, i, kind)
            kernel = np.transpose(w, (2, 3, 1, 0))
            if v is not None:  # torch flattens (in, kh, kw), Keras (kh, kw, in)
                c_in, kh, kw = w.shape[1:]
                v = v.reshape(c_in, kh, kw).transpose(1, 2, 0).ravel()
        else:
            assert isinstance(inner, keras.layers.Dense) and kind in ("linear", "sn_linear"), (net, i, kind, layer)
            kernel = w.T
            if i > 0 and isinstance(body[i - 1], keras.layers.Flatten):
                hwc = shapes[i - 1][1:]
                kernel = _chw_to_hwc_rows(kernel, hwc)
                v = None if v is None else _chw_to_hwc_rows(v, hwc)
            if i + 1 < len(body) and isinstance(body[i + 1], keras.layers.Reshape):
                hwc = body[i + 1].target_shape
                kernel = _chw_to_hwc_rows(kernel.T, hwc).T
                b = _chw_to_hwc_rows(b, hwc)
        inner.kernel.assign(kernel)
        inner.bias.assign(b)
        if wrapped:
            layer.vector_u.assign(np.reshape(p["u"], layer.vector_u.shape))
            if isinstance(layer, ReparametrizedSpectralNorm):
                layer.vector_v.assign(v)
    leftover = next(torch_layers, None)
    if leftover is not None:
        raise ValueError(f"{net}: the original has more weighted layers than amr_tf")


def _compare(ours, theirs, tolerance):
    row, ok = {}, True
    for name, value in ours.items():
        diff = float(np.max(np.abs(value - theirs[name])))
        scale = float(np.max(np.abs(theirs[name])))
        row[name] = {"max_abs_diff": diff, "max_abs": scale, "pass": diff <= tolerance * max(scale, 1.0)}
        ok &= row[name]["pass"]
    return row, ok


def _nhwc(a):
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def vae_reading(ref, seeds):
    """How the two codes read the posterior from the same encoder outputs: the original's std
    s (the second half as it is), amr_tf's exp(s / 2) (a log-variance); per seed, the range of
    s, the share of negative s, the largest |exp(s / 2) - |s||, and the KL each reading gives
    (averaged over units and images, as both codes average it)."""
    rows = {}
    for seed in seeds:
        mu, s = ref[f"s{seed}/out/mean"].astype(np.float64), ref[f"s{seed}/out/second_half"].astype(np.float64)
        kl_std = 0.5 * (mu ** 2 + s ** 2 - 1.0 - np.log(s ** 2))
        kl_logvar = 0.5 * (mu ** 2 + np.exp(s) - 1.0 - s)
        rows[seed] = {"s_min": float(s.min()), "s_max": float(s.max()), "s_negative": float(np.mean(s < 0)),
                      "max_sigma_diff": float(np.max(np.abs(np.exp(s / 2) - np.abs(s)))),
                      "kl_original": float(kl_std.mean()), "kl_amr_tf": float(kl_logvar.mean())}
    return rows


def same_weights_family(python, reference, family, n, seeds, tolerance):
    """Part 1 of `family`: {spectral_norm: {seed: {output: {max_abs_diff, max_abs, pass}}}},
    whether all pass, and (vae) the posterior readings."""
    import keras
    from against_original import amr_tf_outputs, copy_weights, torch_outputs

    from amr_tf import networks

    preset, dataset = FAMILY_DATA[family]
    images, _ = test_images(dataset, n)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        np.savez(inputs, images=images.transpose(0, 3, 1, 2))
        ref = _run(python, reference, inputs, Path(tmp) / "original.npz",
                   [f"--family={family}", f"--seeds={','.join(map(str, seeds))}"])
    kinds = ("-",) if family == "vae" else COMPARED_NORMS
    results, ok = {}, True
    shape = images.shape[1:]
    for kind in kinds:
        results[kind] = {}
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            if family.startswith("acai"):
                nets = networks.build_networks(preset, shape, 10, spectral_norm=kind)
                copy_weights(nets, ref, f"s{seed}")
                ours, theirs = amr_tf_outputs(nets, images), torch_outputs(ref, seed)
            else:
                nets = networks.build_networks(preset, shape, 3, variational=family == "vae",
                                               spectral_norm="reparametrized" if kind == "-" else kind)
                copy_stack(nets.encoder, ref, f"s{seed}", "encoder", shape)
                code = nets.encoder.compute_output_shape((None, *shape))[1:]
                copy_stack(nets.decoder, ref, f"s{seed}", "decoder", code)
                if family == "vae":
                    mean, second = nets.encoder.moments(images, training=True)
                    ours = {"mean": mean.numpy(), "second_half": second.numpy(),
                            "reconstruction": nets.decoder(mean, training=True).numpy()}
                else:
                    copy_stack(nets.discriminator, ref, f"s{seed}", "discriminator", shape)
                    h = nets.encoder(images, training=True)
                    ours = {"code": h.numpy(), "reconstruction": nets.decoder(h, training=True).numpy(),
                            "d_logit": nets.discriminator(images, training=True).numpy()}
                theirs = {name: _nhwc(ref[f"s{seed}/out/{name}"]) for name in ours}
            results[kind][seed], passed = _compare(ours, theirs, tolerance)
            ok &= passed
    extra = {"reading": vae_reading(ref, seeds)} if family == "vae" else {}
    return {"results": results, "n": n, "dataset": dataset, "torch_version": str(ref["torch_version"]), **extra}, ok


def _weights(nets, names):
    """net -> float64 arrays of its trainable variables, and net_u -> its spectral norms' u."""
    out = {}
    for net in names:
        model = getattr(nets, net)
        out[net] = [np.asarray(v.numpy(), np.float64) for v in model.trainable_variables]
        us = [np.asarray(v.numpy(), np.float64) for v in model.non_trainable_variables if v.path.endswith("vector_u")]
        if us:
            out[f"{net}_u"] = us
    return out


def _relative(ours, before, after):
    relative = {}
    for net in ours:
        diff = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(ours[net], after[net])))
        moved = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after[net], before[net])))
        relative[net] = float(diff / moved) if moved > 0 else float(diff)
    return relative


def _sgd(trainer, lr, names):
    import keras

    trainer.compile(*(keras.optimizers.SGD(lr, name=f"sgd_{name}") if name else None for name in names))


def acai_one_step(ref, name, images, labels, draws, optimizer, lr, spectral_norm, dtype):
    """ACAITrainer's step (d_calls="original") from the original's initial weights with the
    injected perm and alpha: {losses: {name: (amr_tf, original)}, relative: {net: ...}}."""
    import tensorflow as tf
    from against_original import NETS, copy_weights

    from amr_tf import mixers, networks
    from amr_tf.config import Config
    from amr_tf.data import DataInfo
    from trainers.build import build_trainer

    beta = ACAI_CONFIGS[name]
    config = Config(dataset="fashion_mnist", model="acai", mixer="mixup", k=2, lamb=10.0, beta=beta, lr=lr,
                    probe_lr=None, weight_decay=1e-5, update_g_every=5, batch_size=len(images), d_calls="original",
                    spectral_norm=spectral_norm)
    info = DataInfo("fashion_mnist", tuple(images.shape[1:]), 10, {}, "against_original")
    trainer = build_trainer(config, info, dtype=dtype)
    if optimizer == "sgd":
        _sgd(trainer, lr, ("ae", "d", "probe"))
    copy_weights(trainer, ref, f"{name}/before")
    alpha = draws["alpha_acai"]
    w = np.repeat(np.stack([alpha, 1 - alpha], axis=1)[:, :, None], trainer.encoder.compute_output_shape(
        (None, *images.shape[1:]))[-1], axis=2)
    idx = np.stack([np.arange(len(images)), draws["perm_acai"]], axis=1)
    w, idx = tf.constant(w, dtype), tf.constant(idx, tf.int32)

    def injected(h, mixer=None, k=None, seed=None):
        mixed = tf.reduce_sum(w[:, :, None, None, :] * tf.gather(h, idx), axis=1)
        return mixers.MixResult(mixed, w, idx)

    drawn, mixers.mix = mixers.mix, injected
    try:
        logs = {key: float(v) for key, v in trainer.train_step(
            (tf.constant(images, dtype), tf.constant(labels, dtype)), update_generator=True).items()}
    finally:
        mixers.mix = drawn
    ours = _weights(trainer, NETS)
    theirs = {}
    for when in ("before", "after"):
        nets = networks.build_networks("acai32", images.shape[1:], 10, spectral_norm=spectral_norm)
        copy_weights(nets, ref, f"{name}/{when}")
        theirs[when] = _weights(nets, NETS)
    losses = {}
    for theirs_name, our_name in ACAI_LOSSES.items():
        if theirs_name == "consist" and beta == 0:
            continue  # the original computes it and adds 0 x it; amr_tf computes it only with beta > 0
        value = float(ref[f"{name}/loss/{theirs_name}"]) * (3 if theirs_name == "d_x" else 1)
        losses[our_name] = (logs[our_name], value)
    return {"losses": losses, "relative": _relative(ours, theirs["before"], theirs["after"])}


def vae_one_step(ref, name, images, labels, draws, optimizer, lr, dtype):
    """VAETrainer's step from the original's initial weights with the injected eps."""
    import keras
    import tensorflow as tf

    from amr_tf import networks
    from amr_tf.config import Config
    from amr_tf.data import DataInfo
    from trainers.build import build_trainer

    config = Config(dataset="dsprites_procedural", model="vae", lamb=1.0, kl_weight=100.0, recon_loss="bce_sum",
                    lr=lr, probe_lr=None, weight_decay=0.0, batch_size=len(images))
    shape = tuple(images.shape[1:])
    info = DataInfo("dsprites_procedural", shape, 3, {}, "against_original")
    trainer = build_trainer(config, info, dtype=dtype)
    if optimizer == "sgd":
        _sgd(trainer, lr, ("ae", None, "probe"))
    code = trainer.encoder.compute_output_shape((None, *shape))[1:]

    def load(nets, when):
        copy_stack(nets.encoder, ref, f"{name}/{when}", "encoder", shape)
        copy_stack(nets.decoder, ref, f"{name}/{when}", "decoder", code)

    load(trainer, "before")
    eps = tf.constant(draws["eps_vae"], tf.float32)
    drawn = keras.random.normal
    keras.random.normal = lambda shape, mean=0.0, stddev=1.0, dtype=None, seed=None: tf.cast(eps, dtype or "float32")
    try:
        logs = {key: float(v) for key, v in trainer.train_step(
            (tf.constant(images, dtype), tf.constant(labels, dtype))).items()}
    finally:
        keras.random.normal = drawn
    names = ("encoder", "decoder")
    ours = _weights(trainer, names)
    theirs = {}
    for when in ("before", "after"):
        nets = networks.build_networks("dsprites", shape, 3, variational=True)
        load(nets, when)
        theirs[when] = _weights(nets, names)
    losses = {our: (logs[our], float(ref[f"{name}/loss/{theirs_name}"])) for theirs_name, our in VAE_LOSSES.items()}
    return {"losses": losses, "relative": _relative(ours, theirs["before"], theirs["after"])}


def step_draws(batch, code_units, seed=0):
    rng = np.random.default_rng(seed)
    return {"perm_acai": rng.permutation(batch).astype(np.int64),
            "alpha_acai": rng.uniform(size=batch).astype(np.float32),
            "eps_vae": rng.standard_normal((batch, code_units)).astype(np.float32)}


def one_step_family(python, reference, family, batch, runs, bounds, loss_rel):
    """Part 1b of `family` (acai_step or vae_step): {run: {spectral_norm: {config: result}}} and
    whether the float64 SGD checks pass (ACAI: reparametrized; VAE: vae_logvar, the diagnostic
    with the same reading; the original's own VAE reading is reported, not checked)."""

    acai = family == "acai_step"
    images, labels = test_images("fashion_mnist" if acai else "dsprites_procedural", batch)
    draws = step_draws(batch, 10)
    configs = list(ACAI_CONFIGS) if acai else list(VAE_CONFIGS)
    results, ok = {}, True
    for optimizer, lr, dtype in runs:
        run = f"{optimizer} lr={lr:g} {dtype}"
        with tempfile.TemporaryDirectory() as tmp:
            inputs = Path(tmp) / "step_inputs.npz"
            np.savez(inputs, images=images.transpose(0, 3, 1, 2), labels=labels, **draws)
            extra = [f"--step={','.join(configs)}", f"--optimizer={optimizer}", f"--lr={lr}"]
            ref = _run(python, reference, inputs, Path(tmp) / "step.npz", extra + (["--double"] if dtype == "float64"
                                                                                     else []))
        results[run] = {}
        for kind in (COMPARED_NORMS if acai else ("-",)):
            results[run][kind] = {}
            for name in configs:
                if acai:
                    r = acai_one_step(ref, name, images, labels, draws, optimizer, lr, kind, dtype)
                    checked, net_bounds = kind == "reparametrized", bounds
                else:
                    r = vae_one_step(ref, name, images, labels, draws, optimizer, lr, dtype)
                    checked, net_bounds = name == "vae_logvar", VAE_BOUNDS
                r["losses_pass"] = all(abs(a - b) <= loss_rel * max(abs(b), 1.0) for a, b in r["losses"].values())
                r["weights_pass"] = (all(r["relative"][net] <= bound for net, bound in net_bounds.items())
                                     if dtype == "float64" else None)
                r["checked"] = checked
                if checked:
                    ok &= r["losses_pass"] and r["weights_pass"] is not False
                results[run][kind][name] = r
    return {"results": results, "batch": batch, "torch_version": str(ref["torch_version"])}, ok


OUTPUT_TITLES = {"code": "f(x)", "reconstruction": "g(f(x))", "d_logit": "D logit", "probe_logits": "probe logits",
                 "mean": "mean", "second_half": "second half (s)"}


def markdown(part1, steps, tolerance, bounds, loss_rel, header):
    """The families' tables (`against_original_families.md`)."""
    lines = [header, ""]
    if part1:
        lines += [f"**1. Same weights, same numbers** (largest |amr_tf - original| over the seeds; pass: <= "
                  f"{tolerance:g} x max(1, max |output|) for every seed; vae's g(f(x)) is g(mean))", "",
                  "| family | inputs | spectral_norm | seeds | output | max abs diff | max abs output | pass |",
                  "|---|---|---|---|---|---|---|---|"]
        for family, r in part1.items():
            for kind, by_seed in r["results"].items():
                outputs = next(iter(by_seed.values()))
                for output in outputs:
                    diff = max(row[output]["max_abs_diff"] for row in by_seed.values())
                    scale = max(row[output]["max_abs"] for row in by_seed.values())
                    passed = all(row[output]["pass"] for row in by_seed.values())
                    lines.append(f"| {family} | {r['n']} {r['dataset']} | {kind} | {len(by_seed)} | "
                                 f"{OUTPUT_TITLES.get(output, output)} | {diff:.2e} | {scale:.3g} | "
                                 f"{'yes' if passed else 'FAIL'} |")
        if "vae" in part1:
            lines += ["", "The VAE's posterior, read from the same encoder outputs (the second half s): the "
                      "original's `models/vae.py` takes s as the standard deviation, amr_tf's `trainers/vae.py` "
                      "as a log-variance (sigma = exp(s / 2)); KL per unit averaged over units and images:", "",
                      "| seed | s min | s max | share s < 0 | max abs(exp(s/2) - abs(s)) | KL original | "
                      "KL amr_tf |", "|---|---|---|---|---|---|---|"]
            for seed, row in part1["vae"]["reading"].items():
                lines.append(f"| {seed} | {row['s_min']:.3f} | {row['s_max']:.3f} | {row['s_negative']:.2f} | "
                             f"{row['max_sigma_diff']:.3f} | {row['kl_original']:.3f} | {row['kl_amr_tf']:.3f} |")
    for family, r in steps.items():
        if family == "acai_step":
            checked = (f"checked: spectral_norm reparametrized, float64 SGD against {bounds}, every run's losses "
                       f"<= {loss_rel:g} relative; keras is reported")
        else:
            checked = (f"checked: vae_logvar (the original handed exp(s / 2), amr_tf's reading), float64 SGD against "
                       f"{VAE_BOUNDS}, every run's losses <= {loss_rel:g} relative; vae (the original as it is, "
                       "s read as the standard deviation) is reported: it differs by design")
        lines += ["", f"**1b. One training step: {family}** (batch {r['batch']}; ||amr_tf - original|| / "
                  f"||original's update|| per network; losses: largest relative difference; {checked})", ""]
        first = next(iter(next(iter(r["results"].values())).values()))
        nets = list(next(iter(first.values()))["relative"])
        loss_names = list(dict.fromkeys(n for s in first.values() for n in s["losses"]))
        lines += ["| run | spectral_norm | configuration | " + " | ".join(nets) + " | losses | "
                  + " | ".join(f"{n} (amr_tf / original)" for n in loss_names) + " |",
                  "|---|---|---|" + "---|" * (len(nets) + 1 + len(loss_names))]
        for run, by_kind in r["results"].items():
            for kind, by_name in by_kind.items():
                for name, s in by_name.items():
                    rel = " | ".join(f"{s['relative'][n]:.1e}" for n in nets)
                    loss = max(abs(a - b) / max(abs(b), 1.0) for a, b in s["losses"].values())
                    verdict = ("" if not s["checked"] else {True: "", False: " FAIL", None: ""}[s["weights_pass"]])
                    lverdict = "" if s["losses_pass"] or not s["checked"] else " FAIL"
                    values = " | ".join(f"{s['losses'][n][0]:.6g} / {s['losses'][n][1]:.6g}" if n in s["losses"]
                                        else "-" for n in loss_names)
                    lines.append(f"| {run} | {kind} | {name} | {rel}{verdict} | {loss:.1e}{lverdict} | {values} |")
    return "\n".join(lines) + "\n"
