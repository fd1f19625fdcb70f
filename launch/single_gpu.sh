#!/usr/bin/env bash
# MNIST DCGAN on one GPU with mixed_float16 (--config=single_gpu).
# Runs: dcgan-train --config=single_gpu --workdir=$WORKDIR --data_dir=$DATA_DIR "$@"
#
# Environment (default):
#   WORKDIR      run directory; rerunning resumes from it            (runs/single_gpu)
#   DATA_DIR     TFDS data directory with mnist prepared              (data)
#   DCGAN_TRAIN  the trainer command  (.venv/bin/dcgan-train if it exists, else dcgan-train)
#   CUDA_VISIBLE_DEVICES  which GPU to use, e.g. 0                  (unset: the first GPU)
# Extra arguments pass through to dcgan-train, e.g. `bash launch/single_gpu.sh --train_steps=100`.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKDIR="${WORKDIR:-runs/single_gpu}"
DATA_DIR="${DATA_DIR:-data}"
if [ -x .venv/bin/dcgan-train ]; then DCGAN_TRAIN="${DCGAN_TRAIN:-.venv/bin/dcgan-train}"; fi
DCGAN_TRAIN="${DCGAN_TRAIN:-dcgan-train}"

cmd=("${DCGAN_TRAIN}" --config=single_gpu --workdir="${WORKDIR}"
     --data_dir="${DATA_DIR}" "$@")
echo "+ ${cmd[*]}"
"${cmd[@]}"
