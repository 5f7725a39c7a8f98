"""The `fid` metric: Frechet Inception Distance of a run's reconstructions and decoded mixes.

`frechet_distance` is the pure part (numpy, scipy for the "sqrtm" method). The features are
Keras' InceptionV3 with its ImageNet weights, read from disk only: `inception_weights_path`
finds them and `unavailable` says how to get them when they are missing (nothing is
downloaded).
"""

import os
from pathlib import Path

import numpy as np

from amr_tf import registry
from amr_tf.evaluation import codes

NAME = "fid"
OPTIONS = ("fid_examples", "seed", "inception_weights")
SCALARS = ("fid_reconstructions", "fid_mixes")
SKIPPED = "no InceptionV3 weights on disk (--metric=fid says how to get them)"  # the note when "all" leaves it out
INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_FILE)


def why_not(config):
    """None for an image run, else the reason (one line)."""
    if codes.is_points(config):
        return f"needs images; '{config.dataset}' holds 2-D points"
    return None


def inception_weights_path(path=None):
    """Where InceptionV3's no-top ImageNet weights are on disk, or None.

    Args:
        path: an explicit file (returned if it exists); default: Keras' cache, the folder
            `keras.applications` downloads into ($KERAS_HOME, else ~/.keras, else /tmp/.keras;
            subfolder models/).
    """
    if path:
        return Path(path) if Path(path).is_file() else None
    homes = [os.environ["KERAS_HOME"]] if "KERAS_HOME" in os.environ else [
        os.path.join(os.path.expanduser("~"), ".keras"), os.path.join("/tmp", ".keras")]
    for home in homes:
        candidate = Path(home) / "models" / INCEPTION_FILE
        if candidate.is_file():
            return candidate
    return None


def unavailable(inception_weights=None, **_):
    """None if FID can run offline, else a one-line explanation of how to get the weights."""
    path = inception_weights
    if inception_weights_path(path) is not None:
        return None
    where = f"--inception_weights={path} does not exist" if path else (
        f"Keras' cache has no {INCEPTION_FILE} "
        f"({os.path.join(os.environ.get('KERAS_HOME', '~/.keras'), 'models')})")
    return (f"fid needs InceptionV3's ImageNet weights and {where}; this machine cannot download them. "
            f"On a machine with internet run `python -c \"import keras; keras.applications.InceptionV3("
            f"include_top=False, pooling='avg')\"` (or fetch {INCEPTION_URL}) and copy the file into "
            f"~/.keras/models/ here, or pass --inception_weights=PATH")


def frechet_distance(mu1, sigma1, mu2, sigma2, method="eigh", eps=1e-6):
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2) (numpy/scipy):

        ||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^(1/2))

    Args:
        mu1, mu2: means [d].
        sigma1, sigma2: covariances [d, d] (symmetric, positive semi-definite).
        method: "eigh" (default): Tr((sigma1 sigma2)^(1/2)) as the sum of the square roots of
            the eigenvalues of sigma1^(1/2) sigma2 sigma1^(1/2), which has the same eigenvalues
            (symmetric eigendecompositions: about 3x faster than sqrtm for d = 2048, and
            real by construction). "sqrtm": scipy.linalg.sqrtm of the product, as the
            reference FID code (pytorch-fid, TTUR) computes it, with eps added to both
            diagonals when the result is not finite and the imaginary part dropped.

    Returns:
        float (>= 0 up to round-off).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    if method == "eigh":
        w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        inner = root @ sigma2 @ root
        trace_covmean = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None))))
    elif method == "sqrtm":
        from scipy import linalg

        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
        trace_covmean = float(np.trace(covmean).real)
    else:
        raise registry.unknown("method", method, ("eigh", "sqrtm"))
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean)


def inception_features(model, images, batch_size=50):
    """InceptionV3 pool features [n, 2048] of images in [-1, 1] (grey tiled to RGB, resized to 299)."""
    import tensorflow as tf

    feats = []

    @tf.function(reduce_retracing=True)
    def run(x):
        if x.shape[-1] == 1:
            x = tf.tile(x, [1, 1, 1, 3])
        x = tf.image.resize(x, (299, 299), method="bilinear")  # [-1, 1]: InceptionV3's own input range
        return model(x, training=False)

    for i in range(0, len(images), batch_size):
        feats.append(run(tf.constant(images[i:i + batch_size])).numpy().astype(np.float64))
    return np.concatenate(feats)


def evaluate(run_dir, config, nets, *, fid_examples, seed, inception_weights):
    """FID of reconstructions and of decoded random mixes against the same test images.

    Features: keras.applications.InceptionV3(include_top=False, pooling="avg") with the
    ImageNet weights from disk; statistics: mean and covariance of the 2048 features. This is
    Keras' InceptionV3, not the TF-slim graph of the reference FID code, so the numbers rank
    runs measured here but are not comparable with published FIDs.

    Raises:
        ValueError: the weights are not on disk (nothing is downloaded).
    """
    import keras
    import tensorflow as tf

    from amr_tf import mixers

    reason = unavailable(inception_weights)
    if reason:
        raise ValueError(reason)
    weights = inception_weights_path(inception_weights)
    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=str(weights),
                                           input_shape=(299, 299, 3))
    test = codes.split(config, "test")
    x, _, _ = codes.pick(test, fid_examples, np.random.default_rng(seed))
    batch = codes.ENCODE_BATCH
    h = tf.cast(nets.encoder(x, training=False), tf.float32) if len(x) <= batch else tf.concat(
        [tf.cast(nets.encoder(x[i:i + batch], training=False), tf.float32) for i in range(0, len(x), batch)], 0)
    recon = codes.decode_numpy(nets.decoder, h)
    mixer = config.mixer if config.mixes else "mixup"
    k = config.effective_k if config.mixes else 2
    mixed = codes.decode_numpy(nets.decoder, mixers.mix(h, mixer, k, seed=seed).h)

    def stats(images):
        f = inception_features(model, images)
        return f.mean(0), np.cov(f, rowvar=False)

    real = stats(x)
    result = {"fid_reconstructions": frechet_distance(*real, *stats(recon)),
              "fid_mixes": frechet_distance(*real, *stats(mixed)),
              "examples": int(len(x)), "mixer": mixer, "k": k, "weights": str(weights),
              "note": "Keras InceptionV3 features; not comparable with published FIDs"
                      + ("; fewer examples than the 2048 features: the covariance is singular"
                         if len(x) < 2048 else "")}
    result["summary"] = {"fid_reconstructions": result["fid_reconstructions"], "fid_mixes": result["fid_mixes"]}
    return result
