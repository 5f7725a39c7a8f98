"""Every hyperparameter of a run, in one frozen dataclass.

Defaults are those of the original PyTorch code (SPEC.md section 2): lamb 10, beta 0, k 2,
batch 64, Adam 1e-4 / 0.5 / 0.99 with coupled L2 weight decay 1e-5, the generator updated
every 5th step, L1 reconstruction, JS-GAN (bce) and a d_h = 32 bottleneck.

Example:
    >>> cfg = Config(dataset="digits", mixer="mixup", k=3)
    >>> Config.from_json(cfg.to_json()) == cfg
    True
"""

import dataclasses
import json
from typing import Optional

from amr_tf.losses import GAN_LOSSES, RECON_LOSSES
from amr_tf.mixers import MIXERS

MODELS = ("amr",)
BOTTLENECKS = (32, 256, 1024)
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass(frozen=True)
class Config:
    """One run's settings. Build by keyword; vary with `dataclasses.replace`.

    Attributes:
        dataset: data source name (see `amr_tf.data.SOURCES`).
        model: trainer family; "amr" covers AE+GAN (mixer "none") and AMR.
        mixer: mixing function of `amr_tf.mixers` ("none" = the AE+GAN baseline, Eq. 2).
        k: number of examples mixed (Eq. 6); ignored when mixer is "none".
        lamb: weight of the reconstruction loss (the paper's lambda).
        beta: weight of the consistency loss (supplement 7.3).
        cls: weight of the supervised class-mixer loss (Eq. 7); 0 disables it.
        bottleneck: d_h, the code size (32, 256 or 1024 -> acai32/256/1024).
        batch_size: global batch size (split across replicas under a strategy).
        epochs: number of epochs to train.
        steps_per_epoch: cap on steps per epoch (None: one pass over the train split).
        subset_train: keep this many (seeded) training examples (None: all).
        lr, beta1, beta2: Adam settings for the auto-encoder, discriminator and probe.
        probe_lr: the probe's Adam learning rate (None: lr, as the original, whose 1e-4
            is too slow to read a code on small data sets such as digits; see README).
        weight_decay: coupled L2 weight decay, added to the gradient as torch's Adam does.
        update_g_every: the auto-encoder (generator) is updated every this many steps.
        recon_loss: "l1" (the code's default), "l2" (the paper's), "bce", "bce_sum".
        gan_loss: "bce" (JS-GAN) or "mse" (LS-GAN as the original computed it).
        seed: seeds weights, mixing and data order; the data split itself is fixed.
        data_dir: where data sets are read from (passed to TFDS where it applies).
        attributes: comma-separated attribute names used as multi-hot labels (CelebA).
        jit_compile: compile the train step with XLA.
        precision: "float32", or a Keras mixed policy ("mixed_bfloat16", "mixed_float16").
    """

    dataset: str = "digits"
    model: str = "amr"
    mixer: str = "mixup"
    k: int = 2
    lamb: float = 10.0
    beta: float = 0.0
    cls: float = 0.0
    bottleneck: int = 32
    batch_size: int = 64
    epochs: int = 100
    steps_per_epoch: Optional[int] = None
    subset_train: Optional[int] = None
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.99
    probe_lr: Optional[float] = 1e-2
    weight_decay: float = 1e-5
    update_g_every: int = 5
    recon_loss: str = "l1"
    gan_loss: str = "bce"
    seed: int = 0
    data_dir: Optional[str] = None
    attributes: Optional[str] = None
    jit_compile: bool = False
    precision: str = "float32"

    def __post_init__(self):
        self.validate()

    @property
    def effective_k(self) -> int:
        """Number of sources per mix: 1 for the AE+GAN baseline, else k."""
        return 1 if self.mixer == "none" else self.k

    @property
    def preset(self) -> str:
        """Network preset name for the bottleneck (acai32 / acai256 / acai1024)."""
        return f"acai{self.bottleneck}"

    def validate(self):
        """Raises ValueError naming the first bad value and the allowed ones."""
        from amr_tf import data  # late import: data sources import this module

        _choice("dataset", self.dataset, data.SOURCES)
        _choice("model", self.model, MODELS)
        _choice("mixer", self.mixer, MIXERS)
        _choice("recon_loss", self.recon_loss, RECON_LOSSES)
        _choice("gan_loss", self.gan_loss, GAN_LOSSES)
        _choice("bottleneck", self.bottleneck, BOTTLENECKS)
        _choice("precision", self.precision, PRECISIONS)
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got k={self.k}")
        if self.mixer != "none" and self.k < 2:
            raise ValueError(
                f"k={self.k} mixes nothing: mixer '{self.mixer}' needs k >= 2 "
                "(use --mixer=none for the AE+GAN baseline)"
            )
        for name in ("lamb", "beta", "cls", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {name}={getattr(self, name)}")
        if self.cls > 0:
            raise ValueError(
                f"cls={self.cls}: the supervised class mixer (Eq. 7) is not implemented yet; use cls=0"
            )
        for name in ("batch_size", "epochs", "update_g_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {name}={getattr(self, name)}")
        for name in ("steps_per_epoch", "subset_train"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 (or unset), got {name}={value}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got lr={self.lr}")
        if self.probe_lr is not None and not self.probe_lr > 0:
            raise ValueError(f"probe_lr must be > 0 (or unset), got probe_lr={self.probe_lr}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {name}={getattr(self, name)}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        values = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def run_name(self) -> str:
        """The default run directory name: <dataset>_<mixer>_k<k>_lamb<lamb>_s<seed>."""
        return f"{self.dataset}_{self.mixer}_k{self.effective_k}_lamb{self.lamb:g}_s{self.seed}"


def _choice(name, value, allowed):
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise ValueError(f"unknown {name} '{value}'; choose one of: {choices}")
