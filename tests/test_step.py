"""The replica step: one replica and two replicas agree; XLA computes what plain TensorFlow
does; fp16 overflow on one replica is shared; R1, lazy R1, the gradient penalty and the rate
schedule."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import loop
from dcgan_dist.training import state as state_lib, step as step_lib
from dcgan_dist.models import strided
from dcgan_dist.rundir import progress
from conftest import one_replica, trainable_weights, two_replicas


def test_noise_is_a_function_of_the_global_example():
    whole = step_lib.replica_noise(0, 5, 8, 3, 0, 8)
    halves = [step_lib.replica_noise(0, 5, 8, 3, r, 4) for r in range(2)]
    np.testing.assert_array_equal(whole, tf.concat(halves, 0))
    assert not np.allclose(halves[0], halves[1])
    assert not np.allclose(whole, step_lib.replica_noise(0, 6, 8, 3, 0, 8))


def test_gp_interpolation_weights_are_a_function_of_the_global_example():
    whole = step_lib.replica_gp_eps(0, 5, 8, 0, 8).numpy()
    halves = [step_lib.replica_gp_eps(0, 5, 8, r, 4).numpy() for r in range(2)]
    np.testing.assert_array_equal(whole, np.concatenate(halves))
    assert whole.shape == (8,) and whole.min() >= 0 and whole.max() < 1
    assert not np.allclose(whole, step_lib.replica_gp_eps(0, 6, 8, 0, 8))  # keyed by step
    # Its own stream: not the noise's numbers.
    assert not np.allclose(whole, step_lib.replica_noise(0, 5, 8, 1, 0, 8)[:, 0])


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


# No case of its own for the plain step (no options, no augmentation) or for R1 without
# augmentation (the suite's budget): every case below runs the plain step's paths with its
# options on, each architecture twice, and augmentation none is the hinge case's.
# --conditional on dcgan with ada: real labels split with their images, generated classes
# keyed by the step, the generator's conditional BN synchronised, each replica augmenting its
# own rows with the labels untouched (+ the class embedding and the projection: 2 weights).
# Each new path of the objectives once: lazy R1 over 3 steps runs both of its branches (R1 on
# steps 0 and 2); spectral norm's u is state updated after each step; the gradient penalty's
# interpolates are keyed like the noise. (Weights: + u per spectrally normalised layer; dcgan
# with spectral norm has no discriminator BN, whose convs then have biases.)
# The first case, the cheapest, is the quick subset's keystone; the others are slow.
@pytest.mark.parametrize("architecture, options, augment, num_weights", [
    ("tutorial", dict(d_r1_gamma=10.0), "diffaugment", 22),
    pytest.param("dcgan", dict(d_r1_gamma=10.0, conditional=True), "ada", 31 + 2,
                 marks=pytest.mark.slow),
    pytest.param("tutorial", dict(loss="hinge", d_spectral_norm=True, d_dense_units=8,
                                  d_r1_gamma=10.0, r1_every_steps=2), "none", 28,
                 marks=pytest.mark.slow),
    # The gradient penalty's interpolates augmented by their own global draw.
    pytest.param("dcgan", dict(loss="wasserstein", d_gp_gamma=10.0, d_spectral_norm=True),
                 "diffaugment", 31 - 8 + 2 + 4, marks=pytest.mark.slow),
], ids=["r1-diffaugment-tutorial", "conditional-r1-ada-dcgan", "hinge-sn-lazy_r1-tutorial",
        "wgan_gp-sn-diffaugment-dcgan"])
def test_keystone_one_and_two_replicas_reach_the_same_weights(make_config, tmp_path, monkeypatch,
                                                             strided_forms, architecture,
                                                             options, augment, num_weights):
    """Same seed, same global batches, no dropout, synchronized BN: equal weights after 3 steps.

    For both architectures; dcgan's discriminator has batch norm too, synchronized here.
    With R1 too: its per-example penalty is divided by the global batch like the losses.
    With augmentation, R1 on top (its gradient goes back through the transforms). And with
    the other objectives, lazy R1, the gradient penalty (with augmentation) and spectral
    norm, whose power iteration vectors end equal on both replicas.

    In float64. In float32 the two runs differ by up to 5e-5 after 3 steps (1e-7 with SGD):
    gradients into batch norm are sums of nearly cancelling terms, their rounding depends on
    the summation order, and Adam rescales such near-zero gradients to lr-sized steps.
    """
    if options.get("conditional"):  # its 4x4 maps' layers as GEMMs, as wide dcgans run them
        monkeypatch.setattr(strided, "GEMM_MIN_CHANNELS", {"float64": 8})
    runs = {}
    for name, strategy in [("one", one_replica()), ("two", two_replicas())]:
        config = make_config(workdir=str(tmp_path / name), train_steps=3, d_dropout=0.0,
                             sync_batchnorm=True, global_batch_size=16, precision="float64",
                             **KEYSTONE_MODELS[architecture], **options,
                             **KEYSTONE_AUGMENT[augment])
        state = loop.train(config, strategy=strategy)
        runs[name] = ([(v.path, v.numpy()) for v in state.generator.weights +
                       state.discriminator.weights], progress.read_stats(config.rundir.workdir))
        for v in state.discriminator.non_trainable_weights:  # u, BN statistics: per replica
            local = [x.numpy() for x in strategy.experimental_local_results(v.value)]
            assert all(np.array_equal(local[0], x) for x in local[1:]), v.path
        if augment == "ada":  # 3 updates of 16 / 64 from 0, on every replica
            assert [float(p) for p in strategy.experimental_local_results(state.ada.p)] == (
                [0.75] * strategy.num_replicas_in_sync)
    # models.strided's choices: only dcgan's layers choose, the image side always as blocks.
    assert set(strided_forms) == ({"blocks", "gemm", "op"} if options.get("conditional") else
                                  {"blocks", "op"} if architecture == "dcgan" else set())
    (w1, stats1), (w2, stats2) = runs["one"], runs["two"]
    # (Paths differ between the runs only in Keras' name counters: dense vs dense_2.)
    assert len(w1) == num_weights
    assert sum("spectral_u" in p for p, _ in w1) == (
        {"tutorial": 4, "dcgan": 4}[architecture] if options.get("d_spectral_norm") else 0)
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


def _one_step_weights(make_config, step=0, **overrides):
    """(generator, discriminator) trainable weights after training step `step` alone, and the
    step's losses."""
    config = make_config(d_dropout=0.0, global_batch_size=4, **overrides)
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), (28, 28, 1), "float32")
    state.step.assign(step)
    images = tf.random.stateless_uniform([4, 28, 28, 1], [1, 2], -1, 1)
    iterator = iter(tf.data.Dataset.from_tensors(images).repeat())
    out = step_lib.make_train_fn(tf.distribute.get_strategy(), state, config.objective,
                                 config.augment, 4)(iterator, tf.constant(1), tf.constant(1))
    return ([v.numpy() for v in state.generator.trainable_weights],
            [v.numpy() for v in state.discriminator.trainable_weights],
            {name: float(value) for name, value in out.items()})


@pytest.mark.parametrize("penalty", [
    dict(d_r1_gamma=100.0), pytest.param(dict(d_gp_gamma=100.0), marks=pytest.mark.slow)],
    ids=["r1", "gp"])
def test_a_penalty_changes_the_discriminator_update_only(make_config, penalty):
    g_plain, d_plain, _ = _one_step_weights(make_config)
    g_pen, d_pen, _ = _one_step_weights(make_config, **penalty)
    for a, b in zip(g_plain, g_pen):  # the generator's step sees the same discriminator
        # (to rounding: another graph may fuse the generator's gradient differently)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert max(np.max(np.abs(a - b)) for a, b in zip(d_plain, d_pen)) > 1e-6


@pytest.mark.slow
def test_lazy_r1_is_r1_times_n_on_every_nth_step_and_absent_between(make_config):
    """--r1_every_steps=3 --d_r1_gamma=2: step 3 trains as R1 with gamma 6 every step would,
    step 4 as no R1 would; the penalty in step 3's d_loss is 3 times R1's at gamma 2."""
    def run(step, **options):
        return _one_step_weights(make_config, step, d_dense_units=8, **options)

    d_losses = {}
    for step, equivalent in [(3, dict(d_r1_gamma=6.0)), (4, dict())]:
        g_lazy, d_lazy, lazy = run(step, d_r1_gamma=2.0, r1_every_steps=3)
        g_eager, d_eager, eager = run(step, **equivalent)
        for a, b in zip(g_lazy + d_lazy, g_eager + d_eager):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(lazy["d_loss"], eager["d_loss"], rtol=1e-6)
        d_losses[step] = lazy["d_loss"]
    # The penalty is there on step 3 (R1 is linear in gamma: 3 x gamma 2 is gamma 6, above).
    assert d_losses[3] - run(3)[2]["d_loss"] > 1e-3


def test_rate_scale_golden_values():
    scales = [float(step_lib.rate_scale(step, 100, 0.4)) for step in (0, 60, 70, 90, 99, 130)]
    np.testing.assert_allclose(scales, [1.0, 1.0, 0.75, 0.25, 0.025, 0.0], rtol=1e-6)
    assert float(step_lib.rate_scale(99, 100, 0.0)) == 1.0


@pytest.mark.slow
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


JIT_OPTIONS = {  # each with a gradient of a gradient, which XLA compiles too
    "dcgan-r1-ada": dict(architecture="dcgan", image_size=32, g_filters=4, d_filters=4,
                         d_r1_gamma=10.0, **KEYSTONE_AUGMENT["ada"]),
    # The gradient penalty through DiffAugment, spectral norm. (Lazy R1 only chooses between
    # two such compiled functions, outside XLA: the keystone runs both of its branches.)
    "tutorial-hinge-sn-gp-diffaugment": dict(loss="hinge", d_spectral_norm=True,
                                             d_gp_gamma=10.0, **KEYSTONE_AUGMENT["diffaugment"]),
}
# Replicas per case: two where batch norm and ada's all-reduced signs are (dcgan); one for the
# tutorial's objectives, whose paths have nothing per replica (the suite's budget: a second
# replica doubles the tracing).
JIT_REPLICAS = {"dcgan-r1-ada": 2, "tutorial-hinge-sn-gp-diffaugment": 1}


@pytest.mark.slow
@pytest.mark.parametrize("options", list(JIT_OPTIONS))
def test_jit_matches_plain_tensorflow(make_config, tmp_path, options):
    """XLA on the replica function (the TPU's path) computes what plain TensorFlow does:
    dcgan with batch norm and R1, whose gradient of a gradient XLA compiles too, with ada's
    augmentation (drawn outside XLA, applied inside), under MirroredStrategy with two
    replicas; and the tutorial's models with the other objectives' paths and DiffAugment on
    one replica; 2 steps.

    In float64, as the keystone: XLA fuses and reorders arithmetic, and in float32 the
    rounding flips the sign of near-zero gradients, which Adam turns into lr-sized steps
    (measured: 1.2e-7 apart on one VM, 3.4e-4 on another of the same kind). Dropout is off
    because XLA's random-number generator draws other masks than TensorFlow's kernels from
    the same stateless seed (measured: different uniforms for the same Philox seed), which is
    a different run, not an error. bfloat16 under XLA: test_dcgan_run.
    """
    configs = [make_config(workdir=str(tmp_path / f"jit{jit}"), jit_compile=jit, d_dropout=0.0,
                           precision="float64", **JIT_OPTIONS[options])
               for jit in (False, True)]
    strategy = {1: one_replica, 2: two_replicas}[JIT_REPLICAS[options]]
    runs = [trainable_weights(loop.train(c, strategy=strategy())) for c in configs]
    assert max(np.max(np.abs(a - b)) for a, b in zip(*runs)) < 1e-7
    shape = (32, 32, 1) if configs[0].model.architecture == "dcgan" else (28, 28, 1)
    initial = trainable_weights(state_lib.build_state(
        configs[0].model, configs[0].objective, configs[0].augment,
        tf.distribute.get_strategy(), shape, "float64"))
    untrained = [np.array_equal(a, b) for a, b in zip(runs[0], initial)]
    # All trained but, under hinge, the logit's bias: its gradient is -1 per real and +1 per
    # generated example while every logit is inside the margin, 0 in all.
    assert untrained == [False] * (len(untrained) - 1) + ["hinge" in options]
