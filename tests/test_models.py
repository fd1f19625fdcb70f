"""The architectures: the tutorial's models unchanged, the DCGAN paper's at 32 to 256 px."""

import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import UserError, arch_dcgan, arch_tutorial, models
from dcgan_dist import config as config_lib
from dcgan_dist import flags as flag_defs
from dcgan_dist import state as state_lib


def tutorial_generator(noise_dim=100, image_shape=(28, 28, 1), filters=256):
    return arch_tutorial.build_generator(noise_dim, image_shape, False, filters)


def tutorial_discriminator(dropout=0.3, filters=64, dense_units=0, image_shape=(28, 28, 1)):
    return arch_tutorial.build_discriminator(image_shape, dropout, filters, dense_units)


def dcgan(image_shape, g_filters=8, d_filters=4, **overrides):
    """dcgan's (generator, discriminator); tiny widths unless told."""
    config = config_lib.Config(workdir="/tmp/unused", architecture="dcgan", g_filters=g_filters,
                               d_filters=d_filters, **overrides)
    return models.build(config, image_shape)


def test_the_table_holds_every_architecture_the_flag_offers():
    assert tuple(models.ARCHITECTURES) == flag_defs.ARCHITECTURES


def test_generator_matches_tutorial():
    generator = tutorial_generator()
    assert generator.count_params() == 2_330_944  # the tutorial's summary
    images = generator(tf.random.normal([5, 100]), training=False)
    assert images.shape == (5, 28, 28, 1)
    assert np.all(np.abs(images) <= 1.0)
    assert not any("bias" in w.path for w in generator.weights)


def test_discriminator_matches_tutorial():
    discriminator = tutorial_discriminator()
    assert discriminator.count_params() == 212_865
    logits = discriminator(tf.random.uniform([5, 28, 28, 1], -1, 1))
    assert logits.shape == (5, 1)


def test_filters_set_the_width_of_both_models():
    # Hand-counted: Dense 100->7*7*32 + BN, ConvT 32->16 + BN, ConvT 16->8 + BN, ConvT 8->1.
    generator = tutorial_generator(filters=32)
    assert generator.count_params() == (100 * 49 * 32 + 4 * 49 * 32 + 25 * 32 * 16 + 4 * 16
                                        + 25 * 16 * 8 + 4 * 8 + 25 * 8)
    assert generator(tf.zeros([2, 100])).shape == (2, 28, 28, 1)
    # Conv 1->8 and 8->16 with biases, Dense 7*7*16->1.
    discriminator = tutorial_discriminator(filters=8)
    assert discriminator.count_params() == (25 * 8 + 8) + (25 * 8 * 16 + 16) + (49 * 16 + 1)


def test_dense_units_add_a_hidden_layer_to_the_discriminator():
    # Conv 1->8, conv 8->16, then Dense 7*7*16->32 and Dense 32->1, all with biases.
    discriminator = tutorial_discriminator(filters=8, dense_units=32)
    assert discriminator.count_params() == ((25 * 8 + 8) + (25 * 8 * 16 + 16) + (49 * 16 * 32 + 32)
                                            + (32 + 1))
    assert discriminator(tf.zeros([3, 28, 28, 1])).shape == (3, 1)


@pytest.mark.parametrize("architecture", ["tutorial", "dcgan"])
def test_config_widths_reach_every_built_model(make_config, architecture):
    config = make_config(architecture=architecture, g_filters=8, d_filters=4, d_dense_units=16,
                         g_ema_decay=0.9)
    image_shape = (28, 28, 1) if architecture == "tutorial" else (32, 32, 1)
    state = state_lib.build_state(config, tf.distribute.get_strategy(), image_shape, "float32")
    generator, discriminator = models.build(config, image_shape)
    assert state.generator.count_params() == state.g_ema.count_params() == generator.count_params()
    assert state.discriminator.count_params() == discriminator.count_params()
    narrow, _ = models.build(config_lib.Config(workdir="/tmp/x", architecture=architecture,
                                               g_filters=4), image_shape)
    assert narrow.count_params() < generator.count_params()


def test_tutorial_g_filters_must_divide_by_4():
    config = config_lib.Config(workdir="/tmp/x", g_filters=6)
    with pytest.raises(UserError, match="--g_filters=6 must be a positive multiple of 4 for "
                                        "--architecture=tutorial"):
        models.build(config, (28, 28, 1))


def test_dropout_is_keyed_by_seed():
    discriminator = tutorial_discriminator(dropout=0.3)
    x = tf.random.uniform([4, 28, 28, 1], -1, 1)

    def run(seed):
        return discriminator(x, training=True, dropout_seed=tf.constant(seed, tf.int64))

    np.testing.assert_array_equal(run([1, 2]), run([1, 2]))
    assert not np.allclose(run([1, 2]), run([1, 3]))
    np.testing.assert_array_equal(discriminator(x, training=False), discriminator(x))
    with pytest.raises(ValueError, match="dropout_seed"):
        discriminator(x, training=True)


def test_mixed_policy_keeps_outputs_float32():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    generator = tutorial_generator(16)
    discriminator = tutorial_discriminator()
    images = generator(tf.random.normal([2, 16]))
    assert generator.layers[1].compute_dtype == "float16"
    assert images.dtype == tf.float32
    assert discriminator(images).dtype == tf.float32


def test_other_square_shapes_and_a_clear_error_for_the_rest():
    generator = tutorial_generator(8, image_shape=(32, 32, 3))
    assert generator(tf.zeros([1, 8])).shape == (1, 32, 32, 3)
    with pytest.raises(UserError, match="30x30 images do not fit --architecture=tutorial.*"
                                        "must be square and divisible by 4"):
        tutorial_generator(8, image_shape=(30, 30, 1))


def test_a_tutorial_checkpoint_made_before_architectures_still_restores(make_config, tmp_path):
    # tests/fixtures/tutorial_ckpt was written by tests/fixtures/make_tutorial_ckpt.py at
    # b5e3713, before --architecture existed: its object graph is the tutorial model's.
    fixture = os.path.join(os.path.dirname(__file__), "fixtures", "tutorial_ckpt")
    workdir = str(tmp_path / "old_run")
    shutil.copytree(fixture, os.path.join(workdir, "ckpt"))
    config = make_config(workdir=workdir, noise_dim=8, g_filters=8, d_filters=4,
                         d_dense_units=4, g_ema_decay=0.9)
    state = state_lib.build_state(config, tf.distribute.get_strategy(), (8, 8, 1), "float32")
    manager = state_lib.make_checkpoint_manager(state, os.path.join(workdir, "ckpt"), 1)
    step, path = state_lib.restore_latest(state, manager)  # assert_existing_objects_matched
    assert (step, os.path.basename(path)) == (7, "ckpt-1")
    manager.checkpoint.restore(path).assert_consumed()  # and nothing in it was left over
    np.testing.assert_allclose(state.generator(state.sample_noise, training=False)[:4],
                               np.load(os.path.join(fixture, "samples.npy")), atol=1e-6)
