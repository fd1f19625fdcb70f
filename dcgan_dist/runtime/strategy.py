"""The one strategy factory: the same trainer on a CPU, one GPU, many GPUs, a TPU, or workers.

    STRATEGIES = {"cpu": ..., "gpu": ..., "mirrored": ..., "multi_worker": ..., "tpu": ...}
    placement = place(config.runtime)  # the strategy, the precision, what the loop asks of it

`--strategy` takes a key of STRATEGIES or `auto` (tpu if --tpu, mirrored on several GPUs, gpu
on one, else cpu). Each builder takes the config's runtime section and returns a
tf.distribute strategy; the ones that need hardware refuse with a UserError that says what to
do instead.
"""

import dataclasses
import json
import os
import re
import shutil

from absl import logging
import tensorflow as tf

from dcgan_dist.errors import UserError
from dcgan_dist.runtime import precision as precision_lib, workers


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
        have = len(current or cpus)
        raise UserError(
            f"--num_cpu_devices={num_devices} came too late: TensorFlow had already started "
            f"in this process with {have} CPU device(s). Run dcgan-train as a new "
            f"process, or, from Python, call dcgan_dist.runtime.strategy.split_cpu({num_devices}) "
            f"before anything else uses TensorFlow; or use --num_cpu_devices={have}") from e


def _cpu(runtime):
    split_cpu(runtime.num_cpu_devices)
    # The default strategy, not OneDeviceStrategy("/cpu:0"): pinning every op to the device
    # measured 35% slower here (125 vs 195 images/s at batch 256, 2 cores).
    return tf.distribute.get_strategy()


def no_gpu_cause():
    """Why TensorFlow may see no GPU, and what to run: the two usual causes are a TensorFlow
    built without CUDA (the cpu extra's tensorflow-cpu, or a wheel without NVIDIA's
    libraries) and no NVIDIA driver."""
    version = ".".join(tf.__version__.split(".")[:2])
    install = f"pip install -c constraints/tf{version}.txt '.[gpu]'"
    if not tf.test.is_built_with_cuda():
        return (f"this TensorFlow {tf.__version__} is a CPU-only build; install the GPU one "
                f"with {install} (in a fresh virtual environment)")
    if not shutil.which("nvidia-smi"):
        return ("no NVIDIA driver: nvidia-smi is not on PATH; install the driver, check that "
                "nvidia-smi lists the GPU, and that TensorFlow's CUDA libraries are there "
                f"({install})")
    return ("TensorFlow could not use the GPU that nvidia-smi may list: a missing CUDA library "
            f"({install} brings NVIDIA's), CUDA_VISIBLE_DEVICES hiding it, or a driver older "
            "than TensorFlow's CUDA; run with --verbose to see TensorFlow's own log")


def _gpu(runtime):
    del runtime
    if not tf.config.list_physical_devices("GPU"):
        raise UserError(f"--strategy=gpu found no GPU. Likely cause: {no_gpu_cause()}; or "
                        "train on the CPU with --strategy=cpu")
    return tf.distribute.get_strategy()  # TensorFlow places the ops on GPU:0


def _mirrored(runtime):
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy(cross_device_ops=ALL_REDUCE[runtime.all_reduce]())
    split_cpu(runtime.num_cpu_devices)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < 2:
        logging.warning("--strategy=mirrored found no GPU, so it mirrors over CPU devices (%s); "
                        "pass --num_cpu_devices=2 or more to run several replicas on the CPU",
                        no_gpu_cause())
    # NCCL needs GPUs; on CPUs reduce through host memory.
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=tf.distribute.ReductionToOneDevice())


def _multi_worker(runtime):
    """MultiWorkerMirroredStrategy, with a timeout so a lost peer is an error.

    The cluster comes from TF_CONFIG (set by launch/multi_worker.sh, Kubeflow's TFJob or
    Vertex AI), or else, inside a SLURM job step, from SLURM's environment.
    """
    if "TF_CONFIG" in os.environ:
        try:
            cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"TF_CONFIG is not valid JSON with a 'cluster' key ({e}); "
                            "see launch/multi_worker.sh") from e
        resolver = None  # the strategy reads TF_CONFIG itself
    elif "SLURM_PROCID" in os.environ:
        resolver = slurm_resolver(runtime.slurm_port_base)
        cluster = resolver.cluster_spec().as_dict()
    else:
        raise UserError("--strategy=multi_worker needs TF_CONFIG describing the cluster, or a "
                        "SLURM job step (srun); see launch/multi_worker.sh or launch/slurm.sbatch")
    logging.info("Multi-worker cluster: %s", cluster)
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=COLLECTIVES[runtime.collective],
        timeout_seconds=(runtime.collective_timeout_secs * workers.TENSORFLOW_TIMEOUT_FACTOR
                         or None))
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver,
                                                     communication_options=options)


def slurm_resolver(port_base):
    """The cluster of this SLURM job step: one worker per task, task 0 the chief."""
    try:
        if "CUDA_VISIBLE_DEVICES" in os.environ or shutil.which("nvidia-smi"):
            # GPU nodes: the resolver splits each node's GPUs among its tasks, renumbering them
            # 0..n-1. With one task per node (launch/slurm.sbatch) the task keeps the list SLURM
            # set: on a node shared with another job it may be 4,5,6,7, and 0..3 would be the
            # other job's GPUs.
            # SLURM_STEP_TASKS_PER_NODE lists tasks per node: "1(x4)", "2,1(x3)".
            one_per_node = re.fullmatch(r"1(\(x\d+\))?(,1(\(x\d+\))?)*",
                                        os.environ.get("SLURM_STEP_TASKS_PER_NODE", ""))
            return tf.distribute.cluster_resolver.SlurmClusterResolver(
                port_base=port_base, auto_set_gpu=one_per_node is None)
        # CPU nodes: the resolver counts GPUs with nvidia-smi and cannot give a task zero of
        # them, so give it one placeholder per task, keep CUDA_VISIBLE_DEVICES alone, and
        # report no accelerators (else the strategy would look for GPU:0).
        num_tasks = int(os.environ.get("SLURM_STEP_NUM_TASKS", 1))
        slurm = tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=port_base, gpus_per_node=num_tasks, gpus_per_task=1, auto_set_gpu=False)
        spec = slurm.cluster_spec()
    except (RuntimeError, ValueError) as e:
        raise UserError(f"could not read the SLURM job step ({e}); run dcgan-train under srun, "
                        "see launch/slurm.sbatch") from e
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        spec, task_type=slurm.task_type, task_id=slurm.task_id, num_accelerators={},
        rpc_layer="grpc")


def _tpu(runtime):
    """Connects to and initialises the TPU named by --tpu ('local' on a TPU VM)."""
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=runtime.tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as e:
        raise UserError(f"could not reach the TPU --tpu={runtime.tpu} ({e}); pass its name, "
                        "grpc:// address, or 'local' on a TPU VM") from e
    strategy = tf.distribute.TPUStrategy(resolver)
    _check_tpu_vm_paths(runtime, strategy.extended.num_hosts)
    return strategy


def _check_tpu_vm_paths(runtime, num_hosts):
    """On a TPU VM (--tpu=local) local paths work while the slice has one host; on a slice of
    several each host has its own disk. (A remote TPU refuses them in Config already.)"""
    local = [f"--{name}={path}" for name, path in runtime.local_paths]
    if not local:
        return
    if num_hosts > 1:
        raise UserError(f"{' and '.join(local)} on a local disk, but this TPU slice has "
                        f"{num_hosts} hosts, each with its own disk; use gs:// paths")
    logging.warning("%s on this TPU VM's local disk: fine on one host; a multi-host slice "
                    "(pod) needs gs:// paths", " and ".join(local))


# Fewer images per replica than this leaves most of a TPU core idle: XLA pads the batch
# dimension to fill the core's matrix units (128 wide), so 16 images cost what 128 do.
MIN_TPU_BATCH_PER_REPLICA = 64


def check_tpu_batch(placement, global_batch_size):
    """Warns when a TPU run gets fewer than MIN_TPU_BATCH_PER_REPLICA images per replica: a
    config added after configs/tpu.cfg (dcgan.cfg's 128, say) replaces its batch of 1024."""
    per_replica = global_batch_size // placement.replicas
    if placement.kind == "tpu" and per_replica < MIN_TPU_BATCH_PER_REPLICA:
        wanted = MIN_TPU_BATCH_PER_REPLICA * placement.replicas
        logging.warning(
            "--global_batch_size=%d is %d images per replica on %d TPU replicas: a TPU core "
            "wants at least %d (it pads smaller batches and idles). A config given after "
            "--config=tpu may have replaced its 1024: put --global_batch_size=%d (or more) "
            "last on the command line", global_batch_size, per_replica, placement.replicas,
            MIN_TPU_BATCH_PER_REPLICA, max(wanted, 1024))
        return False
    return True


STRATEGIES = {"cpu": _cpu, "gpu": _gpu, "mirrored": _mirrored, "multi_worker": _multi_worker,
              "tpu": _tpu}
ALL_REDUCE = {  # --all_reduce: Mirrored on GPUs
    "nccl": tf.distribute.NcclAllReduce,
    "hierarchical_copy": tf.distribute.HierarchicalCopyAllReduce,
}
COLLECTIVES = {  # --collective: multi-worker
    "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
    "ring": tf.distribute.experimental.CommunicationImplementation.RING,
    "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
}


def resolve_kind(runtime):
    """The key of STRATEGIES that `--strategy` (maybe `auto`) stands for on this machine."""
    if runtime.strategy != "auto":
        return runtime.strategy
    if runtime.tpu:
        return "tpu"
    num_gpus = len(tf.config.list_physical_devices("GPU"))
    if num_gpus > 1:
        return "mirrored"
    return "gpu" if num_gpus == 1 else "cpu"


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a run executes: the strategy, and what the loop asks of it, asked once."""
    strategy: tf.distribute.Strategy
    kind: str              # the key of STRATEGIES it stands for (what `auto` resolved to)
    chief: bool            # writes the artifacts and holds the work directory
    task: int              # this worker's task id; 0 off multi-worker
    multi_worker: bool     # MultiWorkerMirroredStrategy: workers must agree (`workers`)
    input_pipelines: int   # one per worker or TPU host, each reading its own shard
    precision: str         # the Keras dtype policy the models compute in
    precision_why: str     # why (`precision.resolve_precision`), for the start-up log
    per_replica_batch_size: int  # the global batch split over the replicas

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync

    def describe(self):
        """A short human description: the strategy class and its replica count."""
        name = type(self.strategy).__name__
        if name.startswith("_Default"):
            name = "default strategy"
        return f"{name} with {self.replicas} replica(s)"


def place(runtime, strategy=None):
    """The Placement of a run: on `strategy` (tests), or on the one `runtime.strategy` names,
    made now, before any other TensorFlow op (multi-worker collectives and TPU
    initialisation must be configured at program start-up); then op determinism when asked,
    the precision, and the batch checked against the replicas."""
    kind = resolve_kind(runtime)
    strategy = strategy or STRATEGIES[kind](runtime)
    resolver = getattr(strategy, "cluster_resolver", None)
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    task = (resolver.task_id or 0) if resolver is not None and resolver.task_type else 0
    if multi_worker:
        input_pipelines = strategy.extended._num_workers  # noqa: SLF001 - no public accessor
    elif isinstance(strategy, tf.distribute.TPUStrategy):
        input_pipelines = strategy.extended.num_hosts
    else:
        input_pipelines = 1
    if runtime.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision, why = precision_lib.resolve_precision(runtime.precision, kind)
    if precision == "mixed_float16" and not tf.config.list_physical_devices("GPU"):
        logging.warning("--precision=mixed_float16 on a CPU is slower than float32; it is "
                        "meant for GPUs")
    global_batch_size, replicas = runtime.global_batch_size, strategy.num_replicas_in_sync
    if global_batch_size % replicas:  # fail early: a batch that does not divide evenly
        lower = global_batch_size - global_batch_size % replicas
        raise UserError(f"--global_batch_size={global_batch_size} is not divisible by the "
                        f"{replicas} replicas; use a multiple such as {max(lower, replicas)}")
    placement = Placement(strategy=strategy, kind=kind, chief=_is_chief(strategy), task=task,
                          multi_worker=multi_worker, input_pipelines=input_pipelines,
                          precision=precision, precision_why=why,
                          per_replica_batch_size=global_batch_size // replicas)
    check_tpu_batch(placement, global_batch_size)
    return placement


def _is_chief(strategy):
    """Whether this process writes artifacts: the chief, or worker 0 when there is no chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type or isinstance(
            strategy, tf.distribute.TPUStrategy):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
