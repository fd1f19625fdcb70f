"""Spectral normalisation's layer (sigma, its gradient, no side effects, mixed precision,
checkpoints), and the objectives' options through the loop: exact resume (the loop's resume
test, with every option on), mixed precision with XLA, and the fp16 overflow skip. The keystone and XLA with each are in test_step.py,
golden losses and penalties in test_losses.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import loop, models
from dcgan_dist.config import Config
from dcgan_dist.training import state as state_lib, step as step_lib
from dcgan_dist.models import conditioning, layers, tutorial
from dcgan_dist.rundir import progress
from conftest import all_weights, one_replica, trainable_weights, two_replicas


def _largest_singular_value(kernel):
    kernel = np.asarray(kernel, np.float64)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def _spectral_layers(model):
    return [l for l in model.layers if isinstance(l, layers.SpectralNormalization)]


@pytest.mark.parametrize("architecture, image_shape", [("tutorial", (28, 28, 1)),
                                                       ("dcgan", (32, 32, 1))])
def test_every_discriminator_layer_is_normalised_to_largest_singular_value_one(architecture,
                                                                               image_shape):
    config = Config.of(workdir="/x", architecture=architecture, g_filters=8, d_filters=8,
                       d_dense_units=16, d_spectral_norm=True)
    _, discriminator = models.build(config.model, image_shape)
    normalised = _spectral_layers(discriminator)
    # tutorial: two convs, the hidden dense layer, the logit; dcgan: three convs, the logit.
    assert len(normalised) == 4
    for layer in normalised:  # u from the builder's SVD
        kernel = layer.layer.kernel.numpy()
        np.testing.assert_allclose(float(layer.sigma()), _largest_singular_value(kernel),
                                   rtol=1e-2)
        np.testing.assert_allclose(_largest_singular_value(kernel / float(layer.sigma())), 1.0,
                                   rtol=1e-2)
    if architecture == "dcgan":  # one normalisation or the other
        assert discriminator.norms == [] and not any(
            isinstance(l, keras.layers.BatchNormalization) for l in discriminator.layers)


def test_power_iterations_follow_a_changed_kernel():
    layer = layers.SpectralNormalization(keras.layers.Dense(6))
    layer.build((None, 10))
    rng = np.random.default_rng(0)
    layer.layer.kernel.assign(rng.normal(size=(10, 6)))
    layer.initialise()
    np.testing.assert_allclose(float(layer.sigma()), _largest_singular_value(layer.layer.kernel),
                               rtol=1e-5)
    layer.layer.kernel.assign(rng.normal(size=(10, 6)) * np.linspace(1, 3, 6))
    before = float(layer.sigma())
    layers.update_spectral_norms(keras.Sequential([layer]), iterations=50)
    assert abs(before / _largest_singular_value(layer.layer.kernel) - 1) > 0.01  # was stale
    np.testing.assert_allclose(float(layer.sigma()), _largest_singular_value(layer.layer.kernel),
                               rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(layer.u.numpy()), 1.0, rtol=1e-6)


def test_output_and_gradient_are_the_papers_for_a_dense_logit():
    """W = [3, 4]^T: sigma = |W| = 5 exactly, y = x.W / 5, and dy/dW = x / 5 - (x.W) W / 125
    (the paper's gradient through sigma; Keras' SpectralNormalization gives x / 5 alone).
    For x = [1, 2]: y = 11 / 5 = 2.2 and dy/dW = [0.2 - 0.264, 0.4 - 0.352]."""
    layer = layers.SpectralNormalization(keras.layers.Dense(1, bias_initializer="ones"))
    layer.build((None, 2))
    layer.layer.kernel.assign([[3.0], [4.0]])
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        y = layer(x)
    np.testing.assert_allclose(y, [[2.2 + 1.0]], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(y, layer.layer.kernel), [[-0.064], [0.048]],
                               rtol=1e-5)


def test_a_training_call_changes_no_variable_and_keeps_float32_weights_under_bf16():
    """Keras' own SpectralNormalization writes the normalised kernel into the trainable one on
    every training call, under mixed_bfloat16 rounded to bfloat16; this layer has no side
    effects: u moves only in update_spectral_norms."""
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")  # reset by conftest
    discriminator = tutorial.build_discriminator((28, 28, 1), 0.0, 4, 8, True)
    before = [w.numpy() for w in discriminator.weights]
    logits = discriminator(tf.random.normal([3, 28, 28, 1]), training=True)
    # The wrapper's policy is the variables' (float32); the wrapped conv runs in bfloat16.
    assert logits.dtype == tf.float32 and discriminator.conv1.layer.compute_dtype == "bfloat16"
    assert discriminator.conv1(tf.zeros([1, 28, 28, 1])).dtype == tf.bfloat16
    for a, b in zip(before, discriminator.weights):
        assert b.dtype == "float32"
        np.testing.assert_array_equal(a, b.numpy())
    kernel = discriminator.conv1.layer.kernel.numpy()
    assert not np.array_equal(kernel, tf.cast(tf.cast(kernel, tf.bfloat16), tf.float32))


def test_spectral_norm_adds_only_u_and_a_checkpoint_holds_it(tmp_path):
    plain = tutorial.build_discriminator((28, 28, 1), 0.0, 4, 8, False)
    normalised = tutorial.build_discriminator((28, 28, 1), 0.0, 4, 8, True)
    assert len(normalised.trainable_weights) == len(plain.trainable_weights) == 8
    assert [w.path.rsplit("/", 1)[-1] for w in normalised.non_trainable_weights] == [
        "spectral_u"] * 4
    prefix = tf.train.Checkpoint(discriminator=normalised).write(str(tmp_path / "ckpt"))
    saved = [n for n, _ in tf.train.list_variables(prefix) if n.endswith("VARIABLE_VALUE")]
    assert len(saved) == len(normalised.weights) == 12
    assert sum("spectral_u" in n or "/u/" in n for n in saved) == 4


OPTIONS = dict(loss="least_squares", d_spectral_norm=True, d_gp_gamma=1.0, d_r1_gamma=1.0,
               r1_every_steps=3, d_dense_units=8)


@pytest.mark.slow
def test_resume_with_every_option_matches_a_straight_run(make_config, tmp_path):
    """The loop's resume, with every option on: a run stopped at step 2 continues at its
    checkpoint, logs each step once, and ends where a straight run does. u is state; R1 on
    steps 0 and 3, the gradient penalty's interpolates, dropout masks, flips, generated
    classes and the input order are keyed by the step."""
    def config(name, train_steps):  # conditional, with flips: their draws are keyed too
        return make_config(workdir=str(tmp_path / name), train_steps=train_steps, d_dropout=0.2,
                           g_ema_decay=0.9, conditional=True, random_flip=True, **OPTIONS)

    straight = loop.train(config("straight", 4))
    split_dir = str(tmp_path / "split")
    loop.train(config("split", 2))
    assert [r["step"] for r in progress.read_stats(split_dir)] == [1, 2]
    resumed = loop.train(config("split", 4))
    assert int(resumed.step.numpy()) == 4
    assert [r["step"] for r in progress.read_stats(split_dir)] == [1, 2, 3, 4]
    assert tf.train.latest_checkpoint(f"{split_dir}/ckpt").endswith("ckpt-4")
    assert len(list(layers.spectral_norms(resumed.discriminator))) == 4
    for a, b in zip(all_weights(straight) + [w.numpy() for w in straight.g_ema.weights],
                    all_weights(resumed) + [w.numpy() for w in resumed.g_ema.weights]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # u did move with training, by one power iteration per step.
    fresh_config = config("fresh", 4)
    fresh = state_lib.build_state(fresh_config.model, fresh_config.objective,
                                  fresh_config.augment, tf.distribute.get_strategy(),
                                  (28, 28, 1), "float32")
    assert max(np.max(np.abs(a.u.numpy() - b.u.numpy())) for a, b in zip(
        layers.spectral_norms(fresh.discriminator),
        layers.spectral_norms(resumed.discriminator))) > 1e-6


# bfloat16 with XLA (the TPU's path) with every objective option on, on dcgan (whose
# discriminator then has no batch norm), and class-conditional (conditional BN and the
# projection under it). float16 with its loss scaling (the GPU's) and every option, on two
# replicas whose overflow verdicts must agree, is the next test's.
@pytest.mark.slow
@pytest.mark.parametrize("precision, jit_compile, loss", [("mixed_bfloat16", True, "hinge")])
def test_every_option_trains_under_mixed_precision(make_config, tmp_path, precision,
                                                   jit_compile, loss):
    config = make_config(architecture="dcgan", image_size=32, g_filters=4, d_filters=4,
                         precision=precision, jit_compile=jit_compile, steps_per_execution=2,
                         train_steps=2, d_dropout=0.3, conditional=True, g_ema_decay=0.9,
                         **dict(OPTIONS, loss=loss))
    state = loop.train(config, strategy=(two_replicas() if precision == "mixed_float16"
                                         else one_replica()))
    assert int(state.step.numpy()) == 2
    compute = precision.split("_")[1]
    assert state.discriminator.base.conv1.layer.compute_dtype == compute
    cbn = [l for l in state.generator.layers if isinstance(l, conditioning.ConditionalBatchNorm)]
    assert cbn and all(l.compute_dtype == compute for l in cbn)
    variables = state.discriminator.weights + state.d_opt.variables
    assert {v.dtype for v in variables if v.dtype != "int64"} == {"float32"}
    assert all(np.all(np.isfinite(w)) for w in trainable_weights(state))


def test_fp16_overflow_on_one_replica_skips_the_step_with_every_option(make_config):
    """An overflow on one replica skips the step on all, halves the loss scale on both, and
    the next normal step trains again; the verdict is shared with the penalties and spectral
    norm on, and u, identical on both replicas, takes its power iteration on the unchanged
    kernels."""
    strategy = two_replicas()
    config = make_config(precision="mixed_float16", global_batch_size=4, d_dropout=0.0,
                         **dict(OPTIONS, loss="wasserstein", r1_every_steps=1))
    state = state_lib.build_state(config.model, config.objective, config.augment, strategy,
                                  (28, 28, 1), "mixed_float16")
    before = trainable_weights(state)
    normal = tf.random.uniform([2, 28, 28, 1], -1, 1)
    huge = tf.fill([2, 28, 28, 1], 1e30)  # inf in float16 on replica 1 only
    iterator = iter(strategy.distribute_datasets_from_function(
        lambda ctx: tf.data.Dataset.from_tensor_slices(tf.stack([normal, huge, normal, normal]))))
    train_fn = step_lib.make_train_fn(strategy, state, config.objective, config.augment,
                                      per_replica_batch_size=2)
    out = train_fn(iterator, tf.constant(1), tf.constant(2))
    assert float(out["skipped_steps"]) == 1.0
    after = trainable_weights(state)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)  # (batch-norm moving statistics still move)
    scales = [float(v) for v in strategy.experimental_local_results(state.g_opt.dynamic_scale.value)]
    assert scales == [2.0**14, 2.0**14]  # halved from 2**15 on both replicas
    for layer in _spectral_layers(state.discriminator):
        local = [u.numpy() for u in strategy.experimental_local_results(layer.u.value)]
        np.testing.assert_array_equal(local[0], local[1])
        assert np.all(np.isfinite(local[0]))

    out = train_fn(iterator, tf.constant(1), tf.constant(2))  # a normal step trains again
    assert float(out["skipped_steps"]) == 0.0
    after_normal = trainable_weights(state)
    assert all(np.all(np.isfinite(w)) for w in after_normal)
    assert any(not np.array_equal(a, b) for a, b in zip(after, after_normal))


@pytest.mark.parametrize("penalty", [dict(d_r1_gamma=3.0), dict(d_gp_gamma=3.0)],
                         ids=["r1", "gp"])
def test_penalties_differentiate_with_respect_to_the_images_before_augmentation(make_config,
                                                                              monkeypatch,
                                                                              penalty):
    """With --augment, D sees augmented images and the penalty's input gradient is taken with
    respect to the images before augmentation (R1's reals; the gradient penalty's interpolates
    of un-augmented reals and fakes, augmented by a draw of their own). An "augmentation" that
    doubles every image makes the two choices differ by a factor of 2 in the gradient."""
    from dcgan_dist.training import augment, losses
    seen = []
    # (1 + p) x: doubles at DiffAugment's p = 1; like the real transforms, nothing at p = 0.
    monkeypatch.setattr(augment, "apply", lambda images, uniforms, transforms, p: seen.append(
        uniforms) or images * (1.0 + tf.cast(p, images.dtype)))
    config = make_config(d_dropout=0.0, global_batch_size=4, augment="diffaugment", **penalty)
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), (28, 28, 1), "float32")
    d = state.discriminator
    real = tf.random.stateless_uniform([4, 28, 28, 1], [1, 2], -1, 1)
    z = step_lib.replica_noise(config.objective.seed, 0, 4, config.model.noise_dim, 0, 4)
    fake = state.generator(z, training=True)
    x = real
    if config.objective.d_gp_gamma:
        x = losses.interpolate(
            real, fake, step_lib.replica_gp_eps(config.objective.seed, 0, 4, 0, 4))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = d(2 * x, training=True)
    grads = tape.gradient(logits, x)
    penalty_fn = (losses.d_gp_penalty_per_example if config.objective.d_gp_gamma else
                  losses.d_r1_penalty_per_example)
    gamma = config.objective.d_gp_gamma or config.objective.d_r1_gamma
    objective = losses.LOSSES[config.objective.loss].d(d(2 * real, training=True),
                                                       d(2 * fake, training=True))
    expected = float(tf.reduce_mean(objective + penalty_fn(grads, gamma)))
    wrong = float(tf.reduce_mean(objective + penalty_fn(grads / 2, gamma)))  # after augmenting
    out = step_lib.make_train_fn(tf.distribute.get_strategy(), state, config.objective,
                                 config.augment, 4)(
        iter(tf.data.Dataset.from_tensors(real).repeat()), tf.constant(1), tf.constant(1))
    np.testing.assert_allclose(float(out["d_loss"]), expected, rtol=1e-5)
    assert abs(wrong - expected) > 1e-3 * abs(expected)
    # Augmented: reals, fakes, and with the gradient penalty its interpolates.
    assert len(seen) == (3 if config.objective.d_gp_gamma else 2)


def test_a_conditional_discriminator_keeps_its_spectral_norms():
    """--conditional wraps the architecture's discriminator in a projection model: its
    spectral norms are still initialised and moved by the step's update (they sit one model
    down)."""
    config = Config.of(workdir="/x", architecture="dcgan", g_filters=8, d_filters=8,
                       d_spectral_norm=True)
    _, discriminator = models.build(config.model, (32, 32, 1), num_classes=3)
    normalised = list(layers.spectral_norms(discriminator))
    assert len(normalised) == 4 and not _spectral_layers(discriminator)  # all one level down
    first = normalised[0]
    np.testing.assert_allclose(float(first.sigma()),
                               _largest_singular_value(first.layer.kernel.numpy()), rtol=1e-2)
    first.layer.kernel.assign(first.layer.kernel * 3.0)
    layers.update_spectral_norms(discriminator, iterations=20)
    np.testing.assert_allclose(float(first.sigma()),
                               _largest_singular_value(first.layer.kernel.numpy()), rtol=1e-2)
