"""CIFAR-10 and CIFAR-100 from the python tarballs Alex Krizhevsky's page serves
(https://www.cs.toronto.edu/~kriz/cifar.html), read in place, labels kept.

    cifar-10-python.tar.gz   cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    cifar-100-python.tar.gz  cifar-100-python/{train, test, meta}

Each batch is a Python 2 pickle of a dict with bytes keys: b'data' (N x 3072 uint8, each row
1024 red, 1024 green, 1024 blue values of a 32x32 image in row-major order), b'labels'
(CIFAR-10) or b'fine_labels' and b'coarse_labels' (CIFAR-100), b'filenames'; the meta file
holds the class names. They are unpickled by a restricted unpickler that builds only numpy
arrays and plain containers: a crafted file cannot run code.
"""

import io
import pickle
import tarfile

import numpy as np

from dcgan_dist.errors import UserError

# kind -> (top folder, {member: split}, meta member, {--labels: (label key, names key)})
LAYOUTS = {
    "cifar10": ("cifar-10-batches-py",
                {**{f"data_batch_{i}": "train" for i in range(1, 6)}, "test_batch": "test"},
                "batches.meta", {"cifar": (b"labels", b"label_names")}),
    "cifar100": ("cifar-100-python", {"train": "train", "test": "test"}, "meta",
                 {"fine": (b"fine_labels", b"fine_label_names"),
                  "coarse": (b"coarse_labels", b"coarse_label_names")}),
}

# What an ndarray's pickle needs (numpy 1 and 2 name its module differently), and how Python
# 3's protocol 2 writes bytes; nothing else is looked up.
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


_NUMPY = {"_reconstruct": getattr(np, "_core", None) or np.core, "ndarray": np, "dtype": np}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR batch")
        if module.startswith("numpy"):
            owner = _NUMPY[name]
            return getattr(owner.multiarray if name == "_reconstruct" else owner, name)
        return super().find_class(module, name)


def _load(data, name):
    try:
        return _Unpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any malformed batch: one line naming it
        raise UserError(f"{name} is not a CIFAR batch ({type(e).__name__}: {e}); download "
                        "the python version again from https://www.cs.toronto.edu/~kriz/"
                        "cifar.html") from e


def kind_of_tar(path):
    """'cifar10' or 'cifar100' when the tar's first entry is CIFAR's folder, else None."""
    try:
        with tarfile.open(path, "r|*") as archive:
            first = next(iter(archive), None)
    except (tarfile.TarError, OSError, EOFError):
        return None
    top = first.name.split("/", 1)[0] if first else None
    return next((kind for kind, layout in LAYOUTS.items() if layout[0] == top), None)


def load(path, kind):
    """{batch name: its dict} and the meta dict of a CIFAR tarball of `kind`."""
    top, splits, meta_name, _ = LAYOUTS[kind]
    batches, meta = {}, None
    with tarfile.open(path, "r|*") as archive:
        for member in archive:
            rel = member.name[len(top) + 1:] if member.name.startswith(top + "/") else None
            if rel == meta_name:
                meta = _load(archive.extractfile(member).read(), member.name)
            elif rel in splits:
                batches[rel] = _load(archive.extractfile(member).read(), member.name)
    missing = [name for name in splits if name not in batches] + (
        [meta_name] if meta is None else [])
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)} of {top}/; download "
                        f"{top}'s tarball again from https://www.cs.toronto.edu/~kriz/cifar.html")
    return batches, meta


def class_names(meta, kind, labels):
    """The class names of --labels, in label order; None for --labels=none."""
    keys = LAYOUTS[kind][3].get(labels)
    return [name.decode() for name in meta[keys[1]]] if keys else None


def images(batches, meta, kind, labels, keep=None):
    """(name, 32x32x3 uint8 array, class name or None, split) of every image, batch by batch
    in the layout's order (train, then test); only names `keep` accepts. Names are
    'data_batch_1/00042'."""
    _, splits, _, label_keys = LAYOUTS[kind]
    names = class_names(meta, kind, labels)
    for batch_name, split in splits.items():
        batch = batches[batch_name]
        pixels = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        classes = batch[label_keys[labels][0]] if names else [None] * len(pixels)
        for i, (image, label) in enumerate(zip(pixels, classes)):
            name = f"{batch_name}/{i:05d}"
            if keep is None or keep(name):
                yield (name, np.ascontiguousarray(image), names[label] if names else None,
                       split)
