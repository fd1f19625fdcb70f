"""What a CPU can check of the XLA and TPU paths: jit-compiled replica steps, and the TPU
strategy built through a mocked cluster resolver (the only part that needs the hardware)."""

from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import UserError, loop, config as config_lib, strategy as strategy_lib
from conftest import one_replica, trainable_weights, two_replicas


def test_mirrored_jit_matches_plain_tensorflow(make_config, tmp_path):
    """Two replicas, 2 steps, with and without XLA on the replica function.

    In float64, as the keystone: XLA fuses and reorders arithmetic, and in float32 the
    rounding flips the sign of near-zero gradients, which Adam turns into lr-sized steps
    (measured: 1.2e-7 apart on one VM, 3.4e-4 on another of the same kind). Dropout is off because XLA's random-number generator draws
    other masks than TensorFlow's kernels from the same stateless seed (measured: different
    uniforms for the same Philox seed), which is a different run, not an error.
    """
    runs = {}
    for jit in (False, True):
        config = make_config(workdir=str(tmp_path / f"jit{jit}"), jit_compile=jit,
                             train_steps=2, global_batch_size=8, d_dropout=0.0,
                             precision="float64")
        runs[jit] = loop.train(config, strategy=two_replicas())
    plain, jitted = trainable_weights(runs[False]), trainable_weights(runs[True])
    assert max(np.max(np.abs(a - b)) for a, b in zip(plain, jitted)) < 1e-6
    assert not np.array_equal(plain[0], trainable_weights(loop.train(make_config(
        workdir=str(tmp_path / "fewer"), train_steps=1, d_dropout=0.0), strategy=two_replicas()))[0])


def test_bf16_step_compiles_under_xla_with_static_shapes(make_config):
    config = make_config(jit_compile=True, precision="mixed_bfloat16", synthetic_data=True,
                         steps_per_execution=2, train_steps=2, d_dropout=0.3)
    state = loop.train(config, strategy=one_replica())
    assert state.generator.layers[0].compute_dtype == "bfloat16"
    assert int(state.step.numpy()) == 2
    assert all(np.all(np.isfinite(w)) for w in trainable_weights(state))


def test_tpu_strategy_is_built_from_the_resolver(tmp_path):
    config = config_lib.Config(workdir="gs://bucket/run", data_dir="gs://bucket/tfds",
                               strategy="tpu", tpu="my-tpu")
    with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver") as resolver, \
            mock.patch.object(tf.config, "experimental_connect_to_cluster") as connect, \
            mock.patch.object(tf.tpu.experimental, "initialize_tpu_system") as initialize, \
            mock.patch.object(tf.distribute, "TPUStrategy") as tpu_strategy:
        strategy = strategy_lib.make_strategy(config)
    resolver.assert_called_once_with(tpu="my-tpu")
    connect.assert_called_once_with(resolver.return_value)
    initialize.assert_called_once_with(resolver.return_value)
    tpu_strategy.assert_called_once_with(resolver.return_value)
    assert strategy is tpu_strategy.return_value
    assert strategy_lib.resolve_kind(config) == "tpu"
    assert strategy_lib.resolve_precision(config, "tpu")[0] == "mixed_bfloat16"


def test_tpu_auto_selection_and_unreachable_tpu():
    config = config_lib.Config(workdir="gs://b/run", data_dir="gs://b/tfds", tpu="x")
    assert strategy_lib.resolve_kind(config) == "tpu"
    with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver",
                           side_effect=ValueError("Could not find TPU x")):
        with pytest.raises(UserError, match="could not reach the TPU --tpu=x"):
            strategy_lib.make_strategy(config)


@pytest.mark.parametrize("paths, bad", [
    (dict(workdir="/tmp/run", data_dir="gs://b/tfds"), "--workdir=/tmp/run must be a gs:// path"),
    (dict(workdir="gs://b/run", data_dir="/data"), "--data_dir=/data must be a gs:// path"),
    (dict(workdir="gs://b/run"), "--data_dir=None must be a gs:// path"),
])
def test_tpu_refuses_local_paths_before_anything_starts(paths, bad):
    with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver") as resolver:
        with pytest.raises(UserError, match=bad):
            config_lib.Config(strategy="tpu", tpu="t", **paths)
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
            strategy_lib.make_strategy(config)
        except UserError as e:
            return str(e), warning.call_args_list
    return None, warning.call_args_list


def test_tpu_vm_takes_local_paths_on_one_host_with_a_warning(tmp_path):
    config = config_lib.Config(strategy="tpu", tpu="local", workdir=str(tmp_path / "run"),
                               data_dir=str(tmp_path / "tfds"))
    error, warnings = _tpu_vm_strategy(config, num_hosts=1)
    assert error is None
    assert len(warnings) == 1
    message = warnings[0].args[0] % warnings[0].args[1:]
    assert f"--workdir={tmp_path / 'run'} and --data_dir={tmp_path / 'tfds'}" in message
    assert "a multi-host slice (pod) needs gs:// paths" in message
    gs_config = config_lib.Config(strategy="tpu", tpu="local", workdir="gs://b/run",
                                  data_dir="gs://b/tfds")
    assert _tpu_vm_strategy(gs_config, num_hosts=4) == (None, [])


def test_tpu_pod_slice_refuses_local_paths(tmp_path):
    config = config_lib.Config(strategy="tpu", tpu="local", workdir=str(tmp_path / "run"),
                               data_dir="gs://b/tfds")
    error, _ = _tpu_vm_strategy(config, num_hosts=4)
    assert error == (f"--workdir={tmp_path / 'run'} on a local disk, but this TPU slice has 4 "
                     "hosts, each with its own disk; use gs:// paths")
    assert not (tmp_path / "run").exists()
