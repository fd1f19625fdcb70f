"""launch/tpu_vm.sh against a fake cloud (tests/fake_gcloud.py): its TPU VMs are folders on
this machine, `ssh --command` runs the command in them, the trainer counts steps and resumes
from the "bucket". Each path of issue 22 runs for real: detached training on every host,
dropped ssh sessions, a preempted spot VM recreated, a queued resource waiting for capacity,
the laptop going away and `follow`, Ctrl-C, `stop`, `--keep_vm` and `delete`, a failure.
No TensorFlow here; each test takes a few seconds of shell."""

import os
import pty
import re
import signal
import subprocess
import time

import pytest

import fake_gcloud
from helpers import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PJRT_EXPORTS = ("export PJRT_DEVICE=TPU NEXT_PLUGGABLE_DEVICE_USE_C_API=true; "
                'export TF_PLUGGABLE_DEVICE_LIBRARY_PATH="$(python3 -c '
                '"import libtpu; print(libtpu.get_library_path())")"; ')


def tpu(root, *args, env=None, background=False, stdout=subprocess.PIPE):
    """Runs launch/tpu_vm.sh against the fake cloud in `root` (in the background: its output
    to `stdout`, a pipe unless given)."""
    bin_dir = fake_gcloud.install(str(root))
    full_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(root),
                "FAKE_GCLOUD": str(root), "BUCKET": "gs://b", "TMPDIR": str(root),
                "POLL_SECS": "0.2", **(env or {})}
    command = ["bash", os.path.join(REPO, "launch", "tpu_vm.sh"), *args]
    if background:
        # SIGINT at its default: a suite started from a background job inherits it ignored,
        # and bash cannot trap a signal ignored at its start (the Ctrl-C test then failed).
        return subprocess.Popen(command, env=full_env, stdout=stdout,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=120)


def gcloud_verbs(root):
    return [" ".join(call[2:4]) for call in fake_gcloud.calls(str(root)) if call[0] == "compute"]


def trainer_starts(root):
    """(host, the step it started from, its arguments) of each dcgan-train start on a VM."""
    path = root / "trainer_starts.txt"
    return [tuple(line.split(" ", 2)) for line in path.read_text().splitlines()] if (
        path.exists()) else []


def ckpt_step(root):
    path = root / "gs" / "b" / "runs" / "tpu" / "ckpt_step"
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text else 0


def test_tpu_run_trains_detached_on_every_host_and_ends_with_the_bucket_commands(tmp_path):
    result = tpu(tmp_path, "--train_steps=6", "--x=a b",
                 env={"ACCELERATOR_TYPE": "v5litepod-16", "ZONE": "us-west4-a", "PROJECT": "p"})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert [line for line in out.splitlines() if line.startswith("step ")] == [
        f"step {i}/6" for i in range(1, 7)]  # worker 0's log, streamed once
    calls = fake_gcloud.calls(str(tmp_path))
    create = next(c for c in calls if c[3:4] == ["create"])
    assert create[4:] == ["dcgan-tpu", "--zone=us-west4-a", "--project=p",
                          "--accelerator-type=v5litepod-16", "--version=v2-alpha-tpuv5-lite"]
    start = next(c for c in calls if c[3:4] == ["ssh"] and "tpu_job.sh start" in c[-1])
    assert "--worker=all" in start and PJRT_EXPORTS in start[-1]
    syntax = subprocess.run(["bash", "-n", "-c", start[-1].removeprefix("--command=")],
                            capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    # Both hosts trained the same command, detached, with their logs copied to the bucket.
    starts = trainer_starts(tmp_path)
    assert sorted(host for host, _, _ in starts) == ["dcgan-tpu-w0", "dcgan-tpu-w1"]
    assert {args for _, _, args in starts} == {
        "--config=tpu --tpu=local --workdir=gs://b/runs/tpu --data_dir=gs://b/tensorflow_datasets "
        "--train_steps=6 --x=a b"}
    logs = tmp_path / "gs" / "b" / "runs" / "tpu" / "logs"
    assert sorted(os.listdir(logs)) == ["dcgan-tpu-w0.log", "dcgan-tpu-w1.log"]
    assert "Done: 6 steps" in (logs / "dcgan-tpu-w0.log").read_text()
    assert gcloud_verbs(tmp_path)[-1] == "tpu-vm delete" and not (tmp_path / "vms" / "dcgan-tpu").exists()
    assert "tpu_vm.sh: training finished" in out
    for line in ("  dcgan-eval --workdir=gs://b/runs/tpu --data_dir=gs://b/tensorflow_datasets",
                 "  dcgan-export --workdir=gs://b/runs/tpu --output=gs://b/exported/tpu"):
        assert line in out.splitlines()
    # The tarball holds what the VM's install reads (configs through the symlink), no venv.
    names = subprocess.run(["tar", "-tzf", str(tmp_path / "dcgan-dist-src.tar.gz")],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for needed in ("./setup.cfg", "./constraints/tf2.20.txt", "./dcgan_dist/configs/tpu.cfg",
                   "./launch/tpu_job.sh", "./dcgan_dist/programs/train.py"):
        assert needed in names
    assert not [n for n in names if n.startswith(("./.venv", "./.git/"))]


@pytest.mark.slow
def test_tpu_dropped_ssh_sessions_reattach_and_show_each_line_once(tmp_path):
    (tmp_path / "drop_follow").write_text("3")  # the next 3 follows drop after half a second
    result = tpu(tmp_path, "--train_steps=20")
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert steps == [f"step {i}/20" for i in range(1, 21)]
    assert result.stdout.count("tpu_vm.sh: lost the session to dcgan-tpu; checking it") == 3
    assert len(trainer_starts(tmp_path)) == 1, "a dropped session restarted the training"


@pytest.mark.slow
def test_tpu_preempted_spot_vm_is_recreated_and_the_same_command_resumes(tmp_path):
    proc = tpu(tmp_path, "--spot", "--train_steps=40", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 5, proc, 60, "timed out waiting for step 5")
    fake_gcloud.preempt(str(tmp_path), "dcgan-tpu")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert ("tpu_vm.sh: dcgan-tpu is PREEMPTED: creating it again (1/20); the same command "
            "resumes from gs://b/runs/tpu") in out
    (_, first, args1), (_, resumed, args2) = trainer_starts(tmp_path)
    assert (first, args1) == ("0", args2) and int(resumed) >= 5  # same command, from the bucket
    assert gcloud_verbs(tmp_path).count("tpu-vm create") == 2
    creates = [c for c in fake_gcloud.calls(str(tmp_path)) if c[3:4] == ["create"]]
    assert all("--spot" in c for c in creates)
    assert "Done: 40 steps" in out and "tpu_vm.sh: training finished" in out


@pytest.mark.slow
def test_tpu_queued_resource_waits_for_capacity_and_is_deleted_with_its_node(tmp_path):
    (tmp_path / "queue_polls").write_text("3")
    result = tpu(tmp_path, "--queued", "--spot", "--train_steps=3",
                 env={"ACCELERATOR_TYPE": "v5litepod-8"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("waiting for capacity: queued resource dcgan-tpu is "
                               "WAITING_FOR_RESOURCES") == 3
    calls = fake_gcloud.calls(str(tmp_path))
    create = next(c for c in calls if c[2:4] == ["queued-resources", "create"])
    # The zone: v5e's first in the table (v4's us-central2-b does not offer it).
    assert create[4:] == ["dcgan-tpu", "--node-id=dcgan-tpu", "--zone=us-central1-a",
                          "--accelerator-type=v5litepod-8",
                          "--runtime-version=v2-alpha-tpuv5-lite", "--spot"]
    assert calls[-1][2:] == ["queued-resources", "delete", "dcgan-tpu", "--zone=us-central1-a",
                             "--force", "--quiet"]
    assert not (tmp_path / "vms" / "dcgan-tpu").exists()


@pytest.mark.slow
def test_tpu_job_outlives_the_laptop_and_follow_reattaches(tmp_path):
    proc = tpu(tmp_path, "--train_steps=30", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 3, proc, 60, "timed out waiting for step 3")
    os.killpg(proc.pid, signal.SIGKILL)  # the laptop goes away: no trap, no goodbye
    proc.communicate()
    at_kill = ckpt_step(tmp_path)
    time.sleep(0.5)
    assert ckpt_step(tmp_path) > at_kill, "the training stopped with the laptop's script"
    assert (tmp_path / "vms" / "dcgan-tpu").exists()
    result = tpu(tmp_path, "follow")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Done: 30 steps" in result.stdout and "tpu_vm.sh: training finished" in result.stdout
    assert len(trainer_starts(tmp_path)) == 1
    assert not (tmp_path / "vms" / "dcgan-tpu").exists()


def test_tpu_ctrl_c_detaches_and_leaves_the_job_running(tmp_path):
    proc = tpu(tmp_path, "--train_steps=40", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 2, proc, 60, "timed out waiting for step 2")
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert ("tpu_vm.sh: detached; training goes on. Reattach: bash launch/tpu_vm.sh follow; "
            "stop it: bash launch/tpu_vm.sh stop") in out
    status = tpu(tmp_path, "status")
    assert status.stdout.splitlines()[-1] == "dcgan-job: running", status.stdout
    tpu(tmp_path, "stop")
    tpu(tmp_path, "delete")


def test_tpu_stop_saves_a_checkpoint_and_ends_the_supervising_run(tmp_path):
    proc = tpu(tmp_path, "--train_steps=200", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 3, proc, 60, "timed out waiting for step 3")
    stop = tpu(tmp_path, "stop")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "dcgan-job: SIGTERM sent on dcgan-tpu-w0; the trainer saves a checkpoint and " \
           "exits 42" in stop.stdout
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 42, out
    assert "SIGTERM at step" in out and "checkpoint saved" in out
    assert "tpu_vm.sh: stopped by tpu_vm.sh stop; a checkpoint was saved" in out
    assert 3 <= ckpt_step(tmp_path) < 200 and not (tmp_path / "vms" / "dcgan-tpu").exists()


def test_tpu_keep_vm_keeps_it_until_delete(tmp_path):
    result = tpu(tmp_path, "--keep_vm", "--train_steps=2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tpu-vm delete" not in gcloud_verbs(tmp_path)
    assert ("tpu_vm.sh: --keep_vm: dcgan-tpu is still running (and billed); delete it with: "
            "bash launch/tpu_vm.sh delete") in result.stdout
    # KEEP_TPU=1 is the old spelling; `run` on the kept VM trains on it again (resumes).
    again = tpu(tmp_path, "--train_steps=4", env={"KEEP_TPU": "1"})
    assert again.returncode == 0 and gcloud_verbs(tmp_path).count("tpu-vm create") == 1
    assert [int(step) for _, step, _ in trainer_starts(tmp_path)] == [0, 2]
    assert tpu(tmp_path, "delete").returncode == 0
    assert not (tmp_path / "vms" / "dcgan-tpu").exists()


def test_tpu_failed_training_reports_its_exit_code(tmp_path):
    (tmp_path / "fail_at_step").write_text("2")
    result = tpu(tmp_path, "--train_steps=5")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "dcgan-train: error: non-finite loss between steps 2 and 2" in result.stdout
    assert ("tpu_vm.sh: training failed with exit 3: the log above says why (README, When "
            "things go wrong)") in result.stdout
    assert len(trainer_starts(tmp_path)) == 1  # a real failure is not retried


@pytest.mark.slow
def test_tpu_a_failed_describe_is_not_a_lost_vm(tmp_path):
    """gcloud failing to answer (expired credentials, the network) while the job trains must
    not delete and recreate the VM: only NOT_FOUND means gone."""
    (tmp_path / "drop_follow").write_text("1")
    (tmp_path / "describe_failures_after_drop").write_text("3")
    result = tpu(tmp_path, "--train_steps=12")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("tpu_vm.sh: gcloud could not say how dcgan-tpu is; asking "
                               "again") == 3
    assert gcloud_verbs(tmp_path).count("tpu-vm create") == 1
    assert len(trainer_starts(tmp_path)) == 1 and "Done: 12 steps" in result.stdout


@pytest.mark.slow
def test_tpu_follow_after_the_laptop_recreates_the_same_kind_of_vm_with_the_same_command(
        tmp_path):
    """`run --spot` with flags, the laptop gone, the VM preempted, then a bare `follow`: the VM
    it creates again is a Spot one and the trainer reruns with run's flags (saved by run)."""
    proc = tpu(tmp_path, "--spot", "--train_steps=40", "--x=a b", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 3, proc, 60, "timed out waiting for step 3")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    fake_gcloud.preempt(str(tmp_path), "dcgan-tpu")
    result = tpu(tmp_path, "follow", env={"BUCKET": ""})  # BUCKET too comes from run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tpu_vm.sh: dcgan-tpu is PREEMPTED: creating it again (1/20)" in result.stdout
    (_, first, args1), (_, resumed, args2) = trainer_starts(tmp_path)
    assert args1 == args2 and "--x=a b" in args2 and int(resumed) >= 3
    creates = [c for c in fake_gcloud.calls(str(tmp_path)) if c[3:4] == ["create"]]
    assert len(creates) == 2 and all("--spot" in c for c in creates)
    assert "Done: 40 steps" in result.stdout
    # The run is over and its VM deleted: nothing saved is left to mislead a later `follow`.
    assert not list((tmp_path / ".config" / "dcgan-dist").glob("tpu_vm-*.env"))


@pytest.mark.slow
def test_tpu_watch_outlives_a_hangup_and_recreates_a_preempted_vm(tmp_path):
    """`watch` on an always-on host: the terminal it started from closes (SIGHUP to its whole
    process group), then the Spot VM is preempted: it recreates it and the run resumes."""
    proc = tpu(tmp_path, "watch", "--spot", "--train_steps=40", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 3, proc, 60, "timed out waiting for step 3")
    os.killpg(proc.pid, signal.SIGHUP)
    fake_gcloud.preempt(str(tmp_path), "dcgan-tpu")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ tpu_vm.sh: dcgan-tpu is PREEMPTED: "
                     r"creating it again \(1/20\)", out, re.M), out
    (_, _, args1), (_, resumed, args2) = trainer_starts(tmp_path)
    assert args1 == args2 and int(resumed) >= 3 and "Done: 40 steps" in out
    creates = [c for c in fake_gcloud.calls(str(tmp_path)) if c[3:4] == ["create"]]
    assert len(creates) == 2 and all("--spot" in c for c in creates)
    assert not (tmp_path / "vms" / "dcgan-tpu").exists()


@pytest.mark.slow
def test_tpu_watch_follows_a_job_that_runs_and_starts_one_after_a_vm_restart(tmp_path):
    """The laptop's `run` is gone; `watch` elsewhere takes over the running job without a
    second start. Then the VM restarts (maintenance): READY again, but no job on it; watch
    starts the same command, which resumes."""
    # The trainer holds at step 6 until watch has asked about it and followed it: it must
    # still be training when watch asks, however loaded the machine is.
    (tmp_path / "hold_at_step").write_text("6")
    proc = tpu(tmp_path, "--train_steps=80", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 2, proc, 60, "timed out waiting for step 2")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    before = len(fake_gcloud.calls(str(tmp_path)))
    watch = tpu(tmp_path, "watch", background=True)
    # Two ssh sessions: the status check, then the follow.
    wait_for(lambda: sum("ssh" in c for c in fake_gcloud.calls(str(tmp_path))[before:]) >= 2,
             watch, 60, "timed out waiting for watch to follow the job")
    wait_for(lambda: ckpt_step(tmp_path) >= 6, watch, 60, "timed out waiting for step 6")
    assert len(trainer_starts(tmp_path)) == 1, "watch started a second trainer beside the first"
    (tmp_path / "hold_at_step").unlink()
    fake_gcloud.restart(str(tmp_path), "dcgan-tpu")
    out, _ = watch.communicate(timeout=120)
    assert watch.returncode == 0, out
    assert "tpu_vm.sh: dcgan-tpu is training already: following it" in out
    assert "tpu_vm.sh: no job runs on dcgan-tpu: starting it" in out
    (_, _, args1), (_, resumed, args2) = trainer_starts(tmp_path)
    assert args1 == args2 and int(resumed) >= 6 and "Done: 80 steps" in out
    assert gcloud_verbs(tmp_path).count("tpu-vm create") == 1


def test_tpu_sigterm_from_the_vm_itself_restarts_the_job_on_the_same_vm(tmp_path):
    proc = tpu(tmp_path, "--train_steps=30", background=True)
    wait_for(lambda: ckpt_step(tmp_path) >= 3, proc, 60, "timed out waiting for step 3")
    fake_gcloud.sigterm_trainer(str(tmp_path), "dcgan-tpu")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert ("tpu_vm.sh: the trainer got SIGTERM from the VM and saved a checkpoint; starting it "
            "again") in out
    (_, first, _), (_, resumed, _) = trainer_starts(tmp_path)
    assert first == "0" and int(resumed) >= 3 and "Done: 30 steps" in out
    assert gcloud_verbs(tmp_path).count("tpu-vm create") == 1


@pytest.mark.slow
def test_tpu_preemption_under_queued_requests_the_resource_again_and_resumes(tmp_path):
    proc = tpu(tmp_path, "--queued", "--spot", "--train_steps=30", background=True,
               env={"ACCELERATOR_TYPE": "v5litepod-8"})
    wait_for(lambda: ckpt_step(tmp_path) >= 3, proc, 60, "timed out waiting for step 3")
    fake_gcloud.preempt(str(tmp_path), "dcgan-tpu")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    queued = [c[3] for c in fake_gcloud.calls(str(tmp_path)) if c[2:3] == ["queued-resources"]
              and c[3] != "describe"]
    assert queued == ["create", "delete", "create", "delete"]  # the old request goes first
    assert not [c for c in fake_gcloud.calls(str(tmp_path)) if c[2:4] == ["tpu-vm", "create"]]
    (_, _, args1), (_, resumed, args2) = trainer_starts(tmp_path)
    assert args1 == args2 and int(resumed) >= 3 and "Done: 30 steps" in out


def test_tpu_gives_up_after_max_restarts_and_deletes_the_vm(tmp_path):
    (tmp_path / "preempt_on_create").write_text("3")  # every VM is taken back at once
    result = tpu(tmp_path, "--spot", env={"MAX_RESTARTS": "2"})
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "tpu_vm.sh: dcgan-tpu is PREEMPTED: creating it again (2/2)" in out
    assert ("tpu_vm.sh: the VM was lost 2 times (last state: PREEMPTED); giving up" in out)
    assert gcloud_verbs(tmp_path).count("tpu-vm create") == 3 and not trainer_starts(tmp_path)
    assert gcloud_verbs(tmp_path)[-1] == "tpu-vm delete"
    assert not (tmp_path / "vms" / "dcgan-tpu").exists()
    assert "To train further: BUCKET=gs://b bash launch/tpu_vm.sh run" in out


def tpu_cfg_settings():
    """tpu.cfg's own flags, in order: all but its --config include."""
    with open(os.path.join(REPO, "dcgan_dist", "configs", "tpu.cfg")) as f:
        return [line.strip() for line in f
                if line.startswith("--") and not line.startswith("--config=")]


def test_tpu_a_config_not_made_for_a_tpu_gets_tpu_cfgs_settings(tmp_path):
    """CONFIG=folder64 (the README's own images): the trainer gets tpu.cfg's settings after it
    (TPUStrategy, bfloat16, batch 1024, --steps_per_execution=100, the schedule), then the
    flags given here, which win. celeba64_tpu sets them itself and goes alone."""
    assert "--steps_per_execution=100" in tpu_cfg_settings()
    result = tpu(tmp_path, "--dataset=my_photos", "--train_steps=2",
                 env={"CONFIG": "folder64"})
    assert result.returncode == 0, result.stdout + result.stderr
    wanted = " ".join(["--config=folder64", *tpu_cfg_settings(), "--tpu=local",
                       "--workdir=gs://b/runs/tpu", "--data_dir=gs://b/tensorflow_datasets",
                       "--dataset=my_photos", "--train_steps=2"])
    start = next(c for c in fake_gcloud.calls(str(tmp_path))
                 if c[3:4] == ["ssh"] and "tpu_job.sh start" in c[-1])
    assert start[-1].endswith(f"tpu_job.sh start gs://b/runs/tpu {wanted}"), start[-1]
    assert [args for _, _, args in trainer_starts(tmp_path)] == [wanted]
    # Made for a TPU: alone, as before. A name without a config file: one line, no gcloud.
    alone = tpu(tmp_path, "--dry_run", env={"CONFIG": "celeba64_tpu"})
    assert alone.returncode == 0, alone.stderr
    assert ("tpu_job.sh start gs://b/runs/tpu --config=celeba64_tpu --tpu=local "
            "--workdir=gs://b/runs/tpu --data_dir=gs://b/tensorflow_datasets'") in alone.stdout
    unknown = tpu(tmp_path / "unknown", env={"CONFIG": "folder46"})
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == ("tpu_vm.sh: CONFIG=folder46: there is no "
                              "dcgan_dist/configs/folder46.cfg (dcgan-train --list_configs "
                              "lists the configs)\n")
    assert not (tmp_path / "unknown" / "calls.jsonl").exists()


def test_tpu_watch_refuses_settings_that_differ_from_the_saved_run(tmp_path):
    """A saved run (here a finished one whose VM was kept) and a watch given other flags, another
    CONFIG or --spot: one line naming each difference, before any gcloud call, instead of the
    saved settings silently replacing the given ones. Left out, or given the same, they are
    read from the saved run."""
    assert tpu(tmp_path, "--keep_vm", "--train_steps=2", "--x=a b").returncode == 0
    calls = len(fake_gcloud.calls(str(tmp_path)))
    state = tmp_path / ".config" / "dcgan-dist" / "tpu_vm-dcgan-tpu.env"
    advice = ("Give its settings or none (they are read from it), or end it first (bash "
              "launch/tpu_vm.sh stop, then delete) to start another\n")
    refused = tpu(tmp_path, "watch", "--train_steps=5", env={"CONFIG": "folder64"})
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (
        f"tpu_vm.sh: watch: dcgan-tpu has a saved run ({state}) with other settings: "
        "CONFIG=folder64 (saved: tpu); dcgan-train flags --train_steps=5 (saved: "
        "--train_steps=2 --x=a\\ b). " + advice)
    spot = tpu(tmp_path, "watch", "--spot")
    assert spot.returncode == 2 and spot.stderr == (
        f"tpu_vm.sh: watch: dcgan-tpu has a saved run ({state}) with other settings: SPOT=1 "
        "(saved: 0). " + advice)
    assert len(fake_gcloud.calls(str(tmp_path))) == calls, "a refused watch called gcloud"
    # The same settings (BUCKET with a slash too): the saved run, resumed on the kept VM.
    same = tpu(tmp_path, "watch", "--train_steps=2", "--x=a b", env={"BUCKET": "gs://b/"})
    assert same.returncode == 0, same.stdout + same.stderr
    assert [args for _, _, args in trainer_starts(tmp_path)][-1].endswith("--train_steps=2 --x=a b")
    assert tpu(tmp_path, "delete").returncode == 0


@pytest.mark.slow
def test_tpu_watch_started_on_a_terminal_outlives_it_in_its_log(tmp_path):
    """watch in a terminal, which then closes: the hang-up is ignored, but every later write to
    the terminal fails (EIO). watch writes to its log file instead, says where, and carries on
    through a preemption to the end."""
    master, terminal = pty.openpty()
    proc = tpu(tmp_path, "watch", "--spot", "--train_steps=40", background=True,
               stdout=terminal)
    os.close(terminal)
    log = tmp_path / ".config" / "dcgan-dist" / "tpu_vm-dcgan-tpu.log"
    first = b""
    while not first.endswith(b"\n"):
        first += os.read(master, 1)
    assert re.fullmatch(rf"\S+Z tpu_vm.sh: watch writes to {re.escape(str(log))} from here on "
                        r"\(tail -f it\), so that closing this terminal does not end it\r\n",
                        first.decode()), first
    wait_for(lambda: ckpt_step(tmp_path) >= 3, proc, 60, "timed out waiting for step 3")
    os.close(master)  # the terminal closes: a hang-up, and writes to it fail from now on
    os.killpg(proc.pid, signal.SIGHUP)
    fake_gcloud.preempt(str(tmp_path), "dcgan-tpu")
    assert proc.wait(timeout=120) == 0, log.read_text()
    out = log.read_text()
    assert "tpu_vm.sh: dcgan-tpu is PREEMPTED: creating it again (1/20)" in out
    assert "Done: 40 steps" in out and "tpu_vm.sh: training finished" in out


@pytest.mark.parametrize("path", ["README.md", "launch/tpu_vm.sh"])
def test_the_systemd_recipe_lingers_and_passes_path(path):
    """A user unit runs only while its user is logged in unless lingering is on, and gets
    systemd's PATH, without gcloud: the recipe turns on the one and passes the other."""
    with open(os.path.join(REPO, path)) as f:
        text = f.read().replace("\\\n", " ")
    (recipe,) = [line for line in text.splitlines() if "systemd-run --user" in line]
    assert '--setenv=PATH="$PATH"' in recipe and "watch" in recipe
    assert 'loginctl enable-linger "$USER"' in text.split(recipe)[0].splitlines()[-1]
