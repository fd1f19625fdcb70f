#!/usr/bin/env bash
# MNIST DCGAN on a Cloud TPU VM (--config=tpu: TPUStrategy, bfloat16, global batch 1024), as a
# job that survives this machine: run it on your laptop with gcloud authenticated.
#
#   BUCKET=gs://b bash launch/tpu_vm.sh [run] [--spot|--queued] [--keep_vm] [dcgan-train flags]
#       creates the TPU VM (every host of a pod slice), copies this tree there, installs the
#       package's TPU build, starts training detached on every host (launch/tpu_job.sh) and
#       follows worker 0's log. If the ssh session drops it reconnects; if the VM is preempted
#       (spot) or gone it creates a new one and reruns the same command, which resumes from
#       the checkpoint in $BUCKET (up to MAX_RESTARTS times). When training ends it deletes the
#       VM (unless --keep_vm) and prints how to evaluate and export from the bucket.
#       Ctrl-C only detaches: training goes on; `follow` reattaches.
#   BUCKET=gs://b nohup bash launch/tpu_vm.sh watch [the same options] > tpu_vm.log 2>&1 &
#       `run` for a host that stays on (a small VM, a workstation, Cloud Shell while its
#       session lasts) instead of the laptop: it ignores a hang-up (a closed terminal or ssh
#       session), stamps its own lines with the UTC time, starts what is missing (creates the
#       VM if there is none, starts the job if none runs, follows one that does), and
#       recreates and resumes after every preemption until the run ends. Started with its
#       output on a terminal, it writes to ~/.config/dcgan-dist/tpu_vm-$TPU_NAME.log instead
#       (a closed terminal fails every write, which would end it). Under systemd (linger:
#       the user's units keep running after logout; PATH: the unit's own PATH lacks gcloud):
#       loginctl enable-linger "$USER"
#       systemd-run --user --unit=dcgan-tpu --setenv=PATH="$PATH" --setenv=BUCKET=gs://b \
#           bash "$PWD/launch/tpu_vm.sh" watch --spot
#   follow, stop, status, delete (and watch) use the settings `run` (or watch) saved (BUCKET,
#   ZONE, ACCELERATOR_TYPE, CONFIG, RUN_NAME, --spot, --queued, the dcgan-train flags:
#   ~/.config/dcgan-dist/tpu_vm-$TPU_NAME.env). Settings left out come from there; one given
#   that differs from it is refused in one line (end that run first: stop, then delete);
#   --keep_vm may be added.
#   bash launch/tpu_vm.sh follow     reattach: the same supervision, without creating first
#   bash launch/tpu_vm.sh stop       SIGTERM the trainer: it checkpoints and exits 42 (a
#                                    supervising run/follow then ends; `run` again resumes)
#   bash launch/tpu_vm.sh status     the VM's state and the job's
#   bash launch/tpu_vm.sh delete     delete the VM (and its queued resource)
# Options: --spot (a Spot VM: cheaper, preemptible), --queued (a queued resource: waits for
# capacity instead of failing, the usual way to get v5e; with --spot a spot one), --keep_vm,
# --dry_run (print every command, run none; needs no gcloud). Other arguments go to dcgan-train.
# Not run on a real TPU from this repository: tests/test_tpu_vm.py runs it against a fake gcloud.
#
# It installs `pip install --user -c constraints/tf2.20.txt ".[tpu]" -f $LIBTPU_INDEX` on the VM:
# tensorflow-tpu 2.20.0 with libtpu from Google's libtpu-tf-releases index, as Cloud TPU's
# TensorFlow instructions and Google's own TF-on-TPU tests do (docs/install.md); LIBTPU=V pins one.
# Cloud TPU facts it relies on: the runtime image per generation
# (https://cloud.google.com/tpu/docs/runtimes); TensorFlow on v5e/v5p/v6e needs PJRT_DEVICE=TPU,
# NEXT_PLUGGABLE_DEVICE_USE_C_API=true and TF_PLUGGABLE_DEVICE_LIBRARY_PATH=<libtpu.so> before it
# starts (https://cloud.google.com/tpu/docs/v5e-training); the zones that offer each generation
# (Cloud TPU's "TPU regions and zones", https://cloud.google.com/tpu/docs/regions-zones: its North
# America tables, and v6e's europe-west4-a); a slice of several hosts runs every
# command on every host (--worker=all); a preempted Spot VM is PREEMPTED and must be deleted and
# created again; a queued resource waits (WAITING_FOR_RESOURCES, PROVISIONING) until ACTIVE
# (https://cloud.google.com/tpu/docs/queued-resources).
#
# Environment (default):
#   BUCKET            gs://bucket the VM reads and writes; data in $BUCKET/tensorflow_datasets
#                     (required, see README)
#   TPU_NAME          the TPU VM (and queued resource) name              (dcgan-tpu)
#   ZONE              zone with quota for the accelerator  (the generation's first zone below)
#   ZONE_CHECK=0      skip the check that ZONE offers the generation (a zone newer than the table)
#   ACCELERATOR_TYPE  v4-8, v5litepod-8, v5p-8, v6e-8, or a slice such as v4-32  (v4-8)
#   TPU_VERSION       runtime image (by generation, as above; required for others)
#   TPU_PJRT          1 exports the PJRT variables                       (1 on v5e/v5p/v6e)
#   PROJECT           Google Cloud project                               (gcloud's own)
#   CONFIG            the packaged config to train                       (tpu)
#                     one not made for a TPU (no --strategy=tpu in it or its includes, e.g.
#                     folder64, celeba64) is followed by tpu.cfg's own settings: TPUStrategy,
#                     bfloat16, batch 1024, 100 steps per call and its schedule
#   RUN_NAME          the run directory is $BUCKET/runs/$RUN_NAME        (tpu)
#   MAX_RESTARTS      VMs created again after preemption before giving up  (20)
#   POLL_SECS         seconds between state checks while waiting         (30)
#   LIBTPU_INDEX      where pip also looks for libtpu   (https://storage.googleapis.com/libtpu-tf-releases/index.html)
#   LIBTPU            a libtpu version to pin instead                    (unset)
#   KEEP_TPU=1        the same as --keep_vm
set -euo pipefail
cd "$(dirname "$0")/.."

# What the caller set, before the defaults below fill in the rest: a command that reads a
# saved run (watch, follow, ...) refuses any of them that differs from that run's.
given=()
for name in BUCKET ZONE PROJECT ACCELERATOR_TYPE TPU_VERSION TPU_PJRT CONFIG RUN_NAME; do
  if [ -n "${!name:-}" ]; then given+=("${name}=${!name}"); fi
done
BUCKET="${BUCKET:-}"
TPU_NAME="${TPU_NAME:-dcgan-tpu}"
ZONE="${ZONE:-}"
ZONE_CHECK="${ZONE_CHECK:-1}"
ACCELERATOR_TYPE="${ACCELERATOR_TYPE:-v4-8}"
PROJECT="${PROJECT:-}"
CONFIG="${CONFIG:-tpu}"
RUN_NAME="${RUN_NAME:-tpu}"
MAX_RESTARTS="${MAX_RESTARTS:-20}"
POLL_SECS="${POLL_SECS:-30}"
LIBTPU_INDEX="${LIBTPU_INDEX:-https://storage.googleapis.com/libtpu-tf-releases/index.html}"
LIBTPU="${LIBTPU:-}"
KEEP_VM="${KEEP_TPU:-0}"
DRY_RUN=0 SPOT=0 QUEUED=0 COMMAND=run
train_args=()
for arg in "$@"; do
  case "${arg}" in
    --dry_run) DRY_RUN=1 ;;
    --spot) SPOT=1 ;;
    --queued) QUEUED=1 ;;
    --keep_vm) KEEP_VM=1 ;;
    run|watch|follow|stop|status|delete) COMMAND="${arg}" ;;
    *) train_args+=("${arg}") ;;
  esac
done

fail() { echo "tpu_vm.sh: $*" >&2; exit 2; }
# watch runs unattended, its output in a file or a journal: each of its lines says when.
say() { echo "$([ "${COMMAND}" = watch ] && date -u '+%Y-%m-%dT%H:%M:%SZ ')tpu_vm.sh: $*"; }

# `run` saves how the job was started; follow, stop, status and delete read it back, so that a
# VM recreated while following is the same kind (spot, queued) and reruns the same command.
# A setting given to them must be the saved one: silently replaced, it would mislead (a watch
# started with other flags would follow the old run); refused, the user learns which wins.
STATE_DIR="${TPU_STATE_DIR:-${HOME}/.config/dcgan-dist}"
STATE_FILE="${STATE_DIR}/tpu_vm-${TPU_NAME}.env"
if [ "${COMMAND}" != run ] && [ -f "${STATE_FILE}" ]; then
  if [ "${SPOT}" = 1 ]; then given+=(SPOT=1); fi
  if [ "${QUEUED}" = 1 ]; then given+=(QUEUED=1); fi
  given_args="" saved_args="" given_keep="${KEEP_VM}"
  if [ ${#train_args[@]} -gt 0 ]; then printf -v given_args '%q ' "${train_args[@]}"; fi
  # shellcheck source=/dev/null
  source "${STATE_FILE}"
  KEEP_VM=$((KEEP_VM | given_keep))
  differs=""
  for setting in ${given[@]+"${given[@]}"}; do
    name="${setting%%=*}" value="${setting#*=}"
    if [ "${name}" = BUCKET ]; then value="${value%/}"; fi
    if [ "${value}" != "${!name}" ]; then
      differs+="; ${name}=${value} (saved: ${!name:-unset})"
    fi
  done
  if [ ${#train_args[@]} -gt 0 ]; then printf -v saved_args '%q ' "${train_args[@]}"; fi
  if [ -n "${given_args}" ] && [ "${given_args}" != "${saved_args}" ]; then
    saved_args="${saved_args% }"
    differs+="; dcgan-train flags ${given_args% } (saved: ${saved_args:-none})"
  fi
  if [ -n "${differs}" ]; then
    fail "${COMMAND}: ${TPU_NAME} has a saved run (${STATE_FILE}) with other settings:" \
         "${differs#; }. Give its settings or none (they are read from it), or end it" \
         "first (bash launch/tpu_vm.sh stop, then delete) to start another"
  fi
fi
save_state() {
  mkdir -p "$(dirname "${STATE_FILE}")"
  {
    local name
    for name in BUCKET ZONE PROJECT ACCELERATOR_TYPE TPU_VERSION TPU_PJRT CONFIG RUN_NAME SPOT \
        QUEUED KEEP_VM; do
      printf '%s=%q\n' "${name}" "${!name}"
    done
    printf 'train_args=('
    if [ ${#train_args[@]} -gt 0 ]; then printf '%q ' "${train_args[@]}"; fi
    printf ')\n'
  } > "${STATE_FILE}"
}

if [[ "${BUCKET}" != gs://?* ]]; then
  fail "set BUCKET=gs://your-bucket (the TPU reads and writes only gs://; got '${BUCKET}')"
fi
BUCKET="${BUCKET%/}"
WORKDIR="${BUCKET}/runs/${RUN_NAME}"
DATA_DIR="${BUCKET}/tensorflow_datasets"

# Generation -> runtime image, whether TensorFlow needs the PJRT variables, and the zones that
# offer it (the first is the default ZONE).
generation="${ACCELERATOR_TYPE%%-*}"
size="${ACCELERATOR_TYPE##*-}"
case "${generation}" in
  v4) image="tpu-ubuntu2204-base"; pjrt=0; zones="us-central2-b" ;;
  v5litepod|v5e) image=v2-alpha-tpuv5-lite; pjrt=1
    zones="us-central1-a us-south1-a us-west1-c us-west4-a" ;;
  v5p) image=v2-alpha-tpuv5; pjrt=1; zones="us-central1-a us-east5-a" ;;
  v6e) image=v2-alpha-tpuv6e; pjrt=1
    zones="us-central1-b us-east1-d us-east5-a us-east5-b europe-west4-a" ;;
  v3) image=""; pjrt=0; zones="us-central1-a us-central1-b" ;;
  *) image=""; pjrt=0; zones="" ;;
esac
TPU_VERSION="${TPU_VERSION:-${image}}"
TPU_PJRT="${TPU_PJRT:-${pjrt}}"
ZONE="${ZONE:-${zones%% *}}"
if [ -z "${ZONE}" ]; then
  fail "no zone known for ACCELERATOR_TYPE=${ACCELERATOR_TYPE}; set ZONE (see" \
       "https://cloud.google.com/tpu/docs/regions-zones)"
fi
if [ "${ZONE_CHECK}" = 1 ] && [ -n "${zones}" ] && [[ " ${zones} " != *" ${ZONE} "* ]]; then
  fail "ZONE=${ZONE} does not offer ${generation} (ACCELERATOR_TYPE=${ACCELERATOR_TYPE}): it is" \
       "in ${zones// /, } (Cloud TPU's \"TPU regions and zones\"," \
       "https://cloud.google.com/tpu/docs/regions-zones); set ZONE to one of them, or" \
       "ZONE_CHECK=0 for a zone newer than this table"
fi
if [ -z "${TPU_VERSION}" ]; then
  fail "no runtime image known for ACCELERATOR_TYPE=${ACCELERATOR_TYPE}; set TPU_VERSION" \
       "(see https://cloud.google.com/tpu/docs/runtimes)"
fi
if ! [[ "${size}" =~ ^[0-9]+$ ]]; then
  fail "ACCELERATOR_TYPE=${ACCELERATOR_TYPE} is not GENERATION-SIZE, e.g. v4-8 or v5litepod-16"
fi
# The trainer's configs. One made for a TPU (--strategy=tpu in it or in a config it includes:
# tpu, celeba64_tpu) goes alone; any other (folder64, celeba64) is followed by tpu.cfg's own
# settings, all but its --config=mnist: without them the TPU would run it at a GPU's batch
# (folder64's 128), one step per call and a GPU's schedule. Flags given here come last and win.
config_file() { echo "dcgan_dist/configs/$1.cfg"; }
made_for_tpu() {  # made_for_tpu NAME
  local include
  if grep -q '^--strategy=tpu$' "$(config_file "$1")"; then return 0; fi
  while IFS= read -r include; do
    if made_for_tpu "${include}"; then return 0; fi
  done < <(sed -n 's/^--config=//p' "$(config_file "$1")")
  return 1
}
if [ ! -f "$(config_file "${CONFIG}")" ]; then
  fail "CONFIG=${CONFIG}: there is no $(config_file "${CONFIG}") (dcgan-train --list_configs" \
       "lists the configs)"
fi
config_args=(--config="${CONFIG}")
if ! made_for_tpu "${CONFIG}"; then
  while IFS= read -r line; do config_args+=("${line}"); done < <(
    grep '^--' "$(config_file tpu)" | grep -v '^--config=')
fi

# More than 8 (cores on v4/v5p, chips on v5e/v6e) spans several hosts.
all_hosts=()
if [ "${size}" -gt 8 ]; then all_hosts=(--worker=all); fi

# Prints a command as "+ ..." (quoting words that need it, so it can be pasted), then runs it
# unless --dry_run.
run() {
  local shown="+" arg
  for arg in "$@"; do
    if [[ "${arg}" =~ ^[A-Za-z0-9_./:=@,+-]*$ ]]; then shown+=" ${arg}"
    else shown+=" '${arg//\'/\'\\\'\'}'"; fi
  done
  echo "${shown}"
  if [ "${DRY_RUN}" = 0 ]; then "$@"; fi
}

where=(--zone="${ZONE}")
if [ -n "${PROJECT}" ]; then where+=(--project="${PROJECT}"); fi
tpu=(gcloud compute tpus tpu-vm)
queued=(gcloud compute tpus queued-resources)
tarball="${TMPDIR:-/tmp}/dcgan-dist-src.tar.gz"

# The VM's state (READY, CREATING, PREEMPTED, ...), "" when there is none (NOT_FOUND), or
# UNKNOWN when gcloud could not say (network, expired credentials): never taken for gone.
vm_state() {
  local err="${TMPDIR:-/tmp}/tpu_vm_describe.$$" state
  if state="$("${tpu[@]}" describe "${TPU_NAME}" "${where[@]}" --format='value(state)' \
      2>"${err}")"; then
    echo "${state}"
  elif grep -q "NOT_FOUND" "${err}"; then
    echo ""
  else
    echo "UNKNOWN"
  fi
  rm -f "${err}"
}

create_vm() {
  local spot=()
  if [ "${SPOT}" = 1 ]; then spot=(--spot); fi
  if [ "${QUEUED}" = 1 ]; then
    run "${queued[@]}" create "${TPU_NAME}" --node-id="${TPU_NAME}" "${where[@]}" \
      --accelerator-type="${ACCELERATOR_TYPE}" --runtime-version="${TPU_VERSION}" \
      ${spot[@]+"${spot[@]}"}
  else
    run "${tpu[@]}" create "${TPU_NAME}" "${where[@]}" \
      --accelerator-type="${ACCELERATOR_TYPE}" --version="${TPU_VERSION}" ${spot[@]+"${spot[@]}"}
  fi
}

delete_vm() {
  if [ "${QUEUED}" = 1 ]; then  # --force deletes the node with the request
    run "${queued[@]}" delete "${TPU_NAME}" "${where[@]}" --force --quiet || true
  else
    run "${tpu[@]}" delete "${TPU_NAME}" "${where[@]}" --quiet || true
  fi
}

# The queued resource's state (WAITING_FOR_RESOURCES, PROVISIONING, ACTIVE, SUSPENDED, ...).
queued_state() {
  "${queued[@]}" describe "${TPU_NAME}" "${where[@]}" --format='value(state.state)' \
    2>/dev/null || true
}

ssh_vm() {  # ssh_vm WORKER COMMAND
  run "${tpu[@]}" ssh "${TPU_NAME}" "${where[@]}" ${1:+"$1"} --command="$2"
}

install_and_start() {
  run tar -czf "${tarball}" --exclude='./.git' --exclude='./.venv*' --exclude=./data \
    --exclude=./runs --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache .
  run "${tpu[@]}" scp "${tarball}" "${TPU_NAME}:~/dcgan-dist-src.tar.gz" "${where[@]}" \
    ${all_hosts[@]+"${all_hosts[@]}"}
  local pin="" pjrt_env="" train
  if [ -n "${LIBTPU}" ]; then pin=" libtpu==${LIBTPU}"; fi
  if [ "${TPU_PJRT}" = 1 ]; then
    # Before TensorFlow is imported: dcgan-train is a new process that inherits them.
    pjrt_env="export PJRT_DEVICE=TPU NEXT_PLUGGABLE_DEVICE_USE_C_API=true; \
export TF_PLUGGABLE_DEVICE_LIBRARY_PATH=\"\$(python3 -c \"import libtpu; print(libtpu.get_library_path())\")\"; "
  fi
  # printf %q keeps the flag values and extra arguments single words in the VM's shell.
  printf -v train '%q ' "${WORKDIR}" "${config_args[@]}" --tpu=local --workdir="${WORKDIR}" \
    --data_dir="${DATA_DIR}" ${train_args[@]+"${train_args[@]}"}
  ssh_vm "${all_hosts[0]:-}" "set -e; mkdir -p ~/dcgan-dist; \
tar -xzf ~/dcgan-dist-src.tar.gz -C ~/dcgan-dist; cd ~/dcgan-dist; \
python3 -m pip install --quiet --user -c constraints/tf2.20.txt \".[tpu]\"${pin} -f ${LIBTPU_INDEX}; \
${pjrt_env}export PATH=\"\$HOME/.local/bin:\$PATH\"; bash launch/tpu_job.sh start ${train% }"
}

# Follows worker 0's log from line $seen on; sets job_status to the job's last status line
# ("dcgan-job: exited N", "...: none"), or "" if the session broke first. ssh's own messages
# go to stderr, so that only log lines are counted.
seen=0 job_status=""
follow_job() {
  job_status=""
  local line
  while IFS= read -r line; do
    if [[ "${line}" == "dcgan-job: "* ]]; then job_status="${line}"; else
      echo "${line}"; seen=$((seen + 1)); fi
  done < <("${tpu[@]}" ssh "${TPU_NAME}" "${where[@]}" --worker=0 \
           --command="bash ~/dcgan-dist/launch/tpu_job.sh follow ${seen}" || true)
}

print_next_steps() {
  cat <<EOF
The run is in ${WORKDIR}: checkpoints (ckpt/), samples/, samples.gif, stats.jsonl, logs/.
Evaluate and export it from any machine with the package and read access to the bucket:
  dcgan-eval --workdir=${WORKDIR} --data_dir=${DATA_DIR}
  dcgan-generate --workdir=${WORKDIR} --num_images=1000 --output=samples.npz --grid
  dcgan-export --workdir=${WORKDIR} --output=${BUCKET}/exported/${RUN_NAME}
  gcloud storage cp -r ${WORKDIR}/samples ${WORKDIR}/samples.gif .
To train further: BUCKET=${BUCKET} bash launch/tpu_vm.sh run --train_steps=N (resumes).
EOF
}

finish() {  # finish EXIT_CODE MESSAGE
  say "$2"
  if [ "${KEEP_VM}" = 1 ]; then
    say "--keep_vm: ${TPU_NAME} is still running (and billed); delete it with: bash launch/tpu_vm.sh delete"
  else
    delete_vm
    rm -f "${STATE_FILE}"
  fi
  print_next_steps
  exit "$1"
}

# Keeps the job alive until it ends: reconnects after a dropped session, recreates a
# preempted or vanished VM and reruns the same command (which resumes from the bucket).
# supervise 1: start the job first (a new VM); supervise 0: follow the job that runs.
supervise() {
  local restarts=0 state fresh="$1" code
  trap 'echo; say "detached; training goes on. Reattach: bash launch/tpu_vm.sh follow; stop it: bash launch/tpu_vm.sh stop"; exit 130' INT
  while true; do
    state="$(vm_state)"
    case "${state}" in
      READY) ;;
      CREATING|STARTING|RESTARTING|REPAIRING)
        say "waiting for ${TPU_NAME}: ${state}"; sleep "${POLL_SECS}"; continue ;;
      UNKNOWN)
        say "gcloud could not say how ${TPU_NAME} is; asking again"; sleep "${POLL_SECS}"
        continue ;;
      *)
        if [ -z "${state}" ] && [ "${QUEUED}" = 1 ]; then
          local request
          request="$(queued_state)"
          case "${request}" in
            ACCEPTED|WAITING_FOR_RESOURCES|PROVISIONING|CREATING)
              say "waiting for capacity: queued resource ${TPU_NAME} is ${request}"
              sleep "${POLL_SECS}"; continue ;;
            ACTIVE)  # granted: its node is being made
              sleep "${POLL_SECS}"; continue ;;
          esac
        fi
        restarts=$((restarts + 1))
        if [ "${restarts}" -gt "${MAX_RESTARTS}" ]; then
          finish 1 "the VM was lost ${MAX_RESTARTS} times (last state: ${state:-gone}); giving up"
        fi
        say "${TPU_NAME} is ${state:-gone}: creating it again (${restarts}/${MAX_RESTARTS}); the same command resumes from ${WORKDIR}"
        delete_vm
        if ! create_vm; then say "could not create it; trying again"; sleep "${POLL_SECS}"; fi
        fresh=1
        continue ;;
    esac
    if [ "${fresh}" = 1 ]; then
      install_and_start
      fresh=0 seen=0
    fi
    follow_job
    case "${job_status}" in
      "dcgan-job: exited 0")
        finish 0 "training finished" ;;
      "dcgan-job: exited 42 (stopped)")
        finish 42 "stopped by tpu_vm.sh stop; a checkpoint was saved" ;;
      "dcgan-job: exited 42")  # SIGTERM from the VM itself (maintenance): run again
        say "the trainer got SIGTERM from the VM and saved a checkpoint; starting it again"
        fresh=1 ;;
      "dcgan-job: exited "*)
        code="${job_status#dcgan-job: exited }"
        finish "${code}" "training failed with exit ${code}: the log above says why (README, When things go wrong)" ;;
      "dcgan-job: none")  # a VM that restarted keeps no process: start the job again
        if [ "$(vm_state)" = READY ]; then say "no job runs on ${TPU_NAME}: starting it"; fresh=1; fi ;;
      *)
        say "lost the session to ${TPU_NAME}; checking it"; sleep "${POLL_SECS}" ;;
    esac
  done
}

if [ "${COMMAND}" = watch ]; then
  # Unattended: a closed terminal or ssh session must not end it (nohup does the same).
  trap '' HUP
  # Ignoring the hang-up is not enough: once the terminal is gone every write to it fails
  # (EIO), and the first failed `say` would end the watch under set -e. So a watch started on
  # a terminal writes to a file of its own (nohup's or systemd's output is a file already).
  if [ -t 1 ] && [ "${DRY_RUN}" = 0 ]; then
    log_file="${STATE_DIR}/tpu_vm-${TPU_NAME}.log"
    mkdir -p "${STATE_DIR}"
    say "watch writes to ${log_file} from here on (tail -f it), so that closing this" \
        "terminal does not end it"
    exec >> "${log_file}" 2>&1 < /dev/null
  fi
fi
case "${COMMAND}" in
  run|watch)
    echo "# ${ACCELERATOR_TYPE}: image ${TPU_VERSION}, PJRT variables $([ "${TPU_PJRT}" = 1 ] \
      && echo exported || echo not needed), $([ ${#all_hosts[@]} = 0 ] && echo "one host" \
      || echo "several hosts: every command on every worker")$([ "${SPOT}" = 1 ] \
      && echo ", spot")$([ "${QUEUED}" = 1 ] && echo ", queued resource")"
    if [ "${DRY_RUN}" = 1 ]; then
      create_vm; install_and_start; ssh_vm --worker=0 "bash ~/dcgan-dist/launch/tpu_job.sh follow 0"
      [ "${KEEP_VM}" = 1 ] || delete_vm
      print_next_steps
      exit 0
    fi
    save_state
    case "$(vm_state)" in
      "") create_vm; supervise 1 ;;  # a create that fails (quota, capacity) ends here
      READY)
        # Read whole, then matched: `ssh | grep -q` under pipefail failed whenever grep's
        # early exit broke ssh's pipe, and a running job then looked absent.
        job="$(ssh_vm --worker=0 "bash ~/dcgan-dist/launch/tpu_job.sh status" 2>/dev/null || true)"
        if grep -q "^dcgan-job: running" <<< "${job}"; then
          say "${TPU_NAME} is training already: following it (tpu_vm.sh stop ends it)"
          supervise 0
        fi
        say "${TPU_NAME} exists: training on it"
        supervise 1 ;;
      *) supervise 0 ;;  # preempted or in transition: supervise recreates or waits
    esac
    ;;
  follow) supervise 0 ;;
  stop) ssh_vm "${all_hosts[0]:-}" "bash ~/dcgan-dist/launch/tpu_job.sh stop" ;;
  status)
    say "${TPU_NAME}: $(vm_state | grep . || echo "no such VM")"
    if [ "$(vm_state)" = READY ]; then ssh_vm --worker=0 "bash ~/dcgan-dist/launch/tpu_job.sh status"; fi
    ;;
  delete) delete_vm; rm -f "${STATE_FILE}" ;;
esac
