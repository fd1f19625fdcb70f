"""Issue 26's user path: schedules that do not depend on the folder's size (sample and
checkpoint counts on a tiny folder, a GIF of bounded cost), ~ and relative paths made
absolute, and the training command `prepare folder` prints, run as printed."""

import os
import shlex

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import build, flagfiles, flags, loop, paths
from dcgan_dist.data import commands, info as data_info
from dcgan_dist.data.images import to_uint8
from dcgan_dist.programs import data as data_cli, eval as eval_cli, train
from dcgan_dist.rundir import grids, progress
from conftest import write_image_folder
from helpers import run_in_process


def _counts(workdir):
    samples = [step for step, _ in grids.list_samples(workdir)]
    ckpts = tf.train.get_checkpoint_state(f"{workdir}/ckpt").all_model_checkpoint_paths
    return samples, sorted(int(p.rsplit("-", 1)[1]) for p in ckpts)


SCHEDULES = pytest.mark.parametrize("schedule, samples, ckpts", [
    (dict(), [12], [12]),  # the defaults (500 and 2,000 steps): only the end, on 24 images
    (dict(sample_every_steps=5, ckpt_every_steps=4), [5, 10, 12], [4, 8, 12]),
    # An explicit 0 (old runs' flags.txt) still means once an epoch: 24 // 8 = 3 steps.
    (dict(sample_every_steps=0, ckpt_every_steps=0), [3, 6, 9, 12], [3, 6, 9, 12]),
], ids=["defaults", "steps", "epochs"])


@SCHEDULES
def test_the_schedule_of_a_tiny_folder_follows_steps(make_config, schedule, samples, ckpts):
    """The quick subset's check of what the run below writes: the steps at which the schedule
    of 12 steps on 24 images at batch 8 makes grids and checkpoints."""
    config = make_config(train_steps=12, log_every_steps=4, **schedule)
    plan = build.Schedule.of(config.schedule, num_examples=24)
    assert plan.steps_per_epoch == 3 and plan.total_steps == 12
    steps = range(1, 13)
    assert [s for s in steps if plan.due(plan.sample, s)] == samples
    assert [s for s in steps if plan.due(plan.ckpt, s)] == ckpts
    assert [s for s in steps if plan.due(plan.log, s)] == [4, 8, 12]


@pytest.mark.slow
@SCHEDULES
def test_samples_and_checkpoints_follow_steps_not_the_folder(make_config, folder_data_dir,
                                                            schedule, samples, ckpts):
    config = make_config(dataset="gen_images", data_dir=folder_data_dir, train_steps=12,
                         log_every_steps=4, keep_checkpoints=10, **schedule)
    loop.train(config)
    assert _counts(config.rundir.workdir) == (samples, ckpts)
    assert [r["step"] for r in progress.read_stats(config.rundir.workdir)] == [4, 8, 12]


def test_the_gif_is_made_from_a_bounded_number_of_grids(tmp_path):
    assert grids.gif_frames(list(range(7)), 3) == [0, 3, 6]
    picked = grids.gif_frames(list(range(1000)))
    assert len(picked) == grids.GIF_MAX_FRAMES and picked[0] == 0 and picked[-1] == 999
    workdir = str(tmp_path)
    for step in range(1, 6):
        grids.write_grid(workdir, step,
                         to_uint8(np.full((4, 8, 8, 1), step / 5 - 0.5, np.float32)))
    assert grids.write_gif(workdir, max_frames=3) == 3
    frames = iio.imread(f"{workdir}/samples.gif", index=None)
    grey = [int(frame[40, 40, 0]) for frame in frames]  # steps 1, 3, 5: first, middle, last
    assert len(frames) == 3 and grey[0] < grey[1] < grey[2]


def test_path_flags_expand_home_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    values = flags.flag_values(train.FLAGS)
    values(["dcgan-train", "--workdir=~/runs/a", "--data_dir=data",
            "--inception_path=gs://b/inception.tgz"])
    assert values.workdir == str(tmp_path / "home" / "runs" / "a")
    assert values.data_dir == str(tmp_path / "data")
    assert values.inception_path == "gs://b/inception.tgz"
    assert paths.expand(None) is None


@pytest.mark.parametrize("shape, count, config, extra", [
    ((32, 32, 1), 500, "folder32", []),
    ((28, 28, 1), 2000, "folder32", []),
    ((64, 64, 3), 50000, "folder64", ["--augment=none"]),
    ((128, 128, 3), 800, "folder64", ["--image_size=128"]),
    ((None, None, 3), 800, "folder64", []),
])
def test_the_recommended_config_follows_size_and_count(shape, count, config, extra):
    assert commands.recommended_flags(shape, count) == (config, extra)
    assert config in flagfiles.CONFIGS  # a packaged config: --config=NAME works anywhere


@pytest.mark.slow
def test_prepare_folder_prints_a_command_that_trains_as_printed(tmp_path, monkeypatch, capsys,
                                                               stand_in_inception):
    """From another directory, with a relative --source and a ~ --data_dir, as a person would;
    the printed command is then run as it is, with only its budget cut (later flags win), and
    the run is scored against the images prepare held out."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    write_image_folder(str(tmp_path / "photos"), num_images=60)
    code, out, err = run_in_process(data_cli.run, "dcgan-data", [
        "prepare", "folder", "--source=photos", "--name=my_photos", "--data_dir=~/data",
        "--image_size=32"], capsys)
    assert code == 0, err[-2000:]
    data_dir = tmp_path / "home" / "data"
    line = out.strip().splitlines()[-1]
    argv = shlex.split(line.removeprefix("train with: "))
    assert os.path.isabs(argv[0]) and argv[0].endswith("dcgan-train")  # beside this Python
    assert argv[1:] == ["--config=folder32", "--dataset=my_photos",
                        f"--data_dir={data_dir}", f"--workdir={tmp_path / 'runs' / 'my_photos'}"]
    # The damaged-dataset advice names this folder and this data_dir.
    assert data_info.prepare_folder_command("my_photos", str(data_dir)) == (
        f"dcgan-data prepare folder --source={tmp_path / 'photos'} --name=my_photos "
        f"--data_dir={data_dir} --overwrite")
    code, _, err = run_in_process(train.run, os.path.basename(argv[0]),
                                  argv[1:] + ["--train_steps=2"], capsys)
    assert code == 0, err[-2000:]
    stats = progress.read_stats(str(tmp_path / "runs" / "my_photos"))
    assert stats[-1]["step"] == 2 and "augment_p" in stats[-1]  # folder32's ada
    code, out, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--workdir={tmp_path / 'runs' / 'my_photos'}", "--num_images=16",
        f"--inception_path={stand_in_inception[0]}"], capsys)
    assert code == 0, err[-2000:]
    assert "16 generated images vs 6 my_photos test images" in out  # the 6 held out of 60
    assert "what the model trained on" not in out
