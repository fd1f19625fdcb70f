"""Every random stream of a run, keyed in one place and one way.

Each stream is a stateless function of the run's --seed, its own number below, and the keys
that must make it differ (step, replica, epoch, example): `keyed(seed, STREAM, *keys)` folds
them into [seed, 0] with Philox. So a run replays exactly after a resume, does not depend on
how the global batch is split over replicas, and no two streams share numbers. The numbers
are part of what a seed means: changing one changes every run that uses it (0.2.0 renumbered
them; a run resumed across that upgrade continues with the new streams).

Keras initializers and tf.data take Python integers, not keys: `python_seed` draws one from a
stream. Nothing reseeds a global generator once a run has started. The metric estimators
(KID's subsets, precision/recall's subsamples, the reference-statistics reservoir) use fixed
seeds of their own in `evaluation`: they belong to the metric's definition, not to a run.
"""

import tensorflow as tf

NOISE = 1               # z for the step's global batch; keys: step
DROPOUT_REAL = 2        # discriminator dropout on real images; keys: step, replica
DROPOUT_FAKE = 3        # discriminator dropout on generated images; keys: step, replica
FLIP = 4                # --random_flip of real images; keys: step (one draw for the global batch)
EPOCH_WINDOW = 5        # streaming source: the permutation of a window of records; keys: epoch, window
EPOCH_ORDER = 6         # in-memory source: the permutation of an epoch; keys: epoch
SYNTHETIC_IMAGES = 7    # --synthetic_data's fixed batch
SAMPLE_NOISE = 8        # the fixed z of the sample grids
PERIODIC_EVAL_NOISE = 9  # evaluation during training; keys: chunk, replica
EVAL_NOISE = 10         # dcgan-eval, dcgan-generate, the export's sample(); keys: first image index
WEIGHTS = 11            # initial weights of the generator and discriminator (python_seed)
CLASSIFIER = 12         # the evaluation classifier's weights, dropout and shuffling (python_seed)
FAKE_LABELS = 13        # --conditional: the classes of the step's generated images; keys: step
SYNTHETIC_LABELS = 14   # --conditional --synthetic_data: the labels of the fixed batch
# 15: kept for class conditioning.
GP_INTERPOLATION = 16   # --d_gp_gamma: eps of each real/fake interpolate; keys: step (one draw for the global batch)
DROPOUT_INTERPOLATES = 17  # discriminator dropout on the gradient penalty's interpolates; keys: step, replica
AUGMENT_INTERPOLATES = 18  # --augment of the gradient penalty's interpolates D sees; keys: step (one draw for the global batch)
AUGMENT_REAL = 19       # --augment of the real images D sees; keys: step (one draw for the global batch)
AUGMENT_FAKE = 20       # --augment of the generated images D sees; keys: step (one draw for the global batch)


def keyed(seed, stream, *keys):
    """A stateless seed (shape [2], int64) for `stream` under `keys`.

    Philox by name: the default picks another algorithm under XLA, and jit-compiled steps
    would then draw other numbers than plain TensorFlow.
    """
    out = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])  # seed may be a tensor
    for key in (stream,) + keys:
        out = fold_in(out, tf.cast(key, tf.int64))
    return out


# Philox's key and counter made in fewer graph ops than TensorFlow's: tf.random's stateless
# draws turn each seed into them with ~45 small Python-built ops, which made up ~15% of
# tracing a step with dropout, R1 and ada (cProfile, 2026-12-07); the step traces on every
# start and in most tests. The step's noise, labels, interpolation weights, flips and
# augmentations draw with the raw ops, `**philox(seed)`: the same numbers as tf.random's with
# alg="philox" (tests/test_streams.py compares them, also under XLA). Dropout's masks keep
# tf.random's (`models` imports nothing of the package but `errors`).
PHILOX = 1  # tf.random.Algorithm.PHILOX
_SCRAMBLE_KEY = 0x02461E293EC8F720  # TensorFlow's (core/kernels/stateless_random_ops.cc)


def philox(seed):
    """{key, counter, alg} of a stateless seed [2] for tf.raw_ops' V2 stateless draws."""
    mix = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=[4], key=tf.constant([_SCRAMBLE_KEY], tf.uint64), counter=tf.cast(seed, tf.uint64),
        alg=PHILOX, dtype=tf.uint32)
    low, high = tf.unstack(tf.cast(tf.reshape(mix, [2, 2]), tf.uint64), axis=1)
    words = tf.bitwise.bitwise_or(low, tf.bitwise.left_shift(high, tf.constant(32, tf.uint64)))
    return {"key": tf.slice(words, [0], [1]), "alg": PHILOX,
            "counter": tf.concat([tf.zeros([1], tf.uint64), tf.slice(words, [1], [1])], axis=0)}


def fold_in(seed, data):
    """tf.random.experimental.stateless_fold_in(seed, data, alg="philox")."""
    data = tf.convert_to_tensor(data)
    first = tf.raw_ops.StatelessRandomUniformFullIntV2(shape=[], dtype=data.dtype,
                                                       **philox(seed))
    return tf.stack([first, data])


def python_seed(seed, stream, *keys):
    """A non-negative Python int from `stream`, for APIs that take integer seeds."""
    return int(keyed(seed, stream, *keys).numpy()[0] % (2**31 - 1))
