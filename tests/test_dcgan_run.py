"""--architecture=dcgan through the real entry point and the loop: an RGB folder at 64 px,
a resume that replays exactly, generation from its run directory, and a refused size."""

import json
import os

import imageio.v3 as iio
import numpy as np

import tensorflow as tf

from dcgan_dist import loop, state as state_lib
from cli import run_cli
import pytest

from conftest import all_weights, one_replica, trainable_weights

TINY_DCGAN = ["--architecture=dcgan", "--g_filters=8", "--d_filters=4", "--global_batch_size=4"]


def test_dcgan_trains_two_steps_at_64x64x3_on_a_folder(folder_data_dir, tmp_path):
    workdir = tmp_path / "run"
    result = run_cli([f"--workdir={workdir}", "--dataset=gen_images",
                      f"--data_dir={folder_data_dir}", "--image_size=64", "--train_steps=2", "--log_every_steps=1",
                      "--sample_every_steps=2", "--d_dropout=0", *TINY_DCGAN])
    assert result.returncode == 0, result.stderr[-3000:]
    # The start-up summary: 672*8^2 + 12908*8 + 3 and 672*4^2 + 233*4 + 1 (test_models).
    assert "generator: 146,275 parameters, output (None, 64, 64, 3)" in result.stderr
    assert "discriminator: 11,685 parameters, output (None, 1)" in result.stderr
    grid = iio.imread(workdir / "samples" / "step_000002.png")
    assert grid.shape == (4 * 65 + 1, 4 * 65 + 1, 3) and grid.std() > 0
    stats = [json.loads(line) for line in (workdir / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in stats] == [1, 2] and all(np.isfinite(r["d_loss"]) for r in stats)
    run = json.loads((workdir / "run.json").read_text())
    assert run["config"]["architecture"] == "dcgan" and run["image_shape"] == [64, 64, 3]
    out = tmp_path / "gen.npz"  # run.json reopens the run with its architecture
    result = run_cli([f"--workdir={workdir}", "--num_images=3", f"--output={out}"],
                     module="dcgan_dist.eval_cli_generate")
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.load(out)["images"].shape == (3, 64, 64, 3)


def test_dcgan_at_mnist_size_is_refused_naming_the_sizes(tiny_data_dir, tmp_path):
    workdir = tmp_path / "run"
    result = run_cli([f"--workdir={workdir}", f"--data_dir={tiny_data_dir}", "--train_steps=1",
                      *TINY_DCGAN])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "dcgan-train: error: --architecture=dcgan at 28x28 is not supported: use "
        "--image_size=32, 64, 128 or 256")
    assert not os.path.exists(workdir) or os.listdir(workdir) == []


def test_resuming_a_dcgan_run_matches_a_straight_run(make_config, tmp_path):
    def config(name, train_steps):  # with dropout: its masks are keyed by step and replica
        return make_config(workdir=str(tmp_path / name), train_steps=train_steps,
                           architecture="dcgan", image_size=32, g_filters=4, d_filters=4,
                           d_dropout=0.2, g_ema_decay=0.9)

    straight = loop.train(config("straight", 4))
    loop.train(config("split", 2))
    resumed = loop.train(config("split", 4))
    assert int(resumed.step.numpy()) == 4
    for a, b in zip(all_weights(straight) + [w.numpy() for w in straight.g_ema.weights],
                    all_weights(resumed) + [w.numpy() for w in resumed.g_ema.weights]):
        np.testing.assert_allclose(a, b, atol=1e-6)


def _tiny_dcgan(make_config, tmp_path, name, **overrides):
    return make_config(workdir=str(tmp_path / name), architecture="dcgan", image_size=32,
                       g_filters=4, d_filters=4, **overrides)


@pytest.mark.parametrize("precision, jit_compile", [("mixed_bfloat16", True),
                                                    ("mixed_float16", False)])
def test_dcgan_with_r1_ema_and_dropout_under_mixed_precision(make_config, tmp_path, precision,
                                                             jit_compile):
    config = _tiny_dcgan(make_config, tmp_path, "run", precision=precision,
                         jit_compile=jit_compile, d_r1_gamma=10.0, g_ema_decay=0.9,
                         d_dropout=0.3, steps_per_execution=2, train_steps=2)
    state = loop.train(config, strategy=one_replica())
    assert int(state.step.numpy()) == 2
    norms = [l for l in state.generator.layers if "batch_normalization" in l.name]
    assert norms[0].compute_dtype == precision.split("_")[1]
    assert state.discriminator.norms[0].compute_dtype == precision.split("_")[1]
    assert all(np.all(np.isfinite(w)) for w in trainable_weights(state))


def test_dcgan_jit_matches_plain_tensorflow(make_config, tmp_path):
    """As test_xla_tpu's for the tutorial: float64, no dropout (XLA draws other masks).

    Measured 1e-8 apart after 2 steps with R1 (XLA reorders the BN reductions).
    """
    configs = [_tiny_dcgan(make_config, tmp_path, f"jit{jit}", jit_compile=jit, d_dropout=0.0,
                           precision="float64", d_r1_gamma=10.0) for jit in (False, True)]
    runs = [trainable_weights(loop.train(c, strategy=one_replica())) for c in configs]
    assert max(np.max(np.abs(a - b)) for a, b in zip(*runs)) < 1e-7
    initial = trainable_weights(state_lib.build_state(
        configs[0], tf.distribute.get_strategy(), (32, 32, 1), "float64"))
    assert min(np.max(np.abs(a - b)) for a, b in zip(runs[0], initial)) > 0  # all trained
