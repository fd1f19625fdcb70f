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
