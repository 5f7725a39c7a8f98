"""`--dataset=folder`: your own images, on small folders the tests write."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from amr_tf import data
from amr_tf.data import folder
from tests.helpers import tiny_config

MODES = ("RGB", "L", "RGBA", "P")
EXTENSIONS = (".png", ".jpg", ".bmp", ".gif")


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AMR_TF_CACHE", str(tmp_path / "cache"))
    folder.load.cache_clear()
    yield
    folder.load.cache_clear()


def write_folder(root, classes=("cats", "dogs", "owls"), per_class=20, grey=False, seed=0):
    """`per_class` images per class folder (a fifth in a nested subfolder), of mixed sizes, modes and
    formats, each class's images tinted by its channel; returns the root."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        for i in range(per_class):
            w, h = (int(v) for v in rng.integers(12, 70, 2))
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            pixels[..., c % 3] = 255
            mode = "L" if grey else MODES[i % 4]
            ext = EXTENSIONS[i % 4] if mode != "RGBA" else ".png"
            where = root / name / ("nested" if i % 5 == 0 else "")
            where.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).convert(mode).save(where / f"{i}{ext}")
    return root


def config(root, **overrides):
    return tiny_config(dataset="folder", data_dir=str(root), **overrides)


def test_a_labelled_folder_of_mixed_images_is_a_data_set_with_a_fixed_split(tmp_path):
    root = write_folder(tmp_path / "images")
    (root / "owls" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    info = data.info("folder", config(root))
    assert info.image_shape == (32, 32, 3) and info.n_classes == 3
    sizes = info.split_sizes
    assert sum(sizes.values()) == 60 and sizes["valid"] == 3 and sizes["test"] == 3  # broken.jpg skipped
    assert info.fingerprint.startswith("61 files, sha256:")
    source = data.get_source("folder")
    x, y = source.arrays("train", config(root))
    assert x.shape == (54, 32, 32, 3) and x.dtype == np.float32 and -1 <= x.min() and x.max() <= 1
    # each class's tint survives conversion, crop and resize (greyscale-saved images aside)
    for c in range(3):
        tinted = x[y.argmax(1) == c][..., c].mean(axis=(1, 2))
        assert np.median(tinted) > 0.9
    # the same split for every seed
    other = source.arrays("test", config(root, seed=7))
    np.testing.assert_array_equal(other[0], source.arrays("test", config(root))[0])


def test_a_greyscale_folder_has_one_channel_unless_asked(tmp_path):
    root = write_folder(tmp_path / "grey", grey=True)
    assert data.info("folder", config(root)).image_shape == (32, 32, 1)
    assert data.info("folder", config(root, channels=3)).image_shape == (32, 32, 3)
    assert data.info("folder", config(root, image_size=64)).image_shape == (64, 64, 1)


def test_decoding_takes_the_first_frame_and_the_centre_square_and_drops_alpha(tmp_path):
    wide = np.zeros((40, 120, 3), np.uint8)
    wide[:, 40:80] = 255  # the centre square white, the sides black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    np.testing.assert_array_equal(folder.decode(tmp_path / "wide.png", 3, 32), np.full((32, 32, 3), 255, np.uint8))
    clear = np.zeros((8, 8, 4), np.uint8)
    clear[..., :3] = 255  # white, fully transparent: alpha dropped, as Keras' load_img does
    Image.fromarray(clear, "RGBA").save(tmp_path / "clear.png")
    assert folder.decode(tmp_path / "clear.png", 1, 32).min() == 255
    frames = [Image.new("L", (10, 10), v) for v in (200, 50)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert abs(int(folder.decode(tmp_path / "anim.gif", 1, 32).mean()) - 200) <= 2


def test_strict_images_refuses_the_file_that_cannot_be_decoded(tmp_path):
    root = write_folder(tmp_path / "images")
    (root / "dogs" / "truncated.png").write_bytes((root / "dogs" / "1.jpg").read_bytes()[:5])
    with pytest.raises(ValueError, match="truncated.png cannot be decoded .*leave out --strict_images"):
        data.info("folder", config(root, strict_images=True))


def test_beyond_the_memory_budget_the_pixels_go_to_a_cache_file_that_the_next_load_reuses(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "images", per_class=10)
    in_memory = data.get_source("folder").arrays("train", config(root))
    folder.load.cache_clear()
    monkeypatch.setattr(folder, "MEMORY_BUDGET", 1000)
    from_file = data.get_source("folder").arrays("train", config(root))
    np.testing.assert_array_equal(from_file[0], in_memory[0])
    assert len(list((tmp_path / "cache" / "folder").glob("*.npy"))) == 1
    folder.load.cache_clear()
    monkeypatch.setattr(folder, "decode", lambda *a: pytest.fail("decoded again"))
    np.testing.assert_array_equal(data.get_source("folder").arrays("train", config(root))[0], in_memory[0])


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "holds no images"),
    ("undecodable", "none of its 2 image files can be decoded"),
    ("beside", "holds images beside its class folders \\(stray.png\\)"),
    ("empty_class", "the class folder\\(s\\) zebras hold no images"),
    ("few", "leave the valid and test split\\(s\\) empty"),
])
def test_a_folder_that_cannot_be_a_data_set_is_one_line(tmp_path, case, message):
    root = tmp_path / "images"
    if case == "empty":
        root.mkdir()
    elif case == "undecodable":
        (root / "a").mkdir(parents=True)
        for name in ("x.jpg", "y.png"):
            (root / "a" / name).write_bytes(b"garbage")
    elif case in ("beside", "empty_class"):
        write_folder(root, per_class=4)
        if case == "beside":
            Image.new("RGB", (8, 8)).save(root / "stray.png")
        else:
            (root / "zebras").mkdir()
    elif case == "few":
        write_folder(root, classes=("a",), per_class=5)
    with pytest.raises(ValueError, match=message):
        data.info("folder", config(root))


@pytest.mark.parametrize("overrides, message", [
    ({"image_size": 48}, "unknown image_size '48'"),
    ({"channels": 2}, "unknown channels '2'"),
    ({"split": "0.9,0.1"}, "split must be three fractions"),
    ({"labels": "some"}, "unknown labels 'some'"),
    ({"dataset": "digits", "image_size": 64}, "image_size=64 applies to --dataset=folder only"),
])
def test_folder_options_are_checked(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**{"dataset": "folder", "data_dir": str(tmp_path), **overrides})


@pytest.mark.slow
def test_a_folder_run_trains_exports_and_refuses_to_resume_on_changed_images(tmp_path):
    from amr_tf.serving import export_run
    from tests.helpers import run_cli
    from trainers import run

    root = write_folder(tmp_path / "images", per_class=12)
    out = tmp_path / "run"
    cfg = config(root, epochs=1, steps_per_epoch=2)
    run.fit(cfg, out, verbose=0)
    assert "sha256:" in (out / "config.json").read_text()
    exported = export_run(out, tmp_path / "exports")
    import tensorflow as tf

    encode = tf.saved_model.load(str(exported)).signatures["encode"]
    assert encode.structured_input_signature[1]["image"].shape.as_list()[1:] == [32, 32, 3]
    Image.new("RGB", (20, 20)).save(root / "cats" / "new.png")
    folder.load.cache_clear()
    with pytest.raises(ValueError, match="trained on other images: .*36 files, sha256:.* then, 37 files"):
        run.fit(config(root, epochs=2, steps_per_epoch=2), out, verbose=0)
    # the command line: one line, exit 2, nothing written for a folder that cannot be read
    result = run_cli("amr_tf.train", "--dataset=folder", f"--data_dir={tmp_path / 'nowhere'}",
                     f"--out_dir={tmp_path / 'run2'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "does not exist" in result.stderr.strip().splitlines()[-1] and not (tmp_path / "run2").exists()


def test_images_directly_in_the_folder_or_labels_none_have_no_labels(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(30):
        Image.new("RGB", (8, 8), (i, 2 * i, 3 * i)).save(flat / f"{i}.png")
    info = data.info("folder", config(flat))
    assert info.n_classes == 0 and info.labels.startswith("none")
    x, y = data.get_source("folder").arrays("train", config(flat))
    n = info.split_sizes["train"]
    assert n == 30 - 2 * round(30 * 0.05) and x.shape == (n, 32, 32, 3) and y.shape == (n, 0)
    labelled = write_folder(tmp_path / "labelled", per_class=4)
    Image.new("RGB", (8, 8)).save(labelled / "stray.png")  # beside the class folders: fine without labels
    assert data.info("folder", config(labelled, labels="none")).n_classes == 0
    with pytest.raises(ValueError, match="--cls=1 needs labels"):
        from trainers.build import build_trainer

        build_trainer(config(flat, cls=1.0), info)


@pytest.mark.slow
def test_an_unlabelled_run_trains_without_a_probe_keeps_the_lowest_val_recon_and_exports(tmp_path):
    import csv
    import json

    from amr_tf import checkpoint, evaluation
    from amr_tf.serving import export_run
    from trainers import run

    flat = tmp_path / "flat"
    flat.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(flat / f"{i}.png")
    out = tmp_path / "run"
    best = run.fit(config(flat, epochs=2, steps_per_epoch=2), out, verbose=0)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert not [c for c in rows[0] if "probe" in c] and "val_recon" in rows[0]
    lowest = min(rows, key=lambda r: (float(r["val_recon"]), int(r["epoch"])))
    assert best == json.loads((out / "best.json").read_text()) == {
        "epoch": int(lowest["epoch"]), "val_recon": pytest.approx(float(lowest["val_recon"])),
        "criterion": "lowest val_recon"}
    path = checkpoint.find(out, "best")
    assert path.name == f"best-{best['epoch']:04d}"
    held = checkpoint.read(path)[0]
    assert [k for k in held if k.startswith("encoder")] and not [k for k in held if "probe" in k]
    assert (Path(export_run(out, tmp_path / "exports")) / "saved_model.pb").exists()
    from amr_tf import rundir

    assert "needs labels" in evaluation.REGISTRY["probe"].why_not(rundir.read_config(out))


@pytest.mark.slow
def test_a_labelled_folder_is_tuned_and_evaluated_and_an_unlabelled_one_refused_by_the_tuner(tmp_path):
    import json
    import subprocess
    import sys

    from tests.helpers import CLI_ENV, ROOT, run_cli

    labelled = write_folder(tmp_path / "labelled", classes=("a", "b"), per_class=20)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(30):
        Image.new("RGB", (9, 9), (i, 2 * i, 3 * i)).save(flat / f"{i}.png")
    env = {**CLI_ENV, "AMR_TF_CACHE": str(tmp_path / "cache")}
    tiny = ["--dataset=folder", "--batch_size=16", "--steps_per_epoch=2", "--epochs=1", "--lambdas=2"]
    # the unlabelled search runs beside the labelled one: it must stop at once, in one line
    refused = subprocess.Popen([sys.executable, "-m", "tuning.search", *tiny, f"--data_dir={flat}",
                                f"--directory={tmp_path / 'refused'}"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tuned = run_cli("tuning.search", *tiny, f"--data_dir={labelled}", f"--directory={tmp_path / 'search'}", env=env)
    _, stderr = refused.communicate(timeout=300)
    assert refused.returncode == 2, stderr[-2000:]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "have no labels" in lines[0] and not (tmp_path / "refused").exists(), lines

    assert tuned.returncode == 0, tuned.stderr[-3000:]
    assert "trial 0: lamb=2 val_probe_accuracy=" in tuned.stdout
    run_dir = next((tmp_path / "search").glob("*/trial_0000/run_s0"))
    recorded = json.loads((run_dir / "config.json").read_text())
    assert (recorded["dataset"], recorded["data_dir"], recorded["lamb"]) == ("folder", str(labelled), 2.0)
    assert recorded["data_fingerprint"].startswith("40 files, sha256:")
    evaluated = run_cli("amr_tf.evaluate", f"--run_dir={run_dir}", "--metric=interpolations", env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    figures = run_dir / "eval" / "figures"
    assert {"pairs.png", "bernoulli.png"} <= {p.name for p in figures.iterdir()}
    assert Image.open(figures / "pairs.png").size[0] > 200
