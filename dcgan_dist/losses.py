"""Per-example DCGAN losses on discriminator logits (Goodfellow et al. 2014, non-saturating).

They return one value per example, not a mean: the caller averages with
`tf.nn.compute_average_loss(..., global_batch_size=...)`, because under tf.distribute each
replica's gradients are summed by the all-reduce, so each replica must divide by the global
batch, not its own slice (dividing by the slice scales every update by the replica count).
"""

import tensorflow as tf


def _bce(labels_value, logits):
    logits = tf.reshape(tf.cast(logits, tf.float32), [-1])
    return tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), labels_value), logits=logits)


def g_loss_per_example(d_fake_logits):
    """Non-saturating generator loss: -log D(G(z)), i.e. BCE of fakes against label 1."""
    return _bce(1.0, d_fake_logits)


def d_loss_per_example(d_real_logits, d_fake_logits):
    """Discriminator loss: BCE(real, 1) + BCE(fake, 0) for each pair of examples.

    Summing the two per example and averaging over the batch equals the tutorial's
    `cross_entropy(ones, real) + cross_entropy(zeros, fake)` with batch means.
    """
    return _bce(1.0, d_real_logits) + _bce(0.0, d_fake_logits)


def d_r1_penalty_per_example(d_real_grads, gamma):
    """R1 (Mescheder et al. 2018): gamma / 2 * ||grad_x D(x)||^2 on real images.

    Penalising the discriminator's slope on the data keeps it from growing sharp where the
    generator cannot follow, which is what lets simultaneous gradient descent converge
    instead of circling the equilibrium. `d_real_grads` is the gradient of the real logits
    with respect to the real images (summed over the batch, which is each image's own
    gradient: one image's logit depends on that image alone).
    """
    grads = tf.cast(d_real_grads, tf.float32)
    return 0.5 * gamma * tf.reduce_sum(tf.square(grads), axis=tf.range(1, tf.rank(grads)))
