"""SavedModels for TF Serving: a run's encoder f and decoder g behind five named signatures.

Signatures (inputs -> outputs; H, W, C the run's image shape, code shape (h, w, F) = f's output):
    serving_default  code [B, h, w, F]                     -> image [B, H, W, C]
    encode           image [B, H, W, C]                    -> code [B, h, w, F]
    reconstruct      image [B, H, W, C]                    -> image   (= g(f(x)))
    interpolate      image_a [1, H, W, C], image_b [1, H, W, C], steps int32 []
                                                           -> images [steps, H, W, C]
    mix              codes [B, k, h, w, F], weights [B, k] -> image [B, H, W, C]

Every image is float32 in [-1, 1]. The training decoder is linear (no output activation), so
served images are clipped to [-1, 1], and they are finite for every finite input (where a huge
input overflows inside the network the image is 0 there); `encode` sees images exactly as
training did. Every input is checked first (`checked`): its shape, a batch of at least one, and
finite values.
The exported graph holds only TensorFlow ops and variables: loading it needs TensorFlow,
not amr_tf (the tests load it in a process where amr_tf cannot be imported).
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging as absl_logging

from amr_tf import mixers, registry

SIGNATURES = ("serving_default", "encode", "reconstruct", "interpolate", "mix")
FORMATS = ("saved_model", "keras")
MAX_STEPS = 1024  # cap on `interpolate`'s steps, so one request cannot ask for unbounded memory
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
WARMUP_BATCHES = (1, 64)
METADATA_FILE = "export.json"


def build_archive(encoder, decoder, image_shape):
    """An `ExportArchive` holding f and g and the five signatures of the module docstring.

    Args:
        encoder: the run's Encoder (built), images [B, *image_shape] -> codes.
        decoder: the run's Decoder (built), codes -> images (linear output).
        image_shape: (H, W, C).

    Returns:
        A `keras.export.ExportArchive`; `write_out(path)` writes the SavedModel.
    """
    image_shape = tuple(int(d) for d in image_shape)
    code_shape = tuple(int(d) for d in encoder.compute_output_shape((None, *image_shape))[1:])

    def f(x):
        return tf.cast(encoder(x, training=False), tf.float32)

    def g(h):
        # The decoder is linear; a served image must be a valid one, and finite for every finite
        # input: a code so large that the network overflows (inf - inf in a norm is NaN) gives 0
        # where it overflowed, +-inf gives +-1.
        image = tf.cast(decoder(h, training=False), tf.float32)
        return tf.clip_by_value(tf.where(tf.math.is_nan(image), tf.zeros_like(image), image), -1.0, 1.0)

    def decode(code):
        return {"image": g(checked("serving_default", "code", code, (None, *code_shape)))}

    def encode(image):
        return {"code": f(checked("encode", "image", image, (None, *image_shape)))}

    def reconstruct(image):
        return {"image": g(f(checked("reconstruct", "image", image, (None, *image_shape))))}

    def interpolate(image_a, image_b, steps):
        image_a = checked("interpolate", "image_a", image_a, (1, *image_shape))
        image_b = checked("interpolate", "image_b", image_b, (1, *image_shape))
        steps = tf.reshape(checked("interpolate", "steps", steps, ()), [])  # a static scalar from here on
        checks = [
            tf.debugging.assert_greater_equal(steps, 2, message="interpolate: steps must be >= 2"),
            tf.debugging.assert_less_equal(steps, MAX_STEPS, message=f"interpolate: steps must be <= {MAX_STEPS}"),
        ]
        with tf.control_dependencies(checks):
            h = f(tf.concat([image_a, image_b], axis=0))
            # alpha = 1 - i / (steps - 1): exactly 1 at i = 0 and exactly 0 at i = steps - 1.
            i = tf.range(steps, dtype=tf.float32)
            alphas = 1.0 - i / tf.cast(steps - 1, tf.float32)
        return {"images": g(mixers.mixup_fixed(h[0], h[1], alphas))}

    def mix(codes, weights):
        codes = checked("mix", "codes", codes, (None, None, *code_shape))
        weights = checked("mix", "weights", weights, (None, None))
        checks = [
            tf.debugging.assert_equal(tf.shape(weights), tf.shape(codes)[:2],
                                      message="mix: weights must be [B, k] for codes [B, k, ...]"),
            tf.debugging.assert_positive(tf.shape(codes)[1], message="mix: k must be >= 1 (codes [B, k, ...])"),
        ]
        with tf.control_dependencies(checks):
            w = tf.reshape(weights, tf.concat([tf.shape(weights), tf.ones([len(code_shape)], tf.int32)], 0))
        return {"image": g(tf.reduce_sum(w * codes, axis=1))}

    def spec(shape, name, dtype=tf.float32):
        return tf.TensorSpec(shape, dtype, name=name)

    image = spec((None, *image_shape), "image")
    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.track(decoder)
    endpoints = {
        "serving_default": (decode, [spec((None, *code_shape), "code")]),
        "encode": (encode, [image]),
        "reconstruct": (reconstruct, [image]),
        # No spec is fully known: TensorFlow would fold `checked`'s test into a constant of the
        # declared shape at tracing time, while a flat call can still feed another shape. So
        # image_a/image_b declare batch None (checked to be 1) and steps any rank (checked: scalar).
        "interpolate": (interpolate, [spec((None, *image_shape), "image_a"), spec((None, *image_shape), "image_b"),
                                      spec(None, "steps", tf.int32)]),
        "mix": (mix, [spec((None, None, *code_shape), "codes"), spec((None, None), "weights")]),
    }
    for name in SIGNATURES:
        fn, signature = endpoints[name]
        archive.add_endpoint(name, tf.function(fn), input_signature=signature)
    return archive


def _shape_text(shape):
    return "[" + ", ".join("B" if i == 0 and d is None else ("k" if d is None else str(d))
                           for i, d in enumerate(shape)) + "]"


def checked(signature, name, x, shape):
    """`x` once the graph has checked it, before any layer sees it: rank and every known
    dimension of `shape` (None: any size), and, for floats, that every value is finite.

    A wrong input raises one `InvalidArgumentError` naming the signature, the input and the
    expected shape, whichever convolution kernel the CPU would have picked (a wrong channel
    count or rank reaching a convolution fails in a kernel-specific way, or aborts the process).
    """
    actual = tf.shape(x)
    rank = len(shape)
    # The shape padded with -1s, read by position: TensorFlow folds tf.rank or tf.size into a
    # constant of the declared rank at tracing time, while a flat call can feed any rank.
    padded = tf.concat([actual, tf.fill([rank + 1], -1)], axis=0)
    ok = tf.equal(padded[rank], -1)  # no more than `rank` axes
    if rank:
        ok = tf.logical_and(ok, tf.greater_equal(padded[rank - 1], 0))  # and no fewer
    for i, d in enumerate(shape):
        if d is not None:
            ok = tf.logical_and(ok, tf.equal(padded[i], d))
    batched = bool(shape) and shape[0] is None
    if batched:  # a batch of 0 is refused here, by name, not by a layer in its own words
        ok = tf.logical_and(ok, tf.greater_equal(padded[0], 1))
    kind = "an int32 scalar" if x.dtype == tf.int32 and not shape else f"{x.dtype.name} {_shape_text(shape)}"
    kind += " with B >= 1" if batched else ""
    check = tf.debugging.Assert(ok, [f"{signature}: {name} must be {kind}; got shape", actual], summarize=8)
    with tf.control_dependencies([check]):
        x = tf.identity(x)
    if x.dtype.is_floating:
        x = tf.debugging.assert_all_finite(x, f"{signature}: {name} must be finite (no NaN or inf)")
    return x


def warmup_requests(model_name, image_shape, code_shape, seed=0):
    """`PredictionLog` records that call every signature once per warm-up batch size.

    TF Serving replays `assets.extra/tf_serving_warmup_requests` before it marks a version
    available, so graph optimisation and kernel set-up do not land on the first user.

    Returns:
        A list of `tensorflow_serving.apis.prediction_log_pb2.PredictionLog`.
    """
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    rng = np.random.default_rng(seed)

    def images(n):
        return rng.uniform(-1.0, 1.0, (n, *image_shape)).astype(np.float32)

    def codes(*lead):
        return rng.normal(size=(*lead, *code_shape)).astype(np.float32)

    calls = []
    for b in WARMUP_BATCHES:
        calls += [("serving_default", {"code": codes(b)}), ("encode", {"image": images(b)}),
                  ("reconstruct", {"image": images(b)}),
                  ("mix", {"codes": codes(b, 2), "weights": np.full((b, 2), 0.5, np.float32)})]
    for steps in (2, max(WARMUP_BATCHES)):
        calls.append(("interpolate", {"image_a": images(1), "image_b": images(1), "steps": np.int32(steps)}))
    logs = []
    for signature, inputs in calls:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = signature
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(saved_model_dir, model_name, image_shape, code_shape):
    """Writes the warm-up records into `saved_model_dir/assets.extra/`; returns the file's path."""
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in warmup_requests(model_name, image_shape, code_shape):
            writer.write(log.SerializeToString())
    return path


def versions(model_dir):
    """The version numbers present under `model_dir` (TF Serving reads numeric folders only)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def write_version(encoder, decoder, image_shape, model_dir, version=None, format="saved_model", metadata=None):
    """Writes one new version `model_dir/<version>/`, never touching an existing one.

    Args:
        encoder, decoder: the networks to export (built).
        image_shape: (H, W, C).
        model_dir: TF Serving's `--model_base_path` (created if missing).
        version: the version number; default one more than the highest present.
        format: "saved_model" (the five signatures, warm-up records) or "keras"
            (encoder.keras + decoder.keras; loading them needs amr_tf imported).
        metadata: a JSON-able dict stored as `export.json` (in `assets.extra/` for a SavedModel).

    Returns:
        The path of the version directory.

    Raises:
        ValueError: `version` exists already, or an unknown `format`. Nothing is written then.
    """
    if format not in FORMATS:
        raise registry.unknown("format", format, FORMATS)
    model_dir = Path(model_dir)
    if version is not None and version in versions(model_dir):
        raise ValueError(f"{model_dir / str(version)} already exists; versions are never overwritten "
                         "(choose another --version, or omit it for the next one)")
    image_shape = tuple(int(d) for d in image_shape)
    code_shape = tuple(int(d) for d in encoder.compute_output_shape((None, *image_shape))[1:])
    metadata = {**(metadata or {}), "format": format, "image_shape": list(image_shape),
                "code_shape": list(code_shape), "clipped_to": [-1.0, 1.0], "signatures": list(SIGNATURES)}
    model_dir.mkdir(parents=True, exist_ok=True)
    from amr_tf import rundir

    rundir.remove_stale_temps(model_dir)  # folders of exports killed mid-write
    # Written beside the versions under a non-numeric name, then renamed: TF Serving never
    # sees a half-written version, and a failed export leaves nothing behind.
    tmp = Path(tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=model_dir))
    try:
        if format == "saved_model":
            with _warnings_only(), rundir.tensorflow_writes(model_dir):
                build_archive(encoder, decoder, image_shape).write_out(str(tmp), verbose=False)
            write_warmup(str(tmp), model_dir.name, image_shape, code_shape)
            meta_path = tmp / "assets.extra" / METADATA_FILE
        else:
            encoder.save(tmp / "encoder.keras")
            decoder.save(tmp / "decoder.keras")
            meta_path = tmp / METADATA_FILE
        meta_path.write_text(json.dumps(metadata, indent=2) + "\n")
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the version from a server running as another user
        # The number is chosen and taken under the model folder's lock: two exports racing
        # for the next version get two numbers, never one folder.
        with _versions_lock(model_dir):
            number = version if version is not None else max(versions(model_dir), default=0) + 1
            target = model_dir / str(number)
            if target.exists():  # another export took the number meanwhile
                raise ValueError(f"{target} already exists; versions are never overwritten")
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


@contextlib.contextmanager
def _versions_lock(model_dir):
    """An exclusive lock on the model folder itself (flock on its directory descriptor, so no
    file is left beside the versions); waits for the other export."""
    import fcntl

    fd = os.open(model_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _warnings_only():
    """Drops INFO logs meanwhile: writing a SavedModel logs a page of them (via absl and TF)."""
    verbosity, level = absl_logging.get_verbosity(), tf.get_logger().level
    absl_logging.set_verbosity(absl_logging.WARNING)
    tf.get_logger().setLevel("WARNING")
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)
        tf.get_logger().setLevel(level)


def read_metadata(version_dir):
    """The `export.json` of a version written by `write_version` (None if absent or unreadable)."""
    for path in (Path(version_dir) / "assets.extra" / METADATA_FILE, Path(version_dir) / METADATA_FILE):
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError:
                return None
    return None
