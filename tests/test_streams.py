"""runtime.streams' Philox draws are tf.random's stateless ones with alg="philox", number for
number, eagerly and under XLA: a run's noise, masks, flips and augmentations are what they were
before streams drew them itself (a resumed run and an old checkpoint continue unchanged)."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist.runtime import streams

SEEDS = np.random.default_rng(0).integers(-2**63, 2**63 - 1, (12, 2), dtype=np.int64)


def _theirs_and_ours(seed):
    """(tf.random's, streams') draws for one int64 seed [2], in the kinds the package takes."""
    small = tf.cast(seed % 1000, tf.int32)  # int32 seeds, as layers.layer_seeds makes them
    theirs = [
        tf.random.experimental.stateless_fold_in(seed, tf.constant(7, tf.int64), alg="philox"),
        tf.random.experimental.stateless_fold_in(small, 3, alg="philox"),
        tf.random.stateless_uniform([5, 3], seed, alg="philox"),
        tf.random.stateless_uniform([4], small, minval=-1.0, maxval=1.0, dtype=tf.float64,
                                    alg="philox"),
        tf.random.stateless_uniform([9], seed, minval=0, maxval=10, dtype=tf.int32, alg="philox"),
        tf.random.stateless_normal([6, 2], seed, alg="philox"),
        tf.random.stateless_normal([3], small, dtype=tf.bfloat16, alg="philox"),
    ]
    ours = [
        streams.fold_in(seed, tf.constant(7, tf.int64)),
        streams.fold_in(small, 3),
        streams.uniform([5, 3], seed),
        streams.uniform([4], small, minval=-1.0, maxval=1.0, dtype=tf.float64),
        streams.uniform([9], seed, minval=0, maxval=10, dtype=tf.int32),
        streams.normal([6, 2], seed),
        streams.normal([3], small, dtype=tf.bfloat16),
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


def test_an_integer_uniform_without_maxval_is_refused():
    with pytest.raises(ValueError, match="needs a maxval"):
        streams.uniform([2], tf.constant([1, 2], tf.int64), dtype=tf.int32)
