"""What `dcgan-data prepare` says when it is done: the counts, what was skipped or dropped,
and the whole dcgan-train command for the new dataset, with the packaged config that fits
its size (measured: benchmarks/RESULTS_small_folders.md)."""

import os
import shlex
import sys

from dcgan_dist.data import writer

def _names(pairs_or_names, limit=5):
    shown = [p if isinstance(p, str) else f"{p[0]} (= {p[1]})" for p in pairs_or_names[:limit]]
    return ", ".join(shown) + (", ..." if len(pairs_or_names) > limit else "")


def summary(counts, shape, target, skipped, duplicates, name, data_dir, class_names):
    """The paragraph prepare prints: {split: images} written at `shape` into `target`, the
    skipped (unreadable) files, the dropped duplicates [(name, the name it repeats)], the
    classes, and the command that trains on it."""
    size = "x".join("?" if d is None else str(d) for d in shape)
    held = (f"; {counts['test']} held out as split test (dcgan-eval compares against it; "
            "training never reads it)" if counts.get("test") else "; no held-out split")
    lines = [f"prepared {counts['train']} training images at {size} in {target}{held}"]
    if class_names:
        lines.append(f"{len(class_names)} classes: " + ", ".join(class_names[:10])
                     + (", ..." if len(class_names) > 10 else ""))
    if duplicates:
        lines.append(f"dropped {len(duplicates)} exact duplicates (the same bytes or pixels as "
                     f"an earlier image, which is kept): {_names(duplicates)}")
    if skipped:
        lines.append(f"skipped {len(skipped)} unreadable: "
                     + _names([os.path.basename(p) for p in skipped]))
    extra = ["--conditional"] if class_names else []  # labelled on purpose: train on them
    lines.append("train with: " + training_command(name, data_dir, shape, counts["train"],
                                                   extra))
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
    where = data_dir if writer.is_remote(data_dir) else os.path.abspath(data_dir)  # gs://
    train = os.path.join(os.path.dirname(sys.executable), "dcgan-train")
    if not os.path.isfile(train):
        train = "dcgan-train"
    return shlex.join([train, f"--config={config}", f"--dataset={name}",
                       f"--data_dir={where}",
                       f"--workdir={os.path.abspath(os.path.join('runs', name))}", *recommended,
                       *extra])
