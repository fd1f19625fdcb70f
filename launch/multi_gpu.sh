#!/usr/bin/env bash
# MNIST DCGAN on every visible GPU of one machine: MirroredStrategy, NCCL all-reduce,
# mixed_float16, global batch 1024 (--config=multi_gpu; the batch must divide by the GPU count).
# Runs: dcgan-train --config=multi_gpu --workdir=$WORKDIR --data_dir=$DATA_DIR "$@"
#
# Environment (default):
#   WORKDIR      run directory; rerunning resumes from it            (runs/multi_gpu)
#   DATA_DIR     TFDS data directory with mnist prepared              (data)
#   DCGAN_TRAIN  the trainer command  (.venv/bin/dcgan-train if it exists, else dcgan-train)
#   CUDA_VISIBLE_DEVICES  the GPUs to mirror over, e.g. 0,1,2,3     (unset: all GPUs)
# Extra arguments pass through to dcgan-train, e.g.
#   bash launch/multi_gpu.sh --all_reduce=hierarchical_copy
set -euo pipefail
cd "$(dirname "$0")/.."

WORKDIR="${WORKDIR:-runs/multi_gpu}"
DATA_DIR="${DATA_DIR:-data}"
if [ -x .venv/bin/dcgan-train ]; then DCGAN_TRAIN="${DCGAN_TRAIN:-.venv/bin/dcgan-train}"; fi
DCGAN_TRAIN="${DCGAN_TRAIN:-dcgan-train}"

cmd=("${DCGAN_TRAIN}" --config=multi_gpu --workdir="${WORKDIR}"
     --data_dir="${DATA_DIR}" "$@")
echo "+ ${cmd[*]}"
"${cmd[@]}"
