"""Train state: models, optimizers, step counter and fixed sample noise, with checkpoints."""

import dataclasses

from absl import logging
import keras
import tensorflow as tf

from dcgan_dist import UserError
from dcgan_dist import models, streams

NUM_SAMPLES = 16  # a 4x4 grid, as in the tutorial


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

    @property
    def loss_scaling(self):
        return self.precision == "mixed_float16"

    @property
    def sampling_generator(self):
        """The generator for samples and evaluation: the EMA one when there is one."""
        return self.g_ema if self.g_ema is not None else self.generator

    def checkpoint(self):
        extra = {} if self.g_ema is None else {"g_ema": self.g_ema}
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


def build_state(config, strategy, image_shape, precision):
    """Builds models and optimizers inside `strategy.scope()`, all variables created."""
    keras.mixed_precision.set_dtype_policy(precision)
    keras.utils.set_random_seed(config.seed)  # weight initialisation
    with strategy.scope():
        generator, discriminator = models.build(config, image_shape)
        g_opt = keras.optimizers.Adam(config.g_lr, beta_1=config.adam_beta1)
        d_opt = keras.optimizers.Adam(config.d_lr, beta_1=config.adam_beta1)
        if precision == "mixed_float16":
            g_opt = keras.optimizers.LossScaleOptimizer(g_opt)
            d_opt = keras.optimizers.LossScaleOptimizer(d_opt)
        # An unbuilt Adam would create its slots inside the first replica step, which fails
        # under several replicas; build both now.
        g_opt.build(generator.trainable_variables)
        d_opt.build(discriminator.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        sample_noise = tf.Variable(
            tf.random.stateless_normal([NUM_SAMPLES, config.noise_dim], seed=[config.seed, streams.SAMPLE_NOISE]),
            trainable=False, name="sample_noise")
        g_ema = None
        if config.g_ema_decay > 0:
            g_ema = keras.models.clone_model(generator)  # same layers, new variables
            g_ema.set_weights(generator.get_weights())
    models.log_summary(generator, (config.noise_dim,))
    models.log_summary(discriminator, image_shape)
    return TrainState(generator, discriminator, g_opt, d_opt, step, sample_noise, precision,
                      g_ema)


def make_checkpoint_manager(state, directory, max_to_keep):
    return tf.train.CheckpointManager(
        state.checkpoint(), directory, max_to_keep=max_to_keep, step_counter=state.step)


def kept_checkpoint(manager):
    """What a stopped run leaves to resume from, for error messages: never Python's None."""
    latest = manager.latest_checkpoint
    if latest is None:
        return "there is no checkpoint yet (a rerun starts from step 0)"
    return f"the last checkpoint {latest} is kept"


def restore_latest(state, manager):
    """Restores the newest readable checkpoint in `manager.directory`; returns (step, path),
    or (0, None) when there is none.

    A checkpoint of another model (other shapes) is refused without touching it; an
    unreadable newest checkpoint falls back to the previous good one, with a warning.
    """
    candidates = list(reversed(manager.checkpoints))
    if not candidates and tf.io.gfile.glob(f"{manager.directory}/ckpt-*.index"):
        raise UserError(f"{manager.directory} holds checkpoints but no readable 'checkpoint' "
                        "state file; restore it (or move the folder away to start over)")
    for i, path in enumerate(candidates):
        try:
            status = manager.checkpoint.restore(path)
            status.assert_existing_objects_matched()
        except (ValueError, AssertionError) as e:
            raise UserError(f"the checkpoint {path} belongs to a different model ({_first_line(e)}); "
                            "use another --workdir or the flags that trained it") from e
        except (tf.errors.OpError, IndexError) as e:  # truncated or corrupted files
            if i + 1 == len(candidates):
                raise UserError(f"no readable checkpoint in {manager.directory}: {path} is "
                                f"damaged ({_first_line(e)}); move it away to start over") from e
            logging.warning("Checkpoint %s is damaged (%s); falling back to %s", path,
                            _first_line(e), candidates[i + 1])
            continue
        return int(state.step.numpy()), path
    return 0, None


def _first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
