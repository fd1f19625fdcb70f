"""GAN objectives as g_/d_ pairs on discriminator logits, behind --loss, and the penalties.

    LOSSES = {"nonsaturating": ..., "hinge": ..., "wasserstein": ..., "least_squares": ...}
    losses.LOSSES[objective.loss].g(d_fake_logits)                 # one value per example
    losses.LOSSES[objective.loss].d(d_real_logits, d_fake_logits)  # one value per example

Every function returns one value per example, not a mean: the caller averages with
`tf.nn.compute_average_loss(..., global_batch_size=...)`, because under tf.distribute each
replica's gradients are summed by the all-reduce, so each replica must divide by the global
batch, not its own slice (dividing by the slice scales every update by the replica count).
Logits of any float dtype (bfloat16 and float16 under mixed precision) give float32 losses.
A new objective is a pair of functions and one entry in LOSSES; --loss offers it by itself.
"""

import dataclasses
from typing import Callable

import tensorflow as tf


def _flat(logits):
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def _bce(labels_value, logits):
    logits = _flat(logits)
    return tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), labels_value), logits=logits)


def g_nonsaturating(d_fake_logits):
    """Non-saturating generator loss -log D(G(z)), i.e. BCE of fakes against label 1
    (Goodfellow et al. 2014, "Generative Adversarial Nets", section 3)."""
    return _bce(1.0, d_fake_logits)


def d_nonsaturating(d_real_logits, d_fake_logits):
    """Discriminator BCE(real, 1) + BCE(fake, 0) for each pair of examples (Goodfellow et al.
    2014). Averaged over the batch it equals the TensorFlow tutorial's
    `cross_entropy(ones, real) + cross_entropy(zeros, fake)` with batch means."""
    return _bce(1.0, d_real_logits) + _bce(0.0, d_fake_logits)


def g_hinge(d_fake_logits):
    """Hinge generator loss -D(G(z)) (Lim and Ye 2017, "Geometric GAN"; Miyato et al. 2018,
    "Spectral Normalization for GANs", eq. 17): the critic's score of the fakes, unbounded."""
    return -_flat(d_fake_logits)


def d_hinge(d_real_logits, d_fake_logits):
    """Hinge discriminator loss max(0, 1 - D(x)) + max(0, 1 + D(G(z))) (Lim and Ye 2017;
    Miyato et al. 2018, eq. 16): examples beyond the margin of 1 give no gradient."""
    return tf.nn.relu(1.0 - _flat(d_real_logits)) + tf.nn.relu(1.0 + _flat(d_fake_logits))


def g_wasserstein(d_fake_logits):
    """Wasserstein generator loss -D(G(z)) (Arjovsky, Chintala and Bottou 2017, "Wasserstein
    GAN", algorithm 1)."""
    return -_flat(d_fake_logits)


def d_wasserstein(d_real_logits, d_fake_logits):
    """Wasserstein critic loss D(G(z)) - D(x) (Arjovsky et al. 2017). It estimates the
    Wasserstein-1 distance only for a 1-Lipschitz critic, which this loss alone does not make:
    pair it with --d_gp_gamma (Gulrajani et al. 2017) or --d_spectral_norm."""
    return _flat(d_fake_logits) - _flat(d_real_logits)


def g_least_squares(d_fake_logits):
    """Least-squares generator loss 1/2 (D(G(z)) - 1)^2 (Mao et al. 2017, "Least Squares
    Generative Adversarial Networks", eq. 2 with c = 1), on the raw logit."""
    return 0.5 * tf.square(_flat(d_fake_logits) - 1.0)


def d_least_squares(d_real_logits, d_fake_logits):
    """Least-squares discriminator loss 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2 (Mao et al. 2017,
    eq. 2 with b = 1, a = 0), on the raw logit: TF-GAN's least_squares_discriminator_loss."""
    return 0.5 * tf.square(_flat(d_real_logits) - 1.0) + 0.5 * tf.square(_flat(d_fake_logits))


@dataclasses.dataclass(frozen=True)
class Objective:
    """One GAN objective: `g(d_fake_logits)` and `d(d_real_logits, d_fake_logits)`, both per
    example."""
    g: Callable
    d: Callable


LOSSES = {  # --loss; the first is the default (today's objective)
    "nonsaturating": Objective(g_nonsaturating, d_nonsaturating),
    "hinge": Objective(g_hinge, d_hinge),
    "wasserstein": Objective(g_wasserstein, d_wasserstein),
    "least_squares": Objective(g_least_squares, d_least_squares),
}



def _squared_norm_per_example(grads):
    grads = tf.cast(grads, tf.float32)
    return tf.reduce_sum(tf.square(grads), axis=tf.range(1, tf.rank(grads)))


def d_r1_penalty_per_example(d_real_grads, gamma):
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?",
    eq. 9): gamma / 2 * ||grad_x D(x)||^2 on real images.

    Penalising the discriminator's slope on the data keeps it from growing sharp where the
    generator cannot follow, which is what lets simultaneous gradient descent converge
    instead of circling the equilibrium. `d_real_grads` is the gradient of the real logits
    with respect to the real images (summed over the batch, which is each image's own
    gradient: one image's logit depends on that image alone). The lazy form (every Nth step
    with gamma x N, Karras et al. 2020) is the caller's: `step.py` passes that gamma.
    """
    return 0.5 * gamma * _squared_norm_per_example(d_real_grads)


# Inside the square root: keeps the gradient of the norm finite where D is flat (TF-GAN's
# wasserstein_gradient_penalty uses the same 1e-10).
GP_EPSILON = 1e-10


def d_gp_penalty_per_example(d_interpolate_grads, gamma):
    """WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", algorithm 1):
    gamma * (||grad_x D(x_hat)|| - 1)^2 at x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] per
    example; `d_interpolate_grads` is the gradient of the interpolates' logits with respect
    to the interpolates (each image's own, as for R1). The paper uses gamma (its lambda) 10.
    """
    norms = tf.sqrt(_squared_norm_per_example(d_interpolate_grads) + GP_EPSILON)
    return gamma * tf.square(norms - 1.0)


def interpolate(real_images, fake_images, eps):
    """x_hat = eps * real + (1 - eps) * fake, with one eps in [0, 1] per example (shape [N])."""
    eps = tf.reshape(tf.cast(eps, real_images.dtype), [-1] + [1] * (real_images.shape.rank - 1))
    return eps * real_images + (1.0 - eps) * tf.cast(fake_images, real_images.dtype)
