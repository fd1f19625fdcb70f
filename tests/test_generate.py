"""What people do with a trained model: dcgan-generate's --seed, --truncation, --reject and
--interpolate (a strip and a GIF between seeds, per class for a conditional run)."""

import math

import imageio.v3 as iio
import numpy as np
import pytest

from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import interpolation, sampling
from dcgan_dist import build
from dcgan_dist.data.images import to_uint8
from dcgan_dist.programs import generate
from helpers import run_in_process


def _images(run, tmp_path, name, **kwargs):
    path = tmp_path / f"{name}.npz"
    generate.generate(str(run), 6, str(path), **kwargs)
    return np.load(path)["images"]


def test_seed_picks_the_noise_and_seed_0_is_the_default(trained_run, tmp_path):
    default = _images(trained_run, tmp_path, "default")
    assert np.array_equal(_images(trained_run, tmp_path, "zero", seed=0), default)
    seven = _images(trained_run, tmp_path, "seven", seed=7)
    assert np.array_equal(_images(trained_run, tmp_path, "seven_again", seed=7), seven)
    assert np.abs(seven.astype(int) - default).max() > 0


def test_truncation_draws_the_normal_truncated_to_the_bound():
    z = sampling.chunk_noise(3, 0, 4000, 50, truncation=1.0).numpy()
    assert np.abs(z).max() <= 1.0
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = cdf(1) - cdf(-1)
    # The truncated normal's standard deviation (0.5396 for the bound 1; a normal clipped to
    # the bound would give 0.6681) and its distribution function, at a few points.
    assert z.std() == pytest.approx(math.sqrt(1 - 2 * pdf(1) / mass), rel=0.01)
    for x in (-0.75, -0.25, 0.0, 0.5, 0.9):
        assert np.mean(z <= x) == pytest.approx((cdf(x) - cdf(-1)) / mass, abs=0.01)
    full = sampling.chunk_noise(3, 0, 4000, 50).numpy()
    assert np.abs(full).max() > 3 and np.array_equal(
        full, sampling.chunk_noise(3, 0, 4000, 50, truncation=0.0).numpy())
    with pytest.raises(UserError, match="--truncation=-1.0 must be positive"):
        sampling.chunk_noise(3, 0, 4, 50, truncation=-1.0)


def test_truncated_images_differ_and_repeat(trained_run, tmp_path):
    truncated = _images(trained_run, tmp_path, "t", truncation=0.5)
    assert np.array_equal(_images(trained_run, tmp_path, "t2", truncation=0.5), truncated)
    assert np.abs(truncated.astype(int) - _images(trained_run, tmp_path, "f")).max() > 0


def _drawn(run, num_images, labels=None):
    """The images the run's generator draws (floats), and its discriminator's logits."""
    record, state = build.reopen(str(run))
    images = sampling.generate(state.sampling_generator, num_images,
                               record.config.model.noise_dim, labels=labels)
    args = [images] + ([] if labels is None else [labels])
    return images, np.asarray(state.discriminator(*args, training=False)).reshape(-1)


def test_reject_keeps_the_draws_the_discriminator_rates_most_real(trained_run, tmp_path):
    """--reject=0.6 draws 15 for 6 and keeps the 6 best-rated, in the order drawn."""
    kept = _images(trained_run, tmp_path, "kept", reject=0.6)
    drawn, logits = _drawn(trained_run, 15)
    best = np.sort(np.argsort(-logits)[:6])
    assert np.array_equal(kept, to_uint8(drawn[best]))
    assert not np.array_equal(best, np.arange(6))  # it did turn some of the first six away


def test_reject_keeps_the_best_of_each_class_asked_for(conditional_run, tmp_path):
    path = tmp_path / "kept.npz"
    generate.generate(str(conditional_run), 0, str(path), labels="3,7", per_class=3,
                      reject=0.5)
    kept = np.load(path)
    assert kept["labels"].tolist() == [3, 3, 3, 7, 7, 7]
    drawn_labels = np.resize(kept["labels"], 12)  # 12 drawn, the classes cycled: 6 of each
    drawn, logits = _drawn(conditional_run, 12, drawn_labels)
    for label in (3, 7):
        of_class = np.flatnonzero(drawn_labels == label)
        best = np.sort(of_class[np.argsort(-logits[of_class])[:3]])
        assert np.array_equal(kept["images"][kept["labels"] == label], to_uint8(drawn[best]))


def test_reject_must_leave_some_draws(trained_run, tmp_path, capsys):
    code, _, err = run_in_process(generate.run, "dcgan-generate", [
        f"--workdir={trained_run}", f"--output={tmp_path / 'x.npz'}", "--reject=1"], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "dcgan-generate: error: --reject=1.0 must be in [0, 1): the share of the draws the "
        "discriminator turns away (0.2 keeps the best 4 of every 5)")
    assert not any(tmp_path.iterdir())


def test_slerp_keeps_the_norm_where_a_straight_line_fades():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert np.allclose(interpolation.slerp(a, b, 0), a)
    assert np.allclose(interpolation.slerp(a, b, 1), b)
    assert np.linalg.norm(interpolation.slerp(a, b, 0.5)) == pytest.approx(1.0)
    assert np.linalg.norm(0.5 * a + 0.5 * b) == pytest.approx(0.7071, abs=1e-4)
    assert np.allclose(interpolation.slerp(a, 2 * a, 0.5), 1.5 * a)  # same direction: a line


def test_interpolation_strip_and_gif_run_from_one_seed_to_the_next(trained_run, tmp_path):
    strip_path = tmp_path / "walk.png"
    lines = generate.interpolate(str(trained_run), "0,5,2", 4, str(strip_path))
    frames = (3 - 1) * 4 + 1
    assert lines == [f"{strip_path}: seeds 0, 5, 2, {frames} frames, one row",
                     f"{tmp_path / 'walk.gif'}: {frames} frames"]
    strip = iio.imread(strip_path)
    scale = strip.shape[0] // 30
    assert strip.shape == (scale * 30, scale * (frames * 29 + 1))
    gif = iio.imread(tmp_path / "walk.gif", index=None)
    assert gif.shape[0] == frames
    # Its ends are the first image dcgan-generate draws with --seed=0 and with --seed=2.
    def first(seed):
        return _images(trained_run, tmp_path, f"s{seed}", seed=seed)[0, ..., 0]
    cell = lambda i: strip[scale:scale * 29, scale * (1 + 29 * i):scale * (29 + 29 * i)]  # noqa: E731
    assert np.array_equal(cell(0)[::scale, ::scale], first(0))
    assert np.array_equal(cell(frames - 1)[::scale, ::scale], first(2))
    assert np.array_equal(cell(4)[::scale, ::scale], first(5))


@pytest.mark.slow
def test_a_conditional_run_walks_once_per_class(conditional_run, tmp_path):
    strip_path = tmp_path / "walk.png"
    lines = generate.interpolate(str(conditional_run), "1,2", 3, str(strip_path),
                                 labels="3,7")
    assert lines[0] == f"{strip_path}: seeds 1, 2, 4 frames, a row per class (2)"
    strip = iio.imread(strip_path)
    scale = strip.shape[1] // (4 * 29 + 1)
    assert strip.shape == (scale * (2 * 29 + 1), scale * (4 * 29 + 1))
    rows = strip[scale:scale * 29], strip[scale * 30:scale * 58]
    assert np.abs(rows[0].astype(int) - rows[1]).max() > 0  # the same path, two classes
    assert iio.imread(tmp_path / "walk.gif", index=None).shape[0] == 4


@pytest.mark.parametrize("args, message", [
    (["--interpolate=3", "--output=OUT.png"], "--interpolate=3 must be two or more seeds"),
    (["--interpolate=0,1", "--output=OUT.npz"], "--output=OUT.npz must be a .png with "
                                                 "--interpolate"),
    (["--interpolate=0,1", "--interpolation_steps=0", "--output=OUT.png"],
     "--interpolation_steps=0 must be at least 1"),
    (["--interpolate=0,1", "--labels=3", "--output=OUT.png"],
     "--labels needs a --conditional run"),
])
def test_bad_interpolation_flags_are_one_line(trained_run, tmp_path, capsys, args, message):
    args = [a.replace("OUT", str(tmp_path / "x")) for a in args]
    code, _, err = run_in_process(generate.run, "dcgan-generate",
                                  [f"--workdir={trained_run}", *args], capsys)
    assert code == 2 and message.replace("OUT", str(tmp_path / "x")) in err.strip().splitlines()[-1]
    assert not any(tmp_path.iterdir())
