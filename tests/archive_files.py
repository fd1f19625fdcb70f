"""Inputs in real formats for tests of `dcgan-data prepare` (issue 34): zip/tar archives, CIFAR
python tarballs, LSUN LMDB exports, StyleGAN2-ADA zips, and photos as people have them. Small and
deterministic (same bytes every run); each writer returns its path and, where there is one, what
a correct reader must produce. `python tests/archive_files.py` checks them all."""

import bz2
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import tarfile
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageOps

CIFAR10_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()
# CIFAR-100's 20 superclasses (coarse labels, in order) with their 5 classes; the 100 fine
# label names are all the classes sorted (as in the original meta file and TFDS' label files).
CIFAR100_GROUPS = [(c, f.split()) for c, f in (g.split(":") for g in (
    "aquatic_mammals:beaver dolphin otter seal whale;fish:aquarium_fish flatfish ray shark trout;"
    "flowers:orchid poppy rose sunflower tulip;food_containers:bottle bowl can cup plate;"
    "fruit_and_vegetables:apple mushroom orange pear sweet_pepper;household_electrical_devices:"
    "clock keyboard lamp telephone television;household_furniture:bed chair couch table wardrobe;"
    "insects:bee beetle butterfly caterpillar cockroach;large_carnivores:bear leopard lion tiger "
    "wolf;large_man-made_outdoor_things:bridge castle house road skyscraper;"
    "large_natural_outdoor_scenes:cloud forest mountain plain sea;large_omnivores_and_herbivores:"
    "camel cattle chimpanzee elephant kangaroo;medium_mammals:fox porcupine possum raccoon skunk;"
    "non-insect_invertebrates:crab lobster snail spider worm;people:baby boy girl man woman;"
    "reptiles:crocodile dinosaur lizard snake turtle;small_mammals:hamster mouse rabbit shrew "
    "squirrel;trees:maple_tree oak_tree palm_tree pine_tree willow_tree;vehicles_1:bicycle bus "
    "motorcycle pickup_truck train;vehicles_2:lawn_mower rocket streetcar tank tractor"
).split(";"))]
CIFAR100_FINE = sorted(f for _, fs in CIFAR100_GROUPS for f in fs)
CIFAR100_COARSE = [c for c, _ in CIFAR100_GROUPS]
FINE_TO_COARSE = {CIFAR100_FINE.index(f): k for k, (_, fs) in enumerate(CIFAR100_GROUPS)
                  for f in fs}


def pattern(index, size=8, channels=3):
    """A size x size x channels uint8 image unique to `index` (< 256): a solid colour with its
    complement in the top-left block (size/4 rows, size/2 columns: flips and transposes show)."""
    colour = (np.array([97, 57, 23]) * index + [31, 101, 211]) % 256
    image = np.empty((size, size, 3), np.uint8)
    image[:], image[:size // 4, :size // 2] = colour, 255 - colour
    return image[..., :channels]


def image_bytes(array, fmt="PNG", **save_kwargs):
    """Encodes an HxW, HxWx1, HxWx3 or HxWx4 uint8 (or HxW uint16) array with Pillow."""
    array, out = np.asarray(array), io.BytesIO()
    Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array).save(
        out, fmt, **save_kwargs)
    return out.getvalue()


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def _with_folders(files, dirs):
    """[(name, bytes or None for a folder)], each folder ('a/') before the first file in it."""
    parts = [n.split("/") for n in files] if dirs else []
    folders = dict.fromkeys("/".join(p[:i]) + "/" for p in parts for i in range(1, len(p)))
    return [(d, None) for d in folders] + list(files.items())


def write_zip(path, files, dirs=True, compression=zipfile.ZIP_DEFLATED):
    """Writes {name inside: bytes} to a zip, with folder entries (as `zip -r` makes) if `dirs`."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in _with_folders(files, dirs):
            info = zipfile.ZipInfo(name, date_time=(2015, 1, 1, 0, 0, 0))
            info.external_attr = (0o40755 if data is None else 0o100644) << 16
            z.writestr(info, data or b"", zipfile.ZIP_STORED if data is None else compression)
    return path


def write_tar(path, files, compression="gz", dirs=True):
    """Writes {name inside: bytes} to a tar compressed with "gz", "bz2" or "" (none)."""
    with open(path, "wb") as raw:
        stream = {"gz": lambda: gzip.GzipFile("", "wb", 9, raw, mtime=0),
                  "bz2": lambda: bz2.BZ2File(raw, "wb"), "": lambda: raw}[compression]()
        with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name, data in _with_folders(files, dirs):
                info = tarfile.TarInfo(name.rstrip("/"))
                info.mtime, info.mode = 1244073600, 0o755 if data is None else 0o644
                info.type, info.size = (tarfile.DIRTYPE, 0) if data is None else (
                    tarfile.REGTYPE, len(data))
                tar.addfile(info, None if data is None else io.BytesIO(data))
        stream.close()
    return path


class _Py2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle did (protocol 2): bytes as Python 2 `str`, which load as str
    with encoding="latin1" and as bytes with encoding="bytes"; numpy under its 1.x module name."""
    dispatch = dict(pickle._Pickler.dispatch)

    def _save_str(self, obj):
        short = len(obj) < 256
        self.write((pickle.SHORT_BINSTRING + bytes([len(obj)]) if short
                    else pickle.BINSTRING + struct.pack("<i", len(obj))) + obj)
        self.memoize(obj)
    dispatch[bytes] = _save_str

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", "")
        if not module.startswith("numpy._core."):
            return super().save_global(obj, name)
        self.write(pickle.GLOBAL + f"numpy.core.{module[12:]}\n{obj.__name__}\n".encode())
        self.memoize(obj)


def _py2_pickle(obj):
    out = io.BytesIO()
    _Py2Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def _cifar(num, first, label, **labels):
    """(images, pickled batch): images pattern(first + i, 32); `labels` {key: ints}."""
    images = np.stack([pattern(first + i, 32) for i in range(num)])
    return images, _py2_pickle({
        b"batch_label": label.encode(), **{k.encode(): [int(x) for x in v] for k, v in
                                          labels.items()},
        b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(num, 3072),
        b"filenames": [f"pattern_s_{first + i:06d}.png".encode() for i in range(num)]})


def write_cifar10(path, num_train_per_batch=4, num_test=4):
    """Writes cifar-10-python.tar.gz (into `path` if a folder) as Toronto ships it:
    cifar-10-batches-py/ data_batch_1..5, test_batch, batches.meta, readme.html.

    Returns:
        (path, train_images Nx32x32x3 uint8, train_labels, test_images, test_labels): train in
        data_batch_1..5 order; train image i is pattern(i, 32), label i % 10; test image i
        is pattern(200 + i, 32), label (i + 3) % 10.
    """
    path = os.path.join(path, "cifar-10-python.tar.gz") if os.path.isdir(path) else path
    n, top, files, train = num_train_per_batch, "cifar-10-batches-py/", {}, []
    for b in range(5):
        images, files[f"{top}data_batch_{b + 1}"] = _cifar(
            n, b * n, f"training batch {b + 1} of 5", labels=np.arange(b * n, b * n + n) % 10)
        train.append(images)
    test, files[top + "test_batch"] = _cifar(
        num_test, 200, "testing batch 1 of 1", labels=(np.arange(num_test) + 3) % 10)
    files[top + "batches.meta"] = _py2_pickle({b"num_cases_per_batch": n, b"num_vis": 3072,
                                               b"label_names": [s.encode() for s in CIFAR10_NAMES]})
    files[top + "readme.html"] = b'<meta HTTP-EQUIV="REFRESH" content="0; url=cifar.html">\n'
    order = ["data_batch_4", "readme.html", "test_batch", "data_batch_3", "batches.meta",
             "data_batch_2", "data_batch_5", "data_batch_1"]  # the original's member order
    write_tar(path, {top + name: files[top + name] for name in order})
    return (path, np.concatenate(train), np.arange(5 * n) % 10, test,
            (np.arange(num_test) + 3) % 10)


def write_cifar100(path, num_train=10, num_test=5):
    """Writes cifar-100-python.tar.gz (into `path` if a folder) as Toronto ships it:
    cifar-100-python/ train, test, meta (fine and coarse label names).

    Returns:
        (path, train_images, train_fine, train_coarse, test_images, test_fine, test_coarse):
        train image i is pattern(i, 32) with fine label 7i % 100, test image i pattern(200 + i,
        32) with fine label (7i + 3) % 100; coarse labels follow CIFAR-100's grouping.
    """
    path = os.path.join(path, "cifar-100-python.tar.gz") if os.path.isdir(path) else path
    out, files = [path], {}
    for split, num, first, shift in (("train", num_train, 0, 0), ("test", num_test, 200, 3)):
        fine = (7 * np.arange(num) + shift) % 100
        coarse = np.array([FINE_TO_COARSE[f] for f in fine])
        images, files[f"cifar-100-python/{split}"] = _cifar(
            num, first, f"{split}ing batch 1 of 1", fine_labels=fine, coarse_labels=coarse)
        out += [images, fine, coarse]
    files["cifar-100-python/meta"] = _py2_pickle({
        b"fine_label_names": [s.encode() for s in CIFAR100_FINE],
        b"coarse_label_names": [s.encode() for s in CIFAR100_COARSE]})
    write_tar(path, files)
    return tuple(out)


def write_lmdb(path, images, fmt="JPEG", **save_kwargs):
    """Writes an LSUN-style LMDB export: folder `path` (name it like bedroom_train_lmdb) holding
    data.mdb and lock.mdb; keys 40 hex digits, values encoded images (JPEG, or fmt="WEBP").

    Returns:
        (path, keys, order): keys in the order a cursor reads them (sorted: LMDB keeps them so)
        and order[k], the index into `images` of the k-th record read.
    """
    import lmdb
    keys = [hashlib.sha1(f"lsun-{i}".encode()).hexdigest().encode() for i in range(len(images))]
    values = [image_bytes(im, fmt, **(save_kwargs or {"quality": 90})) for im in images]
    env = lmdb.open(str(path), map_size=(1 << 24) + 2 * sum(map(len, values)))
    with env.begin(write=True) as txn:
        for key, value in zip(keys, values):
            txn.put(key, value)
    env.close()
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return path, [keys[i] for i in order], order


def write_stylegan_zip(path, images, labels=None):
    """Writes a dataset zip as StyleGAN2-ADA's dataset_tool.py does: stored (uncompressed) zip of
    PNGs (compress_level=0, "L" or "RGB") named 00000/img00000000.png, 1000 a folder, no folder
    entries, then dataset.json: {"labels": [[name, int], ...]} or {"labels": null}."""
    names = [f"{i:08d}"[:5] + f"/img{i:08d}.png" for i in range(len(images))]
    files = {n: image_bytes(im, "PNG", compress_level=0) for n, im in zip(names, images)}
    files["dataset.json"] = json.dumps({"labels": None if labels is None else [
        [n, int(label)] for n, label in zip(names, labels)]}).encode()
    return write_zip(path, files, dirs=False, compression=zipfile.ZIP_STORED)


# EXIF orientation -> what turns the stored pixels upright (as PIL.ImageOps.exif_transpose).
ORIENT = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1],
          4: lambda a: a[::-1], 5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
          7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}


def write_exif_rotated_jpeg(path, orientation=6):
    """A 16x24 (HxW) upright scene, blue with a red 8x8 block top-left and a green one right of
    it, stored turned and tagged with EXIF `orientation` (6: turn 90 degrees clockwise to show).

    Returns:
        (path, upright 16x24x3 uint8): Pillow's decoded pixels turned upright (by exif_transpose
        and, checked equal, by numpy); within 8 of the drawn colours.
    """
    scene = np.full((16, 24, 3), (40, 60, 200), np.uint8)
    scene[:8, :8], scene[:8, 8:16] = (220, 30, 30), (30, 200, 40)
    stored = np.ascontiguousarray(ORIENT[{6: 8, 8: 6}.get(orientation, orientation)](scene))
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, "JPEG", quality=95, subsampling=0, exif=exif)
    with Image.open(path) as im:
        upright = np.asarray(ImageOps.exif_transpose(im))
        assert np.array_equal(upright, ORIENT[orientation](np.asarray(im)))
    assert np.abs(upright.astype(int) - scene).max() <= 8
    return path, upright


def _png(width, height, bit_depth, colour_type, rows):
    """PNG bytes written by hand; `rows` yields each row's raw bytes (filter 0 is added)."""
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(b"\x00" + row) for row in rows) + z.flush()
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data)))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def write_png16(path, grey=True):
    """A 16x16 16-bit PNG: grey (Pillow's "I;16") or RGB (by hand: Pillow cannot write it);
    values 256k + 128 for k = 0..255, but 0 top-left and 65535 bottom-right.

    Returns:
        (path, values uint16 16x16 or 16x16x3, expected uint8 = values >> 8): for these values
        round(values / 257) is the same, so either scaling passes; clipping to 255 does not.
    """
    v = (np.arange(256, dtype=np.uint16) * 256 + 128).reshape(16, 16)
    v[0, 0], v[-1, -1] = 0, 65535
    if grey:
        Image.fromarray(v).save(path, "PNG")
    else:
        v = np.stack([v, v.T, v[::-1]], -1)
        _write(path, _png(16, 16, 16, 2, (row.astype(">u2").tobytes() for row in v)))
    assert np.array_equal(v >> 8, np.round(v / 257))
    return path, v, (v >> 8).astype(np.uint8)


def write_cmyk_jpeg(path):
    """A 16x32 CMYK JPEG (Pillow writes Adobe's inverted CMYK with an APP14 marker) of 8x8
    patches: cyan, magenta, yellow, black; then white, red, green, blue (two inks each).
    Returns (path, rgb 16x32x3 uint8): the colours they should become (JPEG: allow a few)."""
    cmyk = np.array([(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255),
                     (0, 0, 0, 0), (0, 255, 255, 0), (255, 0, 255, 0), (255, 255, 0, 0)])
    grid = cmyk.reshape(2, 4, 4).repeat(8, 0).repeat(8, 1)
    Image.fromarray(grid.astype(np.uint8), "CMYK").save(path, "JPEG", quality=95)
    return path, ((255 - grid[..., :3]) * (255 - grid[..., 3:]) // 255).astype(np.uint8)


def write_palette_png(path, transparent=True):
    """An 8x8 palette ("P") PNG of 4x4 quadrants, indices 0..3: magenta (transparent by tRNS if
    `transparent`), red, green, blue. Returns (path, rgba 8x8x4 uint8)."""
    palette = np.array([(255, 0, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255)], np.uint8)
    index = np.array([[0, 1], [2, 3]], np.uint8).repeat(4, 0).repeat(4, 1)
    im = Image.fromarray(index, "P")
    im.putpalette(palette.tobytes())
    im.save(path, "PNG", **({"transparency": 0} if transparent else {}))
    alpha = np.where((index == 0) & transparent, 0, 255).astype(np.uint8)
    return path, np.dstack([palette[index], alpha])


def write_rgba_png(path):
    """An 8x8 RGBA PNG of pattern(5), alpha by column 0, 36, ..., 216, 255; the fully transparent
    column hides pure red. Returns (path, rgba 8x8x4 uint8)."""
    rgba = np.dstack([pattern(5), np.tile(np.r_[0:252:36, 255].astype(np.uint8), (8, 1))])
    rgba[:, 0, :3] = (255, 0, 0)
    return _write(path, image_bytes(rgba)), rgba


def write_la_png(path):
    """An 8x8 grey + alpha ("LA") PNG: grey 0, 4, ..., 252 row-major; alpha 0 on the top row,
    128 on the second, 255 below. Returns (path, la 8x8x2 uint8)."""
    la = np.dstack([np.arange(0, 256, 4).reshape(8, 8), np.full((8, 8), 255)]).astype(np.uint8)
    la[0, :, 1], la[1, :, 1] = 0, 128
    Image.fromarray(la, "LA").save(path, "PNG")
    return path, la


def write_bomb_png(path, width=20000, height=20000):
    """A valid, complete, all-black 1-bit PNG of width x height: the default 400M pixels is past
    twice Pillow's MAX_IMAGE_PIXELS (Image.open raises DecompressionBombError; between once and
    twice it only warns), yet the file is ~50 KB, written in ~0.2 s. Returns the path."""
    row = bytes((width + 7) // 8)
    return _write(path, _png(width, height, 1, 0, (row for _ in range(height))))


def write_duplicates(folder):
    """A folder of distinct images (img0-2.png, img3.jpg) and copies of some of them.

    Returns:
        (folder, {"identical": {copy: original}, "same_pixels": {copy: original}, "distinct":
        [names]}), names relative: "identical" are byte-identical copies (one in sub/, one
        .jpeg of a .jpg); "same_pixels" is img2 re-saved with compress_level 0 instead of 9:
        other bytes, same pixels (not an exact duplicate).
    """
    os.makedirs(os.path.join(folder, "sub"), exist_ok=True)
    distinct = ["img0.png", "img1.png", "img2.png", "img3.jpg"]
    for i, name in enumerate(distinct):
        _write(os.path.join(folder, name), image_bytes(pattern(i, 16), **(
            {"fmt": "JPEG", "quality": 90} if name.endswith("jpg") else {"compress_level": 9})))
    identical = {"copy_of_img1.png": "img1.png", "sub/img0_again.png": "img0.png",
                 "img3_copy.jpeg": "img3.jpg"}
    for copy, original in identical.items():
        shutil.copyfile(os.path.join(folder, original), os.path.join(folder, copy))
    _write(os.path.join(folder, "img2_recompressed.png"),
           image_bytes(pattern(2, 16), compress_level=0))
    return folder, {"identical": identical, "distinct": distinct,
                    "same_pixels": {"img2_recompressed.png": "img2.png"}}


if __name__ == "__main__":  # Self-check: write each into a temp dir, read back independently.
    import pathlib
    import tempfile
    import time
    import warnings

    import lmdb
    d = tempfile.mkdtemp()
    p = lambda name: os.path.join(d, name)  # noqa: E731
    read = lambda path: pathlib.Path(path).read_bytes()  # noqa: E731
    pil = lambda path: np.asarray(Image.open(path))  # noqa: E731
    files = {"a/x.png": image_bytes(pattern(1)), "a/b/y.jpg": image_bytes(pattern(2), "JPEG"),
             "z.png": image_bytes(pattern(3, 8, 1))}
    with zipfile.ZipFile(write_zip(p("t.zip"), files)) as z:
        assert z.namelist() == ["a/", "a/b/", "a/x.png", "a/b/y.jpg", "z.png"]
        assert np.array_equal(pil(z.open("a/x.png")), pattern(1))
    for comp in ("gz", "bz2", ""):
        with tarfile.open(write_tar(p(f"t.tar.{comp}"), files, comp)) as tar:
            assert tar.getnames() == ["a", "a/b", "a/x.png", "a/b/y.jpg", "z.png"]
            assert tar.extractfile("a/b/y.jpg").read() == files["a/b/y.jpg"]
    assert read(write_tar(p("again.tgz"), files)) == read(p("t.tar.gz"))  # deterministic

    out, train, labels, test, test_labels = write_cifar10(d)
    with tarfile.open(out, "r:gz") as tar:  # read as StyleGAN2-ADA, torchvision, Keras do
        top = "cifar-10-batches-py/"
        load = lambda name, **kw: pickle.load(tar.extractfile(top + name), **kw)  # noqa: E731
        assert tar.getnames()[:2] == [top[:-1], top + "data_batch_4"] and len(tar.getnames()) == 9
        raw = tar.extractfile(top + "data_batch_1").read()
        assert raw[:2] == b"\x80\x02" and b"cnumpy.core.multiarray\n_reconstruct\n" in raw
        batches = [load(f"data_batch_{b}", encoding="latin1") for b in range(1, 6)]
        assert set(batches[0]) == {"batch_label", "labels", "data", "filenames"}
        data = np.concatenate([b["data"] for b in batches])
        assert np.array_equal(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), train)
        assert np.array_equal(data[3, :1024], train[3, :, :, 0].ravel())  # red plane first
        assert sum((b["labels"] for b in batches), []) == labels.tolist() == list(range(10)) * 2
        t, meta = load("test_batch", encoding="bytes"), load("batches.meta", encoding="bytes")
        assert t[b"labels"] == test_labels.tolist() and t[b"data"].shape == (4, 3072)
        assert t[b"batch_label"] == b"testing batch 1 of 1" and t[b"data"].dtype == np.uint8
        assert meta[b"label_names"][0] == b"airplane" and meta[b"num_vis"] == 3072
        assert load("batches.meta")["label_names"][9] == "truck"  # pickle's default encoding
    out, train, fine, coarse, test, test_fine, test_coarse = write_cifar100(d)
    with tarfile.open(out) as tar:
        tr = pickle.load(tar.extractfile("cifar-100-python/train"), encoding="latin1")
        meta = pickle.load(tar.extractfile("cifar-100-python/meta"), encoding="bytes")
        assert np.array_equal(tr["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), train)
        assert tr["fine_labels"] == fine.tolist() and tr["coarse_labels"] == coarse.tolist()
        fine_names, coarse_names = meta[b"fine_label_names"], meta[b"coarse_label_names"]
        assert len(set(fine_names)) == 100 and len(coarse_names) == 20 and test_fine[0] == 3
        assert fine_names[3] == b"bear" and coarse_names[test_coarse[0]] == b"large_carnivores"

    images = [pattern(i, 16) for i in range(6)]
    path, keys, order = write_lmdb(p("bedroom_train_lmdb"), images)
    assert sorted(os.listdir(path)) == ["data.mdb", "lock.mdb"]
    with lmdb.open(path, readonly=True, lock=False).begin() as txn:  # as LSUN's data.py reads
        assert txn.stat()["entries"] == 6
        for k, (key, value) in enumerate(txn.cursor()):
            assert key == keys[k] and len(key) == 40 and value[:2] == b"\xff\xd8"
            got = pil(io.BytesIO(value)).astype(int)  # JPEG: the nearest image is the right one
            assert np.argmin([np.abs(got - im).mean() for im in images]) == order[k]

    path = write_stylegan_zip(p("ds.zip"), [pattern(i, 8, 1) for i in range(1003)],
                              np.arange(1003) % 3)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert names[0] == "00000/img00000000.png" and names[1000] == "00001/img00001000.png"
        assert names[-1] == "dataset.json" and z.getinfo(names[5]).compress_type == 0
        assert json.loads(z.read("dataset.json"))["labels"][1001] == [names[1001], 2]
        im = Image.open(z.open(names[7]))
        assert im.mode == "L" and np.array_equal(np.asarray(im), pattern(7, 8, 1)[..., 0])
    with zipfile.ZipFile(write_stylegan_zip(p("unlabelled.zip"), images[:2])) as z:
        assert z.read("dataset.json") == b'{"labels": null}'

    print("Pillow", Image.__version__, "lmdb", lmdb.__version__, "numpy", np.__version__)
    for o in range(1, 9):
        path, upright = write_exif_rotated_jpeg(p(f"exif{o}.jpg"), o)
        with Image.open(path) as im:
            assert im.getexif()[0x0112] == o and im.size == ((16, 24) if o >= 5 else (24, 16))
    for grey in (True, False):
        path, values, expected = write_png16(p(f"png16_{grey}.png"), grey)
        with Image.open(path) as im:
            print(f"16-bit {'grey' if grey else 'RGB'} PNG opens as {im.mode};", end=" ")
            if grey:
                assert im.mode == "I;16" and np.array_equal(np.asarray(im), values)
                print("convert('L') clips: row 0", np.asarray(im.convert("L"))[0, :4],
                      "where >> 8 gives", expected[0, :4])
            else:  # Pillow keeps the high byte of each sample
                assert im.mode == "RGB" and np.array_equal(np.asarray(im), expected)
                print("its pixels are values >> 8")
    path, rgb = write_cmyk_jpeg(p("cmyk.jpg"))
    with Image.open(path) as im:
        err = np.abs(np.asarray(im.convert("RGB")).astype(int) - rgb).max()
        print("CMYK JPEG opens as", im.mode, "adobe", im.info["adobe"], "convert('RGB') error", err)
        assert im.mode == "CMYK" and err <= 6
    path, rgba = write_palette_png(p("palette.png"))
    with Image.open(path) as im:
        assert im.mode == "P" and im.info["transparency"] == 0
        assert np.array_equal(np.asarray(im.convert("RGBA")), rgba)
        print("P+tRNS: convert('RGB') gives the transparent index its palette colour",
              np.asarray(im.convert("RGB"))[0, 0])
    path, rgba = write_palette_png(p("opaque.png"), transparent=False)
    assert np.array_equal(np.asarray(Image.open(path).convert("RGBA")), rgba)
    path, rgba = write_rgba_png(p("rgba.png"))
    with Image.open(path) as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im), rgba)
        print("RGBA: convert('RGB') drops alpha:", rgba[0, 0], "->",
              np.asarray(im.convert("RGB"))[0, 0])
    path, la = write_la_png(p("la.png"))
    with Image.open(path) as im:
        assert im.mode == "LA" and np.array_equal(np.asarray(im), la)
        print("LA: convert('RGB') drops alpha", la[0, 1], "->", np.asarray(im.convert("RGB"))[0, 1])
    start = time.time()
    path = write_bomb_png(p("bomb.png"))
    took, size = time.time() - start, os.path.getsize(path)
    assert took < 1 and size < 1 << 20, (took, size)
    assert len(zlib.decompress(read(path)[41:-16])) == 20000 * 2501  # IDAT complete
    try:
        Image.open(path)
        raise AssertionError("bomb opened")
    except Image.DecompressionBombError as e:
        print(f"bomb: {size} bytes in {took:.2f} s; Image.open raises DecompressionBombError: {e}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Image.open(write_bomb_png(p("half.png"), 10000, 10000)) as im:
            print("10000x10000: opens as", im.mode, im.size, "with", caught[0].category.__name__)
    folder, info = write_duplicates(p("dups"))
    digest = lambda name: hashlib.sha1(read(os.path.join(folder, name))).digest()  # noqa: E731
    assert len({digest(n) for n in info["distinct"] + ["img2_recompressed.png"]}) == 5
    assert all(digest(c) == digest(o) for c, o in info["identical"].items())
    assert np.array_equal(pil(p("dups/img2_recompressed.png")), pil(p("dups/img2.png")))
    shutil.rmtree(d)
    print("all archive_files checks passed")
