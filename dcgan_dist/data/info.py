"""What the package knows of a dataset, read in one place: `read` for any TFDS dataset (a
catalog one, or one `dcgan-data prepare` wrote into --data_dir), `load_info` for the one a run
trains on, with the training shape resolved and the data downloaded or the way to get it said.

--image_size=N center-crops and resizes to NxN; 0 keeps the dataset's own square size.
A dataset's class label is its ClassLabel feature (the one --label_key names, or its only
or first one), with the class names TFDS keeps for it; --conditional trains on it.
"""

import contextlib
import dataclasses
import glob
import io
import json
import logging as std_logging
import os
import re
import shlex
import socket

from absl import logging
import tensorflow_datasets as tfds

from dcgan_dist.errors import UserError

# Most TFDS datasets, MNIST among them, download from Google Cloud Storage.
DOWNLOAD_HOST = "storage.googleapis.com"


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """A dataset's metadata, and for a training run the shape and size it trains on."""
    name: str
    image_key: str
    source_shape: tuple        # the image feature's (height, width, channels); None where sizes vary
    splits: dict               # split name -> number of examples
    label_key: str | None      # its ClassLabel feature, or None for an unlabelled dataset
    num_classes: int
    class_names: tuple = ()    # the label's class names, in label order
    image_shape: tuple = None  # (height, width, channels) the models see (load_info)
    num_examples: int = 0      # examples of the split a run trains on (load_info)


def where(data_dir):
    return data_dir or "~/tensorflow_datasets"


def builder_of(dataset, data_dir):
    """The TFDS builder of `dataset`, or the UserError that says how to make it exist."""
    try:
        return tfds.builder(dataset, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise UserError(
            f"--dataset={dataset} is neither a TFDS catalog dataset nor prepared in "
            f"--data_dir={where(data_dir)}; for your own images run: dcgan-data prepare folder "
            f"--source=YOUR_IMAGE_FOLDER --name={dataset} --data_dir={where(data_dir)}") from e


def _find_image_key(features, image_key, dataset):
    image_keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if image_key:
        if image_key not in image_keys:
            raise UserError(f"--image_key={image_key} is not an image feature of {dataset}; "
                            f"its image features: {', '.join(image_keys) or 'none'}")
        return image_key
    if not image_keys:
        raise UserError(f"--dataset={dataset} has no image feature (features: "
                        f"{', '.join(features)}); choose a TFDS image dataset such as mnist")
    if len(image_keys) > 1:
        raise UserError(f"--dataset={dataset} has several image features "
                        f"({', '.join(image_keys)}); pick one with --image_key")
    return image_keys[0]


def _find_label_key(features, label_key, dataset):
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if label_key and label_key not in labels:
        raise UserError(f"--label_key={label_key} is not a class label (ClassLabel feature) of "
                        f"{dataset}; its class labels: {', '.join(labels) or 'none'}")
    return label_key or (labels[0] if labels else None)


def read(dataset, data_dir, image_key=None, builder=None, label_key=None):
    """The DatasetInfo of `dataset` in `data_dir` (its files need not be there yet); its
    label is `label_key`, or its first ClassLabel feature."""
    builder = builder or builder_of(dataset, data_dir)
    features = builder.info.features
    key = _find_image_key(features, image_key, dataset)
    label_key = _find_label_key(features, label_key, dataset)
    label = features[label_key] if label_key else None
    return DatasetInfo(
        name=dataset, image_key=key, source_shape=tuple(features[key].shape),
        splits={name: s.num_examples for name, s in builder.info.splits.items()},
        label_key=label_key, num_classes=label.num_classes if label else 0,
        class_names=tuple(label.names) if label else ())


def read_prepared(dataset, data_dir, image_key=None):
    """`read`, for readers of the images (evaluation): the files must be there."""
    builder = builder_of(dataset, data_dir)
    if not builder.is_prepared():
        raise UserError(f"{dataset} is not prepared in --data_dir={where(data_dir)}; prepare it "
                        "first (dcgan-data prepare mnist, or tfds build NAME)")
    return read(dataset, data_dir, image_key, builder)


def resolve_image_shape(source_shape, data):
    """The training shape: --image_size squared, or the dataset's own square size."""
    height, width, channels = source_shape
    channels = 1 if channels == 1 else 3  # grey stays grey; RGB(A) and unknown train as RGB
    size = data.image_size
    if size:
        if height and width and size > min(height, width):
            logging.warning("--image_size=%d is larger than the %dx%d images of %s: they are "
                            "upsampled, which adds no detail", size, height, width, data.dataset)
        return (size, size, channels)
    if height is None or width is None:
        raise UserError(f"the images of {data.dataset} differ in size: set --image_size=N to "
                        "center-crop and resize every image to NxN (e.g. --image_size=64)")
    if height != width:
        raise UserError(f"the images of {data.dataset} are {height}x{width}, not square: set "
                        "--image_size=N to center-crop and resize them (e.g. --image_size=64)")
    return (height, width, channels)


@contextlib.contextmanager
def tfds_quiet():
    """TFDS's own output while it writes a dataset ("Downloading and preparing dataset ..."
    on stdout, progress bars, warnings that the folder it is writing has no
    dataset_info.json yet): the preparers say what they did themselves, so it shows only
    with --verbose (absl at debug level)."""
    if logging.level_debug():
        yield
        return
    tfds.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()), _folder_warnings_hidden(True):
            yield
    finally:
        tfds.enable_progress_bar()


class _NoFolderWarnings(std_logging.Filter):
    """TFDS's warnings about the data folder ("... has no dataset_info.json"): noise for a
    --synthetic_data run, which reads no files."""

    def filter(self, record):
        return not (record.levelno == std_logging.WARNING
                    and "tensorflow_datasets" in record.pathname)


@contextlib.contextmanager
def _folder_warnings_hidden(hidden):
    logger = std_logging.getLogger("absl")
    filter_ = _NoFolderWarnings()
    if hidden:
        logger.addFilter(filter_)
    try:
        yield
    finally:
        logger.removeFilter(filter_)


def load_info(data):
    """The dataset a run trains on, with its training shape; downloads it if TFDS can, or says
    how to get it. With --synthetic_data only the metadata is needed."""
    with _folder_warnings_hidden(data.synthetic_data):
        builder = builder_of(data.dataset, data.data_dir)
        info = read(data.dataset, data.data_dir, data.image_key, builder, data.label_key)
        prepared = builder.is_prepared()
    if data.conditional and info.label_key is None:
        fix = ("sort its images into one sub-folder per class and prepare it again with: "
               f"dcgan-data prepare folder --source=DIR --name={data.dataset} "
               f"--data_dir={where(data.data_dir)} --labels=subfolders --overwrite"
               if not in_catalog(data.dataset) else "choose a labelled dataset")
        raise UserError(f"--conditional needs a class label, but {data.dataset} has none "
                        f"(features: {', '.join(builder.info.features)}); {fix}")
    if not prepared and not data.synthetic_data:
        _download_or_explain(builder, data)
    if data.split not in info.splits and not data.synthetic_data:
        raise UserError(f"--split={data.split} is not a split of {data.dataset}; "
                        f"use one of {', '.join(info.splits)}")
    return dataclasses.replace(info, image_shape=resolve_image_shape(info.source_shape, data),
                               num_examples=info.splits.get(data.split, 0))


def can_reach_download_host(host=DOWNLOAD_HOST, timeout_secs=5):
    """Whether TFDS's download host answers; offline, TFDS would retry for minutes instead."""
    try:
        socket.create_connection((host, 443), timeout=timeout_secs).close()
        return True
    except OSError:
        return False


def folder_source(dataset, data_dir):
    """The image folder `dcgan-data prepare folder` made `dataset` from (its description
    names it), or None when no dataset_info.json says."""
    pattern = os.path.join(os.path.expanduser(where(data_dir)), dataset, "*", "dataset_info.json")
    for path in sorted(glob.glob(pattern)):
        try:
            with open(path) as f:
                match = _SOURCE_RE.match(json.load(f).get("description", ""))
        except (OSError, ValueError):
            continue
        if match:
            return match.group(1)
    return None


_SOURCE_RE = re.compile(r"^Images from (.+), by dcgan-data prepare folder$")


def prepare_folder_command(dataset, data_dir):
    """The complete command that prepares `dataset` again over its damaged or partial copy."""
    source = folder_source(dataset, data_dir) or "YOUR_IMAGE_FOLDER"
    return shlex.join(["dcgan-data", "prepare", "folder", f"--source={source}",
                       f"--name={dataset}", f"--data_dir={where(data_dir)}", "--overwrite"])


def in_catalog(name):
    """Whether `name` (as in --dataset, with an optional /config or :version) is a TFDS
    catalog dataset, rather than one `dcgan-data prepare folder` wrote."""
    return name.split("/")[0].split(":")[0] in tfds.list_builders()


def _download_or_explain(builder, data):
    place = where(data.data_dir)
    if not in_catalog(data.dataset):  # a read-only builder found files, but not a complete dataset
        raise UserError(f"{data.dataset} in {place} is incomplete; prepare it again with "
                        + prepare_folder_command(data.dataset, data.data_dir))
    hint = (f"prepare it offline with: dcgan-data prepare mnist --data_dir={place}"
            if data.dataset == "mnist" else
            f"build it where there is internet with: tfds build {data.dataset} "
            f"--data_dir={place}, then copy that folder here")
    if not can_reach_download_host():
        raise UserError(f"no {data.dataset} dataset in {place} and no network to download "
                        f"it; {hint}")
    try:
        builder.download_and_prepare()
    except Exception as e:  # Any download failure ends the same way: say how to get the data.
        raise UserError(f"no {data.dataset} dataset in {place} and TFDS could not download "
                        f"it ({type(e).__name__}); {hint}") from e
