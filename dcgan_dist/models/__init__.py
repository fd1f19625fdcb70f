"""The architectures behind --architecture, and the contract the train step relies on.

    ARCHITECTURES = {"tutorial": tutorial.build, "dcgan": dcgan.build}

Each entry is `build(model, image_shape, num_classes=0) -> (generator, discriminator)`, where
`model` is the config's model section (architecture, widths, dropout, norms),
both with their weights created; a builder refuses image shapes it cannot make with a
UserError naming the sizes it can. A third architecture is one module and one entry here.
Layers the architectures share live in `layers`, the class conditioning (--conditional) in
`conditioning`. This package imports nothing of dcgan_dist but `errors`.

The contract:
- `generator(z, training)`: z of shape [N, model.noise_dim] -> images [N, *image_shape] in
  [-1, 1], float32 under every precision policy.
- `discriminator(images, training, dropout_seed)`: images -> float32 logits of shape [N, 1]
  (no sigmoid: the losses take logits). With training=True and dropout, the masks are a
  stateless function of `dropout_seed` (shape [2]), so each replica and step draws its own.
  Its `features(images, training, dropout_seed)` are what its `logits` layer reads.
- Conditional (num_classes > 0), labels int32 [N] in [0, num_classes):
  `generator([z, labels], training)` and `discriminator(images, labels, training,
  dropout_seed)`, otherwise as above.
- With --d_spectral_norm the discriminator holds `layers.SpectralNormalization` layers, whose
  power-iteration vectors the train step moves after every step
  (`layers.update_spectral_norms`); the forward pass changes no variable but BN statistics.
"""

from absl import logging
import keras

from dcgan_dist.models import dcgan, tutorial
from dcgan_dist.models.conditioning import ProjectionDiscriminator

ARCHITECTURES = {"tutorial": tutorial.build, "dcgan": dcgan.build}


def build(model, image_shape, num_classes=0):
    """The generator and discriminator of `model.architecture` (the config's model section)
    for `image_shape`, conditioned on `num_classes` classes (0: unconditional)."""
    return ARCHITECTURES[model.architecture](model, image_shape, num_classes)


def log_summary(model, input_shape, conditional=False):
    """Logs a model's parameter count and output shape (once, at start-up; with --verbose)."""
    inputs = keras.KerasTensor((None,) + tuple(input_shape))
    labels = keras.KerasTensor((None,), dtype="int32")
    if not conditional:
        output = model.compute_output_spec(inputs)
    elif isinstance(model, ProjectionDiscriminator):
        output = model.compute_output_spec(inputs, labels)
    else:
        output = model.compute_output_spec([inputs, labels])
    logging.debug("%s: %s parameters, output %s", model.name, f"{model.count_params():,}",
                 tuple(output.shape))
