"""The original code's side of `against_original.py --families=...` (every family beyond acai32
and the AMR step, which `original_side.py` serves); runs in the reference environment (torch).

    benchmarks/.venv-reference/bin/python benchmarks/original_families.py --reference=PATH \
        --inputs=IN.npz --out=OUT.npz --family=dsprites --seeds=0,1,2
    benchmarks/.venv-reference/bin/python benchmarks/original_families.py --reference=PATH \
        --inputs=IN.npz --out=OUT.npz --step=acai_beta0,acai_beta1 --optimizer=sgd --lr=0.01 --double

Same weights, same numbers (`--family`), each network built by the original's own code for
each seed, exactly as its launcher builds it (`get_network` of the architecture file its
scripts name, `torch.manual_seed(seed)` first):
- acai256: `architectures/arch_acai_kyle_256.py` and its linear probe (`cls_probes/linear_legacy`,
  n_in 256): f(x), g(f(x)), D's pre-sigmoid logit, the probe's logits (as `original_side.py`
  does for acai32);
- dsprites / dsprites_ndf64: `architectures/dsprite_gd.py` (its AMR scripts' --arch: Burgess's
  "beta-VAE B" auto-encoder with a 10-unit code, konny's discriminator under torch's own
  `spectral_norm`), ndf 32 / 64: f(x), g(f(x)), D's logit (its Sequential without the final
  Sigmoid, after one power iteration);
- vae: `architectures/arch_dsprite_burgess-g_kyle_d_vae.py` (its beta-VAE scripts' --arch, with
  their ndf 16): the encoder's 20 outputs (the mean, then the second half, which the original's
  `models/vae.py` reads as the posterior's standard deviation) and g(mean). Its ResNet
  discriminator is built (the RNG draws stay the launcher's) but the VAE never calls it.

One training step (`--step`), from the seed-0 networks, with the draws given in --inputs:
- acai_beta<b>: `models/acai_f3.ACAIF3.train_on_instance` on the acai32 networks and probe
  (lamb 10, consistency weight b, mixup, the G update due); its `torch.randperm` and its
  sampler's alpha replaced by the given perm and alpha;
- vae / vae_logvar: `models/vae.VAE.train_on_instance` (its scripts' settings: lamb 1, beta
  100, recon_loss bce, no weight decay), with Normal's standard-normal draw replaced by the given
  eps. `vae_logvar` is a diagnostic, not the original's behaviour: its encoder's second half
  s is handed to the VAE as exp(s / 2), so that its std reading sees the standard deviation
  that amr_tf's log-variance reading gives.
Writes every parameter before and after (`<config>/before|after/<net>/<index>/<kind>/<name>`) and
the losses (`<config>/loss/<name>`).

Nothing of amr_tf is imported here, and nothing of the original is copied: it is imported from
the checkout named by --reference; what is replaced (the draws, the BCE target's shape as in
`original_side.py`, torch's argument validation of Normal) is replaced from outside.
"""

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from original_side import _export, _stub_torchvision  # noqa: E402

# family -> (architecture module, get_network's keyword arguments)
FAMILIES = {
    "acai256": ("architectures.arch_acai_kyle_256", {}),
    "dsprites": ("architectures.dsprite_gd", {"ndf": 32}),
    "dsprites_ndf64": ("architectures.dsprite_gd", {"ndf": 64}),
    "vae": ("architectures.arch_dsprite_burgess-g_kyle_d_vae", {"ndf": 16}),
}
PROBE_IN = {"acai256": 256}  # the linear probe's n_in (the code's size), where the family has one


def _weighted(sequential):
    """[(index, kind, {name: array})] of the layers of `sequential` that hold parameters:
    conv, conv_t (ConvTranspose2d), linear, norm (InstanceNorm2d), and sn_conv / sn_linear under
    torch's own spectral_norm (weight = weight_orig, u, v: the power iteration's vectors)."""
    out = []
    for index, m in enumerate(sequential):
        if hasattr(m, "weight_orig"):
            kind = "sn_conv" if isinstance(m, nn.Conv2d) else "sn_linear"
            params = {"weight": m.weight_orig, "bias": m.bias, "u": m.weight_u, "v": m.weight_v}
        elif isinstance(m, nn.ConvTranspose2d):
            kind, params = "conv_t", {"weight": m.weight, "bias": m.bias}
        elif isinstance(m, nn.Conv2d):
            kind, params = "conv", {"weight": m.weight, "bias": m.bias}
        elif isinstance(m, nn.Linear):
            kind, params = "linear", {"weight": m.weight, "bias": m.bias}
        elif isinstance(m, nn.InstanceNorm2d):
            kind, params = "norm", {"weight": m.weight, "bias": m.bias}
        else:
            continue
        out.append((index, kind, {k: v.detach().cpu().numpy().copy() for k, v in params.items()}))
    return out


def _export_burgess(out, prefix, gen, disc=None):
    nets = [("encoder", gen.encoder), ("decoder", gen.decoder)] + ([("discriminator", disc.encoder)] if disc else [])
    for net, sequential in nets:
        for index, kind, params in _weighted(sequential):
            for name, value in params.items():
                out[f"{prefix}/{net}/{index:02d}/{kind}/{name}"] = value


def _build(family, channels):
    module_name, kwargs = FAMILIES[family]
    nets = importlib.import_module(module_name).get_network(n_channels=channels, **kwargs)
    probe = None
    if family in PROBE_IN:
        from architectures.cls_probes import linear_legacy

        probe = linear_legacy.get_network(n_in=PROBE_IN[family], n_classes=10)
    return nets["gen"], nets["disc_x"], probe


def same_weights(args, x, out):
    for seed in [int(s) for s in args.seeds.split(",")]:
        torch.manual_seed(seed)
        np.random.seed(seed)
        gen, disc, probe = _build(args.family, x.shape[1])
        if args.family.startswith("acai"):
            _export(out, f"s{seed}", gen, disc, probe)
        else:
            _export_burgess(out, f"s{seed}", gen, None if args.family == "vae" else disc)
        gen.train()
        disc.train()
        results = {}
        with torch.no_grad():
            enc = gen.encode(x)
            if args.family == "vae":
                z = enc.shape[1] // 2
                results["mean"], results["second_half"] = enc[:, :z], enc[:, z:]
                results["reconstruction"] = gen.decode(enc[:, :z])
            else:
                results["code"], results["reconstruction"] = enc, gen.decode(enc)
                if args.family.startswith("acai"):
                    results["d_logit"] = disc.encoder(x).reshape(x.shape[0], -1).mean(-1)
                    results["probe_logits"] = probe(enc.reshape(-1, probe.n_in))
                else:  # konny's Discriminator: a Sequential that ends in nn.Sigmoid
                    results["d_logit"] = disc.encoder[:-1](x).reshape(-1)
        for name, value in results.items():
            out[f"s{seed}/out/{name}"] = value.numpy()


def _optimizer(args, weight_decay):
    from torch import optim

    if args.optimizer == "sgd":
        return optim.SGD, {"lr": args.lr, "weight_decay": weight_decay}
    return optim.Adam, {"lr": args.lr, "betas": (0.5, 0.99), "weight_decay": weight_decay}


def _bce(prediction, target):
    """The original's bce with its target given the prediction's shape (see `original_side.py`):
    a constant target, or ACAI's per-example target 2 min(a, 1 - a) taken element by element as
    the torch of its time did with a [B, 1] target against a [B] prediction."""
    if torch.is_tensor(target):
        target = target.reshape(prediction.shape).to(prediction.dtype)
    else:
        target = torch.full_like(prediction, float(target))
    return torch.nn.BCELoss()(prediction, target)


def acai_step(args, name, x, y, inputs, out):
    from architectures import arch_acai_kyle
    from architectures.cls_probes import linear_legacy
    from models.acai_f3 import ACAIF3

    beta = float(name[len("acai_beta"):])
    torch.manual_seed(args.step_seed)
    np.random.seed(args.step_seed)
    nets = arch_acai_kyle.get_network(n_channels=x.shape[1])
    gen, disc = nets["gen"], nets["disc_x"]
    probe = linear_legacy.get_network(n_in=32, n_classes=10)
    _export(out, f"{name}/before", gen, disc, probe)
    if args.double:
        for net in (gen, disc, probe):
            net.double()
    opt, opt_args = _optimizer(args, 1e-5)
    model = ACAIF3(generator=gen, disc_x=disc, lamb=10.0, beta=beta, cls=0.0, mixer="mixup", recon_loss="l1",
                   gan_loss="bce", cls_enc=probe, opt=opt, opt_args=opt_args, update_g_every=5, handlers=[])
    if args.double:  # optimisers made again over the float64 parameters
        model.optim = {key: opt(o.param_groups[0]["params"], **opt_args) for key, o in model.optim.items()}
    alpha = torch.from_numpy(inputs["alpha_acai"]).to(x.dtype).reshape(-1, 1, 1, 1)
    perm = torch.from_numpy(inputs["perm_acai"]).long()
    model.sampler = lambda bs, f, is_2d, **kwargs: alpha
    model.gan_loss_fn = _bce
    randperm = torch.randperm
    torch.randperm = lambda n, *a, **k: perm.clone()
    try:
        losses, _ = model.train_on_instance(x, y, iter=1)
    finally:
        torch.randperm = randperm
    _export(out, f"{name}/after", gen, disc, probe)
    for key, value in losses.items():
        out[f"{name}/loss/{key}"] = np.array(value)


def vae_step(args, name, x, y, inputs, out):
    from models.vae import VAE
    from torch import distributions

    # torch >= 1.8 validates a Normal's scale (> 0) and refuses the negative standard deviations
    # that the original's reading gives; the torch of its time did not check.
    distributions.Distribution.set_default_validate_args(False)
    torch.manual_seed(args.step_seed)
    np.random.seed(args.step_seed)
    gen, _, _ = _build("vae", x.shape[1])
    _export_burgess(out, f"{name}/before", gen)
    if args.double:
        gen.double()
    opt, opt_args = _optimizer(args, 0.0)  # its beta-VAE scripts set no --weight_decay: 0
    model = VAE(generator=gen, lamb=1.0, beta=100.0, recon_loss="bce", opt=opt, opt_args=opt_args, handlers=[])
    if args.double:
        model.optim = {key: opt(o.param_groups[0]["params"], **opt_args) for key, o in model.optim.items()}
    if name == "vae_logvar":
        encode = gen.encode

        def encode_as_logvar(batch):
            enc = encode(batch)
            z = enc.shape[1] // 2
            return torch.cat([enc[:, :z], torch.exp(0.5 * enc[:, z:])], dim=1)

        gen.encode = encode_as_logvar
    eps = torch.from_numpy(inputs["eps_vae"]).to(x.dtype)
    rsample = distributions.normal.Normal.rsample

    def injected(self, sample_shape=torch.Size()):
        # Normal's reparametrised draw, loc + eps * scale, with the given eps
        return self.loc + eps * self.scale

    distributions.normal.Normal.rsample = injected
    try:
        losses, _ = model.train_on_instance(x, y, iter=1)
    finally:
        distributions.normal.Normal.rsample = rsample
    _export_burgess(out, f"{name}/after", gen)
    for key, value in losses.items():
        out[f"{name}/loss/{key}"] = np.array(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="checkout of github.com/christopher-beckham/amr")
    parser.add_argument("--inputs", required=True, help=".npz with images [N, C, H, W] in [-1, 1] (and the draws)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--family", default="", choices=[""] + list(FAMILIES))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--step", default="", help="acai_beta<b>, vae, vae_logvar (comma-separated)")
    parser.add_argument("--step_seed", type=int, default=0)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--double", action="store_true", help="the training step in float64")
    args = parser.parse_args()
    if bool(args.family) == bool(args.step):
        sys.exit("original_families: give one of --family and --step")
    sys.path.insert(0, args.reference)
    _stub_torchvision()
    torch.set_num_threads(args.threads)
    inputs = dict(np.load(args.inputs))
    x = torch.from_numpy(inputs["images"]).float()
    out = {"torch_version": np.array(torch.__version__)}
    if args.family:
        same_weights(args, x, out)
    else:
        y = torch.from_numpy(inputs["labels"]).float()
        if args.double:
            x, y = x.double(), y.double()
        for name in args.step.split(","):
            (acai_step if name.startswith("acai_beta") else vae_step)(args, name, x, y, inputs, out)
    np.savez(args.out, **out)


if __name__ == "__main__":
    main()
