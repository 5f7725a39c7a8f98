"""amr_tf against the original PyTorch code (github.com/christopher-beckham/amr, BSD 3-Clause).

    make reference-venv            # benchmarks/.venv-reference: torch (CPU) and numpy, nothing of amr_tf
    git clone https://github.com/christopher-beckham/amr /path/to/amr   # the original, unmodified
    .venv/bin/python benchmarks/against_original.py --reference=/path/to/amr [--seeds=5 --n=256]
    .venv/bin/python benchmarks/against_original.py --reference=/path/to/amr --families=all

Not a test: it needs torch and the original's code, which amr_tf never depends on. The original
runs in its own virtual environment (`benchmarks/original_side.py`, started as a subprocess), and
the two sides meet only through .npz files of weights and outputs.

What it checks, on the first --n Fashion-MNIST test images (Debian's dataset-fashion-mnist,
read by amr_tf, handed to both sides as the same float32 array in [-1, 1]):
1. Same weights, same numbers: the original's acai32 networks (its launcher's `--arch`,
   `architectures/arch_acai_kyle.py`) and its linear probe are built; their weights are copied
   into amr_tf's (torch NCHW kernels (out, in, kh, kw) -> Keras (kh, kw, in, out), the probe's
   NCHW flattening permuted to NHWC, spectral-norm u vectors carried over); then f(x), g(f(x)),
   D's logit (one training-mode call: one power iteration from the same u on both sides) and the
   probe's logits must agree to float32 round-off: max |difference| <= --tolerance times the
   output's largest magnitude, for each spectral-norm kind amr_tf offers.
2. Same statistics at initialisation, each code with its own initialiser, over --seeds seeds:
   mean L1 of the reconstruction, std of the reconstruction, of the code and of D's logits.

1b. One whole training step (the generator, D and probe updates of the original's
   `train_on_instance` against amr_tf's `train_step` with d_calls="original"), for AE+GAN, mixup
   k=2, mixup k=3 and Bernoulli k=2, with the same mixing draws injected on both sides: the same
   losses, and the same updated weights within STEP_BOUNDS in float64 with SGD; float32 SGD and
   the real Adam are reported beside it.

Every family (`--families`, comma-separated or `all`; the default, acai32,amr_step, is 1, 1b and 2
above): parts 1 and 1b of the rest are `benchmarks/families.py` against `original_families.py`,
each network built by the architecture file the original's scripts name, its weights copied over:
- acai256: part 1 for `arch_acai_kyle_256.py` (16 code maps) and its probe (n_in 256);
- dsprites, dsprites_ndf64: part 1 for `dsprite_gd.py` (ndf 32 and 64; konny's D under torch's
  own spectral_norm) on the first --n dsprites_procedural test images: f(x), g(f(x)), D's logit;
- vae: the beta-VAE encoder of `arch_dsprite_burgess-g_kyle_d_vae.py`: the mean, the second half
  and g(mean), and how each code reads the posterior from them (the original: s is the standard
  deviation; amr_tf: a log-variance);
- acai_step: 1b for `ACAIF3.train_on_instance` against ACAITrainer (d_calls="original"), beta 0
  and 1, with the same perm and alpha injected, checked as the AMR step is;
- vae_step: 1b for `VAE.train_on_instance` against VAETrainer with the same eps injected: as the
  original reads the posterior (reported: it differs), and handed exp(s / 2) (checked).
Written to `<out>/against_original_families.md` and `.json`.

3. Same training, same budget (`--parts=3`, long: about 8 minutes a run here): the original and
   amr_tf trained side by side at the original's settings, seeds 0..--training_seeds-1, on the same
   batches; per-100-step curves, the final L1 reconstruction, D loss, the online probe and a
   logistic-regression probe refitted on frozen codes (`benchmarks/equal_budget.py`, which says how).

Writes `<out>/against_original.json` and `<out>/against_original.md` (parts 1 and 2),
`<out>/equal_budget.md`, `.json` and `.png` (part 3), and prints the tables.
Exit code 1 when a check of part 1 or 1b fails, or when part 3 finds amr_tf's defaults outside
the seed-to-seed spread of the original on a metric.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from amr_tf import quiet  # noqa: E402

quiet.import_tensorflow()  # TensorFlow's start-up notices would open every report

import families  # noqa: E402

from amr_tf import provenance  # noqa: E402

NETS = ("encoder", "decoder", "discriminator", "probe")
# Parts 1 and 1b by family (--families): acai32 (part 1, and part 2) and amr_step (part 1b) are
# the checks above; the rest live in `benchmarks/families.py` (the original's side:
# `original_families.py`).
FAMILIES = ("acai32", "amr_step") + families.PART1_FAMILIES + families.STEP_FAMILIES


# The spectral norms compared with the original's: "none" (no spectral norm, the spiral's D) has no
# counterpart there, whose D is always normalised.
COMPARED_NORMS = ("reparametrized", "keras")


def fashion_test_images(n):
    """The first `n` Fashion-MNIST test images as amr_tf feeds them: [n, 32, 32, 1] in [-1, 1]."""
    from amr_tf import data
    from amr_tf.config import Config

    config = Config(dataset="fashion_mnist", batch_size=n)
    images, labels = next(iter(data.load("fashion_mnist", "test", config, training=False)))
    return images.numpy().astype(np.float32), labels.numpy()


def run_original(python, reference, images, seeds, workdir):
    """Runs `original_side.py` in the reference environment; returns its .npz as a dict."""
    inputs, out = Path(workdir) / "inputs.npz", Path(workdir) / "original.npz"
    np.savez(inputs, images=images.transpose(0, 3, 1, 2))  # NHWC -> NCHW
    cmd = [python, str(ROOT / "benchmarks" / "original_side.py"), f"--reference={reference}",
           f"--inputs={inputs}", f"--out={out}", f"--seeds={','.join(map(str, seeds))}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"against_original: the original's side failed:\n{result.stderr[-3000:]}")
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def _torch_layers(ref, prefix, net):
    """[(kind, {name: array})] of one original network (`<prefix>/<net>/...`), in its Sequential's order."""
    prefix = f"{prefix}/{net}/"
    groups = {}
    for key, value in ref.items():
        if key.startswith(prefix):
            index, kind, name = key[len(prefix):].split("/")
            groups.setdefault((index, kind), {})[name] = value
    return [(kind, params) for (index, kind), params in sorted(groups.items())]


def _keras_weighted(model):
    """The layers of an amr_tf network that hold weights, in order."""
    return [layer for layer in model.body if layer.weights]


def _conv_kernel(w):
    return np.transpose(w, (2, 3, 1, 0))  # (out, in, kh, kw) -> (kh, kw, in, out)


def copy_weights(nets, ref, prefix):
    """Assigns the original's weights under `prefix` (e.g. "s0") to amr_tf's networks `nets`
    (anything with encoder, decoder, discriminator and probe attributes), in place."""
    import keras

    from amr_tf import networks

    for net in ("encoder", "decoder", "discriminator"):
        torch_layers = _torch_layers(ref, prefix, net)
        ours = _keras_weighted(getattr(nets, net))
        if len(torch_layers) != len(ours):
            raise ValueError(f"{net}: the original has {len(torch_layers)} weighted layers, amr_tf {len(ours)}")
        for (kind, p), layer in zip(torch_layers, ours):
            if kind == "conv":
                assert isinstance(layer, keras.layers.Conv2D), (net, kind, layer)
                layer.kernel.assign(_conv_kernel(p["weight"]))
                layer.bias.assign(p["bias"])
            elif kind == "norm":
                assert isinstance(layer, keras.layers.GroupNormalization), (net, kind, layer)
                layer.gamma.assign(p["weight"])
                layer.beta.assign(p["bias"])
            elif kind == "sn_conv":
                layer.layer.kernel.assign(_conv_kernel(p["weight"]))
                layer.layer.bias.assign(p["bias"])
                layer.vector_u.assign(np.reshape(p["u"], layer.vector_u.shape))
                if isinstance(layer, networks.ReparametrizedSpectralNorm):
                    c_in, kh, kw = p["weight"].shape[1:]
                    # torch flattens (in, kh, kw), Keras (kh, kw, in)
                    v = np.reshape(p["v"], (c_in, kh, kw)).transpose(1, 2, 0).ravel()
                    layer.vector_v.assign(v)
            else:
                raise ValueError(f"unknown layer kind {kind}")
    w, b = ref[f"{prefix}/probe/00/dense/weight"], ref[f"{prefix}/probe/00/dense/bias"]
    code = tuple(nets.encoder.compute_output_shape((None, 32, 32, 1))[1:])  # (h, w, c)
    h, wd, c = code
    # torch's Linear reads the code flattened as (c, h, w); amr_tf's probe as (h, w, c)
    kernel = w.T.reshape(c, h, wd, -1).transpose(1, 2, 0, 3).reshape(h * wd * c, -1)
    probe = _keras_weighted(nets.probe)[0]
    probe.kernel.assign(kernel)
    probe.bias.assign(b)


def amr_tf_outputs(nets, images):
    h = nets.encoder(images, training=True)
    return {"code": h.numpy(), "reconstruction": nets.decoder(h, training=True).numpy(),
            "d_logit": nets.discriminator(images, training=True).numpy(),
            "probe_logits": nets.probe(h, training=True).numpy()}


def torch_outputs(ref, seed):
    out = {name: ref[f"s{seed}/out/{name}"] for name in ("code", "reconstruction", "d_logit", "probe_logits")}
    out["code"] = out["code"].transpose(0, 2, 3, 1)
    out["reconstruction"] = out["reconstruction"].transpose(0, 2, 3, 1)
    return out


def same_weights_same_numbers(ref, images, seeds, tolerance):
    """Part 1: {spectral_norm: {seed: {output: (max |diff|, max |output|)}}} and whether all pass."""
    import keras

    from amr_tf import networks

    results, ok = {}, True
    for kind in COMPARED_NORMS:
        results[kind] = {}
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            nets = networks.build_networks("acai32", images.shape[1:], 10, spectral_norm=kind)
            copy_weights(nets, ref, f"s{seed}")
            ours, theirs = amr_tf_outputs(nets, images), torch_outputs(ref, seed)
            row = {}
            for name in ours:
                diff = float(np.max(np.abs(ours[name] - theirs[name])))
                scale = float(np.max(np.abs(theirs[name])))
                row[name] = {"max_abs_diff": diff, "max_abs": scale, "pass": diff <= tolerance * max(scale, 1.0)}
                ok &= row[name]["pass"]
            results[kind][seed] = row
    return results, ok


# One training step, each configuration with the same mixing draws on both sides: (mixer, k).
STEP_CONFIGS = {"ae_gan": ("none", 2), "mixup_k2": ("mixup", 2), "mixup_k3": ("mixup", 3),
                "bernoulli_k2": ("bernoulli", 2)}
# The original's loss names -> amr_tf's (d_x is the mean of D's terms, amr_tf's d_loss their sum).
STEP_LOSSES = {"recon": "recon", "disc_g_recon": "g_gan_recon", "disc_g_mix": "g_gan_mix", "gen_loss": "g_loss",
               "d_x": "d_loss", "cls_enc_loss": "probe_loss"}


def mixing_draws(batch, features, seed=0):
    """Per configuration: weights [B, k, F] (mixup: one alpha per example; k = 3: Dirichlet(1,1,1);
    Bernoulli: a 0/1 mask per feature map) and partner indices [B, k] (column 0: the example)."""
    rng = np.random.default_rng(seed)
    draws = {}
    for name, (mixer, k) in STEP_CONFIGS.items():
        idx = np.stack([np.arange(batch)] + [rng.permutation(batch) for _ in range(k - 1)], axis=1)
        if mixer == "bernoulli":
            m = rng.integers(0, 2, (batch, features)).astype(np.float32)
            w = np.stack([m, 1 - m], axis=1)
        else:
            a = rng.dirichlet(np.ones(k), batch) if k > 2 else np.concatenate(
                [u := rng.uniform(size=(batch, 1)), 1 - u], axis=1)
            w = np.repeat(a[:, :, None], features, axis=2)
        draws[f"w_{name}"], draws[f"i_{name}"] = w.astype(np.float32), idx.astype(np.int64)
    return draws


def _weights(nets):
    """name -> float64 arrays of every trainable variable and every spectral-norm u of `nets`."""
    out = {}
    for net in NETS:
        model = getattr(nets, net)
        out[net] = [np.asarray(v.numpy(), np.float64) for v in model.trainable_variables]
        out[f"{net}_u"] = [np.asarray(v.numpy(), np.float64) for v in model.non_trainable_variables
                           if v.path.endswith("vector_u")]
    return out


def one_step(ref, name, images, labels, draws, optimizer, lr, spectral_norm, dtype="float32"):
    """amr_tf's step for configuration `name` from the original's initial weights, with the
    injected draws; {losses: {name: (amr_tf, original)}, relative: {net: ||diff|| / ||update||}}."""
    import keras
    import tensorflow as tf

    from amr_tf import mixers, networks
    from amr_tf.config import Config
    from amr_tf.data import DataInfo
    from trainers.build import build_trainer

    mixer, k = STEP_CONFIGS[name]
    config = Config(dataset="fashion_mnist", mixer=mixer, k=k, lamb=10.0, lr=lr, probe_lr=None, weight_decay=1e-5,
                    update_g_every=5, batch_size=len(images), d_calls="original", spectral_norm=spectral_norm)
    info = DataInfo("fashion_mnist", tuple(images.shape[1:]), 10, {}, "against_original")
    trainer = build_trainer(config, info, dtype=dtype)
    if optimizer == "sgd":
        trainer.compile(*(keras.optimizers.SGD(lr, name=f"sgd{i}") for i in range(3)))
    copy_weights(trainer, ref, f"{name}/before")
    w, idx = tf.constant(draws[f"w_{name}"], dtype), tf.constant(draws[f"i_{name}"])

    def injected(h, mixer=None, k=None, seed=None):
        mixed = tf.reduce_sum(w[:, :, None, None, :] * tf.gather(h, idx), axis=1)
        return mixers.MixResult(mixed, w, idx)

    drawn, mixers.mix = mixers.mix, injected
    try:
        logs = {key: float(v) for key, v in trainer.train_step((tf.constant(images, dtype), tf.constant(labels, dtype)),
                                                                update_generator=True).items()}
    finally:
        mixers.mix = drawn
    ours = _weights(trainer)
    theirs = {}
    for when in ("before", "after"):
        nets = networks.build_networks("acai32", images.shape[1:], 10, spectral_norm=spectral_norm)
        copy_weights(nets, ref, f"{name}/{when}")
        theirs[when] = _weights(nets)
    relative = {}
    for net in ours:
        diff = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(ours[net], theirs["after"][net])))
        moved = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(theirs["after"][net], theirs["before"][net])))
        relative[net] = float(diff / moved) if moved > 0 else float(diff)
    terms = 2 if mixer == "none" else 3
    losses = {}
    for theirs_name, our_name in STEP_LOSSES.items():
        if mixer == "none" and theirs_name == "disc_g_mix":
            continue  # the original computes it on a discarded mix; AE+GAN has none
        value = float(ref[f"{name}/loss/{theirs_name}"]) * (terms if theirs_name == "d_x" else 1)
        losses[our_name] = (logs[our_name], value)
    return {"losses": losses, "relative": relative}


def run_steps(python, reference, images, labels, optimizer, lr, workdir, double=False):
    draws = mixing_draws(len(images), 2)
    inputs, out = Path(workdir) / "step_inputs.npz", Path(workdir) / f"step_{optimizer}.npz"
    np.savez(inputs, images=images.transpose(0, 3, 1, 2), labels=labels, **draws)
    cmd = [python, str(ROOT / "benchmarks" / "original_side.py"), f"--reference={reference}", f"--inputs={inputs}",
           f"--out={out}", f"--step_configs={','.join(STEP_CONFIGS)}", f"--optimizer={optimizer}", f"--lr={lr}"]
    cmd += ["--double"] if double else []
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=reference)
    if result.returncode != 0:
        sys.exit(f"against_original: the original's training step failed:\n{result.stderr[-3000:]}")
    with np.load(out) as f:
        ref = {key: f[key] for key in f.files}
    return ref, draws


# Part 1b's runs: (optimizer, learning rate, dtype). float64 SGD is the tight check: SGD's update
# is the gradient itself and float64 leaves no room for round-off; float32 and Adam are the real
# arithmetic and optimiser, reported beside it.
STEP_RUNS = (("sgd", 1e-2, "float64"), ("sgd", 1e-2, "float32"), ("adam", 1e-4, "float32"))
# Bounds of the float64 SGD run, relative to the original's update (||diff|| / ||update||):
# f, g, the probe and D's u vectors meet float32 round-off (amr_tf's losses are float32 even for
# float64 networks); D's update is a sum of real and fake terms that nearly cancel at
# initialisation (D cannot tell them apart yet), which multiplies that round-off by the
# cancellation: ~6e-5 with a mixer, ~7e-4 for AE+GAN (one real against one fake term).
STEP_BOUNDS = {"encoder": 1e-5, "decoder": 1e-5, "probe": 1e-4, "discriminator": 2e-3, "discriminator_u": 1e-5}
LOSS_REL = 1e-5


def one_training_step(python, reference, images, labels):
    """Part 1b: {run: {spectral_norm: {config: one_step result}}} and whether the checks pass."""

    results, ok = {}, True
    for optimizer, lr, dtype in STEP_RUNS:
        run = f"{optimizer} lr={lr:g} {dtype}"
        with tempfile.TemporaryDirectory() as tmp:
            ref, draws = run_steps(python, reference, images, labels, optimizer, lr, tmp, double=dtype == "float64")
        results[run] = {}
        for kind in COMPARED_NORMS:
            results[run][kind] = {}
            for name in STEP_CONFIGS:
                r = one_step(ref, name, images, labels, draws, optimizer, lr, kind, dtype)
                r["losses_pass"] = all(abs(a - b) <= LOSS_REL * max(abs(b), 1.0) for a, b in r["losses"].values())
                r["weights_pass"] = (all(r["relative"][net] <= bound for net, bound in STEP_BOUNDS.items())
                                     if dtype == "float64" else None)
                if kind == "reparametrized":  # the faithful kind is the one that must pass
                    ok &= r["losses_pass"] and r["weights_pass"] is not False
                results[run][kind][name] = r
    return results, ok


def _stats(images, out):
    return {"recon_l1": float(np.mean(np.abs(out["reconstruction"] - images))),
            "recon_std": float(np.std(out["reconstruction"])), "code_std": float(np.std(out["code"])),
            "d_logit_std": float(np.std(out["d_logit"]))}


def statistics_at_init(ref, images, seeds):
    """Part 2: per seed, the statistics of each code's own initialisation."""
    import keras

    from amr_tf import networks

    rows = {"original": {}, "amr_tf": {}}
    for seed in seeds:
        rows["original"][seed] = _stats(images, torch_outputs(ref, seed))
        keras.utils.set_random_seed(seed)
        nets = networks.build_networks("acai32", images.shape[1:], 10)
        rows["amr_tf"][seed] = _stats(images, amr_tf_outputs(nets, images))
    return rows


def _markdown(part1, part1b, part2, tolerance, n, torch_version, seconds):
    lines = [f"Fashion-MNIST test images: {n}; torch {torch_version}; {seconds:.0f} s."]
    if part1 is not None:
        lines += ["", f"**1. Same weights, same numbers** (max |amr_tf - original|; "
                  f"pass: <= {tolerance:g} x max(1, max |output|))",
                  "", "| spectral_norm | seed | code | reconstruction | D logit | probe logits |",
                  "|---|---|---|---|---|---|"]
    for kind, by_seed in (part1 or {}).items():
        for seed, row in by_seed.items():
            cells = [f"{row[o]['max_abs_diff']:.2e}{'' if row[o]['pass'] else ' FAIL'}"
                     for o in ("code", "reconstruction", "d_logit", "probe_logits")]
            lines.append(f"| {kind} | {seed} | " + " | ".join(cells) + " |")
    if part1b is not None:
        lines += ["", "**1b. One whole training step** (G, D and probe updates, d_calls=original, the same mixing "
                  "draws; ||amr_tf - original|| / ||original's update|| per network; losses: largest relative "
                  "difference)", "",
                  "| run | spectral_norm | configuration | f | g | D | D's u | probe | losses |",
                  "|---|---|---|---|---|---|---|---|---|"]
    for run, by_kind in (part1b or {}).items():
        for kind, by_name in by_kind.items():
            for name, r in by_name.items():
                rel = r["relative"]
                loss = max(abs(a - b) / max(abs(b), 1.0) for a, b in r["losses"].values())
                verdict = {True: "", False: " FAIL", None: ""}[r["weights_pass"]]
                lines.append(f"| {run} | {kind} | {name} | {rel['encoder']:.1e} | {rel['decoder']:.1e} | "
                             f"{rel['discriminator']:.1e}{verdict} | {rel['discriminator_u']:.1e} | "
                             f"{rel['probe']:.1e} | "
                             f"{loss:.1e}{'' if r['losses_pass'] else ' FAIL'} |")
    if part2 is not None:
        lines += ["", "**2. Statistics at initialisation** (each code's own initialiser)", "",
                  "| code | seed | L1 of g(f(x)) | std g(f(x)) | std f(x) | std D logit |", "|---|---|---|---|---|---|"]
    for code, by_seed in (part2 or {}).items():
        for seed, s in by_seed.items():
            lines.append(f"| {code} | {seed} | {s['recon_l1']:.3f} | {s['recon_std']:.3f} | {s['code_std']:.3f} | "
                         f"{s['d_logit_std']:.4f} |")
        means = {k: np.mean([s[k] for s in by_seed.values()]) for k in next(iter(by_seed.values()))}
        lines.append(f"| {code} | mean | {means['recon_l1']:.3f} | {means['recon_std']:.3f} | "
                     f"{means['code_std']:.3f} | {means['d_logit_std']:.4f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a checkout of the original code")
    parser.add_argument("--reference_python", default=str(ROOT / "benchmarks" / ".venv-reference" / "bin" / "python"),
                        help="python of the reference environment (torch); `make reference-venv` makes it")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (5 seeds left the D logit std ambiguous)")
    parser.add_argument("--n", type=int, default=256, help="test images")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="relative bound on |difference| of outputs (float32 round-off of two frameworks)")
    parser.add_argument("--step_batch", type=int, default=64, help="batch of the one-step check (the original's 64)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--parts", default="1,2", help="which parts: 1 (with 1b), 2, 3 (the long training comparison)")
    parser.add_argument("--families", default="acai32,amr_step",
                        help=f"parts 1 and 1b for these families ({', '.join(FAMILIES)}) or 'all'; part 2 is "
                             "acai32's; the new families' tables go to against_original_families.md and .json")
    parser.add_argument("--training", default="mixup_k2", help="part 3's configurations: mixup_k2, ae_gan")
    parser.add_argument("--training_seeds", type=int, default=3)
    parser.add_argument("--training_report_only", action="store_true",
                        help="part 3: report the runs that are there, train nothing")
    parser.add_argument("--training_codes", default="original,amr_tf,amr_tf_keras_sn",
                        help="part 3's codes: original and amr_tf variants (benchmarks/equal_budget.VARIANTS)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts or parts - {"1", "2", "3"}:
        sys.exit(f"against_original: --parts takes 1, 2 and 3; got {args.parts}")
    chosen = FAMILIES if args.families == "all" else tuple(args.families.split(","))
    if not chosen or set(chosen) - set(FAMILIES):
        sys.exit(f"against_original: --families takes {', '.join(FAMILIES)} or all; got {args.families}")
    for path, what in ((Path(args.reference) / "architectures" / "arch_kyle.py",
                        "--reference is no checkout of the original"),
                       (Path(args.reference_python), "no reference environment (run `make reference-venv`)")):
        if not path.exists():
            sys.exit(f"against_original: {what}: {path} does not exist")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if "3" in parts:
        import equal_budget

        text, results, ok3 = equal_budget.part3(args, out)
        text += "\n" + provenance.line() + "\n"
        (out / "equal_budget.md").write_text(text)
        (out / "equal_budget.json").write_text(json.dumps(results, indent=2) + "\n")
        print(text)
        print(f"against_original: part 3 {'within seed noise' if ok3 else 'OUTSIDE seed noise'}; "
              f"wrote {out / 'equal_budget.md'}")
        if parts == {"3"}:
            sys.exit(0 if ok3 else 1)
    else:
        ok3 = True
    ok = ok3
    seeds = list(range(args.seeds))
    acai32 = "acai32" in chosen and parts & {"1", "2"}
    amr_step = "amr_step" in chosen and "1" in parts
    if acai32 or amr_step:  # acai32's parts 1 and 2 and the AMR step: against_original.md and .json
        start = time.time()
        images, labels = fashion_test_images(args.n)
        part1 = part1b = part2 = None
        torch_version = "?"
        if acai32:
            with tempfile.TemporaryDirectory() as tmp:
                ref = run_original(args.reference_python, args.reference, images, seeds, tmp)
            torch_version = str(ref["torch_version"])
            if "1" in parts:
                part1, ok1 = same_weights_same_numbers(ref, images, seeds, args.tolerance)
                ok &= ok1
            if "2" in parts:
                part2 = statistics_at_init(ref, images, seeds)
        if amr_step:
            part1b, ok_step = one_training_step(args.reference_python, args.reference, images[:args.step_batch],
                                                labels[:args.step_batch])
            ok &= ok_step
        text = _markdown(part1, part1b, part2, args.tolerance, args.n, torch_version, time.time() - start)
        text += "\n" + provenance.line() + "\n"  # what measured these tables, for RESULTS.md
        (out / "against_original.md").write_text(text)
        (out / "against_original.json").write_text(json.dumps(
            {"same_weights_same_numbers": part1, "one_training_step": part1b, "statistics_at_init": part2,
             "tolerance": args.tolerance,
             "n": args.n, "all_pass": ok}, indent=2, default=str) + "\n")
        print(text)
        print(f"against_original: acai32 and the AMR step {'passed' if ok else 'FAILED'}; "
              f"wrote {out / 'against_original.md'}")
    others = [f for f in chosen if f in families.PART1_FAMILIES + families.STEP_FAMILIES]
    if others and "1" in parts:
        ok &= run_families(args, others, seeds, out)
    sys.exit(0 if ok else 1)


def run_families(args, chosen, seeds, out):
    """Parts 1 and 1b of the families beyond acai32 and the AMR step (`benchmarks/families.py`):
    writes against_original_families.md and .json; whether their checks pass."""
    start = time.time()
    part1, steps, ok = {}, {}, True
    for family in chosen:
        t = time.time()
        if family in families.PART1_FAMILIES:
            part1[family], passed = families.same_weights_family(args.reference_python, args.reference, family,
                                                                 args.n, seeds, args.tolerance)
        else:
            steps[family], passed = families.one_step_family(args.reference_python, args.reference, family,
                                                             args.step_batch, STEP_RUNS, STEP_BOUNDS, LOSS_REL)
        print(f"against_original: {family} {'passed' if passed else 'FAILED'} ({time.time() - t:.0f} s)", flush=True)
        ok &= passed
    from amr_tf import cpu

    torch_version = next(iter({**part1, **steps}.values()))["torch_version"]
    header = f"`{' '.join(sys.argv)}`; torch {torch_version}; {cpu.flags_line()}; {time.time() - start:.0f} s."
    text = families.markdown(part1, steps, args.tolerance, STEP_BOUNDS, LOSS_REL, header)
    text += "\n" + provenance.line() + "\n"
    (out / "against_original_families.md").write_text(text)
    (out / "against_original_families.json").write_text(json.dumps(
        {"same_weights_same_numbers": part1, "one_training_step": steps, "tolerance": args.tolerance,
         "step_bounds": STEP_BOUNDS, "vae_bounds": families.VAE_BOUNDS, "loss_rel": LOSS_REL, "all_pass": ok},
        indent=2, default=str) + "\n")
    print(text)
    print(f"against_original: families {', '.join(chosen)} {'passed' if ok else 'FAILED'}; "
          f"wrote {out / 'against_original_families.md'}")
    return ok


if __name__ == "__main__":
    main()
