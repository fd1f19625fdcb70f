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


def batches(config, num, start_step=0, strategy=None, source=None):
    """The first `num` batches a run of `config` reads from `start_step` (per replica with a
    strategy), through the data source it picks or the one named by `source`."""
    from dcgan_dist import data
    info = data.load_info(config)
    src = data.SOURCES[source](config, info) if source else data.make_source(config, info)
    if strategy is None:
        return [b.numpy() for b in src.make_dataset(tf.distribute.InputContext(), start_step)
                .take(num)]
    it = iter(strategy.distribute_datasets_from_function(
        lambda ctx: src.make_dataset(ctx, start_step)))
    return [[r.numpy() for r in strategy.experimental_local_results(next(it))] for _ in range(num)]


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


def write_image_folder(folder, num_images=24, seed=0):
    """A folder of generated photo-like files: PNG, upper-case .JPG, BMP, GIF; grey and RGB;
    non-square sizes; a nested subfolder, a corrupt image and a text file.

    Every image is a centred square of one colour between two side bands of others, so a
    correct center crop keeps only the square's colour.
    """
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(folder, "nested", "deeper"), exist_ok=True)
    kinds = [("png", "RGB"), ("JPG", "RGB"), ("bmp", "L"), ("gif", "RGB"), ("png", "L")]
    for i in range(num_images):
        ext, mode = kinds[i % len(kinds)]
        height, width = (40, 56) if i % 2 else (48, 36)
        side = min(height, width)
        array = np.zeros((height, width, 3), np.uint8)
        array[...] = rng.integers(0, 256, 3)  # bands
        top, left = (height - side) // 2, (width - side) // 2
        array[top:top + side, left:left + side] = rng.integers(0, 256, 3)  # the centre square
        image = Image.fromarray(array).convert(mode)
        sub = "" if i % 3 else os.path.join("nested", "deeper" if i % 2 else "")
        image.save(os.path.join(folder, sub, f"img_{i:03d}.{ext}"))
    with open(os.path.join(folder, "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not an image")
    return folder


@pytest.fixture(scope="session")
def folder_data_dir(tmp_path_factory):
    """A TFDS data_dir holding `gen_images` (24 generated RGB images prepared at 32x32)."""
    from dcgan_dist import prepare_folder
    source = write_image_folder(str(tmp_path_factory.mktemp("images")))
    data_dir = str(tmp_path_factory.mktemp("tfds_folder"))
    prepare_folder.prepare_folder(source, "gen_images", data_dir, image_size=32)
    return data_dir
