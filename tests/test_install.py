"""What `pip install -c constraints/tfX.Y.txt '.[extra]'` gets on every supported Python:
each (Python, extra, TensorFlow) cell resolves against PyPI with `uv pip compile
--python-version` (pip cannot resolve for another Python here: its --python-version needs
--only-binary=:all:, and TFDS needs the sdist-only `promise`), every package it resolves is
pinned by the constraints for that Python, and the TensorFlow of the extra is the one meant.
No TensorFlow runs here; uv reads PyPI's metadata (from its cache once it has it: ~1 s a cell)."""

import configparser
import os
import re
import subprocess
import sys

from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
TENSORFLOWS = ("2.21", "2.20")
# The TensorFlow distribution each extra installs on x86-64 Linux, by TensorFlow version.
EXTRA_TENSORFLOW = {"cpu": "tensorflow-cpu", "gpu": "tensorflow", "tpu": "tensorflow-tpu"}
CELLS = [(tf, python, extra) for tf in TENSORFLOWS for python in PYTHONS
         for extra in EXTRA_TENSORFLOW if not (extra == "tpu" and tf == "2.21")]  # no 2.21 TPU build
# TPU VMs and current GPU/CPU Linux boxes (Ubuntu 22.04: glibc 2.35); libtpu needs 2.31+.
PLATFORM = "x86_64-manylinux_2_35"
# Not pinned, on purpose: every virtual environment brings its own setuptools; NVIDIA's CUDA
# wheels come from TensorFlow's [and-cuda] ranges; libtpu from Google's index (setup.cfg).
UNPINNED = re.compile(r"^(setuptools|nvidia-.*|libtpu)$")


def constraints(tf):
    return os.path.join(REPO, "constraints", f"tf{tf}.txt")


def pins(tf, python):
    """{name: version} of the constraints lines that apply on `python`."""
    env = {"python_version": python, "python_full_version": f"{python}.0",
           "sys_platform": "linux", "platform_machine": "x86_64"}
    out = {}
    with open(constraints(tf)) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(env):
                assert req.name not in out, f"two pins for {req.name} on Python {python}"
                out[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
    return out


def requirements(extra, folder):
    """A requirements file of setup.cfg's install_requires and `extra`, as pip reads them
    (resolving them directly spares uv building the package's metadata for every cell)."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    lines = [line.strip() for text in (parser["options"]["install_requires"],
                                       parser["options.extras_require"][extra])
             for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    path = folder / f"requirements-{extra}.in"
    path.write_text("\n".join(lines) + "\n")
    return path


def resolve(tf, python, extra, folder):
    """{name: version} uv resolves for `.[extra]` with the constraints, on `python`.

    From uv's cache first (--offline: exact pins need no fresher index pages, and asking PyPI
    again costs ~10 s a cell here), from PyPI when the cache lacks something."""
    uv = os.path.join(os.path.dirname(sys.executable), "uv")
    command = [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate",
               "--python-version", python, "--python-platform", PLATFORM, "-c",
               constraints(tf), str(requirements(extra, folder))]
    result = subprocess.run(command + ["--offline"], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f".[{extra}] with constraints/tf{tf}.txt does not install on Python {python} "
        f"(PyPI reachable?):\n{result.stderr[-3000:]}")
    return {canonicalize_name(Requirement(line).name): line.split("==")[1].split(";")[0].strip()
            for line in result.stdout.splitlines() if "==" in line}


@pytest.mark.slow
@pytest.mark.parametrize("tf, python, extra", CELLS, ids=lambda v: str(v))
def test_every_cell_installs_the_pinned_versions(tf, python, extra, tmp_path):
    resolved = resolve(tf, python, extra, tmp_path)
    pinned = pins(tf, python)
    unpinned = sorted(n for n in resolved if n not in pinned and not UNPINNED.match(n))
    assert unpinned == [], f"resolved but not pinned for Python {python}: {unpinned}"
    moved = {n: (v, pinned[n]) for n, v in resolved.items() if n in pinned and pinned[n] != v}
    assert moved == {}
    wanted = EXTRA_TENSORFLOW[extra]
    assert resolved[wanted] == f"{tf}.0"
    others = {"tensorflow", "tensorflow-cpu", "tensorflow-tpu"} - {wanted}
    assert not others & set(resolved), f".[{extra}] also brings {others & set(resolved)}"
    assert bool([n for n in resolved if n.startswith("nvidia-")]) == (extra == "gpu")
    assert ("libtpu" in resolved) == (extra == "tpu")
    assert resolved["keras"] == ("3.15.1" if tf == "2.21" and python != "3.10" else "3.12.4")


def test_python_requires_says_the_supported_pythons():
    with open(os.path.join(REPO, "setup.cfg")) as f:
        text = f.read()
    assert re.search(r"^python_requires = >=3\.10,<3\.14$", text, re.M)
    for python in PYTHONS:
        assert f"Programming Language :: Python :: {python}" in text


def test_this_environment_is_what_its_constraints_pin():
    """The suite runs on the pins: every installed distribution has its pinned version."""
    import tensorflow as tf
    tf_version = ".".join(tf.__version__.split(".")[:2])
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    pinned = pins(tf_version, python)
    installed = {canonicalize_name(d.metadata["Name"]): d.version
                 for d in metadata.distributions()}
    wrong = {name: (version, pinned[name]) for name, version in installed.items()
             if name in pinned and pinned[name] != version}
    assert wrong == {}
    unpinned = sorted(n for n in installed if n not in pinned and n not in (
        "pip", "setuptools", "dcgan-dist"))
    assert unpinned == [], f"installed here but not in constraints/tf{tf_version}.txt"


def test_without_tensorflow_the_package_says_which_extra_to_install(tmp_path):
    # python -S: no site-packages, so no TensorFlow; the package comes from PYTHONPATH.
    result = subprocess.run([sys.executable, "-S", "-c", "import dcgan_dist"], cwd=tmp_path,
                            env={"PYTHONPATH": REPO, "PATH": os.environ["PATH"]},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ImportError: dcgan-dist needs TensorFlow, which it installs only through an extra: "
        "pip install '.[cpu]', '.[gpu]' or '.[tpu]' (see README, Install)")
