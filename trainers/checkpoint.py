"""A trainer's checkpoints: which objects a trainer has; the format is `amr_tf.checkpoint`'s.

`objects(trainer)` names what a checkpoint of a trainer holds: its networks
(`trainer.network_names`: the VAE has no discriminator, the supervised mixer adds its class
mixer), its optimizers (`trainer.optimizer_names`), and "rng", the mixing SeedGenerator's state.
Everything else (save, restore, latest, prune, the file layout, CheckpointError) is
`amr_tf.checkpoint`'s: `amr_tf.checkpoint.save(path, objects(trainer), meta)`.
"""


def objects(trainer):
    """name -> object of everything a checkpoint of `trainer` holds (see the module docstring)."""
    out = {name: getattr(trainer, name) for name in trainer.network_names}
    for name in trainer.optimizer_names:
        out[name] = getattr(trainer, name)
    out["rng"] = trainer.seed_generator.state
    return out
