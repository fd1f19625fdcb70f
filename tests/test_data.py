"""The input pipeline: shapes, range, per-replica batch, drop_remainder, resume position."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist.data import images, info as data
from dcgan_dist.errors import UserError
from conftest import TINY_TRAIN, batches as _batches, two_replicas


def test_scale_images_eager_and_in_tf_data():
    x = np.array([0, 127, 255], np.uint8)
    eager = images.scale_images(x).numpy()
    np.testing.assert_allclose(eager, [-1.0, -0.0039215686, 1.0], atol=1e-6)
    in_data = next(iter(tf.data.Dataset.from_tensors(x).map(images.scale_images))).numpy()
    np.testing.assert_array_equal(eager, in_data)


def test_batches_shapes_range_and_epoch_coverage(make_config):
    config = make_config(global_batch_size=10)
    info = data.load_info(config.data)
    assert info.image_shape == (28, 28, 1) and info.num_examples == TINY_TRAIN
    steps_per_epoch = TINY_TRAIN // 10  # 6: the last 4 images wait for the next epoch
    batches = _batches(config, 2 * steps_per_epoch)
    assert all(b.shape == (10, 28, 28, 1) and b.dtype == np.float32 for b in batches)
    assert all(b.min() >= -1 and b.max() <= 1 for b in batches)
    first_epoch = np.concatenate(batches[:steps_per_epoch]).reshape(60, -1)
    assert len({row.tobytes() for row in first_epoch}) == 60  # no image twice in an epoch
    second_epoch = np.concatenate(batches[steps_per_epoch:])
    assert not np.array_equal(first_epoch.reshape(second_epoch.shape), second_epoch)


def test_resume_position_matches_uninterrupted(make_config):
    config = make_config(global_batch_size=16)
    straight = _batches(config, 9)  # crosses two epoch boundaries (4 steps an epoch)
    resumed = _batches(config, 4, start_step=5)
    for a, b in zip(straight[5:], resumed):
        np.testing.assert_array_equal(a, b)


def test_two_replicas_split_the_global_batch(make_config):
    config = make_config(global_batch_size=16)
    single = _batches(config, 3)
    split = _batches(config, 3, strategy=two_replicas())
    for global_batch, (r0, r1) in zip(single, split):
        assert r0.shape == (8, 28, 28, 1)
        np.testing.assert_array_equal(np.concatenate([r0, r1]), global_batch)


def test_synthetic_data_has_the_dataset_shape(make_config):
    config = make_config(synthetic_data=True)
    (batch,) = _batches(config, 1)
    assert batch.shape == (8, 28, 28, 1) and -1 <= batch.min() and batch.max() <= 1


def test_errors_name_the_fix(make_config, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="larger than the 64 examples"):
        _batches(make_config(global_batch_size=128), 1)
    with pytest.raises(UserError, match="--dataset=no_such_dataset is neither a TFDS catalog dataset nor prepared in --data_dir=.*dcgan-data prepare folder --source=YOUR_IMAGE_FOLDER --name=no_such_dataset"):
        data.load_info(make_config(dataset="no_such_dataset").data)
    with pytest.raises(UserError, match="--split=validation is not a split of mnist; use one of"):
        data.load_info(make_config(split="validation").data)
    monkeypatch.setattr(data, "can_reach_download_host", lambda: False)
    empty = str(tmp_path / "empty")
    with pytest.raises(UserError, match=f"dcgan-data prepare mnist --data_dir={empty}"):
        data.load_info(make_config(data_dir=empty).data)
