"""MultiWorkerMirroredStrategy for real: two worker processes on 127.0.0.1, in each cluster
shape the launch paths make (TF_CONFIG workers, Vertex AI's chief plus worker, a SLURM step).
The SLURM resolver and the naming of a lost peer are tested in-process in test_strategy."""

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

from dcgan_dist.programs import train
from dcgan_dist.rundir import progress
from dcgan_dist.runtime import workers
from helpers import BIN, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "multi_worker_driver.py")


def _free_ports(n, consecutive=False):
    """`n` ports nothing listens on; `consecutive` for SLURM, whose tasks use base, base+1, ..."""
    while True:
        sockets = [socket.socket() for _ in range(n)]
        try:
            sockets[0].bind(("127.0.0.1", 0))
            first = sockets[0].getsockname()[1]
            for i, s in enumerate(sockets[1:], 1):
                s.bind(("127.0.0.1", first + i if consecutive else 0))
            return [s.getsockname()[1] for s in sockets]
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()


def _tf_config(tasks):
    """env_of for tasks like [("chief", 0), ("worker", 0)]: TF_CONFIG as a cluster manager sets it."""

    def env_of(index, ports):
        cluster = {}
        for (kind, _), port in zip(tasks, ports):
            cluster.setdefault(kind, []).append(f"127.0.0.1:{port}")
        kind, task_index = tasks[index]
        return {"TF_CONFIG": json.dumps({"cluster": cluster,
                                         "task": {"type": kind, "index": task_index}})}, []

    return env_of


TWO_WORKERS = _tf_config([("worker", 0), ("worker", 1)])


def _slurm(index, ports):
    """What `srun --ntasks=2` on one node sets for task `index` (no TF_CONFIG)."""
    return ({"SLURM_PROCID": str(index), "SLURM_STEP_NUM_TASKS": "2",
             "SLURM_STEP_NODELIST": "127.0.0.1", "SLURM_STEP_TASKS_PER_NODE": "2"},
            [f"--slurm_port_base={ports[0]}"])


def _start_workers(tmp_path, flags, driver_out=None, extra_of=lambda index: [],
                   env_of=TWO_WORKERS):
    """Two workers: dcgan-train itself, or the driver that also saves the final weights."""
    ports = _free_ports(2, consecutive=env_of is _slurm)
    procs = []
    for index in range(2):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "TF_CONFIG"))}
        cluster_env, cluster_flags = env_of(index, ports)
        env.update(cluster_env, TF_CPP_MIN_LOG_LEVEL="1")
        cmd = ([sys.executable, DRIVER, str(tmp_path / f"w{index}.npz"), *driver_out, "--"]
               if driver_out is not None else [os.path.join(BIN, "dcgan-train")])
        log = open(tmp_path / f"worker{index}.log", "w")
        # SIGINT at its default: a child of a background shell job would inherit it ignored.
        procs.append(subprocess.Popen(cmd + flags + cluster_flags + extra_of(index), env=env,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                       signal.SIG_DFL)))
    return procs


def _common_flags(workdir, tmp_path, **extra):
    flags = {"workdir": workdir, "strategy": "multi_worker", "synthetic_data": None,
             "data_dir": tmp_path / "no_data", "global_batch_size": 4, "log_every_steps": 1,
             "sample_every_steps": 2, "ckpt_every_steps": 2, "g_filters": 8, "d_filters": 4,
             "precision": "float32", **extra}
    return [f"--{k}" if v is None else f"--{k}={v}" for k, v in flags.items()]


def _logs(tmp_path):
    return [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]


# The objectives' paths once: lazy R1's conditional around the step (R1 on steps 0 and 2),
# the gradient penalty, spectral norm's u (3 more arrays) moved after each step.
OBJECTIVES = dict(loss="hinge", d_spectral_norm=None, d_gp_gamma=1, d_r1_gamma=1,
                  r1_every_steps=2)


# The chief's scoring at the end sleeps this much longer than the collective timeout, as
# scoring 10,000 images on the real Inception network on a CPU would; the timeout is long
# enough that the first step's tracing, which the tasks do at their own pace on a busy
# machine, never trips it.
EVAL_TIMEOUT_SECS = 20


@pytest.mark.slow
def test_two_tasks_train_in_lockstep_and_only_the_chief_writes(tmp_path, tiny_data_dir,
                                                               stand_in_inception):
    """srun without TF_CONFIG (SlurmClusterResolver; task 0 is the chief, as worker 0 is in
    launch/multi_worker.sh's and Kubeflow's TF_CONFIG, which the other tests here resolve),
    with the other objectives on. Both tasks generate the evaluation's images through the
    strategy; the chief then scores for longer than the collective timeout while task 1 waits
    at the evaluation's barrier, not in a train step."""
    workdir = tmp_path / "run"
    # Synchronized BN: plain BN keeps per-worker moving statistics, which legitimately differ.
    flags = _common_flags(workdir, tmp_path, train_steps=4,
                          collective_timeout_secs=EVAL_TIMEOUT_SECS, sync_batchnorm=None,
                          eval_every_steps=4, eval_num_images=16, data_dir=tiny_data_dir,
                          inception_path=stand_in_inception[0], **OBJECTIVES)
    procs = _start_workers(tmp_path, flags, driver_out=[str(EVAL_TIMEOUT_SECS + 1)],
                           env_of=_slurm)
    codes = [p.wait(timeout=300) for p in procs]
    logs = _logs(tmp_path)
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert int(w0["step"]) == int(w1["step"]) == 4
    arrays = [k for k in w0.files if k != "step"]
    assert len(arrays) == 25
    for key in arrays:
        np.testing.assert_array_equal(w0[key], w1[key])
    # Only the chief (task 0) wrote artifacts; the other task's temporary checkpoints are gone.
    assert sorted(os.listdir(workdir / "samples")) == ["step_000002.png", "step_000004.png"]
    records = [json.loads(line) for line in (workdir / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert sorted(os.listdir(workdir / "ckpt")) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index",
        "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    assert all("Multi-worker cluster" in log and "with 2 replica(s)" in log for log in logs)
    assert "Multi-worker cluster: {'worker': ['127.0.0.1:" in logs[0], logs[0][-3000:]
    evaluated = [r for r in records if "eval/fid" in r]
    assert [r["step"] for r in evaluated] == [4]
    for record in evaluated:
        assert record["eval/num_generated"] == 16 and sum(record["eval/class_histogram"]) == 16
        assert 1.0 <= record["eval/classifier_score"] <= 10.0 and record["eval/fid"] >= 0


@pytest.mark.slow
def test_ctrl_c_on_the_worker_of_a_chief_and_worker_cluster_stops_both_at_one_step(tmp_path):
    """Vertex AI's shape (a chief task beside the workers): the chief, not worker 0, writes;
    a Ctrl-C on the worker stops the chief at the same step, with one checkpoint of it."""
    workdir = tmp_path / "run"
    flags = _common_flags(workdir, tmp_path, train_steps=100000, collective_timeout_secs=60,
                          sample_every_steps=100000, ckpt_every_steps=100000)
    procs = _start_workers(tmp_path, flags, env_of=_tf_config([("chief", 0), ("worker", 0)]))
    stats = workdir / "stats.jsonl"
    wait_for(lambda: len(progress.read_stats(workdir)) >= 3, procs[0], timeout_secs=240)
    procs[1].send_signal(signal.SIGINT)  # the worker: the chief must stop with it
    try:
        codes = [p.wait(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill()
    logs = _logs(tmp_path)
    lasts = [log.strip().splitlines()[-1] for log in logs]
    assert codes == [130, 130], lasts
    assert "Multi-worker cluster: {'chief': ['127.0.0.1:" in logs[0]
    steps = {int(re.match(r"dcgan-train: error: Ctrl-C at step (\d+): checkpoint saved as ",
                          last).group(1)) for last in lasts}
    assert len(steps) == 1, lasts
    step = steps.pop()
    assert sorted(os.listdir(workdir / "ckpt")) == [
        "checkpoint", f"ckpt-{step}.data-00000-of-00001", f"ckpt-{step}.index"]
    assert [json.loads(line)["step"] for line in stats.read_text().splitlines()] == list(
        range(1, step + 1))


# A hung peer (its main thread stuck, its TensorFlow threads still answering heartbeats) is
# noticed when a collective waits this long; long enough that the first step's tracing, which
# the two workers do at their own pace on a busy machine, never trips it; the least the flag
# takes (config.py: less would race the heartbeat below).
HUNG_TIMEOUT_SECS = 20
# TensorFlow's coordination service declares a silent peer dead after 10 s without a
# heartbeat; a killed peer is named that way when the collective's own timeout comes later.
# The two must not come together: TensorFlow 2.20 aborting the same collectives from both
# sides at once crashed the survivor (SIGABRT, "Mutex corrupt"; CI on 2026-12-07, when a
# SIGSTOPped peer was the hung one: both fired at 10 s).
KILLED_TIMEOUT_SECS = 40


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGUSR1], ids=["killed", "hung"])
def test_a_lost_or_hung_worker_ends_the_survivor_with_a_clear_error(tmp_path, sig):
    workdir = tmp_path / "run"
    timeout = KILLED_TIMEOUT_SECS if sig == signal.SIGKILL else HUNG_TIMEOUT_SECS
    flags = _common_flags(workdir, tmp_path, train_steps=100000, collective_timeout_secs=timeout)
    procs = _start_workers(tmp_path, flags, driver_out=[])  # SIGUSR1 hangs its main thread
    wait_for(lambda: len(progress.read_stats(workdir)) >= 3, procs[0], timeout_secs=240)
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
    assert "restart every worker" in last
    # A dead peer is named by TensorFlow's heartbeat; a hung one, whose heartbeat goes on, by
    # a collective waiting --collective_timeout_secs, after which TensorFlow does not say for
    # whom it waited.
    reason = ("task:1: it stopped answering" if sig == signal.SIGKILL
              else "a peer: no answer within --collective_timeout_secs")
    assert reason in last, last
    assert waited < 60, f"survivor took {waited:.0f}s to notice"
    if sig == signal.SIGUSR1:  # the collective's timeout, not an early heartbeat, named it
        assert waited > HUNG_TIMEOUT_SECS - 2, waited
        # ... and the run said so before TensorFlow aborted the collective, which can crash
        # the process (workers.HangWatch): TensorFlow's own timeout is twice as long.
        assert "DEADLINE_EXCEEDED" not in log, log[-3000:]


def test_hang_watch_names_a_call_that_waits_the_timeout_past_the_longest_before_it():
    """The limit behind the hung case above: the first call (tracing) is free and does not set
    the usual length; a later call that waits the timeout past the longest is named once."""
    hung = []
    watch = workers.HangWatch(0.3, hung.append)
    for when, secs in [("tracing", 0.5), ("usual", 0.1), ("hung", 0.7)]:
        with watch.call(when):
            time.sleep(secs)
    assert hung == ["hung"]
    off = workers.HangWatch(0, hung.append)  # --collective_timeout_secs=0, or one process
    for secs in (0.0, 0.4):
        with off.call("never"):
            time.sleep(secs)
    assert hung == ["hung"]


@pytest.mark.slow
def test_workers_that_restore_different_steps_refuse_to_train(tmp_path):
    """A worker without the shared work directory would start from scratch beside the chief."""
    chief_dir = tmp_path / "shared"
    train.run(["dcgan-train", *_common_flags(chief_dir, tmp_path, train_steps=2, strategy="cpu")])
    flags = _common_flags(chief_dir, tmp_path, train_steps=4, collective_timeout_secs=60)
    procs = _start_workers(tmp_path, flags,
                           extra_of=lambda i: [f"--workdir={tmp_path / 'private'}"] if i else [])
    codes = [p.wait(timeout=300) for p in procs]
    last = (tmp_path / "worker0.log").read_text().strip().splitlines()[-1]
    assert codes == [2, 2], last
    assert "the workers restored different steps ([0, 2])" in last
