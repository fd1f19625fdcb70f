"""The one strategy factory: the same trainer on a CPU, one GPU, many GPUs, a TPU, or workers."""

import json
import os

from absl import logging
import tensorflow as tf

from dcgan_dist import UserError


def split_cpu(num_devices):
    """Splits the physical CPU into `num_devices` logical devices (before TF initialises).

    This is how MirroredStrategy runs without GPUs: in tests, smoke runs and benchmarks.
    """
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if num_devices <= 1 or (current and len(current) >= num_devices):
        return
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError as e:
        raise UserError(f"--num_cpu_devices={num_devices} came too late: TensorFlow was already "
                        f"initialised ({e})") from e


def resolve_kind(config):
    """The strategy kind `auto` stands for on this machine."""
    if config.strategy != "auto":
        return config.strategy
    if config.tpu:
        return "tpu"
    num_gpus = len(tf.config.list_physical_devices("GPU"))
    if num_gpus > 1:
        return "mirrored"
    return "gpu" if num_gpus == 1 else "cpu"


def make_strategy(config):
    """Returns the tf.distribute strategy that `config.strategy` names.

    Call it before any other TensorFlow op: multi-worker collectives and TPU initialisation
    must be configured at program start-up.
    """
    kind = resolve_kind(config)
    if kind == "cpu":
        split_cpu(config.num_cpu_devices)
        # The default strategy, not OneDeviceStrategy("/cpu:0"): pinning every op to the
        # device measured 35% slower here (125 vs 195 images/s at batch 256, 2 cores).
        return tf.distribute.get_strategy()
    if kind == "gpu":
        if not tf.config.list_physical_devices("GPU"):
            raise UserError("--strategy=gpu found no GPU; use --strategy=cpu or auto")
        return tf.distribute.get_strategy()  # TensorFlow places the ops on GPU:0
    if kind == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy(cross_device_ops=_ALL_REDUCE[config.all_reduce]())
        split_cpu(config.num_cpu_devices)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(devices) < 2:
            logging.warning("--strategy=mirrored on one CPU device: pass --num_cpu_devices=2 "
                            "or more to run several replicas")
        # NCCL needs GPUs; on CPUs reduce through host memory.
        return tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if kind == "multi_worker":
        return _make_multi_worker(config)
    if kind == "tpu":
        return _make_tpu(config)
    raise UserError(f"--strategy={kind} is unknown")


_ALL_REDUCE = {
    "nccl": tf.distribute.NcclAllReduce,
    "hierarchical_copy": tf.distribute.HierarchicalCopyAllReduce,
}
_COLLECTIVE = {
    "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
    "ring": tf.distribute.experimental.CommunicationImplementation.RING,
    "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
}


def _make_multi_worker(config):
    """MultiWorkerMirroredStrategy from TF_CONFIG, with a timeout so a lost peer is an error."""
    if "TF_CONFIG" not in os.environ:
        raise UserError("--strategy=multi_worker needs TF_CONFIG describing the cluster; "
                        "see launch/multi_worker.sh")
    try:
        cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"TF_CONFIG is not valid JSON with a 'cluster' key ({e}); "
                        "see launch/multi_worker.sh") from e
    logging.info("Multi-worker cluster: %s", cluster)
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=_COLLECTIVE[config.collective],
        timeout_seconds=config.collective_timeout_secs or None)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _make_tpu(config):
    """Connects to and initialises the TPU named by --tpu ('local' on a TPU VM)."""
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=config.tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as e:
        raise UserError(f"could not reach the TPU --tpu={config.tpu} ({e}); pass its name, "
                        "grpc:// address, or 'local' on a TPU VM") from e
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """Whether this process writes artifacts: the chief, or worker 0 when there is no chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type or isinstance(
            strategy, tf.distribute.TPUStrategy):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return (resolver.task_id or 0) if resolver is not None and resolver.task_type else 0


def resolve_precision(config, kind):
    """`auto` is mixed_bfloat16 on TPU, mixed_float16 on GPUs and float32 on CPUs."""
    if config.precision != "auto":
        return config.precision
    if kind == "tpu":
        return "mixed_bfloat16"
    if kind != "cpu" and tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "float32"


def describe(strategy):
    """A short human description: the strategy class and its replica count."""
    name = type(strategy).__name__
    if name.startswith("_Default"):
        name = "default strategy"
    return f"{name} with {strategy.num_replicas_in_sync} replica(s)"


def num_input_pipelines(strategy):
    """How many input pipelines `distribute_datasets_from_function` builds: one per worker
    (multi-worker) or per TPU host, else one. Each holds its own shard of the data."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return strategy.extended._num_workers  # noqa: SLF001 - no public accessor
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return strategy.extended.num_hosts
    return 1
