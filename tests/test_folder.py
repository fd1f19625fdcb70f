"""`dcgan-data prepare images` (alias `folder`): any folder of images becomes a TFDS dataset for
dcgan-train. Archives, photo formats and the held-out split: tests/test_prepare.py."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from dcgan_dist.data import prepare, readers
from dcgan_dist.programs import data as data_cli
from dcgan_dist.errors import UserError
from helpers import last_line, run_in_process, snapshot
from conftest import write_image_folder


def _examples(data_dir, name="gen_images"):
    ds = tfds.load(name, split="train", data_dir=data_dir, download=False, shuffle_files=False)
    return [ex["image"].numpy() for ex in ds]


def test_finds_every_image_recursively_in_sorted_order_any_case(tmp_path):
    source = write_image_folder(str(tmp_path / "src"), num_images=10)
    found = readers.FolderReader(source, None).names()
    assert found == sorted(found) and len(found) == 11  # 10 images + broken.png, no notes.txt
    assert "img_001.JPG" in found and "img_002.bmp" in found
    assert "nested/deeper/img_003.gif" in found


def test_prepared_folder_reads_back_cropped_resized_and_rgb(folder_data_dir, tmp_path):
    builder = tfds.builder("gen_images", data_dir=folder_data_dir)
    assert builder.info.splits["train"].num_examples == 24
    assert builder.info.features["image"].shape == (32, 32, 3)  # grey + RGB mixed -> RGB
    images = _examples(folder_data_dir)
    assert all(image.shape == (32, 32, 3) and image.dtype == np.uint8 for image in images)
    # Each source image is a centred square of one colour between bands of another: a
    # correct center crop leaves one colour (lossless files exactly, JPEG within its noise).
    source = write_image_folder(str(tmp_path / "again"))
    paths = [os.path.join(source, n) for n in readers.FolderReader(source, None).names()]
    for path, image in zip(paths[1:], images):  # [0]: broken.png
        spread = image.reshape(-1, 3).max(0).astype(int) - image.reshape(-1, 3).min(0)
        assert spread.max() <= (40 if path.endswith(".JPG") else 0), path
        if path.endswith(".png") and "L" != Image.open(path).mode:
            original = np.asarray(Image.open(path).convert("RGB"))
            centre = original[original.shape[0] // 2, original.shape[1] // 2]
            np.testing.assert_array_equal(image[0, 0], centre)


def test_summary_counts_skips_and_names_the_flags(tmp_path):
    source = write_image_folder(str(tmp_path / "src"), num_images=5)
    summary = prepare.prepare(source, "five", str(tmp_path / "tfds"), image_size=16)
    lines = summary.splitlines()
    assert lines[0] == (f"prepared 5 training images at 16x16x3 in "
                        f"{tmp_path / 'tfds' / 'five' / '1.0.0'}; no held-out split")
    assert lines[1] == "skipped 1 unreadable: broken.png"
    assert lines[2].startswith("train with: ") and lines[2].endswith(
        f"dcgan-train --config=folder32 --dataset=five --data_dir={tmp_path / 'tfds'} "
        f"--workdir={os.path.abspath('runs/five')}")


def test_own_size_kept_and_mixed_sizes_flagged(tmp_path):
    source = tmp_path / "grey"
    source.mkdir()
    for i, size in enumerate([(20, 20), (30, 20)]):
        Image.fromarray(np.full(size, 100 + i, np.uint8)).save(source / f"{i}.png")
    summary = prepare.prepare(str(source), "grey", str(tmp_path / "tfds"))
    # folder64 crops and resizes them to 64 px as it reads them.
    assert "at ?x?x1" in summary and " --config=folder64 --dataset=grey " in summary
    shapes = [image.shape for image in _examples(str(tmp_path / "tfds"), "grey")]
    assert shapes == [(20, 20, 1), (30, 20, 1)]


def test_existing_dataset_needs_overwrite(tmp_path):
    source = write_image_folder(str(tmp_path / "src"), num_images=3)
    data_dir = str(tmp_path / "tfds")
    prepare.prepare(source, "three", data_dir, image_size=8)
    before = snapshot(data_dir)
    with pytest.raises(UserError, match="already exists; pass --overwrite"):
        prepare.prepare(source, "three", data_dir, image_size=16)
    assert snapshot(data_dir) == before
    prepare.prepare(source, "three", data_dir, image_size=16, overwrite=True)
    assert _examples(data_dir, "three")[0].shape == (16, 16, 3)
    assert sorted(os.listdir(data_dir)) == ["three"]  # no staging folder left behind


@pytest.mark.parametrize("case, message", [
    ("empty", "holds no readable image"),
    ("not_images", "holds no readable image"),
    ("file", "is neither a folder nor an archive prepare reads"),
    ("clash", "--name=mnist is a TFDS catalog dataset; choose another name"),
    ("bad_name", "--name=My-Faces is not a valid dataset name"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, message, tmp_path, capsys):
    source = tmp_path / "src"
    source.mkdir()
    name = {"clash": "mnist", "bad_name": "My-Faces"}.get(case, "mine")
    if case == "not_images":
        (source / "a.png").write_text("text, not an image")
    elif case == "file":
        source = tmp_path / "a_file.png"
        source.write_text("x")
    elif case in ("clash", "bad_name"):
        write_image_folder(str(source), num_images=2)
    data_dir = tmp_path / "tfds"
    code, _, err = run_in_process(data_cli.run, "dcgan-data", [
        "prepare", "folder", f"--source={source}", f"--name={name}", f"--data_dir={data_dir}"],
        capsys)
    assert code == 2, err[-2000:]
    assert last_line(err).startswith("dcgan-data: error: ") and message in last_line(err)
    assert not data_dir.exists() or not os.listdir(data_dir)
