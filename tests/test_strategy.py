"""The strategy factory on a CPU: what can be checked of the TPU and SLURM paths without the
hardware or the cluster (the TPU resolver mocked, SLURM's environment faked), and how a lost
peer is named. Real multi-worker runs are in test_multi_worker.py."""

import os
from unittest import mock

import pytest
import tensorflow as tf

from dcgan_dist import config as config_lib
from dcgan_dist.errors import UserError
from dcgan_dist.runtime import precision, strategy as strategy_lib, workers


def make_strategy(config):
    """The strategy `config` asks for, made by its builder (what place() starts with; place
    itself cannot run on the mocked TPUStrategy class, which isinstance cannot take)."""
    return strategy_lib.STRATEGIES[strategy_lib.resolve_kind(config.runtime)](config.runtime)


def test_tpu_strategy_is_built_from_the_resolver(tmp_path):
    config = config_lib.Config.of(workdir="gs://bucket/run", data_dir="gs://bucket/tfds",
                               strategy="tpu", tpu="my-tpu")
    with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver") as resolver, \
            mock.patch.object(tf.config, "experimental_connect_to_cluster") as connect, \
            mock.patch.object(tf.tpu.experimental, "initialize_tpu_system") as initialize, \
            mock.patch.object(tf.distribute, "TPUStrategy") as tpu_strategy:
        strategy = make_strategy(config)
    resolver.assert_called_once_with(tpu="my-tpu")
    connect.assert_called_once_with(resolver.return_value)
    initialize.assert_called_once_with(resolver.return_value)
    tpu_strategy.assert_called_once_with(resolver.return_value)
    assert strategy is tpu_strategy.return_value
    assert strategy_lib.resolve_kind(config.runtime) == "tpu"
    assert precision.resolve_precision(config.runtime.precision, "tpu")[0] == "mixed_bfloat16"


def test_tpu_auto_selection_and_unreachable_tpu():
    config = config_lib.Config.of(workdir="gs://b/run", data_dir="gs://b/tfds", tpu="x")
    assert strategy_lib.resolve_kind(config.runtime) == "tpu"
    with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver",
                           side_effect=ValueError("Could not find TPU x")):
        with pytest.raises(UserError, match="could not reach the TPU --tpu=x"):
            make_strategy(config)


@pytest.mark.parametrize("paths, bad", [
    (dict(workdir="/tmp/run", data_dir="gs://b/tfds"), "--workdir=/tmp/run must be a gs:// path"),
    (dict(workdir="gs://b/run", data_dir="/data"), "--data_dir=/data must be a gs:// path"),
    (dict(workdir="gs://b/run"), "--data_dir=None must be a gs:// path"),
])
def test_tpu_refuses_local_paths_before_anything_starts(paths, bad):
    with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver") as resolver:
        with pytest.raises(UserError, match=bad):
            config_lib.Config.of(strategy="tpu", tpu="t", **paths)
    resolver.assert_not_called()


def _tpu_vm_strategy(config, num_hosts):
    """make_strategy on a mocked TPU VM slice of `num_hosts` hosts; returns (error, warnings)."""
    with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver"), \
            mock.patch.object(tf.config, "experimental_connect_to_cluster"), \
            mock.patch.object(tf.tpu.experimental, "initialize_tpu_system"), \
            mock.patch.object(tf.distribute, "TPUStrategy") as tpu_strategy, \
            mock.patch.object(strategy_lib.logging, "warning") as warning:
        tpu_strategy.return_value.extended.num_hosts = num_hosts
        try:
            make_strategy(config)
        except UserError as e:
            return str(e), warning.call_args_list
    return None, warning.call_args_list


def test_tpu_vm_takes_local_paths_on_one_host_with_a_warning(tmp_path):
    config = config_lib.Config.of(strategy="tpu", tpu="local", workdir=str(tmp_path / "run"),
                               data_dir=str(tmp_path / "tfds"))
    error, warnings = _tpu_vm_strategy(config, num_hosts=1)
    assert error is None
    assert len(warnings) == 1
    message = warnings[0].args[0] % warnings[0].args[1:]
    assert f"--workdir={tmp_path / 'run'} and --data_dir={tmp_path / 'tfds'}" in message
    assert "a multi-host slice (pod) needs gs:// paths" in message
    gs_config = config_lib.Config.of(strategy="tpu", tpu="local", workdir="gs://b/run",
                                  data_dir="gs://b/tfds")
    assert _tpu_vm_strategy(gs_config, num_hosts=4) == (None, [])


def test_tpu_pod_slice_refuses_local_paths(tmp_path):
    config = config_lib.Config.of(strategy="tpu", tpu="local", workdir=str(tmp_path / "run"),
                               data_dir="gs://b/tfds")
    error, _ = _tpu_vm_strategy(config, num_hosts=4)
    assert error == (f"--workdir={tmp_path / 'run'} on a local disk, but this TPU slice has 4 "
                     "hosts, each with its own disk; use gs:// paths")
    assert not (tmp_path / "run").exists()


SLURM_STEP = {"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2",
              "SLURM_STEP_NODELIST": "node[01-02]", "SLURM_STEP_TASKS_PER_NODE": "1(x2)"}


def _slurm_env(monkeypatch, tmp_path, step, gpus):
    """SLURM's variables for task 1 of 2, and an nvidia-smi listing `gpus` GPUs (None: none)."""
    for name in ("TF_CONFIG", "CUDA_VISIBLE_DEVICES", *SLURM_STEP):
        # Restored after the test, even if set inside (the resolver sets CUDA_VISIBLE_DEVICES,
        # which a later multi-worker test's processes would inherit): delenv alone records
        # nothing for a variable that is not set, setenv first records that too.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    for name, value in step.items():
        monkeypatch.setenv(name, value)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if gpus is not None:
        smi = bin_dir / "nvidia-smi"
        smi.write_text("#!/usr/bin/env bash\n" + "".join(
            f'echo "GPU {i}: Fake (UUID: GPU-{i})"\n' for i in range(gpus)))
        smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return config_lib.Config.of(workdir=str(tmp_path / "run"), strategy="multi_worker",
                             slurm_port_base=7000)


@pytest.mark.parametrize("gpus", [None, 4])
def test_slurm_resolver_names_every_task_and_this_ones_place(monkeypatch, tmp_path, gpus):
    config = _slurm_env(monkeypatch, tmp_path, SLURM_STEP, gpus)
    resolver = strategy_lib.slurm_resolver(config.runtime.slurm_port_base)
    assert resolver.cluster_spec().as_dict() == {"worker": ["node01:7000", "node02:7000"]}
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)
    # GPU nodes: the one task of each node gets all its GPUs, and CUDA_VISIBLE_DEVICES stays
    # as SLURM left it (here: unset, every GPU); CPU nodes: no accelerators.
    assert resolver.num_accelerators() == ({"GPU": 4} if gpus else {})
    assert os.environ.get("CUDA_VISIBLE_DEVICES") is None


@pytest.mark.parametrize("tasks_per_node, visible, expected", [
    ("1(x2)", "4,5,6,7", "4,5,6,7"),   # a node shared with another job: SLURM's GPUs, kept
    ("2", "0,1,2,3", "2,3"),           # two tasks on a node: the resolver splits its GPUs
])
def test_slurm_resolver_keeps_slurms_gpus_for_one_task_per_node(monkeypatch, tmp_path,
                                                                  tasks_per_node, visible,
                                                                  expected):
    step = {**SLURM_STEP, "SLURM_STEP_TASKS_PER_NODE": tasks_per_node,
            "SLURM_STEP_NODELIST": "node01" if tasks_per_node == "2" else "node[01-02]"}
    config = _slurm_env(monkeypatch, tmp_path, step, gpus=4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    resolver = strategy_lib.slurm_resolver(config.runtime.slurm_port_base)
    resolver.cluster_spec()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == expected
    assert resolver.num_accelerators() == {"GPU": len(expected.split(","))}


def test_a_broken_slurm_step_is_one_clear_error(monkeypatch, tmp_path):
    step = {k: v for k, v in SLURM_STEP.items() if k != "SLURM_STEP_NODELIST"}
    config = _slurm_env(monkeypatch, tmp_path, step, gpus=None)
    with pytest.raises(UserError, match=r"^could not read the SLURM job step \(SLURM_STEP_NODELIST "
                                        r"not found in environment.*see launch/slurm.sbatch$"):
        strategy_lib.slurm_resolver(config.runtime.slurm_port_base)


def test_a_lost_peer_is_named_not_this_worker():
    # The shape of TensorFlow's message when worker 1 stops sending heartbeats: worker 0's own
    # device comes first, the peer in the short /job/task form.
    error = tf.errors.UnavailableError(None, None, (
        "From /job:worker/replica:0/task:0: Collective ops is aborted by: Error reported from "
        "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats)"))
    assert workers.peer_summary(error, own_task=0) == "/job:worker/task:1: it stopped answering"
    assert workers.peer_summary(error, own_task=1).endswith("task:0: it stopped answering")


def test_placement_says_where_a_run_executes(tmp_path):
    from conftest import two_replicas
    config = config_lib.Config.of(workdir=str(tmp_path), strategy="cpu")
    alone = strategy_lib.place(config.runtime)
    assert (alone.kind, alone.chief, alone.task, alone.multi_worker, alone.input_pipelines,
            alone.replicas) == ("cpu", True, 0, False, 1, 1)
    assert alone.describe() == "default strategy with 1 replica(s)"
    mirrored = strategy_lib.place(
        config_lib.Config.of(workdir=str(tmp_path), strategy="mirrored").runtime, two_replicas())
    assert (mirrored.kind, mirrored.replicas, mirrored.input_pipelines) == ("mirrored", 2, 1)
    assert mirrored.describe() == "MirroredStrategy with 2 replica(s)"


@pytest.mark.parametrize("cluster, task, chief", [
    ({"worker": ["a:1", "b:2"]}, ("worker", 0), True),     # launch/multi_worker.sh: worker 0
    ({"worker": ["a:1", "b:2"]}, ("worker", 1), False),
    ({"chief": ["a:1"], "worker": ["b:2"]}, ("chief", 0), True),  # Vertex AI: the chief task
    ({"chief": ["a:1"], "worker": ["b:2"]}, ("worker", 0), False),
])
def test_the_chief_is_the_chief_task_or_else_worker_0(cluster, task, chief):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task[0], task_id=task[1])
    fake = mock.Mock(spec=["cluster_resolver"], cluster_resolver=resolver)
    assert strategy_lib._is_chief(fake) is chief
