"""The 2015 graph itself: `classify_image_graph_def.pb` from inception-2015-12-05.tgz.

This frozen graph is the one TTUR's `fid.py` (and, through its port, pytorch-fid and
StyleGAN's FID) is calibrated to. Images are fed the way TTUR's `get_activations` feeds them:
float RGB values in [0, 255] of any size into the graph's `ExpandDims:0` tensor, which the
graph itself resizes to 299x299 (ResizeBilinear, align_corners=False) and scales to [-1, 1]
((x - 128) / 128); the 2048-d features are `pool_3:0`. TTUR rewrites the graph's static
batch dimension of 1 to None to feed batches; here the input is mapped to a placeholder with
a free batch dimension instead, which does the same.

  features_fn, sha256 = load(path, source)    # the .pb, a folder holding it or the .tgz
"""

import hashlib
import os
import tarfile

from google.protobuf.message import DecodeError
import tensorflow as tf

from dcgan_dist.errors import UserError, reason

URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
GRAPH_FILE = "classify_image_graph_def.pb"
ARCHIVE_FILE = "inception-2015-12-05.tgz"
INPUT_TENSOR = "ExpandDims:0"
OUTPUT_TENSOR = "pool_3:0"


def how_to_get_it(source):
    return (f"download {URL}, then pass {source}=the .tgz, the {GRAPH_FILE} inside it, or "
            "the folder holding either")


def read_graph_def(path, source="--inception_path", how=how_to_get_it):
    """The GraphDef at `path` (file, folder or .tgz), with one-line errors saying the fix."""
    if not tf.io.gfile.exists(path):
        raise UserError(f"{source}={path} does not exist; {how(source)}")
    if tf.io.gfile.isdir(path):
        inside = [f"{path.rstrip('/')}/{name}" for name in (GRAPH_FILE, ARCHIVE_FILE)]
        found = [p for p in inside if tf.io.gfile.exists(p)]
        if not found:
            raise UserError(f"{source}={path} is a folder without {GRAPH_FILE} or "
                            f"{ARCHIVE_FILE}; {how(source)}")
        path = found[0]
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            if path.endswith((".tgz", ".tar.gz", ".tar")):
                data = _member_of_archive(f, path, source, how)
            else:
                data = f.read()
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(data)
    except (tf.errors.OpError, OSError, tarfile.TarError, ValueError, DecodeError) as e:
        raise UserError(f"{source}={path} cannot be read as the Inception graph ({reason(e)}); "
                        f"{how(source)}") from e
    names = {node.name for node in graph_def.node}
    missing = [t for t in (INPUT_TENSOR, OUTPUT_TENSOR) if t.split(":")[0] not in names]
    if missing:
        raise UserError(f"{source}={path} is a graph without {' and '.join(missing)}, not "
                        f"{GRAPH_FILE}; {how(source)}")
    return graph_def, hashlib.sha256(data).hexdigest()[:12]


def _member_of_archive(fileobj, path, source, how):
    with tarfile.open(fileobj=fileobj, mode="r|*") as archive:  # a stream: gs:// works
        for member in archive:
            if os.path.basename(member.name) == GRAPH_FILE:
                return archive.extractfile(member).read()
    raise UserError(f"{source}={path} has no {GRAPH_FILE}; {how(source)}")


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


def load(path, source, how=how_to_get_it):
    """(features_fn: uint8 [N, H, W, 3] -> [N, 2048], sha256) of the graph at `path`."""
    graph_def, sha256 = read_graph_def(path, source, how)
    pool3_fn = make_pool3_fn(graph_def)
    return lambda images: pool3_fn(tf.constant(images, tf.float32)), sha256
