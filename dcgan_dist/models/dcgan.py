"""--architecture=dcgan: Radford, Metz and Chintala 2015 (arXiv:1511.06434), 32 to 256 px.

As in the paper and its code (Newmu/dcgan_code), layer for layer at 64 px with
--g_filters=128 (pytorch/examples `dcgan` uses 64):
- Generator: z -> Dense to a 4x4x(8*g_filters) map, BN, ReLU; stride-2 transposed convs that
  halve the channels, each with BN and ReLU; a last stride-2 transposed conv to the image's
  channels with tanh and no BN. log2(side / 4) upsamplings: 3 at 32 px, 4 at 64, 6 at 256.
- Discriminator, the mirror: stride-2 convs from d_filters, doubling, LeakyReLU(0.2), BN on
  every one but the first; the 4x4 map is flattened into one logit. No pooling, no hidden
  fully connected layer.
- Weights from N(0, 0.02); BN scales from N(1, 0.02) (the paper's code, and pytorch's
  `weights_init`). Layers followed by BN have no bias (BN's offset is one); the others do.

The stride-2 layers are Keras' Conv2D and Conv2DTranspose, computed on a CPU in the form
models.strided measured fastest for their shape (the same variables and function).

Kernel size 4, not the paper's 5: a 4-wide kernel at stride 2 covers every output pixel of
a transposed conv with the same number of taps (4 / 2 = 2 each way), while a 5-wide one
alternates 3 and 2 taps and starts from a checkerboard imbalance (Odena et al. 2016,
"Deconvolution and Checkerboard Artifacts"); pytorch/examples and most ports use 4.

Choices the paper does not make for us:
- Dropout: --d_dropout after each discriminator block, stateless and seeded per replica and
  step like the tutorial's; the paper has none, and the dcgan configs set it to 0.
- --sync_batchnorm: both networks' BN normalise over the global batch. Without it each
  replica normalises its own slice. Real and fake batches go through the discriminator in
  separate calls, so BN normalises them separately, as in the paper's code.
- --d_spectral_norm: every discriminator conv and the logit layer are spectrally normalised
  (Miyato et al. 2018) and the discriminator has no BN, as in the paper's "standard CNN" and
  compare_gan, where the discriminator's normalisation is one or the other: BN divides by the
  batch's standard deviation, which undoes the Lipschitz bound spectral norm gives, and makes
  each logit (and so R1 and the gradient penalty) depend on the whole batch.
- R1 (--d_r1_gamma): the step takes the gradient of the real logits through the
  discriminator in training mode, the same call that makes the loss's real logits. With BN
  in training mode an example's logit depends on its whole batch (slice, or global batch
  with --sync_batchnorm), so the penalty is that of the batch-normalised function D is
  trained as, not of its inference mode; it needs no second forward pass.
"""

import keras

from dcgan_dist.errors import UserError
from dcgan_dist.models.conditioning import (build_batch_norm, build_generator_model,
                                            build_projection_discriminator)
from dcgan_dist.models.layers import (initialise_spectral_norms, layer_seeds, spectral_norm_if,
                                      stateless_dropout)
from dcgan_dist.models.strided import (Conv2D as StridedConv2D,
                                       Conv2DTranspose as StridedConv2DTranspose)

SIZES = (32, 64, 128, 256)
KERNEL = 4


def build(model, image_shape, num_classes=0):
    """The dcgan (generator, discriminator) for `image_shape`, widths from `model` (the
    config's model section); conditioned on `num_classes` classes when it is not 0
    (models.conditioning)."""
    height, width, _ = image_shape
    if height != width or height not in SIZES:
        raise UserError(f"--architecture=dcgan at {height}x{width} is not supported: use "
                        f"--image_size={', '.join(map(str, SIZES[:-1]))} or {SIZES[-1]}")
    upsamplings = SIZES.index(height) + 3
    if model.g_filters <= 0 or 8 * model.g_filters % 2 ** (upsamplings - 1):
        step = max(1, 2 ** (upsamplings - 4))
        raise UserError(f"--g_filters={model.g_filters} does not fit dcgan at {height} px: "
                        f"its 8*g_filters channels are halved {upsamplings - 1} times; use a "
                        f"positive multiple of {step}")
    return (build_generator(model.noise_dim, image_shape, model.sync_batchnorm,
                            model.g_filters, num_classes),
            build_discriminator(image_shape, model.sync_batchnorm, model.d_dropout,
                                model.d_filters, model.d_spectral_norm, num_classes))


def _weights():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _batch_norm(sync_batchnorm, num_classes=0):
    return build_batch_norm(
        num_classes, synchronized=sync_batchnorm,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))


def build_generator(noise_dim, image_shape, sync_batchnorm, filters, num_classes=0):
    """z [N, noise_dim] -> images [N, *image_shape] in [-1, 1] (float32 under mixed policies).

    With `num_classes`: [z, labels] -> images, z joined to a class embedding and every BN
    with per-class scales and offsets (conditional BN, models.conditioning).
    """
    upsamplings = SIZES.index(image_shape[0]) + 3
    channels = 8 * filters
    layers = [keras.layers.Dense(4 * 4 * channels, use_bias=False, kernel_initializer=_weights()),
              keras.layers.Reshape((4, 4, channels)),  # BN per channel, not per unit
              _batch_norm(sync_batchnorm, num_classes), keras.layers.ReLU()]
    for _ in range(upsamplings - 1):
        channels //= 2
        layers += [StridedConv2DTranspose(channels, KERNEL, strides=2, padding="same",
                                          use_bias=False, kernel_initializer=_weights()),
                   _batch_norm(sync_batchnorm, num_classes), keras.layers.ReLU()]
    layers.append(StridedConv2DTranspose(
        image_shape[-1], KERNEL, strides=2, padding="same", activation="tanh",
        kernel_initializer=_weights(), dtype="float32"))
    return build_generator_model(layers, noise_dim, num_classes)


class Discriminator(keras.Model):
    """Images -> float32 logits [N, 1]; `call(images, training, dropout_seed)` as in models."""

    def __init__(self, image_shape, sync_batchnorm, dropout, filters, spectral_norm, **kwargs):
        super().__init__(name="discriminator", **kwargs)
        self.dropout = dropout
        self.num_blocks = SIZES.index(image_shape[0]) + 3  # down to 4x4
        self.batch_norm = not spectral_norm  # one or the other (module docstring)
        # One attribute per layer, not a list: tf.train.Checkpoint does not see into Keras 3's
        # tracked lists, and BN's moving statistics (in no optimizer) would not be saved.
        for i in range(self.num_blocks):
            setattr(self, f"conv{i}", spectral_norm_if(spectral_norm, StridedConv2D(
                filters * 2 ** i, KERNEL, strides=2, padding="same",
                use_bias=i == 0 or not self.batch_norm, kernel_initializer=_weights())))
            if i and self.batch_norm:
                setattr(self, f"norm{i}", _batch_norm(sync_batchnorm))
        self.act = keras.layers.LeakyReLU(negative_slope=0.2)
        self.flatten = keras.layers.Flatten()
        self.logits = spectral_norm_if(spectral_norm, keras.layers.Dense(
            1, kernel_initializer=_weights(), dtype="float32"))

    @property
    def convs(self):
        return [getattr(self, f"conv{i}") for i in range(self.num_blocks)]

    @property
    def norms(self):  # none after the first conv, none with spectral norm
        return [getattr(self, f"norm{i}") for i in range(1, self.num_blocks) if self.batch_norm]

    def call(self, images, training=False, dropout_seed=None):
        return self.logits(self.features(images, training, dropout_seed))

    def features(self, images, training=False, dropout_seed=None):
        """The flattened 4x4 map: what the logit reads (and a projection projects onto)."""
        seeds = layer_seeds(dropout_seed, self.num_blocks)
        x = images
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i and self.batch_norm:
                x = getattr(self, f"norm{i}")(x, training=training)
            x = stateless_dropout(self.act(x), self.dropout, training, seeds[i])
        return self.flatten(x)


def build_discriminator(image_shape, sync_batchnorm, dropout, filters, spectral_norm=False,
                        num_classes=0):
    """Builds the discriminator and creates its weights; with `num_classes`, a projection
    discriminator around it (models.conditioning)."""
    model = Discriminator(image_shape, sync_batchnorm, dropout, filters, spectral_norm)
    model(keras.ops.zeros((1,) + tuple(image_shape)))
    initialise_spectral_norms(model)
    if num_classes:  # the projection vectors start like the logit's kernel: N(0, 0.02)
        return build_projection_discriminator(model, image_shape, num_classes,
                                                           _weights())
    return model
