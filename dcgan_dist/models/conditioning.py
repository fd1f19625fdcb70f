"""Class conditioning for both architectures (--conditional): what the generator and the
discriminator learn per class, and how an architecture's layers become conditional models.

- `ClassEmbedding`: a learned vector per class.
- `ConditionalBatchNorm`: batch norm whose scale and offset are looked up per class
  ("categorical conditional BN", Miyato & Koyama 2018; conditional BN, de Vries et al. 2017).
- `build_generator_model(layers, noise_dim, num_classes)`: an architecture's generator layers
  as a model.
  Unconditional (num_classes 0): the same `keras.Sequential` the architectures always built,
  so unconditional runs keep their variables and checkpoints. Conditional: a functional model
  of `[z, labels]` that joins a class embedding to z and hands the labels to every
  `ConditionalBatchNorm` (`build_batch_norm` picks the kind).
- `ProjectionDiscriminator`: an architecture's discriminator plus the projection term of
  Miyato & Koyama 2018 ("cGANs with Projection Discriminator", arXiv:1802.05637):
  D(x, y) = logit(phi(x)) + <embed(y), phi(x)>, phi being the features the logit reads.

Embeddings are one-hot products rather than gathers: their gradients are dense tensors, not
IndexedSlices, so the all-reduce, the fp16 overflow check and XLA treat them like any other
weight, and the summation order (the keystone's float64 equality) does not depend on which
classes a replica's slice happens to hold.
"""

import keras
import tensorflow as tf

from dcgan_dist.models.layers import BatchNormalization


def _one_hot(labels, num_classes, dtype):
    return tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=dtype)


class ClassEmbedding(keras.layers.Layer):
    """labels [N] (int) -> [N, dim]: row `label` of a learned [num_classes, dim] table."""

    def __init__(self, num_classes, dim, embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.dim = num_classes, dim
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.num_classes, self.dim), name="embeddings",
                                          initializer=self.embeddings_initializer)

    def call(self, labels):
        return tf.matmul(_one_hot(labels, self.num_classes, self.compute_dtype),
                         tf.cast(self.embeddings, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:1]) + (self.dim,)

    def get_config(self):  # keras.models.clone_model (the EMA generator) rebuilds from it
        return {**super().get_config(), "num_classes": self.num_classes, "dim": self.dim,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer)}


class ConditionalBatchNorm(keras.layers.Layer):
    """Batch norm without its own scale and offset, then gamma[y] * x + beta[y].

    `call(x, labels, training)`; x of rank 2 ([N, C]) or 4 ([N, H, W, C]). The statistics
    are batch norm's (over the replica's slice, or the global batch with `synchronized`);
    gamma starts at `gamma_initializer` (an architecture's own BN scale init), beta at 0, for
    every class alike, so a conditional model starts as its unconditional one does.
    """

    def __init__(self, num_classes, synchronized=False, gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.synchronized = num_classes, synchronized
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.norm = BatchNormalization(center=False, scale=False, synchronized=synchronized)

    def build(self, x_shape, labels_shape=None):  # names as in call(): Keras matches them
        channels = x_shape[-1]
        self.norm.build(x_shape)
        self.gamma = self.add_weight(shape=(self.num_classes, channels), name="gamma",
                                     initializer=self.gamma_initializer)
        self.beta = self.add_weight(shape=(self.num_classes, channels), name="beta",
                                    initializer="zeros")

    def call(self, x, labels, training=None):
        x = self.norm(x, training=training)
        one_hot = _one_hot(labels, self.num_classes, x.dtype)
        shape = [-1] + [1] * (len(x.shape) - 2) + [x.shape[-1]]  # broadcast over H and W
        gamma = tf.reshape(tf.matmul(one_hot, tf.cast(self.gamma, x.dtype)), shape)
        beta = tf.reshape(tf.matmul(one_hot, tf.cast(self.beta, x.dtype)), shape)
        return x * gamma + beta

    def compute_output_shape(self, x_shape, labels_shape=None):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "synchronized": self.synchronized,
                "gamma_initializer": keras.initializers.serialize(self.gamma_initializer)}


def build_batch_norm(num_classes, synchronized, **kwargs):
    """Batch norm (`layers.BatchNormalization`, Keras' through the fused kernel) for an
    unconditional model, ConditionalBatchNorm otherwise (`gamma_initializer` reaches either)."""
    if not num_classes:
        return BatchNormalization(synchronized=synchronized, **kwargs)
    return ConditionalBatchNorm(num_classes, synchronized=synchronized, **kwargs)


def build_generator_model(layers, noise_dim, num_classes):
    """The model of an architecture's generator `layers` (everything after the input).

    Unconditional: `keras.Sequential([Input(noise_dim), *layers])`, called as generator(z).
    Conditional: generator([z, labels]) with labels int32 [N]; the first layer reads z joined
    to a learned class embedding as wide as z and drawn like it, from N(0, 1) (so neither
    dominates its input from the start), and every ConditionalBatchNorm also reads the labels.
    """
    if not num_classes:
        return keras.Sequential([keras.Input(shape=(noise_dim,)), *layers], name="generator")
    z = keras.Input(shape=(noise_dim,), name="z")
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    embedding = ClassEmbedding(num_classes, noise_dim, keras.initializers.RandomNormal(0, 1),
                               name="class_embedding")(labels)
    x = keras.layers.Concatenate()([z, embedding])
    for layer in layers:
        x = layer(x, labels) if isinstance(layer, ConditionalBatchNorm) else layer(x)
    return keras.Model([z, labels], x, name="generator")


class ProjectionDiscriminator(keras.Model):
    """`base` (an architecture's discriminator, with `features` and `logits`) plus the
    projection term: call(images, labels, training, dropout_seed) -> float32 logits [N, 1].

    The projection is computed in float32 like the logit: under mixed precision the inner
    product sums as many terms as phi has features.
    """

    def __init__(self, base, num_classes, embeddings_initializer, **kwargs):
        super().__init__(name="discriminator", **kwargs)
        self.base = base
        self.num_classes = num_classes
        logits = getattr(base.logits, "layer", base.logits)  # inside --d_spectral_norm's wrapper
        self.projection = ClassEmbedding(num_classes, logits.kernel.shape[0],
                                         embeddings_initializer, dtype="float32",
                                         name="projection")

    def call(self, images, labels, training=False, dropout_seed=None):
        features = self.base.features(images, training=training, dropout_seed=dropout_seed)
        features32 = tf.cast(features, tf.float32)
        projection = tf.reduce_sum(self.projection(labels) * features32, axis=1, keepdims=True)
        return self.base.logits(features) + projection


def build_projection_discriminator(base, image_shape, num_classes, embeddings_initializer):
    """`base` (built) wrapped in the projection, with every weight created."""
    model = ProjectionDiscriminator(base, num_classes, embeddings_initializer)
    model(tf.zeros((1,) + tuple(image_shape)), tf.zeros((1,), tf.int32))
    return model
