"""amr_tf: adversarial mixup resynthesis (Beckham et al., NeurIPS 2019) in TensorFlow/Keras 3."""

__version__ = "0.1.0"
