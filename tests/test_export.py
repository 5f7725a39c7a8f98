"""Export for TF Serving: a short digits run exported by the CLI, then checked in a fresh process
that cannot import amr_tf; saved_model_cli; warm-up records; version numbering; bad input."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import CLI_ENV, ROOT, cli_env, run

# The exported graph must compute what the networks compute, on every CPU kernel path: the
# tests that run the exported or restored networks are numerics tests. The ones that read
# files or refuse input (digests, layouts, bad flags) run the same code on any kernels.
SIGNATURES = {"serving_default", "encode", "reconstruct", "interpolate", "mix"}
SAVED_MODEL_CLI = str(Path(sys.executable).parent / "saved_model_cli")

# Runs in a fresh interpreter from a folder outside the repository, with amr_tf and trainers
# made unimportable: the SavedModel must load without the code that wrote it.
FRESH_CHECKS = textwrap.dedent("""
    import importlib.abc, json, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("amr_tf", "trainers"):
                raise ImportError("the exported model must load without " + name)

    sys.meta_path.insert(0, Refuse())
    import numpy as np
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = sys.argv[1]
    m = tf.saved_model.load(path)
    sig = m.signatures
    out = {"signatures": sorted(sig.keys())}
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (5, 32, 32, 1)).astype("float32"))

    code = sig["encode"](image=x)["code"]
    image = sig["serving_default"](code=code)["image"]
    recon = sig["reconstruct"](image=x)["image"]
    out["code_shape"] = code.shape.as_list()
    out["image_shape"] = image.shape.as_list()
    out["recon_minus_decode_encode"] = float(tf.reduce_max(tf.abs(recon - image)))
    out["image_range"] = [float(tf.reduce_min(image)), float(tf.reduce_max(image))]

    strip = sig["interpolate"](image_a=x[:1], image_b=x[1:2], steps=tf.constant(7))["images"]
    out["strip_shape"] = strip.shape.as_list()
    out["strip_ends_minus_recon"] = [float(tf.reduce_max(tf.abs(strip[0] - recon[0]))),
                                     float(tf.reduce_max(tf.abs(strip[-1] - recon[1])))]
    out["strip_middle_minus_recon"] = float(tf.reduce_max(tf.abs(strip[3] - recon[0])))

    codes = tf.stack([code[:4], code[1:]], axis=1)  # [4, 2, ...]: example b mixed with b + 1
    weights = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.25, 0.75]])
    mixed = sig["mix"](codes=codes, weights=weights)["image"]
    by_hand = sig["serving_default"](code=0.25 * code[3:4] + 0.75 * code[4:5])["image"]
    out["mix_shape"] = mixed.shape.as_list()
    out["mix_minus_expected"] = [float(tf.reduce_max(tf.abs(mixed[0] - image[0]))),
                                 float(tf.reduce_max(tf.abs(mixed[1] - image[2]))),
                                 float(tf.reduce_max(tf.abs(mixed[3] - by_hand[0])))]

    # Each wrong input must meet the signature's own check: one InvalidArgumentError whose
    # message names the input and what it must be, whatever kernels this CPU's TensorFlow uses.
    nan, inf = float("nan"), float("inf")
    ok_code = code[:1]
    bad_calls = {
        "encode: image must be float32 [B, 32, 32, 1]": [
            lambda: sig["encode"](image=tf.zeros([1, 28, 28, 1])),
            lambda: sig["encode"](image=tf.zeros([1, 32, 32, 3])),
            lambda: sig["encode"](image=tf.zeros([32, 32, 1])),
            lambda: sig["encode"](image=tf.zeros([1, 1, 32, 32, 1]))],
        "expected to be a float tensor but is a double tensor": [
            lambda: sig["encode"](image=tf.zeros([1, 32, 32, 1], tf.float64))],
        "encode: image must be finite": [lambda: sig["encode"](image=tf.fill([1, 32, 32, 1], nan))],
        "reconstruct: image must be float32 [B, 32, 32, 1]": [
            lambda: sig["reconstruct"](image=tf.zeros([2, 32, 32, 3]))],
        "reconstruct: image must be finite": [
            lambda: sig["reconstruct"](image=tf.tensor_scatter_nd_update(x, [[0, 3, 3, 0]], [inf]))],
        "serving_default: code must be float32 [B, 4, 4, 2]": [
            lambda: sig["serving_default"](code=tf.zeros([1, 4, 4, 3])),
            lambda: sig["serving_default"](code=tf.zeros([4, 4, 2]))],
        "serving_default: code must be finite": [lambda: sig["serving_default"](code=ok_code * nan)],
        "interpolate: image_a must be float32 [1, 32, 32, 1]": [
            lambda: sig["interpolate"](image_a=x[:2], image_b=x[:1], steps=tf.constant(3))],
        "interpolate: image_b must be float32 [1, 32, 32, 1]": [
            lambda: sig["interpolate"](image_a=x[:1], image_b=tf.zeros([1, 32, 32, 3]), steps=tf.constant(3))],
        "interpolate: image_b must be finite": [
            lambda: sig["interpolate"](image_a=x[:1], image_b=x[1:2] * inf, steps=tf.constant(3))],
        "interpolate: steps must be an int32 scalar": [
            lambda: sig["interpolate"](image_a=x[:1], image_b=x[1:2], steps=tf.constant([3, 3]))],
        "interpolate: steps must be >= 2": [
            lambda: sig["interpolate"](image_a=x[:1], image_b=x[1:2], steps=tf.constant(1))],
        "interpolate: steps must be <= 1024": [
            lambda: sig["interpolate"](image_a=x[:1], image_b=x[1:2], steps=tf.constant(1025))],
        "mix: codes must be float32 [B, k, 4, 4, 2]": [
            lambda: sig["mix"](codes=tf.zeros([4, 2, 4, 4, 3]), weights=tf.ones([4, 2])),
            lambda: sig["mix"](codes=code[:4], weights=tf.ones([4, 2]))],
        "mix: weights must be [B, k] for codes [B, k, ...]": [
            lambda: sig["mix"](codes=codes, weights=tf.ones([4, 3]))],
        "mix: weights must be float32 [B, k]": [lambda: sig["mix"](codes=codes, weights=tf.ones([4, 2, 1]))],
        "mix: k must be >= 1": [lambda: sig["mix"](codes=codes[:, :0], weights=tf.ones([4, 0]))],
        "mix: weights must be finite": [lambda: sig["mix"](codes=codes, weights=weights * inf)],
        "mix: codes must be finite": [lambda: sig["mix"](codes=codes * nan, weights=weights)],
        # a batch of 0 is refused by name, not by a layer in a kernel's words
        "encode: image must be float32 [B, 32, 32, 1] with B >= 1": [
            lambda: sig["encode"](image=tf.zeros([0, 32, 32, 1]))],
        "reconstruct: image must be float32 [B, 32, 32, 1] with B >= 1": [
            lambda: sig["reconstruct"](image=tf.zeros([0, 32, 32, 1]))],
        "serving_default: code must be float32 [B, 4, 4, 2] with B >= 1": [
            lambda: sig["serving_default"](code=code[:0])],
        "with B >= 1": [lambda: sig["mix"](codes=codes[:0], weights=weights[:0])],  # codes' or weights' check
    }
    refused = {}
    for expected, calls in bad_calls.items():
        for i, call in enumerate(calls):
            try:
                call()
                refused[f"{expected} #{i}"] = "accepted"
            except tf.errors.InvalidArgumentError as e:
                refused[f"{expected} #{i}"] = True if expected in e.message else e.message[-400:]
    out["refused"] = refused

    # Finite inputs so large that the networks overflow still give finite images in [-1, 1].
    big = 3e38
    huge = {
        "serving_default": lambda: sig["serving_default"](code=tf.fill(ok_code.shape, big))["image"],
        "reconstruct": lambda: sig["reconstruct"](image=tf.fill([1, 32, 32, 1], -big))["image"],
        "interpolate": lambda: sig["interpolate"](image_a=tf.fill([1, 32, 32, 1], big), image_b=x[1:2],
                                                  steps=tf.constant(3))["images"],
        "mix": lambda: sig["mix"](codes=codes[:1], weights=tf.fill([1, 2], big))["image"],
    }
    out["huge_inputs"] = {}
    for name, call in huge.items():
        y = call()
        out["huge_inputs"][name] = bool(tf.reduce_all(tf.math.is_finite(y))) and float(tf.reduce_max(tf.abs(y))) <= 1

    warm = []
    for record in tf.data.TFRecordDataset(path + "/assets.extra/tf_serving_warmup_requests"):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        outputs = sig[request.model_spec.signature_name](**inputs)
        warm.append([request.model_spec.signature_name, sorted(inputs), sorted(outputs)])
    out["warmup"] = warm
    out["amr_tf_imported"] = any(n.split(".")[0] in ("amr_tf", "trainers") for n in sys.modules)
    print("RESULT " + json.dumps(out))
""")


def export_cmd(*flags):
    return [sys.executable, "-m", "amr_tf.export", *flags]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A one-epoch digits run (about 10 s)."""
    from amr_tf.config import Config
    from trainers import run as runs

    path = tmp_path_factory.mktemp("export") / "digits_run"
    runs.fit(Config(dataset="digits", batch_size=16, steps_per_epoch=2, epochs=1), path, verbose=0)
    return path


@pytest.fixture(scope="module")
def exported(run_dir):
    """The CLI's export of `run_dir` with default name and version."""
    export_dir = run_dir.parent / "saved_models"
    result = run(export_cmd(f"--run_dir={run_dir}", f"--export_dir={export_dir}"))
    assert result.returncode == 0, result.stderr[-3000:]
    path = export_dir / "digits_run" / "1"
    assert f"exported={path}" in result.stdout
    return path


@pytest.fixture(scope="module")
def fresh(exported, tmp_path_factory):
    """What the fresh-process checks saw (run from outside the repository)."""
    cwd = tmp_path_factory.mktemp("fresh")
    env = cli_env(PYTHONPATH=None)
    result = subprocess.run([sys.executable, "-c", FRESH_CHECKS, str(exported)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.mark.numerics
def test_export_writes_tf_serving_layout(exported):
    assert (exported / "saved_model.pb").is_file()
    assert list((exported / "variables").glob("variables.data-*"))
    assert (exported / "assets.extra" / "tf_serving_warmup_requests").stat().st_size > 1000
    meta = json.loads((exported / "assets.extra" / "export.json").read_text())
    assert (meta["checkpoint"], meta["epoch"]) == ("best", 1)
    assert (meta["image_shape"], meta["code_shape"]) == ([32, 32, 1], [4, 4, 2])
    assert not [p.name for p in exported.parent.iterdir() if p.name != "1"], "left-over temporary folders"


@pytest.mark.numerics
def test_fresh_process_loads_every_signature_without_amr_tf(fresh):
    assert set(fresh["signatures"]) == SIGNATURES
    assert fresh["amr_tf_imported"] is False
    assert fresh["code_shape"] == [5, 4, 4, 2]
    assert fresh["image_shape"] == [5, 32, 32, 1]
    assert -1.0 <= fresh["image_range"][0] <= fresh["image_range"][1] <= 1.0
    assert fresh["recon_minus_decode_encode"] < 1e-5


@pytest.mark.numerics
def test_interpolation_ends_are_the_reconstructions(fresh):
    assert fresh["strip_shape"] == [7, 32, 32, 1]
    assert max(fresh["strip_ends_minus_recon"]) < 1e-5
    assert fresh["strip_middle_minus_recon"] > 1e-4  # the middle is a mix, not a copy of a


@pytest.mark.numerics
def test_mix_is_the_weighted_sum_of_codes(fresh):
    assert fresh["mix_shape"] == [4, 32, 32, 1]
    assert max(fresh["mix_minus_expected"]) < 1e-5


@pytest.mark.numerics
def test_huge_finite_inputs_give_finite_images(fresh):
    assert fresh["huge_inputs"] == {name: True for name in ("serving_default", "reconstruct", "interpolate", "mix")}


@pytest.mark.numerics
def test_wrong_shapes_dtypes_ranges_and_non_finite_inputs_are_refused_by_the_signature(fresh):
    assert len(fresh["refused"]) == 28
    wrong = {case: got for case, got in fresh["refused"].items() if got is not True}
    assert not wrong, wrong


@pytest.mark.numerics
def test_warmup_requests_name_every_signature_and_run(fresh):
    names = {name for name, _, _ in fresh["warmup"]}
    assert names == SIGNATURES
    expected = {"serving_default": (["code"], ["image"]), "encode": (["image"], ["code"]),
                "reconstruct": (["image"], ["image"]), "mix": (["codes", "weights"], ["image"]),
                "interpolate": (["image_a", "image_b", "steps"], ["images"])}
    for name, inputs, outputs in fresh["warmup"]:
        assert (inputs, outputs) == expected[name], name


@pytest.mark.numerics
def test_saved_model_cli_shows_and_runs_the_signatures(exported, tmp_path):
    shown = run([SAVED_MODEL_CLI, "show", "--all", "--dir", str(exported)])
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in SIGNATURES:
        assert f"signature_def['{name}']" in shown.stdout, name
    for key in ("inputs['code']", "outputs['image']", "inputs['image_a']", "inputs['steps']",
                "outputs['images']", "inputs['weights']", "outputs['code']"):
        assert key in shown.stdout, key
    np.save(tmp_path / "code.npy", np.ones((3, 4, 4, 2), np.float32))
    ran = run([SAVED_MODEL_CLI, "run", "--dir", str(exported), "--tag_set", "serve",
               "--signature_def", "serving_default", "--inputs", f"code={tmp_path / 'code.npy'}",
               "--outdir", str(tmp_path), "--overwrite"])
    assert ran.returncode == 0, ran.stderr[-2000:]
    image = np.load(tmp_path / "image.npy")
    assert image.shape == (3, 32, 32, 1) and np.all(np.abs(image) <= 1.0)


@pytest.mark.numerics
def test_versions_count_up_and_never_overwrite(run_dir, tmp_path):
    import keras
    import tensorflow as tf

    from amr_tf import networks  # noqa: F401  (registers the classes the .keras files name)
    from amr_tf.checkpoint import load_networks
    from amr_tf.serving import export_run

    # The numbering is shared by both formats; the keras one is the quicker to write.
    export_dir = tmp_path / "models"
    first = export_run(run_dir, export_dir, model_name="m", checkpoint="last", format="keras")
    stamp = (Path(first) / "decoder.keras").stat().st_mtime_ns
    assert export_run(run_dir, export_dir, model_name="m", version=5, format="keras") == str(export_dir / "m" / "5")
    assert export_run(run_dir, export_dir, model_name="m", format="keras") == str(export_dir / "m" / "6")
    with pytest.raises(ValueError, match="already exists"):
        export_run(run_dir, export_dir, model_name="m", version=1)
    assert sorted(p.name for p in (export_dir / "m").iterdir()) == ["1", "5", "6"]
    assert (Path(first) / "decoder.keras").stat().st_mtime_ns == stamp
    # The demo's re-run keeps the newest version when it holds the same checkpoint.
    again = export_run(run_dir, export_dir, model_name="m", format="keras", reuse_same=True)
    assert again == str(export_dir / "m" / "6")

    decoder = keras.saving.load_model(Path(first) / "decoder.keras")
    _, nets, _ = load_networks(run_dir, "last")
    h = tf.random.normal([2, 4, 4, 2], seed=1)
    np.testing.assert_allclose(decoder(h).numpy(), nets.decoder(h).numpy(), atol=1e-6)


def test_checkpoint_sha256_recognises_the_same_checkpoint_and_no_other(run_dir, tmp_path):
    """export.json's checkpoint_sha256 covers the checkpoint's files (its index, then its data):
    the same files give the same digest (whatever the prefix is called), one changed byte another."""
    import shutil

    from amr_tf import checkpoint
    from amr_tf.serving import export_run
    from amr_tf.serving.export import _sha256

    best = checkpoint.best_path(run_dir / "checkpoints")
    names = [p.name for p in checkpoint.files(best)]
    assert names == ["best-0001.index", "best-0001.data-00000-of-00001"]
    digest = _sha256(checkpoint.files(best))
    version = Path(export_run(run_dir, tmp_path / "models", model_name="h", format="keras"))
    assert json.loads((version / "export.json").read_text())["checkpoint_sha256"] == digest
    for changed in (None, 0, 1):  # none, the index, the data file
        copy = tmp_path / f"copy{changed}"
        copy.mkdir()
        for path in checkpoint.files(best):
            shutil.copy(path, copy / path.name.replace("best-0001", "best-0007"))
        files = checkpoint.files(copy / "best-0007")
        if changed is not None:
            raw = bytearray(files[changed].read_bytes())
            raw[len(raw) // 2] ^= 1
            files[changed].write_bytes(bytes(raw))
        assert (_sha256(files) == digest) == (changed is None), changed


def test_keras_format_lives_apart_from_tf_serving_versions(run_dir, tmp_path):
    from amr_tf.serving import export_run

    path = Path(export_run(run_dir, tmp_path, format="keras"))
    assert path == tmp_path / "digits_run-keras" / "1"
    assert sorted(p.name for p in path.iterdir()) == ["decoder.keras", "encoder.keras", "export.json"]


def test_bad_input_is_one_line_and_writes_nothing(run_dir, exported, tmp_path):
    no_ckpt = tmp_path / "no_checkpoints"
    no_ckpt.mkdir()
    (no_ckpt / "config.json").write_text((run_dir / "config.json").read_text())
    export_dir = tmp_path / "models"
    stamp = (exported / "saved_model.pb").stat().st_mtime_ns
    cases = {
        "does not exist": [f"--run_dir={tmp_path / 'missing'}", f"--export_dir={export_dir}"],
        "no best checkpoint": [f"--run_dir={no_ckpt}", f"--export_dir={export_dir}"],
        "unknown checkpoint 'newest'": [f"--run_dir={run_dir}", "--checkpoint=newest", f"--export_dir={export_dir}"],
        "already exists": [f"--run_dir={run_dir}", f"--export_dir={exported.parents[1]}", "--version=1"],
    }
    procs = {expect: subprocess.Popen(export_cmd(*flags), cwd=ROOT, env=CLI_ENV, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for expect, flags in cases.items()}
    for expect, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 2, (expect, err[-2000:])
        assert len(err.strip().splitlines()) == 1 and expect in err, (expect, err)
        assert "exported=" not in out
    assert not export_dir.exists()
    assert sorted(p.name for p in exported.parent.iterdir()) == ["1"]
    assert (exported / "saved_model.pb").stat().st_mtime_ns == stamp
