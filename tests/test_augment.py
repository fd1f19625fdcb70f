"""--augment: each transform's geometry and range, gradients through every one of them,
draws that do not depend on the replica split, ADA's controller (toward its target, on a
discriminator made to overfit; p in the checkpoint, exact resume, on dcgan with dropout and
EMA), and the flags."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import build, loop
from dcgan_dist.errors import UserError
from dcgan_dist.rundir import progress
from dcgan_dist.runtime import streams
from dcgan_dist.training import augment, state as state_lib
from helpers import assert_same_checkpoints, latest_checkpoint

SIDE = 32


def _images(n=4, channels=1, seed=0):
    return tf.random.stateless_uniform([n, SIDE, SIDE, channels], [seed, 1], -1.0, 1.0)


def _uniforms(n, **columns):
    """Uniforms with every coin on (0) and the named transforms' magnitude columns set."""
    u = np.zeros([n, augment.NUM_COLUMNS], np.float32)
    for name, values in columns.items():
        _, first = augment.COLUMNS[name]
        u[:, first:first + len(values)] = values
    return tf.constant(u)


def test_translation_shifts_by_whole_pixels_with_zero_fill():
    images = _images(1)
    # u = 0.75 over 2 * 4 + 1 = 9 integers: floor(6.75) - 4 = +2 rows; u = 0 -> -4 columns.
    out = augment.apply(images, _uniforms(1, translation=[0.75, 0.0]), ["translation"], 1.0)
    x, y = images.numpy()[0, ..., 0], out.numpy()[0, ..., 0]
    np.testing.assert_array_equal(y[:SIDE - 2, 4:], x[2:, :SIDE - 4])  # out[r, c] = in[r+2, c-4]
    assert (y[SIDE - 2:] == 0).all() and (y[:, :4] == 0).all()


def test_cutout_zeroes_a_square_of_half_the_side():
    images = _images(1) * 0.5 + 0.6  # no zeros of its own
    out = augment.apply(images, _uniforms(1, cutout=[0.5, 0.5]), ["cutout"], 1.0).numpy()[0, ..., 0]
    zero_rows, zero_cols = np.nonzero(out == 0)
    assert len(zero_rows) == (SIDE // 2) ** 2
    assert (zero_rows.min(), zero_rows.max(), zero_cols.min(), zero_cols.max()) == (8, 23, 8, 23)


@pytest.mark.parametrize("u, turns", [(0.1, 0), (0.3, 1), (0.6, 2), (0.9, 3)])
def test_rotate90_turns_by_quarters(u, turns):
    images = _images(1)
    out = augment.apply(images, _uniforms(1, rotate90=[u]), ["rotate90"], 1.0)
    np.testing.assert_array_equal(out.numpy()[0], np.rot90(images.numpy()[0], turns, axes=(0, 1)))


def test_flip_mirrors_half_the_images_and_color_moves_values_within_its_magnitudes():
    images = _images(2, channels=3)
    out = augment.apply(images, _uniforms(2, flip=[[0.2], [0.7]]), ["flip"], 1.0).numpy()
    np.testing.assert_array_equal(out[0], images.numpy()[0, :, ::-1])
    np.testing.assert_array_equal(out[1], images.numpy()[1])
    # brightness + U(-0.5, 0.5): the largest shift is 0.5 (u -> 1), so values stay in [-1.5, 1.5].
    out = augment.apply(images, _uniforms(2, brightness=[[0.0], [1.0]]), ["brightness"], 1.0)
    np.testing.assert_allclose(out - images, [[[[-0.5]]], [[[0.5]]]] * np.ones_like(images),
                               atol=1e-6)


def test_p_zero_changes_nothing_and_p_one_applies_every_transform():
    images = _images(8, channels=3)
    u = augment.draw(0, streams.AUGMENT_REAL, 3, 8, 0, 8)
    policy = augment.parse_policy("color,translation,cutout,flip,rotate90")
    np.testing.assert_array_equal(augment.apply(images, u, policy, 0.0), images)
    out = augment.apply(images, u, policy, 1.0).numpy()
    assert out.shape == images.shape and np.isfinite(out).all()
    assert all(not np.allclose(a, b) for a, b in zip(out, images.numpy()))
    # Half the coins: roughly half the images change under a single transform.
    changed = augment.apply(images, u, ["brightness"], 0.5).numpy() != images.numpy()
    assert 0 < changed.any(axis=(1, 2, 3)).sum() < 8


def test_draws_are_rows_of_one_global_draw_so_the_replica_split_does_not_matter():
    whole = augment.draw(0, streams.AUGMENT_FAKE, 5, 8, 0, 8)
    halves = [augment.draw(0, streams.AUGMENT_FAKE, 5, 8, r, 4) for r in range(2)]
    np.testing.assert_array_equal(whole, tf.concat(halves, 0))
    assert not np.allclose(whole, augment.draw(0, streams.AUGMENT_REAL, 5, 8, 0, 8))
    assert not np.allclose(whole, augment.draw(0, streams.AUGMENT_FAKE, 6, 8, 0, 8))


def test_xla_computes_what_plain_tensorflow_does():
    images = _images(4, channels=3)
    u = augment.draw(1, streams.AUGMENT_REAL, 0, 4, 0, 4)
    policy = augment.parse_policy("color,translation,cutout,flip,rotate90")
    jitted = tf.function(lambda x, u: augment.apply(x, u, policy, 0.7), jit_compile=True)
    np.testing.assert_allclose(jitted(images, u), augment.apply(images, u, policy, 0.7),
                               atol=1e-6)


@pytest.mark.parametrize("name", list(augment.TRANSFORMS))
def test_the_generator_learns_through_every_transform(make_config, name):
    """Non-zero, finite gradients for every generator weight through G -> transform -> D (in
    colour: saturation leaves grey images as they are, as DiffAugment's does)."""
    config = make_config(architecture="dcgan", image_size=32, g_filters=4, d_filters=4,
                         d_dropout=0.0)
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), (32, 32, 3), "float32")
    z = tf.random.stateless_normal([4, config.model.noise_dim], [0, 1])
    u = tf.random.stateless_uniform([4, augment.NUM_COLUMNS], [0, 2])
    u = tf.tensor_scatter_nd_update(  # the coin on, and flip/rotate90 away from the identity
        u, [[i, augment.COLUMNS[name][0]] for i in range(4)], tf.zeros([4]))
    if name in ("flip", "rotate90"):
        column = augment.COLUMNS[name][1]
        u = tf.tensor_scatter_nd_update(u, [[i, column] for i in range(4)], tf.fill([4], 0.4))
    with tf.GradientTape() as tape:
        fakes = state.generator(z, training=True)
        seen = augment.apply(fakes, u, [name], 1.0)
        loss = tf.reduce_sum(state.discriminator(seen, training=True))
    assert not np.allclose(seen, fakes)  # the transform did something
    grads = tape.gradient(loss, state.generator.trainable_variables)
    assert all(g is not None and np.isfinite(g).all() for g in grads)
    assert all(np.abs(g).max() > 0 for g in grads)


def test_the_controller_moves_p_toward_the_target_from_the_sign_of_real_outputs(make_config):
    config = make_config(augment="ada", ada_every_steps=2, ada_kimg=0.032, global_batch_size=8)
    ada = augment.AdaController(config.augment)  # each update moves p by 2 * 8 / 32 = 0.5
    for step in range(4):  # every real output positive: r_t = 1 > 0.6, p rises
        ada.update(tf.constant(step, tf.int64), tf.constant(8.0))
    assert float(ada.p) == 1.0 and float(ada.signs) == 0.0  # clipped at 1
    ada.update(tf.constant(4, tf.int64), tf.constant(8.0))
    ada.update(tf.constant(5, tf.int64), tf.constant(-8.0))  # r_t = 0 < 0.6: p falls
    assert float(ada.p) == 0.5
    ada.update(tf.constant(6, tf.int64), tf.constant(8.0))  # half an interval: not yet
    assert float(ada.p) == 0.5 and float(ada.signs) == 8.0


@pytest.mark.slow
def test_p_rises_on_a_discriminator_made_to_overfit(make_config):
    """Eight fixed real images, a fast discriminator and a generator that cannot learn: D
    separates them within a few steps, r_t goes above 0.6, and p climbs."""
    config = make_config(augment="ada", train_steps=40, log_every_steps=4, ada_every_steps=4,
                         ada_kimg=0.32, global_batch_size=8, g_lr=1e-12, d_lr=1e-2,
                         d_dropout=0.0, ckpt_every_steps=40)
    reals = tf.random.stateless_uniform([8, 28, 28, 1], [3, 3], -1, 1)

    def dataset_fn(ctx, start_step):
        return tf.data.Dataset.from_tensors(reals).repeat()

    state = loop.train(config, dataset_fn=dataset_fn)
    stats = progress.read_stats(config.rundir.workdir)
    # Each record covers one interval of 4 steps: p moved by 0.1 toward the target, in the
    # direction of that interval's r_t, from 0; the memorising D takes it up to half or more
    # (where augmented images start to fool it, r_t falls and p turns).
    p = [0.0] + [r["augment_p"] for r in stats]
    moves = [np.sign(r["d_real_sign"] - 0.6) * 0.1 for r in stats]
    np.testing.assert_allclose(np.diff(p), moves, atol=1e-6)
    assert max(p) >= 0.5 and stats[0]["d_real_sign"] > 0.6
    reader = tf.train.load_checkpoint(latest_checkpoint(config.rundir.workdir))
    assert reader.get_tensor("augment_p/.ATTRIBUTES/VARIABLE_VALUE") == pytest.approx(
        float(state.ada.p))


@pytest.mark.slow
def test_ada_resumes_exactly_with_its_p_and_half_an_interval_of_signs(make_config, tmp_path):
    """Checkpoints at step 3 fall inside an interval of 2: the signs summed so far resume.
    On dcgan (batch norm in both networks) with dropout, whose masks are keyed by the step and
    the replica, and the generator's EMA: the resumed run is the straight one, bit for bit."""
    flags = dict(architecture="dcgan", image_size=32, g_filters=4, d_filters=4,
                 d_dropout=0.2, g_ema_decay=0.9, augment="ada",
                 augment_policy="flip,rotate90,translation,color,cutout", ada_target=-1.0,
                 ada_every_steps=2, ada_kimg=0.064, ckpt_every_steps=3)
    straight = loop.train(make_config(workdir=str(tmp_path / "straight"), train_steps=6, **flags))
    loop.train(make_config(workdir=str(tmp_path / "split"), train_steps=3, **flags))
    resumed = loop.train(make_config(workdir=str(tmp_path / "split"), train_steps=6, **flags))
    assert int(resumed.step.numpy()) == 6
    assert float(straight.ada.p) == float(resumed.ada.p) == 0.75  # 3 updates of 2 * 8 / 64
    assert_same_checkpoints(tmp_path / "straight", tmp_path / "split", min_tensors=31)
    for a, b in zip(straight.g_ema.weights, resumed.g_ema.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for name in ("augment_p", "ada_real_signs"):
        key = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
        a, b = (tf.train.load_checkpoint(latest_checkpoint(tmp_path / d)).get_tensor(key)
                for d in ("straight", "split"))
        assert a == b
    # What the resume started from: step 3's checkpoint holds p after one update and the
    # signs of step 3, half of the next interval, and restoring it brings both back.
    _, state = build.restore_run(str(tmp_path / "split"), step=3)
    reader = tf.train.load_checkpoint(str(tmp_path / "split" / "ckpt" / "ckpt-3"))
    assert float(state.ada.p) == 0.25
    assert float(state.ada.signs) == reader.get_tensor(
        "ada_real_signs/.ATTRIBUTES/VARIABLE_VALUE") != 0


@pytest.mark.parametrize("overrides, message", [
    (dict(augment_policy="color,zoom"), "--augment_policy=color,zoom: unknown zoom; use a "
     "comma-separated list of color, translation, cutout, flip, rotate90"),
    (dict(augment="ada", ada_target=1.5), "--ada_target=1.5 must be in [-1, 1]"),
    (dict(augment="ada", ada_kimg=0.0), "--ada_kimg=0.0 must be greater than 0"),
])
def test_bad_augment_flags_are_refused_with_the_fix(make_config, overrides, message):
    with pytest.raises(UserError) as e:
        make_config(**overrides)
    assert str(e.value).startswith(message)


def _one_step(make_config, **overrides):
    """Generator and discriminator weights after one step on fixed images."""
    from dcgan_dist.training import step as step_lib
    config = make_config(d_dropout=0.0, global_batch_size=4, **overrides)
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), (28, 28, 1), "float32")
    images = tf.random.stateless_uniform([4, 28, 28, 1], [1, 2], -1, 1)
    iterator = iter(tf.data.Dataset.from_tensors(images).repeat())
    step_lib.make_train_fn(tf.distribute.get_strategy(), state, config.objective, config.augment,
                           4)(iterator, tf.constant(1), tf.constant(1))
    return [v.numpy() for v in state.generator.trainable_weights +
            state.discriminator.trainable_weights]


@pytest.mark.slow
def test_the_step_augments_real_and_generated_images(make_config, monkeypatch):
    seen = []
    apply = augment.apply
    monkeypatch.setattr(augment, "apply", lambda images, *a: seen.append(images.shape) or
                        apply(images, *a))
    plain = _one_step(make_config)
    assert seen == []
    augmented = _one_step(make_config, augment="diffaugment")
    assert len(seen) == 2 and all(s[1:] == (28, 28, 1) for s in seen)  # reals and fakes
    assert all(np.abs(a - b).max() > 0 for a, b in zip(plain, augmented))  # G and D both
    # ada starts at p = 0: every image as it is, so exactly the step without augmentation.
    for a, b in zip(plain, _one_step(make_config, augment="ada", d_r1_gamma=0.0)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("precision", [
    pytest.param("mixed_float16", marks=pytest.mark.slow), "mixed_bfloat16"])
def test_augmentation_trains_under_mixed_precision_with_r1(make_config, precision):
    """Images reach D in float32 (the generator's last layer and the data are float32), so
    the transforms run in float32 under either policy; R1 and fp16's loss scale on top."""
    config = make_config(augment="diffaugment", d_r1_gamma=10.0, d_dropout=0.0,
                         global_batch_size=4, precision=precision)
    from dcgan_dist.training import step as step_lib
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), (28, 28, 1), precision)
    before = [v.numpy() for v in state.generator.trainable_weights]
    images = tf.random.stateless_uniform([4, 28, 28, 1], [1, 2], -1, 1)
    out = step_lib.make_train_fn(tf.distribute.get_strategy(), state, config.objective,
                                 config.augment, 4)(
        iter(tf.data.Dataset.from_tensors(images).repeat()), tf.constant(2), tf.constant(2))
    assert np.isfinite(float(out["d_loss"])) and float(out["augment_p"]) == 1.0
    after = [v.numpy() for v in state.generator.trainable_weights]
    assert all(np.isfinite(a).all() for a in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
