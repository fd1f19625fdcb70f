"""models.strided: the dcgan's stride-2 layers in other exact forms compute what Keras' layers
compute (outputs, both gradients, the penalties' second-order gradient, in float64), keep
Keras' variables, and are chosen per layer shape as measured."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import models
from dcgan_dist.config import Config
from dcgan_dist.models import strided

# (form, transposed, input shape, filters): the smallest shapes `form` gives each form.
CASES = {
    "conv-blocks": ("blocks", False, (3, 8, 6, 3), 5),
    "conv-gemm": ("gemm", False, (3, 8, 8, 256), 256),
    "transpose-blocks": ("blocks", True, (3, 4, 6, 5), 3),
    "transpose-gemm": ("gemm", True, (3, 4, 4, 256), 256),
}


def _pair(transposed, shape, filters, use_bias):
    """Ours and Keras', float64, built on `shape` with the same random weights."""
    kind = "Conv2DTranspose" if transposed else "Conv2D"
    layers = [getattr(module, kind)(filters, 4, strides=2, padding="same", use_bias=use_bias,
                                    activation="tanh", dtype="float64")
              for module in (strided, keras.layers)]
    rng = np.random.default_rng(0)
    for layer in layers:
        layer.build(shape)
    for ours, theirs in zip(*(layer.weights for layer in layers)):
        value = rng.normal(0.0, 0.1, ours.shape)
        ours.assign(value)
        theirs.assign(value)
    return layers


def _call(layer, x, w):
    """Outputs, d(sum(y*w))/d(x, weights) and an R1-like penalty's gradient."""
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * w)
        penalty = tf.reduce_sum(tf.square(inner.gradient(loss, x)))
    return [y, *outer.gradient(loss, [x, *layer.trainable_weights]),
            *outer.gradient(penalty, layer.trainable_weights)]


def _op_types(layer, x):
    graph = tf.function(layer).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("case", list(CASES))
def test_each_form_computes_what_keras_layer_computes(case, use_bias):
    key, transposed, shape, filters = CASES[case]
    ours, theirs = _pair(transposed, shape, filters, use_bias)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=shape))
    assert strided.form(ours, x, ours.kernel, transposed) == key
    # The form is what runs: its own ops, and not the op Keras' layer calls.
    keras_op = "Conv2DBackpropInput" if transposed else "Conv2D"
    form_ops = {"blocks": {"SpaceToDepth"} if not transposed else {"DepthToSpace"},
                "gemm": {"MatMul"}}[key]
    assert form_ops <= _op_types(ours, x) and keras_op in _op_types(theirs, x)
    if key == "gemm":
        assert keras_op not in _op_types(ours, x)
    w = tf.constant(rng.normal(size=theirs(x).shape))
    results, expected = _call(ours, x, w), _call(theirs, x, w)
    assert len(results) == len(expected) == 2 + 2 * len(theirs.trainable_weights)
    for a, b in zip(results, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * float(tf.reduce_max(abs(b))))


@pytest.mark.parametrize("side, generator, discriminator", [
    (32, ["gemm", "op", "blocks"], ["blocks", "op", "op"]),
    (64, ["gemm", "op", "op", "blocks"], ["blocks", "op", "op", "gemm"]),
])
def test_the_paper_widths_get_the_measured_forms(strided_forms, side, generator, discriminator):
    """pytorch/examples' widths (64): the image side as blocks, the 4x4 maps of 256 channels and
    more as GEMMs (at 32 px D's last layer has 128 in: TensorFlow's op is faster there)."""
    config = Config.of(workdir="/tmp/unused", architecture="dcgan", g_filters=64, d_filters=64)
    g, d = models.build(config.model, (side, side, 1))
    strided_forms.clear()  # building called the layers too
    g(tf.zeros((2, config.model.noise_dim)))
    assert strided_forms == generator
    strided_forms.clear()
    d(tf.zeros((2, side, side, 1)))
    assert strided_forms == discriminator


def test_other_devices_and_layers_keep_tensorflows_op(monkeypatch):
    layer = strided.Conv2D(8, 4, strides=2, padding="same")
    x = tf.zeros((2, 8, 8, 1))
    layer.build(x.shape)
    assert strided.form(layer, x, layer.kernel, False) == "blocks"
    monkeypatch.setattr(strided, "_on_cpu", lambda: False)  # a GPU's or a TPU's strategy
    assert strided.form(layer, x, layer.kernel, False) == "op"
    monkeypatch.undo()
    for other in (strided.Conv2D(8, 3, strides=2, padding="same"),
                  strided.Conv2D(8, 4, strides=1, padding="same"),
                  strided.Conv2D(8, 4, strides=2, padding="valid")):
        other.build(x.shape)
        assert strided.form(other, x, other.kernel, False) == "op"
    odd = tf.zeros((2, 7, 8, 1))
    assert strided.form(layer, odd, layer.kernel, False) == "op"


@pytest.mark.parametrize("channels, side, conv, transpose", [
    (1, 128, "blocks", "blocks"), (3, 64, "blocks", "blocks"), (3, 128, "blocks", "op"),
    (1, 256, "op", "op"), (5, 32, "op", "op")])
def test_the_image_side_is_computed_as_blocks_where_measured_faster(channels, side, conv,
                                                                    transpose):
    """benchmarks/conv_forms.py: blocks won on 1 to 3 channels up to 128 px, except a
    3-channel transpose at 128 px; larger images were not measured."""
    layer = strided.Conv2D(64, 4, strides=2, padding="same")
    assert strided.form(layer, tf.zeros((1, side, side, channels)),
                        tf.zeros((4, 4, channels, 64)), False) == conv
    layer = strided.Conv2DTranspose(channels, 4, strides=2, padding="same")
    assert strided.form(layer, tf.zeros((1, side // 2, side // 2, 64)),
                        tf.zeros((4, 4, channels, 64)), True) == transpose


@pytest.mark.parametrize("dtype, channels, expected", [
    ("float32", 256, "gemm"), ("float32", 128, "op"), ("bfloat16", 128, "gemm"),
    ("bfloat16", 64, "op")])
def test_the_4x4_maps_as_gemms_from_the_width_measured_per_dtype(dtype, channels, expected):
    """benchmarks/conv_forms.py: from 256 channels in float32, 128 in bfloat16."""
    layer = strided.Conv2D(2 * channels, 4, strides=2, padding="same")
    assert strided.form(layer, tf.zeros((1, 8, 8, channels), dtype),
                        tf.zeros((4, 4, channels, 2 * channels), dtype), False) == expected
    layer = strided.Conv2DTranspose(channels, 4, strides=2, padding="same")
    assert strided.form(layer, tf.zeros((1, 4, 4, 2 * channels), dtype),
                        tf.zeros((4, 4, channels, 2 * channels), dtype), True) == expected


class _Strategy:
    def __init__(self, *devices):
        self.extended = type("Extended", (), {"worker_devices": devices})()


@pytest.mark.parametrize("devices, on_cpu", [
    (("/job:localhost/replica:0/task:0/device:CPU:0",), True),
    (("/job:worker/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:1/device:CPU:0"),
     True),
    (("/job:localhost/replica:0/task:0/device:GPU:0",
      "/job:localhost/replica:0/task:0/device:GPU:1"), False),
    (("/job:worker/replica:0/task:0/device:TPU:0",), False)],
    ids=["one_cpu", "two_workers", "mirrored_gpus", "tpu"])
def test_the_forms_are_for_a_strategy_of_cpus_only(monkeypatch, devices, on_cpu):
    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: _Strategy(*devices))
    assert strided._on_cpu() is on_cpu
