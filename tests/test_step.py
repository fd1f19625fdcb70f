"""The replica step: one replica and two replicas agree; fp16 overflow on one replica is shared."""

import numpy as np
import tensorflow as tf

from dcgan_dist import loop, metrics, state as state_lib, step as step_lib
from conftest import all_weights, one_replica, two_replicas


def test_noise_is_a_function_of_the_global_example():
    whole = step_lib.replica_noise(0, 5, 8, 3, 0, 8)
    halves = [step_lib.replica_noise(0, 5, 8, 3, r, 4) for r in range(2)]
    np.testing.assert_array_equal(whole, tf.concat(halves, 0))
    assert not np.allclose(halves[0], halves[1])
    assert not np.allclose(whole, step_lib.replica_noise(0, 6, 8, 3, 0, 8))


def test_keystone_one_and_two_replicas_reach_the_same_weights(make_config, tmp_path):
    """Same seed, same global batches, no dropout, synchronized BN: equal weights after 3 steps.

    In float64. In float32 the two runs differ by up to 5e-5 after 3 steps (1e-7 with SGD):
    gradients into batch norm are sums of nearly cancelling terms, their rounding depends on
    the summation order, and Adam rescales such near-zero gradients to lr-sized steps.
    """
    runs = {}
    for name, strategy in [("one", one_replica()), ("two", two_replicas())]:
        config = make_config(workdir=str(tmp_path / name), train_steps=3, d_dropout=0.0,
                             sync_batchnorm=True, global_batch_size=16, precision="float64")
        runs[name] = (all_weights(loop.train(config, strategy=strategy)),
                      metrics.read_stats(config.workdir))
    (w1, stats1), (w2, stats2) = runs["one"], runs["two"]
    assert len(w1) == len(w2) == 22
    assert max(np.max(np.abs(a - b)) for a, b in zip(w1, w2)) < 1e-5
    # Losses are global-batch means on both: a replica dividing by its own slice would
    # report (and differentiate) twice the loss under two replicas.
    assert len(stats1) == len(stats2) == 3
    for a, b in zip(stats1, stats2):
        assert a["step"] == b["step"]
        np.testing.assert_allclose([a["g_loss"], a["d_loss"]], [b["g_loss"], b["d_loss"]],
                                   rtol=1e-5)


def test_fp16_overflow_on_one_replica_skips_the_step_on_all(make_config):
    strategy = two_replicas()
    config = make_config(precision="mixed_float16", global_batch_size=4, d_dropout=0.0)
    state = state_lib.build_state(config, strategy, (28, 28, 1), "mixed_float16")
    trainable = lambda: [v.numpy() for v in state.generator.trainable_weights +  # noqa: E731
                         state.discriminator.trainable_weights]
    before = trainable()
    normal = tf.random.uniform([2, 28, 28, 1], -1, 1)
    huge = tf.fill([2, 28, 28, 1], 1e30)  # inf in float16: non-finite gradients on replica 1 only

    def dataset_fn(ctx):
        return tf.data.Dataset.from_tensor_slices(tf.stack([normal, huge, normal, normal]))

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    train_fn = step_lib.make_train_fn(strategy, state, config, per_replica_batch_size=2)
    out = train_fn(iterator, tf.constant(1))
    assert float(out["skipped_steps"]) == 1.0
    after = trainable()
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)  # (batch-norm moving statistics still move)
    scales = [float(v) for v in strategy.experimental_local_results(state.g_opt.dynamic_scale.value)]
    assert scales == [2.0**14, 2.0**14]  # halved from 2**15 on both replicas

    out = train_fn(iterator, tf.constant(1))  # a normal step trains again
    assert float(out["skipped_steps"]) == 0.0
    after_normal = trainable()
    assert all(np.all(np.isfinite(w)) for w in all_weights(state))
    assert all(np.all(np.isfinite(w)) for w in after_normal)
    assert any(not np.array_equal(a, b) for a, b in zip(after, after_normal))
