"""Reference statistics of real images, computed once and cached beside the data.

As clean-fid and StyleGAN do: for each (dataset, split, image size, feature network hash)
the mean and covariance of the features of the whole split, and a seeded sample of up to
SAMPLE_SIZE features (and class probabilities, and the images' labels when the dataset has
them) for the kernel distance, precision/recall, density/coverage, intra-class FID and the
real-data reference values, are saved as one .npz:

  DATA_DIR/dcgan_eval/ref_stats/{dataset}-{split}-{H}x{W}x{C}-{network}-{hash}.npz

A second evaluation reads this file instead of the dataset. The network's hash is part of
the name, so new weights never meet stale statistics.
"""

import dataclasses
import io

from absl import logging
import numpy as np
import tensorflow as tf

from dcgan_dist.rundir.files import write_atomic
from dcgan_dist.rundir.progress import Ticker

SAMPLE_SIZE = 10000


@dataclasses.dataclass(frozen=True)
class ReferenceStats:
    mu: np.ndarray
    cov: np.ndarray
    features: np.ndarray   # a seeded sample of the split's features
    probs: np.ndarray | None
    num_images: int        # images behind mu and cov: the whole split
    path: str
    labels: np.ndarray | None = None  # the sample's class labels, when the split has them


def stats_path(data_dir, dataset, split, image_shape, network):
    shape = "x".join(map(str, image_shape))
    split = split.replace("[:", "_first").replace("]", "")  # train[:10000] -> train_first10000
    return (f"{data_dir}/dcgan_eval/ref_stats/{dataset}-{split}-{shape}-{network.name}-"
            f"{network.sha256}.npz")


def get(network, *, data_dir, dataset, split, image_shape, batches_fn, labelled=False,
        num_images=None):
    """The cached statistics, computing and saving them first on a miss.

    `batches_fn()` yields batches of real images in [-1, 1] at `image_shape` (with
    `labelled`, (images, labels) pairs); it is only called on a miss, or when labels are
    asked for and a file written before they were kept lacks them.
    """
    path = stats_path(data_dir, dataset, split, image_shape, network)
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path, "rb") as f:
            saved = np.load(io.BytesIO(f.read()))
            if str(saved["sha256"]) != network.sha256:
                logging.warning("%s was computed with another network; recomputing", path)
            elif labelled and "labels" not in saved:
                logging.info("%s has no labels (an older version's); recomputing", path)
            else:
                return _from_arrays(saved, path)
    logging.info("Computing reference statistics of %s:%s at %s with %s %s (once; cached in "
                 "%s)", dataset, split, "x".join(map(str, image_shape)), network.name,
                 network.sha256, path)
    arrays = compute(network, batches_fn(), what=f"{dataset}:{split} {network.name} features",
                     total=num_images)
    buffer = io.BytesIO()  # zipfile seeks back while writing; GFile cannot
    np.savez(buffer, sha256=network.sha256, **{k: v for k, v in arrays.items() if v is not None})
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    write_atomic(path, buffer.getvalue())
    return _from_arrays(arrays, path)


def _from_arrays(arrays, path):
    optional = {key: arrays[key] if key in arrays and arrays[key] is not None else None
                for key in ("probs", "labels")}
    return ReferenceStats(mu=arrays["mu"], cov=arrays["cov"], features=arrays["features"],
                          num_images=int(arrays["num_images"]), path=path, **optional)


def compute(network, image_batches, sample_size=SAMPLE_SIZE, seed=0, what="features",
            total=None):
    """Streams batches through the network: sums for mean and covariance, and a sample.

    The sample is a seeded reservoir (every image equally likely, whatever the split's
    size), so the statistics never need the whole split's features in memory. Batches may
    be (images, labels) pairs: the sample keeps each image's label.
    """
    rng = np.random.default_rng(seed)
    count, feature_sum, outer = 0, None, None
    sample = []  # (features, probs or None, label or None) of the sampled images
    ticker = Ticker(what, total)  # a line with images/s and the ETA every 30 s
    for batch in image_batches:
        images, labels = batch if isinstance(batch, tuple) else (batch, None)
        features, probs = network.features(np.asarray(images))
        ticker.update(len(features))
        f64 = features.astype(np.float64)
        feature_sum = f64.sum(0) if feature_sum is None else feature_sum + f64.sum(0)
        outer = f64.T @ f64 if outer is None else outer + f64.T @ f64
        for i in range(len(features)):
            # Algorithm R: the n-th image replaces a random slot with probability k / n.
            entry = (features[i], None if probs is None else probs[i],
                     None if labels is None else np.asarray(labels[i]))
            if count < sample_size:
                sample.append(entry)
            elif (slot := rng.integers(0, count + 1)) < sample_size:
                sample[slot] = entry
            count += 1
    if count < 2:
        raise ValueError("reference statistics need at least two images")
    mu = feature_sum / count
    cov = (outer - count * np.outer(mu, mu)) / (count - 1)
    return {"mu": mu, "cov": cov, "features": np.stack([f for f, _, _ in sample]),
            "probs": None if sample[0][1] is None else np.stack([p for _, p, _ in sample]),
            "labels": None if sample[0][2] is None else np.stack([y for _, _, y in sample]),
            "num_images": np.int64(count)}
