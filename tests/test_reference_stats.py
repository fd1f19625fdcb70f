"""The reference statistics cache: miss, hit, invalidation by the network's hash."""

import os

import numpy as np

from dcgan_dist.evaluation import reference_stats
from dcgan_dist.evaluation.networks import FeatureNetwork


def _network(sha256, scale=1.0):
    """A feature 'network' that flattens images and multiplies them by `scale`."""
    return FeatureNetwork(name="flat", sha256=sha256, description="test",
                          features_fn=lambda x: (scale * x.reshape(len(x), -1), None),
                          metric_names={})


def _batches(images, calls):
    def batches_fn():
        calls.append(1)
        return [images[i:i + 7] for i in range(0, len(images), 7)]
    return batches_fn


def test_miss_computes_and_saves_hit_reads_the_file_only(tmp_path):
    images = np.random.default_rng(0).normal(size=(30, 2, 2, 1)).astype(np.float32)
    calls = []
    kwargs = dict(data_dir=str(tmp_path), dataset="d", split="test", image_shape=(2, 2, 1))
    first = reference_stats.get(_network("aaaaaaaaaaaa"), batches_fn=_batches(images, calls), **kwargs)
    flat = images.reshape(30, -1).astype(np.float64)
    np.testing.assert_allclose(first.mu, flat.mean(0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(first.cov, np.cov(flat, rowvar=False), rtol=1e-5, atol=1e-7)
    assert first.num_images == 30 and first.features.shape == (30, 4) and first.probs is None
    assert calls == [1]
    assert os.path.basename(first.path) == "d-test-2x2x1-flat-aaaaaaaaaaaa.npz"
    assert os.path.exists(first.path)
    second = reference_stats.get(_network("aaaaaaaaaaaa"), batches_fn=_batches(images, calls), **kwargs)
    assert calls == [1]  # a hit never reads the dataset
    np.testing.assert_array_equal(second.cov, first.cov)
    np.testing.assert_array_equal(second.features, first.features)
    # Other weights: a new file, computed from the data again.
    third = reference_stats.get(_network("bbbbbbbbbbbb", scale=2.0), batches_fn=_batches(images, calls),
                          **kwargs)
    assert calls == [1, 1] and third.path != first.path
    np.testing.assert_allclose(third.mu, 2 * first.mu, rtol=1e-6)
    # A file whose recorded hash disagrees with the network (renamed by hand) is recomputed.
    os.replace(third.path, first.path.replace("aaaaaaaaaaaa", "cccccccccccc"))
    fourth = reference_stats.get(_network("cccccccccccc", scale=3.0), batches_fn=_batches(images, calls),
                           **kwargs)
    assert calls == [1, 1, 1]
    np.testing.assert_allclose(fourth.mu, 3 * first.mu, rtol=1e-6)


def test_the_sample_is_a_seeded_uniform_reservoir():
    images = np.arange(1000, dtype=np.float32).reshape(1000, 1, 1, 1)
    batches = [images[i:i + 64] for i in range(0, 1000, 64)]
    arrays = reference_stats.compute(_network("a"), batches, sample_size=100)
    picked = arrays["features"][:, 0]
    assert len(picked) == 100 and len(set(picked.tolist())) == 100
    # Uniform over the split, not its first 100: about half from each half.
    assert 30 < np.sum(picked < 500) < 70
    again = reference_stats.compute(_network("a"), batches, sample_size=100)
    np.testing.assert_array_equal(again["features"], arrays["features"])
    assert int(arrays["num_images"]) == 1000
