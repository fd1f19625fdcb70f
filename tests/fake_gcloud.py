"""A fake `gcloud` for launch/tpu_vm.sh: TPU VMs as folders on this machine.

Each VM is FAKE_GCLOUD/vms/NAME with a `state` file (READY, PREEMPTED, ...) and one home folder
per host (w0, w1 for a slice of more than 8). `ssh --command=C` runs C with bash in each
host's home, with bin/ first on PATH (a `python3` whose pip only records, a `dcgan-train` that
trains by counting, this gcloud for `storage cp`); `scp` copies into the homes; gs:// paths
live under FAKE_GCLOUD/gs. Every call is appended to FAKE_GCLOUD/calls.jsonl.

Tests act on it as the cloud would: `preempt(root, name)` kills the VM's processes and its ssh
sessions and marks it PREEMPTED; a file `drop_follow` holding N makes the next N following
ssh sessions end with exit 255 after half a second, while the job goes on; `restart` ends
every process of a VM that stays READY (a host maintenance restart: no job after it);
`sigterm_trainer` sends SIGTERM to the trainer on each host, as the VM itself does before
maintenance; a file `preempt_on_create` holding N makes the next N VMs created PREEMPTED at once;
with a file
`describe_failures_after_drop` holding M, the M describes after a drop fail as an expired
credential or a network error would (exit 1, no NOT_FOUND). No network here.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# The fake VM's dcgan-train: steps 1..--train_steps (default 30), resuming from the step
# stored under its --workdir; SIGTERM saves and exits 42; FAKE_GCLOUD/fail_at_step=S exits 3.
# From step 10 on it waits while sessions are still to be dropped (drop_follow), so that the
# drops land during training however slow this machine is; at or past FAKE_GCLOUD/hold_at_step
# it waits while that file exists (a test's fixed point, whatever the machine's load).
TRAINER = r'''#!/usr/bin/env bash
root="$FAKE_GCLOUD"; total=30; workdir=""
for arg in "$@"; do
  case "$arg" in --train_steps=*) total="${arg#*=}" ;; --workdir=gs://*) workdir="${arg#--workdir=gs://}" ;; esac
done
dir="$root/gs/$workdir"; mkdir -p "$dir"
step=$(cat "$dir/ckpt_step" 2>/dev/null || echo 0)
printf '%s\n' "$(hostname) $step $*" >> "$root/trainer_starts.txt"
echo "Training tutorial networks on mnist:train; results in gs://$workdir (from step $step)"
# Written whole and renamed, as a checkpoint is: a reader never sees a half-written step.
save() { echo "$step" > "$dir/ckpt_step.tmp" && mv "$dir/ckpt_step.tmp" "$dir/ckpt_step"; }
trap 'save; echo "SIGTERM at step $step: checkpoint saved"; exit 42' TERM
while [ "$step" -lt "$total" ]; do
  step=$((step + 1)); echo "step $step/$total"; save
  while [ "$step" -ge 10 ] && [ "$(cat "$root/drop_follow" 2>/dev/null || echo 0)" -gt 0 ]; do
    sleep 0.05
  done
  while [ -f "$root/hold_at_step" ] && [ "$step" -ge "$(cat "$root/hold_at_step" 2>/dev/null \
      || echo "$step")" ]; do
    sleep 0.05
  done
  if [ -f "$root/fail_at_step" ] && [ "$step" = "$(cat "$root/fail_at_step")" ]; then
    echo "dcgan-train: error: non-finite loss between steps $step and $step"; exit 3
  fi
  sleep 0.05 & wait $!
done
echo "Done: $total steps"
'''
PYTHON3 = r'''#!/usr/bin/env bash
case "$1 $2" in
  "-m pip") printf '%s\n' "$*" >> "$FAKE_GCLOUD/pip.txt" ;;
  "-c import libtpu; print(libtpu.get_library_path())") echo /fake/libtpu.so ;;
  *) exec "$REAL_PYTHON3" "$@" ;;
esac
'''


def _write_exe(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def install(root, python=sys.executable):
    """Makes `root` a fake cloud; returns the folder to put first on PATH (holding gcloud)."""
    bin_dir = os.path.join(root, "bin")
    os.makedirs(os.path.join(root, "vms"), exist_ok=True)
    os.makedirs(bin_dir, exist_ok=True)
    _write_exe(os.path.join(bin_dir, "gcloud"),
               f'#!/bin/sh\nexec "{python}" "{os.path.abspath(__file__)}" "$@"\n')
    _write_exe(os.path.join(bin_dir, "dcgan-train"), TRAINER)
    _write_exe(os.path.join(bin_dir, "python3"), PYTHON3)
    _write_exe(os.path.join(bin_dir, "hostname"), '#!/bin/sh\necho "$FAKE_HOST"\n')
    return bin_dir


def calls(root):
    with open(os.path.join(root, "calls.jsonl")) as f:
        return [json.loads(line) for line in f]


def _vm(root, name):
    return os.path.join(root, "vms", name)


def _read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def _kill_vm_processes(vm):
    """Ends what runs on a VM: each host's job (its own session, from tpu_job.sh) and the ssh
    sessions into it."""
    for host in sorted(os.listdir(vm)):
        pid_file = os.path.join(vm, host, "dcgan-job", "trainer.pid")
        if os.path.isfile(pid_file):
            try:
                os.killpg(os.getpgid(int(_read(pid_file))), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    for pid in _read(os.path.join(vm, "ssh_pids")).split():
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def restart(root, name):
    _kill_vm_processes(_vm(root, name))


def sigterm_trainer(root, name):
    vm = _vm(root, name)
    for host in _hosts(root, name):
        os.kill(int(_read(os.path.join(vm, host, "dcgan-job", "trainer.pid"))), signal.SIGTERM)


def preempt(root, name):
    vm = _vm(root, name)
    with open(os.path.join(vm, "state"), "w") as f:
        f.write("PREEMPTED")
    _kill_vm_processes(vm)


def _flag(args, name, default=None):
    for arg in args:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return default


def _hosts(root, name):
    vm = _vm(root, name)
    return sorted(h for h in os.listdir(vm) if os.path.isdir(os.path.join(vm, h)))


def _create(root, name, accelerator, spot):
    vm = _vm(root, name)
    if os.path.exists(vm):
        sys.exit(f"ERROR: (gcloud.compute.tpus.tpu-vm.create) {name} already exists")
    hosts = 2 if int(accelerator.rsplit("-", 1)[1]) > 8 else 1
    for i in range(hosts):
        os.makedirs(os.path.join(vm, f"w{i}"))
    doomed = os.path.join(root, "preempt_on_create")
    left = int(_read(doomed, "0"))
    preempted = left > 0
    if preempted:
        with open(doomed, "w") as f:
            f.write(str(left - 1))
    with open(os.path.join(vm, "state"), "w") as f:
        f.write("PREEMPTED" if preempted else "READY")
    with open(os.path.join(vm, "spot"), "w") as f:
        f.write(str(spot))


def _delete(root, name):
    vm = _vm(root, name)
    if not os.path.exists(vm):
        sys.exit(f"ERROR: (gcloud.compute.tpus.tpu-vm.delete) NOT_FOUND: {name}")
    _kill_vm_processes(vm)
    shutil.rmtree(vm)


def _ssh(root, name, args):
    vm = _vm(root, name)
    if _read(os.path.join(vm, "state")) != "READY":
        print(f"ssh: connect to host {name}: Connection refused", file=sys.stderr)
        sys.exit(255)
    command = _flag(args, "command")
    worker = _flag(args, "worker", "0")
    hosts = _hosts(root, name) if worker == "all" else [f"w{worker}"]
    dropping = "tpu_job.sh follow" in command and int(_read(os.path.join(root, "drop_follow"),
                                                            "0")) > 0
    if dropping:
        left = int(_read(os.path.join(root, "drop_follow"))) - 1
        with open(os.path.join(root, "drop_follow"), "w") as f:
            f.write(str(left))
        failures = os.path.join(root, "describe_failures_after_drop")
        if os.path.exists(failures):
            os.replace(failures, os.path.join(root, "describe_failures"))
    code = 0
    for host in hosts:
        home = os.path.join(vm, host)
        env = dict(os.environ, HOME=home, FAKE_GCLOUD=root, LOG_UPLOAD_SECS="0.3",
                   FOLLOW_POLL_SECS="0.1", REAL_PYTHON3=shutil.which("python3") or "python3",
                   PATH=f"{os.path.join(root, 'bin')}{os.pathsep}{os.environ['PATH']}")
        env["FAKE_HOST"] = f"{name}-{host}"
        proc = subprocess.Popen(["bash", "-c", command], cwd=home, env=env,
                                start_new_session=True)
        with open(os.path.join(vm, "ssh_pids"), "a") as f:
            f.write(f"{proc.pid}\n")
        try:
            proc.wait(timeout=0.5 if dropping else None)
            code = proc.returncode or code
        except subprocess.TimeoutExpired:  # the session drops; the detached job goes on
            os.killpg(proc.pid, signal.SIGKILL)
            print("Connection to the TPU VM closed by remote host.", file=sys.stderr)
            sys.exit(255)
        if proc.returncode < 0:  # killed by a preemption
            sys.exit(255)
    sys.exit(code)


def main(args):
    root = os.environ["FAKE_GCLOUD"]
    with open(os.path.join(root, "calls.jsonl"), "a") as f:
        f.write(json.dumps(args) + "\n")
    if args[:1] == ["storage"] and args[1] == "cp":
        src, dst = [a for a in args[2:] if not a.startswith("--")]
        target = os.path.join(root, "gs", dst.removeprefix("gs://"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(src, target)
        return
    group, verb, name = args[2], args[3], args[4]
    if group == "queued-resources":  # FAKE_GCLOUD/queue_polls=N: WAITING for N describes
        pending = os.path.join(root, f"queued-{name}")
        if verb == "create":
            with open(pending, "w") as f:
                json.dump([_flag(args, "node-id"), _flag(args, "accelerator-type"),
                           "--spot" in args], f)
        elif verb == "delete":
            if os.path.exists(pending):
                node = json.loads(_read(pending))[0]
                os.remove(pending)
                if os.path.exists(_vm(root, node)):
                    _delete(root, node)
        elif verb == "describe" and os.path.exists(pending):
            node, accelerator, spot = json.loads(_read(pending))
            polls = int(_read(os.path.join(root, "queue_polls"), "0"))
            if polls > 0:
                with open(os.path.join(root, "queue_polls"), "w") as f:
                    f.write(str(polls - 1))
                print("WAITING_FOR_RESOURCES")
                return
            if not os.path.exists(_vm(root, node)):
                _create(root, node, accelerator, spot)
            print("ACTIVE")
        return
    if verb == "create":
        _create(root, name, _flag(args, "accelerator-type"), "--spot" in args)
    elif verb == "delete":
        _delete(root, name)
    elif verb == "describe":
        failures = int(_read(os.path.join(root, "describe_failures"), "0"))
        if failures > 0:
            with open(os.path.join(root, "describe_failures"), "w") as f:
                f.write(str(failures - 1))
            sys.exit("ERROR: (gcloud.compute.tpus.tpu-vm.describe) There was a problem "
                     "refreshing your current auth tokens: Connection reset by peer")
        state = _read(os.path.join(_vm(root, name), "state"))
        if not state:
            sys.exit(f"ERROR: (gcloud.compute.tpus.tpu-vm.describe) NOT_FOUND: {name}")
        print(state)
    elif verb == "scp":
        src, dst = args[4], args[5]
        vm_name, path = dst.split(":", 1)
        hosts = _hosts(root, vm_name) if _flag(args, "worker") == "all" else ["w0"]
        for host in hosts:
            shutil.copy(src, os.path.join(_vm(root, vm_name), host,
                                          path.removeprefix("~/")))
    elif verb == "ssh":
        _ssh(root, name, args)


if __name__ == "__main__":
    main(sys.argv[1:])
