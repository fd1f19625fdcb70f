"""Golden values for the per-example objectives and penalties (TF-GAN's test vectors and hand
computations)."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist.training import losses


def _softplus(x):
    return np.log1p(np.exp(x))


def test_g_loss_golden_values():
    logits = np.array([[0.0], [2.0], [-3.0]], np.float32)
    # -log(sigmoid(x)) = softplus(-x)
    np.testing.assert_allclose(losses.g_nonsaturating(logits), _softplus(-logits[:, 0]),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.g_nonsaturating([[0.0]]), [np.log(2.0)], rtol=1e-6)


def test_d_loss_golden_values():
    real = np.array([[1.0], [-1.0]], np.float32)
    fake = np.array([[0.5], [4.0]], np.float32)
    expected = _softplus(-real[:, 0]) + _softplus(fake[:, 0])
    np.testing.assert_allclose(losses.d_nonsaturating(real, fake), expected, rtol=1e-6)
    # An undecided discriminator (logit 0 everywhere) pays 2 log 2.
    np.testing.assert_allclose(losses.d_nonsaturating([[0.0]], [[0.0]]), [2 * np.log(2.0)],
                               rtol=1e-6)


def test_batch_mean_matches_tutorial_loss():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(16, 1)), rng.normal(size=(16, 1))
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    tutorial_d = bce(np.ones_like(real), real) + bce(np.zeros_like(fake), fake)
    tutorial_g = bce(np.ones_like(fake), fake)
    np.testing.assert_allclose(np.mean(losses.d_nonsaturating(real, fake)), tutorial_d,
                               rtol=1e-5)
    np.testing.assert_allclose(np.mean(losses.g_nonsaturating(fake)), tutorial_g, rtol=1e-5)


def test_half_precision_logits_give_float32_losses():
    logits = tf.constant([[30.0], [-30.0]], tf.float16)
    out = losses.d_nonsaturating(logits, logits)
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


# TF-GAN's test vectors (tensorflow_gan/python/losses/losses_impl_test.py) and its expected
# batch means; the per-example values below are computed by hand.
TFGAN_REAL = np.array([-5.0, 1.4, 12.5, 2.7], np.float32)
TFGAN_FAKE = np.array([10.0, 4.4, -5.5, 3.6], np.float32)


def test_the_flag_offers_exactly_the_tables_objectives():
    from dcgan_dist import flags
    assert flags.CATALOGUE["loss"].parser.enum_values == list(losses.LOSSES)
    assert list(losses.LOSSES) == ["nonsaturating", "hinge", "wasserstein", "least_squares"]
    assert flags.default("loss") == "nonsaturating"  # today's objective stays the default
    assert losses.LOSSES["nonsaturating"] == losses.Objective(losses.g_nonsaturating,
                                                              losses.d_nonsaturating)


@pytest.mark.parametrize("name, g_per_example, d_per_example, g_mean, d_mean", [
    # -log sigmoid(x) and -log(1 - sigmoid(x)): TF-GAN's "modified" pair. Its discriminator
    # mean, 6.19637, smooths the real labels to 0.875 by default; without smoothing, 5.83387.
    ("nonsaturating", _softplus(-TFGAN_FAKE), _softplus(-TFGAN_REAL) + _softplus(TFGAN_FAKE),
     1.38582, 5.83387),
    # relu(1 - real) = [6, 0, 0, 0]; relu(1 + fake) = [11, 5.4, 0, 4.6].
    ("hinge", [-10.0, -4.4, 5.5, -3.6], [17.0, 5.4, 0.0, 4.6], -3.125, 6.75),
    # fake - real.
    ("wasserstein", [-10.0, -4.4, 5.5, -3.6], [15.0, 3.0, -18.0, 0.9], -3.125, 0.225),
    # 0.5 (fake - 1)^2 = [40.5, 5.78, 21.125, 3.38]; 0.5 (real - 1)^2 + 0.5 fake^2.
    ("least_squares", [40.5, 5.78, 21.125, 3.38],
     [18.0 + 50.0, 0.08 + 9.68, 66.125 + 15.125, 1.445 + 6.48], 17.69625, 41.73375),
])
def test_each_objective_matches_hand_values_and_tfgans_means(name, g_per_example,
                                                             d_per_example, g_mean, d_mean):
    objective = losses.LOSSES[name]
    g = objective.g(TFGAN_FAKE[:, None])  # logits come as [N, 1]
    d = objective.d(TFGAN_REAL[:, None], TFGAN_FAKE[:, None])
    assert g.shape == d.shape == (4,) and g.dtype == d.dtype == tf.float32
    np.testing.assert_allclose(g, g_per_example, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d, d_per_example, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([np.mean(g), np.mean(d)], [g_mean, d_mean], rtol=1e-5)
    # Divided by the global batch like the step does: two replicas' halves sum to the mean.
    halves = [tf.nn.compute_average_loss(objective.d(TFGAN_REAL[i:i + 2], TFGAN_FAKE[i:i + 2]),
                                         global_batch_size=4) for i in (0, 2)]
    np.testing.assert_allclose(float(sum(halves)), d_mean, rtol=1e-5)
    # Half-precision logits (mixed precision) give float32 losses.
    half = tf.constant(TFGAN_FAKE[:, None], tf.bfloat16)
    assert objective.g(half).dtype == objective.d(half, half).dtype == tf.float32


def test_interpolates_golden_values():
    real = np.full((3, 2, 1, 1), 1.0, np.float32)
    fake = np.full((3, 2, 1, 1), -1.0, np.float32)
    out = losses.interpolate(tf.constant(real), tf.constant(fake), tf.constant([0.0, 1.0, 0.25]))
    np.testing.assert_allclose(out[:, 0, 0, 0], [-1.0, 1.0, -0.5])  # eps real + (1 - eps) fake
    assert out.shape == real.shape


def test_gp_penalty_golden_values():
    grads = np.zeros((3, 2, 2, 1), np.float32)
    grads[0, 0, 0, 0], grads[0, 1, 1, 0] = 3.0, 4.0  # |g| = 5: (5 - 1)^2 = 16
    grads[1, 0, 1, 0] = -1.0  # |g| = 1: no penalty
    # grads[2] = 0: |g| = sqrt(1e-10), (1e-5 - 1)^2
    np.testing.assert_allclose(losses.d_gp_penalty_per_example(grads, 10.0),
                               [160.0, 0.0, 10.0 * (1.0 - 1e-5) ** 2], rtol=1e-6, atol=1e-6)
    assert losses.d_gp_penalty_per_example(tf.constant(grads, tf.bfloat16), 1.0).dtype == tf.float32


def test_gp_gradient_of_a_linear_discriminator():
    """D(x) = w.x has grad_x D = w at every interpolate, so the penalty is gamma (|w| - 1)^2
    (TF-GAN's golden case: w = 2 in 4 dimensions, |w| = 4, penalty 9), and its gradient in w
    is 2 gamma (|w| - 1) w / |w| = 1.5 w for gamma 1."""
    w = tf.Variable([[2.0], [2.0], [2.0], [2.0]])
    real = tf.constant([[-12.3, 23.2, 16.3, -43.2], [1.0, 2.0, 3.0, 4.0]])
    fake = tf.constant([[3.1, 2.3, -12.3, 32.1], [0.0, 0.0, 0.0, 0.0]])
    with tf.GradientTape() as d_tape:
        x_hat = losses.interpolate(real, fake, tf.constant([0.3, 0.9]))
        with tf.GradientTape(watch_accessed_variables=False) as gp_tape:
            gp_tape.watch(x_hat)
            logits = x_hat @ w
        penalty = losses.d_gp_penalty_per_example(gp_tape.gradient(logits, x_hat), 1.0)
    np.testing.assert_allclose(penalty, [9.0, 9.0], rtol=1e-6)
    np.testing.assert_allclose(d_tape.gradient(penalty, w), 2 * 1.5 * w.numpy(), rtol=1e-6)
