"""Draws `against_original.py`'s part-3 curves (runs in the reference environment, which has matplotlib).

    python benchmarks/plot_budget.py curves.json equal_budget.png

curves.json: {config: {code: {seed: [curve records]}}}, as `equal_budget.plot` writes it.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = (("test_recon_l1", "L1 reconstruction (2,000 test images)"), ("train_d_x", "D loss (mean of its terms)"),
          ("test_probe_acc", "online probe accuracy (2,000 test images)"))


def main(source, target):
    curves = json.load(open(source))
    fig, axes = plt.subplots(len(curves), len(PANELS), figsize=(5 * len(PANELS), 3.6 * len(curves)), squeeze=False)
    colours = {}
    for row, (config, codes) in enumerate(curves.items()):
        for col, (metric, title) in enumerate(PANELS):
            ax = axes[row][col]
            for code, seeds in codes.items():
                colour = colours.setdefault(code, f"C{len(colours)}")
                for i, (seed, records) in enumerate(sorted(seeds.items())):
                    if records:
                        ax.plot([r["step"] for r in records], [r[metric] for r in records], color=colour,
                                alpha=0.8, lw=1.2, label=code if i == 0 else None)
            ax.set_title(f"{config}: {title}", fontsize=9)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:3])
