"""runtime.streams' Philox keys draw what tf.random's stateless ops draw with alg="philox",
number for number, eagerly and under XLA: a run's noise, labels, flips and augmentations are
what they were before the step drew them with the raw ops (a resumed run and an old
checkpoint continue unchanged)."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist.runtime import streams

SEEDS = np.random.default_rng(0).integers(-2**63, 2**63 - 1, (12, 2), dtype=np.int64)


def _theirs_and_ours(seed):
    """(tf.random's, streams') draws for one int64 seed [2], of the kinds the package makes."""
    small = tf.cast(seed % 1000, tf.int32)  # an int32 seed
    theirs = [
        tf.random.experimental.stateless_fold_in(seed, tf.constant(7, tf.int64), alg="philox"),
        tf.random.experimental.stateless_fold_in(small, 3, alg="philox"),
        tf.random.stateless_uniform([5, 3], seed, alg="philox"),
        tf.random.stateless_uniform([9], small, minval=0, maxval=10, dtype=tf.int32,
                                    alg="philox"),
        tf.random.stateless_normal([6, 2], seed, alg="philox"),
    ]
    ours = [
        streams.fold_in(seed, tf.constant(7, tf.int64)),
        streams.fold_in(small, 3),
        tf.raw_ops.StatelessRandomUniformV2(shape=[5, 3], dtype=tf.float32,
                                            **streams.philox(seed)),
        tf.raw_ops.StatelessRandomUniformIntV2(shape=[9], minval=tf.constant(0),
                                               maxval=tf.constant(10), **streams.philox(small)),
        tf.raw_ops.StatelessRandomNormalV2(shape=[6, 2], dtype=tf.float32,
                                           **streams.philox(seed)),
    ]
    return theirs, ours


@pytest.mark.parametrize("jit_compile", [False, True])
def test_philox_draws_are_tf_randoms_number_for_number(jit_compile):
    both = tf.function(_theirs_and_ours, jit_compile=jit_compile)
    for seed in SEEDS:
        theirs, ours = both(tf.constant(seed))
        for a, b in zip(theirs, ours):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # ... and differ between seeds: the comparison above compares numbers, not constants.
    first, second = (both(tf.constant(seed))[1] for seed in SEEDS[:2])
    assert all(not np.array_equal(a, b) for a, b in zip(first, second))


def test_keyed_folds_the_stream_and_keys_in_as_tf_random_does():
    expected = tf.constant([5, 0], tf.int64)
    for key in (streams.NOISE, 12, 1):
        expected = tf.random.experimental.stateless_fold_in(expected, tf.constant(key, tf.int64),
                                                            alg="philox")
    np.testing.assert_array_equal(streams.keyed(5, streams.NOISE, 12, 1), expected)
