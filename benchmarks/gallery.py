"""Draws docs/figures/: analogues of the paper's Figures 5, 6, 10 and 12 from the runs that
RESULTS.md's tables come from.

    python benchmarks/gallery.py --runs=runs/results --out=docs/figures

`--runs` holds what `python -m amr_tf.reproduce --table=fashion|spiral --out_dir=RUNS` trained, and
the class-mixer runs in RUNS/class_mixer/<data set> (`python -m amr_tf.train --cls=1 ...`). Each
figure is drawn by `python -m amr_tf.evaluate --metric=interpolations` on seed 0 of a run (the
command is in its caption); where a figure shows several runs (Fig. 10's AE+GAN and AMR, Fig. 12's
betas) their pictures are put side by side here, each under its title. docs/figures/README.md gets
a caption per figure, its command and the runs' "measured at commit" line. A figure whose runs are
missing is left out and named.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from amr_tf import provenance  # noqa: E402

FASHION = "fashion/fashion_mnist"
SPIRAL = "spiral/spiral"
TITLE = 18  # pixels of the title bar above each panel
LIMIT = 200_000  # bytes: what a committed PNG may weigh


def evaluate(run_dir, compare=(), checkpoint="best"):
    """Runs `amr_tf.evaluate --metric=interpolations` on `run_dir`'s `checkpoint` (the one its table
    scores: the best probe for Fashion-MNIST, the last epoch for the spiral and the class mixer);
    the command as a user types it."""
    args = [f"--run_dir={run_dir}", "--metric=interpolations"]
    if checkpoint != "best":
        args.append(f"--checkpoint={checkpoint}")
    if compare:
        args.append("--compare=" + ",".join(str(c) for c in compare))
    result = subprocess.run([sys.executable, "-m", "amr_tf.evaluate", *args], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [x for x in result.stderr.splitlines() if x.strip()] or [f"exit {result.returncode}"]
        raise SystemExit(f"gallery: `python -m amr_tf.evaluate {' '.join(args)}` failed: {lines[-1]}")
    return "python -m amr_tf.evaluate " + " ".join(args)


def titled(path, title):
    """The PNG at `path` (RGB) under a white bar holding `title`."""
    picture = Image.open(path).convert("RGB")
    canvas = Image.new("RGB", (picture.width, picture.height + TITLE), (255, 255, 255))
    canvas.paste(picture, (0, TITLE))
    ImageDraw.Draw(canvas).text((4, 3), title, fill=(0, 0, 0))
    return canvas


def side_by_side(panels, gap=8, vertical=False):
    """One RGB image of `panels`, left to right (or top to bottom), on white."""
    if vertical:
        size = (max(p.width for p in panels), sum(p.height for p in panels) + gap * (len(panels) - 1))
    else:
        size = (sum(p.width for p in panels) + gap * (len(panels) - 1), max(p.height for p in panels))
    canvas = Image.new("RGB", size, (255, 255, 255))
    offset = 0
    for p in panels:
        canvas.paste(p, (0, offset) if vertical else (offset, 0))
        offset += (p.height if vertical else p.width) + gap
    return canvas


def save(picture, path):
    """Saves an optimised PNG: greyscale when every pixel is grey, and a palette of as many
    colours (256 down to 16) as keeps it under LIMIT."""
    r, g, b = picture.split()
    if r.tobytes() == g.tobytes() == b.tobytes():
        picture = picture.convert("L")
    picture.save(path, optimize=True)
    colours = 256
    while path.stat().st_size > LIMIT and colours >= 16:
        picture.quantize(colours).save(path, optimize=True)
        colours //= 2
    return path.stat().st_size


def figure_dir(run_dir):
    return Path(run_dir) / "eval" / "figures"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="the reproduce --out_dir of the fashion and spiral tables")
    parser.add_argument("--out", default="docs/figures", help="where the PNGs and README.md go")
    args = parser.parse_args(argv)
    runs, out = Path(args.runs), Path(args.out)
    if not runs.is_dir():
        parser.error(f"--runs={runs}: no such folder")
    out.mkdir(parents=True, exist_ok=True)
    entries, missing = [], []

    def run(rel):
        path = runs / rel
        if not (path / "config.json").exists():
            missing.append(rel)
            return None
        return path

    def add(name, picture, title, caption, commands, run_dirs):
        size = save(picture, out / name)
        entries.append((name, title, caption, commands, provenance.stamp(run_dirs), size))
        print(f"{out / name}: {size / 1000:.0f} KB")

    # Fig. 6/7: pixel fades, AE+GAN, AMR mixup k=2 and k=3, ACAI between the same test pairs.
    rows = [run(f"{FASHION}/{m}/s0") for m in ("ae_gan", "amr_mixup_k2", "amr_mixup_k3", "acai")]
    if all(rows):
        command = evaluate(rows[0], rows[1:])
        add("fashion_pairs.png", Image.open(figure_dir(rows[0]) / "pairs.png").convert("RGB"),
            "Interpolations on Fashion-MNIST (Figs. 6 and 7)",
            "Five test pairs; per pair, top to bottom: pixel space, AE+GAN, AMR mixup k=2, AMR mixup k=3, ACAI. "
            "The end columns are the two test images; the columns between decode a f(x1) + (1 - a) f(x2), "
            "a from 1 to 0.",
            [command], rows)

    # Fig. 10: Bernoulli mixup between the same pairs, AE+GAN above AMR (trained with Bernoulli mixup).
    pair = [run(f"{FASHION}/ae_gan/s0"), run(f"{FASHION}/amr_bernoulli_k2/s0")]
    if all(pair):
        commands = [evaluate(r) for r in pair]
        picture = side_by_side([titled(figure_dir(pair[0]) / "bernoulli.png", "AE+GAN"),
                                titled(figure_dir(pair[1]) / "bernoulli.png", "AMR, Bernoulli mixup k=2")],
                               vertical=True)
        add("fashion_bernoulli.png", picture, "Bernoulli mixes on Fashion-MNIST (Fig. 10)",
            "Per pair: the mixup strip, then Bernoulli mixes taking a growing, nested set of feature maps from "
            "the second image. Top: AE+GAN; bottom: AMR trained with Bernoulli mixup.", commands, pair)

    # k = 2 against k = 3: a 2-way strip, and a 3-way path bending towards a third image.
    k3 = run(f"{FASHION}/amr_mixup_k3/s0")
    if k3:
        command = evaluate(k3)
        add("fashion_k2_vs_k3.png", Image.open(figure_dir(k3) / "k2_vs_k3.png").convert("RGB"),
            "Mixing two against mixing three (AMR mixup k=3, Fig. 6's bottom row)",
            "Per triple: the 2-way strip between the first two images, then a 3-way path between the same two "
            "that bends towards the third (barycentric weights).", [command], [k3])

    # Fig. 5: the supervised class mixer, y_mix = a y1 + (1 - a) y2 decoded through Mix_sup.
    for data in ("fashion_mnist", "digits"):
        cls = run(f"class_mixer/{data}")
        if cls:
            command = evaluate(cls, checkpoint="last")
            add(f"class_mixer_{data}.png", Image.open(figure_dir(cls) / "class_mixer.png").convert("RGB"),
                f"The class mixer on {data} (Fig. 5)",
                "Per pair of different classes: the decoded class mix for y_mix = a y1 + (1 - a) y2, a from 1 "
                "to 0 left to right. `evaluate --metric=class_mixer` scores it with a separate classifier.",
                [command], [cls])

    # Fig. 12: the spiral, AE+GAN and AMR mixup at each consistency weight beta.
    spirals = [("ae_gan", "AE+GAN"), ("amr_mixup_k2", "AMR beta=0"), ("amr_mixup_k2_beta0.1", "AMR beta=0.1"),
               ("amr_mixup_k2_beta10", "AMR beta=10"), ("amr_mixup_k2_beta100", "AMR beta=100")]
    found = [(run(f"{SPIRAL}/{m}/s0"), t) for m, t in spirals]
    found = [(r, t) for r, t in found if r]
    if found:
        commands = [evaluate(r, checkpoint="last") for r, _ in found]
        picture = side_by_side([titled(figure_dir(r) / "spiral.png", t) for r, t in found])
        add("spiral.png", picture, "The spiral at each consistency weight (Fig. 12)",
            "Blue: the valid split's 1,000 points; orange: decoded mixes g(a f(x1) + (1 - a) f(x2)) of random "
            "pairs, a ~ U(0, 1), at the last of 100 epochs. `evaluate --metric=spiral` measures how far they "
            "land from the curve.",
            commands, [r for r, _ in found])

    if not entries:  # the README of an earlier gallery stays
        print(f"gallery: nothing drawn: {runs} holds none of the runs (missing: {', '.join(missing)})",
              file=sys.stderr)
        return 1
    lines = ["# Figures", "",
             "Drawn by `python benchmarks/gallery.py --runs=RUNS --out=docs/figures` from the runs behind "
             "[RESULTS.md](../../RESULTS.md)'s tables (seed 0 of each). Budgets are the tables': Fashion-MNIST "
             "runs trained 2,000 steps, far from the paper's 2,000 epochs, so these show what a short run "
             "learns, not the paper's pictures.", ""]
    for name, title, caption, commands, stamp, _ in entries:
        lines += [f"## {title}", "", f"![{title}]({name})", "", caption, "",
                  *[f"`{c}`" + ("  " if i < len(commands) - 1 else "") for i, c in enumerate(commands)], "",
                  stamp, ""]
    if missing:
        lines += ["Not drawn (runs missing): " + ", ".join(f"`{m}`" for m in missing), ""]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"{out / 'README.md'}: {len(entries)} figures" + (f"; missing runs: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
