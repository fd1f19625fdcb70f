"""Layers the architectures share: dropout whose masks are a function of a seed, batch norm
through TensorFlow's fused kernel, and spectral normalisation (--d_spectral_norm).

Keras' own random ops drew the same mask on every replica, and a resumed run would draw other
masks than an uninterrupted one; these take the seed the replica step derives from (seed,
step, replica) in `streams`.
"""

import keras
import tensorflow as tf


def layer_seeds(dropout_seed, num_layers):
    """One dropout seed per layer, folded from the call's seed (None without one)."""
    if dropout_seed is None:
        return [None] * num_layers
    return [tf.random.experimental.stateless_fold_in(dropout_seed, i, alg="philox")
            for i in range(num_layers)]


def stateless_dropout(x, rate, training, seed):
    """Dropout whose mask is a function of `seed`: Keras' own drew the same on every replica."""
    if not training or rate == 0:
        return x
    if seed is None:
        raise ValueError("Discriminator(training=True) with dropout needs a dropout_seed")
    # Philox by name: the default "auto_select" picks another generator under XLA, and
    # jit-compiled runs would then draw other masks than plain TensorFlow.
    keep = tf.random.stateless_uniform(tf.shape(x), seed=seed, alg="philox") >= rate
    return tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))


class BatchNormalization(keras.layers.BatchNormalization):
    """Keras' batch norm, trained through TensorFlow's fused kernel where that computes the
    same function (issue 23: Keras 3 normalises with separate moments, subtract, multiply ...
    ops, 16% of the 64 px dcgan step on a CPU; the fused kernel and its gradient were 2.5-3.2x
    faster per layer). Same variables, names, statistics and outputs as Keras' layer, so
    checkpoints and exports of either load into the other.

    Fused: training, channels last, rank 2 or 4, computed in float32 (so also under mixed
    precision, where Keras upcasts too), per replica. Everything else is Keras' own call:
    inference (the moving statistics), --sync_batchnorm (cross-replica moments, which the
    kernel cannot take), float64 (which it does not implement), masks. The kernel returns the
    Bessel-corrected batch variance; the moving variance keeps Keras' biased one. (Keras 3.12,
    TensorFlow 2.20's, has no batch renormalisation: no `renorm` attribute.)
    """

    def _fusable(self, inputs, mask):
        return (mask is None and not self.synchronized and not getattr(self, "renorm", False)
                and len(inputs.shape) in (2, 4) and self.axis in (-1, len(inputs.shape) - 1)
                and self.epsilon >= 1.001e-5  # the kernel's smallest
                and inputs.dtype in (tf.float32, tf.float16, tf.bfloat16))

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        images = x if len(x.shape) == 4 else tf.reshape(x, [-1, 1, 1, channels])
        scale = (tf.convert_to_tensor(self.gamma) if self.scale
                 else tf.ones([channels], tf.float32))
        offset = (tf.convert_to_tensor(self.beta) if self.center
                  else tf.zeros([channels], tf.float32))
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            images, scale, offset, epsilon=self.epsilon, is_training=True)
        count = tf.cast(tf.size(images) // channels, tf.float32)
        variance = variance * (tf.maximum(count - 1.0, 1.0) / count)
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(moving * self.momentum + tf.stop_gradient(batch) * (1.0 - self.momentum))
        return tf.cast(tf.reshape(y, tf.shape(x)), self.compute_dtype)


class SpectralNormalization(keras.layers.Wrapper):
    """A Conv2D or Dense whose kernel is used as W / sigma(W) (Miyato et al. 2018, "Spectral
    Normalization for Generative Adversarial Networks", algorithm 1): each such layer is then
    1-Lipschitz, which bounds the discriminator's slope without a penalty.

    sigma(W), the largest singular value of the kernel reshaped to [fan_in, filters], is
    estimated as ||W u|| with `u` (the kernel's right singular vector estimate) held constant,
    so its gradient is the paper's v u^T. `u` is state, not a weight: it is checkpointed with
    the model, never trained, and moved by one power iteration after every training step by
    `update_spectral_norms`, which the step function calls in cross-replica context, so every
    replica holds the same `u` and the replica step has no side effects (Keras 3.15's own
    SpectralNormalization assigns the normalised kernel to the trainable one, and moves u, in
    every training call: inside each replica, and with the kernel then trained as W / sigma).

    Under mixed precision sigma is computed from the float32 kernel and the normalised kernel
    is cast to the wrapped layer's compute dtype, in which the layer's op runs: the wrapper's
    own policy is the variables' dtype, so Keras never autocasts what it reads (a mixed
    policy with autocast=False still autocasts when no outer scope is open).
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            raise TypeError(f"SpectralNormalization wraps Conv2D or Dense, not "
                            f"{type(layer).__name__}")
        super().__init__(layer, dtype=layer.dtype_policy.variable_dtype, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.u = self.add_weight(
            shape=(self.layer.kernel.shape[-1],), name="spectral_u", trainable=False,
            initializer=keras.initializers.RandomNormal(0.0, 1.0), autocast=False)

    def _matrix(self):
        kernel = self.layer.kernel  # read as stored (float32 under mixed policies)
        return tf.reshape(tf.convert_to_tensor(kernel), [-1, kernel.shape[-1]])

    def sigma(self):
        """The estimate ||W u|| of the kernel's largest singular value (u held constant, and
        taken as a unit vector whatever its stored length)."""
        u = tf.stop_gradient(tf.math.l2_normalize(tf.convert_to_tensor(self.u)))
        return tf.norm(tf.linalg.matvec(self._matrix(), u))

    def initialise(self):
        """u <- the kernel's right singular vector of its largest singular value (an SVD)."""
        _, _, v = tf.linalg.svd(self._matrix())
        self.u.assign(v[:, 0])

    def power_iterate(self, iterations=1):
        """u <- W^T v / ||W^T v|| with v = W u / ||W u||, `iterations` times."""
        w = self._matrix()
        u = tf.convert_to_tensor(self.u)
        for _ in range(iterations):
            v = tf.math.l2_normalize(tf.linalg.matvec(w, u))
            u = tf.math.l2_normalize(tf.linalg.matvec(w, v, transpose_a=True))
        self.u.assign(u)

    def call(self, inputs):
        dtype = self.layer.compute_dtype
        kernel = tf.cast(tf.convert_to_tensor(self.layer.kernel) / self.sigma(), dtype)
        inputs = tf.cast(inputs, dtype)
        if isinstance(self.layer, keras.layers.Dense):
            outputs = tf.matmul(inputs, kernel)
        else:
            outputs = self.layer.convolution_op(inputs, kernel)
        if self.layer.use_bias:  # channels_last: the bias broadcasts over the last axis
            outputs = outputs + tf.cast(tf.convert_to_tensor(self.layer.bias), dtype)
        return self.layer.activation(outputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


def spectral_norm_if(enabled, layer):
    """`layer` wrapped in SpectralNormalization when `enabled` (--d_spectral_norm)."""
    return SpectralNormalization(layer) if enabled else layer


def initialise_spectral_norms(model):
    """Sets every SpectralNormalization's u among `model.layers` from an SVD of its kernel, so
    that sigma is exact from the first step on; the builders call it, eagerly, once the model is
    built (not in `build`: Keras builds sublayers while tracing a stateless call, whose
    assignments are dropped). Power iterations from a random u converge slowly where the two
    largest singular values are close (measured on fresh discriminators: 100 iterations left
    ||W u|| up to 1.6% below the largest singular value where the two were 2% apart)."""
    for layer in spectral_norms(model):
        layer.initialise()


def update_spectral_norms(model, iterations=1):
    """`iterations` power iterations for every SpectralNormalization among `model.layers`:
    after each training step, in cross-replica context, on the updated kernels."""
    for layer in spectral_norms(model):
        layer.power_iterate(iterations)


def spectral_norms(model):
    """Every SpectralNormalization among `model.layers`, and inside the models among them (a
    conditional discriminator holds the architecture's as its `base`)."""
    for layer in model.layers:
        if isinstance(layer, SpectralNormalization):
            yield layer
        elif isinstance(layer, keras.Model):
            yield from spectral_norms(layer)
