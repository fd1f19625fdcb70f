"""`dcgan-data prepare images` (alias `folder`): your images -> a TFDS dataset.

The source is a folder, a zip/tar archive, an LMDB export or a CIFAR tarball (`readers`),
read in place. Two passes over it:
1. scan: each image's header (size, grey or colour, EXIF orientation) and a digest of its
   bytes, in threads. Unreadable files are skipped and counted; exact duplicates (the same
   bytes, or in pass 2 the same pixels, as an earlier image) are dropped and reported, the
   first kept; an image over
   --max_image_pixels stops the prepare before anything is written (`photos`).
2. write: the split `train`, and the held-out split `test` (the source's own test batch, or
   --holdout of the images, chosen by a hash of their names so the same images are held out
   whatever the order they are read in: `splits`). Each image decoded on all cores (`photos.decode`),
   center-cropped and resized once (--image_size), stored PNG-encoded in TFDS's format, so
   `dcgan-train --dataset=NAME --data_dir=DIR` and `tfds.load` read it like a catalog
   dataset. Training reads `train` only; dcgan-eval compares against `test`.
A source mixing grey and colour becomes RGB. With labels (`readers`: --labels) each image has
a ClassLabel `label`, which `dcgan-train --conditional` trains on.

The dataset is written complete or not at all (`writer`), locally or on gs://.
"""

import concurrent.futures
import dataclasses
import hashlib
import io
import itertools
import os
import time

from absl import logging

from dcgan_dist.data import commands, photos, readers, splits, writer
from dcgan_dist.errors import UserError

_CHUNK = 256           # images read ahead of the decoders


@dataclasses.dataclass(frozen=True)
class _Scanned:
    name: str
    label: str | None
    split: str | None  # the source's own
    grey: bool
    size: tuple        # (height, width), upright


class _Progress:
    """A log line every few seconds: what is done, the rate and (when the total is known)
    the time left."""

    def __init__(self, what, total=None, every_secs=5.0, clock=time.monotonic):
        self.what, self.total, self.every_secs, self.clock = what, total, every_secs, clock
        self.start = self.last = clock()

    def update(self, done):
        now = self.clock()
        if now - self.last < self.every_secs and done != self.total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        if self.total:
            eta = (self.total - done) / rate if rate else 0
            logging.info("%s %d/%d images (%.0f/s), eta %d:%02d", self.what, done, self.total,
                         rate, eta // 60, eta % 60)
        else:
            logging.info("%s %d images (%.0f/s)", self.what, done, rate)


def _chunks(iterable):
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, _CHUNK)):
        yield chunk


def _probe(item, max_pixels):
    """(item, digest, (grey, size)) or (item, None, reason) for an unreadable image."""
    data = item.data
    digest = hashlib.sha1(data.tobytes() if hasattr(data, "tobytes") else data).digest()
    try:
        return item, digest, photos.probe(data, max_pixels)
    except photos.Refused as e:
        raise UserError(f"{item.name} declares {e}; remove it from the source, or raise "
                        "--max_image_pixels if it is a real image that large") from e
    except Exception as e:  # noqa: BLE001 - any unreadable file is skipped, whatever the cause
        return item, None, f"{type(e).__name__}"


def scan(reader, pool, max_pixels):
    """Pass 1: ([_Scanned] of the unique readable images, [unreadable names],
    [(duplicate, the name it repeats)])."""
    progress = _Progress("scanned", reader.count())
    found, unreadable, duplicates, first_of = [], [], [], {}
    for chunk in _chunks(reader.items()):
        for item, digest, probed in pool.map(lambda i: _probe(i, max_pixels), chunk):
            if digest is None:
                unreadable.append(item.name)
            elif digest in first_of:
                duplicates.append((item.name, first_of[digest]))
            else:
                first_of[digest] = item.name
                found.append(_Scanned(item.name, item.label, item.split, *probed))
        progress.update(len(found) + len(unreadable) + len(duplicates))
    return found, unreadable, duplicates


def _features(shape, class_names):
    import tensorflow_datasets as tfds
    features = {"image": tfds.features.Image(shape=shape)}
    if class_names:
        features["label"] = tfds.features.ClassLabel(names=class_names)
    return tfds.features.FeaturesDict(features)


def _shape(scanned, image_size):
    """(height, width, channels) of the stored images: grey only if every image is."""
    channels = 1 if all(s.grey for s in scanned) else 3
    sizes = {s.size for s in scanned}
    smallest = min(min(s) for s in sizes)
    if image_size and image_size > smallest:
        logging.warning("--image_size=%d is larger than some images (smallest side %d): they "
                        "are upsampled", image_size, smallest)
    if image_size:
        return (image_size, image_size, channels)
    return (*next(iter(sizes)), channels) if len(sizes) == 1 else (None, None, channels)


def prepare(source, name, data_dir, *, image_size=0, overwrite=False, labels=None,
            holdout=None, transparency=photos.DEFAULT_TRANSPARENCY,
            max_image_pixels=photos.DEFAULT_MAX_PIXELS, workers=None):
    """Writes `name` (splits train and, held out, test) under `data_dir`; returns a summary
    of what was written and the command that trains on it."""
    reader = readers.open_source(source, labels)
    writer.check_target(name, data_dir, overwrite)
    pool = concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1)
    with pool, photos.own_pixel_limit():
        scanned, unreadable, duplicates = scan(reader, pool, max_image_pixels)
        if not scanned:
            raise UserError(f"--source={source} holds no readable image ({len(unreadable)} "
                            f"files with an image extension: {', '.join(readers.EXTENSIONS)}); "
                            "point it at a folder or archive of images")
        split_of = splits.assign_splits(scanned, holdout)
        label_of, class_names = splits.labels(reader, scanned, source)
        shape = _shape(scanned, image_size)
        failed, written, seen = [], {"train": 0, "test": 0}, {}

        def encoded(item):  # in a thread: (digest, PNG), or None when it cannot decode
            try:
                image, digest = photos.decode(item.data, shape[-1], image_size, transparency,
                                              max_image_pixels)
            except Exception:  # noqa: BLE001 - passed the header check, failed to decode
                return None
            return digest, _png(image)

        def examples(split):
            wanted = {n for n, s in split_of.items() if s == split}
            progress, done = _Progress(f"wrote {split}", len(wanted)), 0
            for chunk in _chunks(reader.items(keep=wanted.__contains__)):
                for item, result in zip(chunk, pool.map(encoded, chunk)):
                    done += 1
                    progress.update(done)
                    if result is None:
                        failed.append(item.name)
                        continue
                    # The same picture under other bytes (a re-saved file) is a duplicate too,
                    # across splits as well: no training image is also a held-out one.
                    digest, png = result
                    if digest in seen:
                        duplicates.append((item.name, seen[digest]))
                        continue
                    seen[digest] = item.name
                    written[split] += 1
                    label = {"label": label_of[item.name]} if class_names else {}
                    yield item.name, {"image": io.BytesIO(png), **label}

        # The held-out split first, in memory (at most splits.HOLDOUT_CAP by default): TFDS
        # cannot write a split that turns out empty, which pixel duplicates could make it.
        held_out = list(examples("test"))
        split_examples = {"train": examples("train"),  # generators both: TFDS wants one type
                          **({"test": (e for e in held_out)} if held_out else {})}
        try:
            target = writer.write(name, data_dir, _features(shape, class_names),
                                  split_examples, f"Images from {os.path.abspath(source)}, by "
                                  "dcgan-data prepare folder")
        except AssertionError as e:  # TFDS's "No examples were yielded": nothing written
            if written["train"]:
                raise
            raise UserError(f"--source={source} leaves no image to train on: each repeats a "
                            "held-out image or fails to decode; prepare it with --holdout=0, "
                            "or add images") from e
    return commands.summary(written, shape, target, unreadable + failed, duplicates, name,
                            data_dir, class_names)


def _png(image):
    """PNG bytes of a uint8 HxWxC array, made by Pillow in the calling thread: TFDS would
    encode each array with an eager TensorFlow op, 4 ms apiece and one at a time (0.3 ms
    here, on every core)."""
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(out, "PNG")
    return out.getvalue()
