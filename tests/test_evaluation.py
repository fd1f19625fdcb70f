"""Evaluation: metric arithmetic on small arrays, the classifier, EMA, dcgan-eval/-generate."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import arch_tutorial, evaluation, loop, metrics, state as state_lib
from cli import run_cli


def test_classifier_score_bounds():
    ten_sure_classes = np.eye(10)[np.arange(100) % 10]
    np.testing.assert_allclose(evaluation.classifier_score(ten_sure_classes), 10.0, rtol=1e-6)
    one_class = np.eye(10)[np.zeros(50, int)]
    np.testing.assert_allclose(evaluation.classifier_score(one_class), 1.0, rtol=1e-6)
    unsure = np.full((50, 10), 0.1)
    np.testing.assert_allclose(evaluation.classifier_score(unsure), 1.0, rtol=1e-6)
    two_classes = np.eye(10)[np.arange(40) % 2]
    np.testing.assert_allclose(evaluation.classifier_score(two_classes), 2.0, rtol=1e-6)


def test_frechet_distance_hand_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert abs(evaluation.frechet_distance(a, a)) < 1e-8
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    np.testing.assert_allclose(evaluation.frechet_distance(a, a + shift), np.sum(shift ** 2),
                               rtol=1e-6)
    # Two 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2 with the sample statistics.
    x, y = rng.normal(0, 1, (2000, 1)), rng.normal(3, 2, (2000, 1))
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    np.testing.assert_allclose(evaluation.frechet_distance(x, y), expected, rtol=1e-6)


def test_kernel_distance_hand_value_and_identical_sets():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 2.0]])
    k = lambda u, v: (u @ v / 2 + 1) ** 3  # noqa: E731
    n = 3
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(n)) / n ** 2
    mean, _ = evaluation.kernel_distance(x, y, num_subsets=2, subset_size=3)
    np.testing.assert_allclose(mean, xx + yy - 2 * xy, rtol=1e-9)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, se = evaluation.kernel_distance(a, b, num_subsets=20, subset_size=200)
    assert abs(same) < 4 * se + 1e-3
    shifted, _ = evaluation.kernel_distance(a, b + 1.0, num_subsets=20, subset_size=200)
    assert shifted > 10 * se


def test_class_histogram():
    probs = np.eye(10)[[3, 3, 7, 0]]
    assert evaluation.class_histogram(probs) == [1, 0, 0, 2, 0, 0, 0, 1, 0, 0]


def _separable_digits(n, seed):
    """Ten fixed random 28x28 templates plus noise: a stand-in MNIST a CNN must learn."""
    templates = np.random.default_rng(42).uniform(-1, 1, (10, 28, 28, 1)).astype(np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = templates[labels] + rng.normal(0, 0.8, (n, 28, 28, 1)).astype(np.float32)
    return np.clip(images, -1, 1), labels


def test_classifier_trains_caches_and_hashes(tmp_path):
    model, accuracy = evaluation.train_classifier(_separable_digits(3000, 0),
                                                  _separable_digits(500, 1), epochs=3)
    assert accuracy > 0.98
    info = evaluation.save_classifier(model, accuracy, str(tmp_path))
    loaded, loaded_info = evaluation.load_classifier(str(tmp_path))
    assert loaded_info == info and len(info["sha256"]) == 12
    x = _separable_digits(8, 2)[0]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)
    assert evaluation.load_classifier(str(tmp_path / "none")) == (None, None)


def test_ema_update_arithmetic():
    a, b = (arch_tutorial.build_generator(4, (28, 28, 1), False, 256) for _ in range(2))
    before = [w.numpy() for w in a.weights]
    state_lib.update_ema(a, b, 0.9)
    for w_ema, w_old, w in zip(a.weights, before, b.weights):
        np.testing.assert_allclose(w_ema.numpy(), 0.9 * w_old + 0.1 * w.numpy(), rtol=1e-5,
                                   atol=1e-7)


def test_ema_decay_warms_up_to_the_flag():
    decays = [float(state_lib.ema_decay(0.999, step)) for step in (0, 10, 1000, 10**6)]
    np.testing.assert_allclose(decays, [1 / 10, 11 / 20, 1001 / 1010, 0.999], rtol=1e-6)


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory, tiny_data_dir):
    from dcgan_dist import config as config_lib
    workdir = tmp_path_factory.mktemp("ema") / "run"
    config = config_lib.Config(workdir=str(workdir), data_dir=tiny_data_dir,
                               global_batch_size=8, train_steps=4, log_every_steps=1,
                               precision="float32", strategy="cpu", g_ema_decay=0.5,
                               eval_every_steps=2, eval_num_images=32)
    return workdir, loop.train(config)


def test_ema_trains_is_checkpointed_and_periodic_eval_is_logged(ema_run):
    workdir, state = ema_run
    ema = [w.numpy() for w in state.g_ema.weights]
    plain = [w.numpy() for w in state.generator.weights]
    assert any(not np.allclose(e, p) for e, p in zip(ema, plain))
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(workdir / "ckpt")))
    assert any(name.startswith("g_ema/") for name in reader.get_variable_to_shape_map())
    records = metrics.read_stats(str(workdir))
    evaluated = [r["step"] for r in records if "eval/classifier_score" in r]
    assert evaluated == [2, 4]
    record = records[1]
    assert 1.0 <= record["eval/classifier_score"] <= 10.0
    assert record["eval/frechet_distance"] >= 0 and sum(record["eval/class_histogram"]) == 32


def test_the_training_step_warms_up_the_ema_decay(make_config):
    # After one step the warmed-up decay is 0.1, not the flag's 0.999: the average is 90%
    # trained generator. Seeded weights: a second build_state gives the initial weights.
    config = make_config(train_steps=1, g_ema_decay=0.999)
    state = loop.train(config)
    initial = state_lib.build_state(config, tf.distribute.get_strategy(), (28, 28, 1), "float32")
    for ema, init, trained in zip(state.g_ema.weights, initial.generator.weights,
                                  state.generator.weights):
        np.testing.assert_allclose(ema.numpy(), 0.1 * init.numpy() + 0.9 * trained.numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_generate_and_eval_on_a_run_directory(ema_run, tmp_path, tiny_data_dir):
    workdir, _ = ema_run
    out = tmp_path / "gen.npz"
    result = run_cli([f"--workdir={workdir}", "--num_images=20", f"--output={out}", "--grid"],
                     module="dcgan_dist.eval_cli_generate")
    assert result.returncode == 0, result.stderr[-2000:]
    images = np.load(out)["images"]
    assert images.shape == (20, 28, 28, 1) and images.dtype == np.uint8
    assert (tmp_path / "gen.png").exists()
    result = run_cli([f"--workdir={workdir}", "--num_images=32"], module="dcgan_dist.eval_cli")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "classifier_score" in result.stdout and "real train" in result.stdout
    record = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 4 and record["num_images"] == 32
