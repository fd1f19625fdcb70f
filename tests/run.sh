#!/usr/bin/env bash
# The README's test command: creates or reuses .venv, installs the package with its test
# extra, and runs the whole suite (about 7 minutes on 2 cores). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import dcgan_dist, tensorboard, pytest" 2>/dev/null \
    || [ ! -x .venv/bin/shellcheck ]; then
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e ".[test]"
fi

exec .venv/bin/python -m pytest -q "$@"
