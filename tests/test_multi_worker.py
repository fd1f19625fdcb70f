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


def _slurm(index, ports):
    """What `srun --ntasks=2` on one node sets for task `index` (no TF_CONFIG)."""
    return ({"SLURM_PROCID": str(index), "SLURM_STEP_NUM_TASKS": "2",
             "SLURM_STEP_NODELIST": "127.0.0.1", "SLURM_STEP_TASKS_PER_NODE": "2"},
            [f"--slurm_port_base={ports[0]}"])


def _start_workers(tmp_path, flags, cmd_of, extra_of=lambda index: [],
                   env_of=_tf_config([("worker", 0), ("worker", 1)])):
    ports = _free_ports(2, consecutive=env_of is _slurm)
    procs = []
    for index in range(2):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "TF_CONFIG"))}
        cluster_env, cluster_flags = env_of(index, ports)
        env.update(cluster_env, TF_CPP_MIN_LOG_LEVEL="1")
        log = open(tmp_path / f"worker{index}.log", "w")
        # SIGINT at its default: a child of a background shell job would inherit it ignored.
        procs.append(subprocess.Popen(cmd_of(index) + flags + cluster_flags + extra_of(index),
                                      env=env, stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                       signal.SIG_DFL)))
    return procs


def _common_flags(workdir, tmp_path, **extra):
    flags = {"workdir": workdir, "strategy": "multi_worker", "synthetic_data": None,
             "data_dir": tmp_path / "no_data", "global_batch_size": 4, "log_every_steps": 1,
             "sample_every_steps": 2, "ckpt_every_steps": 2, **extra}
    return [f"--{k}" if v is None else f"--{k}={v}" for k, v in flags.items()]


@pytest.mark.parametrize("env_of, cluster", [
    # launch/multi_worker.sh and Kubeflow's TFJob: worker 0 is the chief.
    (_tf_config([("worker", 0), ("worker", 1)]), "{'worker': ['127.0.0.1:"),
    # Vertex AI: a chief task beside the workers.
    (_tf_config([("chief", 0), ("worker", 0)]), "{'chief': ['127.0.0.1:"),
    # srun without TF_CONFIG: SlurmClusterResolver, task 0 is the chief.
    (_slurm, "{'worker': ['127.0.0.1:"),
], ids=["two_workers", "chief_and_worker", "slurm"])
def test_two_tasks_train_in_lockstep_and_only_the_chief_writes(tmp_path, env_of, cluster):
    workdir = tmp_path / "run"
    # Synchronized BN: plain BN keeps per-worker moving statistics, which legitimately differ.
    flags = _common_flags(workdir, tmp_path, train_steps=4, collective_timeout_secs=120,
                          sync_batchnorm=None)
    procs = _start_workers(tmp_path, flags, lambda i: [
        sys.executable, os.path.join(HERE, "multi_worker_driver.py"), str(tmp_path / f"w{i}.npz")],
        env_of=env_of)
    codes = [p.wait(timeout=300) for p in procs]
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert int(w0["step"]) == int(w1["step"]) == 4
    arrays = [k for k in w0.files if k != "step"]
    assert len(arrays) == 22
    for key in arrays:
        np.testing.assert_array_equal(w0[key], w1[key])
    # Only the chief (task 0) wrote artifacts; the other task's temporary checkpoints are gone.
    assert sorted(os.listdir(workdir / "samples")) == ["step_000002.png", "step_000004.png"]
    assert [json.loads(l)["step"] for l in (workdir / "stats.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    assert sorted(os.listdir(workdir / "ckpt")) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index",
        "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    assert all("Multi-worker cluster" in log and "with 2 replica(s)" in log for log in logs)
    assert f"Multi-worker cluster: {cluster}" in logs[0], logs[0][-3000:]


def _start_and_wait_for_progress(tmp_path, workdir, flags):
    """Two dcgan-train workers, once the chief has logged 3 steps; (procs, stats path)."""
    procs = _start_workers(tmp_path, flags, lambda i: [sys.executable, "-m", "dcgan_dist.main"])
    stats = workdir / "stats.jsonl"
    deadline = time.monotonic() + 240
    while not (stats.exists() and len(stats.read_text().splitlines()) >= 3):
        assert time.monotonic() < deadline and procs[0].poll() is None, "no progress"
        time.sleep(0.5)
    return procs, stats


@pytest.mark.parametrize("sig, reason", [
    (signal.SIGKILL, "task:1: it stopped answering"),
    (signal.SIGSTOP, "task:1: it stopped answering"),  # hung, not dead: the timeout ends it
])
def test_a_lost_or_hung_worker_ends_the_survivor_with_a_clear_error(tmp_path, sig, reason):
    workdir = tmp_path / "run"
    flags = _common_flags(workdir, tmp_path, train_steps=100000, collective_timeout_secs=20)
    procs, stats = _start_and_wait_for_progress(tmp_path, workdir, flags)
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


SLURM_STEP = {"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2",
              "SLURM_STEP_NODELIST": "node[01-02]", "SLURM_STEP_TASKS_PER_NODE": "1(x2)"}


def _slurm_env(monkeypatch, tmp_path, step, gpus):
    """SLURM's variables for task 1 of 2, and an nvidia-smi listing `gpus` GPUs (None: none)."""
    from dcgan_dist import config as config_lib
    for name in ("TF_CONFIG", "CUDA_VISIBLE_DEVICES", *SLURM_STEP):
        monkeypatch.delenv(name, raising=False)  # restored after the test, even if set inside
    for name, value in step.items():
        monkeypatch.setenv(name, value)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if gpus is not None:
        smi = bin_dir / "nvidia-smi"
        smi.write_text("#!/usr/bin/env bash\n" + "".join(
            f'echo "GPU {i}: Fake (UUID: GPU-{i})"\n' for i in range(gpus)))
        smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return config_lib.Config(workdir=str(tmp_path / "run"), strategy="multi_worker",
                             slurm_port_base=7000)


@pytest.mark.parametrize("gpus", [None, 4])
def test_slurm_resolver_names_every_task_and_this_ones_place(monkeypatch, tmp_path, gpus):
    from dcgan_dist import strategy as strategy_lib
    config = _slurm_env(monkeypatch, tmp_path, SLURM_STEP, gpus)
    resolver = strategy_lib._slurm_resolver(config)
    assert resolver.cluster_spec().as_dict() == {"worker": ["node01:7000", "node02:7000"]}
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)
    # GPU nodes: the resolver gives each task its node's GPUs; CPU nodes: no accelerators.
    assert resolver.num_accelerators() == ({"GPU": 4} if gpus else {})
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == ("0,1,2,3" if gpus else None)


def test_a_broken_slurm_step_is_one_clear_error(monkeypatch, tmp_path):
    from dcgan_dist import UserError, strategy as strategy_lib
    step = {k: v for k, v in SLURM_STEP.items() if k != "SLURM_STEP_NODELIST"}
    config = _slurm_env(monkeypatch, tmp_path, step, gpus=None)
    with pytest.raises(UserError, match=r"^could not read the SLURM job step \(SLURM_STEP_NODELIST "
                                        r"not found in environment.*see launch/slurm.sbatch$"):
        strategy_lib._slurm_resolver(config)


def test_ctrl_c_on_one_worker_stops_every_worker_at_the_same_step(tmp_path):
    workdir = tmp_path / "run"
    flags = _common_flags(workdir, tmp_path, train_steps=100000, collective_timeout_secs=60,
                          sample_every_steps=100000, ckpt_every_steps=100000)
    procs, stats = _start_and_wait_for_progress(tmp_path, workdir, flags)
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
