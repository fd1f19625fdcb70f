"""The run directory: what a run on a prepared RGB folder leaves (reals.png, colour grids, a
GIF that reads back, run.json that reopens the run), flags.txt of older runs, and the check
that a work directory can be written, made where a program is about to write."""

import json
import logging
import os

import imageio.v3 as iio
import numpy as np
import pytest

from dcgan_dist import build
from dcgan_dist.config import Config
from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError
from dcgan_dist.programs import generate, train
from dcgan_dist.rundir import files, gif, grids, runinfo
from helpers import run_in_process


@pytest.mark.slow
def test_rgb_folder_run_leaves_colour_artifacts_and_run_json(folder_data_dir, tmp_path, capsys,
                                                             caplog):
    workdir = tmp_path / "run"
    with caplog.at_level(logging.INFO):
        code, _, err = run_in_process(train.run, "dcgan-train", [
            f"--workdir={workdir}", "--dataset=gen_images", f"--data_dir={folder_data_dir}",
            "--image_size=64", "--g_filters=8", "--d_filters=4", "--global_batch_size=4",
            "--train_steps=4", "--log_every_steps=2", "--sample_every_steps=2", "--random_flip",
            "--precision=float32"], capsys)
    assert code == 0, err[-3000:]
    assert "24 images at 64x64x3, in-memory" in caplog.text
    assert "--image_size=64 is larger than the 32x32 images of gen_images" in caplog.text
    reals = iio.imread(workdir / "reals.png")
    assert reals.shape == (4 * 65 + 1, 4 * 65 + 1, 3)  # 4x4 of 64 px with gutters, 1x scale
    assert reals.std() > 10  # real pictures, not a blank
    grid = iio.imread(workdir / "samples" / "step_000004.png")
    assert grid.shape == reals.shape and grid.dtype == np.uint8
    gif = iio.imread(workdir / "samples.gif", index=None)
    assert gif.shape == (2,) + reals.shape
    run = json.loads((workdir / "run.json").read_text())
    assert run["image_shape"] == [64, 64, 3] and run["channels"] == 3
    assert run["dataset"] == "gen_images" and run["config"]["image_size"] == 64
    record = build.read_run(str(workdir))
    assert record.image_shape == (64, 64, 3) and record.config.data.random_flip
    out = tmp_path / "gen.npz"
    generate.generate(str(workdir), 5, str(out))
    assert np.load(out)["images"].shape == (5, 64, 64, 3)


def test_gif_of_grey_grids_reads_back(tmp_path):
    workdir = str(tmp_path)
    rng = np.random.default_rng(0)
    for step in (1, 2, 3):
        grids.write_grid(workdir, step, to_uint8(rng.uniform(-1, 1, (16, 28, 28, 1))))
    assert grids.write_gif(workdir) == 3
    frames = iio.imread(f"{workdir}/samples.gif", index=None)
    assert frames.shape == (3, 468, 468, 3)
    first = iio.imread(f"{workdir}/samples/step_000001.png")
    np.testing.assert_array_equal(frames[0][..., 0], first)  # grey, lossless in a 256 palette


def test_the_gif_compresses_each_frame_once_and_reads_as_pillows_own(monkeypatch):
    rng = np.random.default_rng(1)
    frames = [grids.make_grid(to_uint8(rng.uniform(-1, 1, (16, 8, 8, 3)))) for _ in range(4)]
    ours = grids.encode_gif(frames[:3], duration_ms=150)
    pillows = iio.imwrite("<bytes>", np.stack(frames[:3]), extension=".gif", duration=150,
                          loop=0)
    np.testing.assert_array_equal(iio.imread(ours, index=None, extension=".gif"),
                                  iio.imread(pillows, index=None, extension=".gif"))
    meta = iio.immeta(ours, index=0, extension=".gif")
    assert meta["duration"] == 150 and meta["loop"] == 0
    # The next rewrite, one frame longer, compresses only the new frame.
    compressed, imwrite = [], iio.imwrite
    monkeypatch.setattr(iio, "imwrite", lambda *a, **k: compressed.append(1) or imwrite(*a, **k))
    longer = grids.encode_gif(frames)
    assert len(compressed) == 1
    assert iio.imread(longer, index=None, extension=".gif").shape == (4,) + frames[0].shape
    with pytest.raises(ValueError, match="GIF frames differ in size"):
        gif.encode([frames[0], frames[0][:-1]])


def test_run_json_refuses_keys_it_does_not_know(make_config):
    config = make_config()
    text = runinfo.encode(config.values, (28, 28, 1))
    assert Config.from_values(runinfo.decode(text).values) == config
    record = json.loads(text)
    record["config"]["warp_drive"] = True
    with pytest.raises(UserError, match=r"^run.json has keys this dcgan-dist does not know "
                                        r"\(warp_drive\); upgrade dcgan-dist"):
        Config.from_values(runinfo.decode(json.dumps(record)).values, source="run.json")
    # In code, an unknown name is a typo, not a newer version's key.
    with pytest.raises(UserError, match=r"^unknown training flags warp_drive; see dcgan-train"):
        Config.of(workdir="/x", warp_drive=True)


def test_old_runs_reopen_from_flags_txt_and_unknown_flags_are_errors(make_config, tmp_path):
    config = make_config(workdir=str(tmp_path), global_batch_size=32, sync_batchnorm=True)
    (tmp_path / "flags.txt").write_text(config.flagfile)
    run = build.read_run(str(tmp_path))
    assert run.config == config and run.image_shape is None
    (tmp_path / "flags.txt").write_text(config.flagfile + "--warp_drive=1\n")
    with pytest.raises(UserError, match="cannot be read as this version's flags"):
        build.read_run(str(tmp_path))
    os.remove(tmp_path / "flags.txt")
    with pytest.raises(UserError, match="has no run.json or flags.txt"):
        build.read_run(str(tmp_path))


def test_check_writable_dir_refuses_a_file_or_an_unwritable_place_and_skips_gs(tmp_path):
    path = tmp_path / "file"
    path.write_text("keep me")
    with pytest.raises(UserError, match="--workdir=.*/file is a file; pass a directory"):
        files.check_writable_dir(str(path))
    with pytest.raises(UserError, match="--output=/proc/x/y is not writable"):
        files.check_writable_dir("/proc/x/y", flag="--output")
    files.check_writable_dir("gs://bucket/run")  # not probed
    files.check_writable_dir(str(tmp_path / "new" / "deeper"))  # created later, writable
    assert path.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == ["file"]


def test_atomic_writes_leave_no_temporary_file_and_appends_keep_lines(tmp_path):
    files.write_atomic(str(tmp_path / "a.txt"), "text")
    files.write_atomic(str(tmp_path / "b.bin"), b"\x00\x01")
    files.append_line(str(tmp_path / "log.jsonl"), '{"step": 1}')
    files.append_line(str(tmp_path / "log.jsonl"), '{"step": 2}\n')
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.bin", "log.jsonl"]
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "log.jsonl").read_text() == '{"step": 1}\n{"step": 2}\n'


def test_long_work_logs_its_count_rate_and_eta(caplog, monkeypatch):
    from dcgan_dist.rundir import progress as progress_lib
    clock = iter([100.0, 110.0, 115.0, 130.0])
    monkeypatch.setattr(progress_lib.time, "monotonic", lambda: next(clock))
    ticker = progress_lib.Ticker("mnist:test inception features", 1000, every_secs=10)
    with caplog.at_level("INFO"):
        ticker.update(100)   # t = 110: 10 s in, 100 images -> 10 img/s, 900 left: 1:30
        ticker.update(100)   # t = 115: under 10 s since the last line, quiet
        ticker.update(100)   # t = 130: 300 in 30 s
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["mnist:test inception features: 100/1000 images  10.0 img/s  eta 1:30",
                     "mnist:test inception features: 300/1000 images  10.0 img/s  eta 1:10"]
