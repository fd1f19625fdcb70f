#!/usr/bin/env bash
# The README's test command: creates or reuses a virtual environment of its own, installs the
# package with the versions in constraints/ (the ones the suite passed with), and runs the
# whole suite. Extra arguments go to pytest.
#
# Its environments are its own (.venv-tests, .venv-tests-tf2.20), never .venv: the suite needs
# the cpu extra (tensorflow-cpu), which writes the same files as the gpu extra's tensorflow,
# so installing it into the user's .venv broke a GPU install made by the README's first step.
# tests/test_environments.py runs this script against a fake .venv and checks it is left as it was.
#
# Tests run in DCGAN_TEST_WORKERS pytest-xdist processes (default 3 on this 2-core machine, see
# below; 0 runs them in this process). Measured on 2026-12-01's 2-core Xeon VM, TensorFlow
# 2.21: 320 tests in ~3:05 after the split into wings (303 in 4:57 before); with issues
# 22-26's features, ~470 tests in 5:42-6:39 (the VM's speed drifts 15-20% between days).
# Then, side by side on 2026-12-02: 6:09 -> 4:54 for 470 tests (677 -> 540 CPU-seconds),
# from tracing the step without AutoGraph (every TensorFlow process and every in-process run
# traces it) and folding repeated runs into the tests that already run them. Also: one
# intra-op thread and LLVM -O0 under XLA (tests/conftest.py). On 2026-12-06, after issue 32:
# 509 tests in 4:41-5:52 (TensorFlow 2.21; the VM drifted over the day) and 4:51-5:04 (2.20);
# 9090baf's suite side by side with it: 5:12 against 4:41. `bash tests/run.sh -m "not slow"`,
# the quick subset without the tests marked slow (training runs, programs as processes): 410
# tests in about a minute. Later on 2026-12-06, after issue 33's first part: 537 tests in
# 5:44 (TensorFlow 2.20, alone on the VM; 2.21 shared the VM with a FID job); the quick
# subset 437 tests. After issues 34-35, alone: 604-609 tests in 5:29 and 5:55 (2.21) and
# 5:37 (2.20); four workers took 6:03, and running the modules with the most slow tests
# first 6:06: neither kept. On 2026-12-07's 2-core AMD EPYC VM (avx512_bf16, no AMX; ~35%
# slower for training), alone: 620 tests in 6:45 (TensorFlow 2.21), over the budget there.
# Later that day, after drawing Philox numbers with fewer traced ops (runtime/streams.py):
# 623 tests in 5:33 alone (user CPU 9:37 against 10:04 for 5:56 before); two hours later
# the same suite took 6:55 (a fresh clone, both TensorFlows) and 7:42 (user CPU 13:10) alone:
# the VM's speed drifted ~35% within the afternoon. Not under 6 minutes on its slow hours.
# 2026-12-07 15:05, alone: 626 tests in 6:57 (TensorFlow 2.21; 751 CPU-seconds in tests,
# 592 for the same tests at 12:10): still over on a slow hour. A fresh clone at 16:44, alone:
# 629 tests in 6:55 (2.21) and 6:42 (2.20). 2026-12-07 22:09, alone, after the GIF's frames
# were compressed once each (rundir/gif.py; the kill test's 120-step runs wrote 20 grids each):
# 631 tests in 4:54 (2.21) and 4:59 (2.20); 688 CPU-seconds in tests (beside a training job)
# against 751 at 15:05.
# 2026-12-08 02:00, a fresh clone, alone: 631 tests in 5:19 (2.21) and 5:16 (2.20) of pytest,
# 5:55 and 5:50 with creating and installing each environment.
# 2026-12-08 04:33, a fresh clone, alone, on a 2-core Xeon VM (AMX) running ~30% slower than
# that night's AMD EPYC (the smoke run 2:14 against 1:43): 631 tests in 7:10 (2.21) and 7:06
# (2.20) of pytest, 7:53 and 7:48 with each install: over the budget on such a machine. The
# slowest (2.20): multi-worker lockstep 57 s, kill/SIGTERM/Ctrl-C resume 56, the conditional
# r1-ada keystone 41, hinge under mixed precision 35, resume with every option 35.
#
# DCGAN_TF picks the TensorFlow, each in its own environment:
#   2.21 (default)  .venv-tests         TensorFlow 2.21, Keras 3.15   constraints/tf2.21.txt
#   2.20            .venv-tests-tf2.20  TensorFlow 2.20, Keras 3.12   constraints/tf2.20.txt
#                   (the TensorFlow of the Cloud TPU build, and the Keras Python 3.10 gets)
# An environment is reinstalled when setup.cfg or its constraints file changes.
# (.venv and .venv-tf2.20 from before this split are no longer used or changed: delete
# .venv-tf2.20 if you made it only for the tests.)
set -euo pipefail
cd "$(dirname "$0")/.."

DCGAN_TF="${DCGAN_TF:-2.21}"
case "${DCGAN_TF}" in
  2.21) venv=.venv-tests ;;
  2.20) venv=.venv-tests-tf2.20 ;;
  *) echo "tests/run.sh: DCGAN_TF=${DCGAN_TF} is not tested here; use 2.21 or 2.20" >&2
     exit 2 ;;
esac
constraints="constraints/tf${DCGAN_TF}.txt"

if [ ! -x "${venv}/bin/python" ]; then
  python3 -m venv "${venv}"
fi
stamp="$(cat setup.cfg "${constraints}" | sha256sum)"
if [ "$(cat "${venv}/.dcgan-installed" 2>/dev/null)" != "${stamp}" ]; then
  "${venv}/bin/pip" install --quiet --upgrade pip
  "${venv}/bin/pip" install --quiet -c "${constraints}" -e ".[cpu,test]"
  echo "${stamp}" > "${venv}/.dcgan-installed"
fi

# The versions from the installed packages' metadata: importing TensorFlow to ask took 3 s.
echo "tests/run.sh: $("${venv}/bin/python" -c '
from importlib.metadata import PackageNotFoundError, version
try:
    tf = version("tensorflow-cpu")  # the cpu extra on Linux x86-64; tensorflow elsewhere
except PackageNotFoundError:
    tf = version("tensorflow")
print("TensorFlow " + tf + ", Keras " + version("keras"))' 2>/dev/null) in ${venv}"
# Three workers on two cores: many tests wait on programs they started (multi-worker
# pairs, kills, timeouts), and a third worker fills that time (measured 2026-12-01 on the
# 2-core Xeon VM, 472 tests: 5:57 with 3 workers, over 6 minutes with 2).
workers="${DCGAN_TEST_WORKERS:-3}"
# A test whose worker process dies (a native crash inside TensorFlow: CI saw one on
# 2026-12-06, in a test that then passed 6 runs out of 6 here and in a whole suite) is
# run once more, on a new worker (pytest-rerunfailures); at most two such reruns a suite, and
# a test that fails, rather than crashes, is never rerun (--rerun-except matches every error).
# tests/test_environments.py runs pytest with this line's options.
crash_reruns=(--reruns=1 --rerun-except=. --max-suite-reruns=2)
exec "${venv}/bin/python" -m pytest -q -n "${workers}" --dist worksteal "${crash_reruns[@]}" "$@"
