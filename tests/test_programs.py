"""Every program as a user runs it: the list of programs (setup.cfg's console scripts, each
a module of dcgan_dist/programs), the installed console script in a process of its own, once
each, and the exit codes 0, 2 and 3 (4 is in test_multi_worker, 5, 42 and 130 in
test_signals). Everything else about these programs is tested in-process."""

import json
import logging
import os
import pkgutil
import subprocess
import sys
import textwrap
from importlib import metadata

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import programs
from dcgan_dist.programs import console, train
from helpers import (BIN, WITHOUT_THE_PACKAGE, console_scripts, last_line, latest_checkpoint,
                     program_modules, run_cli, snapshot, tiny_run_args)


def test_the_programs_are_setup_cfgs_console_scripts():
    scripts = console_scripts()
    assert scripts and set(scripts.values()) == {"dcgan_dist.programs.console:main"}
    # What pip installed is what setup.cfg says.
    installed = {ep.name: ep.value for ep in metadata.distribution("dcgan-dist").entry_points
                 if ep.group == "console_scripts"}
    assert installed == scripts
    modules = program_modules()
    for script, module in modules.items():
        # console.main reads the script's path in sys.argv[0], as the installed script has it.
        assert console.program_module(os.path.join(BIN, script)) == module.__name__
        assert module.__name__ == "dcgan_dist.programs." + script.removeprefix("dcgan-")
        assert callable(module.main) and callable(module.run), script
        assert "verbose" in module.FLAGS and os.path.exists(os.path.join(BIN, script)), script
    # Every program module of dcgan_dist/programs is a console script.
    programs_there = {f"dcgan_dist.programs.{m.name}" for m in pkgutil.iter_modules(
        programs.__path__) if m.name not in ("cli", "console")}
    assert programs_there == {module.__name__ for module in modules.values()}


@pytest.mark.parametrize("script", ["/usr/bin/train", "python", "dcgan_train"])
def test_a_script_not_named_dcgan_something_is_refused(script, monkeypatch):
    name = os.path.basename(script)
    with pytest.raises(SystemExit, match=f"^{name}: not a dcgan-dist program"):
        console.program_module(script)
    monkeypatch.setattr(sys, "argv", [script, "--workdir=x"])
    with pytest.raises(SystemExit, match=f"^{name}: not a dcgan-dist program"):
        console.main()  # before it starts TensorFlow or runs anything


@pytest.mark.slow
def test_dcgan_train_leaves_every_artifact_and_a_rerun_changes_nothing(tmp_path, caplog):
    workdir = tmp_path / "run"
    args = tiny_run_args(workdir, tmp_path, "--train_steps=4", "--log_every_steps=2",
                 "--sample_every_steps=2", "--ckpt_every_steps=2", "--steps_per_execution=2")
    result = run_cli("dcgan-train", args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 4/4" in result.stderr and "img/s" in result.stderr and "eta" in result.stderr
    # A quiet start: the first lines say what is trained and where; none of TensorFlow's
    # start-up lines, its per-save info line, or TFDS's warning about the unused data folder.
    lines = result.stderr.splitlines()
    assert lines[0].endswith(
        f"] Training tutorial networks on synthetic images of mnist's shape 28x28x1 for 4 "
        f"steps; results in {workdir}"), result.stderr[:3000]
    assert "] Strategy default strategy with 1 replica(s), per-replica batch 4; precision " \
           "float32 -> float32: set by --precision" in lines[1]
    for noise in ("absl::InitializeLog", "cuda", "cpu_feature_guard", "oneDNN",
                  "Sharding callback", "dataset_info.json", "E0000"):
        assert noise not in result.stderr, noise
    grids = sorted(os.listdir(workdir / "samples"))
    assert grids == ["step_000002.png", "step_000004.png"]
    grid = iio.imread(workdir / "samples" / grids[0])
    assert grid.shape == (4 * 29 * 4 + 4, 4 * 29 * 4 + 4) and grid.dtype == np.uint8
    assert iio.imread(workdir / "samples.gif", index=None).shape[0] == len(grids)
    stats = [json.loads(line) for line in (workdir / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in stats] == [2, 4]
    for record in stats:
        assert {"g_loss", "d_loss", "images_per_sec", "elapsed_secs"} <= set(record)
        assert record["images_per_sec"] > 0 and np.isfinite(record["g_loss"])
    assert latest_checkpoint(workdir).endswith("ckpt-4")
    events = os.listdir(workdir / "tensorboard")
    assert events and events[0].startswith("events.out.tfevents")
    flags_txt = (workdir / "flags.txt").read_text()
    assert "--train_steps=4" in flags_txt and "--synthetic_data" in flags_txt
    # The same command again (in this process: the behaviour is the loop's) does nothing.
    before = snapshot(workdir)
    with caplog.at_level(logging.INFO):
        train.run(["dcgan-train", *args])
    assert "Nothing to do: step 4 of 4" in caplog.text
    assert snapshot(workdir) == before


@pytest.mark.slow
def test_dcgan_train_bad_input_is_one_line_and_exit_2(tmp_path):
    result = run_cli("dcgan-train",
                     tiny_run_args(tmp_path / "run", tmp_path, "--strategy=gpus"))
    assert result.returncode == 2
    assert last_line(result.stderr) == (
        "dcgan-train: error: flag --strategy=gpus: value should be one of "
        "<auto|cpu|gpu|mirrored|multi_worker|tpu>; see dcgan-train --help")
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_dcgan_train_diverging_exits_3_naming_the_steps(tmp_path):
    result = run_cli("dcgan-train", tiny_run_args(
        tmp_path / "run", tmp_path, "--train_steps=20", "--log_every_steps=1", "--g_lr=1e30",
        "--d_lr=1e30"))
    assert result.returncode == 3, result.stderr[-2000:]
    assert last_line(result.stderr).startswith(
        "dcgan-train: error: non-finite loss between steps ")
    assert "lower the learning rates" in last_line(result.stderr)


@pytest.mark.slow
def test_dcgan_data_prepares_a_folder(tmp_path):
    from conftest import write_image_folder
    source = write_image_folder(str(tmp_path / "photos"), num_images=4)
    result = run_cli("dcgan-data", ["prepare", "images", f"--source={source}", "--name=mine",
                                    f"--data_dir={tmp_path / 'tfds'}", "--image_size=16"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\nprepared 4 training images at 16x16x3 in " in "\n" + result.stdout
    assert "/dcgan-train --config=folder32 --dataset=mine --data_dir=" in result.stdout
    # TFDS's own prints about writing the dataset are not the user's business.
    for noise in ("Downloading and preparing", "downloaded and prepared", "absl::InitializeLog",
                  "dataset_info.json"):
        assert noise not in result.stdout + result.stderr, noise


@pytest.mark.slow
def test_dcgan_eval_reports_every_network(trained_run_copy, stand_in_inception):
    workdir = trained_run_copy
    result = run_cli("dcgan-eval", [f"--workdir={workdir}", "--num_images=32",
                                    f"--inception_path={stand_in_inception[0]}"])
    assert result.returncode == 0, result.stderr[-2000:]
    for line in ["step 4: 32 generated images vs the test split", "  fid ", "  kid ",
                 "  classifier_score ", "real train"]:
        assert line in result.stdout, line
    record = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 4 and set(record["networks"]) == {"inception", "classifier"}


@pytest.mark.slow
def test_dcgan_generate_writes_uint8_images_and_a_grid(trained_run, tmp_path):
    workdir = trained_run
    out = tmp_path / "gen.npz"
    result = run_cli("dcgan-generate", [f"--workdir={workdir}", "--num_images=20",
                                        f"--output={out}", "--grid"])
    assert result.returncode == 0, result.stderr[-2000:]
    images = np.load(out)["images"]
    assert images.shape == (20, 28, 28, 1) and images.dtype == np.uint8
    assert iio.imread(tmp_path / "gen.png").shape == (2 * (3 * 29 + 1), 2 * (8 * 29 + 1))


# Loads the export in a Python that cannot import dcgan_dist: not on sys.path, and the
# editable install's import hook is refused too.
LOADER = WITHOUT_THE_PACKAGE + textwrap.dedent("""
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


@pytest.mark.slow
def test_dcgan_export_loads_without_the_package_and_samples_what_dcgan_generate_does(
        trained_run, tmp_path):
    from conftest import SMALL
    from dcgan_dist.evaluation import sampling
    from dcgan_dist.programs import generate
    workdir = trained_run
    out = tmp_path / "model"
    result = run_cli("dcgan-export", [f"--workdir={workdir}", f"--output={out}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "uint8 images 28x28x1" in result.stdout
    assert (out / "saved_model.pb").exists() and (out / "run.json").exists()
    # 503 images: two chunks of sampling.generate's noise (500 and 3), here in-process.
    generate.generate(str(workdir), 503, str(tmp_path / "gen.npz"))
    expected = np.load(tmp_path / "gen.npz")["images"]
    z = sampling.chunk_noise(0, 500, 3, SMALL["noise_dim"]).numpy()  # the second chunk's
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
