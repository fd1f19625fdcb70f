"""Every random stream of a run, keyed in one place.

Each stream is a stateless function of the run's --seed and the keys that must make it
differ (step, replica, epoch, example), so a run replays exactly after a resume and does not
depend on how the global batch is split over replicas. The numbers are part of what a
checkpoint means: changing one changes every run that uses it.
"""

import tensorflow as tf

# Streams folded from [seed, 0] with `keyed` (philox, as XLA would otherwise pick another).
NOISE = 1          # z for the step's global batch; keys: step
DROPOUT_REAL = 2   # discriminator dropout on real images; keys: step, replica
DROPOUT_FAKE = 3   # discriminator dropout on generated images; keys: step, replica
FLIP = 4           # --random_flip of real images; keys: step (one draw for the global batch)
EPOCH_WINDOW = 5   # streaming source: the permutation of a window of records; keys: epoch, window

# Streams seeded as [seed, N] (older runs depend on these exact forms).
SYNTHETIC_IMAGES = 3   # --synthetic_data's fixed batch
EPOCH_ORDER = 5        # in-memory source: the permutation of epoch e, fold_in([seed, 5], e)
SAMPLE_NOISE = 7       # the fixed z of the sample grids
PERIODIC_EVAL_NOISE = 11  # evaluation during training: [seed, 11] folded with chunk, replica
EVAL_NOISE = 1000      # dcgan-eval, dcgan-generate, export: [seed, 1000 + first image index]


def keyed(seed, stream, *keys):
    """A stateless seed (shape [2], int64) for `stream` under `keys`."""
    out = tf.constant([seed, 0], dtype=tf.int64)
    for key in (stream,) + keys:
        out = tf.random.experimental.stateless_fold_in(out, tf.cast(key, tf.int64), alg="philox")
    return out


def epoch_order_seed(seed, epoch):
    return tf.random.experimental.stateless_fold_in([seed, EPOCH_ORDER], epoch)
