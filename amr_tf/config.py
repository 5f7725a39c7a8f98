"""Every hyperparameter of a run, in one frozen dataclass.

Defaults are those the original PyTorch code's experiment scripts pass (`exps/*/*.sh`): lamb 10,
beta 0, k 2, batch 64, Adam 1e-4 / 0.5 / 0.99 with coupled L2 weight decay 1e-5, the generator
updated every 5th step, L1 reconstruction, JS-GAN (bce) and a d_h = 32 bottleneck. Its launcher's
own bare defaults (`task_launcher.py`, which every script overrides) differ: lr 2e-4, beta1 0,
beta2 0.999, weight decay 0, lamb 1, consistency beta 1, batch 32.

A few defaults depend on the model and the data, as in the original's launch scripts
(left unset, they are filled in when the Config is made, so config.json holds the values used):
- dSprites (`dsprites`, `dsprites_procedural`): lamb 1 and bce_sum reconstruction (Table 4);
- `model="vae"` (beta-VAE): bce_sum reconstruction, Adam beta1 0.9, kl_weight 100 on dSprites
  (the paper's beta = 100) and 1 elsewhere.

Example:
    >>> cfg = Config(dataset="digits", mixer="mixup", k=3)
    >>> Config.from_json(cfg.to_json()) == cfg
    True
"""

import dataclasses
import json
import math
import typing
from typing import Optional

from amr_tf import registry
from amr_tf.losses import GAN_LOSSES, RECON_LOSSES
from amr_tf.mixers import MIXERS

MODELS = ("amr", "acai", "vae")
DSPRITES = ("dsprites", "dsprites_procedural")
ATTRIBUTE_DATASETS = ("celeba",)
BOTTLENECKS = (32, 256, 1024)
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# How the trainer calls D (see trainers/amr.py): one batched call, or the original's five a step.
D_CALLS = ("batched", "original")
LAST_BATCHES = ("drop", "keep")
# The options of --dataset=folder, with their defaults (given for another data set: refused).
FOLDER_OPTIONS = {"image_size": None, "channels": None, "labels": "inferred", "split": "0.9,0.05,0.05",
                  "strict_images": False}
# Fields that are no setting: what the run records about its data (see `amr_tf.data.folder`).
RECORDED_FIELDS = ("data_fingerprint",)
UPDATE_G_PHASES = ("run", "epoch")


@dataclasses.dataclass(frozen=True)
class Config:
    """One run's settings. Build by keyword; vary with `dataclasses.replace`.

    Attributes:
        dataset: data source name (see `amr_tf.data.SOURCES`).
        model: trainer family: "amr" covers AE+GAN (mixer "none") and AMR, "acai" the ACAI
            baseline (Berthelot et al. 2019, as the paper re-implemented it), "vae" beta-VAE.
        mixer: mixing function of `amr_tf.mixers` ("none" = the AE+GAN baseline, Eq. 2).
        k: number of examples mixed (Eq. 6); ignored when mixer is "none".
        lamb: weight of the reconstruction loss (the paper's lambda); None: 1 on dSprites, else 10.
        beta: weight of the consistency loss (supplement 7.3).
        cls: weight of the supervised class-mixer loss (Eq. 7); 0 disables it. The labels
            (one-hot classes, or CelebA's `attributes`) are the attribute vectors y.
        mask_temperature: None: the class mixer's Bernoulli mask is sampled and made
            differentiable by the straight-through estimator; a number > 0: a relaxed
            Bernoulli (binary Concrete) sample at this temperature instead.
        cls_lr: Adam learning rate of D's auxiliary classifier head (cls > 0 only); None: lr,
            the head learning with the rest of D.
        kl_weight: the beta-VAE's KL weight (model "vae" only); None: 100 on dSprites, else 1.
        arch: network preset (see `amr_tf.networks.PRESETS`); None chooses from the data:
            "dsprites" for dSprites, "spiral" for the spiral, else acai<bottleneck>.
        bottleneck: d_h, the code size (32, 256 or 1024 -> acai32/256/1024; the dsprites
            and spiral presets have their own).
        batch_size: global batch size (split across replicas under a strategy).
        epochs: number of epochs to train.
        steps_per_epoch: cap on steps per epoch (None: one pass over the train split).
        last_batch: "drop" (full batches only: one batch shape) or "keep" (the original's: an
            epoch ends with the partial batch of the examples its full batches leave, so every
            example is seen once an epoch; under R replicas it is cut to a multiple of R).
        subset_train: keep this many training examples (None: all): one fixed subset, the same for
            every seed, as the original's.
        lr, beta1, beta2: Adam settings for the auto-encoder, discriminator and probe
            (beta1 None: 0.9 for the VAE, else 0.5).
        probe_lr: the probe's Adam learning rate (None: lr, as the original, whose 1e-4
            is too slow to read a code on small data sets such as digits; see docs/original.md).
        weight_decay: coupled L2 weight decay, added to the gradient as torch's Adam does.
        update_g_every: the auto-encoder (generator) is updated every this many steps.
        update_g_phase: where that count starts: "run" (steps 0, N, 2N, ... of the run) or
            "epoch" (the original's: each epoch's first step, then every N-th of the epoch).
        recon_loss: "l1" (the code's default), "l2" (the paper's), "bce", "bce_sum";
            None: bce_sum for dSprites and the VAE, else l1.
        gan_loss: "bce" (JS-GAN) or "mse" (LS-GAN as the original computed it).
        seed: seeds weights, mixing and data order; the data split itself is fixed.
        data_dir: where data sets are read from (passed to TFDS where it applies).
        attributes: comma-separated attribute names used as multi-hot labels (CelebA).
        jit_compile: compile the train step with XLA.
        precision: "float32", or a Keras mixed policy ("mixed_bfloat16", "mixed_float16").
        spectral_norm: D's spectral normalisation: "reparametrized" (the original's and
            Miyato et al.'s: the raw kernel is trained, the gradient flows through sigma) or
            "keras" (`keras.layers.SpectralNormalization`: the kernel is overwritten with
            kernel / sigma, no gradient through sigma) or "none" (no normalisation: an ablation;
            the spiral's recipes use it, since a 1-Lipschitz D cannot tell points on the spiral
            from points a few hundredths off it).
        d_calls: "batched" (one D call over [x; r; r_mix], and one over the fakes on the
            generator's steps) or "original" (the original's five calls a step, each its own
            power iteration; see `trainers.amr.D_CALLS`).
        image_size, channels, labels, split, strict_images: `--dataset=folder`'s options (see
            `amr_tf.data.folder`): the side images are resized to (32 or 64; None: 32), their
            channels (1 or 3; None: 3 unless every image sampled is greyscale), "inferred" (labels
            from the first-level subfolders) or "none", the train,valid,test fractions of its fixed
            split, and whether an image that cannot be decoded is refused (else skipped).
        data_fingerprint: recorded, not set: the folder's fingerprint when the run trained, so a
            resume on a changed folder is refused.
    """

    dataset: str = "digits"
    model: str = "amr"
    mixer: str = "mixup"
    k: int = 2
    lamb: Optional[float] = None
    beta: float = 0.0
    cls: float = 0.0
    mask_temperature: Optional[float] = None
    kl_weight: Optional[float] = None
    cls_lr: Optional[float] = None
    arch: Optional[str] = None
    bottleneck: int = 32
    batch_size: int = 64
    epochs: int = 100
    steps_per_epoch: Optional[int] = None
    last_batch: str = "drop"
    subset_train: Optional[int] = None
    lr: float = 1e-4
    beta1: Optional[float] = None
    beta2: float = 0.99
    probe_lr: Optional[float] = 1e-2
    weight_decay: float = 1e-5
    update_g_every: int = 5
    update_g_phase: str = "run"
    recon_loss: Optional[str] = None
    gan_loss: str = "bce"
    seed: int = 0
    data_dir: Optional[str] = None
    attributes: Optional[str] = None
    jit_compile: bool = False
    precision: str = "float32"
    spectral_norm: str = "reparametrized"
    d_calls: str = "batched"
    image_size: Optional[int] = None
    channels: Optional[int] = None
    labels: str = "inferred"
    split: str = "0.9,0.05,0.05"
    strict_images: bool = False
    data_fingerprint: Optional[str] = None

    def __post_init__(self):
        dsprites = self.dataset in DSPRITES
        vae = self.model == "vae"
        defaults = {
            "lamb": 1.0 if dsprites else 10.0,
            "recon_loss": "bce_sum" if dsprites or vae else "l1",
            "beta1": 0.9 if vae else 0.5,
            "kl_weight": (100.0 if dsprites else 1.0) if vae else None,
        }
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)  # frozen: fill the unset defaults once
        self.validate()

    @property
    def effective_k(self) -> int:
        """Number of sources per mix: 1 for the AE+GAN baseline, else k."""
        return 1 if self.mixer == "none" else self.k

    @property
    def preset(self) -> str:
        """Network preset name: `arch` if given, else chosen from the data set (dsprites,
        spiral, or acai32 / acai256 / acai1024 from the bottleneck)."""
        if self.arch:
            return self.arch
        if self.dataset in DSPRITES:
            return "dsprites"
        if self.dataset == "spiral":
            return "spiral"
        return f"acai{self.bottleneck}"

    @property
    def mixes(self) -> bool:
        """Whether training decodes unsupervised mixes (AMR with a mixer, ACAI)."""
        return self.model != "vae" and self.mixer != "none"

    def validate(self):
        """Raises ValueError naming the first bad value and the allowed ones."""
        from amr_tf import data  # late import: data sources import this module

        self._validate_types()
        _choice("dataset", self.dataset, data.SOURCES)
        _choice("model", self.model, MODELS)
        _choice("mixer", self.mixer, MIXERS)
        _choice("recon_loss", self.recon_loss, RECON_LOSSES)
        _choice("gan_loss", self.gan_loss, GAN_LOSSES)
        _choice("bottleneck", self.bottleneck, BOTTLENECKS)
        _choice("precision", self.precision, PRECISIONS)
        self._validate_folder()
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got k={self.k}")
        if self.mixes and self.k > self.batch_size:
            raise ValueError(f"k={self.k} mixes more examples than a batch holds (batch_size={self.batch_size}); "
                             f"choose k <= {self.batch_size}")
        if self.mixer != "none" and self.k < 2:
            raise ValueError(
                f"k={self.k} mixes nothing: mixer '{self.mixer}' needs k >= 2 "
                "(use --mixer=none for the AE+GAN baseline)"
            )
        for name in ("lamb", "beta", "cls", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {name}={getattr(self, name)}")
        self._validate_model()
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

    def _validate_folder(self):
        """The options of `--dataset=folder` (and only of it)."""
        from amr_tf.data import folder

        _choice("labels", self.labels, folder.LABELS)
        if self.image_size is not None:
            _choice("image_size", self.image_size, folder.IMAGE_SIZES)
        if self.channels is not None:
            _choice("channels", self.channels, (1, 3))
        folder.parse_split(self.split)
        if self.dataset != "folder":
            given = [f"{name}={getattr(self, name)}" for name, default in FOLDER_OPTIONS.items()
                     if getattr(self, name) != default]
            if given:
                raise ValueError(f"{', '.join(given)} applies to --dataset=folder only (dataset is '{self.dataset}')")

    def _validate_types(self):
        """Every field of its declared type (a config.json may say "k": "two"), every float
        finite (NaN passes every `< 0` test and inf every `> 0`)."""
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value, kind = getattr(self, field.name), hints[field.name]
            optional = type(None) in typing.get_args(kind)
            if optional:
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
            if value is None:
                if optional:
                    continue
                raise ValueError(f"{field.name} must be set (a {kind.__name__}), got None")
            if kind is bool:
                ok = isinstance(value, bool)
            elif kind is float:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
            if not ok:
                raise ValueError(f"{field.name} must be {'an' if kind is int else 'a'} {kind.__name__}, "
                                 f"got {value!r}")
            if kind is float and not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {field.name}={value}")

    def _validate_model(self):
        """Combinations of model, mixer and weights that mean nothing (one line each)."""
        from amr_tf import networks  # late: importing config alone need not load Keras and the networks

        if self.arch is not None:
            _choice("arch", self.arch, tuple(networks.PRESETS))
        _choice("spectral_norm", self.spectral_norm, networks.SPECTRAL_NORMS)
        _choice("d_calls", self.d_calls, D_CALLS)
        _choice("last_batch", self.last_batch, LAST_BATCHES)
        _choice("update_g_phase", self.update_g_phase, UPDATE_G_PHASES)
        if self.kl_weight is not None and self.model != "vae":
            raise ValueError(f"kl_weight={self.kl_weight} applies to --model=vae only (model is '{self.model}')")
        if self.model == "vae":
            if self.kl_weight < 0:
                raise ValueError(f"kl_weight must be >= 0, got kl_weight={self.kl_weight}")
            for name in ("beta", "cls"):
                if getattr(self, name) > 0:
                    raise ValueError(f"{name}={getattr(self, name)} does not apply to --model=vae "
                                     "(it decodes no mixes while training); use --model=amr")
        if self.model == "acai":
            if self.mixer == "none":
                raise ValueError("--model=acai needs a mixer (its critic regresses the mixing "
                                 "coefficient); use --mixer=mixup")
            if self.k != 2:
                raise ValueError(f"--model=acai mixes pairs (its critic regresses 2 min(a, 1 - a)); "
                                 f"got k={self.k}, use --k=2")
            if self.cls > 0:
                raise ValueError(f"cls={self.cls}: the supervised class mixer is part of --model=amr only")
        if self.mask_temperature is not None:
            if not self.mask_temperature > 0:
                raise ValueError(f"mask_temperature must be > 0 (or unset), got {self.mask_temperature}")
            if self.cls == 0:
                raise ValueError(f"mask_temperature={self.mask_temperature} applies to the supervised "
                                 "class mixer only: set --cls > 0")
        if self.cls_lr is not None:
            if not self.cls_lr > 0:
                raise ValueError(f"cls_lr must be > 0 (or unset), got {self.cls_lr}")
            if self.cls == 0:
                raise ValueError(f"cls_lr={self.cls_lr} applies to the supervised class mixer's "
                                 "classifier head only: set --cls > 0")
            if self.precision == "mixed_float16":
                raise ValueError("cls_lr with precision mixed_float16 is not supported (one loss scale "
                                 "serves D and its head): use mixed_bfloat16, or leave --cls_lr unset")
        if self.attributes and self.dataset not in ATTRIBUTE_DATASETS:
            raise ValueError(f"--attributes applies to data sets with attributes "
                             f"({', '.join(ATTRIBUTE_DATASETS)}), not '{self.dataset}'; "
                             "without it, --cls uses the class labels as one-hot attributes")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        values = json.loads(text)
        if not isinstance(values, dict):
            kinds = {type(None): "null", bool: "true/false", list: "an array", str: "a string"}
            kind = kinds.get(type(values), "a number")
            raise ValueError(f"expected a JSON object of settings, found {kind}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def run_name(self) -> str:
        """The default run directory name: <dataset>_<mixer>_k<k>_lamb<lamb>_s<seed> for AMR,
        with the model's name after the data set for ACAI and the VAE (whose name carries
        its KL weight), and cls<weight> before the seed for the supervised mixer."""
        if self.model == "vae":
            return f"{self.dataset}_vae_kl{self.kl_weight:g}_lamb{self.lamb:g}_s{self.seed}"
        model = "" if self.model == "amr" else f"{self.model}_"
        cls = f"_cls{self.cls:g}" if self.cls > 0 else ""
        return f"{self.dataset}_{model}{self.mixer}_k{self.effective_k}_lamb{self.lamb:g}{cls}_s{self.seed}"


def _choice(name, value, allowed):
    registry.check(name, value, allowed)
