"""tf.distribute strategies by name: `--strategy=auto|default|mirrored|multi_worker`.

auto: MirroredStrategy when more than one GPU is visible, else the default strategy.
mirrored: one machine, all its GPUs (or, without GPUs, its logical CPUs: `--logical_cpus=N`
splits the CPU into N devices so mirrored training can run and be tested on a laptop).
multi_worker: MultiWorkerMirroredStrategy over the machines named by the TF_CONFIG variable.
"""

import json
import os

import tensorflow as tf

from amr_tf import registry

STRATEGIES = registry.Registry("strategy")  # name -> a builder, called after the CPU is split


def split_cpu(n):
    """Splits the first CPU into `n` logical devices; must run before TensorFlow starts its runtime."""
    if n is None or n <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as e:  # the runtime already started: too late to split
        raise ValueError(f"--logical_cpus={n} must be set before TensorFlow runs anything ({e})") from None


@STRATEGIES.register("auto")
def _auto():
    return (_mirrored if len(tf.config.list_logical_devices("GPU")) > 1 else _default)()


@STRATEGIES.register("default")
def _default():
    return tf.distribute.get_strategy()


@STRATEGIES.register("mirrored")
def _mirrored():
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


@STRATEGIES.register("multi_worker")
def _multi_worker():
    return tf.distribute.MultiWorkerMirroredStrategy()


def make_strategy(name="auto", logical_cpus=None):
    """Returns the `tf.distribute.Strategy` called `name` (see the module docstring)."""
    build = STRATEGIES.get(name)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                             "(see docs/distribution.md)")
        check_tf_config(os.environ["TF_CONFIG"])
    split_cpu(logical_cpus)
    return build()


def check_tf_config(text):
    """Refuses a TF_CONFIG that MultiWorkerMirroredStrategy would fail on deep inside (or, for a
    list of no workers, silently run as one): a JSON object whose "cluster" maps each job to a
    non-empty list of "host:port" strings and whose "task" names one of them by type and index."""
    def bad(why):
        return ValueError(f"TF_CONFIG {why}; expected e.g. "
                          '{"cluster": {"worker": ["hostA:port", "hostB:port"]}, '
                          '"task": {"type": "worker", "index": 0}}')

    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise bad("is not a JSON object")
    cluster, task = value.get("cluster"), value.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise bad('has no "cluster" object naming its jobs')
    for job, addresses in cluster.items():
        if not (isinstance(addresses, list) and addresses and all(isinstance(a, str) and a for a in addresses)):
            raise bad(f'lists job "{job}" as {json.dumps(addresses)}, not a non-empty list of "host:port" strings')
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise bad(f'has no "task" whose "type" is one of its jobs ({", ".join(cluster)})')
    index = task.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task["type"]]):
        raise bad(f'gives task index {json.dumps(index)}: job "{task["type"]}" has '
                  f'{len(cluster[task["type"]])} task(s), indexed from 0')


def is_chief(strategy):
    """True where this process should write files (always, except non-chief multi-workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0
                                    and "chief" not in resolver.cluster_spec().as_dict())


def describe(strategy):
    """One line for the log: the strategy and its replica count."""
    n = strategy.num_replicas_in_sync
    return f"strategy: {type(strategy).__name__}, {n} replica{'s' if n != 1 else ''}"


@tf.custom_gradient
def _dense_gradient(x):
    # all_gather's gradient cannot take the IndexedSlices that the mixers' tf.gather produce.
    return tf.identity(x), lambda dy: tf.convert_to_tensor(dy)


def on_global_batch(fn, *tensors):
    """Runs `fn` on the global batch and returns this replica's rows of its outputs.

    Under a strategy with R replicas, every replica gathers all rows (all_gather is
    differentiable), makes the same draw (the RNG state is mirrored) and keeps its own
    rows: the same mixes, partners and gradients as one device on the global batch.
    Outside a replica context, or with one replica, it is `fn(*tensors)`.
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return fn(*tensors)
    local = tf.shape(tensors[0])[0]
    gathered = [_dense_gradient(tf.ensure_shape(ctx.all_gather(t, axis=0), [None, *t.shape[1:]]))
                for t in tensors]
    start = ctx.replica_id_in_sync_group * local
    return tuple(o[start: start + local] for o in fn(*gathered))
