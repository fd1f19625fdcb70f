"""Shared fixtures. Splits the CPU into two logical devices before TensorFlow initialises,
so MirroredStrategy runs with two replicas on a machine without GPUs.

Datasets are tiny and generated (no real images can be downloaded here); models are narrow
unless a test is about their width; one trained run (`trained_run`) serves every test that
reads a run directory (eval, generate, export).
"""

import contextlib
import fcntl
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One intra-op thread per TensorFlow process, in-process and in the programs the tests start
# (they inherit it): the suite runs three pytest workers and their programs on two cores,
# where TensorFlow's thread pools spin waiting for each other's cores, and the tests' tiny
# models gain nothing from a second thread (measured alone: a keystone 8% less CPU and less
# wall time; the whole suite: see tests/run.sh).
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
# XLA's tests (jit_compile) test what XLA computes, not how fast its code runs: LLVM's
# optimisation of the compiled code off (XLA's own passes, fusion among them, still run)
# saves ~20% of their CPU (measured: test_step's two jit tests, 64 -> 52 s).
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from dcgan_dist.config import Config  # noqa: E402
from dcgan_dist.data import mnist  # noqa: E402
from dcgan_dist.models import strided  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

TINY_TRAIN, TINY_TEST = 64, 16


def tiny_idx_files(num_train=TINY_TRAIN, num_test=TINY_TEST, seed=0):
    """Four IDX files of random 28x28 digits: a stand-in for MNIST that TFDS stores the same way."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": mnist.encode_idx(rng.integers(0, 256, (num_train, 28, 28))),
        "train-labels-idx1-ubyte": mnist.encode_idx(rng.integers(0, 10, num_train)),
        "t10k-images-idx3-ubyte": mnist.encode_idx(rng.integers(0, 256, (num_test, 28, 28))),
        "t10k-labels-idx1-ubyte": mnist.encode_idx(rng.integers(0, 10, num_test)),
    }


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    """A TFDS data_dir holding a tiny `mnist:3.0.1` (64 train, 16 test random images)."""
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    mnist.write_mnist(tiny_idx_files(), data_dir)
    return data_dir


# Narrow models: the tests check arithmetic and plumbing, not quality (not auto precision
# either: the same numbers on every CPU).
SMALL = dict(g_filters=16, d_filters=8, noise_dim=16, precision="float32")


@pytest.fixture
def make_config(tmp_path, tiny_data_dir):
    """Config factory: a small, fast run on the tiny dataset, overridable by keyword."""

    def make(**overrides):
        values = dict(workdir=str(tmp_path / "work"), data_dir=tiny_data_dir,
                      global_batch_size=8, train_steps=2, log_every_steps=1, strategy="cpu",
                      **SMALL)
        values.update(overrides)
        return Config.of(**values)

    return make


@pytest.fixture(autouse=True)
def _float32_policy():
    """Tests that build models under a mixed policy must not leak it into the next test."""
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@contextlib.contextmanager
def _once_for_all_workers(tmp_path_factory, name):
    """(folder, built): a folder shared by every pytest-xdist worker of this session, and
    whether it is already built; the first worker to come builds it while the others wait."""
    root = tmp_path_factory.getbasetemp()  # this session's; under xdist, this worker's
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's, shared by its workers
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder, (folder / "done").exists()
        (folder / "done").touch()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished run directory, trained once for the whole session: 4 steps on the tiny
    MNIST with an EMA generator and a periodic evaluation at steps 2 and 4 (which trains and
    caches the tiny dataset's classifier in the run's data_dir). Shared by every test that
    reads a run directory; tests that write into it (dcgan-eval appends eval.jsonl) take
    `trained_run_copy`."""
    from dcgan_dist import loop
    from dcgan_dist.evaluation import evaluator
    with _once_for_all_workers(tmp_path_factory, "trained_run") as (folder, built):
        if not built:
            data_dir = folder / "tfds"
            mnist.write_mnist(tiny_idx_files(), str(data_dir))
            config = Config.of(
                workdir=str(folder / "run"), data_dir=str(data_dir), global_batch_size=8,
                train_steps=4, log_every_steps=1, strategy="cpu", g_ema_decay=0.5,
                eval_every_steps=2, eval_num_images=32, **SMALL)
            loop.train(config)
            # Reference statistics on the session's stand-in Inception graph, cached now:
            # the tests that score this run read them and never write them.
            evaluator.Evaluator.for_run(
                config.replace(inception_path=_stand_in_graph_file(tmp_path_factory)).evaluation,
                (28, 28, 1))
    return folder / "run"


@pytest.fixture(scope="session")
def conditional_run(tmp_path_factory):
    """`trained_run`'s conditional twin, trained once for the session: 4 steps with
    --conditional on the tiny MNIST (10 classes), an EMA generator, a grid at steps 2 and 4,
    and a periodic evaluation at step 4. Shared by the tests that generate, export and score
    by class; tests that write into it take a copy."""
    from dcgan_dist import loop
    with _once_for_all_workers(tmp_path_factory, "conditional_run") as (folder, built):
        if not built:
            data_dir = folder / "tfds"
            mnist.write_mnist(tiny_idx_files(), str(data_dir))
            loop.train(Config.of(
                workdir=str(folder / "run"), data_dir=str(data_dir), global_batch_size=8,
                train_steps=4, log_every_steps=2, sample_every_steps=2, strategy="cpu",
                conditional=True, g_ema_decay=0.5, eval_every_steps=4, eval_num_images=20,
                **SMALL))
    return folder / "run"


def write_class_folder(folder, per_class=12, size=16):
    """Grey PNGs of shape_images' three shapes, one sub-folder per shape: square/, bar/ and
    column/ (sorted: bar 0, column 1, square 2), nested one level deeper for some."""
    from PIL import Image
    names = ["square", "bar", "column"]  # shape_images' label order
    labels = np.arange(3 * per_class) % 3
    for i, (image, label) in enumerate(zip(shape_images(labels, size), labels)):
        sub = os.path.join(folder, names[label], "more" if i % 4 == 0 else "")
        os.makedirs(sub, exist_ok=True)
        Image.fromarray(image[..., 0]).save(os.path.join(sub, f"{i:03d}.png"))
    return folder


@pytest.fixture
def trained_run_copy(trained_run, tmp_path):
    """A copy of `trained_run` a test may write into."""
    shutil.copytree(trained_run, tmp_path / "run")
    return tmp_path / "run"


def batches(config, num, start_step=0, strategy=None, source=None):
    """The first `num` batches a run of `config` reads from `start_step` (per replica with a
    strategy), through the data source it picks or the one named by `source`."""
    from dcgan_dist.data import info as data_info, sources
    info = data_info.load_info(config.data)
    src = (sources.SOURCES[source](config.data, info) if source
           else sources.make_source(config.data, info))
    numpy = lambda batch: tf.nest.map_structure(lambda t: t.numpy(), batch)  # noqa: E731
    if strategy is None:  # (images, labels) pairs with --conditional
        return [numpy(b) for b in src.make_dataset(tf.distribute.InputContext(), start_step)
                .take(num)]
    it = iter(strategy.distribute_datasets_from_function(
        lambda ctx: src.make_dataset(ctx, start_step)))
    return [[numpy(r) for r in strategy.experimental_local_results(next(it))]
            for _ in range(num)]


def all_weights(state):
    return [v.numpy() for v in state.generator.weights + state.discriminator.weights]


def trainable_weights(state):
    return [v.numpy() for v in state.generator.trainable_weights +
            state.discriminator.trainable_weights]


@pytest.fixture
def strided_forms(monkeypatch):
    """models.strided's choices, in call order, for the rest of the test: the list fills as
    layers are called (clear it between models)."""
    forms, choose = [], strided.form

    def recording(*args, **kwargs):
        forms.append(choose(*args, **kwargs))
        return forms[-1]

    monkeypatch.setattr(strided, "form", recording)
    return forms


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
    from dcgan_dist.data import prepare
    source = write_image_folder(str(tmp_path_factory.mktemp("images")))
    data_dir = str(tmp_path_factory.mktemp("tfds_folder"))
    prepare.prepare(source, "gen_images", data_dir, image_size=32, holdout=0)
    return data_dir


def shape_images(labels, size=16, seed=0):
    """uint8 images of three shapes a small CNN tells apart: 0 square, 1 bar, 2 column."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (len(labels), size, size, 1)).astype(np.uint8)
    for image, label in zip(images, labels):
        h, w = [(6, 6), (2, 10), (10, 2)][label]
        top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        image[top:top + h, left:left + w] = 255
    return images


def store_dataset(data_dir, name, split_sizes, labelled=True, size=16):
    """Stores a TFDS dataset of shape_images (with a 3-class label, or images only)."""
    import tensorflow_datasets as tfds
    features = {"image": tfds.features.Image(shape=(size, size, 1))}
    if labelled:
        features["label"] = tfds.features.ClassLabel(names=["square", "bar", "column"])
    splits = {}
    for index, (split, num) in enumerate(split_sizes.items()):
        labels = np.arange(num) % 3
        images = shape_images(labels, size, seed=index)
        splits[split] = [(i, {"image": images[i], **({"label": int(labels[i])} if labelled
                                                      else {})}) for i in range(num)]
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name, version="1.0.0", features=tfds.features.FeaturesDict(features),
        split_datasets=splits, data_dir=data_dir)


@pytest.fixture(scope="session")
def shapes_data_dir(tmp_path_factory):
    """A TFDS data_dir with `shapes3` (labelled: 1200 train, 90 test, 16x16x1) and
    `blobs3` (the same images without labels)."""
    data_dir = str(tmp_path_factory.mktemp("shapes"))
    store_dataset(data_dir, "shapes3", {"train": 1200, "test": 90})
    store_dataset(data_dir, "blobs3", {"train": 60}, labelled=False)
    return data_dir


STAND_IN_DIM = 8


def stand_in_inception_graph(dim=STAND_IN_DIM, seed=0):
    """A tiny frozen graph wired like classify_image_graph_def.pb: Cast -> ExpandDims
    ([1, ?, ?, 3]) -> ResizeBilinear to 299x299 -> (x - 128) / 128 -> ... -> pool_3
    [1, 1, 1, dim] -> pool_3/_reshape to [1, dim] (a static batch of 1, as the reference has).
    Between: 13x13 average pooling, a fixed 1x1 conv and a square, so the features depend
    on the resizing and the value range, not only on the image mean. Returns (GraphDef, the conv weights)."""
    weights = np.random.default_rng(seed).normal(size=(1, 1, 3, dim)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        cast = tf.compat.v1.placeholder(tf.float32, [None, None, 3], name="Cast")
        x = tf.expand_dims(cast, 0, name="ExpandDims")
        x = tf.compat.v1.image.resize_bilinear(x, [299, 299], align_corners=False,
                                               name="ResizeBilinear")
        x = tf.multiply(tf.subtract(x, 128.0, name="Sub"), 1 / 128, name="Mul")
        x = tf.nn.avg_pool2d(x, 13, 13, "VALID")  # 299 = 13 x 23; keeps the test fast
        x = tf.square(tf.nn.conv2d(x, tf.constant(weights), 1, "VALID"))
        pool = tf.nn.avg_pool2d(x, 23, 1, "VALID", name="pool_3")
        tf.reshape(pool, [1, dim], name="pool_3/_reshape")
    return graph.as_graph_def(), weights


def stand_in_pool3(images_uint8, weights):
    """What the stand-in graph computes for each image, by hand (one image at a time)."""
    out = []
    for image in np.asarray(images_uint8, np.float32):
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        x = tf.compat.v1.image.resize_bilinear(image[None], [299, 299], align_corners=False)
        x = ((x.numpy()[0] - 128.0) / 128).reshape(23, 13, 23, 13, 3).mean(axis=(1, 3))
        out.append(((x @ weights[0, 0]) ** 2).mean(axis=(0, 1)))
    return np.stack(out)


def _stand_in_graph_file(tmp_path_factory):
    """One stand-in graph file for every worker: serialising a graph is not byte-for-byte
    repeatable across processes, and its hash keys the cached reference statistics."""
    with _once_for_all_workers(tmp_path_factory, "inception") as (folder, built):
        path = folder / "classify_image_graph_def.pb"
        if not built:
            folder.mkdir()
            path.write_bytes(stand_in_inception_graph()[0].SerializeToString())
    return str(path)


@pytest.fixture(scope="session")
def stand_in_inception(tmp_path_factory):
    """(path of the stand-in classify_image_graph_def.pb, its conv weights)."""
    return _stand_in_graph_file(tmp_path_factory), stand_in_inception_graph()[1]
