"""The outer loop, in-process: divergence, write failures (a failing grid, GIF or
TensorBoard write warns once and training goes on; a failing checkpoint or stats.jsonl write
stops with WriteFailedError), damaged checkpoints and damaged data. The real full disk (a
tmpfs) and the signals are in test_signals.py, as processes; resume in test_objectives.py."""

import logging
import os
import shutil
import types

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import loop
from dcgan_dist.config import Config
from dcgan_dist.data import damaged
from dcgan_dist.errors import DivergedError, UserError, WriteFailedError
from dcgan_dist.programs import train
from dcgan_dist.rundir import checkpoints, grids, progress
from dcgan_dist.runtime import strategy as strategy_lib, workers
from conftest import one_replica
from helpers import checkpoint_step, last_line, latest_checkpoint, run_in_process, snapshot


# Resume (continues at the checkpoint, logs each step once, ends where a straight run does):
# test_objectives, with every option on; on dcgan with ada, dropout and EMA: test_augment.


def test_non_finite_loss_stops_with_the_step_range_and_keeps_the_checkpoint(make_config):
    config = make_config(train_steps=6, ckpt_every_steps=2, log_every_steps=2, steps_per_execution=2)

    def dataset_fn(ctx, start_step):
        steps = tf.data.Dataset.range(start_step, 100)
        return steps.map(lambda s: tf.fill([8, 28, 28, 1], tf.where(s == 2, np.nan, 0.5)))

    with pytest.raises(DivergedError, match=r"non-finite loss between steps 3 and 4 .*ckpt-2 is kept"):
        loop.train(config, strategy=one_replica(), dataset_fn=dataset_fn)
    assert tf.train.latest_checkpoint(f"{config.rundir.workdir}/ckpt").endswith("ckpt-2")


@pytest.mark.slow
def test_checkpoints_without_their_state_file_are_refused(make_config):
    config = make_config(train_steps=2)
    loop.train(config)
    os.remove(f"{config.rundir.workdir}/ckpt/checkpoint")
    before = snapshot(config.rundir.workdir)
    with pytest.raises(UserError, match="holds checkpoints but no readable 'checkpoint' state"):
        loop.train(make_config(train_steps=4))
    assert snapshot(config.rundir.workdir) == before


@pytest.mark.slow
def test_an_input_error_after_restore_changes_nothing(make_config):
    loop.train(make_config(train_steps=2))
    workdir = make_config().rundir.workdir
    before = snapshot(workdir)
    with pytest.raises(UserError, match="larger than the 64 examples"):
        loop.train(make_config(train_steps=4, global_batch_size=128, keep_checkpoints=1))
    assert snapshot(workdir) == before


def _no_space(*args, **kwargs):
    del args, kwargs
    raise tf.errors.ResourceExhaustedError(None, None, "x.tmp; No space left on device")


def _constant_images(ctx, start_step):
    del ctx
    return tf.data.Dataset.range(start_step, 10**6).map(lambda s: tf.fill([8, 28, 28, 1], 0.5))


@pytest.mark.slow
def test_failing_grids_gif_and_tensorboard_warn_once_and_training_goes_on(
        make_config, monkeypatch, caplog):
    monkeypatch.setattr(grids, "encode_png", _no_space)
    monkeypatch.setattr(grids, "write_gif", _no_space)
    monkeypatch.setattr(tf.summary, "scalar", _no_space)
    config = make_config(train_steps=4, sample_every_steps=1, ckpt_every_steps=2)
    with caplog.at_level(logging.WARNING):
        loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert [r["step"] for r in progress.read_stats(config.rundir.workdir)] == [1, 2, 3, 4]
    assert tf.train.latest_checkpoint(f"{config.rundir.workdir}/ckpt").endswith("ckpt-4")
    warnings = [r.getMessage() for r in caplog.records if "Could not write" in r.getMessage()]
    assert sorted(w.split(" (")[0] for w in warnings) == [
        "Could not write TensorBoard summaries", "Could not write samples.gif",
        "Could not write the sample grids"], warnings  # once each, not once per step
    assert all("No space left on device" in w for w in warnings)


@pytest.mark.slow
def test_a_failing_checkpoint_stops_keeps_the_previous_one_and_is_cleaned_up(
        make_config, monkeypatch):
    save = tf.train.CheckpointManager.save

    def save_fails_at_4(self, checkpoint_number=None, **kwargs):
        if checkpoint_number == 4:  # what a full disk leaves: TensorFlow's temporary folder
            os.makedirs(f"{self.directory}/ckpt-4_temp")
            open(f"{self.directory}/ckpt-4_temp/part-00000-of-00001.data", "wb").close()
            _no_space()
        return save(self, checkpoint_number=checkpoint_number, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save_fails_at_4)
    config = make_config(train_steps=6, ckpt_every_steps=2)
    ckpt_dir = f"{config.rundir.workdir}/ckpt"
    with pytest.raises(WriteFailedError) as raised:
        loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert str(raised.value) == (
        f"could not write the checkpoint {ckpt_dir}/ckpt-4 at step 4 (No space left on device); "
        f"the last checkpoint {ckpt_dir}/ckpt-2 is kept: free space or restore write access, "
        "then rerun the same command to resume")
    assert raised.value.exit_code == 5
    assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-2")
    assert not (os.path.exists(f"{config.rundir.workdir}/hold.json")), "the hold outlived the run"

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    state = loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert int(state.step.numpy()) == 6
    assert not os.path.exists(f"{ckpt_dir}/ckpt-4_temp")
    assert [r["step"] for r in progress.read_stats(config.rundir.workdir)] == list(range(1, 7))


def test_a_failing_stats_line_stops_the_run_naming_the_file_and_step(make_config, monkeypatch):
    config = make_config(train_steps=4, ckpt_every_steps=2)
    append = tf.io.gfile.GFile.write

    def write(self, data):
        if self.name.endswith("stats.jsonl") and '"step": 3' in str(data):
            _no_space()
        return append(self, data)

    monkeypatch.setattr(tf.io.gfile.GFile, "write", write)
    workdir = config.rundir.workdir
    with pytest.raises(WriteFailedError, match=rf"could not write {workdir}/stats.jsonl "
                                               r"at step 3 \(No space left on device\)"):
        loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert tf.train.latest_checkpoint(f"{workdir}/ckpt").endswith("ckpt-2")


def _truncated_copy(tiny_data_dir, tmp_path, keep_bytes):
    data_dir = tmp_path / "tfds"
    shutil.copytree(tiny_data_dir, data_dir)
    path = data_dir / "mnist" / "3.0.1" / "mnist-train.tfrecord-00000-of-00001"
    path.write_bytes(path.read_bytes()[:keep_bytes(path.stat().st_size)])
    return str(data_dir), str(path)


@pytest.mark.slow
def test_a_damaged_record_mid_run_names_the_file_the_step_and_the_kept_checkpoint(
        make_config, tiny_data_dir, tmp_path):
    data_dir, path = _truncated_copy(tiny_data_dir, tmp_path, lambda size: size * 3 // 4 + 30)
    config = make_config(data_dir=data_dir, train_steps=20, ckpt_every_steps=2)

    def streaming(ctx, start_step):  # a stand-in for a streaming source: reads as it trains
        del ctx
        records = tf.data.TFRecordDataset(path).batch(8).skip(start_step)
        return records.map(lambda r: tf.fill([8, 28, 28, 1], 0.5))

    with pytest.raises(UserError) as raised:
        loop.train(config, strategy=one_replica(), dataset_fn=streaming)
    # 64 records of one size, cut inside the 49th (past its 12-byte header: a cut in a header
    # reads as a shorter file, which only the record count reveals): 6 batches of 8 read
    # whole, and step 7 meets the cut.
    message = str(raised.value)
    assert message.startswith(f"{path} cannot be read (truncated record at ")
    assert (f"at step 7; the last checkpoint {config.rundir.workdir}/ckpt/ckpt-6 is kept: delete "
            in message)
    assert message.endswith(
        f"prepare it again with: dcgan-data prepare mnist --data_dir={data_dir}")


def test_a_file_cut_on_a_record_border_is_found_by_its_record_count(tiny_data_dir, tmp_path):
    files = [(p, n) for p, n in damaged.split_files(
        types.SimpleNamespace(dataset="mnist", data_dir=tiny_data_dir, split="train"))]
    assert len(files) == 1 and files[0][1] == 64
    assert damaged.unreadable_files(files) == []
    records = list(tf.data.TFRecordDataset(files[0][0]).take(32))
    copy = str(tmp_path / "half.tfrecord")
    with tf.io.TFRecordWriter(copy) as writer:
        for record in records:
            writer.write(record.numpy())
    assert damaged.unreadable_files([(copy, 64)]) == [
        (copy, "32 records where 64 were written")]


def test_messages_before_the_first_checkpoint_never_say_none(tmp_path):
    state = types.SimpleNamespace(step=tf.Variable(0, dtype=tf.int64),
                                  checkpoint=lambda: tf.train.Checkpoint(step=state.step))
    kept = checkpoints.Checkpoints(state, str(tmp_path), 1).kept()
    assert kept == "there is no checkpoint yet (a rerun starts from step 0)"
    placement = strategy_lib.place(Config.of(workdir=str(tmp_path)).runtime, one_replica())
    error = workers.peer_lost(placement, tf.errors.UnavailableError(
        None, None, "/job:worker/task:1 gone"), "during steps 1-1", kept)
    assert "None" not in str(error) and kept in str(error)


@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(make_config, caplog):
    config = make_config(train_steps=6, ckpt_every_steps=3)
    loop.train(config)
    data_file = f"{config.rundir.workdir}/ckpt/ckpt-6.data-00000-of-00001"
    with open(data_file, "rb") as f:
        content = f.read()
    with open(data_file, "wb") as f:
        f.write(content[:1000])  # truncated, as by a full disk
    with caplog.at_level(logging.INFO):
        state = loop.train(make_config(train_steps=9, ckpt_every_steps=3))
    assert "ckpt-6 is damaged" in caplog.text and "falling back to" in caplog.text
    assert "ckpt-3 at step 3" in caplog.text  # resumed from the previous good one
    assert int(state.step.numpy()) == 9
    assert checkpoint_step(latest_checkpoint(config.rundir.workdir)) == 9
    assert [r["step"] for r in progress.read_stats(config.rundir.workdir)] == list(range(1, 10))
    # Every checkpoint damaged: stop and say so; never start from scratch over them.
    for name in os.listdir(f"{config.rundir.workdir}/ckpt"):
        if name.endswith(".index"):
            with open(f"{config.rundir.workdir}/ckpt/{name}", "wb") as f:
                f.write(b"garbage")
    with pytest.raises(UserError, match="no readable checkpoint"):
        loop.train(make_config(train_steps=12, ckpt_every_steps=3))


def test_a_truncated_tfrecord_is_one_line_naming_the_file_and_the_fix(tiny_data_dir, tmp_path,
                                                                      capsys):
    data_dir = tmp_path / "tfds"
    shutil.copytree(tiny_data_dir, data_dir)  # the session's dataset stays whole
    train_file = data_dir / "mnist" / "3.0.1" / "mnist-train.tfrecord-00000-of-00001"
    content = train_file.read_bytes()
    train_file.write_bytes(content[:len(content) // 2 + 7])  # cut inside a record
    workdir = tmp_path / "run"
    workdir.mkdir()
    code, _, err = run_in_process(train.run, "dcgan-train", [
        f"--workdir={workdir}", f"--data_dir={data_dir}", "--global_batch_size=8",
        "--train_steps=2", "--g_filters=8", "--d_filters=4", "--precision=float32"], capsys)
    assert code == 2, err[-2000:]
    assert last_line(err).startswith(f"dcgan-train: error: {train_file} cannot be read ("), err
    assert last_line(err).endswith(f": delete {train_file.parent} and prepare it again with: "
                                   f"dcgan-data prepare mnist --data_dir={data_dir}")
    assert snapshot(workdir) == {}
