"""The original AMR code's disentanglement score on fixed codes: the reference numbers of
tests/test_disentanglement_original.py. Runs in the reference environment (`make reference-venv`):

    benchmarks/.venv-reference/bin/python benchmarks/original_disentanglement.py

It extracts the original's tools.py from a bare git mirror of christopher-beckham/amr
(`git archive`, into a temporary folder, never into this repository; --mirror, --commit), imports
it, and calls its `dsprite_disentanglement_fv` with stand-ins: a `ds` whose metadata holds
dSprites' latents_sizes [1, 3, 6, 40, 32, 32] and whose `sample_conditional` returns a dummy
tensor, and a `gen` whose `encode` returns predetermined codes, vote after vote in the order
the function asks for them (factor 1..5 in turn). `torch.Tensor.cuda` returns the tensor itself
(no GPU here); the imports tools.py makes at the top and never uses in this function
(torchvision's save_image, skimage's imread/imsave) are stubbed when missing. Nothing of the
original is copied into amr_tf, and nothing of amr_tf is imported here.

The codes (`make_codes`, numpy only; the test rebuilds them with the same recipe):
- 5 factors x 8 votes (n_votes=40), L = 20 images a vote, 6 units;
- codes = N(0, 1) * SCALES per unit, plus a per-vote offset N(0, 0.5^2) * SCALES, plus a
  per-unit offset N(0, 5^2), drawn in that order from np.random.default_rng(SEED);
- in each vote one "quiet" unit (QUIET[factor][vote]) is multiplied by 0.05 around the vote's
  mean, so the vote goes to that unit once the units are scaled by their pooled std;
- unit 5 has the smallest raw scale (0.02), so without the scaling every vote would go to it;
- factors 0 and 1 share unit 0 as majority, factor 2 splits 4/4, and the last factor (posY)
  votes 8/8 for unit 5, so the score counts 6 + 5 + 4 + 7 of 40 votes (0.55), not 0.75;
- "constant": the same with a 7th unit that is 0 everywhere (std 0: the original's 0/0 = NaN
  wins every vote);
- "vae": the same codes as the mean half of a VAE's [mu, sigma] output (is_vae=True), with
  sigma = 0.5 + U(0, 1);
- "noise": N(0, 1) * SCALES alone (from default_rng(SEED + 1)): every vote is a near thing
  between units, so the score depends on each vote's argmin.
The codes go to the original as float32 (as PyTorch gives them); the test feeds the same float32
values to amr_tf.
"""

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import types

import numpy as np

MIRROR = "/work/.mirror/christopher-beckham+amr/repo"
SEED = 2019
VOTES_PER_FACTOR, L, UNITS = 8, 20, 6
SCALES = np.array([1.0, 3.0, 0.5, 2.0, 1.5, 0.02])
QUIET = ((0, 0, 0, 0, 0, 0, 3, 3),  # shape: unit 0 six times
         (0, 0, 0, 0, 0, 1, 1, 1),  # scale: unit 0 again (five), claimed by shape too
         (2, 2, 2, 2, 4, 4, 4, 4),  # orientation: a 4/4 split
         (3, 3, 3, 3, 3, 3, 3, 1),  # posX: seven
         (5, 5, 5, 5, 5, 5, 5, 5))  # posY: eight, never counted by the original


def make_codes(case="split"):
    """float32 codes [40, 20, d] in vote order (factor 0's 8 votes, then factor 1's, ...)."""
    n_votes = len(QUIET) * VOTES_PER_FACTOR
    if case == "noise":
        return (np.random.default_rng(SEED + 1).normal(size=(n_votes, L, UNITS)) * SCALES).astype(np.float32)
    rng = np.random.default_rng(SEED)
    codes = rng.normal(size=(n_votes, L, UNITS)) * SCALES
    codes += rng.normal(size=(n_votes, 1, UNITS)) * 0.5 * SCALES
    codes += rng.normal(size=(1, 1, UNITS)) * 5.0
    quiet = np.asarray(QUIET).reshape(-1)
    for i, unit in enumerate(quiet):
        mean = codes[i, :, unit].mean()
        codes[i, :, unit] = mean + 0.05 * (codes[i, :, unit] - mean)
    if case == "constant":
        codes = np.concatenate([codes, np.zeros((n_votes, L, 1))], axis=2)
    if case == "vae":
        sigma = 0.5 + rng.uniform(size=codes.shape)
        codes = np.concatenate([codes, sigma], axis=2)
    return codes.astype(np.float32)


def extract_tools(mirror, commit, into):
    """tools.py of `commit` from the bare mirror, into the folder `into`; returns the commit's id."""
    sha = subprocess.run(["git", "-C", mirror, "rev-parse", commit], check=True, capture_output=True,
                         text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", mirror, "archive", sha, "tools.py"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return sha


def stub_unused_imports():
    """tools.py imports these at the top; dsprite_disentanglement_fv uses none of them."""
    for module, names in (("torchvision.utils", ("save_image",)), ("skimage.io", ("imread", "imsave"))):
        try:
            __import__(module)
        except Exception:
            parent, child = module.split(".")
            top, sub = types.ModuleType(parent), types.ModuleType(module)
            for name in names:
                setattr(sub, name, lambda *a, **k: None)
            setattr(top, child, sub)
            sys.modules.update({parent: top, module: sub})


def run_original(tools, codes, is_vae=False):
    """dsprite_disentanglement_fv(gen, ds, n_votes=40, L=20) with `codes` returned vote by vote."""
    import torch

    asked = []

    class Dataset:
        metadata = {"latents_sizes": np.array([1, 3, 6, 40, 32, 32])}

        def sample_conditional(self, which_idx, which_val, size):
            assert 0 <= which_val < self.metadata["latents_sizes"][which_idx]
            asked.append(int(which_idx))
            return torch.zeros(size, 4, 4)

    class Generator:
        def eval(self):
            return self

        def encode(self, x):
            assert tuple(x.shape) == (L, 1, 4, 4)
            return torch.from_numpy(codes[len(asked) - 1])

    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    result = tools.dsprite_disentanglement_fv(Generator(), Dataset(), is_vae=is_vae,
                                              n_votes=len(QUIET) * VOTES_PER_FACTOR, L=L)
    assert asked == [k for k in range(1, 6) for _ in range(VOTES_PER_FACTOR)], asked
    return float(result["dfv"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", default=MIRROR, help="bare git mirror of christopher-beckham/amr")
    parser.add_argument("--commit", default="HEAD")
    args = parser.parse_args()
    np.random.seed(0)  # the original draws each vote's fixed value with np.random.randint
    stub_unused_imports()
    with tempfile.TemporaryDirectory() as tmp:
        sha = extract_tools(args.mirror, args.commit, tmp)
        sys.path.insert(0, tmp)
        import tools

        out = {"commit": sha, "seed": SEED, "votes_per_factor": VOTES_PER_FACTOR, "L": L}
        for case, is_vae in (("split", False), ("constant", False), ("vae", True), ("noise", False)):
            out[case] = run_original(tools, make_codes(case), is_vae)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
