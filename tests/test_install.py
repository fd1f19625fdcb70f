"""What `pip install` gets: TensorFlow only through the extra for the hardware, and for the
TPU the TPU build without the CUDA wheel. No TensorFlow runs here; the resolve asks PyPI."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tpu_extra_resolves_to_tensorflow_tpu_and_pinned_libtpu_without_the_cuda_wheel():
    # --dry-run --report: pip resolves from PyPI's metadata and installs nothing (~20 s).
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", "-", "-c", os.path.join(REPO, "constraints", "tf2.20.txt"), f"{REPO}[tpu]"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip could not resolve .[tpu] (PyPI reachable?):\n{result.stderr[-3000:]}"
    versions = {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
                for item in json.loads(result.stdout)["install"]}
    assert versions["tensorflow-tpu"] == "2.20.0"
    assert versions["libtpu"] == "0.0.20"
    assert versions["keras"].startswith("3.12.")
    assert "tensorflow" not in versions and "tensorflow-cpu" not in versions
    assert not [name for name in versions if name.startswith("nvidia-")]


def test_without_tensorflow_the_package_says_which_extra_to_install(tmp_path):
    # python -S: no site-packages, so no TensorFlow; the package comes from PYTHONPATH.
    result = subprocess.run([sys.executable, "-S", "-c", "import dcgan_dist"], cwd=tmp_path,
                            env={"PYTHONPATH": REPO, "PATH": os.environ["PATH"]},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ImportError: dcgan-dist needs TensorFlow, which it installs only through an extra: "
        "pip install '.[cpu]', '.[gpu]' or '.[tpu]' (see README, Running on ...)")
