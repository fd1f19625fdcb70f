"""The outer loop: resume, divergence, and an end-to-end run of the real entry point."""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import DivergedError, UserError, loop, metrics
from cli import snapshot
from conftest import all_weights, one_replica


def test_resume_continues_at_the_checkpoint_and_matches_a_straight_run(make_config, tmp_path):
    straight = loop.train(make_config(workdir=str(tmp_path / "straight"), train_steps=4))
    split_dir = str(tmp_path / "split")
    loop.train(make_config(workdir=split_dir, train_steps=2))
    assert [r["step"] for r in metrics.read_stats(split_dir)] == [1, 2]
    resumed = loop.train(make_config(workdir=split_dir, train_steps=4))
    assert int(resumed.step.numpy()) == 4
    assert [r["step"] for r in metrics.read_stats(split_dir)] == [1, 2, 3, 4]
    assert tf.train.latest_checkpoint(f"{split_dir}/ckpt").endswith("ckpt-4")
    # Noise, dropout and input order are all keyed by the step: resuming replays exactly.
    for a, b in zip(all_weights(straight), all_weights(resumed)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_non_finite_loss_stops_with_the_step_range_and_keeps_the_checkpoint(make_config):
    config = make_config(train_steps=6, ckpt_every_steps=2, log_every_steps=2, steps_per_execution=2)

    def dataset_fn(ctx, start_step):
        steps = tf.data.Dataset.range(start_step, 100)
        return steps.map(lambda s: tf.fill([8, 28, 28, 1], tf.where(s == 2, np.nan, 0.5)))

    with pytest.raises(DivergedError, match=r"non-finite loss between steps 3 and 4 .*ckpt-2 is kept"):
        loop.train(config, strategy=one_replica(), dataset_fn=dataset_fn)
    assert tf.train.latest_checkpoint(f"{config.workdir}/ckpt").endswith("ckpt-2")


def test_end_to_end_run_leaves_every_artifact(tmp_path):
    workdir = tmp_path / "run"
    cmd = [sys.executable, "-m", "dcgan_dist.main", f"--workdir={workdir}", "--synthetic_data",
           f"--data_dir={tmp_path / 'no_data'}", "--global_batch_size=4", "--train_steps=4",
           "--log_every_steps=2", "--sample_every_steps=2", "--ckpt_every_steps=2",
           "--steps_per_execution=2"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 4/4" in result.stderr and "img/s" in result.stderr and "eta" in result.stderr
    grids = sorted(os.listdir(workdir / "samples"))
    assert grids == ["step_000002.png", "step_000004.png"]
    grid = iio.imread(workdir / "samples" / grids[0])
    assert grid.shape == (4 * 29 * 4 + 4, 4 * 29 * 4 + 4) and grid.dtype == np.uint8
    gif = iio.imread(workdir / "samples.gif", index=None)
    assert gif.shape[0] == len(grids)
    stats = [json.loads(line) for line in (workdir / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in stats] == [2, 4]
    for record in stats:
        assert {"g_loss", "d_loss", "images_per_sec", "elapsed_secs"} <= set(record)
        assert record["images_per_sec"] > 0 and np.isfinite(record["g_loss"])
    assert tf.train.latest_checkpoint(str(workdir / "ckpt")).endswith("ckpt-4")
    events = os.listdir(workdir / "tensorboard")
    assert events and events[0].startswith("events.out.tfevents")
    flags_txt = (workdir / "flags.txt").read_text()
    assert "--train_steps=4" in flags_txt and "--synthetic_data" in flags_txt
    # Rerunning the finished run does nothing and changes nothing.
    before = snapshot(workdir)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "Nothing to do: step 4 of 4" in again.stderr
    assert snapshot(workdir) == before


def test_checkpoints_without_their_state_file_are_refused(make_config):
    config = make_config(train_steps=2)
    loop.train(config)
    os.remove(f"{config.workdir}/ckpt/checkpoint")
    before = snapshot(config.workdir)
    with pytest.raises(UserError, match="holds checkpoints but no readable 'checkpoint' state"):
        loop.train(make_config(train_steps=4))
    assert snapshot(config.workdir) == before


def test_an_input_error_after_restore_changes_nothing(make_config):
    loop.train(make_config(train_steps=2))
    workdir = make_config().workdir
    before = snapshot(workdir)
    with pytest.raises(UserError, match="larger than the 64 examples"):
        loop.train(make_config(train_steps=4, global_batch_size=128, keep_checkpoints=1))
    assert snapshot(workdir) == before


def test_a_lost_peer_is_named_not_this_worker():
    # The shape of TensorFlow's message when worker 1 stops sending heartbeats: worker 0's own
    # device comes first, the peer in the short /job/task form.
    error = tf.errors.UnavailableError(None, None, (
        "From /job:worker/replica:0/task:0: Collective ops is aborted by: Error reported from "
        "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats)"))
    assert loop._peer_summary(error, own_task=0) == "/job:worker/task:1: it stopped answering"
    assert loop._peer_summary(error, own_task=1).endswith("task:0: it stopped answering")
