"""Fashion-MNIST as folders of images, for measuring `--dataset=folder` (RESULTS.md, issue 29):

    .venv/bin/python benchmarks/folder_from_fashion.py --out=/tmp/m29

writes OUT/fm_jpeg (the first 20,000 training images as JPEG) and OUT/fm_png (all 70,000 as
PNG, lossless), one subfolder per class, from Debian's dataset-fashion-mnist.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from amr_tf.data import idx  # noqa: E402

NAMES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/m29")
    args = parser.parse_args()
    files = idx.find_files(idx.DEBIAN_FASHION_MNIST)
    if files is None:
        sys.exit(f"no Fashion-MNIST in {idx.DEBIAN_FASHION_MNIST}: apt-get install dataset-fashion-mnist")
    images = np.concatenate([idx.read_idx(files[s][0]) for s in ("train", "test")])
    labels = np.concatenate([idx.read_idx(files[s][1]) for s in ("train", "test")])
    for name, n, ext in (("fm_jpeg", 20000, ".jpg"), ("fm_png", len(images), ".png")):
        root = Path(args.out) / name
        for c in NAMES:
            os.makedirs(root / c, exist_ok=True)
        for i in range(n):
            Image.fromarray(images[i]).save(root / NAMES[labels[i]] / f"{i:05d}{ext}")
        print(root, n)


if __name__ == "__main__":
    main()
