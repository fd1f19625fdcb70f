"""`dcgan-data prepare folder`: a folder of images -> a TFDS dataset (split `train`).

Finds every png, jpg/jpeg, bmp, webp and gif (its first frame) under the folder,
recursively, in sorted path order, with extensions matched in any case. Each image is
decoded on all cores, center-cropped to a square and resized once (with --image_size), and
stored PNG-encoded in TFDS's own format, so `dcgan-train --dataset=NAME --data_dir=DIR` and
`tfds.load` read it like any catalog dataset, locally or from gs:// after a copy. A folder
that mixes grey and colour images becomes RGB. Decoding runs in threads: Pillow releases
the GIL while it decodes and resamples, and threads need no start-up or pickling. Unreadable files are skipped and counted.
The dataset is built under a temporary name and renamed into place: never half-written.

With --labels=subfolders each image's first-level sub-folder of the source is its class: a
ClassLabel feature `label` whose names are the sub-folders', sorted (their index is the
label), which `dcgan-train --conditional` trains on. Without it the images have no label.
"""

import concurrent.futures
import itertools
import os
import re
import shlex
import shutil
import sys
import tempfile
import time

from absl import logging
import numpy as np

from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError

VERSION = "1.0.0"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def find_images(source):
    """Every image file under `source`, recursively, in sorted path order."""
    if not os.path.exists(source):
        raise UserError(f"--source={source} does not exist; pass the folder holding your images")
    if not os.path.isdir(source):
        raise UserError(f"--source={source} is a file; pass the folder that holds the images")
    found = []
    for root, dirs, files in os.walk(source):
        dirs.sort()
        found += [os.path.join(root, f) for f in files if f.lower().endswith(EXTENSIONS)]
    return sorted(found)


def _probe(path):
    """(path, is_grey, (height, width)) from the header alone, or (path, None, None)."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            return path, image.mode in _GREY_MODES, image.size[::-1]
    except Exception:  # noqa: BLE001 - any unreadable file is skipped, whatever the cause
        return path, None, None


def _load(args):
    """One image as uint8 HxWxC (first frame, crop, resize), or None when it cannot decode."""
    from PIL import Image
    path, channels, size = args
    try:
        with Image.open(path) as image:
            image.seek(0)
            image = image.convert("L" if channels == 1 else "RGB")
            if size:
                width, height = image.size
                side = min(width, height)
                left, top = (width - side) // 2, (height - side) // 2
                image = image.crop((left, top, left + side, top + side))
                if side != size:  # LANCZOS antialiases when shrinking, as StyleGAN's tool
                    image = image.resize((size, size), Image.LANCZOS)
            array = np.asarray(image, np.uint8)
    except Exception:  # noqa: BLE001
        return None
    return array[..., None] if array.ndim == 2 else array


LABELS = ("subfolders",)  # --labels: where an image's class comes from


def class_of_each(paths, source):
    """(sorted class names, [class index of each path]): the first-level sub-folder of
    `source` that holds each image."""
    tops = [os.path.relpath(path, source).split(os.sep) for path in paths]
    loose = [os.sep.join(parts) for parts in tops if len(parts) == 1]
    if loose:
        raise UserError(f"--labels=subfolders takes each image's class from its sub-folder, but "
                        f"{len(loose)} images are directly in --source={source} ("
                        f"{', '.join(loose[:3])}{', ...' if len(loose) > 3 else ''}); move them "
                        "into a sub-folder named by their class")
    names = sorted({parts[0] for parts in tops})
    index = {name: i for i, name in enumerate(names)}
    return names, [index[parts[0]] for parts in tops]


def _check_target(name, data_dir, overwrite):
    if not _NAME_RE.match(name):
        raise UserError(f"--name={name} is not a valid dataset name; use lower-case letters, "
                        "digits and underscores, starting with a letter (e.g. my_faces)")
    if data_info.in_catalog(name):
        raise UserError(f"--name={name} is a TFDS catalog dataset; choose another name (e.g. "
                        f"my_{name}) so --dataset={name} keeps meaning the catalog's")
    target = os.path.join(data_dir, name, VERSION)
    if os.path.exists(target) and not overwrite:
        raise UserError(f"{target} already exists; pass --overwrite to replace it, or choose "
                        "another --name")
    return target


class _Progress:
    """A log line every few seconds: count, rate and ETA."""

    def __init__(self, total, every_secs=5.0):
        self.total, self.every_secs = total, every_secs
        self.start = self.last = time.monotonic()

    def update(self, done):
        now = time.monotonic()
        if now - self.last < self.every_secs and done < self.total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate else 0
        logging.info("prepared %d/%d images (%.0f/s), eta %d:%02d", done, self.total, rate,
                     eta // 60, eta % 60)


def prepare_folder(source, name, data_dir, image_size=0, overwrite=False, workers=None,
                   labels=None):
    """Writes `name` (split train) under `data_dir`, each image with its class when `labels`
    is 'subfolders'; returns a one-paragraph summary."""
    import tensorflow_datasets as tfds
    if labels not in (None, *LABELS):
        raise UserError(f"--labels={labels} is not a way to label a folder; use "
                        f"--labels={'|'.join(LABELS)} (each image's sub-folder is its class), "
                        "or leave it out for images without labels")
    paths = find_images(source)
    target = _check_target(name, data_dir, overwrite)
    class_names, class_index = class_of_each(paths, source) if labels else ([], [])
    label_of = dict(zip(paths, class_index))
    workers = workers or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        probes = list(pool.map(_probe, paths))
        readable = [p for p in probes if p[1] is not None]
        if not readable:
            raise UserError(f"--source={source} holds no readable image ({len(paths)} files with "
                            f"an image extension: {', '.join(EXTENSIONS)}); point it at a folder "
                            "of images")
        channels = 1 if all(p[1] for p in readable) else 3
        sizes = {p[2] for p in readable}
        if image_size and image_size > min(min(s) for s in sizes):
            logging.warning("--image_size=%d is larger than some images (smallest side %d): "
                            "they are upsampled", image_size, min(min(s) for s in sizes))
        shape = ((image_size, image_size, channels) if image_size else
                 (*next(iter(sizes)), channels) if len(sizes) == 1 else (None, None, channels))
        unreadable = [p[0] for p in probes if p[1] is None]
        failed = []  # passed the header check, failed to decode
        progress = _Progress(len(readable))

        def loaded():  # in order, at most 256 images ahead of the writer
            jobs = ((p[0], channels, image_size) for p in readable)
            while chunk := list(itertools.islice(jobs, 256)):
                yield from pool.map(_load, chunk)

        def examples():
            for i, (path, image) in enumerate(zip(readable, loaded())):
                progress.update(i + 1)
                if image is None:
                    failed.append(path[0])
                    continue
                yield i, {"image": image, **({"label": label_of[path[0]]} if labels else {})}

        features = {"image": tfds.features.Image(shape=shape)}
        if labels:
            features["label"] = tfds.features.ClassLabel(names=class_names)
        features = tfds.features.FeaturesDict(features)
        os.makedirs(data_dir, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{name}-staging-", dir=data_dir)
        try:
            with data_info.tfds_quiet():
                tfds.dataset_builders.store_as_tfds_dataset(
                    name=name, version=VERSION, features=features, data_dir=staging,
                    split_datasets={"train": examples()}, disable_shuffling=True,
                    description=f"Images from {os.path.abspath(source)}, by dcgan-data "
                                "prepare folder")
            if os.path.exists(target):
                shutil.rmtree(target)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.rename(os.path.join(staging, name, VERSION), target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return _summary(len(readable) - len(failed), shape, target, unreadable + failed, name,
                    data_dir, class_names)


def _summary(count, shape, target, skipped, name, data_dir, class_names):
    size = "x".join("?" if d is None else str(d) for d in shape)
    lines = [f"prepared {count} images at {size} in {target}"]
    if class_names:
        lines.append(f"{len(class_names)} classes, from the sub-folders: "
                     + ", ".join(class_names[:10]) + (", ..." if len(class_names) > 10 else ""))
    if skipped:
        lines.append(f"skipped {len(skipped)} unreadable: "
                     + ", ".join(os.path.basename(p) for p in skipped[:5])
                     + (", ..." if len(skipped) > 5 else ""))
    extra = ["--conditional"] if class_names else []  # labelled on purpose: train on them
    lines.append("train with: " + training_command(name, data_dir, shape, count, extra))
    return "\n".join(lines)


# From this many images on, the folder configs' augmentation is turned off: measured at 200,
# 500 and 2,000 images (benchmarks/RESULTS_small_folders.md), and not needed at 60,000.
LARGE_FOLDER = 20_000


def recommended_flags(shape, count):
    """The packaged config and the flags after it for a folder of `count` images of `shape`
    (side None when they vary): folder32 up to 48 px, else folder64 (at 128 or 256 px, at that
    size); augmentation below LARGE_FOLDER images."""
    side = shape[0] if shape[0] == shape[1] else None
    if side is not None and side <= 48:
        config, extra = "folder32", []
    else:
        config = "folder64"
        extra = [f"--image_size={side}"] if side in (128, 256) else []
    if count >= LARGE_FOLDER:
        extra.append("--augment=none")
    return config, extra


def training_command(name, data_dir, shape, count, extra=()):
    """The whole dcgan-train command for the prepared folder, runnable as printed from any
    directory: every path in it is absolute (the program's too, when it sits beside this
    Python, so that a virtual environment need not be active); the run goes to ./runs/NAME of
    where prepare ran. `extra` flags go last."""
    config, recommended = recommended_flags(shape, count)
    train = os.path.join(os.path.dirname(sys.executable), "dcgan-train")
    if not os.path.isfile(train):
        train = "dcgan-train"
    return shlex.join([train, f"--config={config}", f"--dataset={name}",
                       f"--data_dir={os.path.abspath(data_dir)}",
                       f"--workdir={os.path.abspath(os.path.join('runs', name))}", *recommended,
                       *extra])
