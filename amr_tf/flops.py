"""Model FLOPs of the acai networks and of one AMR train step, counted from the layers.

A multiply-add is 2 FLOPs; only convolutions and dense layers are counted (norms,
activations and pooling are a few percent). A backward pass costs 2x its forward pass
(input and weight gradients), 1x where only input gradients are needed.
"""

import keras


def forward_flops(model, input_shape):
    """FLOPs of one example through a `_Stack` network (`model.body`) of input shape (H, W, C)."""
    shape, total = (1, *input_shape), 0
    for layer in model.body:
        # a wrapper (either spectral norm) computes what the layer it wraps computes
        inner = layer.layer if isinstance(layer, keras.layers.Wrapper) else layer
        out = layer.compute_output_shape(shape)
        if isinstance(inner, keras.layers.Conv2D):
            kh, kw = inner.kernel_size
            total += 2 * out[1] * out[2] * kh * kw * shape[-1] * inner.filters
        elif isinstance(inner, keras.layers.Dense):
            total += 2 * shape[-1] * inner.units
        shape = out
    return total


def train_step_flops(trainer, image_shape, update_g_every, beta=0.0):
    """FLOPs per training example of one step, averaged over a generator cycle.

    Every step: f(x), g over [h; h_mix] (2 per example), D forward and backward over
    [x; r; r_mix] (3 per example), the probe. Generator steps (1 in `update_g_every`): D over
    [r; r_mix] and its input gradients, g's and f's backward (and the consistency pass).
    """
    code = trainer.encoder.compute_output_shape((1, *image_shape))[1:]
    enc = forward_flops(trainer.encoder, image_shape)
    dec = forward_flops(trainer.decoder, code)
    disc = forward_flops(trainer.discriminator, image_shape)
    probe = forward_flops(trainer.probe, code)
    mixes = 0 if trainer.mixer == "none" else 1
    fakes = 1 + mixes
    every = enc + fakes * dec + (1 + fakes) * disc * 3 + 3 * probe
    generator = fakes * disc * 2 + fakes * dec * 2 + enc * 2
    if beta > 0 and mixes:
        generator += enc * 3
    return every + generator / update_g_every
