"""Shared fixtures. Splits the CPU into two logical devices before TensorFlow initialises,
so MirroredStrategy runs with two replicas on a machine without GPUs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from dcgan_dist import config as config_lib, prepare  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

TINY_TRAIN, TINY_TEST = 64, 16


def tiny_idx_files(num_train=TINY_TRAIN, num_test=TINY_TEST, seed=0):
    """Four IDX files of random 28x28 digits: a stand-in for MNIST that TFDS stores the same way."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": prepare.encode_idx(rng.integers(0, 256, (num_train, 28, 28))),
        "train-labels-idx1-ubyte": prepare.encode_idx(rng.integers(0, 10, num_train)),
        "t10k-images-idx3-ubyte": prepare.encode_idx(rng.integers(0, 256, (num_test, 28, 28))),
        "t10k-labels-idx1-ubyte": prepare.encode_idx(rng.integers(0, 10, num_test)),
    }


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    """A TFDS data_dir holding a tiny `mnist:3.0.1` (64 train, 16 test random images)."""
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    prepare.write_mnist(tiny_idx_files(), data_dir)
    return data_dir


@pytest.fixture
def make_config(tmp_path, tiny_data_dir):
    """Config factory: a small, fast run on the tiny dataset, overridable by keyword."""

    def make(**overrides):
        values = dict(workdir=str(tmp_path / "work"), data_dir=tiny_data_dir,
                      global_batch_size=8, train_steps=2, log_every_steps=1, precision="float32",
                      strategy="cpu")
        values.update(overrides)
        return config_lib.Config(**values)

    return make


@pytest.fixture(autouse=True)
def _float32_policy():
    """Tests that build models under a mixed policy must not leak it into the next test."""
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def all_weights(state):
    return [v.numpy() for v in state.generator.weights + state.discriminator.weights]


def trainable_weights(state):
    return [v.numpy() for v in state.generator.trainable_weights +
            state.discriminator.trainable_weights]


def two_replicas():
    return tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())


def one_replica():
    return tf.distribute.OneDeviceStrategy("/cpu:0")
