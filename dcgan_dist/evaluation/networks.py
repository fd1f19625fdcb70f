"""Feature networks: a small interface and a table of implementations.

Every metric that compares generated with real images does it on the features of one
network. A `FeatureNetwork` names the network and the hash of its weights (numbers from
different weights are not comparable, so the hash travels with every number and keys the
cached reference statistics), and turns images in [-1, 1] of any size into features (and,
for a classifier, class probabilities).

The table of implementations is `evaluator.NETWORKS`; each loader takes the same keyword
arguments and raises `NetworkUnavailable` when its weights are not configured, so
evaluation during training runs with the others.
"""

import dataclasses
from typing import Callable

import numpy as np

from dcgan_dist.rundir.progress import Ticker


class NetworkUnavailable(Exception):
    """The network's weights are not configured here (not an error: it is skipped)."""


@dataclasses.dataclass(frozen=True)
class FeatureNetwork:
    """A network that maps images to features.

    Attributes:
      name: the table key ("inception", "classifier").
      sha256: the first 12 hex digits of the hash of its weights.
      description: one line for reports (which layer, accuracy, ...).
      features_fn: images float32 [N, H, W, C] in [-1, 1], any size -> (features [N, D],
        class probabilities [N, K] or None).
      metric_names: what this network's Fréchet, kernel, precision and recall numbers are
        called in reports and stats.jsonl ("fid" for Inception, by convention).
      check_images: `check_images(image_shape)` raises UserError when the network cannot
        take images of that (height, width, channels).
    """

    name: str
    sha256: str
    description: str
    features_fn: Callable
    metric_names: dict
    check_images: Callable = lambda image_shape: None
    info: dict = dataclasses.field(default_factory=dict)  # e.g. the classifier's accuracy

    def features(self, images, batch_size=100):
        """(features, probs or None) of images in [-1, 1], computed in batches."""
        images = np.asarray(images, np.float32)
        self.check_images(images.shape[1:])
        features, probs = [], []
        ticker = Ticker(f"{self.name} features", len(images))
        for start in range(0, len(images), batch_size):
            f, p = self.features_fn(images[start:start + batch_size])
            ticker.update(len(f))
            features.append(np.asarray(f, np.float32).reshape(len(f), -1))
            if p is not None:
                probs.append(np.asarray(p, np.float32))
        return np.concatenate(features), (np.concatenate(probs) if probs else None)
