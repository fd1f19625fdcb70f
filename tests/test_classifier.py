"""The classifier for any labelled dataset, and the Evaluator over every available network,
on a generated dataset of three shapes (tests/conftest.py)."""

import os

import numpy as np
import pytest

from dcgan_dist.config import Config
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import classifier, evaluator, reals
from dcgan_dist.evaluation import reference_stats
from dcgan_dist.programs import eval as eval_cli
from helpers import run_in_process


def _test_images(data_dir, image_shape=(16, 16, 1)):
    (images, labels), = reals.batches(data_dir, "shapes3", "test", image_shape,
                                          batch_size=1000, labels=True)
    return images.numpy(), labels.numpy()


def _evaluation(**values):
    """The evaluation section of a run on `values` (data_dir, dataset, inception_path)."""
    return Config.of(workdir="unused", **values).evaluation


@pytest.fixture(scope="module")
def shapes_classifier(shapes_data_dir):
    return classifier.get_classifier(shapes_data_dir, "shapes3", (16, 16, 1))


@pytest.mark.slow
def test_trains_to_high_accuracy_and_is_cached_by_hash(shapes_data_dir, shapes_classifier,
                                                       monkeypatch):
    model, info = shapes_classifier
    assert info["accuracy"] > 0.95 and info["num_classes"] == 3
    cache = os.path.join(shapes_data_dir, "dcgan_eval")
    assert f"shapes3_16x16x1_classifier_{info['sha256']}.weights.h5" in os.listdir(cache)
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("retrained"))
    loaded, loaded_info = classifier.get_classifier(shapes_data_dir, "shapes3", (16, 16, 1))
    assert loaded_info == info
    images, _ = _test_images(shapes_data_dir)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0),
                               atol=1e-5)


@pytest.mark.slow
def test_training_the_classifier_draws_nothing_from_keras_global_random_state(shapes_data_dir):
    """A classifier trained mid-run (the first periodic evaluation) must not reseed or consume
    the random state the run uses: its weights, dropout and shuffling have seeds of their own
    (streams.CLASSIFIER)."""
    import random

    import keras
    from keras.src.random.seed_generator import global_seed_generator

    def global_state():  # Python's and NumPy's generators, and Keras' own global SeedGenerator
        return (random.getstate(), np.random.get_state()[1].tolist(),
                global_seed_generator().state.numpy().tolist())

    keras.utils.set_random_seed(123)
    global_seed_generator()  # created now, so that creating it is not counted as a draw
    before = global_state()
    classifier.train_classifier(shapes_data_dir, "shapes3", (16, 16, 1), epochs=1)
    assert global_state() == before


@pytest.mark.slow
def test_a_larger_run_is_scored_by_resizing_to_the_classifier(shapes_data_dir, shapes_classifier):
    network = classifier.as_feature_network(*shapes_classifier, "shapes3")
    images, labels = _test_images(shapes_data_dir, (32, 32, 1))  # as a 32 px run makes them
    features, probs = network.features(images)
    assert features.shape == (90, 128) and probs.shape == (90, 3)
    assert np.mean(np.argmax(probs, 1) == labels) > 0.9
    with pytest.raises(UserError, match="takes 1-channel images of at least 8x8 px, not 32x32x3"):
        network.features(np.zeros((2, 32, 32, 3), np.float32))
    # dcgan-eval --classifier_image_size=16 on a 32 px run: the cached 16 px classifier.
    chosen = classifier.load_network(data_dir=shapes_data_dir, dataset="shapes3",
                                     image_shape=(32, 32, 1), classifier_image_size=16)
    assert chosen.sha256 == shapes_classifier[1]["sha256"]
    with pytest.raises(UserError, match="4x4 images are too small for the classifier"):
        classifier.load_network(data_dir=shapes_data_dir, dataset="shapes3",
                                image_shape=(4, 4, 1))
    with pytest.raises(UserError, match="takes 1-channel images of at least 8x8 px, not 4x4x1"):
        classifier.load_network(data_dir=shapes_data_dir, dataset="shapes3",
                                image_shape=(4, 4, 1), classifier_image_size=16)


def test_shrinking_for_the_classifier_undoes_the_training_enlargement_closely():
    """A 32 px MNIST run learns images enlarged 28 -> 32 (bilinear, in training's input
    pipeline); scoring shrinks its images back to 28. Lanczos-3 comes closer to the original
    than the bilinear filter it replaced, and stays in [-1, 1]."""
    import tensorflow as tf
    from dcgan_dist.data import images as images_lib
    from conftest import shape_images
    original = shape_images(np.arange(60) % 3, size=28)  # sharp-edged uint8 shapes, 28 px
    enlarged = tf.map_fn(lambda x: images_lib.center_crop_resize(x, 32, 1), original)
    as_run_makes = tf.cast(enlarged, tf.float32) / 127.5 - 1
    back = reals.resize(as_run_makes, (28, 28, 1)).numpy()
    bilinear = tf.image.resize(as_run_makes, (28, 28), antialias=True).numpy()
    target = original / 127.5 - 1
    assert back.shape == (60, 28, 28, 1) and back.min() >= -1 and back.max() <= 1
    error, bilinear_error = np.abs(back - target).mean(), np.abs(bilinear - target).mean()
    assert error < 0.85 * bilinear_error, (error, bilinear_error)  # measured: 0.76x
    # Enlarging (a classifier bigger than the run's images) is plain bilinear.
    up = reals.resize(tf.constant(target[:2], tf.float32), (32, 32, 1)).numpy()
    np.testing.assert_allclose(up, tf.image.resize(target[:2], (32, 32)).numpy(), atol=1e-6)


@pytest.mark.slow
def test_evaluator_scores_every_network_and_rereads_nothing(shapes_data_dir, shapes_classifier,
                                                            stand_in_inception, monkeypatch):
    evaluation = _evaluation(data_dir=shapes_data_dir, dataset="shapes3",
                             inception_path=stand_in_inception[0])
    # Real-data reference values from the first 200 train images, as from the first 10,000
    # of a large split.
    monkeypatch.setattr(reference_stats, "SAMPLE_SIZE", 200)
    scorer = evaluator.Evaluator.for_run(evaluation, (16, 16, 1))
    assert scorer.real_split == "train[:200]" and scorer.reference_split == "test"
    # Only a report's real-data row needs the train split's statistics: not computed yet.
    train_stats = reference_stats.stats_path(shapes_data_dir, "shapes3", "train[:200]",
                                             (16, 16, 1), scorer.networks[0])
    assert not os.path.exists(train_stats)
    assert [n.name for n in scorer.networks] == ["inception", "classifier"]
    real, _ = _test_images(shapes_data_dir)
    good = scorer.score(real)
    collapsed = scorer.score(np.repeat(real[:1], 90, axis=0))
    for metric in ("fid", "frechet_distance", "kid", "kernel_distance"):
        assert good[metric] < collapsed[metric], metric
    assert good["classifier_recall"] > 0.5 and collapsed["classifier_recall"] < 0.1
    assert sorted(collapsed["class_histogram"]) == [0, 0, 90]
    assert good["classifier_score"] > 2.5 and collapsed["classifier_score"] < 1.1
    assert good["inception_reference_images"] == 90 and good["inception_sample_images"] == 90
    assert good["classifier_pr_images"] == 90 and good["num_generated"] == 90
    reference = scorer.reference(500)
    assert reference["num_generated"] == 200 and reference["classifier_score"] > 2.5
    assert scorer.real_stats(scorer.networks[0]).num_images == 200 and os.path.exists(train_stats)
    assert scorer.warnings(90) and "10000" in scorer.warnings(90)[0]
    # The second evaluator reads the statistics from the cache, not the dataset.
    monkeypatch.setattr(reals, "batches", lambda *a, **k: pytest.fail("dataset reread"))
    again = evaluator.Evaluator.for_run(evaluation, (16, 16, 1)).score(real)
    assert again["fid"] == good["fid"] and again["classifier_score"] == good["classifier_score"]


@pytest.mark.slow
def test_without_inception_the_classifier_still_scores(shapes_data_dir, shapes_classifier,
                                                       monkeypatch):
    monkeypatch.delenv("DCGAN_INCEPTION_PATH", raising=False)
    scorer = evaluator.Evaluator.for_run(
        _evaluation(data_dir=shapes_data_dir, dataset="shapes3"), (16, 16, 1))
    assert [n.name for n in scorer.networks] == ["classifier"]
    assert "inception-2015-12-05.tgz" in scorer.skipped["inception"]
    assert scorer.warnings(10) == []
    with pytest.raises(UserError, match="no feature network to score with: no Inception"):
        evaluator.Evaluator.for_run(_evaluation(data_dir=shapes_data_dir, dataset="blobs3"),
                                    (16, 16, 1))


@pytest.mark.slow
def test_train_classifier_command_and_its_bad_input(shapes_data_dir, shapes_classifier, capsys):
    code, out, err = run_in_process(eval_cli.run, "dcgan-eval", [
        f"--data_dir={shapes_data_dir}", "--dataset=shapes3", "train-classifier"], capsys)
    assert code == 0, err[-2000:]
    sha256 = shapes_classifier[1]["sha256"]  # cached by the fixture: found, not retrained
    assert f"shapes3 classifier {sha256} at 16x16x1: test accuracy" in out
    for flags, message in [
        (["--dataset=blobs3"], "dcgan-eval: error: --dataset=blobs3 has no class label, so no "
                               "classifier can be trained on it; use a labelled dataset"),
        (["--dataset=shapes3", "--classifier_image_size=4"],
         "dcgan-eval: error: 4x4 images are too small for the classifier (it pools twice: at "
         "least 8x8)"),
    ]:
        before = sorted(os.listdir(os.path.join(shapes_data_dir, "dcgan_eval")))
        code, _, err = run_in_process(eval_cli.run, "dcgan-eval", [
            f"--data_dir={shapes_data_dir}", *flags, "train-classifier"], capsys)
        assert code == 2
        assert err.strip().splitlines()[-1].startswith(message), err
        assert sorted(os.listdir(os.path.join(shapes_data_dir, "dcgan_eval"))) == before
