"""The paper's data sets through TensorFlow Datasets (TFDS), split as the paper's data protocol splits them.

| name     | TFDS          | image               | splits (train / valid / test)                      |
|----------|---------------|---------------------|----------------------------------------------------|
| mnist    | mnist         | 28 -> 32, bilinear  | train 60k -> 50k / 10k (seeded), official test 10k |
| kmnist   | kmnist        | 28 -> 32, bilinear  | as mnist                                           |
| svhn     | svhn_cropped  | 32x32x3             | train 73,257 -> 90% / 10%, official test 26,032    |
| cifar10  | cifar10       | 32x32x3             | train 50k -> 40k / 10k, official test 10k          |
| dsprites | dsprites      | 64x64x1, binary     | its one split, 737,280 -> 95% / 2.5% / 2.5%        |
| celeba   | celeb_a       | centre 148 -> 64x64 | official train / validation / test                 |

`--data_dir` is passed to TFDS. mnist and kmnist first look for IDX files there (see
`idx`). Without internet a set that is not prepared fails at once with one ValueError
line saying how to prepare it elsewhere. Splits use a permutation with a fixed seed, so
they are the same for every run seed.
"""

import functools
import os
import socket
from typing import Optional

import numpy as np
from absl import logging as absl_logging

from amr_tf import registry as choices
from amr_tf.data import idx, sources

SPLIT_SEED = 0
VALID_FRACTION = {"svhn": 0.1, "cifar10": 0.2}  # 73,257 -> 90/10 %, 50k -> 40k/10k
DSPRITES_HELD_OUT = 0.025  # valid and test each: 18,432 of 737,280
CELEBA_ATTRIBUTES_DEFAULT = "Male,Heavy_Makeup,Wearing_Lipstick"  # the paper's
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)
CELEBA_CROP = 148  # centre square of the 218x178 aligned faces, resized to 64x64
PROBE_HOST = ("storage.googleapis.com", 443)  # TFDS' own mirror: reachable iff downloads can work

# name -> (TFDS name, image shape, classes)
SETS = {
    "mnist": ("mnist", (32, 32, 1), 10),
    "kmnist": ("kmnist", (32, 32, 1), 10),
    "svhn": ("svhn_cropped", (32, 32, 3), 10),
    "cifar10": ("cifar10", (32, 32, 3), 10),
    "dsprites": ("dsprites", (64, 64, 1), 3),
    "celeba": ("celeb_a", (64, 64, 3), None),
}
LABELS = {
    "mnist": "one-hot digit (10)", "kmnist": "one-hot character (10)", "svhn": "one-hot digit (10)",
    "cifar10": "one-hot class (10)", "dsprites": "one-hot shape (3); ground-truth factors via factors()",
}


def offline_message(name: str, tfds_name: str, reason: str = "no internet?") -> str:
    return (
        f"dataset '{name}' (TFDS '{tfds_name}') could not be downloaded ({reason}); prepare it on a machine "
        f"with internet (python -c \"import tensorflow_datasets as tfds; tfds.load('{tfds_name}')\") "
        "and copy the folder here, then pass --data_dir=/path/to/tensorflow_datasets"
    )


def _online(timeout: float = 3.0) -> bool:
    """Whether TFDS can plausibly download (a proxy is trusted; else one short TCP connect)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")):
        return True
    try:
        socket.create_connection(PROBE_HOST, timeout=timeout).close()
        return True
    except OSError:
        return False


def _as_dataset(name: str, split: str, data_dir: Optional[str]):
    """TFDS split `split` as a tf.data.Dataset, downloading only when the internet is there."""
    import tensorflow_datasets as tfds

    tfds_name = SETS[name][0]
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.WARNING)  # its INFO line would break the one-line error
    try:
        return builder.as_dataset(split=split, shuffle_files=False)
    except AssertionError:  # "could not find data in <data_dir>": not prepared there
        pass
    finally:
        absl_logging.set_verbosity(verbosity)
    if not _online():
        raise ValueError(offline_message(name, tfds_name))
    try:
        builder.download_and_prepare()
    except (OSError, ConnectionError) as e:  # requests' errors are OSErrors
        raise ValueError(offline_message(name, tfds_name, f"{type(e).__name__}: {str(e)[:200]}")) from e
    return builder.as_dataset(split=split, shuffle_files=False)


def _read(name, split, data_dir, preprocess, batch=2048):
    """All of a TFDS split as NumPy arrays, through `preprocess(example) -> tuple of tensors`."""
    import tensorflow as tf

    ds = _as_dataset(name, split, data_dir).map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    chunks = [tuple(np.asarray(t) for t in parts) for parts in ds.batch(batch).as_numpy_iterator()]
    if not chunks:
        raise ValueError(f"dataset '{name}': TFDS split '{split}' is empty")
    return tuple(np.concatenate(column) for column in zip(*chunks))


def _classes(name, data_dir):
    """{split: (uint8 images, int labels)} of the class-labelled sets (mnist, kmnist, svhn, cifar10)."""
    if name in ("mnist", "kmnist"):
        directory = idx.idx_directory(name, data_dir)
        if directory is not None:
            return idx.read_mnist_dir(directory), f"IDX files in {directory}"
        raw = [_read(name, s, data_dir, lambda ex: (ex["image"], ex["label"])) for s in ("train", "test")]
        return idx.mnist_splits(*raw), f"TFDS '{SETS[name][0]}' in {data_dir or '~/tensorflow_datasets'}"
    images, labels = _read(name, "train", data_dir, lambda ex: (ex["image"], ex["label"]))
    n = len(images)
    parts = sources.permutation_split(n, {"train": None, "valid": round(n * VALID_FRACTION[name])}, SPLIT_SEED)
    test = _read(name, "test", data_dir, lambda ex: (ex["image"], ex["label"]))
    return ({"train": (images[parts["train"]], labels[parts["train"]]),
             "valid": (images[parts["valid"]], labels[parts["valid"]]),
             "test": test},
            f"TFDS '{SETS[name][0]}' in {data_dir or '~/tensorflow_datasets'}")


def _dsprites(data_dir):
    """{split: (bit-packed images [N, 512], factor classes [N, 5])} of TFDS dsprites."""
    factors = ("label_shape", "label_scale", "label_orientation", "label_x_position", "label_y_position")

    def preprocess(ex):
        import tensorflow as tf

        return ex["image"], tf.stack([tf.cast(ex[f], tf.int32) for f in factors])

    images, classes = _read("dsprites", "train", data_dir, preprocess)
    packed = np.packbits(images.reshape(len(images), -1) > 0, axis=1)  # 8x smaller than uint8
    n = len(images)
    held_out = round(n * DSPRITES_HELD_OUT)
    parts = sources.permutation_split(n, {"train": None, "valid": held_out, "test": held_out}, SPLIT_SEED)
    return ({split: (packed[p], classes[p]) for split, p in parts.items()},
            f"TFDS 'dsprites' in {data_dir or '~/tensorflow_datasets'}")


def celeba_attributes(config) -> tuple:
    """The attribute names of `config.attributes` (default: the paper's three)."""
    text = getattr(config, "attributes", None) or CELEBA_ATTRIBUTES_DEFAULT
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    bad = [a for a in names if a not in CELEBA_ATTRIBUTES]
    if bad or not names:
        raise choices.unknown("CelebA attribute", ",".join(bad) or text, CELEBA_ATTRIBUTES)
    return names


def _celeba(data_dir, attributes):
    def preprocess(ex):
        import tensorflow as tf

        image = tf.image.resize_with_crop_or_pad(ex["image"], CELEBA_CROP, CELEBA_CROP)
        image = tf.image.resize(tf.cast(image, tf.float32), (64, 64), method="area")
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return image, tf.stack([tf.cast(ex["attributes"][a], tf.float32) for a in attributes])

    splits = {"train": "train", "valid": "validation", "test": "test"}
    return ({split: _read("celeba", tfds_split, data_dir, preprocess) for split, tfds_split in splits.items()},
            f"TFDS 'celeb_a' in {data_dir or '~/tensorflow_datasets'}")


@functools.lru_cache(maxsize=2)
def _splits(name, data_dir, attributes):
    """({split: arrays}, origin) for `name`, read once per process."""
    if name == "dsprites":
        return _dsprites(data_dir)
    if name == "celeba":
        return _celeba(data_dir, attributes)
    return _classes(name, data_dir)


def _load(name, config):
    attributes = celeba_attributes(config) if name == "celeba" else None
    return _splits(name, getattr(config, "data_dir", None), attributes)


def _packed_fetch(packed, classes):
    def fetch(indices):
        bits = np.unpackbits(packed[indices], axis=1).reshape(len(indices), 64, 64, 1)
        return bits.astype(np.float32) * 2.0 - 1.0, np.eye(3, dtype=np.float32)[classes[indices, 0]]

    return fetch


def factors(split: str, config=None) -> np.ndarray:
    """TFDS dsprites: ground-truth factor classes [N, 5] (shape, scale, orientation, posX, posY)."""
    sources.check_split(split)
    return _load("dsprites", config)[0][split][1]


def _register(name):
    tfds_name, shape, n_classes = SETS[name]

    def info(config=None):
        parts, origin = _load(name, config)
        sizes = {split: len(parts[split][0]) for split in sources.SPLITS}
        if name == "celeba":
            attributes = celeba_attributes(config)
            return sources.DataInfo(name, shape, len(attributes), sizes, origin,
                                     labels=f"multi-hot attributes ({','.join(attributes)})")
        return sources.DataInfo(name, shape, n_classes, sizes, origin, labels=LABELS[name])

    def split(split_name, config=None):
        sources.check_split(split_name)
        images, labels = _load(name, config)[0][split_name]
        if name == "dsprites":
            return sources.SplitData(len(images), _packed_fetch(images, labels))
        return sources.array_split(images, labels, n_classes)

    sources.register_source(name, info, split)


for _name in SETS:
    _register(_name)
