"""The TFDS input pipeline, sharded per input pipeline and positioned by the training step.

Per input pipeline (one per worker): TFDS read and decode -> shard -> cache in memory as
uint8 -> for each epoch a stateless permutation keyed by (seed, epoch) -> per-replica batches
of indices, drop_remainder -> gather and scale to [-1, 1] -> prefetch. Because every epoch's
order is a function of (seed, epoch), a run resumed at step s reads exactly what an
uninterrupted run would: distributed iterators cannot be checkpointed, so the position comes
from the step instead. Holding the split in memory suits the small image datasets a DCGAN
trains on (MNIST: 47 MB).
"""

import dataclasses
import socket

from absl import logging
import tensorflow as tf
import tensorflow_datasets as tfds

from dcgan_dist import UserError

# Most TFDS datasets, MNIST among them, download from Google Cloud Storage.
DOWNLOAD_HOST = "storage.googleapis.com"


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    image_shape: tuple  # (height, width, channels)
    num_examples: int
    image_key: str


def _find_image_key(features, name):
    for key, feature in features.items():
        if isinstance(feature, tfds.features.Image):
            return key
    raise UserError(f"--dataset={name} has no image feature (features: {', '.join(features)}); "
                    "choose a TFDS image dataset such as mnist")


def load_info(config):
    """Reads the dataset's image shape and size, with a clear error when it is missing."""
    try:
        builder = tfds.builder(config.dataset, data_dir=config.data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise UserError(f"--dataset={config.dataset} is not a TFDS dataset; "
                        "see https://www.tensorflow.org/datasets/catalog") from e
    image_key = _find_image_key(builder.info.features, config.dataset)
    if not builder.is_prepared() and not config.synthetic_data:
        _download_or_explain(builder, config)
    splits = builder.info.splits
    if config.split not in splits and not config.synthetic_data:
        raise UserError(f"--split={config.split} is not a split of {config.dataset}; "
                        f"use one of {', '.join(splits)}")
    num_examples = splits[config.split].num_examples if config.split in splits else 0
    image_shape = tuple(builder.info.features[image_key].shape)
    return DatasetInfo(image_shape, num_examples, image_key)


def can_reach_download_host(host=DOWNLOAD_HOST, timeout_secs=5):
    """Whether TFDS's download host answers; offline, TFDS would retry for minutes instead."""
    try:
        socket.create_connection((host, 443), timeout=timeout_secs).close()
        return True
    except OSError:
        return False


def _download_or_explain(builder, config):
    where = config.data_dir or "~/tensorflow_datasets"
    hint = (f"prepare it offline with: dcgan-data prepare mnist --data_dir={where}"
            if config.dataset == "mnist" else f"build it with: tfds build {config.dataset}")
    if not can_reach_download_host():
        raise UserError(f"no {config.dataset} dataset in {where} and no network to download "
                        f"it; {hint}")
    try:
        builder.download_and_prepare()
    except Exception as e:  # Any download failure ends the same way: say how to get the data.
        raise UserError(f"no {config.dataset} dataset in {where} and TFDS could not download "
                        f"it ({type(e).__name__}); {hint}") from e


def scale_images(images_uint8):
    """uint8 [0, 255] -> float32 [-1, 1], as in the tutorial: (x - 127.5) / 127.5."""
    return (tf.cast(images_uint8, tf.float32) - 127.5) / 127.5


def steps_per_epoch(num_examples, global_batch_size):
    return num_examples // global_batch_size


def make_dataset_fn(config, info, start_step=0):
    """Returns `dataset_fn(input_context)` for `strategy.distribute_datasets_from_function`."""

    def dataset_fn(ctx):
        per_replica_batch_size = ctx.get_per_replica_batch_size(config.global_batch_size)
        if config.synthetic_data:
            # One fixed random batch, repeated: the model sees real shapes at no input cost.
            images = tf.random.stateless_uniform(
                (per_replica_batch_size,) + info.image_shape, [config.seed, 3], minval=-1.0,
                maxval=1.0)
            return tf.data.Dataset.from_tensors(images).repeat().prefetch(tf.data.AUTOTUNE)
        return _tfds_pipeline(config, info, ctx, per_replica_batch_size, start_step)

    return dataset_fn


def _load_split_uint8(config, info, ctx):
    """This pipeline's shard of the split as one uint8 tensor, decoded once by TFDS."""
    images = tfds.load(config.dataset, split=config.split, data_dir=config.data_dir,
                       download=False, shuffle_files=False)
    images = images.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
    images_uint8 = images.map(lambda ex: ex[info.image_key], num_parallel_calls=tf.data.AUTOTUNE)
    return tf.concat(list(images_uint8.batch(8192)), axis=0)


def _tfds_pipeline(config, info, ctx, per_replica_batch_size, start_step):
    images_uint8 = _load_split_uint8(config, info, ctx)
    shard_examples = int(images_uint8.shape[0])
    replicas_here = ctx.num_replicas_in_sync // ctx.num_input_pipelines
    # Batches this pipeline yields per epoch: a whole number of steps for its replicas,
    # so step s of every epoch lines up across pipelines and across resumes.
    epoch_steps = shard_examples // (per_replica_batch_size * replicas_here)
    if epoch_steps == 0:
        raise UserError(f"--global_batch_size={config.global_batch_size} is larger than the "
                        f"{info.num_examples} examples of {config.dataset}:{config.split}")

    def epoch(index):
        # A stateless permutation keyed by (seed, epoch): any epoch can be replayed exactly.
        # (Dataset.shuffle takes only a Python seed, so it cannot be keyed by the epoch.)
        order = tf.random.experimental.stateless_shuffle(
            tf.range(shard_examples, dtype=tf.int64),
            seed=tf.random.experimental.stateless_fold_in([config.seed, 5], index))
        return (tf.data.Dataset.from_tensor_slices(order)
                .batch(per_replica_batch_size, drop_remainder=True)
                .take(epoch_steps * replicas_here))

    start_epoch, step_in_epoch = divmod(start_step, epoch_steps)
    if start_step:
        logging.info("Input resumes at epoch %d, step %d of %d", start_epoch, step_in_epoch,
                     epoch_steps)
    ds = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch)
    ds = ds.skip(step_in_epoch * replicas_here)
    # Gather and scale whole batches: one vectorised op per batch instead of one per image.
    ds = ds.map(lambda idx: scale_images(tf.gather(images_uint8, idx)),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
