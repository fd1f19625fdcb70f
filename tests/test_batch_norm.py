"""models.layers.BatchNormalization: Keras' batch norm, trained through the fused kernel, computes
what Keras' layer computes (outputs, both gradients and the penalties' second-order one, the
moving statistics) and falls back to Keras' own call where the kernel cannot do the same."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist.models.layers import BatchNormalization


def _pair(shape, dtype="float32", **kwargs):
    """Ours and Keras', built on `shape` with the same random weights and moving statistics."""
    rng = np.random.default_rng(0)
    ours = BatchNormalization(dtype=dtype, **kwargs)
    theirs = keras.layers.BatchNormalization(dtype=dtype, **kwargs)
    for layer in (ours, theirs):
        layer.build(shape)
    for mine, other in zip(ours.weights, theirs.weights):
        value = rng.uniform(0.5, 1.5, mine.shape).astype(mine.dtype)
        mine.assign(value)
        other.assign(value)
    return ours, theirs


def _train_call(layer, x, w):
    """Outputs, d(sum(y*w))/d(x, weights) and an R1-like penalty's gradient, as one step would."""
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * w)
        penalty = tf.reduce_sum(tf.square(inner.gradient(loss, x)))
    grads = outer.gradient(loss, [x, *layer.trainable_weights])
    return y, grads, outer.gradient(penalty, layer.trainable_weights)


def _ops(layer, x):
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("shape", [(16, 5), (4, 6, 6, 3)], ids=["dense", "conv"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "statistics_only"])
def test_training_through_the_fused_kernel_equals_keras(shape, affine):
    ours, theirs = _pair(shape, center=affine, scale=affine)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(2.0, 3.0, shape), tf.float32)
    w = tf.constant(rng.normal(size=shape), tf.float32)
    assert "FusedBatchNormV3" in _ops(ours, x) and "FusedBatchNormV3" not in _ops(theirs, x)
    (y1, g1, p1), (y2, g2, p2) = _train_call(ours, x, w), _train_call(theirs, x, w)
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    # The penalty reaches gamma only (d(sum(y*w))/dx does not depend on beta).
    assert [g is None for g in p1] == [g is None for g in p2] == [False, True][:len(p2)]
    for a, b in zip(g1 + p1[:1], g2 + p2[:1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(tf.reduce_max(abs(b))))
    # Keras' moving variance is the biased batch variance (the kernel returns the unbiased).
    np.testing.assert_allclose(ours.moving_mean, theirs.moving_mean, rtol=1e-6)
    np.testing.assert_allclose(ours.moving_variance, theirs.moving_variance, rtol=1e-6)
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), rtol=1e-5,
                               atol=1e-5)


def test_mixed_bfloat16_normalises_in_float32_and_returns_bfloat16():
    ours, theirs = _pair((8, 4, 4, 6), dtype="mixed_bfloat16")
    x = tf.constant(np.random.default_rng(2).normal(size=(8, 4, 4, 6)), tf.bfloat16)
    y1, y2 = ours(x, training=True), theirs(x, training=True)
    assert y1.dtype == y2.dtype == tf.bfloat16 and ours.moving_variance.dtype == "float32"
    np.testing.assert_allclose(tf.cast(y1, tf.float32), tf.cast(y2, tf.float32), atol=0.02)
    np.testing.assert_allclose(ours.moving_variance, theirs.moving_variance, rtol=1e-5)


@pytest.mark.parametrize("dtype, kwargs", [("float64", {}), ("float32", {"synchronized": True})],
                         ids=["float64", "synchronized"])
def test_what_the_kernel_cannot_do_is_keras_own_call(dtype, kwargs):
    ours, theirs = _pair((6, 3, 3, 2), dtype=dtype, **kwargs)
    x = tf.constant(np.random.default_rng(3).normal(size=(6, 3, 3, 2)), dtype)
    assert "FusedBatchNormV3" not in _ops(ours, x)
    np.testing.assert_array_equal(ours(x, training=True), theirs(x, training=True))
    np.testing.assert_array_equal(ours.moving_variance, theirs.moving_variance)
