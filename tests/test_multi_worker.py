"""MultiWorkerMirroredStrategy for real: two worker processes on 127.0.0.1."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(tmp_path, flags, cmd_of, extra_of=lambda index: []):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1", TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        log = open(tmp_path / f"worker{index}.log", "w")
        # SIGINT at its default: a child of a background shell job would inherit it ignored.
        procs.append(subprocess.Popen(cmd_of(index) + flags + extra_of(index), env=env, stdout=log,
                                      stderr=subprocess.STDOUT, preexec_fn=lambda: signal.signal(
                                          signal.SIGINT, signal.SIG_DFL)))
    return procs


def _common_flags(workdir, tmp_path, **extra):
    flags = {"workdir": workdir, "strategy": "multi_worker", "synthetic_data": None,
             "data_dir": tmp_path / "no_data", "global_batch_size": 4, "log_every_steps": 1,
             "sample_every_steps": 2, "ckpt_every_steps": 2, **extra}
    return [f"--{k}" if v is None else f"--{k}={v}" for k, v in flags.items()]


def test_two_workers_train_in_lockstep_and_only_the_chief_writes(tmp_path):
    workdir = tmp_path / "run"
    # Synchronized BN: plain BN keeps per-worker moving statistics, which legitimately differ.
    flags = _common_flags(workdir, tmp_path, train_steps=4, collective_timeout_secs=120,
                          sync_batchnorm=None)
    procs = _start_workers(tmp_path, flags, lambda i: [
        sys.executable, os.path.join(HERE, "multi_worker_driver.py"), str(tmp_path / f"w{i}.npz")])
    codes = [p.wait(timeout=300) for p in procs]
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert int(w0["step"]) == int(w1["step"]) == 4
    arrays = [k for k in w0.files if k != "step"]
    assert len(arrays) == 22
    for key in arrays:
        np.testing.assert_array_equal(w0[key], w1[key])
    # Only the chief (worker 0) wrote artifacts; worker 1's temporary checkpoints are gone.
    assert sorted(os.listdir(workdir / "samples")) == ["step_000002.png", "step_000004.png"]
    assert [json.loads(l)["step"] for l in (workdir / "stats.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    assert sorted(os.listdir(workdir / "ckpt")) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index",
        "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    assert all("Multi-worker cluster" in log and "with 2 replica(s)" in log for log in logs)


@pytest.mark.parametrize("sig, reason", [
    (signal.SIGKILL, "task:1: it stopped answering"),
    (signal.SIGSTOP, "task:1: it stopped answering"),  # hung, not dead: the timeout ends it
])
def test_a_lost_or_hung_worker_ends_the_survivor_with_a_clear_error(tmp_path, sig, reason):
    workdir = tmp_path / "run"
    flags = _common_flags(workdir, tmp_path, train_steps=100000, collective_timeout_secs=20)
    procs = _start_workers(tmp_path, flags, lambda i: [sys.executable, "-m", "dcgan_dist.main"])
    stats = workdir / "stats.jsonl"
    deadline = time.monotonic() + 240
    while not (stats.exists() and len(stats.read_text().splitlines()) >= 3):
        assert time.monotonic() < deadline and procs[0].poll() is None, "no progress"
        time.sleep(0.5)
    procs[1].send_signal(sig)
    killed_at = time.monotonic()
    try:
        code = procs[0].wait(timeout=120)
    finally:
        procs[1].kill()
        procs[0].kill()
    waited = time.monotonic() - killed_at
    log = (tmp_path / "worker0.log").read_text()
    last = log.strip().splitlines()[-1]
    assert code == 4, log[-3000:]
    assert last.startswith("dcgan-train: error: lost a peer worker "), last
    assert reason in last and "restart every worker" in last
    assert waited < 60, f"survivor took {waited:.0f}s to notice"


def test_workers_that_restore_different_steps_refuse_to_train(tmp_path):
    """A worker without the shared work directory would start from scratch beside the chief."""
    chief_dir = tmp_path / "shared"
    first = subprocess.run([sys.executable, "-m", "dcgan_dist.main", *_common_flags(
        chief_dir, tmp_path, train_steps=2, strategy="cpu")], capture_output=True, text=True,
        timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    flags = _common_flags(chief_dir, tmp_path, train_steps=4, collective_timeout_secs=60)
    procs = _start_workers(tmp_path, flags, lambda i: [sys.executable, "-m", "dcgan_dist.main"],
                           lambda i: [f"--workdir={tmp_path / 'private'}"] if i else [])
    codes = [p.wait(timeout=300) for p in procs]
    last = (tmp_path / "worker0.log").read_text().strip().splitlines()[-1]
    assert codes == [2, 2], last
    assert "the workers restored different steps ([0, 2])" in last


def test_ctrl_c_on_one_worker_stops_every_worker_at_the_same_step(tmp_path):
    workdir = tmp_path / "run"
    flags = _common_flags(workdir, tmp_path, train_steps=100000, collective_timeout_secs=60,
                          sample_every_steps=100000, ckpt_every_steps=100000)
    procs = _start_workers(tmp_path, flags, lambda i: [sys.executable, "-m", "dcgan_dist.main"])
    stats = workdir / "stats.jsonl"
    deadline = time.monotonic() + 240
    while not (stats.exists() and len(stats.read_text().splitlines()) >= 3):
        assert time.monotonic() < deadline and procs[0].poll() is None, "no progress"
        time.sleep(0.5)
    procs[1].send_signal(signal.SIGINT)  # the non-chief: the chief must stop with it
    try:
        codes = [p.wait(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill()
    lasts = [(tmp_path / f"worker{i}.log").read_text().strip().splitlines()[-1] for i in range(2)]
    assert codes == [130, 130], lasts
    steps = {int(re.match(r"dcgan-train: error: Ctrl-C at step (\d+): checkpoint saved as ",
                          last).group(1)) for last in lasts}
    assert len(steps) == 1, lasts
    step = steps.pop()
    assert sorted(os.listdir(workdir / "ckpt")) == [
        "checkpoint", f"ckpt-{step}.data-00000-of-00001", f"ckpt-{step}.index"]
    assert [json.loads(line)["step"] for line in stats.read_text().splitlines()] == list(
        range(1, step + 1))
