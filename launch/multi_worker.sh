#!/usr/bin/env bash
# MNIST DCGAN on several machines: MultiWorkerMirroredStrategy (--config=multi_worker).
# Run this script on EACH host with the same HOSTS and that host's TASK_INDEX; worker 0 is the
# chief (it writes checkpoints, samples and logs). It builds and exports TF_CONFIG, then runs
#   dcgan-train --config=multi_worker --workdir=$WORKDIR --data_dir=$DATA_DIR "$@"
#
# Environment (default):
#   HOSTS        every worker as host:port, comma-separated, the same list and order on every
#                host, e.g. "10.0.0.1:12345,10.0.0.2:12345"          (required)
#   TASK_INDEX   this host's position in HOSTS, from 0               (required)
#   WORKDIR      run directory; give every host the same shared path (gs:// or a shared mount)
#                so a restart finds the chief's checkpoints          (required)
#   DATA_DIR     TFDS data directory with mnist prepared, on every host (data)
#   DCGAN_TRAIN  the trainer command  (.venv/bin/dcgan-train if it exists, else dcgan-train)
# `--dry_run` as the first argument prints TF_CONFIG and the command without running them.
# Other extra arguments pass through to dcgan-train.
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS="${HOSTS:?set HOSTS=host:port,host:port (every worker, the same list on every host)}"
TASK_INDEX="${TASK_INDEX:?set TASK_INDEX to the position of this host in HOSTS, from 0}"
WORKDIR="${WORKDIR:?set WORKDIR to one path every host shares (gs://... or a shared mount)}"
DATA_DIR="${DATA_DIR:-data}"
if [ -x .venv/bin/dcgan-train ]; then DCGAN_TRAIN="${DCGAN_TRAIN:-.venv/bin/dcgan-train}"; fi
DCGAN_TRAIN="${DCGAN_TRAIN:-dcgan-train}"
DRY_RUN=0
if [ "${1:-}" = --dry_run ]; then DRY_RUN=1; shift; fi

# json.dumps, not string pasting, so TF_CONFIG is valid JSON whatever the host names are.
TF_CONFIG="$(python3 -c '
import json, sys
hosts, index = sys.argv[1], sys.argv[2]
workers = [h.strip() for h in hosts.split(",") if h.strip()]
if not (index.isdigit() and int(index) < len(workers)):
    sys.exit(f"multi_worker.sh: TASK_INDEX={index} is not in 0..{len(workers) - 1} "
             f"for HOSTS={hosts}")
print(json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": int(index)}}))
' "${HOSTS}" "${TASK_INDEX}")"
export TF_CONFIG
echo "+ export TF_CONFIG='${TF_CONFIG}'"

cmd=("${DCGAN_TRAIN}" --config=multi_worker --workdir="${WORKDIR}"
     --data_dir="${DATA_DIR}" "$@")
echo "+ ${cmd[*]}"
if [ "${DRY_RUN}" = 0 ]; then "${cmd[@]}"; fi
