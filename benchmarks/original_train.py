"""The original code's side of `against_original.py`'s part 3: trains its TwoGAN for the budget.

    benchmarks/.venv-reference/bin/python benchmarks/original_train.py --reference=PATH \
        --data=DATA.npz --config=mixup_k2 --seed=0 --out=DIR

Runs in the reference environment (torch). It builds what the original's launcher builds for
`exps/mnist/mixup_lamb10.sh` (and, for --config=ae_gan, `baseline_lamb10.sh`: the same with
--disable_mix): `architectures/arch_acai_kyle.get_network`, its `linear_legacy` probe, `TwoGAN` with
Adam(lr, betas, weight_decay), and calls its own `train_on_instance` on the batches of
`budget_protocol` (the launcher's `torch.manual_seed(seed)` first; NumPy's global RNG, which the
original's mixup sampler draws from and its launcher leaves unseeded, is seeded too, so a run is
repeatable). Its data loader and handlers are replaced by the protocol's arrays: the Fashion-MNIST
adapter is the `data.npz` amr_tf wrote, so both codes train on the same pixels.
Its initial weights are written to `init.npz` (in `original_side.py`'s layout), from which
`amr_tf_train.py --init_from` can start. Nothing of the original is copied and nothing of amr_tf
is imported.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import budget_protocol as protocol  # noqa: E402
from original_side import _export, _stub_torchvision  # noqa: E402


def build(config, seed):
    from architectures import arch_acai_kyle
    from architectures.cls_probes import linear_legacy
    from models.twogan import TwoGAN

    s = protocol.SETTINGS
    torch.manual_seed(seed)
    np.random.seed(seed)
    nets = arch_acai_kyle.get_network(n_channels=1)
    probe = linear_legacy.get_network(n_in=32, n_classes=10)
    gan = TwoGAN(generator=nets["gen"], disc_x=nets["disc_x"], class_mixer=None, lamb=s["lamb"], beta=s["beta"],
                 cls=0.0, mixer="mixup", recon_loss="l1", gan_loss="bce",
                 disable_mix=protocol.CONFIGS[config]["mixer"] == "none", cls_enc=probe,
                 opt_args={"lr": s["lr"], "betas": (s["beta1"], s["beta2"]), "weight_decay": s["weight_decay"]},
                 update_g_every=s["update_g_every"], handlers=[])
    # Its bce views the constant target as [B, 1] against a [B] prediction, which the torch of
    # its time accepted and today's refuses; with a constant target the loss is the same.
    gan.gan_loss_fn = lambda prediction, target: torch.nn.BCELoss()(
        prediction, torch.full_like(prediction, float(target)))
    return gan


def state_of(gan, step):
    return {"g": gan.generator.state_dict(), "disc_x": gan.disc_x.state_dict(), "cls_enc": gan.cls_enc.state_dict(),
            **{f"optim_{k}": o.state_dict() for k, o in gan.optim.items()},
            "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state(), "step": step}


def load_state(gan, state):
    gan.generator.load_state_dict(state["g"])
    gan.disc_x.load_state_dict(state["disc_x"])
    gan.cls_enc.load_state_dict(state["cls_enc"])
    for key, optimizer in gan.optim.items():
        optimizer.load_state_dict(state[f"optim_{key}"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    return state["step"]


@torch.no_grad()
def measure(gan, images, labels, batch=500):
    """(mean L1 of g(f(x)) - x, probe accuracy, codes [N, 32]) on `images` (NCHW in [-1, 1])."""
    gan._eval()
    l1, correct, codes = 0.0, 0, []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(images[start:start + batch])
        h = gan.generator.encode(x)
        l1 += float(torch.abs(gan.generator.decode(h) - x).sum())
        flat = h.reshape(-1, gan.cls_enc.n_in)
        correct += int((gan.cls_enc(flat).argmax(1).numpy() == labels[start:start + batch]).sum())
        codes.append(flat.numpy())
    gan._train()
    return l1 / images.size, correct / len(images), np.concatenate(codes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True)
    protocol.add_run_arguments(parser)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, args.reference)
    _stub_torchvision()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = protocol.load_data(args.data)
    train_x = protocol.scale(data["train_x"]).transpose(0, 3, 1, 2).copy()
    onehot = np.eye(10, dtype=np.float32)[data["train_y"]]
    test_x = protocol.scale(data["test_x"]).transpose(0, 3, 1, 2).copy()
    test_y = data["test_y"]
    gan = build(args.config, args.seed)
    if not (out / "init.npz").exists():  # the initial weights, for amr_tf runs that start from them
        init = {}
        _export(init, "init", gan.generator, gan.disc_x, gan.cls_enc)
        np.savez(out / ".init.tmp.npz", **init)
        os.replace(out / ".init.tmp.npz", out / "init.npz")
    start = 0
    if (out / "state.pt").exists():
        start = load_state(gan, torch.load(out / "state.pt", weights_only=False))
    kept = protocol.keep_curve(out, start)
    window = protocol.Window()
    began = time.time() - (kept[-1]["seconds"] if kept else 0.0)  # seconds of training, across resumes
    for step, it, idx in protocol.batches(len(train_x), protocol.SETTINGS["batch_size"], args.seed, args.steps, start):
        losses, _ = gan.train_on_instance(torch.from_numpy(train_x[idx]), torch.from_numpy(onehot[idx]), iter=it)
        window.add({"recon": losses["recon"], "d_x": losses["d_x"], "probe_acc": losses["cls_enc_acc"]})
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            l1, acc, _ = measure(gan, test_x[:protocol.CURVE_TEST], test_y[:protocol.CURVE_TEST])
            protocol.append_curve(out, {"step": step + 1, **window.means(), "test_recon_l1": l1, "test_probe_acc": acc,
                                        "seconds": time.time() - began})
            tmp = out / ".state.pt.tmp"
            torch.save(state_of(gan, step + 1), tmp)
            os.replace(tmp, out / "state.pt")
            print(f"original {args.config} seed {args.seed}: step {step + 1}/{args.steps} recon {l1:.4f} "
                  f"probe {acc:.3f}", flush=True)
    l1, acc, test_codes = measure(gan, test_x, test_y)
    train_x = protocol.scale(data["train_x"][:protocol.PROBE_TRAIN]).transpose(0, 3, 1, 2).copy()
    _, _, train_codes = measure(gan, train_x, data["train_y"][:protocol.PROBE_TRAIN])
    np.savez(out / "final.npz", test_recon_l1=l1, test_probe_acc=acc, train_codes=train_codes,
             test_codes=test_codes, torch_version=np.array(torch.__version__))
    protocol.write_json(out / "done.json", {"steps": args.steps, "test_recon_l1": l1, "test_probe_acc": acc})


if __name__ == "__main__":
    main()
