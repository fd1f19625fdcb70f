"""The architectures: the tutorial's models unchanged, the DCGAN paper's at 32 to 256 px."""

import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import models
from dcgan_dist.config import Config
from dcgan_dist.errors import UserError
from dcgan_dist.models import dcgan as arch_dcgan, tutorial as arch_tutorial
from dcgan_dist.rundir import checkpoints
from dcgan_dist.training import state as state_lib


def tutorial_generator(noise_dim=100, image_shape=(28, 28, 1), filters=256):
    return arch_tutorial.build_generator(noise_dim, image_shape, False, filters)


def tutorial_discriminator(dropout=0.3, filters=64, dense_units=0, image_shape=(28, 28, 1),
                           spectral_norm=False):
    return arch_tutorial.build_discriminator(image_shape, dropout, filters, dense_units,
                                             spectral_norm)


def dcgan(image_shape, g_filters=8, d_filters=4, **overrides):
    """dcgan's (generator, discriminator); tiny widths unless told."""
    config = Config.of(workdir="/tmp/unused", architecture="dcgan", g_filters=g_filters,
                       d_filters=d_filters, **overrides)
    return models.build(config.model, image_shape)


@pytest.mark.parametrize("architecture", list(models.ARCHITECTURES))
def test_every_architecture_is_a_choice_that_builds_models_of_the_contract(architecture):
    """Each entry of the table is accepted by the config and builds the contract's models:
    noise [N, noise_dim] -> float32 images [N, 32, 32, 1] in [-1, 1] -> float32 logits [N, 1]."""
    model = Config.of(workdir="/tmp/unused", architecture=architecture, noise_dim=16,
                      g_filters=8, d_filters=4).model
    assert model.architecture == architecture
    generator, discriminator = models.build(model, (32, 32, 1))
    images = generator(tf.random.normal([3, 16]), training=False)
    assert images.shape == (3, 32, 32, 1) and images.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    logits = discriminator(images, training=False)
    assert logits.shape == (3, 1) and logits.dtype == tf.float32


def test_an_unknown_architecture_is_refused_naming_every_choice():
    with pytest.raises(UserError) as e:
        Config.of(workdir="/tmp/unused", architecture="resnet")
    assert str(e.value) == ("--architecture=resnet is unknown; use one of "
                            + ", ".join(models.ARCHITECTURES))


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
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), image_shape, "float32")
    generator, discriminator = models.build(config.model, image_shape)
    assert state.generator.count_params() == state.g_ema.count_params() == generator.count_params()
    assert state.discriminator.count_params() == discriminator.count_params()
    narrow, _ = models.build(make_config(architecture=architecture, g_filters=4).model,
                             image_shape)
    assert narrow.count_params() < generator.count_params()


def test_tutorial_g_filters_must_divide_by_4():
    config = Config.of(workdir="/tmp/x", g_filters=6)
    with pytest.raises(UserError, match="--g_filters=6 must be a positive multiple of 4 for "
                                        "--architecture=tutorial"):
        models.build(config.model, (28, 28, 1))


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
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), (8, 8, 1), "float32")
    restored = checkpoints.Checkpoints(state, workdir, keep=1)
    step, path = restored.restore()  # assert_existing_objects_matched
    assert (step, os.path.basename(path)) == (7, "ckpt-1")
    restored.manager.checkpoint.restore(path).assert_consumed()  # and nothing was left over
    np.testing.assert_allclose(state.generator(state.sample_noise, training=False)[:4],
                               np.load(os.path.join(fixture, "samples.npy")), atol=1e-6)


# --- dcgan ------------------------------------------------------------------------------


@pytest.mark.parametrize("side", arch_dcgan.SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_at_every_size(side, channels):
    generator, discriminator = dcgan((side, side, channels))
    images = generator(tf.random.normal([2, 100]), training=False)
    assert images.shape == (2, side, side, channels)
    # log2(side / 4) upsamplings, the first by the Dense to 4x4: 3 at 32 px ... 6 at 256.
    ups = [l for l in generator.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert len(ups) == int(np.log2(side // 4))
    assert [l.filters for l in ups] == [8 * 8 // 2 ** i for i in range(1, len(ups))] + [channels]
    logits = discriminator(images, training=False)
    assert logits.shape == (2, 1) and logits.dtype == tf.float32
    assert [c.filters for c in discriminator.convs] == [4 * 2 ** i for i in range(len(ups))]


# Hand-counted from the layer shapes, 64x64x3, noise 100, kernel 4x4, g_filters = d_filters = f.
# BN layers hold 4 numbers per channel (scale, offset, moving mean and variance).
# Generator: Dense 100 -> 4*4*8f, no bias          12800 f
#            BN 8f, 4f, 2f, f                         60 f
#            ConvT 8f->4f, 4f->2f, 2f->f, no bias    16 * (32 + 8 + 2) f^2 = 672 f^2
#            ConvT f->3 with bias                     48 f + 3
#            = 672 f^2 + 12908 f + 3   (f=64: 3,578,627; f=128: 12,662,275)
# pytorch/examples' netG at ngf=64 has 3,576,704 parameters: ours less the 1,920 moving
# statistics pytorch keeps as buffers, plus the output layer's 3 biases.
# Discriminator: Conv 3->f with bias                 49 f
#                Conv f->2f, 2f->4f, 4f->8f, no bias 16 * (2 + 8 + 32) f^2 = 672 f^2
#                BN 2f, 4f, 8f                       56 f
#                Dense 4*4*8f -> 1 with bias         128 f + 1
#                = 672 f^2 + 233 f + 1   (f=64: 2,767,425; f=128: 11,039,873)
@pytest.mark.parametrize("filters, g_params, d_params", [
    (64, 3_578_627, 2_767_425),     # pytorch/examples' widths
    (128, 12_662_275, 11_039_873),  # the paper's: 1024 channels at 4x4
])
def test_dcgan_64px_parameter_counts(filters, g_params, d_params):
    generator, discriminator = dcgan((64, 64, 3), filters, filters)
    assert generator.count_params() == g_params
    assert discriminator.count_params() == d_params
    assert g_params == 672 * filters**2 + 12908 * filters + 3
    assert d_params == 672 * filters**2 + 233 * filters + 1


def test_dcgan_init_is_normal_with_std_002():
    generator, discriminator = dcgan((64, 64, 3), 32, 32)
    for model in (generator, discriminator):
        kernels = np.concatenate([w.numpy().ravel() for w in model.weights
                                  if w.path.endswith("kernel")])
        assert abs(kernels.mean()) < 1e-3 and abs(kernels.std() - 0.02) < 5e-4, model.name
        gammas = np.concatenate([w.numpy().ravel() for w in model.weights
                                 if w.path.endswith("gamma")])
        assert abs(gammas.mean() - 1.0) < 5e-3 and abs(gammas.std() - 0.02) < 3e-3, model.name


def test_dcgan_layers_follow_the_paper():
    generator, discriminator = dcgan((32, 32, 3))
    kinds = [type(l).__name__ for l in generator.layers]
    assert kinds == ["Dense", "Reshape", "BatchNormalization", "ReLU"] + [
        "Conv2DTranspose", "BatchNormalization", "ReLU"] * 2 + ["Conv2DTranspose"]
    assert generator.layers[-1].activation.__name__ == "tanh"
    assert len(discriminator.norms) == len(discriminator.convs) - 1  # none on the first
    assert discriminator.act.negative_slope == pytest.approx(0.2)
    assert not any(isinstance(l, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))
                   for l in generator.layers + discriminator.layers)


def test_dcgan_generator_range_and_float32_logits_under_mixed_precision():
    generator, discriminator = dcgan((32, 32, 3))
    images = generator(10.0 * tf.random.normal([8, 100]), training=True)
    assert images.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    generator, discriminator = dcgan((32, 32, 3))
    images = generator(tf.random.normal([2, 100]), training=True)
    logits = discriminator(images, training=True, dropout_seed=tf.constant([1, 2], tf.int64))
    assert generator.layers[0].compute_dtype == "float16"
    assert images.dtype == logits.dtype == tf.float32 and logits.shape == (2, 1)


def test_dcgan_sync_batchnorm_reaches_both_networks():
    for sync in (False, True):
        generator, discriminator = dcgan((32, 32, 1), sync_batchnorm=sync)
        norms = [l for l in generator.layers if isinstance(l, keras.layers.BatchNormalization)]
        assert [n.synchronized for n in norms + discriminator.norms] == [sync] * 5


def test_dcgan_dropout_is_keyed_by_seed():
    _, discriminator = dcgan((32, 32, 1), d_dropout=0.3)
    x = tf.random.uniform([4, 32, 32, 1], -1, 1)

    def run(seed):
        return discriminator(x, training=True, dropout_seed=tf.constant(seed, tf.int64))

    np.testing.assert_array_equal(run([1, 2]), run([1, 2]))
    assert not np.allclose(run([1, 2]), run([1, 3]))
    _, no_dropout = dcgan((32, 32, 1), d_dropout=0.0)
    no_dropout(x, training=True)  # no seed needed without dropout


@pytest.mark.parametrize("image_shape", [(48, 48, 3), (28, 28, 1), (512, 512, 3),
                                         (64, 32, 3)])
def test_dcgan_refuses_other_sizes_naming_the_allowed(image_shape):
    with pytest.raises(UserError, match=rf"--architecture=dcgan at {image_shape[0]}x"
                                        rf"{image_shape[1]} is not supported: use "
                                        r"--image_size=32, 64, 128 or 256"):
        dcgan(image_shape)


def test_dcgan_g_filters_that_cannot_be_halved_enough():
    with pytest.raises(UserError, match="--g_filters=6 does not fit dcgan at 256 px.*"
                                        "multiple of 4"):
        dcgan((256, 256, 3), g_filters=6)
    dcgan((128, 128, 1), g_filters=6)  # 48 -> 24 -> 12 -> 6 -> 3: fine


@pytest.mark.parametrize("architecture", list(models.ARCHITECTURES))
def test_a_checkpoint_of_the_models_alone_holds_every_weight(architecture, tmp_path):
    # Keras 3 layer lists are invisible to tf.train.Checkpoint: a discriminator holding its
    # layers in a list lost its BN moving statistics on resume (trainable weights survived
    # only through the optimizer).
    config = Config.of(workdir="/tmp/x", architecture=architecture, g_filters=8, d_filters=4)
    generator, discriminator = models.build(config.model, (32, 32, 1))
    prefix = tf.train.Checkpoint(generator=generator, discriminator=discriminator).write(
        str(tmp_path / "ckpt"))
    saved = [n for n, _ in tf.train.list_variables(prefix) if n.endswith("VARIABLE_VALUE")]
    assert len(saved) == len(generator.weights) + len(discriminator.weights)
