"""Checkpoints: TensorFlow checkpoints (`tf.train.Checkpoint`) whose variables are keyed by name.

What a checkpoint holds. `save(prefix, objects, meta)` takes a dict name -> object: Keras layers
and models (networks), Keras optimizers, and variables (e.g. a `keras.random.SeedGenerator`'s
state); `trainers.checkpoint.objects(trainer)` gives a trainer's. Every variable of every object
is written, and the metadata record `meta` (e.g. {"epoch", "history"}) is stored inside the same
checkpoint as a JSON string. A checkpoint is a TensorFlow checkpoint prefix: two files,
`PREFIX.index` and `PREFIX.data-00000-of-00001`, that `tf.train.list_variables(prefix)` and
`tf.train.load_checkpoint(prefix)` read.

The names a user sees. A variable's key is its object path from the name it was given, e.g.

    encoder/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE             item 1 of the encoder's `body` list
    encoder/body/3/gamma/.ATTRIBUTES/VARIABLE_VALUE               an instance norm's scale
    discriminator/body/2/layer/_kernel/.ATTRIBUTES/VARIABLE_VALUE a spectrally normed convolution
    discriminator/body/2/vector_u/.ATTRIBUTES/VARIABLE_VALUE      its power-iteration vector
    ae_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE           an optimizer's step count
    ae_optimizer/_momentums/encoder/body/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE   its Adam slot for that kernel
    rng/.ATTRIBUTES/VARIABLE_VALUE                                the mixing RNG's state
    meta/.ATTRIBUTES/py_state                                     the JSON metadata

(`_kernel` is the attribute Keras keeps a kernel in.)

Keras 3 layers keep their sub-layers in lists that TensorFlow's checkpointing does not see, and
Keras optimizers list the variables they update: a bare `tf.train.Checkpoint(encoder=...)` would
save no encoder variable at all, or name them after an optimizer's list positions. So `save` and
`restore` checkpoint a *view* of each object, built here: a layer's attributes (variables,
sub-layers, and the lists and dicts Keras tracks), an optimizer's own state (its slots named
after the variable they belong to). Every variable of every object must be reachable by name, or
saving refuses (a silent omission would lose state). Keys therefore do not depend on the order in
which variables were created or listed, only on the attributes that hold them.

Kill safety. `save` writes into a temporary folder `.PREFIX.tmp-<pid>/` next to the target,
fsyncs the files, then moves the data file(s) into place and the index last, and fsyncs the
folder. A checkpoint is complete only when its index and all its data files exist; `latest` and
`best_path` see only complete ones, so a kill at any moment leaves the previous checkpoint the
newest usable one. Leftovers (the temporary folder, TensorFlow's `*_temp` parts inside it, a
data file without its index) are never read; `amr_tf.rundir.remove_stale_temps` removes the
temporary folders of dead writers, `prune` the orphan files. A fixed name is never rewritten in
place: the best checkpoint is `best-NNNN` (NNNN its epoch), the older one deleted only after the
newer is complete. (Only an epoch trained again after its checkpoint was deleted, or a best of
that epoch, replaces a checkpoint of the same name: its old index goes first, so a kill then
leaves it incomplete, and ignored, never an old index over new data.)

Refusals. `restore` first reads the whole checkpoint (TensorFlow checks each tensor's CRC) and
compares its keys, shapes and dtypes with the objects' own, and checks the metadata; only then does
`tf.train.Checkpoint.read` assign, followed by `assert_existing_objects_matched()` and, for a full
restore, `assert_consumed()` (nothing of another model left over). Any failure raises
`CheckpointError` (a ValueError) in one line naming the checkpoint, and leaves every variable as it
was (the values are also snapshotted and put back should the read itself fail). A `.npz`
checkpoint of an older amr_tf is refused in one line, never ignored.

No code runs on load: a TensorFlow checkpoint holds tensors and a protocol buffer, and the
metadata is parsed with `json.loads` only.

Modules: `meta` (the metadata record, `CheckpointError`, the run's identity), `view` (the named
view and its keys), `files` (a prefix's files, complete or not), `store` (`save`, `read`,
`restore`), `directory` (a run's epoch and best checkpoints, pruning), `runs` (`find`,
`load_networks`). Their public names are gathered here: `from amr_tf import checkpoint`.

Distributed training: only the chief writes (`trainers.strategy.is_chief`); variables are read
from their primary replica, so saving needs no other worker. Every worker restores the chief's
checkpoint.
"""

from amr_tf.checkpoint.directory import best_path, latest, prune, set_aside_after  # noqa: F401
from amr_tf.checkpoint.files import epoch_path, files, is_complete  # noqa: F401
from amr_tf.checkpoint.meta import IDENTITY, META, CheckpointError, check_identity, check_meta, identity  # noqa: F401
from amr_tf.checkpoint.runs import find, load_networks  # noqa: F401
from amr_tf.checkpoint.store import read, read_meta, restore, save  # noqa: F401
from amr_tf.checkpoint.view import keys  # noqa: F401
