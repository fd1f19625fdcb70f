"""What only a process of its own can show: kill -9, SIGTERM (exit 42), Ctrl-C (exit 130) and
a second Ctrl-C, a work directory another process holds, and a real full disk (exit 5). Every
finished step is kept, the resumed run is the uninterrupted one (with --deterministic), the
artifacts stay whole, and each ending is one line naming what to do."""

import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import time

import imageio.v3 as iio
import pytest

from dcgan_dist.programs import train
from dcgan_dist.rundir.progress import read_stats
from helpers import (assert_same_checkpoints, checkpoint_step, ignores_sigint, last_line,
                     latest_checkpoint, run_cli, run_in_process, start_cli, tiny_run_args,
                     wait_for)

# Steps of the interrupted run and of the straight one it must equal: enough that the run
# holding the directory is still going when the second writer has been refused (60 were not
# always, on a fast 2-core VM).
END = 120


def _stop_line(log, name):
    """(step, text) of a run's last line, `name` at step N: checkpoint saved as ..."""
    last = last_line(log.read_text())
    match = re.fullmatch(rf"dcgan-train: error: {name} at step (\d+): checkpoint saved as "
                         r"(\S+); rerun the same command to resume", last)
    assert match, log.read_text()[-3000:]
    return int(match.group(1)), match.group(2)


@pytest.mark.slow
def test_kill_9_sigterm_and_ctrl_c_then_the_same_command_is_the_straight_run(tmp_path, capsys):
    """One run interrupted every way a run is, then finished with the same command:

    - kill -9: never a partial checkpoint, and the next start (the SIGTERM run's) takes over
      the dead run's hold with a warning;
    - a second dcgan-train on the directory while a run holds it: exit 2 naming the holder,
      nothing written;
    - SIGTERM: a checkpoint of that step, exit 42; Ctrl-C: the same, exit 130, no traceback;
    - the final run resumes from the newest checkpoint: every step logged once, every grid and
      GIF frame there, no temporary file, and the weights of a run never interrupted.
    """
    workdir, rng = tmp_path / "run", random.Random(0)
    args = tiny_run_args(workdir, tmp_path, "--ckpt_every_steps=3", "--sample_every_steps=6",
                         train_steps=END, log_every_steps=1, deterministic=True)
    proc = start_cli(args, tmp_path / "kill.log")
    # Killed a few steps in, by step count rather than by time: on a fast machine the rest of
    # the run can finish within a fixed delay, and then nothing is killed.
    wait_for(lambda: len(read_stats(workdir)) >= rng.randint(4, 8), proc)
    time.sleep(rng.uniform(0.0, 0.05))
    assert proc.poll() is None, "the run ended before kill -9: the test proved nothing"
    proc.kill()
    proc.wait()
    killed = proc.pid
    assert json.loads((workdir / "hold.json").read_text())["pid"] == killed
    latest = latest_checkpoint(workdir)  # never a partial checkpoint: the latest one reads
    last_ckpt_step = checkpoint_step(latest) if latest else 0
    assert not latest or latest.endswith(f"ckpt-{last_ckpt_step}")

    log = tmp_path / "term.log"
    proc = start_cli(args, log)
    wait_for(lambda: len(read_stats(workdir)) >= last_ckpt_step + 4, proc)
    assert re.search(rf"Taking over the hold of {workdir} from a run that ended without "
                     rf"releasing it \(host \S+, process {killed}, started ", log.read_text())
    started = time.monotonic()
    code, _, err = run_in_process(train.run, "dcgan-train", args, capsys)  # a second writer
    assert proc.poll() is None, "the run ended: the held-directory check proved nothing"
    assert code == 2, err[-2000:]
    assert re.fullmatch(
        rf"dcgan-train: error: --workdir={workdir} is in use by another dcgan-train run \(host "
        rf"{re.escape(socket.gethostname())}, process {proc.pid}, started \d{{4}}-\d\d-\d\dT"
        r"\d\d:\d\d:\d\d[+-]\d\d:\d\d\); wait for it to end or stop it, or choose another "
        r"--workdir", last_line(err)), err
    assert time.monotonic() - started < 60, "the second run was slow to give up"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 42, log.read_text()[-3000:]
    step, path = _stop_line(log, "SIGTERM")
    assert step < END and path == f"{workdir}/ckpt/ckpt-{step}"
    assert checkpoint_step(latest_checkpoint(workdir)) == step

    log = tmp_path / "ctrl_c.log"
    proc = start_cli(args, log)
    assert not ignores_sigint(proc.pid), "the child ignores SIGINT: the test would prove nothing"
    wait_for(lambda: len(read_stats(workdir)) >= step + 3, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, log.read_text()[-3000:]
    assert f"ckpt-{step} at step {step}" in log.read_text()  # it resumed from SIGTERM's
    step, path = _stop_line(log, "Ctrl-C")
    assert step < END and path == f"{workdir}/ckpt/ckpt-{step}"
    assert checkpoint_step(latest_checkpoint(workdir)) == step
    assert "Traceback" not in log.read_text() and "KeyboardInterrupt" not in log.read_text()
    assert [r["step"] for r in read_stats(workdir)] == list(range(1, step + 1))

    result = run_cli("dcgan-train", args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ckpt-{step} at step {step}" in result.stderr
    assert [r["step"] for r in read_stats(workdir)] == list(range(1, END + 1))
    grids = sorted(os.listdir(workdir / "samples"))
    assert grids == [f"step_{s:06d}.png" for s in range(6, END + 1, 6)]
    assert iio.imread(workdir / "samples.gif", index=None).shape[0] == len(grids)
    assert not [f for f in os.listdir(workdir) if f.endswith(".tmp")]
    assert not (workdir / "hold.json").exists()

    # Its checkpoints and grids along the way do not change the weights: only the last is kept.
    straight = run_cli("dcgan-train", [*args, f"--workdir={tmp_path / 'straight'}",
                                       f"--ckpt_every_steps={END}", f"--sample_every_steps={END}"])
    assert straight.returncode == 0, straight.stderr[-2000:]
    assert_same_checkpoints(tmp_path / "straight", workdir)


@pytest.mark.slow
def test_a_second_ctrl_c_exits_at_once_and_keeps_the_previous_checkpoint(tmp_path):
    workdir, log = tmp_path / "run", tmp_path / "run.log"
    # Executions of 100 steps (a second or more): the second Ctrl-C lands before the first
    # one's checkpoint could be saved.
    proc = start_cli(tiny_run_args(workdir, tmp_path, "--ckpt_every_steps=100",
                                   "--log_every_steps=100", "--steps_per_execution=100",
                                   "--sample_every_steps=100000", "--train_steps=100000",
                                   deterministic=True), log)
    wait_for(lambda: latest_checkpoint(workdir) is not None, proc)
    proc.send_signal(signal.SIGINT)
    # Two signals sent back to back merge into one: wait until the first was seen.
    wait_for(lambda: "Ctrl-C again stops at once" in log.read_text(), proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130, log.read_text()[-3000:]
    last = last_line(log.read_text())
    assert last.startswith("dcgan-train: error: second Ctrl-C: stopped at once"), last
    kept = re.search(r"the last checkpoint (\S+) is kept; rerun the same command", last)
    assert kept, last
    # The checkpoint the line names is still the newest listed, and it reads.
    latest = latest_checkpoint(workdir)
    assert latest == kept.group(1)
    assert checkpoint_step(latest) == int(latest.rsplit("-", 1)[1])


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


@pytest.mark.slow
def test_a_full_disk_stops_with_exit_5_keeps_the_checkpoint_and_cleans_up_next_start(
        tmp_path, small_disk, capsys, caplog):
    workdir, log = small_disk / "run", tmp_path / "run.log"
    # Logs and grids only at the end: the first write to meet the full disk is a checkpoint.
    args = tiny_run_args(workdir, tmp_path, "--ckpt_every_steps=3",
                         "--sample_every_steps=100000", "--log_every_steps=100000",
                         deterministic=True)
    proc = start_cli([*args, "--train_steps=100000"], log)
    wait_for(lambda: latest_checkpoint(workdir) is not None, proc)
    _fill(small_disk)
    assert proc.wait(timeout=120) == 5, log.read_text()[-3000:]
    match = re.fullmatch(
        rf"dcgan-train: error: could not write the checkpoint {workdir}/ckpt/ckpt-(\d+) at step "
        r"(\d+) \(No space left on device\); the last checkpoint (\S+) is kept: free space or "
        r"restore write access, then rerun the same command to resume", last_line(log.read_text()))
    assert match and match.group(1) == match.group(2), log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()
    latest = latest_checkpoint(workdir)
    assert latest == match.group(3) and checkpoint_step(latest) < int(match.group(1))
    # Where the disk filled decides the leftover: the save's `ckpt-N_temp/` folder, or the
    # `checkpoint.tmp...` file of the index update after it.
    def leftovers():
        return [p.name for p in (workdir / "ckpt").iterdir()
                if p.name.endswith("_temp") or ".tmp" in p.name]
    assert leftovers(), os.listdir(workdir / "ckpt")

    # Space again: the same command (here in this process, without op determinism, which
    # would stay on for the tests after it) resumes and removes the failed save's leftovers.
    (small_disk / "filler").unlink()
    kept_step = checkpoint_step(latest)
    resume = [a for a in args if a != "--deterministic"] + [f"--train_steps={kept_step + 1}"]
    with caplog.at_level(logging.INFO):
        code, _, err = run_in_process(train.run, "dcgan-train", resume, capsys)
    assert code == 0, err[-2000:]
    assert f"ckpt-{kept_step} at step {kept_step}" in caplog.text and "Removed" in caplog.text
    assert not leftovers(), os.listdir(workdir / "ckpt")
    assert checkpoint_step(latest_checkpoint(workdir)) == kept_step + 1


@pytest.mark.parametrize("code, leaves_at_once", [(130, True), (42, True), (4, True),
                                                  (2, False), (0, False)])
def test_the_console_leaves_at_once_after_a_saved_stop(code, leaves_at_once, monkeypatch):
    """After a stop that saved and said so, the console skips interpreter teardown, where a
    multi-worker run's collective threads could still abort the process (exit -6, not 130);
    every other exit goes through SystemExit as usual."""
    from dcgan_dist import signals
    from dcgan_dist.programs import console

    class Program:
        @staticmethod
        def run():
            raise SystemExit(code)

    drained, left = [], []
    monkeypatch.setattr(console.importlib, "import_module", lambda name: Program)
    monkeypatch.setattr(console.sys, "argv", ["/venv/bin/dcgan-train"])
    monkeypatch.setattr(signals, "BEFORE_IMMEDIATE_EXIT", [lambda: drained.append(1)])
    monkeypatch.setattr(signals.os, "_exit", lambda c: left.append(c) or (_ for _ in ()).throw(
        RuntimeError("left")))
    with pytest.raises(RuntimeError if leaves_at_once else SystemExit):
        console.main()
    assert left == ([code] if leaves_at_once else [])
    assert drained == ([1] if leaves_at_once else [])  # the stderr filter drained first
