#!/usr/bin/env bash
# MNIST DCGAN on a Cloud TPU VM (configs/tpu.cfg: TPUStrategy, bfloat16, global batch 1024).
# Run it on your own machine with gcloud authenticated. It creates the TPU VM, copies this
# working tree to it (a tarball without .git, .venv, data and runs, sent with
# `gcloud compute tpus tpu-vm scp`), installs the package there with pip and runs
#   dcgan-train --flagfile=configs/tpu.cfg --tpu=local --workdir=$BUCKET/runs/tpu
#               --data_dir=$BUCKET/tensorflow_datasets "$@"
# then deletes the VM when the script exits, whether training succeeded or not.
# Not run on a real TPU from this repository. The VM gets the `tensorflow` wheel pinned in
# setup.cfg; TPU kernels need TensorFlow's TPU build and libtpu (see README, "Cloud TPU VM").
#
# Environment (default):
#   BUCKET            gs://bucket the TPU VM can read and write; MNIST must be prepared in
#                     $BUCKET/tensorflow_datasets (see README)      (required)
#   TPU_NAME          name of the TPU VM to create                  (dcgan-tpu)
#   ZONE              zone with quota for the accelerator           (us-central2-b)
#   ACCELERATOR_TYPE  single-host TPU slice                         (v4-8)
#   TPU_VERSION       TPU VM software version (image)               (tpu-ubuntu2204-base)
#   PROJECT           Google Cloud project                          (gcloud's configured one)
#   KEEP_TPU          1 keeps the VM after the run (you delete it)  (0)
# `--dry_run` as the first argument prints every command and runs none (needs no gcloud).
# Other extra arguments pass through to dcgan-train on the VM.
set -euo pipefail
cd "$(dirname "$0")/.."

BUCKET="${BUCKET:-}"
TPU_NAME="${TPU_NAME:-dcgan-tpu}"
ZONE="${ZONE:-us-central2-b}"
ACCELERATOR_TYPE="${ACCELERATOR_TYPE:-v4-8}"
TPU_VERSION="${TPU_VERSION:-tpu-ubuntu2204-base}"
PROJECT="${PROJECT:-}"
KEEP_TPU="${KEEP_TPU:-0}"
DRY_RUN=0
if [ "${1:-}" = --dry_run ]; then DRY_RUN=1; shift; fi

if [[ "${BUCKET}" != gs://?* ]]; then
  echo "tpu_vm.sh: set BUCKET=gs://your-bucket (the TPU reads and writes only gs://;" \
       "got '${BUCKET}')" >&2
  exit 2
fi
BUCKET="${BUCKET%/}"

# Prints a command as "+ ..." (quoting words that need it, so it can be pasted), then runs it
# unless --dry_run.
run() {
  local shown="+" arg
  for arg in "$@"; do
    if [[ "${arg}" =~ ^[A-Za-z0-9_./:=@,+-]*$ ]]; then
      shown+=" ${arg}"
    else
      shown+=" '${arg//\'/\'\\\'\'}'"
    fi
  done
  echo "${shown}"
  if [ "${DRY_RUN}" = 0 ]; then "$@"; fi
}

where=(--zone="${ZONE}")
if [ -n "${PROJECT}" ]; then where+=(--project="${PROJECT}"); fi
tarball="${TMPDIR:-/tmp}/dcgan-dist-src.tar.gz"
# The VM's shell runs this; printf %q keeps the flag values and extra arguments single words.
train=(dcgan-train --flagfile=configs/tpu.cfg --tpu=local --workdir="${BUCKET}/runs/tpu"
       --data_dir="${BUCKET}/tensorflow_datasets" "$@")
printf -v train_words '%q ' "${train[@]}"
remote="set -e; mkdir -p ~/dcgan-dist; tar -xzf ~/dcgan-dist-src.tar.gz -C ~/dcgan-dist; \
cd ~/dcgan-dist; python3 -m pip install --quiet --user .; \
PATH=\"\$HOME/.local/bin:\$PATH\" ${train_words% }"

delete_tpu() {
  if [ "${KEEP_TPU}" = 1 ]; then
    echo "KEEP_TPU=1: the TPU VM ${TPU_NAME} is still running (and billed); delete it with:"
    echo "  gcloud compute tpus tpu-vm delete ${TPU_NAME} ${where[*]} --quiet"
  else
    run gcloud compute tpus tpu-vm delete "${TPU_NAME}" "${where[@]}" --quiet
  fi
}

run tar -czf "${tarball}" --exclude=./.git --exclude=./.venv --exclude=./data --exclude=./runs \
  --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache .
run gcloud compute tpus tpu-vm create "${TPU_NAME}" "${where[@]}" \
  --accelerator-type="${ACCELERATOR_TYPE}" --version="${TPU_VERSION}"
# Only after a successful create: a failed create must not delete someone else's VM of that name.
trap delete_tpu EXIT
run gcloud compute tpus tpu-vm scp "${tarball}" "${TPU_NAME}:~/dcgan-dist-src.tar.gz" "${where[@]}"
run gcloud compute tpus tpu-vm ssh "${TPU_NAME}" "${where[@]}" --command="${remote}"
