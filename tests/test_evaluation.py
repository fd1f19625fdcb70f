"""Evaluation: metric arithmetic on small arrays, the classifier, EMA, dcgan-eval/-generate."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import arch_tutorial, eval_math, evaluation, loop, metrics, state as state_lib
from cli import run_cli


def test_classifier_score_bounds():
    ten_sure_classes = np.eye(10)[np.arange(100) % 10]
    np.testing.assert_allclose(eval_math.classifier_score(ten_sure_classes), 10.0, rtol=1e-6)
    one_class = np.eye(10)[np.zeros(50, int)]
    np.testing.assert_allclose(eval_math.classifier_score(one_class), 1.0, rtol=1e-6)
    unsure = np.full((50, 10), 0.1)
    np.testing.assert_allclose(eval_math.classifier_score(unsure), 1.0, rtol=1e-6)
    two_classes = np.eye(10)[np.arange(40) % 2]
    np.testing.assert_allclose(eval_math.classifier_score(two_classes), 2.0, rtol=1e-6)


def test_frechet_distance_hand_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert abs(eval_math.frechet_distance(a, a)) < 1e-8
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    np.testing.assert_allclose(eval_math.frechet_distance(a, a + shift), np.sum(shift ** 2),
                               rtol=1e-6)
    # Two 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2 with the sample statistics.
    x, y = rng.normal(0, 1, (2000, 1)), rng.normal(3, 2, (2000, 1))
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    np.testing.assert_allclose(eval_math.frechet_distance(x, y), expected, rtol=1e-6)


def test_kernel_distance_hand_value_and_identical_sets():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 2.0]])
    k = lambda u, v: (u @ v / 2 + 1) ** 3  # noqa: E731
    n = 3
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(n)) / n ** 2
    mean, _ = eval_math.kernel_distance(x, y, num_subsets=2, subset_size=3)
    np.testing.assert_allclose(mean, xx + yy - 2 * xy, rtol=1e-9)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, se = eval_math.kernel_distance(a, b, num_subsets=20, subset_size=200)
    assert abs(same) < 4 * se + 1e-3
    shifted, _ = eval_math.kernel_distance(a, b + 1.0, num_subsets=20, subset_size=200)
    assert shifted > 10 * se


def test_class_histogram():
    probs = np.eye(10)[[3, 3, 7, 0]]
    assert eval_math.class_histogram(probs) == [1, 0, 0, 2, 0, 0, 0, 1, 0, 0]


def test_precision_recall_hand_values_k1():
    # Real 0, 1, 2, 3, 10: squared 1-NN radii 1, 1, 1, 1, 49. Generated 0.3 .. 0.9 lie in
    # the balls of 0 and 1; 20 is 10 from its nearest real point, outside 10's radius 7:
    # precision 4/5. Generated 1-NN radii: 0.2 for 0.3 .. 0.9, 19.1 for 20. Real 1 is 0.1
    # from 0.9; 2, 3 and 10 lie inside 20's wide ball (18, 17, 10 <= 19.1); 0 is 0.3 from
    # 0.3 and 20 from 20: recall 4/5.
    real = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    fake = np.array([[0.3], [0.5], [0.7], [0.9], [20.0]])
    result = eval_math.precision_recall(real, fake, k=1)
    assert result == {"precision": 0.8, "recall": 0.8, "num_points": 5}


def test_precision_recall_hand_values_k3():
    # Real: unit square corners (3rd-NN radius sqrt 2) and (5, 5) (radius sqrt 41).
    # Generated (.5, .5) and (1, 2) are within sqrt 2 of a corner, (3, 3) sqrt 8 from (5, 5):
    # inside; (10, 10) is sqrt 50 > sqrt 41 from (5, 5), (-2, -2) sqrt 8 from (0, 0): out.
    # Every real point is within reach of a generated ball ((.5, .5) has radius sqrt 12.5).
    real = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [5, 5]], float)
    fake = np.array([[0.5, 0.5], [3, 3], [10, 10], [-2, -2], [1, 2]], float)
    result = eval_math.precision_recall(real, fake, k=3, rows_per_batch=2)
    assert result == {"precision": 0.6, "recall": 1.0, "num_points": 5}
    # Mode collapse: every sample near one real point is precise but recalls little.
    rng = np.random.default_rng(0)
    data = rng.normal(size=(400, 4))
    collapsed = data[:1] + 0.01 * rng.normal(size=(400, 4))
    result = eval_math.precision_recall(data, collapsed)
    assert result["precision"] == 1.0 and result["recall"] < 0.05
    same = eval_math.precision_recall(data, rng.normal(size=(300, 4)))
    assert same["num_points"] == 300 and same["precision"] > 0.8 and same["recall"] > 0.8


def test_frechet_distance_of_stats_matches_the_features_form():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 3)), rng.normal(1, 2, size=(200, 3))
    np.testing.assert_allclose(
        eval_math.frechet_distance_of_stats(*eval_math.mean_and_covariance(a),
                                            *eval_math.mean_and_covariance(b)),
        eval_math.frechet_distance(a, b), rtol=1e-12)


def test_generation_through_the_strategy_gives_each_replica_its_own_noise():
    from conftest import two_replicas
    strategy = two_replicas()
    with strategy.scope():
        generator = arch_tutorial.build_generator(4, (28, 28, 1), False, 8)
    generate_fn = evaluation.make_generate_fn(strategy, generator, 4, per_replica_images=3,
                                              seed=5)
    images = generate_fn(10)  # two chunks of 2 replicas x 3 images, cut to 10
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(generate_fn(10), images)
    # By hand: chunk c, replica r draws 3 noise vectors keyed by fold_in([5, 11], 2c + r).
    for index in range(4):
        key = tf.random.experimental.stateless_fold_in(tf.constant([5, 11], tf.int64),
                                                       tf.constant(index, tf.int64))
        z = tf.random.stateless_normal([3, 4], seed=key)
        expected = generator(z, training=False).numpy()[:max(0, 10 - 3 * index)]
        np.testing.assert_allclose(images[3 * index:3 * index + 3], expected, atol=1e-6)


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


def test_generate_and_eval_on_a_run_directory(ema_run, tmp_path, tiny_data_dir,
                                              stand_in_inception):
    workdir, _ = ema_run
    out = tmp_path / "gen.npz"
    result = run_cli([f"--workdir={workdir}", "--num_images=20", f"--output={out}", "--grid"],
                     module="dcgan_dist.eval_cli_generate")
    assert result.returncode == 0, result.stderr[-2000:]
    images = np.load(out)["images"]
    assert images.shape == (20, 28, 28, 1) and images.dtype == np.uint8
    assert (tmp_path / "gen.png").exists()
    result = run_cli([f"--workdir={workdir}", "--num_images=32",
                      f"--inception_path={stand_in_inception[0]}"], module="dcgan_dist.eval_cli")
    assert result.returncode == 0, result.stderr[-2000:]
    for line in ["step 4: 32 generated images vs the test split", "  fid ", "  kid ",
                 "  inception_precision ", "  inception_recall ", "  classifier_score ",
                 "  classifier_precision ", "  class histogram ", "real train",
                 "images: mean/covariance of 16 test images; KID vs a sample of 16; "
                 "precision/recall on 16 real and 16 generated; 32 generated in all",
                 "warning: FID from 32 < 10000 generated images is biased upwards"]:
        assert line in result.stdout, line
    record = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 4 and record["num_images"] == 32
    assert set(record["networks"]) == {"inception", "classifier"} and record["fid"] >= 0
    before = (workdir / "eval.jsonl").read_text()
    result = run_cli([f"--workdir={workdir}", "--inception_path=/no/such/dir/"],
                     module="dcgan_dist.eval_cli")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "dcgan-eval: error: --inception_path=/no/such/dir/ does not exist; download http://")
    assert (workdir / "eval.jsonl").read_text() == before
