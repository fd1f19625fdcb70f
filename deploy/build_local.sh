#!/usr/bin/env bash
# Build deploy/Dockerfile with podman on a Debian host that reaches only Debian's mirror and PyPI
# (no Docker Hub), then run the smoke config inside the image. docs/containers.md says what it
# did on this project's machine and why each podman flag is there.
#
#   bash deploy/build_local.sh            # the CPU image, then 20 synthetic steps of cpu_smoke
#   EXTRA=gpu bash deploy/build_local.sh  # the GPU image (built and started on the CPU here)
#   DATA_DIR=/work/data bash deploy/build_local.sh   # + the full cpu_smoke on prepared MNIST
#
# Needs root and `apt-get install podman runc debootstrap`. The base image stands in for
# python:3.11-slim-bookworm: Debian bookworm's python3 (3.11) with a venv first on PATH, so
# the Dockerfile's `pip install` and `python` work unchanged (Debian's own pip refuses to
# install into the system Python, PEP 668). It also carries the host's extra CA certificates
# (/usr/local/share/ca-certificates), so pip inside the build trusts what the host trusts:
# build images for a registry from the default python:3.11-slim-bookworm base instead.
set -euo pipefail

EXTRA=${EXTRA:-cpu}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=${BASE_IMAGE:-localhost/python-bookworm:3.11}
IMAGE=${IMAGE:-dcgan-dist:${EXTRA}}
DATA_DIR=${DATA_DIR:-}
# runc, not crun: crun refuses this VM's cgroup layout ("cgroups in hybrid mode not supported").
# Explicit limits: the VM lacks CAP_SYS_RESOURCE, so podman's default RLIMIT_NOFILE (1048576)
# and RLIMIT_NPROC cannot be set; open files at the host's own limit, processes at 4096.
read -r -a podman <<<"${PODMAN:-podman --runtime runc}"
read -r -a limits <<<"${LIMITS:---ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=4096:4096}"

cd "$(dirname "$0")/.."
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install -y podman runc debootstrap" >&2; exit 1; }
done

if ! "${podman[@]}" image exists "$BASE_IMAGE"; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  rootfs=$tmp/rootfs
  echo "== base image $BASE_IMAGE: debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 || { tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
  shopt -s nullglob
  extra_cas=(/usr/local/share/ca-certificates/*.crt)
  if ((${#extra_cas[@]})); then
    cp "${extra_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
  fi
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "${podman[@]}" import - "$BASE_IMAGE-raw"
  rm -rf "$rootfs"
  mkdir "$tmp/context"
  # shellcheck disable=SC2016  # $PATH is the image's, expanded by podman's ENV
  printf 'FROM %s\nRUN python3 -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH LANG=C.UTF-8\n' \
    "$BASE_IMAGE-raw" >"$tmp/context/Containerfile"
  "${podman[@]}" build "${limits[@]}" -t "$BASE_IMAGE" "$tmp/context"
fi

echo "== $IMAGE from deploy/Dockerfile (EXTRA=$EXTRA)"
# --network=host: pip in the build reaches PyPI exactly as the host does.
"${podman[@]}" build --network=host "${limits[@]}" -f deploy/Dockerfile \
  --build-arg PYTHON_IMAGE="$BASE_IMAGE" --build-arg EXTRA="$EXTRA" -t "$IMAGE" .
"${podman[@]}" image ls "$IMAGE"

echo "== runs as:"
"${podman[@]}" run --rm "${limits[@]}" --entrypoint id "$IMAGE"
echo "== cpu_smoke, 20 steps on synthetic images"
"${podman[@]}" run --rm "${limits[@]}" "$IMAGE" \
  --config=cpu_smoke --workdir=/tmp/run --synthetic_data --train_steps=20
if [[ -n $DATA_DIR ]]; then
  out=$(mktemp -d)
  chown 1000:1000 "$out"  # the image's user writes the run here
  echo "== cpu_smoke on MNIST from $DATA_DIR, results in $out/cpu_smoke"
  "${podman[@]}" run --rm "${limits[@]}" -v "$DATA_DIR:/data:ro" -v "$out:/runs" "$IMAGE" \
    --config=cpu_smoke --workdir=/runs/cpu_smoke --data_dir=/data
fi
