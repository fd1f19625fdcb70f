"""The package as a user installs it: a wheel built from this tree, installed non-editable
into a fresh environment, trains a packaged config from an unrelated folder. The new
environment borrows this one's TensorFlow and the rest through a .pth line (installing
TensorFlow again would take minutes); the editable install's import hook is not processed
there, so `dcgan_dist` can only come from the wheel."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from helpers import user_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build_wheel(tmp_path):
    """pip wheel on a copy of the sources (an in-tree build would write build/ here)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, name), source)
    shutil.copytree(os.path.join(REPO, "dcgan_dist"), source / "dcgan_dist",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("dcgan_dist-*.whl")
    return wheel


@pytest.mark.slow
def test_a_packaged_config_trains_from_an_installed_wheel_in_any_folder(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)],
                           capture_output=True, text=True, check=True).stdout
    assert "dcgan_dist/configs/mnist_fast.cfg" in names and "dcgan_dist/configs/tpu.cfg" in names
    uv = os.path.join(os.path.dirname(sys.executable), "uv")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--offline", "--no-deps", "--python",
                    str(venv / "bin" / "python"), str(wheel)], check=True)
    site = subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print("
                           "sysconfig.get_paths()['purelib'])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    with open(os.path.join(site, "borrowed.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")  # this environment's TensorFlow
    elsewhere = tmp_path / "elsewhere"  # no configs/ here, no repository
    elsewhere.mkdir()
    env = user_env()
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [venv / "bin" / "dcgan-train", "--config=mnist_fast", "--train_steps=1",
         "--log_every_steps=1", "--synthetic_data", "--data_dir=no_data", "--workdir=run",
         "--global_batch_size=4", "--g_filters=8", "--d_filters=4", "--precision=float32"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    flags_txt = (elsewhere / "run" / "flags.txt").read_text()
    # mnist_fast's own values (and mnist's, which it includes by name) reached the run.
    for flag in ("--d_dense_units=256", "--r1_every_steps=16", "--g_ema_decay=0.9999",
                 "--epochs=50", "--train_steps=1"):
        assert flag in flags_txt.splitlines(), flag
    where = subprocess.run([venv / "bin" / "python", "-c", "import dcgan_dist; "
                            "print(dcgan_dist.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(venv)), where
