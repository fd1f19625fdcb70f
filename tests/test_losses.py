"""Golden values for the per-example losses."""

import numpy as np
import tensorflow as tf

from dcgan_dist import losses


def _softplus(x):
    return np.log1p(np.exp(x))


def test_g_loss_golden_values():
    logits = np.array([[0.0], [2.0], [-3.0]], np.float32)
    # -log(sigmoid(x)) = softplus(-x)
    np.testing.assert_allclose(losses.g_loss_per_example(logits), _softplus(-logits[:, 0]),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.g_loss_per_example([[0.0]]), [np.log(2.0)], rtol=1e-6)


def test_d_loss_golden_values():
    real = np.array([[1.0], [-1.0]], np.float32)
    fake = np.array([[0.5], [4.0]], np.float32)
    expected = _softplus(-real[:, 0]) + _softplus(fake[:, 0])
    np.testing.assert_allclose(losses.d_loss_per_example(real, fake), expected, rtol=1e-6)
    # An undecided discriminator (logit 0 everywhere) pays 2 log 2.
    np.testing.assert_allclose(losses.d_loss_per_example([[0.0]], [[0.0]]), [2 * np.log(2.0)],
                               rtol=1e-6)


def test_batch_mean_matches_tutorial_loss():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(16, 1)), rng.normal(size=(16, 1))
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    tutorial_d = bce(np.ones_like(real), real) + bce(np.zeros_like(fake), fake)
    tutorial_g = bce(np.ones_like(fake), fake)
    np.testing.assert_allclose(np.mean(losses.d_loss_per_example(real, fake)), tutorial_d,
                               rtol=1e-5)
    np.testing.assert_allclose(np.mean(losses.g_loss_per_example(fake)), tutorial_g, rtol=1e-5)


def test_half_precision_logits_give_float32_losses():
    logits = tf.constant([[30.0], [-30.0]], tf.float16)
    out = losses.d_loss_per_example(logits, logits)
    assert out.dtype == tf.float32 and out.shape == (2,)
    assert np.all(np.isfinite(out))
