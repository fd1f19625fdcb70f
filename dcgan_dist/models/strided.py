"""The dcgan's 4x4, stride-2, "same" convolutions and their transposes, each in the exact form
that runs fastest on a CPU for its shape (issue 23), behind Keras' own layer classes.

TensorFlow's ops reach oneDNN's direct convolution kernels, which run the middle layers near a
GEMM's rate but not the two ends of the networks (benchmarks/conv_forms.py, forward and both
gradients per layer, on a 2-core Xeon):
- "blocks", the image side (1 to 4 channels: D's first convolution, G's last transposed one):
  space_to_depth of the padded image makes the 4x4 stride-2 convolution a 2x2 stride-1 one on
  4x the channels, which oneDNN runs 1.3-2x faster (64 px, 1 channel: 11.5 -> 6.0 ms).
- "gemm", the 4x4 maps of the wide layers (D's last convolution, G's first transposed one, at
  least 256 channels each side, 128 in bfloat16): patches times the kernel as one GEMM; the
  other direction (the convolution's input gradient, the transpose's output) as four GEMMs
  whose products are shifted into place and summed. oneDNN runs these shapes at ~60% of a
  GEMM's rate in float32 (64 px: 60 -> 45 ms), ~25% in bfloat16 (42 -> 11-14 ms). Narrower
  4x4 layers, and every layer on larger maps, are faster as they are.
- "op": TensorFlow's own, through Keras: every other layer, and every layer on a GPU (cuDNN)
  or a TPU (XLA), where none of this was measured.
The forms compute the same sums in another order (so float32 rounding differs; outputs, both
gradients and second-order gradients equal TensorFlow's in float64: tests/test_strided.py).
The layers keep Keras' variables and config: checkpoints and exports load either way.
"""

import keras
import tensorflow as tf

PAD = [[0, 0], [1, 1], [1, 1], [0, 0]]  # "same" for a 4-wide kernel at stride 2, even sides
# The narrowest 4x4 map's layer (channels on each side) computed as "gemm", by compute dtype:
# oneDNN's bfloat16 kernels are further from a GEMM there (float16 was not measured).
GEMM_MIN_CHANNELS = {"bfloat16": 128}
GEMM_MIN_CHANNELS_OTHERWISE = 256


def _patches(x):
    """[n, h, w, c] -> [n * h/2 * w/2, 16 c]: each output pixel's 4x4 window of the padded
    input, in the kernel's (kh, kw, c) order."""
    patches = tf.image.extract_patches(tf.pad(x, PAD), [1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 1, 1],
                                       "VALID")
    return tf.reshape(patches, [-1, patches.shape[-1]])


def _block_kernel(kernel):
    """[4, 4, c, o] -> [2, 2, 4 c, o]: tap (kh, kw) = (2 dh + bh, 2 dw + bw) reads
    space_to_depth's block (bh, bw) at offset (dh, dw)."""
    c, o = kernel.shape[2], kernel.shape[3]
    k = tf.reshape(kernel, [2, 2, 2, 2, c, o])  # dh bh dw bw c o
    return tf.reshape(tf.transpose(k, [0, 2, 1, 3, 4, 5]), [2, 2, 4 * c, o])


def conv_blocks(x, kernel):
    return tf.nn.conv2d(tf.nn.space_to_depth(tf.pad(x, PAD), 2), _block_kernel(kernel), 1,
                        "VALID")


def conv_transpose_blocks(x, kernel):
    n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    blocks = tf.nn.conv2d_transpose(x, _block_kernel(kernel),
                                    [n, h + 1, w + 1, 4 * kernel.shape[2]], 1, "VALID")
    return tf.nn.depth_to_space(blocks, 2)[:, 1:-1, 1:-1]


def _gemm_kernel(kernel):
    """[4, 4, c, o] -> [4, 4 c, o]: one [4 c, o] matrix per block offset (dh, dw), rows in
    space_to_depth's (bh, bw, c) order."""
    return tf.reshape(_block_kernel(kernel), [4, -1, kernel.shape[-1]])


def _transpose_gemm(x, kernel):
    """tf.nn.conv2d_transpose(x, kernel [4, 4, o, c], stride 2, "SAME") as four GEMMs, one per
    2x2 block offset, whose products are padded into place and summed (the col2im), then
    depth_to_space (measured a little faster than one GEMM whose product is split in four)."""
    n, h, w, c = tf.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
    rows, kernels = tf.reshape(x, [-1, c]), _gemm_kernel(kernel)
    blocks = tf.add_n([
        tf.pad(tf.reshape(tf.matmul(rows, kernels[2 * dh + dw], transpose_b=True),
                          [n, h, w, kernels.shape[1]]),
               [[0, 0], [dh, 1 - dh], [dw, 1 - dw], [0, 0]])
        for dh in (0, 1) for dw in (0, 1)])
    return tf.nn.depth_to_space(blocks, 2)[:, 1:-1, 1:-1]


@tf.custom_gradient
def conv_gemm(x, kernel):
    cols = _patches(x)
    y = tf.matmul(cols, tf.reshape(kernel, [-1, kernel.shape[-1]]))

    def grad(dy):
        dy_rows = tf.reshape(dy, [-1, kernel.shape[-1]])
        dkernel = tf.reshape(tf.matmul(cols, dy_rows, transpose_a=True), kernel.shape)
        return _transpose_gemm(dy, kernel), dkernel

    return tf.reshape(y, [tf.shape(x)[0], x.shape[1] // 2, x.shape[2] // 2, -1]), grad


@tf.custom_gradient
def conv_transpose_gemm(x, kernel):
    def grad(dy):
        cols = _patches(dy)  # the transpose's gradients are the convolution of dy
        dx = tf.reshape(tf.matmul(cols, tf.reshape(kernel, [-1, kernel.shape[-1]])), tf.shape(x))
        dkernel = tf.matmul(cols, tf.reshape(x, [-1, x.shape[-1]]), transpose_a=True)
        return dx, tf.reshape(dkernel, kernel.shape)

    return _transpose_gemm(x, kernel), grad


# name: (the convolution, its transpose); "op" is TensorFlow's own, through Keras.
FORMS = {"blocks": (conv_blocks, conv_transpose_blocks),
         "gemm": (conv_gemm, conv_transpose_gemm),
         "op": (None, None)}


def form(layer, inputs, kernel, transpose):
    """The FORMS key for `layer` (a 4x4 stride-2 convolution, or `transpose`d) on `inputs`,
    by the measurements in the module's docstring."""
    if not (layer.kernel_size == (4, 4) and layer.strides == (2, 2) and layer.padding == "same"
            and layer.dilation_rate == (1, 1) and layer.data_format == "channels_last"
            and getattr(layer, "output_padding", None) is None and _on_cpu()):
        return "op"
    h, w = inputs.shape[1], inputs.shape[2]
    if h is None or w is None or h % 2 or w % 2:
        return "op"
    image_side, small_side = (2 * h, (h, w)) if transpose else (h, (h // 2, w // 2))
    # a convolution's kernel is [4, 4, in, out], a transposed one's [4, 4, out, in]
    image_channels, other_channels = kernel.shape[2], kernel.shape[3]
    if image_channels <= 4 and image_side <= (64 if transpose and image_channels > 1 else 128):
        return "blocks"
    dtype = tf.as_dtype(inputs.dtype).name
    narrowest = GEMM_MIN_CHANNELS.get(dtype, GEMM_MIN_CHANNELS_OTHERWISE)
    if small_side == (4, 4) and min(image_channels, other_channels) >= narrowest:
        return "gemm"
    return "op"


def _on_cpu():
    """Whether the layer is being built or traced for CPU devices (the strategy's, or with
    none, the machine's): GPUs have cuDNN's kernels, TPUs XLA's."""
    try:
        devices = tf.distribute.get_strategy().extended.worker_devices
    except (RuntimeError, NotImplementedError):  # the default strategy has no list
        devices = ()
    if devices:
        return all("CPU" in device.upper() for device in devices)
    return not (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


class Conv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D computed in `form`'s form: the same variables, config and outputs."""

    def convolution_op(self, inputs, kernel):
        key = form(self, inputs, kernel, transpose=False)
        if key == "op":
            return super().convolution_op(inputs, kernel)
        return FORMS[key][0](tf.convert_to_tensor(inputs), tf.convert_to_tensor(kernel))


class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose computed in `form`'s form: the same variables, config and
    outputs."""

    def call(self, inputs):
        key = form(self, inputs, self.kernel, transpose=True)
        if key == "op":
            return super().call(inputs)
        outputs = FORMS[key][1](tf.convert_to_tensor(inputs), tf.convert_to_tensor(self.kernel))
        if self.use_bias:
            outputs = outputs + tf.convert_to_tensor(self.bias)
        return self.activation(outputs) if self.activation is not None else outputs
