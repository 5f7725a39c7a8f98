"""The original code's side of `against_original.py`; runs in the reference environment (torch).

    benchmarks/.venv-reference/bin/python benchmarks/original_side.py --reference=PATH \
        --inputs=IN.npz --out=OUT.npz --seeds=0,1,2,3,4

For each seed it builds the original's acai32 networks exactly as its launcher does
(`architectures/arch_acai_kyle.get_network`, its `Initializer`, its spectral norm) and its
linear probe (`cls_probes/linear_legacy`, nn.Linear on the flattened NCHW code), and writes:
- every parameter and spectral-norm vector, layer by layer, in the order the Sequential holds
  them (`s<seed>/<net>/<index>/<name>`), taken before any forward pass;
- the outputs on the given images (NCHW): the code f(x), g(f(x)), D's pre-sigmoid logit (the
  mean of its last map, after one power iteration from the stored u, as its forward does), and
  the probe's logits.
Nothing of amr_tf is imported here, and nothing of the original is copied: it is imported from
the checkout named by --reference.
"""

import argparse
import sys

import numpy as np
import torch
from torch import nn


def _layers(sequential):
    """[(index, kind, {name: array})] for the layers of `sequential` that hold parameters."""
    out = []
    for index, module in enumerate(sequential):
        if isinstance(module, nn.Conv2d):
            out.append((index, "conv", {"weight": module.weight, "bias": module.bias}))
        elif isinstance(module, nn.InstanceNorm2d):
            out.append((index, "norm", {"weight": module.weight, "bias": module.bias}))
        elif hasattr(module, "module") and isinstance(module.module, nn.Conv2d):  # its SpectralNorm
            conv = module.module
            out.append((index, "sn_conv", {"weight": conv.weight_bar, "bias": conv.bias,
                                           "u": conv.weight_u, "v": conv.weight_v}))
    return [(i, kind, {k: v.detach().cpu().numpy().copy() for k, v in p.items()}) for i, kind, p in out]


def _stub_torchvision():
    """The original's models/base.py imports torchvision.utils.save_image, which a training step
    never calls; a stub stands in where no torchvision matching this torch is installed."""
    try:
        import torchvision.utils  # noqa: F401
    except Exception:
        import types

        tv, utils = types.ModuleType("torchvision"), types.ModuleType("torchvision.utils")

        def save_image(*args, **kwargs):
            raise RuntimeError("torchvision is not installed in the reference environment")

        utils.save_image, tv.utils = save_image, utils
        sys.modules.update({"torchvision": tv, "torchvision.utils": utils})


def _export(out, prefix, gen, disc, probe):
    for net, sequential in (("encoder", gen.encoder), ("decoder", gen.decoder), ("discriminator", disc.encoder)):
        for index, kind, params in _layers(sequential):
            for name, value in params.items():
                out[f"{prefix}/{net}/{index:02d}/{kind}/{name}"] = value
    out[f"{prefix}/probe/00/dense/weight"] = probe.weight.detach().numpy().copy()
    out[f"{prefix}/probe/00/dense/bias"] = probe.bias.detach().numpy().copy()


def one_step(args, x, y, inputs, out):
    """One `train_on_instance` of the original's TwoGAN/KGAN per configuration, with the mixing
    draws given (weights [B, k, F] and partner indices [B, k]) instead of its own."""
    from torch import optim

    _stub_torchvision()
    from architectures import arch_acai_kyle  # noqa: E402
    from architectures.cls_probes import linear_legacy  # noqa: E402
    from models.kgan import KGAN  # noqa: E402
    from models.twogan import TwoGAN  # noqa: E402

    for name in args.step_configs.split(","):
        torch.manual_seed(args.step_seed)
        np.random.seed(args.step_seed)
        nets = arch_acai_kyle.get_network(n_channels=x.shape[1])
        gen, disc = nets["gen"], nets["disc_x"]
        probe = linear_legacy.get_network(n_in=32, n_classes=10)
        _export(out, f"{name}/before", gen, disc, probe)
        if args.double:
            for net in (gen, disc, probe):
                net.double()
        w = torch.from_numpy(inputs[f"w_{name}"]).to(x.dtype)[..., None, None]  # [B, k, F, 1, 1]
        idx = torch.from_numpy(inputs[f"i_{name}"]).long()
        k = w.shape[1]
        opt, opt_args = ((optim.SGD, {"lr": args.lr, "weight_decay": 1e-5}) if args.optimizer == "sgd"
                         else (optim.Adam, {"lr": args.lr, "betas": (0.5, 0.99), "weight_decay": 1e-5}))
        common = dict(generator=gen, disc_x=disc, lamb=10.0, beta=0.0, cls=0.0, mixer="mixup", recon_loss="l1",
                      gan_loss="bce", disable_mix=(name == "ae_gan"), cls_enc=probe, opt=opt, opt_args=opt_args,
                      update_g_every=5, handlers=[])
        model = KGAN(k=k, **common) if k > 2 else TwoGAN(**common)

        def injected(enc, **kwargs):
            return sum(w[:, j] * enc[idx[:, j]] for j in range(k)), idx[:, 0]

        model.mix = injected
        # Its bce views the (constant) target as [B, 1] against a [B] prediction, which the torch
        # of its time accepted element by element and today's refuses; with a constant target
        # the loss is the same either way, so the target is given the prediction's shape here.
        model.gan_loss_fn = lambda prediction, target: torch.nn.BCELoss()(
            prediction, torch.full_like(prediction, float(target)))
        model.optim = {key: opt(o.param_groups[0]["params"], **opt_args) for key, o in model.optim.items()} \
            if args.double else model.optim  # optimisers made again over the float64 parameters
        losses, _ = model.train_on_instance(x, y, iter=1)
        _export(out, f"{name}/after", gen, disc, probe)
        for key, value in losses.items():
            out[f"{name}/loss/{key}"] = np.array(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="checkout of github.com/christopher-beckham/amr")
    parser.add_argument("--inputs", required=True, help=".npz with images [N, C, H, W] in [-1, 1]")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--step_configs", default="", help="configurations for one training step (see one_step)")
    parser.add_argument("--step_seed", type=int, default=0)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--double", action="store_true", help="the training step in float64")
    args = parser.parse_args()
    sys.path.insert(0, args.reference)
    from architectures import arch_acai_kyle  # noqa: E402  (the original's launcher's --arch)
    from architectures.cls_probes import linear_legacy  # noqa: E402

    torch.set_num_threads(args.threads)
    inputs = dict(np.load(args.inputs))
    x = torch.from_numpy(inputs["images"]).float()
    out = {"torch_version": np.array(torch.__version__)}
    if args.step_configs:
        y = torch.from_numpy(inputs["labels"]).float()
        if args.double:
            x, y = x.double(), y.double()
        one_step(args, x, y, inputs, out)
        np.savez(args.out, **out)
        return
    for seed in [int(s) for s in args.seeds.split(",")]:
        torch.manual_seed(seed)
        np.random.seed(seed)
        nets = arch_acai_kyle.get_network(n_channels=x.shape[1])
        gen, disc = nets["gen"], nets["disc_x"]
        probe = linear_legacy.get_network(n_in=32, n_classes=10)
        _export(out, f"s{seed}", gen, disc, probe)
        gen.train()
        disc.train()
        with torch.no_grad():
            h = gen.encode(x)
            r = gen.decode(h)
            logit = disc.encoder(x).reshape(x.shape[0], -1).mean(-1)  # its forward, before the sigmoid
            probe_logits = probe(h.reshape(-1, probe.n_in))
        for name, value in (("code", h), ("reconstruction", r), ("d_logit", logit), ("probe_logits", probe_logits)):
            out[f"s{seed}/out/{name}"] = value.numpy()
    np.savez(args.out, **out)


if __name__ == "__main__":
    main()
