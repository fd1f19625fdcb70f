"""Is the GAN any good? Generated images scored on the features of every available network.

  NETWORKS = {"inception": ..., "classifier": ...}     networks.FeatureNetwork loaders

For each network: the Fréchet distance (FID on Inception) and kernel distance (KID) of the
generated images' features to the reference split's, precision and recall (k = 3), density
and coverage (k = 5), and for the classifier its score and class histogram. With the classes
a conditional generator was asked for: intra-class FID (each class against the reference
images of that class, and the mean) and the classifier's class accuracy (overall and per
class). Every score says its protocol (`protocols`): reference split and count, generated
count, resize. Reference statistics come from the .npz cache
(`reference_stats`); the real-data reference values score a sample of real training images
the same way, so every number has its ceiling beside it.
"""

from absl import logging

from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import (classifier, inception, metrics, protocols, reals,
                                   reference_stats)
from dcgan_dist.evaluation.networks import NetworkUnavailable

NETWORKS = {"inception": inception.load_network, "classifier": classifier.load_network}
MIN_FID_IMAGES = 10000  # below this FID is biased upwards: not comparable with tables


def load_networks(names=tuple(NETWORKS), **kwargs):
    """The networks among `names` whose weights are available, and why the others are not.

    Returns:
      ([FeatureNetwork], {name: reason}). Bad configuration (a path that does not exist,
      a run the classifier cannot take) still raises UserError: only absence is skipped.
    """
    networks, skipped = [], {}
    for name in names:
        try:
            networks.append(NETWORKS[name](**kwargs))
        except NetworkUnavailable as e:
            skipped[name] = str(e)
    return networks, skipped


class Evaluator:
    """Scores generated images against the reference split on each network's features.

    Args:
      networks: FeatureNetworks (see `load_networks`).
      data_dir, dataset: the TFDS dataset the run trained on.
      image_shape: the generated images' (height, width, channels); real images are
        resized to it.
    """

    def __init__(self, networks, *, data_dir, dataset, image_shape, skipped=None,
                 image_key=None, label_key=None, reference_split="", train_split="train"):
        if not networks:
            reasons = "; ".join((skipped or {}).values()) or "none asked for"
            raise UserError(f"no feature network to score with: {reasons}")
        self.networks, self.skipped = networks, dict(skipped or {})
        info = data_info.read_prepared(dataset, data_dir, image_key)
        splits, self.dataset = info.splits, dataset
        # Real images are compared at the generated images' size: say so when that is a resize.
        size, source = tuple(image_shape[:2]), tuple(info.source_shape[:2])
        resized_from = f"from {'x'.join(map(str, source))} " if all(source) else ""
        self.real_resize = ("" if size == source else
                            f"the real images resized {resized_from}to "
                            f"{'x'.join(map(str, size))} as training sees them, then ")
        # The classifier learns the dataset's first class label: a conditional run on another
        # (--label_key) is asked for classes the classifier does not know.
        self.label_key = label_key or info.label_key
        if self.label_key != info.label_key and any(n.name == "classifier" for n in networks):
            self.skipped["class accuracy"] = (f"the classifier predicts {info.label_key}, not "
                                              f"the run's {self.label_key}")
        if reference_split and reference_split not in splits:
            raise UserError(f"--reference_split={reference_split} is not a split of {dataset}; "
                            f"its splits: {', '.join(splits)}")
        self.reference_split = reference_split or ("test" if "test" in splits else "train")
        # Scores against the images the model trained on cannot see memorisation: say so.
        self.on_training_images = self.reference_split == train_split
        # The real-data reference values need only a sample: never run all of a large
        # train split through Inception (hours on a CPU).
        real = "train" if "train" in splits else self.reference_split
        self.real_split = (real if splits[real] <= reference_stats.SAMPLE_SIZE else
                           f"{real}[:{reference_stats.SAMPLE_SIZE}]")

        def stats(network, split, labelled=False):
            whole, _, first = split.partition("[:")  # "test", or "train[:10000]"
            count = min(splits[whole], int(first.rstrip("]"))) if first else splits[whole]
            return reference_stats.get(
                network, data_dir=data_dir, dataset=dataset, split=split,
                image_shape=tuple(image_shape), labelled=labelled, num_images=count,
                batches_fn=lambda: reals.batches(data_dir, dataset, split, image_shape,
                                                 image_key=image_key, labels=labelled))

        # The reference sample keeps its labels, for intra-class FID of conditional runs.
        labelled = info.label_key is not None and self.label_key == info.label_key
        self.references = {n.name: stats(n, self.reference_split, labelled) for n in networks}
        # The real-data reference values only when a report asks (`reference`): a training
        # run's periodic evaluation never waits for a second split's statistics.
        self._stats = stats

    @classmethod
    def for_run(cls, evaluation, image_shape, classifier_image_size=0, names=tuple(NETWORKS)):
        """The Evaluator of a run making `image_shape` images, on every available network.

        Args:
          evaluation: the config's evaluation section: the dataset (data_dir, dataset,
            image_key), a conditional run's label_key when not the dataset's first, and the
            inception_path.
          image_shape: the generated images' (height, width, channels).
          classifier_image_size: the classifier's input size (0: image_shape's).
          names: the networks to try (keys of NETWORKS).
        """
        data_dir, dataset = evaluation.data_dir, evaluation.dataset
        networks, skipped = load_networks(names, data_dir=data_dir, dataset=dataset,
                                          image_shape=tuple(image_shape),
                                          inception_path=evaluation.inception_path,
                                          classifier_image_size=classifier_image_size)
        for name, reason in skipped.items():
            logging.info("Not scoring with %s: %s", name, reason)
        return cls(networks, data_dir=data_dir, dataset=dataset, image_shape=image_shape,
                   skipped=skipped, image_key=evaluation.image_key,
                   label_key=evaluation.label_key, reference_split=evaluation.reference_split,
                   train_split=evaluation.split)

    def score(self, images, labels=None):
        """Every network's metrics of images in [-1, 1]: one flat dict for stats.jsonl.

        `labels`: the class each image was generated as (a conditional run), for the
        classifier's `class_accuracy` and `class_accuracy_per_class` on them.
        """
        out = {"num_generated": len(images), **self.protocol(len(images))}
        for network in self.networks:
            features, probs = network.features(images)
            out.update(self._metrics(network, features, probs))
            out.update(self._intra_class(network, features, labels))
            if (probs is not None and labels is not None
                    and "class accuracy" not in self.skipped):
                out["class_accuracy"], out["class_accuracy_per_class"] = (
                    metrics.class_accuracy(probs, labels))
        return out

    def real_stats(self, network):
        """The real split's cached statistics for `network` (computed on first use)."""
        return self._stats(network, self.real_split)

    def reference(self, num_images):
        """The same metrics for `num_images` real training images (from the cached sample):
        what a generator that reproduced the data would get."""
        out = {}
        for network in self.networks:
            real = self.real_stats(network)
            n = min(num_images, len(real.features))
            out.update(self._metrics(network, real.features[:n],
                                     None if real.probs is None else real.probs[:n]))
            out["num_generated"] = n
        return out

    def protocol(self, num_generated):
        """What the scores of `num_generated` images are measured on: the protocol's name,
        the reference split and its image count, the generated count and the resize."""
        network = next((n for n in self.networks if n.name == "inception"), self.networks[0])
        count = self.references[network.name].num_images
        # A published protocol needs the Inception network and real images at their own size.
        name = (protocols.match(self.reference_split, count, count, num_generated)
                if network.name == "inception" and not self.real_resize else "custom")
        resize = self.real_resize + network.info.get("resize",
                                                     f"{network.name}'s own input size")
        line = protocols.describe(name, self.dataset, self.reference_split, count,
                                  num_generated, resize)
        if self.on_training_images:
            line += (f"; the {self.reference_split} split is what the model trained on: a "
                     "model that memorised it scores well (prepare with --holdout for a "
                     "held-out split)")
        return {"protocol": name, "reference_split": self.reference_split,
                "reference_images": count, "reference_is_training_data": self.on_training_images,
                "resize": resize, "protocol_line": line}

    def _intra_class(self, network, features, labels):
        """Intra-class Fréchet distance of a conditional run's images, when the reference
        sample has labels."""
        ref = self.references[network.name]
        if labels is None or ref.labels is None or "intra_frechet" not in network.metric_names:
            return {}
        per_class, mean = metrics.intra_class_frechet(features, labels, ref.features,
                                                      ref.labels)
        name = network.metric_names["intra_frechet"]
        return {name: mean, f"{name}_per_class": [per_class.get(k, float("nan")) for k in
                                                   range(int(max(labels)) + 1)],
                f"{name}_reference_images": len(ref.labels)}

    def _metrics(self, network, features, probs):
        names, ref = network.metric_names, self.references[network.name]
        kid, kid_se = metrics.kernel_distance(features, ref.features)
        pr = metrics.precision_recall(ref.features, features, k=3)
        dc = metrics.density_coverage(ref.features, features, k=5)
        out = {names["frechet"]: metrics.frechet_distance_of_stats(
                   *metrics.mean_and_covariance(features), ref.mu, ref.cov),
               names["kernel"]: kid, names["kernel_se"]: kid_se,
               names["precision"]: pr["precision"], names["recall"]: pr["recall"],
               names["density"]: dc["density"], names["coverage"]: dc["coverage"],
               f"{network.name}_reference_images": ref.num_images,
               f"{network.name}_sample_images": len(ref.features),
               f"{network.name}_pr_images": pr["num_points"]}
        if probs is not None:
            out["classifier_score"] = metrics.classifier_score(probs)
            out["class_histogram"] = metrics.class_histogram(probs)
        return out

    def warnings(self, num_images):
        """Lines a report must carry: too few images for a comparable FID."""
        if "inception" in self.references and num_images < MIN_FID_IMAGES:
            return [f"warning: FID from {num_images} < {MIN_FID_IMAGES} generated images is "
                    "biased upwards and not comparable with published tables; use "
                    f"--num_images={MIN_FID_IMAGES} or more"]
        return []

