"""A classifier the package trains itself, for any labelled TFDS dataset, as a feature network.

TF-GAN's MNIST metrics (classifier score, Fréchet classifier distance) generalised: a small
CNN trained at the run's image size on the dataset's own images (resized to it), cached
beside the data and named by the hash of its weights. Numbers from different classifiers
are not comparable, so the hash travels with every report, and every report carries
real-data reference values from the same classifier.

  DATA_DIR/dcgan_eval/{dataset}_{H}x{W}x{C}_classifier.json          accuracy, hash, file
  DATA_DIR/dcgan_eval/{dataset}_{H}x{W}x{C}_classifier_{hash}.weights.h5
"""

import hashlib
import json
import os
import tempfile

from absl import logging
import keras
import tensorflow as tf

from dcgan_dist.runtime import streams
from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import reals
from dcgan_dist.evaluation.networks import FeatureNetwork, NetworkUnavailable

FEATURES_LAYER = "features"
MIN_IMAGE_SIZE = 8  # two 2x poolings leave a 2x2 map
METRIC_NAMES = {"frechet": "frechet_distance", "kernel": "kernel_distance",
                "kernel_se": "kernel_distance_se", "precision": "classifier_precision",
                "recall": "classifier_recall", "density": "classifier_density",
                "coverage": "classifier_coverage", "intra_frechet": "classifier_intra_frechet"}
# Classifiers trained before this module existed: MNIST at 28 px, same architecture.
_LEGACY = {("mnist", (28, 28, 1)): "mnist_classifier.weights.h5"}


def build_classifier(image_shape, num_classes, seed=0):
    """A small CNN (99% on MNIST in four epochs); its 128-unit layer gives the features.

    Its initializers and dropout are seeded from the CLASSIFIER stream, not Keras' global seed:
    a classifier trained in the middle of a run (the first periodic evaluation) reseeds
    nothing the run uses.
    """
    base = streams.python_seed(seed, streams.CLASSIFIER)

    def weights(i):  # float32 whatever the training policy: scores must not depend on it
        return dict(kernel_initializer=keras.initializers.GlorotUniform(seed=base + i),
                    dtype="float32")

    return keras.Sequential([
        keras.Input(image_shape),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", **weights(0)),
        keras.layers.MaxPooling2D(dtype="float32"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", **weights(1)),
        keras.layers.MaxPooling2D(dtype="float32"),
        keras.layers.Flatten(dtype="float32"),
        keras.layers.Dropout(0.3, seed=base + 2, dtype="float32"),
        keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER, **weights(3)),
        keras.layers.Dense(num_classes, **weights(4)),
    ], name="eval_classifier")


def check_trainable(dataset, info, image_shape):
    """UserError unless a classifier can be trained on `dataset` for `image_shape` images."""
    if info.label_key is None:
        raise UserError(f"--dataset={dataset} has no class label, so no classifier can be "
                        "trained on it; use a labelled dataset (image + ClassLabel, e.g. mnist, "
                        "fashion_mnist, cifar10) or Inception metrics (--inception_path)")
    height, width, channels = image_shape
    if min(height, width) < MIN_IMAGE_SIZE:
        raise UserError(f"{height}x{width} images are too small for the classifier (it pools "
                        f"twice: at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}); score this run "
                        "with --inception_path")
    if channels != info.source_shape[-1]:
        raise UserError(f"the run's images have {channels} channels but {dataset}'s have "
                        f"{info.source_shape[-1]}; a {dataset} classifier cannot take them")


def cache_name(dataset, image_shape):
    return f"{dataset}_{'x'.join(map(str, image_shape))}_classifier"


def train_classifier(data_dir, dataset, image_shape, epochs=4, seed=0):
    """Trains a classifier at `image_shape` on the train split; returns (model, accuracy)."""
    info = data_info.read_prepared(dataset, data_dir)
    check_trainable(dataset, info, image_shape)
    model = build_classifier(image_shape, info.num_classes, seed)
    train = reals.batches(data_dir, dataset, "train", image_shape, batch_size=128, labels=True,
                          shuffle_seed=streams.python_seed(seed, streams.CLASSIFIER, 1))
    # Cosine decay to zero: the last epoch settles at a lower loss than a constant rate.
    decay_steps = epochs * -(-info.splits["train"] // 128)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, decay_steps)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train, epochs=epochs, verbose=2)
    test_split = "test" if "test" in info.splits else "train"
    _, accuracy = model.evaluate(reals.batches(data_dir, dataset, test_split, image_shape,
                                               labels=True), verbose=0)
    return model, float(accuracy)


def save_classifier(model, accuracy, data_dir, dataset):
    """Saves the weights under their hash and an index {accuracy, sha256, file} beside them."""
    image_shape = tuple(model.input_shape[1:])
    name = cache_name(dataset, image_shape)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "w.weights.h5")
        model.save_weights(local)
        sha256 = _hash(local)
        tf.io.gfile.makedirs(f"{data_dir}/dcgan_eval")
        weights = f"{name}_{sha256}.weights.h5"
        tf.io.gfile.copy(local, f"{data_dir}/dcgan_eval/{weights}", overwrite=True)
    info = {"accuracy": accuracy, "sha256": sha256, "weights": weights,
            "num_classes": int(model.output_shape[-1]), "image_shape": list(image_shape)}
    with tf.io.gfile.GFile(f"{data_dir}/dcgan_eval/{name}.json", "w") as f:
        f.write(json.dumps(info))
    return info


def load_classifier(data_dir, dataset, image_shape):
    """(model, info) of the cached classifier for this dataset and size, or (None, None)."""
    image_shape = tuple(image_shape)
    index = f"{data_dir}/dcgan_eval/{cache_name(dataset, image_shape)}.json"
    legacy = _LEGACY.get((dataset, image_shape))
    if tf.io.gfile.exists(index):
        with tf.io.gfile.GFile(index) as f:
            info = json.loads(f.read())
        path = f"{data_dir}/dcgan_eval/{info['weights']}"
    elif legacy and tf.io.gfile.exists(f"{data_dir}/dcgan_eval/{legacy}.json"):
        path = f"{data_dir}/dcgan_eval/{legacy}"
        with tf.io.gfile.GFile(path + ".json") as f:
            info = dict(json.loads(f.read()), num_classes=10)
    else:
        return None, None
    model = build_classifier(image_shape, info["num_classes"])
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "w.weights.h5")
        tf.io.gfile.copy(path, local)
        model.load_weights(local)
        info["sha256"] = _hash(local)  # what was loaded, not what the index claims
    return model, info


def _hash(path):
    with tf.io.gfile.GFile(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def get_classifier(data_dir, dataset, image_shape):
    """The cached classifier, training (and caching) it first if needed."""
    model, info = load_classifier(data_dir, dataset, image_shape)
    if model is None:
        logging.info("Training the %s classifier at %s (once; cached in %s/dcgan_eval)",
                     dataset, "x".join(map(str, image_shape)), data_dir)
        model, accuracy = train_classifier(data_dir, dataset, image_shape)
        info = save_classifier(model, accuracy, data_dir, dataset)
    return model, info


def as_feature_network(model, info, dataset):
    """The classifier as a FeatureNetwork: 128-d features and softmax probabilities.

    Images of another size are resized to the classifier's input (MNIST runs at 32 or
    64 px scored by a 28 px classifier, for instance).
    """
    input_shape = tuple(model.input_shape[1:])
    both = keras.Model(model.inputs, [model.get_layer(FEATURES_LAYER).output, model.outputs[0]])

    def features_fn(images):
        images = reals.resize(tf.constant(images, tf.float32), input_shape)
        features, logits = both(images, training=False)
        return features.numpy(), tf.nn.softmax(logits).numpy()

    def check_images(image_shape):
        if image_shape[-1] != input_shape[-1] or min(image_shape[:2]) < MIN_IMAGE_SIZE:
            raise UserError(f"the classifier {info['sha256']} takes {input_shape[-1]}-channel "
                            f"images of at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} px, not "
                            f"{'x'.join(map(str, image_shape))}; score this run with "
                            "--inception_path")

    description = (f"{dataset} classifier at {'x'.join(map(str, input_shape))} "
                   f"(test accuracy {info.get('accuracy', float('nan')):.4f})")
    return FeatureNetwork(name="classifier", sha256=info["sha256"], description=description,
                          features_fn=features_fn, metric_names=METRIC_NAMES,
                          check_images=check_images, info=info)


def load_network(*, data_dir=None, dataset=None, image_shape=None, classifier_image_size=0,
                 **unused):
    """The classifier for the dataset, trained on first use; NetworkUnavailable for an
    unlabelled dataset or without --data_dir (then Inception metrics may still run).

    Its input is the run's image size, or `classifier_image_size` pixels square (a 64 px
    MNIST run scored by the 28 px classifier compares with 28 px runs); the run's images
    are resized to it.
    """
    del unused
    if not data_dir:
        raise NetworkUnavailable("no classifier: it is trained on and cached beside the data; "
                                 "pass --data_dir")
    info = data_info.read_prepared(dataset, data_dir)
    if info.label_key is None:
        raise NetworkUnavailable(f"no classifier: {dataset} has no class label")
    size = classifier_image_size
    input_shape = (size, size, image_shape[-1]) if size else tuple(image_shape)
    check_trainable(dataset, info, input_shape)
    model, classifier_info = get_classifier(data_dir, dataset, input_shape)
    network = as_feature_network(model, classifier_info, dataset)
    network.check_images(image_shape)
    return network
