"""`dcgan-data prepare images`: the files people download (zip, tar, LMDB, CIFAR, StyleGAN2-ADA
zips) read in place, the held-out split, and a prepare that is complete or absent."""

import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import archive_files as af
from dcgan_dist.data import prepare, readers, splits, writer
from dcgan_dist.errors import UserError
from dcgan_dist.programs import data as data_cli
from helpers import last_line, run_in_process, snapshot


def _load(data_dir, name, split="train"):
    """[(image, label or None)] of a prepared split, in stored order."""
    ds = tfds.load(name, split=split, data_dir=str(data_dir), download=False,
                   shuffle_files=False)
    return [(ex["image"], ex.get("label")) for ex in tfds.as_numpy(ds)]


def _class_files(n_per_class=3, classes=("cat", "dog")):
    """{"pets/cat/003.png": bytes}: classes in first-level folders under one wrapping folder."""
    return {f"pets/{c}/{i:03d}.png": af.image_bytes(af.pattern(10 * k + i, 8))
            for k, c in enumerate(classes) for i in range(n_per_class)}


@pytest.mark.parametrize("kind, write", [
    ("zip", lambda path, files: af.write_zip(path + ".zip", files)),
    ("tar", lambda path, files: af.write_tar(path + ".tar.gz", files)),
    ("tar", lambda path, files: af.write_tar(path + ".tar.bz2", files, compression="bz2")),
])
def test_archives_prepare_in_place_with_subfolder_labels(kind, write, tmp_path):
    files = _class_files()
    files = {("./" if kind == "tar" else "") + n: data for n, data in files.items()}
    files["pets/notes.txt"] = b"not an image"
    files["__MACOSX/pets/cat/._000.png"] = b"\x00\x05\x16\x07 resource fork"
    source = write(str(tmp_path / "pets"), files)
    assert readers.kind_of(source) == kind
    summary = prepare.prepare(source, "pets", str(tmp_path / "tfds"), labels="subfolders",
                              holdout=0)
    assert "prepared 6 training images at 8x8x3" in summary and "2 classes: cat, dog" in summary
    stored = _load(tmp_path / "tfds", "pets")
    expected = {(af.pattern(10 * k + i, 8).tobytes(), k) for k in range(2) for i in range(3)}
    assert {(image.tobytes(), int(label)) for image, label in stored} == expected


def test_cifar10_tarball_keeps_labels_and_its_test_batch(tmp_path):
    path, train, train_labels, test, test_labels = af.write_cifar10(str(tmp_path))
    assert readers.kind_of(path) == "cifar10"
    summary = prepare.prepare(path, "cifar_files", str(tmp_path / "tfds"))
    assert summary.startswith(f"prepared {len(train)} training images at 32x32x3")
    assert f"{len(test)} held out as split test" in summary
    info = tfds.builder("cifar_files", data_dir=str(tmp_path / "tfds")).info
    assert info.features["label"].names == af.CIFAR10_NAMES
    for split, images, labels in [("train", train, train_labels), ("test", test, test_labels)]:
        stored = _load(tmp_path / "tfds", "cifar_files", split)
        np.testing.assert_array_equal(np.stack([s[0] for s in stored]), images)
        assert [int(s[1]) for s in stored] == list(labels)


@pytest.mark.parametrize("labels", ["fine", "coarse"])
def test_cifar100_fine_or_coarse(labels, tmp_path):
    path, train, fine, coarse, *_ = af.write_cifar100(str(tmp_path))
    prepare.prepare(path, "c100", str(tmp_path / "tfds"), labels=labels)
    names = af.CIFAR100_FINE if labels == "fine" else af.CIFAR100_COARSE
    stored = _load(tmp_path / "tfds", "c100")
    assert [names[int(s[1])] for s in stored] == [
        names[k] for k in (fine if labels == "fine" else coarse)]
    np.testing.assert_array_equal(stored[3][0], train[3])


def test_a_cifar_batch_that_would_run_code_is_refused(tmp_path):
    import io
    import pickle
    import tarfile

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in ("cifar-10-batches-py", "cifar-10-batches-py/batches.meta"):
            data = pickle.dumps(Evil(), protocol=2)
            info = tarfile.TarInfo(name)
            if name.endswith("meta"):
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
    with pytest.raises(UserError, match="batches.meta is not a CIFAR batch"):
        prepare.prepare(str(path), "evil", str(tmp_path / "tfds"))
    assert not (tmp_path / "ran").exists()


def test_lsun_lmdb_export(tmp_path):
    images = [af.pattern(i, 16) for i in range(5)]
    path, keys, order = af.write_lmdb(str(tmp_path / "bedroom_train_lmdb"), images)
    assert readers.kind_of(path) == readers.kind_of(os.path.join(path, "data.mdb")) == "lmdb"
    summary = prepare.prepare(path, "bedrooms", str(tmp_path / "tfds"), holdout=0)
    assert "prepared 5 training images at 16x16x3" in summary
    stored = [s[0].astype(int) for s in _load(tmp_path / "tfds", "bedrooms")]
    # JPEG: each stored image is nearest to the one its key holds, in LMDB's key order.
    nearest = [int(np.argmin([np.abs(s - im).mean() for im in images])) for s in stored]
    assert nearest == order


def test_lmdb_without_the_package_names_the_extra(tmp_path, monkeypatch, capsys):
    path, _, _ = af.write_lmdb(str(tmp_path / "church_lmdb"), [af.pattern(0)])
    monkeypatch.setitem(sys.modules, "lmdb", None)  # import lmdb -> ImportError
    code, _, err = run_in_process(data_cli.run, "dcgan-data", [
        "prepare", "images", f"--source={path}", "--name=church",
        f"--data_dir={tmp_path / 'tfds'}"], capsys)
    assert code == 2 and 'pip install "dcgan-dist[lmdb]"' in last_line(err)
    assert not (tmp_path / "tfds" / "church").exists()


def test_stylegan_dataset_zip_keeps_its_integer_labels_in_order(tmp_path):
    images = [af.pattern(i, 8) for i in range(12)]
    labels = [i % 12 for i in range(12)]  # 0..11: '10' and '11' sort after '9'
    path = af.write_stylegan_zip(str(tmp_path / "ds.zip"), images, labels)
    assert readers.kind_of(path) == "stylegan_zip"
    prepare.prepare(path, "sg", str(tmp_path / "tfds"), holdout=0)
    info = tfds.builder("sg", data_dir=str(tmp_path / "tfds")).info
    assert info.features["label"].names == [str(k) for k in range(12)]
    stored = _load(tmp_path / "tfds", "sg")
    assert [int(s[1]) for s in stored] == labels
    np.testing.assert_array_equal(stored[11][0], images[11])
    partly = af.write_stylegan_zip(str(tmp_path / "partly.zip"), images, labels)
    with zipfile.ZipFile(partly, "a") as archive:
        archive.writestr("00000/img00000099.png", af.image_bytes(af.pattern(99, 8)))
    with pytest.raises(UserError, match=r"labels 12 images but not 1 others \(00000/img00000099"
                                        r".png\); add their labels, or pass --labels=none"):
        prepare.prepare(partly, "sg_partly", str(tmp_path / "tfds"))
    unlabelled = af.write_stylegan_zip(str(tmp_path / "plain.zip"), images[:3])
    prepare.prepare(unlabelled, "sg_plain", str(tmp_path / "tfds"), holdout=0)
    assert "label" not in tfds.builder("sg_plain", data_dir=str(tmp_path / "tfds")).info.features


def _held_out(data_dir, name):
    return {image.tobytes() for image, _ in _load(data_dir, name, "test")}


def test_holdout_default_share_count_off_and_the_same_whatever_the_order(tmp_path):
    files = {f"img/{i:03d}.png": af.image_bytes(af.pattern(i, 8)) for i in range(60)}
    folder = tmp_path / "folder"
    for name, data in files.items():
        os.makedirs(folder / os.path.dirname(name), exist_ok=True)
        (folder / name).write_bytes(data)
    data_dir = tmp_path / "tfds"
    summary = prepare.prepare(str(folder / "img"), "default", str(data_dir))
    assert "prepared 54 training images" in summary and "6 held out as split test" in summary
    train = {image.tobytes() for image, _ in _load(data_dir, "default")}
    assert len(train) == 54 and not train & _held_out(data_dir, "default")
    # A tar lists them in another order: the same six are held out (chosen by name).
    tar = af.write_tar(str(tmp_path / "img.tar"), dict(reversed(list(files.items()))),
                       compression="")
    prepare.prepare(tar, "from_tar", str(data_dir))
    assert _held_out(data_dir, "from_tar") == _held_out(data_dir, "default")
    assert "10 held out" in prepare.prepare(str(folder), "count", str(data_dir), holdout=10)
    assert "no held-out split" in prepare.prepare(str(folder), "none", str(data_dir), holdout=0)
    assert "test" not in tfds.builder("none", data_dir=str(data_dir)).info.splits
    assert splits.holdout_count(None, 1_000_000) == splits.HOLDOUT_CAP == 10_000
    assert splits.holdout_count(None, 49) == 0  # a small folder keeps every image to train
    for holdout in (60, 1, 0.01, 2.5, -3):
        with pytest.raises(UserError, match=f"--holdout={holdout:g} of 60 images is not a "
                                            "held-out split of 2 images or more"):
            prepare.prepare(str(folder), "bad", str(data_dir), holdout=holdout)


def test_interrupted_prepare_never_looks_complete_and_the_rerun_starts_over(tmp_path):
    """A prepare killed while it writes leaves no dataset TFDS would read; the next one
    removes its staging folder and finishes."""
    source = tmp_path / "img"
    source.mkdir()
    for i in range(30):
        (source / f"{i:02d}.png").write_bytes(af.image_bytes(af.pattern(i, 8)))
    data_dir = tmp_path / "tfds"
    slow = (  # decodes one image every 0.3 s, so the kill lands mid-write
        "import sys, time; sys.argv = sys.argv[:1] + sys.argv[2:]\n"
        "from dcgan_dist.data import photos\n"
        "decode = photos.decode\n"
        "photos.decode = lambda *a, **k: (time.sleep(0.3), decode(*a, **k))[1]\n"
        "from dcgan_dist.programs import data\n"
        "data.run()\n")
    process = subprocess.Popen([sys.executable, "-c", slow, "x", "prepare", "images",
                                f"--source={source}", "--name=slow", f"--data_dir={data_dir}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(data_dir.glob(".slow-staging-*")):
        assert process.poll() is None and time.monotonic() < deadline, "never started writing"
        time.sleep(0.1)
    time.sleep(1.0)  # a few images into the write (30 take 4.5 s on two threads)
    assert process.poll() is None
    process.kill()
    process.wait()
    assert not (data_dir / "slow" / "1.0.0").exists()
    assert list(data_dir.glob(".slow-staging-*"))  # what the kill left
    prepare.prepare(str(source), "slow", str(data_dir), holdout=0)
    assert len(_load(data_dir, "slow")) == 30
    assert sorted(os.listdir(data_dir)) == ["slow"]  # the stale staging folder is gone


def test_a_bucket_gets_the_dataset_through_tf_io_gfile_completion_mark_last(tmp_path,
                                                                          monkeypatch):
    """gs:// is tested as ram://, another file system TensorFlow has: staged locally, copied
    with dataset_info.json last, so an interrupted copy is not a dataset; a rerun replaces it."""
    source = tmp_path / "img"
    source.mkdir()
    for i in range(6):
        (source / f"{i}.png").write_bytes(af.image_bytes(af.pattern(i, 8)))
    bucket = f"ram://bucket_{os.getpid()}_{time.monotonic_ns()}/tfds"
    target = f"{bucket}/remote/{writer.VERSION}"
    copied, copy = [], tf.io.gfile.copy

    def failing_copy(src, dst, overwrite=False):
        if dst.endswith(writer.INFO_FILE):
            raise tf.errors.UnavailableError(None, None, "connection reset")
        copied.append(dst)
        copy(src, dst, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", failing_copy)
    with pytest.raises(tf.errors.UnavailableError):
        prepare.prepare(str(source), "remote", bucket, holdout=2)
    assert copied and not tf.io.gfile.exists(f"{target}/{writer.INFO_FILE}")
    monkeypatch.setattr(tf.io.gfile, "copy", copy)
    summary = prepare.prepare(str(source), "remote", bucket, holdout=2)  # no --overwrite needed
    assert f"--data_dir={bucket}" in summary
    local = tmp_path / "copy" / "remote" / writer.VERSION
    local.mkdir(parents=True)
    for name in tf.io.gfile.listdir(target):
        tf.io.gfile.copy(f"{target}/{name}", str(local / name))
    assert len(_load(tmp_path / "copy", "remote")) == 4
    assert len(_load(tmp_path / "copy", "remote", "test")) == 2
    with pytest.raises(UserError, match="already exists; pass --overwrite"):
        prepare.prepare(str(source), "remote", bucket)


@pytest.mark.parametrize("source, message", [
    (lambda p: p / "data.bin", "is neither a folder nor an archive prepare reads"),
    (lambda p: af.write_cifar10(str(p))[0], "--labels=subfolders does not apply to "
                                            "cifar-10-python.tar.gz (a cifar10)"),
])
def test_sources_it_cannot_read_are_one_line_and_write_nothing(source, message, tmp_path,
                                                               capsys):
    (tmp_path / "data.bin").write_bytes(b"\x00" * 64)
    path = source(tmp_path)
    data_dir = tmp_path / "tfds"
    code, _, err = run_in_process(data_cli.run, "dcgan-data", [
        "prepare", "images", f"--source={path}", "--name=x", f"--data_dir={data_dir}",
        "--labels=subfolders"], capsys)
    assert code == 2 and message in last_line(err), err[-1000:]
    assert not data_dir.exists() or snapshot(str(data_dir)) == {}


def test_progress_says_rate_and_time_left(monkeypatch):
    lines = []
    monkeypatch.setattr(prepare.logging, "info", lambda fmt, *a: lines.append(fmt % a))
    clock = iter([10.0, 11.0])
    progress = prepare._Progress("wrote train", total=200, every_secs=0,
                                 clock=lambda: next(clock))
    progress.update(100)  # 100 images in 1 s: 100 more take 1 s
    assert lines == ["wrote train 100/200 images (100/s), eta 0:01"]


def test_a_damaged_member_is_skipped_and_a_cut_archive_is_one_line(tmp_path):
    files = {f"img/{i}.png": af.image_bytes(af.pattern(i, 8)) for i in range(4)}
    path = af.write_zip(str(tmp_path / "bad.zip"), files, compression=zipfile.ZIP_STORED)
    raw = bytearray(open(path, "rb").read())
    at = raw.index(files["img/2.png"]) + 20  # a byte inside 2.png: its CRC no longer holds
    raw[at] ^= 0xFF
    open(path, "wb").write(bytes(raw))
    summary = prepare.prepare(path, "bad_zip", str(tmp_path / "tfds"))
    assert "prepared 3 training images" in summary and "skipped 1 unreadable: 2.png" in summary
    tar = af.write_tar(str(tmp_path / "cut.tar.gz"), files)
    data = open(tar, "rb").read()
    open(tar, "wb").write(data[:len(data) // 2])  # a download stopped halfway
    with pytest.raises(UserError, match=r"cut.tar.gz is cut short or damaged after \d images"):
        prepare.prepare(tar, "cut", str(tmp_path / "tfds"))
