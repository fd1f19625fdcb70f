"""The replica step: one replica and two replicas agree; XLA computes what plain TensorFlow
does; fp16 overflow on one replica is shared; R1 and the rate schedule."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import loop, state as state_lib, step as step_lib
from dcgan_dist.rundir import progress
from conftest import all_weights, one_replica, trainable_weights, two_replicas


def test_noise_is_a_function_of_the_global_example():
    whole = step_lib.replica_noise(0, 5, 8, 3, 0, 8)
    halves = [step_lib.replica_noise(0, 5, 8, 3, r, 4) for r in range(2)]
    np.testing.assert_array_equal(whole, tf.concat(halves, 0))
    assert not np.allclose(halves[0], halves[1])
    assert not np.allclose(whole, step_lib.replica_noise(0, 6, 8, 3, 0, 8))


# Measured: the runs differ by at most 2e-8 (tutorial) and 1e-9 (dcgan) after 3 steps.
KEYSTONE_ATOL = 1e-7
KEYSTONE_MODELS = {  # narrow widths (make_config's): the keystone checks arithmetic
    "tutorial": dict(),
    "dcgan": dict(architecture="dcgan", image_size=32, g_filters=4, d_filters=4),
}


# --augment on: its draws are rows of one global draw, and ada's p (made to move every
# step: a target of -1 is always exceeded) is updated from all-reduced signs.
KEYSTONE_AUGMENT = {
    "none": dict(),
    "diffaugment": dict(augment="diffaugment"),
    "ada": dict(augment="ada", augment_policy="flip,rotate90,translation,color,cutout",
                ada_target=-1.0, ada_every_steps=1, ada_kimg=0.064),
}


@pytest.mark.parametrize("architecture, d_r1_gamma, augment", [
    ("tutorial", 0.0, "none"), ("tutorial", 10.0, "none"), ("dcgan", 0.0, "none"),
    ("dcgan", 10.0, "none"), ("tutorial", 10.0, "diffaugment"), ("dcgan", 10.0, "ada")],
    ids=lambda v: {0.0: "plain", 10.0: "r1"}.get(v, v))
def test_keystone_one_and_two_replicas_reach_the_same_weights(make_config, tmp_path, d_r1_gamma,
                                                             architecture, augment):
    """Same seed, same global batches, no dropout, synchronized BN: equal weights after 3 steps.

    For both architectures; dcgan's discriminator has batch norm too, synchronized here.
    With R1 too: its per-example penalty is divided by the global batch like the losses.
    With augmentation, R1 on top (its gradient goes back through the transforms).

    In float64. In float32 the two runs differ by up to 5e-5 after 3 steps (1e-7 with SGD):
    gradients into batch norm are sums of nearly cancelling terms, their rounding depends on
    the summation order, and Adam rescales such near-zero gradients to lr-sized steps.
    """
    runs = {}
    for name, strategy in [("one", one_replica()), ("two", two_replicas())]:
        config = make_config(workdir=str(tmp_path / name), train_steps=3, d_dropout=0.0,
                             sync_batchnorm=True, global_batch_size=16, precision="float64",
                             d_r1_gamma=d_r1_gamma, **KEYSTONE_MODELS[architecture],
                             **KEYSTONE_AUGMENT[augment])
        state = loop.train(config, strategy=strategy)
        runs[name] = ([(v.path, v.numpy()) for v in state.generator.weights +
                       state.discriminator.weights], progress.read_stats(config.workdir))
        if augment == "ada":  # 3 updates of 16 / 64 from 0, on every replica
            assert [float(p) for p in strategy.experimental_local_results(state.ada.p)] == (
                [0.75] * strategy.num_replicas_in_sync)
    (w1, stats1), (w2, stats2) = runs["one"], runs["two"]
    # (Paths differ between the runs only in Keras' name counters: dense vs dense_2.)
    assert len(w1) == {"tutorial": 22, "dcgan": 31}[architecture]
    differing = [(p, float(np.max(np.abs(a - b)))) for (p, a), (_, b) in zip(w1, w2)
                 if not np.allclose(a, b, rtol=0, atol=KEYSTONE_ATOL)]
    assert not differing, f"first differing variable: {differing[0]} ({len(differing)} differ)"
    # Losses are global-batch means on both: a replica dividing by its own slice would
    # report (and differentiate) twice the loss under two replicas.
    assert len(stats1) == len(stats2) == 3
    for a, b in zip(stats1, stats2):
        assert a["step"] == b["step"]
        np.testing.assert_allclose([a["g_loss"], a["d_loss"], a["d_real_sign"]],
                                   [b["g_loss"], b["d_loss"], b["d_real_sign"]], rtol=1e-5)


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


def _one_step_weights(make_config, **overrides):
    config = make_config(d_dropout=0.0, global_batch_size=4, **overrides)
    state = state_lib.build_state(config, tf.distribute.get_strategy(), (28, 28, 1), "float32")
    images = tf.random.stateless_uniform([4, 28, 28, 1], [1, 2], -1, 1)
    iterator = iter(tf.data.Dataset.from_tensors(images).repeat())
    step_lib.make_train_fn(tf.distribute.get_strategy(), state, config, 4)(iterator, tf.constant(1))
    return ([v.numpy() for v in state.generator.trainable_weights],
            [v.numpy() for v in state.discriminator.trainable_weights])


def test_r1_changes_the_discriminator_update_only(make_config):
    g_plain, d_plain = _one_step_weights(make_config)
    g_r1, d_r1 = _one_step_weights(make_config, d_r1_gamma=100.0)
    for a, b in zip(g_plain, g_r1):  # the generator's step sees the same discriminator
        np.testing.assert_array_equal(a, b)
    assert max(np.max(np.abs(a - b)) for a, b in zip(d_plain, d_r1)) > 1e-6


def test_rate_scale_golden_values():
    scales = [float(step_lib.rate_scale(step, 100, 0.4)) for step in (0, 60, 70, 90, 99, 130)]
    np.testing.assert_allclose(scales, [1.0, 1.0, 0.75, 0.25, 0.025, 0.0], rtol=1e-6)
    assert float(step_lib.rate_scale(99, 100, 0.0)) == 1.0


def test_lr_decay_reaches_both_optimizers_and_follows_the_flags_on_resume(make_config, tmp_path):
    config = make_config(train_steps=4, lr_decay_fraction=0.5, g_lr=2e-3, d_lr=1e-3)
    state = loop.train(config)
    # Steps 0..3 of 4 with the last half decayed: scales 1, 1, 1, 0.5; the last one stays.
    np.testing.assert_allclose([float(state.g_opt.learning_rate),
                                float(state.d_opt.learning_rate)], [1e-3, 5e-4], rtol=1e-6)
    # Resumed for 4 more steps at other rates: the flags win over the checkpointed rates.
    state = loop.train(make_config(train_steps=8, lr_decay_fraction=0.5, g_lr=4e-3, d_lr=4e-3))
    np.testing.assert_allclose([float(state.g_opt.learning_rate),
                                float(state.d_opt.learning_rate)], [1e-3, 1e-3], rtol=1e-6)


def test_jit_matches_plain_tensorflow_under_two_replicas(make_config, tmp_path):
    """XLA on the replica function under MirroredStrategy (the TPU's path) computes what plain
    TensorFlow does: dcgan with batch norm and R1, whose gradient of a gradient XLA compiles
    too, with ada's augmentation (drawn outside XLA, applied inside), two replicas, 2 steps.

    In float64, as the keystone: XLA fuses and reorders arithmetic, and in float32 the
    rounding flips the sign of near-zero gradients, which Adam turns into lr-sized steps
    (measured: 1.2e-7 apart on one VM, 3.4e-4 on another of the same kind). Dropout is off
    because XLA's random-number generator draws other masks than TensorFlow's kernels from
    the same stateless seed (measured: different uniforms for the same Philox seed), which is
    a different run, not an error. bfloat16 under XLA: test_dcgan_run.
    """
    configs = [make_config(workdir=str(tmp_path / f"jit{jit}"), architecture="dcgan",
                           image_size=32, g_filters=4, d_filters=4, jit_compile=jit,
                           d_dropout=0.0, precision="float64", d_r1_gamma=10.0,
                           **KEYSTONE_AUGMENT["ada"])
               for jit in (False, True)]
    runs = [trainable_weights(loop.train(c, strategy=two_replicas())) for c in configs]
    assert max(np.max(np.abs(a - b)) for a, b in zip(*runs)) < 1e-7
    initial = trainable_weights(state_lib.build_state(
        configs[0], tf.distribute.get_strategy(), (32, 32, 1), "float64"))
    assert min(np.max(np.abs(a - b)) for a, b in zip(runs[0], initial)) > 0  # all trained
