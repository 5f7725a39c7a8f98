"""Networks of the paper (section 2) and the original code: encoder f, decoder g, discriminator D,
probe, class mixer.

Modules: `layers` (initialisers, convs, spectral and instance normalisation, the stacks models
are made of), `acai`, `burgess`, `mlp` (the three families), `heads` (Probe, ClassMixer),
`presets` (the presets by name, `build_networks`).

Three families, chosen by preset name:
- "acai32" / "acai256" / "acai1024": the conv networks of the original (`architectures/arch_acai_kyle.py`), on square
  images whose side is a power of two >= 16 (the code is always 4 x 4 x latent);
- "dsprites": the "Burgess beta-VAE B" generator and its spectrally normalised critic (64x64);
- "spiral": small MLPs for 2-D points (supplement Fig. 12).

Every network is a Keras 3 subclassed model whose layers are created in `__init__` and
built by `build(input_shape)` (or the first call), so `count_params()` works once
`build_networks` returns. Layers follow the model's dtype policy (mixed precision
ready); the discriminator's logits, its class logits and the class mixer's output are
float32.
"""


from amr_tf.networks.acai import ACAIDecoder, ACAIDiscriminator, ACAIEncoder, ACAIPreset  # noqa: F401
from amr_tf.networks.burgess import BurgessDecoder, BurgessDiscriminator, BurgessEncoder, BurgessPreset  # noqa: F401
from amr_tf.networks.heads import ClassMixer, Probe  # noqa: F401
from amr_tf.networks.layers import (  # noqa: F401
    SPECTRAL_NORMS,
    Conv2D,
    InstanceNormalization,
    LeakyReLU,
    OriginalNormal,
    ReparametrizedSpectralNorm,
    bias_add,
)
from amr_tf.networks.mlp import MLPDecoder, MLPDiscriminator, MLPEncoder, MLPPreset  # noqa: F401
from amr_tf.networks.presets import (  # noqa: F401
    PRESETS,
    Networks,
    build_networks,
    code_shape,
    count_trainable,
    for_config,
    get_preset,
    preset_for_bottleneck,
    register_preset,
)
