"""Which split and which class each image of a source gets, decided from its name alone, so
that a folder and its zip (or a rerun) split and label alike.

- `assign_splits`: the source's own splits (CIFAR), or the held-out split `test` of
  `holdout_count` images: those whose names, below a wrapping folder (`unwrapped`), hash
  lowest.
- `labels`: the first-level folder with --labels=subfolders (`subfolder_classes`), else the
  source's own labels; class names in the source's order, or sorted.
"""

import hashlib

from dcgan_dist.errors import UserError

HOLDOUT_SHARE = 0.1       # held out by default: a tenth of the images,
HOLDOUT_CAP = 10_000      # at most 10,000 (the size of MNIST's and CIFAR's test splits),
HOLDOUT_MIN_SOURCE = 50   # and none from fewer images: every one of them is needed to train
MIN_HELD_OUT = 2          # the fewest images a score can be computed against


def unwrapped(names):
    """{name: the name below a single folder wrapping them all} (how zipping or tarring a
    folder comes out: 'photos/cat/1.jpg' -> 'cat/1.jpg'), so a folder and its archive name
    their images alike."""
    tops = {n.split("/", 1)[0] for n in names}
    root = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in names) else ""
    return {n: n[len(root):] for n in names}


def subfolder_classes(names, source):
    """{name: its first-level folder} (below a wrapping folder: `unwrapped`); UserError naming
    the images that sit loose at the top."""
    parts = {n: inner.split("/") for n, inner in unwrapped(names).items()}
    loose = [n for n, p in parts.items() if len(p) == 1]
    if loose:
        raise UserError(f"--labels=subfolders takes each image's class from its sub-folder, but "
                        f"{len(loose)} images are directly in {source} ("
                        f"{', '.join(loose[:3])}{', ...' if len(loose) > 3 else ''}); move them "
                        "into a sub-folder named by their class")
    return {n: p[0] for n, p in parts.items()}


def holdout_count(holdout, num_images):
    """How many images --holdout keeps out of training: None -> HOLDOUT_SHARE of them up to
    HOLDOUT_CAP (none below HOLDOUT_MIN_SOURCE images); a share in (0, 1); a count >= 1; 0
    none. A held-out split is at least MIN_HELD_OUT images and leaves some to train on."""
    if holdout is None:
        if num_images < HOLDOUT_MIN_SOURCE:
            return 0
        return min(round(num_images * HOLDOUT_SHARE), HOLDOUT_CAP)
    if holdout == 0:
        return 0
    count = round(num_images * holdout) if 0 < holdout < 1 else holdout
    if count != int(count) or not MIN_HELD_OUT <= count < num_images:
        raise UserError(f"--holdout={holdout:g} of {num_images} images is not a held-out split "
                        f"of {MIN_HELD_OUT} images or more that leaves some to train on; use a "
                        "share below 1 (e.g. 0.1), a count (e.g. 500), or 0 for none")
    return int(count)


def assign_splits(scanned, holdout):
    """{name: 'train' or 'test'}: the source's own splits when it has them and --holdout
    is not given, else the `holdout_count` images whose names hash lowest."""
    if holdout is None and any(s.split for s in scanned):
        return {s.name: s.split for s in scanned}
    count = holdout_count(holdout, len(scanned))
    inner = unwrapped([s.name for s in scanned])  # a folder and its zip alike
    ranked = sorted(scanned, key=lambda s: hashlib.sha1(inner[s.name].encode()).digest())
    held = {s.name for s in ranked[:count]}
    return {s.name: "test" if s.name in held else "train" for s in scanned}


def labels(reader, scanned, source):
    """({name: label index}, class names), or ({}, []) without labels."""
    if reader.labels == "subfolders":
        class_of = subfolder_classes([s.name for s in scanned], f"--source={source}")
    else:
        class_of = {s.name: s.label for s in scanned if s.label is not None}
    if not class_of:
        return {}, []
    class_names = reader.class_names() or sorted(set(class_of.values()))
    index = {c: i for i, c in enumerate(class_names)}
    return {n: index[c] for n, c in class_of.items()}, class_names
