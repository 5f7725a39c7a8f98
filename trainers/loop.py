"""A training loop of ours for the strategies where Keras' `fit` fails.

`fit` cannot drive a `train_step` that updates with several optimizers under MirroredStrategy,
nor anything under MultiWorkerMirroredStrategy (keras issue 20585). This loop runs the very
same `trainer.train_step` / `test_step` with `strategy.run` inside a `tf.function`, over
`strategy.experimental_distribute_dataset`, and drives the same Keras callbacks (progress
bar, checkpoints, TensorBoard, KerasTuner's) with the same logs `fit` would give them.
"""

import keras
import tensorflow as tf


def _results(trainer, names=None):
    # Read in cross-replica context: Keras metrics aggregate over replicas there.
    return {m.name: float(m.result()) for m in trainer.metrics if names is None or m.name in names}


def step_functions(trainer, strategy):
    """{update_generator: tf.function(iterator) -> the replicas' logs}: one training step under
    `strategy` on the iterator's next batch, with and without the auto-encoder's update. The
    generator's cadence is decided by the caller, in Python (`trainer.generator_due`): a
    synchronising update inside the step's tf.cond is not supported under a strategy."""

    def make(update_generator):
        @tf.function
        def step(iterator):
            return strategy.run(trainer.train_step, args=(next(iterator),),
                                kwargs={"update_generator": update_generator})
        return step

    return {due: make(due) for due in (True, False)}


def fit_distributed(trainer, strategy, train, *, epochs, initial_epoch, steps_per_epoch,
                    validation_data, callbacks, verbose, eval_names):
    """Trains `trainer` (built in `strategy.scope()`) like `keras.Model.fit` would.

    Args:
        trainer: an AMRTrainer created and compiled inside `strategy.scope()`.
        strategy: the tf.distribute strategy.
        train: batches of the global batch size running epochs initial_epoch..epochs-1.
        epochs, initial_epoch, steps_per_epoch: as `fit`'s.
        validation_data: batches of the valid split.
        callbacks: Keras callbacks.
        verbose: 0 (silent), 1 (progress bar) or 2 (a line per epoch).
        eval_names: the names `test_step` reports (logged with a `val_` prefix).

    Returns:
        The `keras.callbacks.History` of the run.
    """
    options = tf.data.Options()
    # Each global batch is split across all replicas of all workers (the same batches as one device).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_iter = iter(strategy.experimental_distribute_dataset(train.with_options(options)))
    valid = strategy.experimental_distribute_dataset(validation_data.with_options(options))

    train_fns = step_functions(trainer, strategy)
    step_count = int(trainer.step_optimizer.iterations.numpy())

    @tf.function
    def test_fn(batch):
        strategy.run(trainer.test_step, args=(batch,))

    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history], add_progbar=verbose != 0, model=trainer,
        verbose=verbose, epochs=epochs, steps=steps_per_epoch,
    )
    trainer.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        for metric in trainer.metrics:
            metric.reset_state()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            train_fns[trainer.generator_due(step_count)](train_iter)
            step_count += 1
            logs = _results(trainer)
            callback_list.on_train_batch_end(step, logs)
            if trainer.stop_training:
                break
        epoch_logs = dict(logs)
        for metric in trainer.metrics:
            metric.reset_state()
        for batch in valid:
            test_fn(batch)
        epoch_logs.update({f"val_{k}": v for k, v in _results(trainer, eval_names).items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if trainer.stop_training:
            break
    callback_list.on_train_end(logs)
    return history
