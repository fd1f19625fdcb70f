"""A run's generator as a SavedModel (`dcgan-export --workdir=W --output=DIR`).

The sampling generator (the EMA one when the run kept one) of a run's latest checkpoint, with
two serving signatures that need TensorFlow only, not this package (TF Serving and Vertex AI
take the folder as it is):

  generate(z: float32 [N, noise_dim]) -> {"images": uint8 [N, H, W, C]}
  sample(num_images: int32, seed: int64) -> {"images": uint8 [num_images, H, W, C]}

`sample` draws its noise exactly as `sampling.generate` does, so `sample(N, 0)` equals
`dcgan-generate --num_images=N` of the same checkpoint. The run's run.json (or flags.txt)
is copied beside saved_model.pb.

A --conditional run's generator takes the class of each image (run.json names the classes):

  generate(z: float32 [N, noise_dim], labels: int32 [N]) -> {"images": uint8 [N, H, W, C]}
  sample(labels: int32 [N], seed: int64) -> {"images": uint8 [N, H, W, C]}

`sample(labels, 0)` equals dcgan-generate's images for the same labels (its .npz holds
them); a label outside [0, classes) is an InvalidArgumentError, not a blank image.
"""

import tensorflow as tf

from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import sampling


def _images_uint8(generator, inputs):
    # images.to_uint8 in TensorFlow: x * 127.5 + 127.5, rounded half to even, clipped.
    images = tf.cast(generator(inputs, training=False), tf.float32)
    return tf.cast(tf.clip_by_value(tf.round(images * 127.5 + 127.5), 0, 255), tf.uint8)


class Sampler(tf.Module):
    """The generator with uint8 outputs; what the SavedModel holds."""

    def __init__(self, generator, noise_dim):
        super().__init__(name="sampler")
        self.generator = generator
        self.noise_dim = noise_dim
        self.generate = tf.function(self._generate, input_signature=[
            tf.TensorSpec([None, noise_dim], tf.float32, name="z")])
        self.sample = tf.function(self._sample, input_signature=[
            tf.TensorSpec([], tf.int32, name="num_images"),
            tf.TensorSpec([], tf.int64, name="seed")])

    def _images_uint8(self, z):
        return _images_uint8(self.generator, z)

    def _generate(self, z):
        return {"images": self._images_uint8(z)}

    def _sample(self, num_images, seed):
        # Chunks of GENERATE_CHUNK with the noise of sampling.generate: the same images,
        # chunk by chunk.
        chunk = sampling.GENERATE_CHUNK
        images = tf.TensorArray(tf.uint8, size=0, dynamic_size=True, infer_shape=False)
        for start in tf.range(0, num_images, chunk):
            n = tf.minimum(chunk, num_images - start)
            z = sampling.chunk_noise(seed, start, n, self.noise_dim)
            images = images.write(start // chunk, self._images_uint8(z))
        return {"images": images.concat()}


class ConditionalSampler(tf.Module):
    """A conditional generator with uint8 outputs: both signatures take the labels."""

    def __init__(self, generator, noise_dim, num_classes):
        super().__init__(name="sampler")
        self.generator = generator
        self.noise_dim, self.num_classes = noise_dim, num_classes
        self.generate = tf.function(self._generate_labelled, input_signature=[
            tf.TensorSpec([None, noise_dim], tf.float32, name="z"),
            tf.TensorSpec([None], tf.int32, name="labels")])
        self.sample = tf.function(self._sample_labelled, input_signature=[
            tf.TensorSpec([None], tf.int32, name="labels"),
            tf.TensorSpec([], tf.int64, name="seed")])

    def _checked(self, labels):
        # A one-hot of an out-of-range label is all zeros: a silent classless image.
        message = f"labels must be in [0, {self.num_classes})"
        with tf.control_dependencies([
                tf.debugging.assert_non_negative(labels, message=message),
                tf.debugging.assert_less(labels, self.num_classes, message=message)]):
            return tf.identity(labels)

    def _generate_labelled(self, z, labels):
        return {"images": _images_uint8(self.generator, [z, self._checked(labels)])}

    def _sample_labelled(self, labels, seed):
        labels = self._checked(labels)
        num_images = tf.shape(labels)[0]
        chunk = sampling.GENERATE_CHUNK  # sampling.generate's chunks and noise, as _sample
        images = tf.TensorArray(tf.uint8, size=0, dynamic_size=True, infer_shape=False)
        for start in tf.range(0, num_images, chunk):
            n = tf.minimum(chunk, num_images - start)
            z = sampling.chunk_noise(seed, start, n, self.noise_dim)
            images = images.write(start // chunk, _images_uint8(
                self.generator, [z, labels[start:start + n]]))
        return {"images": images.concat()}


def check_output(output, overwrite):
    """Refuses a non-empty --output unless --overwrite, before any work is done."""
    if tf.io.gfile.exists(output):
        if not tf.io.gfile.isdir(output):
            raise UserError(f"--output={output} is a file; pass a folder for the SavedModel")
        if tf.io.gfile.listdir(output) and not overwrite:
            raise UserError(f"--output={output} is not empty; choose a new folder, or pass "
                            "--overwrite to replace its contents")


def export(generator, noise_dim, num_classes, output, run_files=()):
    """Writes `generator` (taking `noise_dim` noise and, if `num_classes`, labels) as a
    SavedModel into `output` (replacing what it holds: `check_output` first), and copies the
    first of `run_files` that exists beside it. Returns the image shape."""
    sampler = (ConditionalSampler(generator, noise_dim, num_classes) if num_classes
               else Sampler(generator, noise_dim))
    if tf.io.gfile.exists(output):
        tf.io.gfile.rmtree(output)
    tf.saved_model.save(sampler, output, signatures={"generate": sampler.generate,
                                                     "sample": sampler.sample})
    for path in run_files:
        if tf.io.gfile.exists(path):
            tf.io.gfile.copy(path, f"{output}/{path.rsplit('/', 1)[-1]}", overwrite=True)
            break
    return tuple(generator.output_shape[1:])
