"""--architecture=tutorial: the TensorFlow DCGAN tutorial's generator and discriminator.

Both follow https://www.tensorflow.org/tutorials/generative/dcgan layer for layer (for
28x28x1 MNIST at the default widths: 2,330,944 and 212,865 parameters; `filters` narrows
them, which is most of what makes configs/mnist_fast.cfg fast on a CPU). Two departures,
both for distribution: the layers that produce outputs are float32 under mixed policies
(tanh images and logits keep full precision for the loss), and the discriminator's dropout
is stateless and takes a seed per call, because Keras' own random ops drew the same mask on
every replica.
"""

import functools

import keras
import tensorflow as tf

from dcgan_dist.errors import UserError
from dcgan_dist.models.conditioning import (build_batch_norm, build_generator_model,
                                            build_projection_discriminator)
from dcgan_dist.models.layers import (initialise_spectral_norms, layer_seeds, spectral_norm_if,
                                      stateless_dropout)


def build(model, image_shape, num_classes=0):
    """The tutorial's (generator, discriminator) for `image_shape`, widths from `model` (the
    config's model section); conditioned on `num_classes` classes when it is not 0
    (models.conditioning)."""
    check_image_shape(image_shape)
    if model.g_filters < 4 or model.g_filters % 4:
        raise UserError(f"--g_filters={model.g_filters} must be a positive multiple of 4 for "
                        "--architecture=tutorial: its generator halves it twice")
    return (build_generator(model.noise_dim, image_shape, model.sync_batchnorm,
                            model.g_filters, num_classes),
            build_discriminator(image_shape, model.d_dropout, model.d_filters,
                                model.d_dense_units, model.d_spectral_norm, num_classes))


def check_image_shape(image_shape):
    """The generator upsamples a (side/4)x(side/4) map twice by 2: square sides divisible by 4."""
    height, width, _ = image_shape
    if height != width or height % 4:
        raise UserError(f"{height}x{width} images do not fit --architecture=tutorial: its "
                        "generator upsamples a side/4 map twice, so the side must be square and "
                        "divisible by 4; set --image_size to one such as 28, 32 or 64")


def build_generator(noise_dim, image_shape, sync_batchnorm, filters, num_classes=0):
    """The tutorial's generator: z -> images in [-1, 1], no biases, BN + LeakyReLU between.

    `filters` is the depth of the first (side/4)^2 map; each upsampling block halves it
    (the tutorial: 256 -> 128 -> 64). With `num_classes`, it takes [z, labels]: z joined to
    a class embedding, and per-class batch-norm scales and offsets (models.conditioning).
    """
    check_image_shape(image_shape)
    base = image_shape[0] // 4

    def batch_norm():
        return build_batch_norm(num_classes, synchronized=sync_batchnorm)

    return build_generator_model([
        keras.layers.Dense(base * base * filters, use_bias=False),
        batch_norm(),
        keras.layers.LeakyReLU(),
        keras.layers.Reshape((base, base, filters)),
        keras.layers.Conv2DTranspose(filters // 2, 5, strides=1, padding="same", use_bias=False),
        batch_norm(),
        keras.layers.LeakyReLU(),
        keras.layers.Conv2DTranspose(filters // 4, 5, strides=2, padding="same", use_bias=False),
        batch_norm(),
        keras.layers.LeakyReLU(),
        keras.layers.Conv2DTranspose(image_shape[-1], 5, strides=2, padding="same",
                                     use_bias=False, activation="tanh", dtype="float32"),
    ], noise_dim, num_classes)


class Discriminator(keras.Model):
    """The tutorial's discriminator: images -> one logit per image (no sigmoid).

    `dense_units` adds a hidden LeakyReLU layer before the logit (the tutorial has none): the
    convs see 13x13 patches and the logit is linear in them, so without it the discriminator
    cannot judge a digit's shape as a whole.

    `spectral_norm` wraps every conv and dense layer in `layers.SpectralNormalization`
    (Miyato et al. 2018); without it the model and its checkpoint are the tutorial's.

    `call(images, training, dropout_seed)`: with training=True and a rate above zero,
    dropout masks are a stateless function of `dropout_seed` (shape [2]), so each replica
    and each step draw their own masks and a run replays exactly.
    """

    def __init__(self, image_shape, dropout, filters, dense_units, spectral_norm, **kwargs):
        super().__init__(name="discriminator", **kwargs)
        self.dropout = dropout
        sn = functools.partial(spectral_norm_if, spectral_norm)
        self.conv1 = sn(keras.layers.Conv2D(filters, 5, strides=2, padding="same"))
        self.act1 = keras.layers.LeakyReLU()
        self.conv2 = sn(keras.layers.Conv2D(2 * filters, 5, strides=2, padding="same"))
        self.act2 = keras.layers.LeakyReLU()
        self.flatten = keras.layers.Flatten()
        self.dense = None
        if dense_units:
            self.dense = sn(keras.layers.Dense(dense_units))
            self.act3 = keras.layers.LeakyReLU()
        self.logits = sn(keras.layers.Dense(1, dtype="float32"))

    def call(self, images, training=False, dropout_seed=None):
        return self.logits(self.features(images, training, dropout_seed))

    def features(self, images, training=False, dropout_seed=None):
        """What the logit reads (and a projection discriminator projects onto)."""
        seeds = layer_seeds(dropout_seed, 2)
        x = stateless_dropout(self.act1(self.conv1(images)), self.dropout, training, seeds[0])
        x = stateless_dropout(self.act2(self.conv2(x)), self.dropout, training, seeds[1])
        x = self.flatten(x)
        if self.dense is not None:
            x = self.act3(self.dense(x))
        return x


def build_discriminator(image_shape, dropout, filters, dense_units, spectral_norm=False,
                        num_classes=0):
    """Builds the discriminator (`filters`, then twice as many) and creates its weights;
    with `num_classes`, a projection discriminator around it (models.conditioning)."""
    check_image_shape(image_shape)
    model = Discriminator(image_shape, dropout, filters, dense_units, spectral_norm)
    model(tf.zeros((1,) + tuple(image_shape)))
    initialise_spectral_norms(model)
    if num_classes:  # the projection vectors start like the logit's kernel (Glorot)
        return build_projection_discriminator(model, image_shape, num_classes,
                                                           "glorot_uniform")
    return model
