"""Is the GAN any good? Scores from an MNIST classifier the package trains itself.

TF-GAN's MNIST metrics (classifier score and Frechet classifier distance), StyleGAN's kernel
(KID) distance, and the class histogram, where mode collapse shows. No pretrained weights
can be downloaded here, and scores from different classifiers are not comparable, so the
classifier is trained once, cached beside the data, and named by the hash of its weights;
every report carries real-data reference values from the same classifier.
"""

import hashlib
import json
import os
import tempfile

from absl import logging
import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from dcgan_dist import UserError
from dcgan_dist import images, streams

FEATURES_LAYER = "features"


# --- metrics on arrays ------------------------------------------------------------------

def classifier_score(probs):
    """exp(E_x KL(p(y|x) || p(y))): 1 for one class or no confidence, 10 for ten sure classes."""
    probs = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    marginal = probs.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1))))


def frechet_distance(features_a, features_b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) of Gaussians fitted to two sets."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((S_a S_b)^1/2) = sum of sqrt(eigenvalues) of S_a^1/2 S_b S_a^1/2, which is symmetric
    # PSD, so eigh is exact and stable and numpy suffices (no scipy.linalg.sqrtm).
    vals, vecs = np.linalg.eigh(cov_a)
    sqrt_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sum(np.sqrt(np.clip(middle, 0, None)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def kernel_distance(features_a, features_b, num_subsets=50, subset_size=1000, seed=0):
    """KID: unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over random subsets.

    Returns (mean, standard error of the mean over subsets).
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    n = min(subset_size, len(a), len(b))
    dim = a.shape[1]
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(num_subsets):
        x, y = a[rng.choice(len(a), n, replace=False)], b[rng.choice(len(b), n, replace=False)]
        k_xx, k_yy = (x @ x.T / dim + 1) ** 3, (y @ y.T / dim + 1) ** 3
        k_xy = (x @ y.T / dim + 1) ** 3
        off_diagonal = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        estimates.append(off_diagonal - 2 * k_xy.mean())
    estimates = np.array(estimates)
    return float(estimates.mean()), float(estimates.std(ddof=1) / np.sqrt(len(estimates)))


def class_histogram(probs, num_classes=10):
    return np.bincount(np.argmax(probs, axis=1), minlength=num_classes).tolist()


# --- the classifier ---------------------------------------------------------------------

def build_classifier(image_shape=(28, 28, 1), num_classes=10):
    """A small CNN (99% on MNIST in four epochs); its 128-unit layer gives the features."""
    # float32 whatever the training policy: scores must not depend on the run's precision.
    return keras.Sequential([
        keras.Input(image_shape),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", dtype="float32"),
        keras.layers.MaxPooling2D(dtype="float32"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", dtype="float32"),
        keras.layers.MaxPooling2D(dtype="float32"),
        keras.layers.Flatten(dtype="float32"),
        keras.layers.Dropout(0.3, dtype="float32"),
        keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER, dtype="float32"),
        keras.layers.Dense(num_classes, dtype="float32"),
    ], name="eval_classifier")


def load_split(data_dir, split, dataset="mnist"):
    """(images in [-1, 1], labels) of a whole split, as numpy."""
    try:
        data = tfds.load(dataset, split=split, data_dir=data_dir, batch_size=-1, download=False)
    except Exception as e:  # noqa: BLE001 - TFDS raises many types for a missing dataset.
        raise UserError(f"no {dataset} in --data_dir={data_dir} ({type(e).__name__}); prepare it "
                        f"with: dcgan-data prepare mnist --data_dir={data_dir}") from e
    return images.scale_images(data["image"]).numpy(), data["label"].numpy()


def train_classifier(train, test, epochs=4, seed=0):
    """Trains the evaluation classifier; returns (model, test accuracy)."""
    keras.utils.set_random_seed(seed)
    model = build_classifier(train[0].shape[1:])
    # Cosine decay to zero: the last epoch settles at a lower loss than a constant rate.
    decay_steps = epochs * -(-len(train[0]) // 128)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, decay_steps)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train[0], train[1], batch_size=128, epochs=epochs, verbose=2)
    _, accuracy = model.evaluate(test[0], test[1], batch_size=1000, verbose=0)
    return model, float(accuracy)


def classifier_path(data_dir):
    return f"{data_dir}/dcgan_eval/mnist_classifier.weights.h5"


def save_classifier(model, accuracy, data_dir):
    """Saves weights and {accuracy, hash} beside the data (through gfile: gs:// works)."""
    path = classifier_path(data_dir)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "w.weights.h5")
        model.save_weights(local)
        tf.io.gfile.copy(local, path, overwrite=True)
    info = {"accuracy": accuracy, "sha256": _hash(path)}
    with tf.io.gfile.GFile(path + ".json", "w") as f:
        f.write(json.dumps(info))
    return info


def load_classifier(data_dir):
    """(model, info) of the cached classifier, or (None, None) when there is none."""
    path = classifier_path(data_dir)
    if not tf.io.gfile.exists(path + ".json"):
        return None, None
    with tf.io.gfile.GFile(path + ".json") as f:
        info = json.loads(f.read())
    model = build_classifier()
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "w.weights.h5")
        tf.io.gfile.copy(path, local)
        model.load_weights(local)
    info["sha256"] = _hash(path)
    return model, info


def _hash(path):
    with tf.io.gfile.GFile(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def get_classifier(data_dir):
    """The cached classifier, training (and caching) it first if needed."""
    model, info = load_classifier(data_dir)
    if model is None:
        logging.info("Training the evaluation classifier (once; cached in %s)",
                     classifier_path(data_dir))
        model, accuracy = train_classifier(load_split(data_dir, "train"),
                                           load_split(data_dir, "test"))
        info = save_classifier(model, accuracy, data_dir)
    return model, info


# --- scoring ----------------------------------------------------------------------------

class Evaluator:
    """Scores generated images against the test split with one classifier."""

    def __init__(self, data_dir, classifier=None, info=None):
        if classifier is None:
            classifier, info = get_classifier(data_dir)
        self.info = info or {}
        self.classifier = classifier
        self._features = keras.Model(classifier.inputs,
                                     [classifier.get_layer(FEATURES_LAYER).output,
                                      classifier.outputs[0]])
        self._test_features = self.features_and_probs(load_split(data_dir, "test")[0])[0]
        self._reference = None

    def features_and_probs(self, images):
        features, logits = self._features.predict(np.asarray(images, np.float32),
                                                  batch_size=1000, verbose=0)
        return features, tf.nn.softmax(logits).numpy()

    def score(self, images):
        """Metrics of images in [-1, 1] against the test split."""
        features, probs = self.features_and_probs(images)
        kid, kid_se = kernel_distance(features, self._test_features)
        return {"classifier_score": classifier_score(probs),
                "frechet_distance": frechet_distance(features, self._test_features),
                "kernel_distance": kid, "kernel_distance_se": kid_se,
                "class_histogram": class_histogram(probs)}

    def reference(self, data_dir, num_images):
        """The same metrics for real training images: what a perfect generator would get."""
        if self._reference is None:
            train_images, _ = load_split(data_dir, "train")
            rng = np.random.default_rng(0)
            self._reference = self.score(train_images[rng.choice(len(train_images), num_images,
                                                                  replace=False)])
        return self._reference


def generate(generator, num_images, noise_dim, seed=0, images_per_call=500):
    """num_images samples in [-1, 1] from fixed, seeded noise."""
    out = []
    for start in range(0, num_images, images_per_call):
        n = min(images_per_call, num_images - start)
        z = tf.random.stateless_normal([n, noise_dim], seed=[seed, streams.EVAL_NOISE + start])
        out.append(np.asarray(generator(z, training=False)))
    return np.concatenate(out)
