"""--architecture=dcgan through dcgan-train's entry point and the loop, in-process: an RGB
folder at 64 px, generation from its run directory, a refused size, and mixed precision (its
exact resume: test_augment)."""

import json
import logging
import os

import imageio.v3 as iio
import numpy as np
import pytest

from dcgan_dist import loop
from dcgan_dist.programs import generate, train
from conftest import one_replica, trainable_weights
from helpers import last_line, run_in_process

TINY_DCGAN = ["--architecture=dcgan", "--g_filters=8", "--d_filters=4", "--global_batch_size=4",
              "--precision=float32"]


@pytest.mark.slow
def test_dcgan_trains_two_steps_at_64x64x3_on_a_folder(folder_data_dir, tmp_path, capsys,
                                                       caplog):
    workdir = tmp_path / "run"
    with caplog.at_level(logging.DEBUG):
        code, _, err = run_in_process(train.run, "dcgan-train", [
            f"--workdir={workdir}", "--dataset=gen_images", f"--data_dir={folder_data_dir}",
            "--image_size=64", "--train_steps=2", "--log_every_steps=1",
            "--sample_every_steps=2", "--d_dropout=0", "--verbose", *TINY_DCGAN], capsys)
    assert code == 0, err[-3000:]
    # The start-up summary (--verbose): 672*8^2 + 12908*8 + 3 and 672*4^2 + 233*4 + 1
    # (test_models).
    assert "generator: 146,275 parameters, output (None, 64, 64, 3)" in caplog.text
    assert "discriminator: 11,685 parameters, output (None, 1)" in caplog.text
    grid = iio.imread(workdir / "samples" / "step_000002.png")
    assert grid.shape == (4 * 65 + 1, 4 * 65 + 1, 3) and grid.std() > 0
    stats = [json.loads(line) for line in (workdir / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in stats] == [1, 2] and all(np.isfinite(r["d_loss"]) for r in stats)
    run = json.loads((workdir / "run.json").read_text())
    assert run["config"]["architecture"] == "dcgan" and run["image_shape"] == [64, 64, 3]
    out = tmp_path / "gen.npz"  # run.json reopens the run with its architecture
    generate.generate(str(workdir), 3, str(out))
    assert np.load(out)["images"].shape == (3, 64, 64, 3)


def test_dcgan_at_mnist_size_is_refused_naming_the_sizes(tiny_data_dir, tmp_path, capsys):
    workdir = tmp_path / "run"
    code, _, err = run_in_process(train.run, "dcgan-train", [
        f"--workdir={workdir}", f"--data_dir={tiny_data_dir}", "--train_steps=1", *TINY_DCGAN],
        capsys)
    assert code == 2
    assert last_line(err) == ("dcgan-train: error: --architecture=dcgan at 28x28 is not "
                              "supported: use --image_size=32, 64, 128 or 256")
    assert not os.path.exists(workdir) or os.listdir(workdir) == []


# dcgan's exact resume (batch norm, dropout masks keyed by step and replica, the EMA) is
# test_augment's ada resume, which runs it on dcgan with those on.


def _tiny_dcgan(make_config, tmp_path, name, **overrides):
    return make_config(workdir=str(tmp_path / name), architecture="dcgan", image_size=32,
                       g_filters=4, d_filters=4, **overrides)


# bfloat16 with XLA is the TPU's path (what a CPU can check of it: static shapes, several
# steps per execution, dropout under XLA); float16 is the GPU's, with its loss scaling.
@pytest.mark.slow
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
