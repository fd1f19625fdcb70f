"""Is the GAN any good? Generated images scored on the features of every available network.

  NETWORKS = {"inception": ..., "classifier": ...}     features.FeatureNetwork loaders

For each network: the Fréchet distance (FID on Inception) and kernel distance (KID) of the
generated images' features to the reference split's, precision and recall (k = 3), and for
the classifier its score and class histogram. Reference statistics come from the .npz cache
(ref_stats); the real-data reference values score a sample of real training images the same
way, so every number has its ceiling beside it.
"""

from absl import logging
import numpy as np
import tensorflow as tf

from dcgan_dist import UserError, classifier, eval_data, eval_math, inception, ref_stats
from dcgan_dist import streams
from dcgan_dist.features import NetworkUnavailable

NETWORKS = {"inception": inception.load_network, "classifier": classifier.load_network}
MIN_FID_IMAGES = 10000  # below this FID is biased upwards: not comparable with tables
GENERATE_CHUNK = 500


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

    def __init__(self, networks, *, data_dir, dataset, image_shape, skipped=None):
        if not networks:
            reasons = "; ".join((skipped or {}).values()) or "none asked for"
            raise UserError(f"no feature network to score with: {reasons}")
        self.networks, self.skipped = networks, dict(skipped or {})
        splits = eval_data.split_info(data_dir, dataset).splits
        self.reference_split = "test" if "test" in splits else "train"
        # The real-data reference values need only a sample: never run all of a large
        # train split through Inception (hours on a CPU).
        real = "train" if "train" in splits else self.reference_split
        self.real_split = (real if splits[real] <= ref_stats.SAMPLE_SIZE else
                           f"{real}[:{ref_stats.SAMPLE_SIZE}]")

        def stats(network, split):
            return ref_stats.get(
                network, data_dir=data_dir, dataset=dataset, split=split,
                image_shape=tuple(image_shape),
                batches_fn=lambda: eval_data.batches(data_dir, dataset, split, image_shape))

        self.references = {n.name: stats(n, self.reference_split) for n in networks}
        self.reals = {n.name: stats(n, self.real_split) for n in networks}

    @classmethod
    def for_run(cls, *, data_dir, dataset, image_shape, inception_path=None,
                classifier_image_size=0, names=tuple(NETWORKS)):
        """The Evaluator of a run making `image_shape` images, on every available network."""
        networks, skipped = load_networks(names, data_dir=data_dir, dataset=dataset,
                                          image_shape=tuple(image_shape),
                                          inception_path=inception_path,
                                          classifier_image_size=classifier_image_size)
        for name, reason in skipped.items():
            logging.info("Not scoring with %s: %s", name, reason)
        return cls(networks, data_dir=data_dir, dataset=dataset, image_shape=image_shape,
                   skipped=skipped)

    def score(self, images):
        """Every network's metrics of images in [-1, 1]: one flat dict for stats.jsonl."""
        out = {"num_generated": len(images)}
        for network in self.networks:
            out.update(self._metrics(network, *network.features(images)))
        return out

    def reference(self, num_images):
        """The same metrics for `num_images` real training images (from the cached sample):
        what a generator that reproduced the data would get."""
        out = {}
        for network in self.networks:
            real = self.reals[network.name]
            n = min(num_images, len(real.features))
            out.update(self._metrics(network, real.features[:n],
                                     None if real.probs is None else real.probs[:n]))
            out["num_generated"] = n
        return out

    def _metrics(self, network, features, probs):
        names, ref = network.metric_names, self.references[network.name]
        kid, kid_se = eval_math.kernel_distance(features, ref.features)
        pr = eval_math.precision_recall(ref.features, features, k=3)
        out = {names["frechet"]: eval_math.frechet_distance_of_stats(
                   *eval_math.mean_and_covariance(features), ref.mu, ref.cov),
               names["kernel"]: kid, names["kernel_se"]: kid_se,
               names["precision"]: pr["precision"], names["recall"]: pr["recall"],
               f"{network.name}_reference_images": ref.num_images,
               f"{network.name}_sample_images": len(ref.features),
               f"{network.name}_pr_images": pr["num_points"]}
        if probs is not None:
            out["classifier_score"] = eval_math.classifier_score(probs)
            out["class_histogram"] = eval_math.class_histogram(probs)
        return out

    def warnings(self, num_images):
        """Lines a report must carry: too few images for a comparable FID."""
        if "inception" in self.references and num_images < MIN_FID_IMAGES:
            return [f"warning: FID from {num_images} < {MIN_FID_IMAGES} generated images is "
                    "biased upwards and not comparable with published tables; use "
                    f"--num_images={MIN_FID_IMAGES} or more"]
        return []


def generate(generator, num_images, noise_dim, seed=0, images_per_call=GENERATE_CHUNK):
    """num_images samples in [-1, 1] from fixed, seeded noise (the export's `sample` too)."""
    out = []
    for start in range(0, num_images, images_per_call):
        n = min(images_per_call, num_images - start)
        z = tf.random.stateless_normal([n, noise_dim], seed=[seed, streams.EVAL_NOISE + start])
        out.append(np.asarray(generator(z, training=False), np.float32))
    return np.concatenate(out)




def make_generate_fn(strategy, generator, noise_dim, per_replica_images, seed):
    """`fn(chunk) -> images`: every replica generates `per_replica_images` (noise keyed by
    chunk and replica), gathered across replicas and workers. Generation runs where the
    variables live (a TPU's, a worker's), not eagerly on the host.

    Under multi-worker every worker must call it: the gather is a collective.
    """
    num_replicas = strategy.num_replicas_in_sync

    def replica_fn(chunk):
        replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int64)
        key = tf.random.experimental.stateless_fold_in(
            tf.constant([seed, streams.PERIODIC_EVAL_NOISE], tf.int64), chunk * num_replicas + replica)
        z = tf.random.stateless_normal([per_replica_images, noise_dim], seed=key)
        return tf.cast(generator(z, training=False), tf.float32)

    @tf.function
    def generate_chunk(chunk):
        return strategy.gather(strategy.run(replica_fn, args=(chunk,)), axis=0)

    def fn(num_images):
        chunks = -(-num_images // (per_replica_images * num_replicas))
        images = [generate_chunk(tf.constant(c, tf.int64)).numpy() for c in range(chunks)]
        return np.concatenate(images)[:num_images]

    return fn


# How long workers wait for the chief's scoring, instead of --collective_timeout_secs:
# scoring thousands of images on Inception can take many minutes on a CPU.
EVAL_WAIT_SECS = 3600


def wait_for_chief(strategy, timeout_secs=EVAL_WAIT_SECS):
    """Multi-worker: a barrier (a one-number all-reduce) that waits up to `timeout_secs`.

    Peers that went on to the next training step while the chief scores would wait there
    only --collective_timeout_secs and then fail the run; here they wait for the chief.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    one = strategy.run(lambda: tf.constant(1.0))
    strategy.extended.reduce_to(
        tf.distribute.ReduceOp.SUM, one, destinations=one,
        options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_secs))
