"""Photos as people have them (`data/photos.py`): EXIF orientation, 16-bit, CMYK, palette and
alpha, decompression bombs, and exact duplicates, each decoded the way a viewer shows it."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import archive_files as af
from dcgan_dist.data import photos, prepare
from dcgan_dist.programs import data as data_cli
from helpers import last_line, run_in_process


def _decode(path, channels=3, size=0, **kwargs):
    with open(path, "rb") as f:
        return photos.decode(f.read(), channels, size, **kwargs)[0]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(orientation, tmp_path):
    path, upright = af.write_exif_rotated_jpeg(str(tmp_path / "phone.jpg"), orientation)
    image = _decode(path)
    assert image.shape == upright.shape == (16, 24, 3)
    np.testing.assert_array_equal(image, upright)
    with open(path, "rb") as f:
        assert photos.probe(f.read(), 0) == (False, (16, 24))  # the upright size


@pytest.mark.parametrize("grey", [True, False])
def test_16_bit_png_is_scaled_not_clipped(grey, tmp_path):
    path, _, expected = af.write_png16(str(tmp_path / "deep.png"), grey=grey)
    image = _decode(path, channels=1 if grey else 3)
    np.testing.assert_array_equal(image[..., 0] if grey else image, expected)


def test_cmyk_jpeg_becomes_its_rgb_colours(tmp_path):
    path, expected = af.write_cmyk_jpeg(str(tmp_path / "print.jpg"))
    image = _decode(path)
    assert image.shape == (16, 32, 3)
    # Patch centres (JPEG blurs the borders between patches).
    centres = image[4::8, 4::8].astype(int)
    assert np.abs(centres - expected[4::8, 4::8]).max() <= 6


@pytest.mark.parametrize("transparency", ["white", "black"])
def test_transparent_pixels_become_the_background(transparency, tmp_path):
    background = photos.TRANSPARENCY[transparency]
    for write in (af.write_palette_png, af.write_rgba_png):
        path, rgba = write(str(tmp_path / f"{write.__name__}.png"))
        alpha = rgba[..., 3:].astype(float) / 255
        expected = np.rint(rgba[..., :3] * alpha + background * (1 - alpha))
        image = _decode(path, transparency=transparency)
        assert np.abs(image.astype(int) - expected).max() <= 1, write.__name__
    path, la = af.write_la_png(str(tmp_path / "la.png"))
    alpha = la[..., 1].astype(float) / 255
    image = _decode(path, channels=1, transparency=transparency)
    assert np.abs(image[..., 0] - np.rint(la[..., 0] * alpha + background * (1 - alpha))).max() <= 1


def test_a_decompression_bomb_is_refused_by_name_before_anything_is_written(tmp_path, capsys):
    source = tmp_path / "photos"
    source.mkdir()
    (source / "fine.png").write_bytes(af.image_bytes(af.pattern(1)))
    af.write_bomb_png(str(source / "huge.png"), 10_000, 10_000)  # under Pillow's own error
    data_dir = tmp_path / "tfds"
    code, _, err = run_in_process(data_cli.run, "dcgan-data", [
        "prepare", "images", f"--source={source}", "--name=bomb", f"--data_dir={data_dir}"],
        capsys)
    assert code == 2
    assert last_line(err) == (
        "dcgan-data: error: huge.png declares 10000x10000 = 100,000,000 pixels, over "
        "--max_image_pixels=89,478,485 (a decompression bomb?); remove it from the source, or "
        "raise --max_image_pixels if it is a real image that large")
    assert not data_dir.exists() or not os.listdir(data_dir)


def test_max_image_pixels_can_be_raised_past_pillows_own_refusal(tmp_path):
    path = af.write_bomb_png(str(tmp_path / "panorama.png"))  # 400M pixels: Pillow refuses
    data = open(path, "rb").read()
    with pytest.raises(photos.Refused):
        photos.probe(data, photos.DEFAULT_MAX_PIXELS)
    with photos.own_pixel_limit():
        assert photos.probe(data, 500_000_000) == (True, (20000, 20000))


def test_phone_folder_end_to_end_with_duplicates_dropped_and_reported(tmp_path):
    folder, duplicates = af.write_duplicates(str(tmp_path / "phone"))
    _, upright = af.write_exif_rotated_jpeg(os.path.join(folder, "sideways.jpg"), 6)
    summary = prepare.prepare(folder, "phone", str(tmp_path / "tfds"), holdout=0)
    dropped = len(duplicates["identical"]) + len(duplicates["same_pixels"])
    kept = len(duplicates["distinct"]) + 1
    assert f"prepared {kept} training images" in summary
    assert f"dropped {dropped} exact duplicates" in summary
    for copy, original in {**duplicates["identical"], **duplicates["same_pixels"]}.items():
        first, later = sorted([copy, original])  # the one read first (sorted paths) is kept
        assert f"{later} (= {first})" in summary
    ds = tfds.load("phone", split="train", data_dir=str(tmp_path / "tfds"), download=False)
    shapes = sorted(ex["image"].shape for ex in tfds.as_numpy(ds))
    assert shapes == [(16, 16, 3)] * len(duplicates["distinct"]) + [(16, 24, 3)]
