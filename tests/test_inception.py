"""The Inception feature network, on a stand-in graph with the reference's tensor names."""

import io
import tarfile

import numpy as np
import pytest

from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import inception
from dcgan_dist.evaluation.networks import NetworkUnavailable
from conftest import STAND_IN_DIM, stand_in_pool3


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
    hashes = {inception.read_graph_def(p)[1] for p in
              [path, path.rsplit("/", 1)[0], str(archive), str(folder_with_tgz)]}
    assert len(hashes) == 1 and len(hashes.pop()) == 12


def test_the_environment_variable_is_the_default(stand_in_inception, monkeypatch):
    path, _ = stand_in_inception
    monkeypatch.setenv(inception.ENV_VAR, path)
    assert inception.load_network().name == "inception"
    monkeypatch.delenv(inception.ENV_VAR)
    with pytest.raises(NetworkUnavailable, match="download http://download.tensorflow.org/"
                       "models/image/imagenet/inception-2015-12-05.tgz, then pass "
                       "--inception_path="):
        inception.load_network()


@pytest.mark.parametrize("kind, message", [
    ("missing", "does not exist; download http://download.tensorflow.org/"),
    ("empty_folder", "is a folder without classify_image_graph_def.pb or "
                     "inception-2015-12-05.tgz; download"),
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
