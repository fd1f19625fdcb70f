#!/usr/bin/env bash
# The training job on a TPU VM host, detached from the ssh session that starts it.
# launch/tpu_vm.sh copies this tree to every host and drives it there through ssh:
#   bash launch/tpu_job.sh start WORKDIR [dcgan-train flags...]   start unless one runs (all hosts)
#   bash launch/tpu_job.sh follow [LINE]    print the log from line LINE+1 (default 0) as it grows,
#                                           until the trainer ends; then "dcgan-job: exited N"
#   bash launch/tpu_job.sh stop             SIGTERM the trainer: it saves a checkpoint, exits 42
#   bash launch/tpu_job.sh status           "dcgan-job: running", "...: exited N" or "...: none"
# The trainer runs under setsid/nohup, so a dropped ssh session (a laptop that sleeps) does not
# end it. Its log is $JOB_DIR/train.log, copied to WORKDIR/logs/$(hostname).log every
# LOG_UPLOAD_SECS and at the end, beside the stats.jsonl and checkpoints the trainer itself
# writes to WORKDIR (gs://), so both outlive the VM.
#
# Environment (default):
#   JOB_DIR          where the log, pid and exit code live        ($HOME/dcgan-job)
#   DCGAN_TRAIN      the trainer                                  (dcgan-train)
#   LOG_UPLOAD_SECS  seconds between log copies to WORKDIR/logs   (60)
#   FOLLOW_POLL_SECS seconds between checks while following       (2)
set -euo pipefail

JOB_DIR="${JOB_DIR:-${HOME}/dcgan-job}"
DCGAN_TRAIN="${DCGAN_TRAIN:-dcgan-train}"
LOG_UPLOAD_SECS="${LOG_UPLOAD_SECS:-60}"
FOLLOW_POLL_SECS="${FOLLOW_POLL_SECS:-2}"
here="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

running() {
  [ -f "${JOB_DIR}/trainer.pid" ] && [ ! -f "${JOB_DIR}/exit_code" ] \
    && kill -0 "$(cat "${JOB_DIR}/trainer.pid")" 2>/dev/null
}

status() {
  if [ -f "${JOB_DIR}/exit_code" ]; then
    echo "dcgan-job: exited $(cat "${JOB_DIR}/exit_code")$([ -f "${JOB_DIR}/stopped" ] \
      && echo " (stopped)")"
  elif running; then
    echo "dcgan-job: running"
  else
    echo "dcgan-job: none"
  fi
}

upload_log() {  # best effort: a failed copy must not touch the training
  gcloud storage cp --quiet "${JOB_DIR}/train.log" "$1/logs/$(hostname).log" \
    >/dev/null 2>&1 || true
}

case "${1:-}" in
  start)
    workdir="${2:?start needs WORKDIR}"
    shift 2
    if running; then
      echo "dcgan-job: running (already started; not started again)"
      exit 0
    fi
    rm -rf "${JOB_DIR}"
    mkdir -p "${JOB_DIR}"
    printf '%q ' "${DCGAN_TRAIN}" "$@" > "${JOB_DIR}/command"
    # setsid: a session of its own, so the ssh session's hang-up never reaches it.
    setsid nohup bash "${here}" _run "${workdir}" "$@" >/dev/null 2>&1 < /dev/null &
    for _ in $(seq 1 50); do  # the pid file, so that a follow right after finds the job
      [ -f "${JOB_DIR}/trainer.pid" ] && break
      sleep 0.1
    done
    echo "dcgan-job: started on $(hostname): $(cat "${JOB_DIR}/command")"
    ;;
  _run)  # the detached part: trainer, log copies, exit code
    workdir="$2"
    shift 2
    "${DCGAN_TRAIN}" "$@" >> "${JOB_DIR}/train.log" 2>&1 &
    trainer=$!
    echo "${trainer}" > "${JOB_DIR}/trainer.pid"
    ( while sleep "${LOG_UPLOAD_SECS}"; do upload_log "${workdir}"; done ) &
    uploader=$!
    code=0
    wait "${trainer}" || code=$?
    kill "${uploader}" 2>/dev/null || true
    upload_log "${workdir}"
    # Written whole, then renamed: `status` reading a created but not yet written file said
    # "exited " (no code), and tpu_vm.sh then reported a finished run as failed.
    echo "${code}" > "${JOB_DIR}/exit_code.tmp"
    mv "${JOB_DIR}/exit_code.tmp" "${JOB_DIR}/exit_code"
    ;;
  follow)
    from="${2:-0}"
    if [ ! -f "${JOB_DIR}/trainer.pid" ]; then
      status
      exit 0
    fi
    line=0
    while true; do
      ended=0
      if ! running; then ended=1; fi
      if [ -f "${JOB_DIR}/train.log" ]; then
        total="$(wc -l < "${JOB_DIR}/train.log")"
        if [ "${total}" -gt "$((from + line))" ]; then
          tail -n "+$((from + line + 1))" "${JOB_DIR}/train.log" | head -n "$((total - from - line))"
          line=$((total - from))
        fi
      fi
      if [ "${ended}" = 1 ]; then
        for _ in $(seq 1 50); do  # the exit code follows the trainer's end by a moment
          [ -f "${JOB_DIR}/exit_code" ] && break
          sleep 0.1
        done
        status
        exit 0
      fi
      sleep "${FOLLOW_POLL_SECS}"
    done
    ;;
  stop)
    if running; then
      touch "${JOB_DIR}/stopped"
      kill -TERM "$(cat "${JOB_DIR}/trainer.pid")"
      echo "dcgan-job: SIGTERM sent on $(hostname); the trainer saves a checkpoint and exits 42"
    else
      status
    fi
    ;;
  status)
    status
    ;;
  *)
    echo "usage: tpu_job.sh start WORKDIR [flags...] | follow [LINE] | stop | status" >&2
    exit 2
    ;;
esac
