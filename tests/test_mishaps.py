"""Everyday mishaps through the real entry point: Ctrl-C, a second run on one work directory, a
full disk, a damaged dataset file. Each ends in one line and a code of its own, losing nothing."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from cli import (checkpoint_step, checkpoint_weights, ignores_sigint, run_cli, snapshot,
                 start_cli)

# A small model: fast steps and a checkpoint of about half a megabyte.
SMALL = ["--g_filters=8", "--d_filters=4"]


def _args(workdir, tmp, *extra):
    return [f"--workdir={workdir}", "--synthetic_data", f"--data_dir={tmp}/no_data",
            "--global_batch_size=4", "--log_every_steps=1", "--deterministic",
            "--precision=float32", *SMALL, *extra]  # not auto: the same arithmetic on every CPU


def _stats_steps(workdir):
    path = workdir / "stats.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def _wait_for(condition, proc, timeout_secs=120):
    deadline = time.monotonic() + timeout_secs
    while not condition():
        assert proc.poll() is None, "the run ended before the test could act"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)


def _last_line(path):
    return path.read_text().strip().splitlines()[-1]


def test_ctrl_c_saves_the_current_step_exits_130_and_resumes_exactly(tmp_path):
    workdir, log = tmp_path / "run", tmp_path / "run.log"
    args = _args(workdir, tmp_path, "--ckpt_every_steps=1000", "--sample_every_steps=1000")
    proc = start_cli([*args, "--train_steps=100000"], log)
    assert not ignores_sigint(proc.pid), "the child ignores SIGINT: the test would prove nothing"
    _wait_for(lambda: len(_stats_steps(workdir)) >= 3, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, log.read_text()[-3000:]
    last = _last_line(log)
    match = re.fullmatch(r"dcgan-train: error: Ctrl-C at step (\d+): checkpoint saved as "
                         r"(\S+); rerun the same command to resume", last)
    assert match, last
    step = int(match.group(1))
    assert match.group(2) == f"{workdir}/ckpt/ckpt-{step}"
    assert "Traceback" not in log.read_text() and "KeyboardInterrupt" not in log.read_text()
    assert checkpoint_step(tf.train.latest_checkpoint(str(workdir / "ckpt"))) == step
    assert _stats_steps(workdir) == list(range(1, step + 1))

    # The same command resumes; with --deterministic it ends where a straight run ends.
    end = step + 2
    resumed = run_cli([*args, f"--train_steps={end}"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"ckpt-{step} at step {step}" in resumed.stderr
    straight = run_cli([*_args(tmp_path / "straight", tmp_path, "--ckpt_every_steps=1000",
                               "--sample_every_steps=1000"), f"--train_steps={end}"])
    assert straight.returncode == 0, straight.stderr[-2000:]
    a = checkpoint_weights(tf.train.latest_checkpoint(str(tmp_path / "straight" / "ckpt")))
    b = checkpoint_weights(tf.train.latest_checkpoint(str(workdir / "ckpt")))
    assert a.keys() == b.keys() and len(a) > 22
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_a_second_ctrl_c_exits_at_once_and_keeps_the_previous_checkpoint(tmp_path):
    workdir, log = tmp_path / "run", tmp_path / "run.log"
    # Executions of 100 steps (a second or more): the second Ctrl-C lands before the first
    # one's checkpoint could be saved.
    proc = start_cli(_args(workdir, tmp_path, "--ckpt_every_steps=100", "--log_every_steps=100",
                           "--steps_per_execution=100", "--sample_every_steps=100000",
                           "--train_steps=100000"), log)
    _wait_for(lambda: tf.train.latest_checkpoint(str(workdir / "ckpt")) is not None, proc)
    proc.send_signal(signal.SIGINT)
    # Two signals sent back to back merge into one: wait until the first was seen.
    _wait_for(lambda: "Ctrl-C again stops at once" in log.read_text(), proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130, log.read_text()[-3000:]
    last = _last_line(log)
    assert last.startswith("dcgan-train: error: second Ctrl-C: stopped at once"), last
    kept = re.search(r"the last checkpoint (\S+) is kept; rerun the same command", last)
    assert kept, last
    # The checkpoint the line names is still the newest listed, and it reads.
    latest = tf.train.latest_checkpoint(str(workdir / "ckpt"))
    assert latest == kept.group(1)
    assert checkpoint_step(latest) == int(latest.rsplit("-", 1)[1])


def test_a_second_run_on_a_held_workdir_exits_2_naming_the_holder(tmp_path):
    workdir, log = tmp_path / "run", tmp_path / "first.log"
    args = _args(workdir, tmp_path, "--ckpt_every_steps=1000", "--sample_every_steps=2")
    first = start_cli([*args, "--train_steps=100000"], log)
    _wait_for(lambda: len(_stats_steps(workdir)) >= 2, first)
    started = time.monotonic()
    second = run_cli([*args, "--train_steps=3"])  # finite: without the hold it would end
    waited = time.monotonic() - started
    assert first.poll() is None, "the first run ended: the test proved nothing"
    last = second.stderr.strip().splitlines()[-1]
    assert second.returncode == 2, second.stderr[-2000:]
    assert re.fullmatch(
        rf"dcgan-train: error: --workdir={workdir} is in use by another dcgan-train run \(host "
        rf"{re.escape(socket.gethostname())}, process {first.pid}, started \d{{4}}-\d\d-\d\dT"
        r"\d\d:\d\d:\d\d[+-]\d\d:\d\d\); wait for it to end or stop it, or choose another "
        r"--workdir", last), last
    assert " step " not in second.stderr, "the second run trained"
    assert waited < 60, f"the second run took {waited:.0f}s to give up"

    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 42, log.read_text()[-3000:]
    step = int(_last_line(log).split(" at step ")[1].split(":")[0])
    assert _stats_steps(workdir) == list(range(1, step + 1))  # one writer: no step twice
    assert not (workdir / "hold.json").exists()


def test_a_hold_left_by_a_killed_run_is_taken_over_with_a_warning(tmp_path):
    workdir = tmp_path / "run"
    args = _args(workdir, tmp_path, "--ckpt_every_steps=2", "--sample_every_steps=1000")
    first = start_cli([*args, "--train_steps=100000"], tmp_path / "first.log")
    _wait_for(lambda: tf.train.latest_checkpoint(str(workdir / "ckpt")) is not None, first)
    first.kill()
    first.wait()
    assert json.loads((workdir / "hold.json").read_text())["pid"] == first.pid
    step = checkpoint_step(tf.train.latest_checkpoint(str(workdir / "ckpt")))

    result = run_cli([*args, f"--train_steps={step + 1}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(rf"Taking over the hold of {workdir} from a run that ended without "
                     rf"releasing it \(host \S+, process {first.pid}, started ", result.stderr)
    assert _stats_steps(workdir) == list(range(1, step + 2))
    assert not (workdir / "hold.json").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs (the test runs as root in the sandbox); unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); "
                    "test_loop's in-process write-failure tests cover the same code")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill(folder):
    """Writes a file until the disk is full."""
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_a_full_disk_stops_with_exit_5_keeps_the_checkpoint_and_cleans_up_next_start(
        tmp_path, small_disk):
    workdir, log = small_disk / "run", tmp_path / "run.log"
    # Logs and grids only at the end: the first write to meet the full disk is a checkpoint.
    args = _args(workdir, tmp_path, "--ckpt_every_steps=3", "--sample_every_steps=100000",
                 "--log_every_steps=100000")
    proc = start_cli([*args, "--train_steps=100000"], log)
    _wait_for(lambda: tf.train.latest_checkpoint(str(workdir / "ckpt")) is not None, proc)
    _fill(small_disk)
    assert proc.wait(timeout=120) == 5, log.read_text()[-3000:]
    last = _last_line(log)
    match = re.fullmatch(
        rf"dcgan-train: error: could not write the checkpoint {workdir}/ckpt/ckpt-(\d+) at step "
        r"(\d+) \(No space left on device\); the last checkpoint (\S+) is kept: free space or "
        r"restore write access, then rerun the same command to resume", last)
    assert match and match.group(1) == match.group(2), last
    assert "Traceback" not in log.read_text()
    latest = tf.train.latest_checkpoint(str(workdir / "ckpt"))
    assert latest == match.group(3) and checkpoint_step(latest) < int(match.group(1))
    leftovers = list((workdir / "ckpt").glob("ckpt-*_temp"))
    assert leftovers, os.listdir(workdir / "ckpt")

    (small_disk / "filler").unlink()
    kept_step = checkpoint_step(latest)
    result = run_cli([*args, f"--train_steps={kept_step + 1}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ckpt-{kept_step} at step {kept_step}" in result.stderr
    assert not list((workdir / "ckpt").glob("*_temp")) and "Removed" in result.stderr
    assert checkpoint_step(tf.train.latest_checkpoint(str(workdir / "ckpt"))) == kept_step + 1


def test_a_truncated_tfrecord_is_one_line_naming_the_file_and_the_fix(tiny_data_dir, tmp_path):
    data_dir = tmp_path / "tfds"
    shutil.copytree(tiny_data_dir, data_dir)  # the session's dataset stays whole
    train_file = data_dir / "mnist" / "3.0.1" / "mnist-train.tfrecord-00000-of-00001"
    content = train_file.read_bytes()
    train_file.write_bytes(content[:len(content) // 2 + 7])  # cut inside a record
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = run_cli([f"--workdir={workdir}", f"--data_dir={data_dir}", "--global_batch_size=8",
                      "--train_steps=2", *SMALL])
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2, result.stderr[-2000:]
    assert last.startswith(f"dcgan-train: error: {train_file} cannot be read ("), last
    assert last.endswith(f": delete {train_file.parent} and prepare it again with: "
                         f"dcgan-data prepare mnist --data_dir={data_dir}"), last
    assert snapshot(workdir) == {}
