"""Where `dcgan-data prepare` reads images from: the files people download, read in place.

    READERS = {"folder": ..., "zip": ..., "stylegan_zip": ..., "tar": ..., "lmdb": ...,
               "cifar10": ..., "cifar100": ...}
    reader = open_source(path, labels)      # the kind is recognised from the path itself
    for item in reader.items(keep=None):   # Item(name, data, label, split)

- folder: png, jpg/jpeg, bmp, webp, gif, tif/tiff under it, recursively, in sorted path order.
- zip (`img_align_celeba.zip`) and tar, tar.gz, tar.bz2, tar.xz: the same images inside,
  nested folders and all, read without unpacking (a tar in its own order, as it streams).
  A single folder wrapping everything (how zipping a folder comes out) is not a level.
- stylegan_zip: a zip with StyleGAN2-ADA's dataset.json (its dataset_tool.py's output);
  the labels in it are kept.
- lmdb: LSUN's exports (`bedroom_train_lmdb/`, data.mdb inside: key -> encoded image), with
  the `lmdb` package (`pip install "dcgan-dist[lmdb]"`).
- cifar10, cifar100: `cifar-10-python.tar.gz` / `cifar-100-python.tar.gz` as downloaded, its
  test batch as the held-out split (`cifar`).

--labels picks an item's class: `subfolders` (the first-level folder inside the source),
the source's own (CIFAR's, dataset.json's: the default where there are some; CIFAR-100's
`fine` or `coarse`), or `none`.
"""

import dataclasses
import json
import os
import tarfile
import zipfile
import zlib

import numpy as np

from dcgan_dist.data import cifar
from dcgan_dist.errors import UserError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
MAX_FILE_BYTES = 512 * 2**20  # one archived file decompressing past this is refused (a bomb)
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclasses.dataclass(frozen=True)
class Item:
    """One image of a source: `name` says where (a path inside it, an LMDB key), `data` is
    its encoded bytes or (CIFAR) its HxWx3 uint8 array, `label` its class name when the
    source labels it, `split` the source's own split ('train', 'test') when it has them."""
    name: str
    data: bytes | np.ndarray
    label: str | None = None
    split: str | None = None


def _is_image(name):
    base = name.rsplit("/", 1)[-1]
    # macOS zips carry "__MACOSX/._photo.jpg" resource forks beside each image.
    return (name.lower().endswith(EXTENSIONS) and not base.startswith("._")
            and "__MACOSX/" not in name)


def _capped(data, name):
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{name} is over {MAX_FILE_BYTES // 2**20} MB (a bomb, if an archive "
                        "says otherwise); remove it from the source")
    return data


def _read_member(open_fn, name):
    """A member's bytes, at most MAX_FILE_BYTES; b'' (skipped as unreadable, and counted) when
    the member itself is damaged: a bad CRC, a cut stream, encrypted."""
    try:
        with open_fn() as f:
            return _capped(f.read(MAX_FILE_BYTES + 1), name)
    except (zipfile.BadZipFile, zlib.error, RuntimeError, EOFError, OSError):
        return b""


class _Reader:
    kind = None
    own_labels = ()  # the --labels values the source itself holds, its default first
    folders = True   # its images sit in folders: --labels=subfolders applies

    def __init__(self, path, labels):
        self.path = path
        allowed = (*(("subfolders",) if self.folders else ()), *self.own_labels, "none")
        if labels is None:
            labels = self.own_labels[0] if self.own_labels else "none"
        if labels not in allowed:
            raise UserError(f"--labels={labels} does not apply to {os.path.basename(path)} (a "
                            f"{self.kind}); use --labels={'|'.join(allowed)}, or leave it out")
        self.labels = labels

    def names(self):
        """Every image's name, in the order `items` yields them; None when only reading the
        whole source tells (a tar streams)."""
        return None

    def count(self):
        """How many images `items` yields, when known before reading them (for an ETA)."""
        names = self.names()
        return None if names is None else len(names)

    def class_names(self):
        """The source's own class names in label order (after `items` ran), or None: then
        the classes are the labels seen, sorted."""
        return None


class FolderReader(_Reader):
    kind = "folder"

    def __init__(self, path, labels):
        super().__init__(path, labels)
        found = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            found += [os.path.join(root, f) for f in files if _is_image(f)]
        self._names = sorted(os.path.relpath(p, path).replace(os.sep, "/") for p in found)

    def names(self):
        return self._names

    def items(self, keep=None):
        for name in self._names:
            if keep is None or keep(name):
                path = os.path.join(self.path, name)
                yield Item(name, _read_member(lambda: open(path, "rb"), name))


class ZipReader(_Reader):
    kind = "zip"
    json_labels = {}

    def __init__(self, path, labels):
        super().__init__(path, labels)
        with zipfile.ZipFile(path) as archive:
            self._names = sorted(n for n in archive.namelist() if _is_image(n))

    def names(self):
        return self._names

    def items(self, keep=None):
        with zipfile.ZipFile(self.path) as archive:
            for name in self._names:
                if keep is None or keep(name):
                    data = _read_member(lambda: archive.open(name), name)
                    yield Item(name, data, self.json_labels.get(name) if self.labels ==
                               "dataset_json" else None)


class StyleGanZipReader(ZipReader):
    """StyleGAN2-ADA's dataset zip: its dataset.json's labels are integers, named '0', '1'..."""

    kind = "stylegan_zip"
    own_labels = ("dataset_json",)

    def __init__(self, path, labels):
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("dataset.json"))
        self.json_labels = {n: str(v) for n, v in (meta.get("labels") or [])}
        if labels is None and not self.json_labels:
            labels = "none"  # dataset.json says {"labels": null}
        super().__init__(path, labels)
        if self.labels == "dataset_json" and not self.json_labels:
            raise UserError(f"{path}'s dataset.json has no labels; leave --labels out")
        unlabelled = [n for n in self._names if n not in self.json_labels]
        if self.labels == "dataset_json" and unlabelled:
            raise UserError(f"{path}'s dataset.json labels {len(self.json_labels)} images but "
                            f"not {len(unlabelled)} others ({', '.join(unlabelled[:3])}); add "
                            "their labels, or pass --labels=none to prepare it without labels")

    def class_names(self):  # dataset.json's labels are integers: 0, 1, ..., 10, not '10' < '2'
        if self.labels == "dataset_json":
            return [str(v) for v in range(max(map(int, self.json_labels.values())) + 1)]
        return None


class TarReader(_Reader):
    kind = "tar"

    def items(self, keep=None):
        done = 0
        try:
            # Not the stream mode ("r|*"): it takes a .tar.gz cut short for a whole one. Read
            # in order, this seeks only forward.
            with tarfile.open(self.path, "r:*") as archive:
                for member in archive:
                    name = member.name.removeprefix("./")  # `tar czf x.tgz ./photos`
                    if member.isfile() and _is_image(name) and (keep is None or keep(name)):
                        yield Item(name, _read_member(lambda: archive.extractfile(member),
                                                      name))
                        done += 1
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise UserError(f"{self.path} is cut short or damaged after {done} images "
                            f"({type(e).__name__}: {e}); download or write it again") from e


class LmdbReader(_Reader):
    """LSUN's export: one LMDB environment, each value an encoded image under its key."""

    kind = "lmdb"
    folders = False

    def _open(self):
        try:
            import lmdb
        except ImportError as e:
            raise UserError(f"{self.path} is an LMDB database, which needs the lmdb package: "
                            'pip install "dcgan-dist[lmdb]" (or: pip install lmdb)') from e
        return lmdb.open(self.path, readonly=True, lock=False, readahead=False,
                         max_readers=1, subdir=os.path.isdir(self.path))

    def count(self):
        env = self._open()
        try:
            return env.stat()["entries"]
        finally:
            env.close()

    def items(self, keep=None):
        env = self._open()
        try:
            with env.begin(write=False, buffers=True) as txn:
                # Keys first: a pass that keeps a few images (the held-out split) reads only
                # those values, not all of LSUN's 43 GB.
                for key in txn.cursor().iternext(values=False):
                    name = bytes(key).decode("latin-1")
                    if keep is None or keep(name):
                        yield Item(name, _capped(bytes(txn.get(bytes(key))), name))
        finally:
            env.close()


class CifarReader(_Reader):
    """CIFAR's python tarball: arrays, not files; its own train and test batches."""

    folders = False

    _class_names = None

    def items(self, keep=None):
        batches, meta = cifar.load(self.path, self.kind)
        self._class_names = cifar.class_names(meta, self.kind, self.labels)
        for name, array, label, split in cifar.images(batches, meta, self.kind, self.labels,
                                                      keep):
            yield Item(name, array, label, split)

    def class_names(self):
        return self._class_names


class Cifar10Reader(CifarReader):
    kind = "cifar10"
    own_labels = ("cifar",)


class Cifar100Reader(CifarReader):
    kind = "cifar100"
    own_labels = ("fine", "coarse")


READERS = {r.kind: r for r in (FolderReader, ZipReader, StyleGanZipReader, TarReader,
                               LmdbReader, Cifar10Reader, Cifar100Reader)}


def kind_of(path):
    """Which READERS entry reads `path`, from what it is (not only its name)."""
    if "://" in path:
        raise UserError(f"--source={path} is not on this machine; copy it here first (e.g. "
                        "gcloud storage cp), prepare reads sources in place from local disk")
    if not os.path.exists(path):
        raise UserError(f"--source={path} does not exist; pass the folder or archive holding "
                        "your images")
    lmdb_file = os.path.join(path, "data.mdb") if os.path.isdir(path) else path
    if os.path.basename(lmdb_file) == "data.mdb" and os.path.isfile(lmdb_file):
        return "lmdb"
    if os.path.isdir(path):
        return "folder"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "stylegan_zip" if "dataset.json" in archive.namelist() else "zip"
    if path.lower().endswith(_TAR_SUFFIXES) or tarfile.is_tarfile(path):
        return cifar.kind_of_tar(path) or "tar"
    raise UserError(f"--source={path} is neither a folder nor an archive prepare reads (zip, "
                    "tar, tar.gz, an LMDB folder, CIFAR's python tarball); unpack it or point "
                    "--source at the folder of images")


def open_source(path, labels=None):
    """The reader of `path` (see READERS), labelling as --labels says."""
    kind = kind_of(path)
    if kind == "lmdb" and os.path.isfile(path):
        path = os.path.dirname(path) or "."
    return READERS[kind](path, labels)
