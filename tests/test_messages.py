"""Messages that fix the problem (issue 22), asserted line for line, in this process: no GPU
found, a batch larger than the dataset, a CPU split that came too late, a TPU batch too small
per replica (a missing nested flagfile is in test_flagfiles.py)."""

import logging
import shutil
from unittest import mock

import pytest
import tensorflow as tf

from dcgan_dist.programs import train
from dcgan_dist.runtime import strategy as strategy_lib
from helpers import last_line, run_in_process, tiny_run_args

VERSION = ".".join(tf.__version__.split(".")[:2])
INSTALL = f"pip install -c constraints/tf{VERSION}.txt '.[gpu]'"


def _train(tmp_path, capsys, *extra):
    return run_in_process(train.run, "dcgan-train", tiny_run_args(
        tmp_path / "run", tmp_path, "--train_steps=1", *extra), capsys)


@pytest.fixture
def no_gpu(monkeypatch):
    """TensorFlow sees no GPU, whichever machine runs the test: --strategy=gpu must explain."""
    list_devices = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda device_type=None: (
        [] if device_type == "GPU" else list_devices(device_type)))


@pytest.mark.parametrize("cuda, smi, cause", [
    (False, "/usr/bin/nvidia-smi",
     f"this TensorFlow {tf.__version__} is a CPU-only build; install the GPU one with "
     f"{INSTALL} (in a fresh virtual environment)"),
    (True, None,
     "no NVIDIA driver: nvidia-smi is not on PATH; install the driver, check that nvidia-smi "
     f"lists the GPU, and that TensorFlow's CUDA libraries are there ({INSTALL})"),
    (True, "/usr/bin/nvidia-smi",
     "TensorFlow could not use the GPU that nvidia-smi may list: a missing CUDA library "
     f"({INSTALL} brings NVIDIA's), CUDA_VISIBLE_DEVICES hiding it, or a driver older than "
     "TensorFlow's CUDA; run with --verbose to see TensorFlow's own log"),
])
def test_no_gpu_names_the_likely_cause_and_the_command(cuda, smi, cause, no_gpu, tmp_path,
                                                       capsys):
    with mock.patch.object(tf.test, "is_built_with_cuda", return_value=cuda), \
            mock.patch.object(shutil, "which", return_value=smi):
        code, _, err = _train(tmp_path, capsys, "--strategy=gpu")
    assert code == 2
    assert last_line(err) == (f"dcgan-train: error: --strategy=gpu found no GPU. Likely cause: "
                              f"{cause}; or train on the CPU with --strategy=cpu")


def test_the_installed_tensorflow_is_named_for_what_it_is(no_gpu, tmp_path, capsys):
    # The real TensorFlow here, CPU-only (the cpu extra's tensorflow-cpu has no CUDA) or a
    # CUDA build: the cause agrees with the build information TensorFlow was compiled with.
    code, _, err = _train(tmp_path, capsys, "--strategy=gpu")
    assert code == 2 and "Likely cause: " in last_line(err)
    cpu_only = not tf.sysconfig.get_build_info().get("is_cuda_build", False)
    assert ("Likely cause: this TensorFlow" in last_line(err)) == cpu_only, last_line(err)
    assert ("is a CPU-only build" in last_line(err)) == cpu_only, last_line(err)


@pytest.mark.slow
def test_a_batch_larger_than_the_dataset_says_which_batch_fits(tiny_data_dir, tmp_path, capsys):
    code, _, err = _train(tmp_path, capsys, f"--data_dir={tiny_data_dir}", "--nosynthetic_data",
                          "--global_batch_size=100")
    assert code == 2
    assert last_line(err) == ("dcgan-train: error: --global_batch_size=100 is larger than the 64 "
                              "examples of mnist:train; use --global_batch_size=64 or less, or "
                              "add images to the dataset")
    code, _, err = _train(tmp_path, capsys, f"--data_dir={tiny_data_dir}", "--nosynthetic_data",
                          "--global_batch_size=66", "--strategy=mirrored", "--num_cpu_devices=2")
    assert last_line(err).endswith("use --global_batch_size=64 or less (a multiple of the 2 "
                                   "replicas), or add images to the dataset")


def test_a_cpu_split_that_came_too_late_says_what_to_do(tmp_path, capsys):
    # conftest split the CPU in two before TensorFlow started; four cannot follow.
    code, _, err = _train(tmp_path, capsys, "--strategy=mirrored", "--num_cpu_devices=4",
                          "--global_batch_size=4")
    assert code == 2
    assert last_line(err) == (
        "dcgan-train: error: --num_cpu_devices=4 came too late: TensorFlow had already started "
        "in this process with 2 CPU device(s). Run dcgan-train as a new process, or, from "
        "Python, call dcgan_dist.runtime.strategy.split_cpu(4) before anything else uses "
        "TensorFlow; or use --num_cpu_devices=2")


def _placement(kind, replicas):
    fake = mock.Mock(num_replicas_in_sync=replicas)
    return strategy_lib.Placement(strategy=fake, kind=kind, chief=True, task=0,
                                  multi_worker=False, input_pipelines=1, precision="float32",
                                  precision_why="set by --precision", per_replica_batch_size=1)


def test_a_tpu_batch_under_64_per_replica_warns(caplog):
    with caplog.at_level(logging.WARNING):
        assert not strategy_lib.check_tpu_batch(_placement("tpu", 8), 128)
    assert caplog.records[-1].getMessage() == (
        "--global_batch_size=128 is 16 images per replica on 8 TPU replicas: a TPU core wants "
        "at least 64 (it pads smaller batches and idles). A config given after --config=tpu "
        "may have replaced its 1024: put --global_batch_size=1024 (or more) last on the "
        "command line")
    caplog.clear()
    assert strategy_lib.check_tpu_batch(_placement("tpu", 8), 1024)
    assert strategy_lib.check_tpu_batch(_placement("gpu", 8), 128)  # GPUs: no such rule
    assert not caplog.records
