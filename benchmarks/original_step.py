"""The original code's train step, timed: the reference for `step_vs_original.py` (torch's environment).

    benchmarks/.venv-reference/bin/python benchmarks/original_step.py --reference=PATH --k=8 \
        --batch_size=64 --channels=3 --steps=20 --warmup=5 --threads=2

Its KGAN (k > 2) or TwoGAN (k = 2) with the acai32 networks and the linear probe, at its
scripts' settings (lamb 10, Adam 1e-4 (0.5, 0.99), weight decay 1e-5, G every 5th step), on one
fixed random batch in [-1, 1]; whole generator cycles are timed, like `amr_tf.bench`. Prints
`samples_per_s=<float> ms_per_step_median=<float> torch=<version> threads=<n>`.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from original_side import _stub_torchvision  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, args.reference)
    _stub_torchvision()
    torch.set_num_threads(args.threads)
    from architectures import arch_acai_kyle
    from architectures.cls_probes import linear_legacy
    from models.kgan import KGAN
    from models.twogan import TwoGAN

    torch.manual_seed(0)
    np.random.seed(0)
    nets = arch_acai_kyle.get_network(n_channels=args.channels)
    common = dict(generator=nets["gen"], disc_x=nets["disc_x"], class_mixer=None, lamb=10.0, beta=0.0, cls=0.0,
                  mixer="mixup", recon_loss="l1", gan_loss="bce",
                  cls_enc=linear_legacy.get_network(n_in=32, n_classes=10),
                  opt_args={"lr": 1e-4, "betas": (0.5, 0.99), "weight_decay": 1e-5}, update_g_every=5, handlers=[])
    gan = KGAN(k=args.k, **common) if args.k > 2 else TwoGAN(**common)
    gan.gan_loss_fn = lambda prediction, target: torch.nn.BCELoss()(
        prediction, torch.full_like(prediction, float(target)))
    x = torch.rand(args.batch_size, args.channels, 32, 32) * 2 - 1
    y = torch.eye(10)[torch.randint(0, 10, (args.batch_size,))]
    steps = -(-args.steps // 5) * 5
    for i in range(args.warmup):
        gan.train_on_instance(x, y, iter=i + 1)
    times = []
    for i in range(args.warmup, args.warmup + steps):
        start = time.perf_counter()
        gan.train_on_instance(x, y, iter=i + 1)
        times.append(time.perf_counter() - start)
    print(f"samples_per_s={args.batch_size * steps / sum(times):.1f} ms_per_step_median={1000 * np.median(times):.1f} "
          f"torch={torch.__version__} threads={args.threads}")


if __name__ == "__main__":
    main()
