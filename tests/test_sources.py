"""Data sources and preprocessing: crop/resize, RGB at 32 and 64 px, in-memory and streaming
sources that resume exactly, split over replicas, and flip as a function of the example."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist.runtime import streams
from dcgan_dist.data import images, info as data_info, sources
from conftest import batches, two_replicas

SOURCES = ["in_memory", "streaming"]


@pytest.fixture(autouse=True)
def _global_seed_as_in_a_run():
    """A run sets TensorFlow's global seed to --seed (0 by default) before reading data; a
    tensor seed in Dataset.shuffle fails then, which only a test with the seed set shows."""
    keras.utils.set_random_seed(0)


def _pattern(height, width):
    """A centred square of 200 between bands of 50 (left/right or top/bottom)."""
    image = np.full((height, width, 3), 50, np.uint8)
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image[top:top + side, left:left + side] = 200
    image[top, left:left + side, 0] = 0  # the square's first row, to check orientation
    return image


@pytest.mark.parametrize("shape", [(40, 60), (60, 40), (33, 33)])
def test_center_crop_resize_eager_and_in_tf_data(shape):
    image = _pattern(*shape)
    eager = images.center_crop_resize(image, 16, 3).numpy()
    in_data = next(iter(tf.data.Dataset.from_tensors(image).map(
        lambda x: images.center_crop_resize(x, 16, 3)))).numpy()
    np.testing.assert_array_equal(eager, in_data)
    assert eager.shape == (16, 16, 3) and eager.dtype == np.uint8
    assert eager[8:, :, 1].min() == 200 and eager[8:, :, 1].max() == 200  # no band kept
    assert eager[0, 4:12, 0].max() < 180 and eager[-1, 4:12, 0].min() == 200  # marked row on top


def test_resize_antialiases_when_shrinking():
    stripes = np.zeros((64, 64, 1), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: a plain bilinear resize by 4 aliases them
    out = images.center_crop_resize(stripes, 16, 1).numpy()
    assert np.abs(out[:, 1:-1].astype(int) - 128).max() <= 1  # grey, not stripes (edges: padding)


def test_grey_becomes_rgb_and_rgba_drops_alpha():
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    rgb = images.center_crop_resize(grey, 0, 3).numpy()
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_array_equal(rgb[..., 2], grey[..., 0])
    rgba = np.zeros((4, 4, 4), np.uint8)
    assert images.center_crop_resize(rgba, 4, 3).shape == (4, 4, 3)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("image_size", [32, 64])
def test_rgb_pipeline_shapes_range_and_replica_batches(make_config, folder_data_dir, source,
                                                       image_size):
    config = make_config(dataset="gen_images", data_dir=folder_data_dir, image_size=image_size,
                         global_batch_size=8)
    (single,) = batches(config, 1, source=source)
    assert single.shape == (8, image_size, image_size, 3) and single.dtype == np.float32
    assert -1 <= single.min() < 0 < single.max() <= 1
    ((r0, r1),) = batches(config, 1, strategy=two_replicas(), source=source)
    assert r0.shape == (4, image_size, image_size, 3)
    np.testing.assert_array_equal(np.concatenate([r0, r1]), single)


@pytest.mark.parametrize("source", SOURCES)
def test_resume_reads_what_an_uninterrupted_run_reads(make_config, folder_data_dir, source):
    config = make_config(dataset="gen_images", data_dir=folder_data_dir, global_batch_size=5,
                         random_flip=True)
    straight = batches(config, 11, source=source)  # 4 steps an epoch: crosses two epochs
    for start in (3, 6):
        resumed = batches(config, 11 - start, start_step=start, source=source)
        for a, b in zip(straight[start:], resumed):
            np.testing.assert_array_equal(a, b)
    epoch = np.concatenate(straight[:4]).reshape(20, -1)
    assert len({row.tobytes() for row in epoch}) == 20  # no image twice in an epoch
    assert not np.array_equal(straight[0], straight[4])  # the next epoch is reordered


@pytest.mark.parametrize("source", SOURCES)
def test_flips_are_keyed_by_step_and_example(make_config, folder_data_dir, source):
    plain = make_config(dataset="gen_images", data_dir=folder_data_dir, global_batch_size=8)
    flipped = make_config(dataset="gen_images", data_dir=folder_data_dir, global_batch_size=8,
                          random_flip=True)
    steps_plain, steps_flipped = batches(plain, 3, source=source), batches(flipped, 3, source=source)
    split = batches(flipped, 3, strategy=two_replicas(), source=source)
    num_flipped = 0
    for step, (a, b, (r0, r1)) in enumerate(zip(steps_plain, steps_flipped, split)):
        np.testing.assert_array_equal(np.concatenate([r0, r1]), b)  # same coin on any split
        coins = tf.random.stateless_uniform([8], streams.keyed(0, streams.FLIP, step),
                                            alg="philox").numpy()
        for i in range(8):
            expected = a[i, :, ::-1] if coins[i] < 0.5 else a[i]
            np.testing.assert_array_equal(b[i], expected)
        num_flipped += int((coins < 0.5).sum())
    assert 0 < num_flipped < 24


def test_source_follows_the_memory_budget(make_config, folder_data_dir):
    config = make_config(dataset="gen_images", data_dir=folder_data_dir, image_size=64)
    info = data_info.load_info(config.data)
    # 24 images of 64x64x3 = 0.28 MB: in memory under 1 MB, streamed under 0.
    assert sources.choose_source(config.data, info)[0] == "in_memory"
    assert sources.choose_source(config.replace(cache_limit_mb=0).data, info)[0] == (
        "streaming")
    assert sources.choose_source(config.data, info, num_input_pipelines=2)[1] == pytest.approx(
        12 * 64 * 64 * 3 / 2**20)
