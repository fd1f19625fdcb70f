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


def test_r1_penalty_golden_values():
    grads = np.zeros((2, 2, 2, 1), np.float32)
    grads[0, 0, 0, 0], grads[0, 1, 1, 0] = 3.0, 4.0  # |g|^2 = 25
    grads[1, 0, 1, 0] = -1.0  # |g|^2 = 1
    np.testing.assert_allclose(losses.d_r1_penalty_per_example(grads, 10.0), [125.0, 5.0],
                               rtol=1e-6)
    assert losses.d_r1_penalty_per_example(tf.constant(grads, tf.float16), 1.0).dtype == tf.float32


def test_r1_gradient_of_a_linear_discriminator():
    """D(x) = w.x has grad_x D = w, so R1 = gamma/2 |w|^2 and its gradient in w is gamma w."""
    w = tf.Variable([[0.5], [-2.0], [1.0]])
    x = tf.constant([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
    with tf.GradientTape() as d_tape:
        with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
            r1_tape.watch(x)
            logits = x @ w
        penalty = losses.d_r1_penalty_per_example(r1_tape.gradient(logits, x), 2.0)
    np.testing.assert_allclose(penalty, [5.25, 5.25], rtol=1e-6)  # 2/2 * (0.25 + 4 + 1)
    # Each example contributes gamma * w: the penalty's input gradient is differentiated.
    np.testing.assert_allclose(d_tape.gradient(penalty, w), 2 * 2.0 * w.numpy(), rtol=1e-6)
