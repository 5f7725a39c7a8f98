"""Latency and throughput of an exported SavedModel's signatures (`python -m amr_tf.serving_bench`).

The model is loaded with `tf.saved_model.load`, the way a server would: it needs no amr_tf code.
Each signature is timed per batch size: the first call (cold), then latency p50/p99 over many
calls and throughput in images per second. Inputs are random (the decoder's cost does not
depend on them).
"""

import time
from pathlib import Path

import numpy as np
import tensorflow as tf


def resolve(model_dir):
    """The SavedModel folder: `model_dir` itself, or its highest numeric version."""
    path = Path(model_dir)
    if (path / "saved_model.pb").is_file():
        return path
    found = sorted((int(p.name), p) for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file())
    if not found:
        raise ValueError(f"{model_dir} holds no SavedModel (no saved_model.pb, no numeric version folder with one)")
    return found[-1][1]


def steps_for(batch):
    """interpolate's steps for a batch size: a strip has at least its two ends."""
    return max(batch, 2)


def make_inputs(signature, batch, rng):
    """Random inputs for `signature` with `batch` images out."""
    specs = signature.structured_input_signature[1]
    if "steps" in specs:  # interpolate
        shape = specs["image_a"].shape.as_list()
        pair = [tf.constant(rng.uniform(-1, 1, shape).astype(np.float32)) for _ in range(2)]
        return {"image_a": pair[0], "image_b": pair[1], "steps": tf.constant(steps_for(batch), tf.int32)}
    name, spec = next(iter(specs.items()))
    shape = [batch] + spec.shape.as_list()[1:]
    return {name: tf.constant(rng.normal(size=shape).astype(np.float32))}


def time_signature(fn, inputs, iters, warmup):
    """(cold first call, sorted latencies) in seconds; each call waits for its result on the host."""
    start = time.perf_counter()
    [out.numpy() for out in fn(**inputs).values()]
    cold = time.perf_counter() - start
    for _ in range(warmup):
        [out.numpy() for out in fn(**inputs).values()]
    latencies = []
    for _ in range(iters):
        start = time.perf_counter()
        [out.numpy() for out in fn(**inputs).values()]
        latencies.append(time.perf_counter() - start)
    return cold, np.sort(latencies)


def bench(model_dir, batches=(1, 64), signatures=("serving_default", "interpolate"), iters=200, warmup=10):
    """Loads `model_dir` and times each signature and batch; returns a list of result dicts."""
    path = resolve(model_dir)
    start = time.perf_counter()
    model = tf.saved_model.load(str(path))
    load_s = time.perf_counter() - start
    unknown = sorted(set(signatures) - set(model.signatures))
    if unknown:
        raise ValueError(f"{path} has no signature {unknown}; it has {sorted(model.signatures)}")
    rng = np.random.default_rng(0)
    results = []
    for name in signatures:
        for batch in batches:
            cold, lat = time_signature(model.signatures[name], make_inputs(model.signatures[name], batch, rng),
                                       iters, warmup)
            images = steps_for(batch) if name == "interpolate" else batch
            results.append({"signature": name, "batch": batch, "images": images, "load_s": load_s,
                            "cold_ms": 1e3 * cold, "p50_ms": 1e3 * np.percentile(lat, 50),
                            "p99_ms": 1e3 * np.percentile(lat, 99), "images_per_s": images * len(lat) / lat.sum()})
    return path, results
