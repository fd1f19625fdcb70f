"""Image preprocessing shared by every data source: crop, resize, flip, and the package's one
convention for pixel values: uint8 [0, 255] on disk, float32 [-1, 1] in the models.

Functions of tensors, so they run the same eagerly and inside tf.data (tests check both).
"""

import numpy as np
import tensorflow as tf

from dcgan_dist.runtime import streams


def scale_images(images_uint8):
    """uint8 [0, 255] -> float32 [-1, 1], as in the tutorial: (x - 127.5) / 127.5."""
    return (tf.cast(images_uint8, tf.float32) - 127.5) / 127.5


def to_uint8(images):
    """Float images in [-1, 1] -> uint8 in [0, 255] (the tutorial's x * 127.5 + 127.5), the
    inverse of `scale_images`: what sample grids, generated files and exports hold."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint(images * 127.5 + 127.5), 0, 255).astype(np.uint8)


def center_crop_resize(image_uint8, size, channels):
    """One HxWxC uint8 image -> size x size x channels uint8.

    Crops the largest centred square (on the shorter side), then resizes it with an
    antialiased (widened) bilinear filter when shrinking, since a plain bilinear resize
    aliases thin strokes and textures, and bilinearly when growing. Grey images are repeated to RGB
    and an alpha channel is dropped, so every image of a dataset has `channels`.
    size 0 keeps the image's own size (it must then be square already).
    """
    image = tf.convert_to_tensor(image_uint8)
    if image.shape.rank == 2:
        image = image[..., None]
    image = image[..., :3] if channels == 3 else image[..., :1]
    image = tf.cond(tf.shape(image)[-1] < channels,
                    lambda: tf.repeat(image[..., :1], channels, axis=-1), lambda: image)
    if not size:
        return tf.ensure_shape(image, [None, None, channels])
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top:top + side, left:left + side]
    shrink = side > size
    resized = tf.cond(
        shrink,
        lambda: tf.image.resize(square, [size, size], method="bilinear", antialias=True),
        lambda: tf.image.resize(square, [size, size], method="bilinear"))
    resized = tf.cond(side == size, lambda: tf.cast(square, tf.float32), lambda: resized)
    out = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    return tf.ensure_shape(out, [size, size, channels])


def flip_batch(images, seed, step, offset, global_batch_size):
    """Flips each image of a per-replica batch left-right with probability 1/2.

    The coin of global example i at step s is element i of one draw keyed by (seed, s) over
    the global batch; this batch holds examples offset..offset+n-1. So flips do not depend on
    the replica split or on resuming, like the generator's noise.
    """
    coins = tf.raw_ops.StatelessRandomUniformV2(
        shape=[global_batch_size], dtype=tf.float32,
        **streams.philox(streams.keyed(seed, streams.FLIP, step)))
    n = tf.shape(images)[0]
    flip = tf.slice(coins, [offset], [n]) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
