"""Which images a run trains on: the dataset, its image feature, the training shape, and the
data source that feeds them (in memory, streamed from disk, or synthetic).

`load_info` reads a TFDS dataset's metadata (any catalog dataset, or one that
`dcgan-data prepare` wrote into --data_dir) and resolves the shape the models see:
--image_size=N center-crops and resizes to NxN, 0 keeps the dataset's own square size.
`make_source` picks the source from a table: the split stays in memory when its decoded size
at the training resolution fits --cache_limit_mb per input pipeline, and streams otherwise.
"""

import dataclasses
import math
import socket

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from dcgan_dist import UserError, images, sources

# Most TFDS datasets, MNIST among them, download from Google Cloud Storage.
DOWNLOAD_HOST = "storage.googleapis.com"

SOURCES = {
    "in_memory": sources.InMemorySource,
    "streaming": sources.StreamingSource,
    "synthetic": sources.SyntheticSource,
}


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    image_shape: tuple   # (height, width, channels) the models see
    source_shape: tuple  # the dataset's image feature shape; None where sizes vary
    num_examples: int
    image_key: str


def _where(config):
    return config.data_dir or "~/tensorflow_datasets"


def _builder(config):
    try:
        return tfds.builder(config.dataset, data_dir=config.data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise UserError(
            f"--dataset={config.dataset} is neither a TFDS catalog dataset nor prepared in "
            f"--data_dir={_where(config)}; for your own images run: dcgan-data prepare folder "
            f"--source=DIR --name={config.dataset} --data_dir={_where(config)}") from e


def _find_image_key(features, config):
    image_keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if config.image_key:
        if config.image_key not in image_keys:
            raise UserError(f"--image_key={config.image_key} is not an image feature of "
                            f"{config.dataset}; its image features: {', '.join(image_keys) or 'none'}")
        return config.image_key
    if not image_keys:
        raise UserError(f"--dataset={config.dataset} has no image feature (features: "
                        f"{', '.join(features)}); choose a TFDS image dataset such as mnist")
    if len(image_keys) > 1:
        raise UserError(f"--dataset={config.dataset} has several image features "
                        f"({', '.join(image_keys)}); pick one with --image_key")
    return image_keys[0]


def resolve_image_shape(source_shape, config):
    """The training shape: --image_size squared, or the dataset's own square size."""
    height, width, channels = source_shape
    channels = 1 if channels == 1 else 3  # grey stays grey; RGB(A) and unknown train as RGB
    size = config.image_size
    if size:
        if height and width and size > min(height, width):
            logging.warning("--image_size=%d is larger than the %dx%d images of %s: they are "
                            "upsampled, which adds no detail", size, height, width, config.dataset)
        return (size, size, channels)
    if height is None or width is None:
        raise UserError(f"the images of {config.dataset} differ in size: set --image_size=N to "
                        "center-crop and resize every image to NxN (e.g. --image_size=64)")
    if height != width:
        raise UserError(f"the images of {config.dataset} are {height}x{width}, not square: set "
                        "--image_size=N to center-crop and resize them (e.g. --image_size=64)")
    return (height, width, channels)


def load_info(config):
    """Reads the dataset's metadata and resolves the training shape, with clear errors."""
    builder = _builder(config)
    image_key = _find_image_key(builder.info.features, config)
    if not builder.is_prepared() and not config.synthetic_data:
        _download_or_explain(builder, config)
    splits = builder.info.splits
    if config.split not in splits and not config.synthetic_data:
        raise UserError(f"--split={config.split} is not a split of {config.dataset}; "
                        f"use one of {', '.join(splits)}")
    num_examples = splits[config.split].num_examples if config.split in splits else 0
    source_shape = tuple(builder.info.features[image_key].shape)
    return DatasetInfo(resolve_image_shape(source_shape, config), source_shape, num_examples,
                       image_key)


def can_reach_download_host(host=DOWNLOAD_HOST, timeout_secs=5):
    """Whether TFDS's download host answers; offline, TFDS would retry for minutes instead."""
    try:
        socket.create_connection((host, 443), timeout=timeout_secs).close()
        return True
    except OSError:
        return False


def in_catalog(name):
    """Whether `name` (as in --dataset, with an optional /config or :version) is a TFDS
    catalog dataset, rather than one `dcgan-data prepare folder` wrote."""
    return name.split("/")[0].split(":")[0] in tfds.list_builders()


def _download_or_explain(builder, config):
    where = _where(config)
    if not in_catalog(config.dataset):  # a read-only builder found files, but not a complete dataset
        raise UserError(f"{config.dataset} in {where} is incomplete; prepare it again with "
                        f"dcgan-data prepare folder --name={config.dataset} --overwrite")
    hint = (f"prepare it offline with: dcgan-data prepare mnist --data_dir={where}"
            if config.dataset == "mnist" else
            f"build it where there is internet with: tfds build {config.dataset} "
            f"--data_dir={where}, then copy that folder here")
    if not can_reach_download_host():
        raise UserError(f"no {config.dataset} dataset in {where} and no network to download "
                        f"it; {hint}")
    try:
        builder.download_and_prepare()
    except Exception as e:  # Any download failure ends the same way: say how to get the data.
        raise UserError(f"no {config.dataset} dataset in {where} and TFDS could not download "
                        f"it ({type(e).__name__}); {hint}") from e


def steps_per_epoch(num_examples, global_batch_size):
    return num_examples // global_batch_size


def choose_source(config, info, num_input_pipelines=1):
    """'synthetic', 'in_memory' when a pipeline's decoded shard fits --cache_limit_mb, else
    'streaming'; with the shard's size in MB."""
    shard_examples = math.ceil(info.num_examples / num_input_pipelines)
    shard_mb = shard_examples * int(np.prod(info.image_shape)) / 2**20
    if config.synthetic_data:
        return "synthetic", shard_mb
    return ("in_memory" if shard_mb <= config.cache_limit_mb else "streaming"), shard_mb


def make_source(config, info, num_input_pipelines=1):
    """The data source for this run (see SOURCES), logged with the reason for the choice."""
    kind, shard_mb = choose_source(config, info, num_input_pipelines)
    logging.info("Data: %s:%s, %d images at %s, %s (%.0f MB per input pipeline, "
                 "--cache_limit_mb=%d)", config.dataset, config.split, info.num_examples,
                 "x".join(map(str, info.image_shape)), kind.replace("_", "-"), shard_mb,
                 config.cache_limit_mb)
    return SOURCES[kind](config, info)


def preview(config, info, num_images):
    """The split's first images, through the same crop, resize, flip and scaling as training
    (as global examples 0..n-1 of step 0): what `reals.png` shows. Floats in [-1, 1]."""
    num_images = min(num_images, info.num_examples)
    ds = tfds.load(config.dataset, split=f"{config.split}[:{num_images}]",
                   data_dir=config.data_dir, download=False, shuffle_files=False)
    decode = sources.make_decode_fn(config, info)
    batch = next(iter(ds.map(lambda ex: decode(ex[info.image_key])).batch(num_images)))
    batch = images.scale_images(batch)
    if config.random_flip:
        batch = images.flip_batch(batch, config.seed, 0, 0,
                                  max(num_images, config.global_batch_size))
    return batch.numpy()
