"""The reference FID network: `classify_image_graph_def.pb` from inception-2015-12-05.tgz.

This frozen graph is the one TTUR's `fid.py` (and, through its port, pytorch-fid and
StyleGAN's FID) is calibrated to, so FIDs computed on it compare with published tables.
Images are fed the way TTUR's `get_activations` feeds them: float RGB values in [0, 255] of
any size into the graph's `ExpandDims:0` tensor, which the graph itself resizes to 299x299
(ResizeBilinear, align_corners=False) and scales to [-1, 1] ((x - 128) / 128); the 2048-d
features are `pool_3:0`. TTUR rewrites the graph's static batch dimension of 1 to None to
feed batches; here the input is mapped to a placeholder with a free batch dimension
instead, which does the same. Generated images are rounded to uint8 first: the numbers are
those of the PNG files a user would save and score with TTUR.

No network can be downloaded here: the graph comes from --inception_path or $DCGAN_INCEPTION_PATH
(the .pb file, a folder holding it or the .tgz, or the .tgz; local or gs://).
"""

import hashlib
import os
import tarfile

from google.protobuf.message import DecodeError
import numpy as np
import tensorflow as tf

from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError, reason
from dcgan_dist.evaluation.networks import FeatureNetwork, NetworkUnavailable

ENV_VAR = "DCGAN_INCEPTION_PATH"
URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
GRAPH_FILE = "classify_image_graph_def.pb"
ARCHIVE_FILE = "inception-2015-12-05.tgz"
INPUT_TENSOR = "ExpandDims:0"
OUTPUT_TENSOR = "pool_3:0"
BATCH_SIZE = 50  # TTUR's default; inference only, so it does not change the features
METRIC_NAMES = {"frechet": "fid", "kernel": "kid", "kernel_se": "kid_se",
                "precision": "inception_precision", "recall": "inception_recall"}


def _how_to_get_it(source):
    return (f"download {URL}, then pass {source}=the .tgz, the {GRAPH_FILE} inside it, or "
            "the folder holding either")


def resolve_path(inception_path=None):
    """(path, how it was given) from the flag, else the environment; None when neither."""
    if inception_path:
        return inception_path, "--inception_path"
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR], f"${ENV_VAR}"
    return None, None


def read_graph_def(path, source="--inception_path"):
    """The GraphDef at `path` (file, folder or .tgz), with one-line errors saying the fix."""
    if not tf.io.gfile.exists(path):
        raise UserError(f"{source}={path} does not exist; {_how_to_get_it(source)}")
    if tf.io.gfile.isdir(path):
        inside = [f"{path.rstrip('/')}/{name}" for name in (GRAPH_FILE, ARCHIVE_FILE)]
        found = [p for p in inside if tf.io.gfile.exists(p)]
        if not found:
            raise UserError(f"{source}={path} is a folder without {GRAPH_FILE} or "
                            f"{ARCHIVE_FILE}; {_how_to_get_it(source)}")
        path = found[0]
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            if path.endswith((".tgz", ".tar.gz", ".tar")):
                data = _member_of_archive(f, path, source)
            else:
                data = f.read()
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(data)
    except (tf.errors.OpError, OSError, tarfile.TarError, ValueError, DecodeError) as e:
        raise UserError(f"{source}={path} cannot be read as the Inception graph ({reason(e)}); "
                        f"{_how_to_get_it(source)}") from e
    names = {node.name for node in graph_def.node}
    missing = [t for t in (INPUT_TENSOR, OUTPUT_TENSOR) if t.split(":")[0] not in names]
    if missing:
        raise UserError(f"{source}={path} is a graph without {' and '.join(missing)}, not "
                        f"{GRAPH_FILE}; {_how_to_get_it(source)}")
    return graph_def, hashlib.sha256(data).hexdigest()[:12]


def _member_of_archive(fileobj, path, source):
    with tarfile.open(fileobj=fileobj, mode="r|*") as archive:  # a stream: gs:// works
        for member in archive:
            if os.path.basename(member.name) == GRAPH_FILE:
                return archive.extractfile(member).read()
    raise UserError(f"{source}={path} has no {GRAPH_FILE}; {_how_to_get_it(source)}")


def make_pool3_fn(graph_def):
    """A function: float32 [N, H, W, 3] in [0, 255] -> pool_3 features [N, 1, 1, D]."""

    def import_graph(images):
        # The reference input has a static batch of 1; mapping it to this placeholder frees
        # the batch dimension, and shape inference runs again from here.
        return tf.graph_util.import_graph_def(graph_def, input_map={INPUT_TENSOR: images},
                                              return_elements=[OUTPUT_TENSOR],
                                              name="inception")[0]

    return tf.compat.v1.wrap_function(
        import_graph, [tf.TensorSpec([None, None, None, 3], tf.float32)])


def check_images(image_shape):
    if image_shape[-1] not in (1, 3):
        raise UserError(f"Inception takes RGB or grayscale images, not {image_shape[-1]} "
                        "channels")


def load_network(*, inception_path=None, **unused):
    """The Inception FeatureNetwork, or NetworkUnavailable when no path is configured."""
    del unused
    path, source = resolve_path(inception_path)
    if path is None:
        raise NetworkUnavailable(f"no Inception network for FID: {_how_to_get_it('--inception_path')} "
                                 f"(or set ${ENV_VAR})")
    graph_def, sha256 = read_graph_def(path, source)
    pool3_fn = make_pool3_fn(graph_def)

    def features_fn(images):
        images_uint8 = to_uint8(images)  # the saved PNG's values
        if images_uint8.shape[-1] == 1:
            images_uint8 = np.repeat(images_uint8, 3, axis=-1)  # grayscale as RGB
        out = [pool3_fn(tf.constant(images_uint8[i:i + BATCH_SIZE], tf.float32)).numpy()
               for i in range(0, len(images_uint8), BATCH_SIZE)]
        features = np.concatenate(out)
        return features.reshape(len(features), -1), None

    return FeatureNetwork(
        name="inception", sha256=sha256, description=f"Inception pool_3 of {path}",
        features_fn=features_fn, metric_names=METRIC_NAMES, check_images=check_images)

