"""What earlier versions made still opens: their work directories reopen with the same
generator, resume through their own flags.txt, and their exports load and generate what their
checkpoints do. tests/fixtures/v0_1 was made by 0.1.0 (f655bc1, before the package was split
into subpackages); tests/fixtures/v0_2 by 0.2.0 (9090baf, before the config was split into
sections): a conditional run with ADA, lazy R1 and EMA, a spectrally normalised dcgan."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import build
from dcgan_dist.data.images import to_uint8
from dcgan_dist.programs import generate, train
from dcgan_dist.rundir import progress
from helpers import run_in_process

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
EXPECTED = {version: np.load(os.path.join(FIXTURES, version, "expected.npz"))
            for version in ("v0_1", "v0_2")}
RUNS = [("v0_1", "tutorial_run"), ("v0_1", "dcgan_run"), ("v0_2", "tutorial_run"),
        ("v0_2", "dcgan_run")]


def _sample_inputs(state):
    """The first 4 fixed noise vectors; a conditional run's as classes 0-3 (expected.npz)."""
    z = state.sample_noise[:4]
    return [z, tf.range(4, dtype=tf.int32)] if state.num_classes else z


@pytest.mark.parametrize("version, name", RUNS)
def test_an_old_run_reopens_with_the_generator_it_saved(version, name):
    config, state = build.restore_run(os.path.join(FIXTURES, version, name))
    assert int(state.step.numpy()) == int(EXPECTED[version][f"{name}_step"])
    images = state.sampling_generator(_sample_inputs(state), training=False).numpy()
    np.testing.assert_allclose(images, EXPECTED[version][f"{name}_samples"], atol=1e-6)
    assert config.model.architecture == ("dcgan" if name == "dcgan_run" else "tutorial")
    assert state.num_classes == (10 if (version, name) == ("v0_2", "tutorial_run") else 0)


@pytest.mark.slow
@pytest.mark.parametrize("version, name, steps_before, log_every", [
    ("v0_1", "tutorial_run", 4, 2), ("v0_1", "dcgan_run", 2, 1), ("v0_2", "tutorial_run", 4, 2),
    ("v0_2", "dcgan_run", 2, 1)])
def test_an_old_run_resumes_from_its_own_flags_txt(tmp_path, capsys, caplog, version, name,
                                                   steps_before, log_every):
    workdir = tmp_path / name
    shutil.copytree(os.path.join(FIXTURES, version, name), workdir)
    end = steps_before + 2
    code, _, err = run_in_process(train.run, "dcgan-train", [
        f"--flagfile={workdir}/flags.txt", f"--workdir={workdir}",
        f"--data_dir={tmp_path / 'no_data'}", f"--train_steps={end}"], capsys)
    assert code == 0, err[-2000:]
    assert f"Resumed from {workdir}/ckpt/ckpt-{steps_before} at step {steps_before}" in caplog.text
    assert [r["step"] for r in progress.read_stats(str(workdir))] == list(
        range(log_every, end + 1, log_every))
    assert os.path.exists(workdir / "samples" / f"step_{end:06d}.png")
    # run.json is rewritten by this version, and still reads back.
    assert build.read_run(str(workdir)).config.schedule.train_steps == end
    assert json.loads((workdir / "run.json").read_text())["format_version"] == 1


def test_an_old_export_loads_and_generates_what_its_checkpoint_does():
    expected = EXPECTED["v0_1"]
    model = tf.saved_model.load(os.path.join(FIXTURES, "v0_1", "tutorial_export"))
    z = expected["export_z"]
    generated = model.signatures["generate"](z=tf.constant(z))["images"].numpy()
    np.testing.assert_array_equal(generated, expected["export_generate"])
    sample = model.signatures["sample"](num_images=tf.constant(5),
                                        seed=tf.constant(0, tf.int64))["images"].numpy()
    np.testing.assert_array_equal(sample, expected["export_sample"])
    # The run it came from, reopened by this version, gives the same images for that noise.
    _, state = build.restore_run(os.path.join(FIXTURES, "v0_1", "tutorial_run"))
    ours = to_uint8(state.sampling_generator(tf.constant(z), training=False).numpy())
    assert np.abs(ours.astype(int) - generated.astype(int)).max() <= 1  # rounding at .5


def test_an_old_conditional_export_loads_and_generates_what_its_checkpoint_does():
    expected = EXPECTED["v0_2"]
    model = tf.saved_model.load(os.path.join(FIXTURES, "v0_2", "tutorial_export"))
    z, labels = expected["export_z"], expected["export_labels"]
    generated = model.signatures["generate"](z=tf.constant(z), labels=tf.constant(labels))[
        "images"].numpy()
    np.testing.assert_array_equal(generated, expected["export_generate"])
    sample = model.signatures["sample"](labels=tf.range(5, dtype=tf.int32),
                                        seed=tf.constant(0, tf.int64))["images"].numpy()
    np.testing.assert_array_equal(sample, expected["export_sample"])
    _, state = build.restore_run(os.path.join(FIXTURES, "v0_2", "tutorial_run"))
    ours = to_uint8(state.sampling_generator([tf.constant(z), tf.constant(labels)],
                                             training=False).numpy())
    assert np.abs(ours.astype(int) - generated.astype(int)).max() <= 1  # rounding at .5


def test_dcgan_generate_on_an_old_run_draws_what_its_old_export_samples(tmp_path, capsys):
    """This version's dcgan-generate on 0.2.0's conditional run gives the images that run's
    own export drew with sample(labels=0..4, seed=0). (0.1.0's export drew its noise from
    the streams before 0.2.0 renumbered them: runtime.streams.)"""
    out = tmp_path / "generated.npz"
    code, _, err = run_in_process(generate.run, "dcgan-generate", [
        f"--workdir={os.path.join(FIXTURES, 'v0_2', 'tutorial_run')}", "--num_images=5",
        f"--output={out}", "--labels=0,1,2,3,4"], capsys)
    assert code == 0, err[-2000:]
    generated = np.load(out)
    expected = EXPECTED["v0_2"]["export_sample"]
    assert generated["images"].shape == expected.shape == (5, 28, 28, 1)
    assert generated["labels"].tolist() == [0, 1, 2, 3, 4]
    assert np.abs(generated["images"].astype(int) - expected.astype(int)).max() <= 1
