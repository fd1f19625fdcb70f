"""--architecture=dcgan through the real entry point and the loop: an RGB folder at 64 px,
a resume that replays exactly, generation from its run directory, and a refused size."""

import json
import os

import imageio.v3 as iio
import numpy as np

from dcgan_dist import loop
from cli import run_cli
from conftest import all_weights

TINY_DCGAN = ["--architecture=dcgan", "--g_filters=8", "--d_filters=4", "--global_batch_size=4"]


def test_dcgan_trains_two_steps_at_64x64x3_on_a_folder(folder_data_dir, tmp_path):
    workdir = tmp_path / "run"
    result = run_cli([f"--workdir={workdir}", "--dataset=gen_images", f"--data_dir={folder_data_dir}",
                      "--image_size=64", "--train_steps=2", "--log_every_steps=1",
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
