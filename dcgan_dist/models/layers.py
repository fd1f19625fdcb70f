"""Layers the architectures share: dropout whose masks are a function of a seed.

Keras' own random ops drew the same mask on every replica, and a resumed run would draw other
masks than an uninterrupted one; these take the seed the replica step derives from (seed,
step, replica) in `streams`.
"""

import tensorflow as tf


def layer_seeds(dropout_seed, num_layers):
    """One dropout seed per layer, folded from the call's seed (None without one)."""
    if dropout_seed is None:
        return [None] * num_layers
    return [tf.random.experimental.stateless_fold_in(dropout_seed, i, alg="philox")
            for i in range(num_layers)]


def stateless_dropout(x, rate, training, seed):
    """Dropout whose mask is a function of `seed`: Keras' own drew the same on every replica."""
    if not training or rate == 0:
        return x
    if seed is None:
        raise ValueError("Discriminator(training=True) with dropout needs a dropout_seed")
    # Philox by name: the default "auto_select" picks another generator under XLA, and
    # jit-compiled runs would then draw other masks than plain TensorFlow.
    keep = tf.random.stateless_uniform(tf.shape(x), seed=seed, alg="philox") >= rate
    return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))
