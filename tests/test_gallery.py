"""benchmarks/gallery.py: the figures of docs/figures drawn from a runs folder, each captioned."""

import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.test_evaluate import built_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gallery_draws_the_spiral_panels_and_names_what_it_could_not_draw(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gallery
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    runs = tmp_path / "runs"
    built_run(runs / "spiral/spiral/ae_gan/s0", dataset="spiral", mixer="none")
    built_run(runs / "spiral/spiral/amr_mixup_k2_beta10/s0", dataset="spiral", beta=10.0)
    out = tmp_path / "figures"
    assert gallery.main([f"--runs={runs}", f"--out={out}"]) == 0
    picture = Image.open(out / "spiral.png")
    single = Image.open(runs / "spiral/spiral/ae_gan/s0/eval/figures/spiral.png")
    assert picture.width == 2 * single.width + 8 and picture.height == single.height + gallery.TITLE
    assert (out / "spiral.png").stat().st_size < gallery.LIMIT
    readme = (out / "README.md").read_text()
    assert "![The spiral at each consistency weight (Fig. 12)](spiral.png)" in readme
    beta10 = runs / "spiral/spiral/amr_mixup_k2_beta10/s0"
    assert f"`python -m amr_tf.evaluate --run_dir={beta10} --metric=interpolations --checkpoint=last`" in readme
    assert "measured at commit" in readme
    missing = next(line for line in readme.splitlines() if line.startswith("Not drawn"))
    assert "`fashion/fashion_mnist/acai/s0`" in missing and "`class_mixer/digits`" in missing
    assert not (out / "fashion_pairs.png").exists()

    # A run whose evaluation fails stops the gallery with evaluate's own last line, not a traceback.
    for f in (beta10 / "checkpoints").iterdir():
        f.unlink()
    with pytest.raises(SystemExit, match=r"gallery: `python -m amr_tf.evaluate --run_dir=.* failed: .+"):
        gallery.main([f"--runs={runs}", f"--out={tmp_path / 'again'}"])


def test_gallery_refuses_a_missing_or_empty_runs_folder(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gallery
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    with pytest.raises(SystemExit) as stop:
        gallery.main([f"--runs={tmp_path / 'nowhere'}", f"--out={tmp_path / 'out'}"])
    assert stop.value.code == 2 and "no such folder" in capsys.readouterr().err
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("an earlier gallery\n")
    (tmp_path / "empty").mkdir()
    assert gallery.main([f"--runs={tmp_path / 'empty'}", f"--out={out}"]) == 1
    assert "nothing drawn" in capsys.readouterr().err
    assert (out / "README.md").read_text() == "an earlier gallery\n"
