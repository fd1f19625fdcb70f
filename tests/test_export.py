"""dcgan-export: a SavedModel that loads without the package and samples what
dcgan-generate samples."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import loop
from cli import run_cli, snapshot

# Loads the export in a Python that cannot import dcgan_dist: not on sys.path, and the
# editable install's import hook is refused too.
LOADER = textwrap.dedent("""
    import importlib.abc, sys

    class NoPackage(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "dcgan_dist":
                raise ImportError("dcgan_dist is excluded from this process")

    sys.meta_path.insert(0, NoPackage())
    sys.path = [p for p in sys.path if p not in ("", ".") and "dcgan" not in p]
    try:
        import dcgan_dist  # noqa: F401
        sys.exit("dcgan_dist was importable")
    except ImportError:
        pass
    import numpy as np
    import tensorflow as tf

    model = tf.saved_model.load(sys.argv[1])
    sample = model.signatures["sample"](num_images=tf.constant(503),
                                        seed=tf.constant(0, tf.int64))["images"].numpy()
    z = np.load(sys.argv[2])["z"]
    generated = model.signatures["generate"](z=tf.constant(z))["images"].numpy()
    np.savez(sys.argv[3], sample=sample, generate=generated)
""")


@pytest.fixture(scope="module")
def ema_workdir(tmp_path_factory, tiny_data_dir):
    from dcgan_dist import config as config_lib
    workdir = tmp_path_factory.mktemp("export") / "run"
    loop.train(config_lib.Config(workdir=str(workdir), data_dir=tiny_data_dir,
                                 global_batch_size=8, train_steps=2, precision="float32",
                                 strategy="cpu", g_ema_decay=0.5, g_filters=16, d_filters=8))
    return workdir


def test_export_loads_without_the_package_and_matches_dcgan_generate(ema_workdir, tmp_path):
    out = tmp_path / "model"
    result = run_cli([f"--workdir={ema_workdir}", f"--output={out}"], module="dcgan_dist.export")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "uint8 images 28x28x1" in result.stdout
    assert (out / "saved_model.pb").exists() and (out / "run.json").exists()
    # 503 images: two chunks of evaluation.generate's noise (500 and 3).
    result = run_cli([f"--workdir={ema_workdir}", "--num_images=503",
                      f"--output={tmp_path / 'gen.npz'}"], module="dcgan_dist.eval_cli_generate")
    assert result.returncode == 0, result.stderr[-2000:]
    expected = np.load(tmp_path / "gen.npz")["images"]
    z = tf.random.stateless_normal([3, 100], seed=[0, 1500]).numpy()  # the second chunk's
    np.savez(tmp_path / "z.npz", z=z)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    loaded = subprocess.run([sys.executable, "-c", LOADER, str(out), str(tmp_path / "z.npz"),
                             str(tmp_path / "loaded.npz")], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    got = np.load(tmp_path / "loaded.npz")
    assert got["sample"].dtype == np.uint8 and got["sample"].shape == (503, 28, 28, 1)
    np.testing.assert_array_equal(got["sample"], expected)
    np.testing.assert_array_equal(got["generate"], expected[500:])


def test_export_refuses_a_non_empty_folder_without_overwrite(ema_workdir, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    before = snapshot(out), snapshot(ema_workdir)
    result = run_cli([f"--workdir={ema_workdir}", f"--output={out}"], module="dcgan_dist.export")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"dcgan-export: error: --output={out} is not empty; choose a new folder, or pass "
        "--overwrite to replace its contents")
    assert (snapshot(out), snapshot(ema_workdir)) == before
    from dcgan_dist import export  # in-process: the command line was tested above
    assert export.export(str(ema_workdir), str(out), overwrite=True) == (28, 28, 1)
    assert sorted(os.listdir(out)) == ["assets", "fingerprint.pb", "run.json", "saved_model.pb",
                                       "variables"]
