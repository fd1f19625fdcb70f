"""Write failures and damaged data inside the loop, in-process: a failing grid, GIF or
TensorBoard write warns once and training goes on; a failing checkpoint or stats.jsonl write
stops with WriteFailedError; a damaged record mid-run names the file and the step. The real
full disk (a tmpfs) is in test_mishaps.py; here the writes are made to fail by monkeypatch."""

import logging
import os
import shutil
import types

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import UserError, WriteFailedError, damaged_data, loop, metrics, samples
from dcgan_dist import state as state_lib
from conftest import one_replica


def _no_space(*args, **kwargs):
    del args, kwargs
    raise tf.errors.ResourceExhaustedError(None, None, "x.tmp; No space left on device")


def _constant_images(ctx, start_step):
    del ctx
    return tf.data.Dataset.range(start_step, 10**6).map(lambda s: tf.fill([8, 28, 28, 1], 0.5))


def test_failing_grids_gif_and_tensorboard_warn_once_and_training_goes_on(
        make_config, monkeypatch, caplog):
    monkeypatch.setattr(samples, "encode_png", _no_space)
    monkeypatch.setattr(samples, "write_gif", _no_space)
    monkeypatch.setattr(tf.summary, "scalar", _no_space)
    config = make_config(train_steps=4, sample_every_steps=1, ckpt_every_steps=2)
    with caplog.at_level(logging.WARNING):
        loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert [r["step"] for r in metrics.read_stats(config.workdir)] == [1, 2, 3, 4]
    assert tf.train.latest_checkpoint(f"{config.workdir}/ckpt").endswith("ckpt-4")
    warnings = [r.getMessage() for r in caplog.records if "Could not write" in r.getMessage()]
    assert sorted(w.split(" (")[0] for w in warnings) == [
        "Could not write TensorBoard summaries", "Could not write samples.gif",
        "Could not write the sample grids"], warnings  # once each, not once per step
    assert all("No space left on device" in w for w in warnings)


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
    ckpt_dir = f"{config.workdir}/ckpt"
    with pytest.raises(WriteFailedError) as raised:
        loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert str(raised.value) == (
        f"could not write the checkpoint {ckpt_dir}/ckpt-4 at step 4 (No space left on device); "
        f"the last checkpoint {ckpt_dir}/ckpt-2 is kept: free space or restore write access, "
        "then rerun the same command to resume")
    assert raised.value.exit_code == 5
    assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-2")
    assert not (os.path.exists(f"{config.workdir}/hold.json")), "the hold outlived the run"

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    state = loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert int(state.step.numpy()) == 6
    assert not os.path.exists(f"{ckpt_dir}/ckpt-4_temp")
    assert [r["step"] for r in metrics.read_stats(config.workdir)] == list(range(1, 7))


def test_a_failing_stats_line_stops_the_run_naming_the_file_and_step(make_config, monkeypatch):
    config = make_config(train_steps=4, ckpt_every_steps=2)
    append = tf.io.gfile.GFile.write

    def write(self, data):
        if self.name.endswith("stats.jsonl") and '"step": 3' in str(data):
            _no_space()
        return append(self, data)

    monkeypatch.setattr(tf.io.gfile.GFile, "write", write)
    with pytest.raises(WriteFailedError, match=rf"could not write {config.workdir}/stats.jsonl "
                                               r"at step 3 \(No space left on device\)"):
        loop.train(config, strategy=one_replica(), dataset_fn=_constant_images)
    assert tf.train.latest_checkpoint(f"{config.workdir}/ckpt").endswith("ckpt-2")


def _truncated_copy(tiny_data_dir, tmp_path, keep_bytes):
    data_dir = tmp_path / "tfds"
    shutil.copytree(tiny_data_dir, data_dir)
    path = data_dir / "mnist" / "3.0.1" / "mnist-train.tfrecord-00000-of-00001"
    path.write_bytes(path.read_bytes()[:keep_bytes(path.stat().st_size)])
    return str(data_dir), str(path)


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
    assert (f"at step 7; the last checkpoint {config.workdir}/ckpt/ckpt-6 is kept: delete "
            in message)
    assert message.endswith(
        f"prepare it again with: dcgan-data prepare mnist --data_dir={data_dir}")


def test_a_file_cut_on_a_record_border_is_found_by_its_record_count(tiny_data_dir, tmp_path):
    files = [(p, n) for p, n in damaged_data.split_files(
        types.SimpleNamespace(dataset="mnist", data_dir=tiny_data_dir, split="train"))]
    assert len(files) == 1 and files[0][1] == 64
    assert damaged_data.unreadable_files(files) == []
    records = list(tf.data.TFRecordDataset(files[0][0]).take(32))
    copy = str(tmp_path / "half.tfrecord")
    with tf.io.TFRecordWriter(copy) as writer:
        for record in records:
            writer.write(record.numpy())
    assert damaged_data.unreadable_files([(copy, 64)]) == [
        (copy, "32 records where 64 were written")]


def test_messages_before_the_first_checkpoint_never_say_none(tmp_path):
    state = types.SimpleNamespace(step=tf.Variable(0, dtype=tf.int64))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=state.step), str(tmp_path), 1)
    run = types.SimpleNamespace(strategy=one_replica(), manager=manager)
    error = loop._peer_lost(run, tf.errors.UnavailableError(None, None, "/job:worker/task:1 gone"),
                            "during steps 1-1")
    assert "None" not in str(error)
    assert "there is no checkpoint yet (a rerun starts from step 0)" in str(error)
    assert "None" not in loop._second_interrupt_message(run)
    assert state_lib.kept_checkpoint(manager) == (
        "there is no checkpoint yet (a rerun starts from step 0)")
    np.testing.assert_equal(manager.latest_checkpoint, None)  # the case the phrase stands in for
