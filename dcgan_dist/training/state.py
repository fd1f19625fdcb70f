"""Train state: models, optimizers, the step counter, the fixed sample noise and the generator's
moving average; everything a checkpoint holds (`rundir.checkpoints` saves and restores it).

    state = build_state(config.model, config.objective, config.augment, strategy, image_shape,
                        precision, num_classes)
"""

import dataclasses

import keras
import tensorflow as tf

from dcgan_dist import models
from dcgan_dist.runtime import streams
from dcgan_dist.training import augment

NUM_SAMPLES = 16  # the fixed noise of the sample grids (rundir.grids lays them out)


@dataclasses.dataclass
class TrainState:
    generator: keras.Model
    discriminator: keras.Model
    g_opt: keras.optimizers.Optimizer
    d_opt: keras.optimizers.Optimizer
    step: tf.Variable
    sample_noise: tf.Variable
    precision: str
    g_ema: keras.Model | None = None  # moving average of the generator's weights
    num_classes: int = 0  # --conditional: the classes the models take; 0 = unconditional
    ada: augment.AdaController | None = None  # --augment=ada's p and its statistic

    @property
    def loss_scaling(self):
        return self.precision == "mixed_float16"

    @property
    def sampling_generator(self):
        """The generator for samples and evaluation: the EMA one when there is one."""
        return self.g_ema if self.g_ema is not None else self.generator

    def checkpoint(self):
        extra = {} if self.g_ema is None else {"g_ema": self.g_ema}
        if self.ada is not None:  # p resumes where it was: exact resume
            extra.update(self.ada.checkpoint_items())
        return tf.train.Checkpoint(
            generator=self.generator, discriminator=self.discriminator, g_opt=self.g_opt,
            d_opt=self.d_opt, step=self.step, sample_noise=self.sample_noise, **extra)


def ema_decay(decay, step):
    """The decay for the update after `step` steps: min(decay, (1 + step) / (10 + step)).

    tf.train.ExponentialMovingAverage's warm-up: a constant 0.999 would keep 22% of the
    random initial weights after 1,500 steps, and the first quarter of a short run would
    show blurs; warmed up, the average follows the generator until it has history to average.
    """
    step = tf.cast(step, tf.float32)
    return tf.minimum(tf.cast(decay, tf.float32), (1.0 + step) / (10.0 + step))


def update_ema(g_ema, generator, decay):
    """g_ema <- decay * g_ema + (1 - decay) * generator, for every weight (BN statistics too).

    Called in cross-replica context after each step: the generator's trainable weights are
    equal on all replicas after the all-reduce, so one update serves them all (batch-norm
    moving statistics are per replica without --sync_batchnorm; this takes the first's).
    """
    for ema_var, var in zip(g_ema.weights, generator.weights):
        d = tf.cast(decay, ema_var.dtype)
        ema_var.assign(d * ema_var + (1.0 - d) * tf.cast(var, ema_var.dtype))


def build_state(model, objective, augment_config, strategy, image_shape, precision,
                num_classes=0):
    """Builds models and optimizers inside `strategy.scope()`, all variables created.

    Args:
      model, objective, augment_config: the config's model, objective and augment sections.
      strategy: the run's tf.distribute strategy.
      image_shape: (height, width, channels) of the images the models make and read.
      precision: the Keras dtype policy (`runtime.Placement.precision`).
      num_classes: the classes the models take (--conditional; 0 = unconditional).
    """
    keras.mixed_precision.set_dtype_policy(precision)
    # Keras initializers draw from its global seed: set once, here, before any layer exists.
    keras.utils.set_random_seed(streams.python_seed(objective.seed, streams.WEIGHTS))
    with strategy.scope():
        generator, discriminator = models.build(model, image_shape, num_classes)
        g_opt = keras.optimizers.Adam(objective.g_lr, beta_1=objective.adam_beta1)
        d_opt = keras.optimizers.Adam(objective.d_lr, beta_1=objective.adam_beta1)
        if precision == "mixed_float16":
            g_opt = keras.optimizers.LossScaleOptimizer(g_opt)
            d_opt = keras.optimizers.LossScaleOptimizer(d_opt)
        # An unbuilt Adam would create its slots inside the first replica step, which fails
        # under several replicas; build both now.
        g_opt.build(generator.trainable_variables)
        d_opt.build(discriminator.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        sample_noise = tf.Variable(
            tf.random.stateless_normal([NUM_SAMPLES, objective.noise_dim],
                                       seed=streams.keyed(objective.seed, streams.SAMPLE_NOISE)),
            trainable=False, name="sample_noise")
        g_ema = None
        if objective.g_ema_decay > 0:
            g_ema = keras.models.clone_model(generator)  # same layers, new variables
            g_ema.set_weights(generator.get_weights())
        ada = (augment.AdaController(augment_config) if augment_config.augment == "ada"
               else None)
    models.log_summary(generator, (objective.noise_dim,), bool(num_classes))
    models.log_summary(discriminator, image_shape, bool(num_classes))
    return TrainState(generator, discriminator, g_opt, d_opt, step, sample_noise, precision,
                      g_ema, num_classes, ada)
