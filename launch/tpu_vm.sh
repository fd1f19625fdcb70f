#!/usr/bin/env bash
# MNIST DCGAN on a Cloud TPU VM (configs/tpu.cfg: TPUStrategy, bfloat16, global batch 1024).
# Run it on your own machine with gcloud authenticated. It creates the TPU VM (every host of
# a pod slice), copies this working tree to each host (a tarball without .git, .venv*, data
# and runs), installs the package's TPU build there and runs on every host
#   dcgan-train --flagfile=configs/tpu.cfg --tpu=local --workdir=$BUCKET/runs/tpu
#               --data_dir=$BUCKET/tensorflow_datasets "$@"
# then deletes the VM when the script exits, whether training succeeded or not.
# Not run on a real TPU from this repository: no TPU was available to it.
#
# What it installs: `pip install -c constraints/tf2.20.txt '.[tpu]'`, i.e. tensorflow-tpu
# 2.20.0 and libtpu 0.0.20 and not the `tensorflow` wheel (the package names TensorFlow only
# in its extras; see setup.cfg and README, "Cloud TPU VM").
#
# Facts this relies on, from the Cloud TPU documentation:
# - Runtime image per generation, "TPU software versions", https://cloud.google.com/tpu/docs/runtimes
#   (PyPI frameworks on v6e: v2-alpha-tpuv6e, v5p: v2-alpha-tpuv5, v5e: v2-alpha-tpuv5-lite,
#   v4 and older: tpu-ubuntu2204-base; all Ubuntu 22.04 with Python 3.10).
# - TensorFlow on v5e, v5p and v6e runs on the PJRT device API only (their TensorFlow images
#   are the tpu-vm-tf-X.Y.Z[-pod]-pjrt ones, same page and
#   https://cloud.google.com/tpu/docs/v5e-training). With the base images above that API is
#   switched on by the environment before TensorFlow is imported: PJRT_DEVICE=TPU,
#   NEXT_PLUGGABLE_DEVICE_USE_C_API=true and TF_PLUGGABLE_DEVICE_LIBRARY_PATH=<libtpu.so>,
#   as Google's own TensorFlow-on-TPU examples set them (keras-rs TPU embedding example:
#   `libtpu.get_library_path()`; GoogleCloudPlatform/ml-auto-solutions TF tests).
#   v4 keeps TensorFlow's default TPU runtime, which finds libtpu by itself.
# - A slice with more than one host (v4-32, v5litepod-16, ...) needs every install and
#   training command on every host: `--worker=all` (v5e training page). Each host runs the
#   same dcgan-train; the TPUStrategy spans the slice and each host's input pipeline reads its
#   own shard through the input context. The run directory and data must then be on gs://.
#
# Environment (default):
#   BUCKET            gs://bucket the TPU VM can read and write; MNIST must be prepared in
#                     $BUCKET/tensorflow_datasets (see README)      (required)
#   TPU_NAME          name of the TPU VM to create                  (dcgan-tpu)
#   ZONE              zone with quota for the accelerator           (us-central2-b)
#   ACCELERATOR_TYPE  v4-8, v5litepod-8, v5p-8, v6e-8, or a pod slice such as v4-32 (v4-8)
#   TPU_VERSION       runtime image; by generation: v4 tpu-ubuntu2204-base,
#                     v5litepod/v5e v2-alpha-tpuv5-lite, v5p v2-alpha-tpuv5, v6e v2-alpha-tpuv6e
#                     (required for any other accelerator)
#   TPU_PJRT          1 exports the PJRT variables above   (1 on v5e/v5p/v6e, else 0)
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
PROJECT="${PROJECT:-}"
KEEP_TPU="${KEEP_TPU:-0}"
DRY_RUN=0
if [ "${1:-}" = --dry_run ]; then DRY_RUN=1; shift; fi

fail() { echo "tpu_vm.sh: $*" >&2; exit 2; }

if [[ "${BUCKET}" != gs://?* ]]; then
  fail "set BUCKET=gs://your-bucket (the TPU reads and writes only gs://; got '${BUCKET}')"
fi
BUCKET="${BUCKET%/}"

# Generation -> runtime image and whether TensorFlow needs the PJRT variables.
generation="${ACCELERATOR_TYPE%%-*}"
size="${ACCELERATOR_TYPE##*-}"
case "${generation}" in
  v4) image=tpu-ubuntu2204-base; pjrt=0 ;;
  v5litepod|v5e) image=v2-alpha-tpuv5-lite; pjrt=1 ;;
  v5p) image=v2-alpha-tpuv5; pjrt=1 ;;
  v6e) image=v2-alpha-tpuv6e; pjrt=1 ;;
  *) image=""; pjrt=0 ;;
esac
TPU_VERSION="${TPU_VERSION:-${image}}"
TPU_PJRT="${TPU_PJRT:-${pjrt}}"
if [ -z "${TPU_VERSION}" ]; then
  fail "no runtime image known for ACCELERATOR_TYPE=${ACCELERATOR_TYPE}; set TPU_VERSION" \
       "(see https://cloud.google.com/tpu/docs/runtimes)"
fi
if ! [[ "${size}" =~ ^[0-9]+$ ]]; then
  fail "ACCELERATOR_TYPE=${ACCELERATOR_TYPE} is not GENERATION-SIZE, e.g. v4-8 or v5litepod-16"
fi
# More than 8 (cores on v4/v5p, chips on v5e/v6e) spans several hosts.
workers=()
if [ "${size}" -gt 8 ]; then workers=(--worker=all); fi

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
install="python3 -m pip install --quiet --user -c constraints/tf2.20.txt \".[tpu]\""
pjrt_env=""
if [ "${TPU_PJRT}" = 1 ]; then
  # Before TensorFlow is imported: dcgan-train is a new process that inherits them.
  pjrt_env="export PJRT_DEVICE=TPU NEXT_PLUGGABLE_DEVICE_USE_C_API=true; \
export TF_PLUGGABLE_DEVICE_LIBRARY_PATH=\"\$(python3 -c \"import libtpu; print(libtpu.get_library_path())\")\"; "
fi
remote="set -e; mkdir -p ~/dcgan-dist; tar -xzf ~/dcgan-dist-src.tar.gz -C ~/dcgan-dist; \
cd ~/dcgan-dist; ${install}; ${pjrt_env}PATH=\"\$HOME/.local/bin:\$PATH\" ${train_words% }"

delete_tpu() {
  if [ "${KEEP_TPU}" = 1 ]; then
    echo "KEEP_TPU=1: the TPU VM ${TPU_NAME} is still running (and billed); delete it with:"
    echo "  gcloud compute tpus tpu-vm delete ${TPU_NAME} ${where[*]} --quiet"
  else
    run gcloud compute tpus tpu-vm delete "${TPU_NAME}" "${where[@]}" --quiet
  fi
}

echo "# ${ACCELERATOR_TYPE}: image ${TPU_VERSION}, PJRT variables $([ "${TPU_PJRT}" = 1 ] \
  && echo exported || echo not needed), $([ ${#workers[@]} = 0 ] && echo "one host" \
  || echo "several hosts: every command on every worker")"
run tar -czf "${tarball}" --exclude='./.git' --exclude='./.venv*' --exclude=./data \
  --exclude=./runs --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache .
run gcloud compute tpus tpu-vm create "${TPU_NAME}" "${where[@]}" \
  --accelerator-type="${ACCELERATOR_TYPE}" --version="${TPU_VERSION}"
# Only after a successful create: a failed create must not delete someone else's VM of that name.
trap delete_tpu EXIT
run gcloud compute tpus tpu-vm scp "${tarball}" "${TPU_NAME}:~/dcgan-dist-src.tar.gz" \
  "${where[@]}" ${workers[@]+"${workers[@]}"}
run gcloud compute tpus tpu-vm ssh "${TPU_NAME}" "${where[@]}" ${workers[@]+"${workers[@]}"} \
  --command="${remote}"
