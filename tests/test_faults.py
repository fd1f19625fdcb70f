"""Kills and preemption: every finished step is kept, resumes are exact, artifacts stay whole."""

import json
import os
import random
import signal
import time

import imageio.v3 as iio
import numpy as np
import tensorflow as tf

from cli import checkpoint_step, checkpoint_weights, run_cli, start_cli

STEPS = 24


def _args(workdir, tmp):
    # --deterministic: with op determinism the resumed run must equal the uninterrupted one.
    return [f"--workdir={workdir}", "--synthetic_data", f"--data_dir={tmp}/no_data",
            "--global_batch_size=4", f"--train_steps={STEPS}", "--log_every_steps=1",
            "--sample_every_steps=3", "--ckpt_every_steps=3", "--deterministic",
            "--precision=float32"]  # not auto: the same arithmetic on every CPU


def _stats_lines(workdir):
    path = workdir / "stats.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def _wait_for_progress(proc, workdir, lines, timeout_secs=120):
    deadline = time.monotonic() + timeout_secs
    while len(_stats_lines(workdir)) < lines and proc.poll() is None:
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)


def test_repeated_kill_9_resumes_exactly_and_keeps_artifacts_consistent(tmp_path):
    straight = tmp_path / "straight"
    assert run_cli(_args(straight, tmp_path)).returncode == 0

    workdir, rng = tmp_path / "killed", random.Random(0)
    last_ckpt_step, kills = 0, 0
    for attempt in range(3):
        proc = start_cli(_args(workdir, tmp_path), tmp_path / f"attempt{attempt}.log")
        # Kill a few steps in, by step count rather than by time: on a fast machine the
        # rest of a 24-step run can finish within a fixed delay, and then nothing is killed.
        _wait_for_progress(proc, workdir, len(_stats_lines(workdir)) + rng.randint(1, 4))
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
        latest = tf.train.latest_checkpoint(str(workdir / "ckpt"))
        if latest:  # never a partial checkpoint: the latest one always reads, never goes back
            step = checkpoint_step(latest)
            assert step >= last_ckpt_step and latest.endswith(f"ckpt-{step}")
            last_ckpt_step = step
    assert kills >= 2, "the kills did not land mid-run; the test proved nothing"

    result = run_cli(_args(workdir, tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    stats = [json.loads(line) for line in _stats_lines(workdir)]
    assert [r["step"] for r in stats] == list(range(1, STEPS + 1))
    grids = sorted(os.listdir(workdir / "samples"))
    assert grids == [f"step_{s:06d}.png" for s in range(3, STEPS + 1, 3)]
    assert iio.imread(workdir / "samples.gif", index=None).shape[0] == len(grids)
    assert not [f for f in os.listdir(workdir) if f.endswith(".tmp")]

    a = checkpoint_weights(tf.train.latest_checkpoint(str(straight / "ckpt")))
    b = checkpoint_weights(tf.train.latest_checkpoint(str(workdir / "ckpt")))
    assert a.keys() == b.keys() and len(a) > 22
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_sigterm_saves_the_current_step_and_exits_42(tmp_path):
    workdir = tmp_path / "run"
    args = _args(workdir, tmp_path)[:-1] + ["--ckpt_every_steps=1000", "--train_steps=100000"]
    proc = start_cli(args, tmp_path / "run.log")
    _wait_for_progress(proc, workdir, 4)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 42
    last = (tmp_path / "run.log").read_text().strip().splitlines()[-1]
    assert last.startswith("dcgan-train: error: SIGTERM at step "), last
    step = int(last.split("SIGTERM at step ")[1].split(":")[0])
    latest = tf.train.latest_checkpoint(str(workdir / "ckpt"))
    assert latest.endswith(f"ckpt-{step}") and checkpoint_step(latest) == step

    result = run_cli(args[:-1] + [f"--train_steps={step + 2}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ckpt-{step} at step {step}" in result.stderr
    assert json.loads(_stats_lines(workdir)[-1])["step"] == step + 2


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    workdir = tmp_path / "run"
    args = _args(workdir, tmp_path)[:-1] + ["--train_steps=6"]
    assert run_cli(args).returncode == 0
    data_file = workdir / "ckpt" / "ckpt-6.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:1000])  # truncated, as by a full disk
    result = run_cli(args[:-1] + ["--train_steps=9"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ckpt-6 is damaged" in result.stderr and "falling back to" in result.stderr
    assert "ckpt-3 at step 3" in result.stderr  # resumed from the previous good one
    assert checkpoint_step(tf.train.latest_checkpoint(str(workdir / "ckpt"))) == 9
    steps = [json.loads(line)["step"] for line in _stats_lines(workdir)]
    assert steps == list(range(1, 10))
    # Every checkpoint damaged: stop and say so; never start from scratch over them.
    for index in (workdir / "ckpt").glob("ckpt-*.index"):
        index.write_bytes(b"garbage")
    result = run_cli(args[:-1] + ["--train_steps=12"])
    assert result.returncode == 2
    assert "no readable checkpoint" in result.stderr.strip().splitlines()[-1]
