"""What 0.1.0 made still opens: its work directories reopen with the same generator, resume
through their own flags.txt, and its export loads and generates what its checkpoint does
(tests/fixtures/v0_1, made by f655bc1, before the package was split into subpackages)."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import main
from dcgan_dist.data.images import to_uint8
from dcgan_dist.rundir import progress, reopen, runinfo
from helpers import run_in_process

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "v0_1")
EXPECTED = np.load(os.path.join(FIXTURES, "expected.npz"))


@pytest.fixture
def old_run(tmp_path):
    """A copy of one of 0.1.0's work directories (the tests resume into it)."""

    def copy(name):
        shutil.copytree(os.path.join(FIXTURES, name), tmp_path / name)
        return tmp_path / name

    return copy


@pytest.mark.parametrize("name", ["tutorial_run", "dcgan_run"])
def test_an_old_run_reopens_with_the_generator_it_saved(name):
    config, state = reopen.restore_run(os.path.join(FIXTURES, name))
    assert int(state.step.numpy()) == int(EXPECTED[f"{name}_step"])
    images = state.sampling_generator(state.sample_noise[:4], training=False).numpy()
    np.testing.assert_allclose(images, EXPECTED[f"{name}_samples"], atol=1e-6)
    assert config.architecture == ("dcgan" if name == "dcgan_run" else "tutorial")


@pytest.mark.parametrize("name, steps_before, log_every", [("tutorial_run", 4, 2),
                                                           ("dcgan_run", 2, 1)])
def test_an_old_run_resumes_from_its_own_flags_txt(old_run, tmp_path, capsys, caplog, name,
                                                   steps_before, log_every):
    workdir = old_run(name)
    end = steps_before + 2
    code, _, err = run_in_process(main.run, "dcgan-train", [
        f"--flagfile={workdir}/flags.txt", f"--workdir={workdir}",
        f"--data_dir={tmp_path / 'no_data'}", f"--train_steps={end}"], capsys)
    assert code == 0, err[-2000:]
    assert f"Resumed from {workdir}/ckpt/ckpt-{steps_before} at step {steps_before}" in caplog.text
    assert [r["step"] for r in progress.read_stats(str(workdir))] == list(
        range(log_every, end + 1, log_every))
    assert os.path.exists(workdir / "samples" / f"step_{end:06d}.png")
    # run.json is rewritten by this version, and still reads back.
    assert runinfo.read(str(workdir)).config.train_steps == end
    assert json.loads((workdir / "run.json").read_text())["format_version"] == 1


def test_an_old_export_loads_and_generates_what_its_checkpoint_does():
    model = tf.saved_model.load(os.path.join(FIXTURES, "tutorial_export"))
    z = EXPECTED["export_z"]
    generated = model.signatures["generate"](z=tf.constant(z))["images"].numpy()
    np.testing.assert_array_equal(generated, EXPECTED["export_generate"])
    sample = model.signatures["sample"](num_images=tf.constant(5),
                                        seed=tf.constant(0, tf.int64))["images"].numpy()
    np.testing.assert_array_equal(sample, EXPECTED["export_sample"])
    # The run it came from, reopened by this version, gives the same images for that noise.
    _, state = reopen.restore_run(os.path.join(FIXTURES, "tutorial_run"))
    ours = to_uint8(state.sampling_generator(tf.constant(z), training=False).numpy())
    assert np.abs(ours.astype(int) - generated.astype(int)).max() <= 1  # rounding at .5
