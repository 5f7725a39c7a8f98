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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="checkout of github.com/christopher-beckham/amr")
    parser.add_argument("--inputs", required=True, help=".npz with images [N, C, H, W] in [-1, 1]")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, args.reference)
    from architectures import arch_acai_kyle  # noqa: E402  (the original's launcher's --arch)
    from architectures.cls_probes import linear_legacy  # noqa: E402

    torch.set_num_threads(args.threads)
    x = torch.from_numpy(np.load(args.inputs)["images"]).float()
    out = {"torch_version": np.array(torch.__version__)}
    for seed in [int(s) for s in args.seeds.split(",")]:
        torch.manual_seed(seed)
        np.random.seed(seed)
        nets = arch_acai_kyle.get_network(n_channels=x.shape[1])
        gen, disc = nets["gen"], nets["disc_x"]
        probe = linear_legacy.get_network(n_in=32, n_classes=10)
        for net, sequential in (("encoder", gen.encoder), ("decoder", gen.decoder), ("discriminator", disc.encoder)):
            for index, kind, params in _layers(sequential):
                for name, value in params.items():
                    out[f"s{seed}/{net}/{index:02d}/{kind}/{name}"] = value
        out[f"s{seed}/probe/00/dense/weight"] = probe.weight.detach().numpy().copy()
        out[f"s{seed}/probe/00/dense/bias"] = probe.bias.detach().numpy().copy()
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
