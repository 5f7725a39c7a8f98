"""`export_run`: a trained run's encoder and decoder as a new version for TF Serving.

Writes `EXPORT_DIR/NAME/VERSION/` (TF Serving's layout: `--model_base_path=EXPORT_DIR/NAME`),
a SavedModel with the signatures serving_default (code -> image), encode, reconstruct,
interpolate and mix (see `amr_tf.serving.archive`), plus warm-up requests in `assets.extra/`.
VERSION defaults to one more than the highest present; an existing version is never
overwritten. `format="keras"` writes `encoder.keras` and `decoder.keras` instead, under
`EXPORT_DIR/NAME-keras/` so that TF Serving never meets them.
"""

import hashlib
import json
from pathlib import Path

from amr_tf import registry, rundir
from amr_tf.serving import archive


def check_request(run_dir, model_name=None, version=None, checkpoint="best", format="saved_model"):
    """Raises ValueError (one line) for a request that cannot be right; cheap, reads no checkpoint."""
    if not run_dir:
        raise ValueError("--run_dir is required (a run directory written by amr_tf.train)")
    if checkpoint not in rundir.CHECKPOINTS:
        raise registry.unknown("checkpoint", checkpoint, rundir.CHECKPOINTS)
    if format not in archive.FORMATS:
        raise registry.unknown("format", format, archive.FORMATS)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise ValueError(f"version must be an integer >= 1, got {version!r}")
    if model_name is not None:
        rundir.check_folder_name("model name", model_name)
    if not Path(run_dir).is_dir():
        raise ValueError(f"run directory {run_dir} does not exist")


def export_run(run_dir, export_dir="saved_models", model_name=None, version=None, checkpoint="best",
               format="saved_model", reuse_same=False):
    """Exports a run's encoder and decoder (not its trainer) to `export_dir/model_name/version/`.

    Args:
        run_dir: a run directory written by `trainers.run.fit`.
        export_dir: the export root.
        model_name: default: the run directory's name (+ "-keras" for the keras format).
        version: a new version number; default one more than the highest present.
        checkpoint: "best" (best valid probe accuracy) or "last" (newest epoch).
        format: "saved_model" (TF Serving) or "keras".
        reuse_same: if the newest version holds this very checkpoint file, return it instead
            of writing a copy (`make demo` re-runs).

    Returns:
        The path of the version directory.

    Raises:
        ValueError: bad input, a run without that checkpoint, or an existing `version`;
            nothing is written then.

    Example:
        >>> export_run("runs/demo", "saved_models")  # doctest: +SKIP
        'saved_models/demo/1'
    """
    from amr_tf import checkpoint as checkpoints
    from amr_tf import data

    check_request(run_dir, model_name, version, checkpoint, format)
    run_dir = Path(run_dir).resolve()
    name = model_name or rundir.check_folder_name(
        "model name", run_dir.name + ("-keras" if format == "keras" else ""),
        " (the run directory's name: give one with --model_name)")
    model_dir = Path(export_dir) / name
    present = archive.versions(model_dir)
    if version in present:  # refused before the (slow) checkpoint read; write_version checks again
        raise ValueError(f"{model_dir / str(version)} already exists; versions are never overwritten "
                         "(choose another --version, or omit it for the next one)")
    # One checkpoint, hashed and then read: a run still training may write a newer one meanwhile.
    ckpt = checkpoints.find(run_dir, checkpoint)
    digest = _sha256(checkpoints.files(ckpt))
    config, nets, meta = checkpoints.load_networks(run_dir, checkpoint, path=ckpt)
    source = {"run_dir": str(run_dir), "checkpoint": checkpoint, "epoch": int(meta["epoch"]),
              "checkpoint_sha256": digest, "format": format}
    if reuse_same and version is None and present:
        newest = model_dir / str(present[-1])
        old = archive.read_metadata(newest) or {}
        if all(old.get(key) == value for key, value in source.items()):
            return str(newest)
    image_shape = data.info(config.dataset, config).image_shape
    metadata = {"model_name": name, **source, "config": json.loads(config.to_json())}
    return archive.write_version(nets.encoder, nets.decoder, image_shape, model_dir, version, format, metadata)


def _sha256(paths):
    """One digest of a checkpoint's files (its index, then its data files): each file's name
    suffix and size, then its bytes, so that no two different checkpoints concatenate alike."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(f"{path.name.split('.', 1)[-1]}\0{path.stat().st_size}\0".encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
