"""Writes a prepared dataset into --data_dir so that it is either complete or absent.

TFDS writes the dataset into a staging folder; only a finished one takes its name:
- a local --data_dir: staged beside the target (`.NAME-staging-PID-XXXX`) and renamed into
  place, one atomic step. A staging folder left by a killed prepare (its process gone) is
  removed by the next prepare of that name.
- any other file system TensorFlow knows (gs://, s3://, ram://, ...): staged in a local
  temporary folder, then copied file by file through tf.io.gfile, dataset_info.json last.
  TFDS treats a version folder without dataset_info.json as not prepared, so an interrupted
  copy never looks complete; the next prepare finds it incomplete and starts it over.
"""

import contextlib
import glob
import os
import re
import shutil
import tempfile

from absl import logging

from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError

VERSION = "1.0.0"
INFO_FILE = "dataset_info.json"  # TFDS's mark of a complete dataset: written last
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_STAGING_RE = re.compile(r"-staging-(\d+)-")


def is_remote(path):
    return "://" in path


def _gfile():
    import tensorflow as tf
    return tf.io.gfile


def check_target(name, data_dir, overwrite):
    """The version folder the dataset goes to; UserError when the name is not usable or a
    complete dataset is there and --overwrite is not given."""
    if not _NAME_RE.match(name):
        raise UserError(f"--name={name} is not a valid dataset name; use lower-case letters, "
                        "digits and underscores, starting with a letter (e.g. my_faces)")
    if data_info.in_catalog(name):
        raise UserError(f"--name={name} is a TFDS catalog dataset; choose another name (e.g. "
                        f"my_{name}) so --dataset={name} keeps meaning the catalog's")
    target = f"{data_dir.rstrip('/')}/{name}/{VERSION}"
    exists = _gfile().exists if is_remote(data_dir) else os.path.exists
    if exists(f"{target}/{INFO_FILE}") and not overwrite:
        raise UserError(f"{target} already exists; pass --overwrite to replace it, or choose "
                        "another --name")
    return target


def _remove_stale_staging(name, data_dir):
    for folder in glob.glob(os.path.join(data_dir, f".{name}-staging-*")):
        match = _STAGING_RE.search(os.path.basename(folder))
        pid = int(match.group(1)) if match else None
        if pid is not None and _alive(pid):
            continue  # another prepare of this name, still running
        logging.info("Removing %s, left by an interrupted prepare", folder)
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _staging(name, data_dir):
    """A folder to write into, removed afterwards whatever happens."""
    if is_remote(data_dir):
        staging = tempfile.mkdtemp(prefix=f"{name}-staging-")
    else:
        os.makedirs(data_dir, exist_ok=True)
        _remove_stale_staging(name, data_dir)
        staging = tempfile.mkdtemp(prefix=f".{name}-staging-{os.getpid()}-", dir=data_dir)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish_local(staged, target):
    if os.path.exists(target):
        shutil.rmtree(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(staged, target)


def _publish_remote(staged, target):
    gfile = _gfile()
    if gfile.exists(target):  # a replaced or half-copied dataset: gone before the copy
        logging.info("Removing %s before writing it again", target)
        gfile.rmtree(target)
    files = sorted(os.path.relpath(os.path.join(root, f), staged)
                   for root, _, names in os.walk(staged) for f in names)
    files.sort(key=lambda f: f == INFO_FILE)  # the mark of completeness goes last
    for rel in files:
        destination = f"{target}/{rel.replace(os.sep, '/')}"
        gfile.makedirs(os.path.dirname(destination))
        gfile.copy(os.path.join(staged, rel), destination, overwrite=True)


def write(name, data_dir, features, split_examples, description):
    """Stores `split_examples` ({split: iterable of (key, example)}) as the TFDS dataset
    `name` (version VERSION) under `data_dir`, complete or not at all."""
    import tensorflow_datasets as tfds
    target = f"{data_dir.rstrip('/')}/{name}/{VERSION}"
    with _staging(name, data_dir) as staging:
        with data_info.tfds_quiet():
            tfds.dataset_builders.store_as_tfds_dataset(
                name=name, version=VERSION, features=features, data_dir=staging,
                split_datasets=split_examples, disable_shuffling=True, description=description)
        staged = os.path.join(staging, name, VERSION)
        (_publish_remote if is_remote(data_dir) else _publish_local)(staged, target)
    return target
