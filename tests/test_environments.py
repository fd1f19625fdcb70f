"""The README's two setup commands and the user's `.venv`: tests/run.sh and .ci/run install
into environments of their own and leave `.venv` byte for byte as it was; launch/cpu_smoke.sh
keeps a GPU TensorFlow already in `.venv`.

No TensorFlow and no pip here: the scripts run in a copy of the repository whose `.venv` is a
fake (its python, pip and programs record their arguments), with a fake `python3 -m venv` on
PATH that makes such fakes for the environments the scripts create.
"""

import configparser
import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPIED = ["tests/run.sh", ".ci/run", "launch/cpu_smoke.sh", "setup.cfg",
          "constraints/tf2.21.txt", "constraints/tf2.20.txt"]
PROGRAMS = ["python", "pip", "dcgan-data", "dcgan-train"]


def _recorder(path, calls, has_tensorflow):
    """An executable that appends "<its path under the copy> <args>" to `calls`. As a venv's
    python it answers the scripts' `m.version("tensorflow")` probe: found or not."""
    probe_exit = 0 if has_tensorflow else 1
    with open(path, "w") as f:
        f.write(f'#!/usr/bin/env bash\nprintf "%s\\n" "${{0#"$COPY"/}} $*" >> "{calls}"\n'
                f'case "$*" in *\'m.version("tensorflow")\'*) exit {probe_exit} ;; esac\n')
    os.chmod(path, 0o755)


def _fake_venv(folder, calls, has_tensorflow):
    os.makedirs(os.path.join(folder, "bin"))
    for name in PROGRAMS:
        _recorder(os.path.join(folder, "bin", name), calls, has_tensorflow)


@pytest.fixture
def copy(tmp_path):
    """A copy of the scripts with a fake `.venv` holding a GPU install; returns (copy, calls)."""
    root = tmp_path / "repo"
    for name in COPIED:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(REPO, name), root / name)
    calls = tmp_path / "calls.txt"
    _fake_venv(root / ".venv", calls, has_tensorflow=True)
    site = root / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "tensorflow-2.21.0.dist-info").mkdir()
    (site / "tensorflow-2.21.0.dist-info" / "METADATA").write_text("Name: tensorflow\n")
    (site / "nvidia_cudnn_cu12-9.3.0.dist-info").mkdir()
    (root / ".venv" / ".dcgan-smoke-installed").write_text("a stamp of the gpu install\n")
    # python3 -m venv DIR: a fake environment without TensorFlow (what a new venv holds).
    _fake_venv(tmp_path / "new_venv", calls, has_tensorflow=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(
        '#!/usr/bin/env bash\n[ "$1 $2" = "-m venv" ] || { echo "fake python3: $*" >&2; exit 1; }\n'
        f'cp -r "{tmp_path}/new_venv" "$3"\n')
    (bin_dir / "python3").chmod(0o755)
    return root, calls, bin_dir


def _snapshot(folder):
    """Every file under `folder` with its bytes and mode, every directory: what changed shows."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            found[os.path.relpath(os.path.join(dirpath, name), folder)] = "dir"
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = (f.read(), os.stat(path).st_mode)
    return found


def _run(copy, script, *args, env=None):
    root, calls, bin_dir = copy
    full_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(root),
                "COPY": str(root), **(env or {})}
    result = subprocess.run(["bash", str(root / script), *args], env=full_env, cwd=root,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("tf_version, venv", [("2.21", ".venv-tests"),
                                              ("2.20", ".venv-tests-tf2.20")])
def test_run_sh_installs_into_its_own_environment_and_leaves_dot_venv_alone(copy, tf_version,
                                                                           venv):
    root = copy[0]
    before = _snapshot(root / ".venv")
    calls = _run(copy, "tests/run.sh", "-m", "not slow", env={"DCGAN_TF": tf_version})
    assert _snapshot(root / ".venv") == before
    assert not [c for c in calls if c.startswith(".venv/")], calls
    assert f"{venv}/bin/pip install --quiet -c constraints/tf{tf_version}.txt -e .[cpu,test]" in (
        calls)
    assert calls[-1] == (f"{venv}/bin/python -m pytest -q -n 3 --dist worksteal --reruns=1 "
                         "--rerun-except=. --max-suite-reruns=2 -m not slow")
    # The stamp: a second run with nothing changed installs nothing.
    again = _run(copy, "tests/run.sh", env={"DCGAN_TF": tf_version})[len(calls):]
    assert [c for c in again if " install " in c] == [] and _snapshot(root / ".venv") == before


def test_ci_runs_both_versions_without_touching_dot_venv(copy):
    root = copy[0]
    before = _snapshot(root / ".venv")
    calls = _run(copy, ".ci/run")
    assert _snapshot(root / ".venv") == before
    assert {c.split("/")[0] for c in calls if c.startswith(".venv")} == {".venv-tests", ".venv-tests-tf2.20"}


@pytest.mark.parametrize("has_tensorflow, installed", [(True, "-e ."), (False, "-e .[cpu]")])
def test_cpu_smoke_keeps_a_tensorflow_already_in_dot_venv(copy, has_tensorflow, installed):
    """A GPU install (the gpu extra's tensorflow) stays: tensorflow-cpu would overwrite it."""
    root, calls_file, _ = copy
    shutil.rmtree(root / ".venv" / "bin")
    _fake_venv(root / ".venv", calls_file, has_tensorflow)
    calls = _run(copy, "launch/cpu_smoke.sh", "--train_steps=1")
    installs = [c for c in calls if c.startswith(".venv/bin/pip install") and "-c " in c]
    assert installs == [f".venv/bin/pip install --quiet -c constraints/tf2.21.txt {installed}"]
    assert calls[-1] == (".venv/bin/dcgan-train --config=cpu_smoke --workdir=runs/cpu_smoke "
                         "--data_dir=data --train_steps=1")


def _test_extra():
    """The distribution names of setup.cfg's `test` extra, lower-case."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    lines = parser["options.extras_require"]["test"].splitlines()
    return [re.split(r"[<>=!~;\[ ]", line.strip())[0].lower() for line in lines
            if line.strip() and not line.strip().startswith("#")]


def test_the_test_extra_is_pinned_and_listed_in_docs_install():
    """tests/run.sh installs `.[cpu,test]` with the constraints: each test requirement has a
    pin in both files, and docs/install.md's table names each one."""
    names = _test_extra()
    assert "pyyaml" in names  # tests/test_deploy.py reads the manifests with it
    for tf in ("2.21", "2.20"):
        with open(os.path.join(REPO, "constraints", f"tf{tf}.txt")) as f:
            pinned = {line.split("==")[0].strip().lower() for line in f if "==" in line}
        assert set(names) <= pinned, f"constraints/tf{tf}.txt lacks {set(names) - pinned}"
    with open(os.path.join(REPO, "docs", "install.md")) as f:
        row = next(line for line in f if line.startswith("| `test` |"))
    assert [n for n in names if n not in row.lower()] == []


# The crashing test waits a second before it dies: pytest-rerunfailures (16.7) records a
# test's rerun budget with an unacknowledged socket message at its start, and a worker that
# died within milliseconds lost that race about once in 50 runs (CI, 2026-12-07). TensorFlow's
# crashes, the ones run.sh reruns, come seconds into a test.
CRASHES_ONCE = '''
import os, pathlib, signal, time

def test_crashes_its_worker_once():
    marker = pathlib.Path(os.environ["CRASH_MARKER"])
    if not marker.exists():
        marker.write_text("crashed")
        time.sleep(1)
        os.kill(os.getpid(), signal.SIGSEGV)

def test_fails():
    assert os.environ["CRASH_MARKER"] == "a failure to report, not to rerun"
'''


def test_run_sh_reruns_a_test_whose_worker_crashed_and_never_a_failing_one(tmp_path):
    """With tests/run.sh's options, pytest (under xdist, as run.sh runs it) runs a test whose
    worker died once more, and reports a failing test failed after one run."""
    with open(os.path.join(REPO, "tests", "run.sh")) as f:
        line = next(line for line in f if line.startswith("crash_reruns=("))
    options = line.strip()[len("crash_reruns=("):-1].split()
    (tmp_path / "test_crash.py").write_text(CRASHES_ONCE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--dist", "worksteal", *options, "test_crash.py"], cwd=tmp_path,
        env={**os.environ, "CRASH_MARKER": str(tmp_path / "crashed")},
        capture_output=True, text=True, timeout=120)
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 1, result.stdout + result.stderr
    assert (tmp_path / "crashed").exists()
    assert re.search(r"\b1 failed\b", summary) and re.search(r"\b1 passed\b", summary), summary
    assert re.search(r"\b1 rerun\b", summary), summary
    assert "FAILED test_crash.py::test_fails" in result.stdout
