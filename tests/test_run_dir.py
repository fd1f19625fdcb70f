"""A run on a prepared RGB folder, end to end, and the run directory it leaves: reals.png,
colour grids, a GIF that reads back, and run.json that reopens the run."""

import json
import os

import imageio.v3 as iio
import numpy as np
import pytest

from dcgan_dist import UserError, rundir, samples
from cli import run_cli


def test_rgb_folder_run_leaves_colour_artifacts_and_run_json(folder_data_dir, tmp_path):
    workdir = tmp_path / "run"
    result = run_cli([f"--workdir={workdir}", "--dataset=gen_images", f"--data_dir={folder_data_dir}",
                      "--image_size=64", "--g_filters=8", "--d_filters=4", "--global_batch_size=4",
                      "--train_steps=4", "--log_every_steps=2", "--sample_every_steps=2",
                      "--random_flip"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "24 images at 64x64x3, in-memory" in result.stderr
    assert "--image_size=64 is larger than the 32x32 images of gen_images" in result.stderr
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
    info = rundir.read(str(workdir))
    assert info.image_shape == (64, 64, 3) and info.config.random_flip
    out = tmp_path / "gen.npz"
    result = run_cli([f"--workdir={workdir}", "--num_images=5", f"--output={out}"],
                     module="dcgan_dist.eval_cli_generate")
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.load(out)["images"].shape == (5, 64, 64, 3)


def test_gif_of_grey_grids_reads_back(tmp_path):
    workdir = str(tmp_path)
    rng = np.random.default_rng(0)
    for step in (1, 2, 3):
        samples.write_grid(workdir, step, rng.uniform(-1, 1, (16, 28, 28, 1)))
    assert samples.write_gif(workdir) == 3
    frames = iio.imread(f"{workdir}/samples.gif", index=None)
    assert frames.shape == (3, 468, 468, 3)
    first = iio.imread(f"{workdir}/samples/step_000001.png")
    np.testing.assert_array_equal(frames[0][..., 0], first)  # grey, lossless in a 256 palette


def test_run_json_refuses_keys_it_does_not_know(make_config):
    config = make_config()
    text = rundir.encode(config, (28, 28, 1))
    assert rundir.decode(text).config == config
    record = json.loads(text)
    record["config"]["warp_drive"] = True
    with pytest.raises(UserError, match=r"keys this dcgan-dist does not know \(warp_drive\)"):
        rundir.decode(json.dumps(record))


def test_old_runs_reopen_from_flags_txt_and_unknown_flags_are_errors(make_config, tmp_path):
    config = make_config(workdir=str(tmp_path), global_batch_size=32, sync_batchnorm=True)
    (tmp_path / "flags.txt").write_text(config.as_flagfile())
    run = rundir.read(str(tmp_path))
    assert run.config == config and run.image_shape is None
    (tmp_path / "flags.txt").write_text(config.as_flagfile() + "--warp_drive=1\n")
    with pytest.raises(UserError, match="cannot be read as this version's flags"):
        rundir.read(str(tmp_path))
    os.remove(tmp_path / "flags.txt")
    with pytest.raises(UserError, match="has no run.json or flags.txt"):
        rundir.read(str(tmp_path))
