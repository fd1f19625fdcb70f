"""--precision=auto on CPUs (native bfloat16 or not), and what stays float32 under bfloat16.

The detection is tested on faked /proc/cpuinfo text, and the choice on a faked detection, so
these tests mean the same on every machine. The models are built under mixed_bfloat16 even
where the CPU only emulates it: tiny models, a few ops, a second or two.
"""

from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import loop
from dcgan_dist.runtime import precision as precision_lib
from dcgan_dist.training import losses, state as state_lib
from dcgan_dist.data.images import to_uint8
from dcgan_dist.evaluation import sampling
from dcgan_dist.models import tutorial as arch_tutorial
from conftest import one_replica

# Two processors, abridged from a Zen 4 (avx512_bf16) and from this session's EPYC (avx2 only).
ZEN4 = "".join(f"processor\t: {i}\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx avx2 "
               "avx512f avx512_bf16 avx512_vnni\n\n" for i in range(2))
AVX2_ONLY = ZEN4.replace(" avx512f avx512_bf16 avx512_vnni", "")
SAPPHIRE_RAPIDS = ZEN4.replace("avx512_bf16", "amx_tile amx_bf16")
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"


@pytest.mark.parametrize("cpuinfo, native, reason", [
    (ZEN4, True, "this CPU has native bfloat16 (avx512_bf16 in /proc/cpuinfo)"),
    (SAPPHIRE_RAPIDS, True, "this CPU has native bfloat16 (amx_bf16 in /proc/cpuinfo)"),
    (AVX2_ONLY, False, "this CPU has no native bfloat16 (no avx512_bf16/amx_bf16 in "
                       "/proc/cpuinfo)"),
    (ARM, False, "this CPU has no native bfloat16 (no avx512_bf16/amx_bf16 in /proc/cpuinfo)"),
    # A flag that only one processor lists is not the machine's: a thread could land elsewhere.
    (AVX2_ONLY.replace("avx2\n", "avx2 avx512_bf16\n", 1), False, "no native bfloat16"),
])
def test_native_bfloat16_from_cpuinfo_flags(cpuinfo, native, reason):
    found, why = precision_lib.native_bfloat16(cpuinfo)
    assert found is native
    assert reason in why
    # A longer flag that merely contains the name does not count.
    assert precision_lib.native_bfloat16(cpuinfo.replace("avx512_bf16", "avx512_bf16x"))[0] is (
        native and "amx_bf16" in cpuinfo)


def test_native_bfloat16_off_linux_says_it_cannot_tell():
    with mock.patch.object(precision_lib.sys, "platform", "darwin"):
        native, why = precision_lib.native_bfloat16()
    assert not native and why == ("cannot tell whether this CPU has native bfloat16 on darwin "
                                  "(no /proc/cpuinfo)")
    with mock.patch.object(precision_lib, "CPUINFO_PATH", "/no/such/cpuinfo"):
        native, why = precision_lib.native_bfloat16()
    assert not native and "cannot tell" in why and "/no/such/cpuinfo" in why


def _fake(native):
    return lambda: (native, f"fake: native={native}")


@pytest.mark.parametrize("precision, kind, native, expected, why", [
    ("auto", "cpu", True, "mixed_bfloat16", "fake: native=True"),
    ("auto", "cpu", False, "float32", "fake: native=False"),
    # Mirrored over logical CPU devices, or CPU workers: still the CPU's arithmetic.
    ("auto", "mirrored", True, "mixed_bfloat16", "fake: native=True"),
    ("auto", "multi_worker", False, "float32", "fake: native=False"),
    ("auto", "tpu", False, "mixed_bfloat16", "TPUs compute in bfloat16"),
    ("float32", "cpu", True, "float32", "set by --precision"),
    ("mixed_bfloat16", "cpu", False, "mixed_bfloat16",
     "set by --precision; fake: native=False, so it is emulated and slower than float32"),
    ("mixed_bfloat16", "cpu", True, "mixed_bfloat16", "set by --precision"),
])
def test_resolve_precision_on_a_cpu_follows_native_bfloat16(precision, kind, native, expected,
                                                             why):
    assert precision_lib.resolve_precision(precision, kind, _fake(native)) == (expected, why)


def test_resolve_precision_on_gpus_is_unchanged():
    resolve = precision_lib.resolve_precision
    with mock.patch.object(tf.config, "list_physical_devices", return_value=["GPU:0"]):
        assert resolve("auto", "gpu", _fake(True))[0] == "mixed_float16"
        assert resolve("auto", "mirrored", _fake(True))[0] == "mixed_float16"
        # --strategy=cpu on a GPU machine computes on the CPU.
        assert resolve("auto", "cpu", _fake(True))[0] == "mixed_bfloat16"


def test_this_machine_is_detected_and_logged_at_start_up(make_config):
    """The real detection, through the trainer: the log names the choice and the reason."""
    native, why = precision_lib.native_bfloat16()
    # The precision is on the trainer's second line; stop there, before the first step.
    # (Other modules' info lines, TFDS's among them, pass through.)
    def stop_at_precision(message, *args):
        if message.startswith("Strategy %s, per-replica batch %d; precision "):
            raise RuntimeError("stop")

    with mock.patch.object(loop.logging, "info", side_effect=stop_at_precision) as log:
        with pytest.raises(RuntimeError, match="stop"):
            loop.train(make_config(precision="auto"), strategy=tf.distribute.get_strategy())
    assert log.call_args.args[-3:] == ("auto", "mixed_bfloat16" if native else "float32", why)


@pytest.fixture
def bf16_models():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")  # reset by conftest
    generator = arch_tutorial.build_generator(8, (28, 28, 1), False, 16)
    discriminator = arch_tutorial.build_discriminator((28, 28, 1), 0.3, 4, 8, False)
    return generator, discriminator


def test_bf16_policy_computes_in_bfloat16_but_outputs_and_variables_are_float32(bf16_models):
    generator, discriminator = bf16_models
    assert generator.layers[0].compute_dtype == "bfloat16"  # the policy did take effect
    assert discriminator.conv1.compute_dtype == "bfloat16"
    images = generator(tf.random.normal([4, 8]), training=True)
    assert images.dtype == tf.float32  # the tanh layer
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    logits = discriminator(images, training=True, dropout_seed=tf.constant([1, 2], tf.int64))
    assert logits.dtype == tf.float32 and logits.shape == (4, 1)
    # Every weight, batch-norm moving statistics included, is stored in float32.
    for model in (generator, discriminator):
        assert {w.dtype for w in model.weights} == {"float32"}, model.name
    moving = [w for w in generator.weights if "moving" in w.path]
    assert len(moving) == 6  # mean and variance of three batch norms


def test_bf16_losses_and_r1_gradient_norm_are_float32(bf16_models):
    _, discriminator = bf16_models
    real_images = tf.random.uniform([3, 28, 28, 1], -1, 1)
    with tf.GradientTape() as tape:
        tape.watch(real_images)
        logits = discriminator(real_images)
    grads = tape.gradient(logits, real_images)
    # The gradient is taken with respect to the float32 images, through the layers' casts.
    assert grads.dtype == tf.float32
    penalty = losses.d_r1_penalty_per_example(grads, 10.0)
    assert penalty.dtype == tf.float32 and penalty.shape == (3,)
    np.testing.assert_allclose(penalty, 5.0 * np.sum(np.square(grads.numpy()), axis=(1, 2, 3)),
                               rtol=1e-6)
    bf16_logits = tf.cast(logits, tf.bfloat16)
    assert losses.d_nonsaturating(bf16_logits, bf16_logits).dtype == tf.float32
    assert losses.g_nonsaturating(bf16_logits).dtype == tf.float32
    assert losses.d_r1_penalty_per_example(tf.cast(grads, tf.bfloat16), 1.0).dtype == tf.float32


def test_bf16_batch_norm_statistics_and_ema_stay_float32(bf16_models):
    generator, _ = bf16_models
    g_ema = arch_tutorial.build_generator(8, (28, 28, 1), False, 16)
    g_ema.set_weights(generator.get_weights())
    generator(tf.random.normal([4, 8], seed=1), training=True)  # moves the BN statistics
    state_lib.update_ema(g_ema, generator, 0.5)
    for ema, plain in zip(g_ema.weights, generator.weights):
        assert ema.dtype == plain.dtype == "float32"
    # A float32 average: 0.5 * initial + 0.5 * moved, where bfloat16 would keep 3 digits.
    moving_mean = next(i for i, w in enumerate(generator.weights) if "moving_mean" in w.path)
    moved = generator.weights[moving_mean].numpy()
    assert np.any(moved != 0)
    np.testing.assert_allclose(g_ema.weights[moving_mean].numpy(), 0.5 * moved, rtol=1e-7)


def test_sampling_under_bf16_gives_the_same_range_and_dtype_as_float32(bf16_models):
    """What samples, dcgan-eval and dcgan-generate get: float32 in [-1, 1], then uint8."""
    generator, _ = bf16_models
    weights = generator.get_weights()
    bf16_images = sampling.generate(generator, 5, 8)
    keras.mixed_precision.set_dtype_policy("float32")
    f32_generator = arch_tutorial.build_generator(8, (28, 28, 1), False, 16)
    f32_generator.set_weights(weights)  # what build.restore_run does: float32, same weights
    f32_images = sampling.generate(f32_generator, 5, 8)
    for images in (bf16_images, f32_images):
        assert images.dtype == np.float32 and images.shape == (5, 28, 28, 1)
        assert images.min() >= -1.0 and images.max() <= 1.0
        images_uint8 = to_uint8(images)
        assert images_uint8.dtype == np.uint8 and images_uint8.shape == (5, 28, 28, 1)
    # Same weights, same noise: bfloat16's 8-bit mantissa moves pixels by a few hundredths.
    np.testing.assert_allclose(bf16_images, f32_images, atol=0.1)
    assert not np.array_equal(bf16_images, f32_images)  # the bf16 path did compute in bf16


@pytest.mark.slow
def test_a_bf16_training_step_with_r1_and_ema_keeps_every_variable_float32(make_config):
    config = make_config(precision="mixed_bfloat16", synthetic_data=True, train_steps=1,
                         d_filters=4, d_dense_units=8, noise_dim=8, d_r1_gamma=1.0,
                         g_ema_decay=0.9)
    state = loop.train(config, strategy=one_replica())
    assert state.generator.layers[0].compute_dtype == "bfloat16"
    assert int(state.step.numpy()) == 1
    variables = (state.generator.weights + state.discriminator.weights + state.g_ema.weights
                 + state.g_opt.variables + state.d_opt.variables)
    assert {v.dtype for v in variables if v.dtype != "int64"} == {"float32"}
    assert all(np.all(np.isfinite(v.numpy())) for v in variables)
    images = state.sampling_generator(state.sample_noise, training=False)
    assert images.dtype == tf.float32 and float(tf.reduce_max(tf.abs(images))) <= 1.0
