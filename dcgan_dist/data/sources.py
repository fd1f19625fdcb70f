"""Data sources: where a run's images come from, behind one small interface and a table.

    SOURCES = {"in_memory": ..., "streaming": ..., "synthetic": ...}
    source = make_source(data, info, num_input_pipelines)  # data: the config's data section
    source.make_dataset(input_context, start_step) -> per-replica batches, float32 [-1, 1]
                                            (with --conditional: (images, int32 labels))

The split stays in memory when its decoded size at the training resolution fits
--cache_limit_mb per input pipeline, and streams otherwise.

Every source keeps what makes the pipeline right under distribution: the input position
comes from the training step (distributed iterators cannot be checkpointed), each epoch's
order is a stateless function of (seed, epoch), batches drop the remainder, and each input
pipeline (worker) reads only its own shard. So a run resumed at step s reads exactly what an
uninterrupted run would, and the global batch does not depend on the replica split.

- InMemorySource decodes the shard once, at the training resolution, into one uint8 tensor,
  and gathers each batch from a stateless permutation (MNIST: 47 MB).
- StreamingSource reads TFDS's files for datasets over --cache_limit_mb: records in file
  order, each window of 10,000 permuted by (seed, epoch, window), decoding after that. On resume it
  skips the epoch's consumed records undecoded, so resuming costs one partial read of the
  files at most, and memory holds only the buffer whatever the dataset's size.
- SyntheticSource repeats one random batch: real shapes at no input cost.
"""

import math

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from dcgan_dist.runtime import streams
from dcgan_dist.data import images
from dcgan_dist.errors import UserError

SHUFFLE_BUFFER = 10_000  # streaming: encoded examples held for shuffling (64x64 PNG: ~100 MB)


def make_decode_fn(data, info):
    """uint8 image as stored -> uint8 image at the training shape (crop/resize/channels)."""
    size, channels = data.image_size, info.image_shape[-1]
    if not size and info.source_shape == info.image_shape:
        return lambda image: image
    return lambda image: images.center_crop_resize(image, size, channels)


class _Source:
    """What the sources share: the epoch geometry and the batch-level finishing steps.

    With --conditional every element is (images, labels): the label travels beside its image
    through the same permutation and batching, and only the images are decoded, scaled and
    flipped (`_on_images`).
    """

    kind = None  # its key in SOURCES, --cache_limit_mb's choice (`choose_source`)

    def __init__(self, data, info):
        self.data, self.info = data, info
        self.label_key = info.label_key if data.conditional else None

    def _example(self, ex, image_fn=lambda image: image):
        """A TFDS example -> image_fn(image), or (image_fn(image), int32 label)."""
        image = image_fn(ex[self.info.image_key])
        return image if self.label_key is None else (image, tf.cast(ex[self.label_key], tf.int32))

    def _on_images(self, fn):
        """`fn(images)` as a Dataset.map function of an element: images, or images and labels
        (which map passes as two arguments)."""
        if self.label_key is None:
            return fn
        return lambda images, labels: (fn(images), labels)

    def _geometry(self, ctx, shard_examples):
        per_replica = ctx.get_per_replica_batch_size(self.data.global_batch_size)
        replicas_here = ctx.num_replicas_in_sync // ctx.num_input_pipelines
        # Batches this pipeline yields per epoch: a whole number of steps for its replicas,
        # so step s of every epoch lines up across pipelines and across resumes.
        epoch_steps = shard_examples // (per_replica * replicas_here)
        if epoch_steps == 0:
            # The largest batch that gives every pipeline one step, in whole replicas.
            replicas = ctx.num_replicas_in_sync
            largest = shard_examples * ctx.num_input_pipelines // replicas * replicas
            shard = (f" ({shard_examples} per input pipeline)" if ctx.num_input_pipelines > 1
                     else "")
            fix = (f"use --global_batch_size={largest} or less" + (
                f" (a multiple of the {replicas} replicas)" if replicas > 1 else "") +
                ", or add images to the dataset" if largest else
                "add images to the dataset: it has fewer than one per replica")
            raise UserError(f"--global_batch_size={self.data.global_batch_size} is larger than "
                            f"the {self.info.num_examples} examples of "
                            f"{self.data.dataset}:{self.data.split}{shard}; {fix}")
        return per_replica, replicas_here, epoch_steps

    def _finish(self, ds, ctx, per_replica, replicas_here, start_step):
        """uint8 batches -> [-1, 1], flipped per global example when asked, prefetched."""
        ds = ds.map(self._on_images(images.scale_images), num_parallel_calls=tf.data.AUTOTUNE)
        if self.data.random_flip:
            seed, global_batch = self.data.seed, self.data.global_batch_size
            first_replica = ctx.input_pipeline_id * replicas_here

            def flip(k, batch):
                step = start_step + k // replicas_here
                offset = (first_replica + k % replicas_here) * per_replica
                flip_images = self._on_images(
                    lambda x: images.flip_batch(x, seed, step, offset, global_batch))
                return flip_images(*batch) if self.label_key else flip_images(batch)

            ds = ds.enumerate().map(flip, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)


class InMemorySource(_Source):
    """The shard decoded once into memory; batches gathered from per-epoch permutations."""

    kind = "in_memory"

    def _load(self, ctx):
        ds = tfds.load(self.data.dataset, split=self.data.split,
                       data_dir=self.data.data_dir, download=False, shuffle_files=False)
        ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        decode = make_decode_fn(self.data, self.info)
        ds = ds.map(lambda ex: self._example(ex, decode), num_parallel_calls=tf.data.AUTOTUNE)
        return tf.nest.map_structure(lambda *parts: tf.concat(parts, axis=0),
                                     *list(ds.batch(8192)))

    def make_dataset(self, ctx, start_step):
        examples = self._load(ctx)  # images, or (images, labels)
        shard_examples = int(tf.nest.flatten(examples)[0].shape[0])
        per_replica, replicas_here, epoch_steps = self._geometry(ctx, shard_examples)
        seed = self.data.seed

        def epoch(index):
            # A stateless permutation keyed by (seed, epoch): any epoch can be replayed exactly.
            order = tf.random.experimental.stateless_shuffle(
                tf.range(shard_examples, dtype=tf.int64),
                seed=streams.keyed(seed, streams.EPOCH_ORDER, index))
            return (tf.data.Dataset.from_tensor_slices(order)
                    .batch(per_replica, drop_remainder=True)
                    .take(epoch_steps * replicas_here))

        start_epoch, step_in_epoch = divmod(start_step, epoch_steps)
        if start_step:
            logging.info("Input resumes at epoch %d, step %d of %d", start_epoch, step_in_epoch,
                         epoch_steps)
        ds = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch)
        ds = ds.skip(step_in_epoch * replicas_here)
        # Gather whole batches: one vectorised op per batch instead of one per image.
        ds = ds.map(lambda idx: tf.nest.map_structure(lambda t: tf.gather(t, idx), examples),
                    num_parallel_calls=tf.data.AUTOTUNE)
        return self._finish(ds, ctx, per_replica, replicas_here, start_step)


class StreamingSource(_Source):
    """Records read from disk each epoch, permuted window by window, decoded after that."""

    kind = "streaming"

    def make_dataset(self, ctx, start_step):
        data, info = self.data, self.info
        builder = tfds.builder(data.dataset, data_dir=data.data_dir)
        # Each pipeline reads a contiguous, even share of the split (whole files where the
        # boundaries allow), so no worker reads another's examples.
        shard = tfds.even_splits(data.split, n=ctx.num_input_pipelines)[ctx.input_pipeline_id]
        shard_examples = builder.info.splits[shard].num_examples
        per_replica, replicas_here, epoch_steps = self._geometry(ctx, shard_examples)
        records = builder.as_dataset(split=shard, shuffle_files=False,
                                     decoders={info.image_key: tfds.decode.SkipDecoding()})
        key = info.image_key
        encoded = records.map(self._example)  # only the image's bytes (and label) travel
        feature = builder.info.features[key]
        decode = make_decode_fn(data, info)
        start_epoch, step_in_epoch = divmod(start_step, epoch_steps)
        batches_per_epoch = epoch_steps * replicas_here
        skip_batches = step_in_epoch * replicas_here
        seed = data.seed

        def shuffle_window(index, window, epoch):
            # A stateless permutation of each window of SHUFFLE_BUFFER records, keyed by
            # (seed, epoch, window). Dataset.shuffle cannot be keyed by the epoch: a tensor
            # seed fails inside TensorFlow when the global seed is 0.
            order = tf.random.experimental.stateless_shuffle(
                tf.range(tf.shape(tf.nest.flatten(window)[0])[0]),
                seed=streams.keyed(seed, streams.EPOCH_WINDOW, epoch, index))
            return tf.data.Dataset.from_tensor_slices(
                tf.nest.map_structure(lambda t: tf.gather(t, order), window))

        def epoch(index):
            first = tf.cast(index == start_epoch, tf.int64)
            ds = encoded.batch(SHUFFLE_BUFFER).enumerate().flat_map(
                lambda i, window: shuffle_window(i, window, index))
            ds = ds.skip(first * skip_batches * per_replica)  # undecoded: cheap
            ds = ds.map(self._on_images(lambda image: decode(feature.decode_example(image))),
                        num_parallel_calls=tf.data.AUTOTUNE)
            return (ds.batch(per_replica, drop_remainder=True)
                    .take(batches_per_epoch - first * skip_batches))

        if start_step:
            logging.info("Input resumes at epoch %d, step %d of %d (streaming: skipping %d "
                         "records)", start_epoch, step_in_epoch, epoch_steps,
                         skip_batches * per_replica)
        ds = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch)
        return self._finish(ds, ctx, per_replica, replicas_here, start_step)


class SyntheticSource(_Source):
    """One fixed random batch, repeated: the model sees real shapes at no input cost."""

    kind = "synthetic"

    def make_dataset(self, ctx, start_step):
        del start_step
        per_replica = ctx.get_per_replica_batch_size(self.data.global_batch_size)
        batch = tf.random.stateless_uniform(
            (per_replica,) + tuple(self.info.image_shape),
            streams.keyed(self.data.seed, streams.SYNTHETIC_IMAGES), minval=-1.0, maxval=1.0)
        if self.label_key is not None:
            batch = (batch, tf.random.stateless_uniform(
                [per_replica], streams.keyed(self.data.seed, streams.SYNTHETIC_LABELS),
                minval=0, maxval=self.info.num_classes, dtype=tf.int32))
        return tf.data.Dataset.from_tensors(batch).repeat().prefetch(tf.data.AUTOTUNE)


SOURCES = {source.kind: source for source in (InMemorySource, StreamingSource, SyntheticSource)}


def choose_source(data, info, num_input_pipelines=1):
    """'synthetic', 'in_memory' when a pipeline's decoded shard fits --cache_limit_mb, else
    'streaming'; with the shard's size in MB."""
    shard_examples = math.ceil(info.num_examples / num_input_pipelines)
    shard_mb = shard_examples * int(np.prod(info.image_shape)) / 2**20
    if data.synthetic_data:
        return "synthetic", shard_mb
    return ("in_memory" if shard_mb <= data.cache_limit_mb else "streaming"), shard_mb


def make_source(data, info, num_input_pipelines=1):
    """The data source for this run (see SOURCES; its `kind` says which), logged with the
    reason for the choice."""
    kind, shard_mb = choose_source(data, info, num_input_pipelines)
    logging.debug("Data: %s:%s, %d images at %s, %s (%.0f MB per input pipeline, "
                 "--cache_limit_mb=%d)", data.dataset, data.split, info.num_examples,
                 "x".join(map(str, info.image_shape)), kind.replace("_", "-"), shard_mb,
                 data.cache_limit_mb)
    return SOURCES[kind](data, info)


def preview(data, info, num_images):
    """The split's first images, through the same crop, resize, flip and scaling as training
    (as global examples 0..n-1 of step 0): what `reals.png` shows. Floats in [-1, 1]."""
    num_images = min(num_images, info.num_examples)
    ds = tfds.load(data.dataset, split=f"{data.split}[:{num_images}]",
                   data_dir=data.data_dir, download=False, shuffle_files=False)
    decode = make_decode_fn(data, info)
    batch = next(iter(ds.map(lambda ex: decode(ex[info.image_key])).batch(num_images)))
    batch = images.scale_images(batch)
    if data.random_flip:
        batch = images.flip_batch(batch, data.seed, 0, 0,
                                  max(num_images, data.global_batch_size))
    return batch.numpy()
