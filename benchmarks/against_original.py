"""amr_tf against the original PyTorch code (github.com/christopher-beckham/amr, BSD 3-Clause).

    make reference-venv            # benchmarks/.venv-reference: torch (CPU) and numpy, nothing of amr_tf
    git clone https://github.com/christopher-beckham/amr /path/to/amr   # the original, unmodified
    .venv/bin/python benchmarks/against_original.py --reference=/path/to/amr [--seeds=5 --n=256]

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

Not yet here (see the README's parity section): one whole training step with injected mixing
draws, and the equal-budget training comparison.

Writes `<out>/against_original.json` and `<out>/against_original.md`, and prints the tables.
Exit code 1 when a check of part 1 fails.
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

NETS = ("encoder", "decoder", "discriminator", "probe")


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


def _torch_layers(ref, seed, net):
    """[(kind, {name: array})] of one original network, in its Sequential's order."""
    prefix = f"s{seed}/{net}/"
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


def copy_weights(nets, ref, seed):
    """Assigns the original's weights of `seed` to amr_tf's networks `nets` (in place)."""
    import keras

    from amr_tf import networks

    for net in ("encoder", "decoder", "discriminator"):
        torch_layers = _torch_layers(ref, seed, net)
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
    w, b = ref[f"s{seed}/probe/00/dense/weight"], ref[f"s{seed}/probe/00/dense/bias"]
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
    for kind in networks.SPECTRAL_NORMS:
        results[kind] = {}
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            nets = networks.build_networks("acai32", images.shape[1:], 10, spectral_norm=kind)
            copy_weights(nets, ref, seed)
            ours, theirs = amr_tf_outputs(nets, images), torch_outputs(ref, seed)
            row = {}
            for name in ours:
                diff = float(np.max(np.abs(ours[name] - theirs[name])))
                scale = float(np.max(np.abs(theirs[name])))
                row[name] = {"max_abs_diff": diff, "max_abs": scale, "pass": diff <= tolerance * max(scale, 1.0)}
                ok &= row[name]["pass"]
            results[kind][seed] = row
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


def _markdown(part1, part2, tolerance, n, torch_version, seconds):
    lines = [f"Fashion-MNIST test images: {n}; torch {torch_version}; {seconds:.0f} s.", "",
             f"**1. Same weights, same numbers** (max |amr_tf - original|; pass: <= {tolerance:g} x max(1, max |output|))",
             "", "| spectral_norm | seed | code | reconstruction | D logit | probe logits |", "|---|---|---|---|---|---|"]
    for kind, by_seed in part1.items():
        for seed, row in by_seed.items():
            cells = [f"{row[o]['max_abs_diff']:.2e}{'' if row[o]['pass'] else ' FAIL'}"
                     for o in ("code", "reconstruction", "d_logit", "probe_logits")]
            lines.append(f"| {kind} | {seed} | " + " | ".join(cells) + " |")
    lines += ["", "**2. Statistics at initialisation** (each code's own initialiser)", "",
              "| code | seed | L1 of g(f(x)) | std g(f(x)) | std f(x) | std D logit |", "|---|---|---|---|---|---|"]
    for code, by_seed in part2.items():
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
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    for path, what in ((Path(args.reference) / "architectures" / "arch_kyle.py", "--reference is no checkout of the original"),
                       (Path(args.reference_python), "no reference environment (run `make reference-venv`)")):
        if not path.exists():
            sys.exit(f"against_original: {what}: {path} does not exist")
    start = time.time()
    images, _ = fashion_test_images(args.n)
    seeds = list(range(args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        ref = run_original(args.reference_python, args.reference, images, seeds, tmp)
    part1, ok = same_weights_same_numbers(ref, images, seeds, args.tolerance)
    part2 = statistics_at_init(ref, images, seeds)
    text = _markdown(part1, part2, args.tolerance, args.n, str(ref["torch_version"]), time.time() - start)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "against_original.md").write_text(text)
    (out / "against_original.json").write_text(json.dumps(
        {"same_weights_same_numbers": part1, "statistics_at_init": part2, "tolerance": args.tolerance,
         "n": args.n, "all_pass": ok}, indent=2, default=str) + "\n")
    print(text)
    print(f"against_original: part 1 {'passed' if ok else 'FAILED'}; wrote {out / 'against_original.md'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
