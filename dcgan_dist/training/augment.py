"""Differentiable augmentation of every image the discriminator sees (--augment).

    AUGMENTS = {"none": ..., "diffaugment": ..., "ada": ...}

A discriminator trained on a few hundred images memorises them, and the generator, which
learns only through it, collapses. Both fixes augment real *and* generated images the same
way, inside the step and differentiably, so the generator learns through the transforms
and never learns to draw them (they are applied to what D sees, not to the data):

- `diffaugment` (Zhao et al. 2020, arXiv:2006.10738): every transform of --augment_policy on
  every image, with the magnitudes of the paper's DiffAugment_tf.py: brightness + U(-0.5, 0.5),
  saturation x U(0, 2), contrast x U(0.5, 1.5); translation by up to 1/8 of the side with
  zero fill; a cutout square of half the side, zero filled. (Values are in [-1, 1], as there.)
- `ada` (Karras et al. 2020, StyleGAN2-ADA): the same transforms, plus `flip` and `rotate90`
  when the policy names them, each applied to each image with probability p. p starts at 0
  and moves every --ada_every_steps steps by sign(r_t - --ada_target) * images / (1000 *
  --ada_kimg), where r_t = E[sign(D(real))] over those steps (training_loop.py's heuristic):
  a discriminator that is sure of every real image is memorising, and more augmentation is
  what stops it. `AdaController` holds p and the running sum of signs; both are in the
  checkpoint, and both are updated in cross-replica context from all-reduced sums, so every
  replica and worker holds the same p (as every replica agrees on the fp16 overflow skip).

Randomness: each image's magnitudes and coins are row i of a stateless draw over the global
batch keyed by (seed, stream, step), and each replica takes its own rows, like the noise and
the flips: the result depends neither on the replica split nor on resuming. The draw happens
outside the XLA-compiled pass (`draw`), which receives it as a tensor: XLA's random-number
kernels draw other numbers than TensorFlow's from the same seed.
"""

import tensorflow as tf

from dcgan_dist.runtime import streams


def _brightness(images, u):
    return images + (u[:, :1] - 0.5)[:, :, None, None]


def _saturation(images, u):
    mean = tf.reduce_mean(images, axis=3, keepdims=True)  # grey images: a no-op, as there
    return (images - mean) * (2.0 * u[:, :1])[:, :, None, None] + mean


def _contrast(images, u):
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (u[:, :1] + 0.5)[:, :, None, None] + mean


def _gather_pixels(images, source_y, source_x):
    """out[n, y, x] = images[n, source_y[n, y, x], source_x[n, y, x]], 0 outside the image.

    A gather, so the gradient reaches every source pixel (scattered back), also under XLA.
    """
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    inside = (source_y >= 0) & (source_y < height) & (source_x >= 0) & (source_x < width)
    index = tf.stack([tf.clip_by_value(source_y, 0, height - 1),
                      tf.clip_by_value(source_x, 0, width - 1)], axis=-1)
    gathered = tf.gather_nd(images, index, batch_dims=1)
    return tf.where(inside[..., None], gathered, tf.zeros_like(gathered))


def _grid(images):
    """Row and column index of every output pixel, [n, H, W] each."""
    shape = tf.shape(images)
    rows = tf.range(shape[1])[None, :, None] + tf.zeros([shape[0], 1, shape[2]], tf.int32)
    cols = tf.range(shape[2])[None, None, :] + tf.zeros([shape[0], shape[1], 1], tf.int32)
    return rows, cols


def _translation(images, u):
    """Shift by an integer in [-side/8, side/8] each way, zero fill (DiffAugment's ratio 1/8)."""
    rows, cols = _grid(images)
    shape = tf.shape(images)
    max_y, max_x = shape[1] // 8, shape[2] // 8
    # floor(u * (2m + 1)) - m is uniform over the 2m + 1 integers -m..m.
    shift_y = tf.cast(tf.floor(u[:, 0] * tf.cast(2 * max_y + 1, u.dtype)), tf.int32) - max_y
    shift_x = tf.cast(tf.floor(u[:, 1] * tf.cast(2 * max_x + 1, u.dtype)), tf.int32) - max_x
    return _gather_pixels(images, rows + shift_y[:, None, None], cols + shift_x[:, None, None])


def _cutout(images, u):
    """Zero a square of half the side centred anywhere in the image (DiffAugment's ratio 1/2)."""
    rows, cols = _grid(images)
    shape = tf.shape(images)
    size_y, size_x = shape[1] // 2, shape[2] // 2
    centre_y = tf.cast(tf.floor(u[:, 0] * tf.cast(shape[1] + 1 - size_y % 2, u.dtype)), tf.int32)
    centre_x = tf.cast(tf.floor(u[:, 1] * tf.cast(shape[2] + 1 - size_x % 2, u.dtype)), tf.int32)
    top, left = centre_y - size_y // 2, centre_x - size_x // 2
    inside = ((rows >= top[:, None, None]) & (rows < (top + size_y)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + size_x)[:, None, None]))
    return tf.where(inside[..., None], tf.zeros_like(images), images)


def _flip(images, u):
    """Mirror left-right half the time: as ADA's xflip, the draw includes the identity."""
    return tf.where((u[:, 0] < 0.5)[:, None, None, None], tf.reverse(images, axis=[2]), images)


def _rotate90(images, u):
    """Rotate by 0, 90, 180 or 270 degrees, as ADA's rotate90 (square images)."""
    rows, cols = _grid(images)
    side = tf.shape(images)[1]
    quarter_turns = tf.cast(tf.floor(u[:, 0] * 4.0), tf.int32)  # 0..3
    source_y, source_x = rows, cols
    for turn in range(1, 4):
        # One quarter turn more: (y, x) reads (x, side - 1 - y).
        turned_y, turned_x = source_x, side - 1 - source_y
        more = (quarter_turns >= turn)[:, None, None]
        source_y, source_x = (tf.where(more, turned_y, source_y),
                              tf.where(more, turned_x, source_x))
    return _gather_pixels(images, source_y, source_x)


# name -> (transform(images, uniforms [n, k]) -> images, k). The order of this table fixes
# each transform's columns in the draw, so a policy that adds one leaves the others' alone.
TRANSFORMS = {
    "brightness": (_brightness, 1),
    "saturation": (_saturation, 1),
    "contrast": (_contrast, 1),
    "translation": (_translation, 2),
    "cutout": (_cutout, 2),
    "flip": (_flip, 1),
    "rotate90": (_rotate90, 1),
}
# --augment_policy names: DiffAugment's three groups, and ADA's flips and rotations.
POLICIES = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
    "flip": ("flip",),
    "rotate90": ("rotate90",),
}


def _columns():
    """{transform: (coin column, first magnitude column)} and the number of columns."""
    out, column = {}, 0
    for name, (_, k) in TRANSFORMS.items():
        out[name] = (column, column + 1)
        column += 1 + k
    return out, column


COLUMNS, NUM_COLUMNS = _columns()


def parse_policy(policy):
    """The transform names of a policy such as 'color,translation,cutout', in its order;
    ValueError naming the unknown group."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown or not names:
        raise ValueError(f"--augment_policy={policy}: {'unknown ' + ', '.join(unknown) if unknown else 'empty'}; "
                         f"use a comma-separated list of {', '.join(POLICIES)}")
    return [t for p in names for t in POLICIES[p]]


def draw(seed, stream, step, global_batch_size, replica_id, per_replica_batch_size):
    """This replica's rows of the step's uniforms [per_replica, NUM_COLUMNS] for `stream`."""
    u = tf.raw_ops.StatelessRandomUniformV2(shape=[global_batch_size, NUM_COLUMNS],
                                            dtype=tf.float32,
                                            **streams.philox(streams.keyed(seed, stream, step)))
    return tf.slice(u, [replica_id * per_replica_batch_size, 0],
                    [per_replica_batch_size, NUM_COLUMNS])


def apply(images, uniforms, transforms, p):
    """Applies `transforms` in order, each to the images whose coin is below p.

    p = 1 applies every transform to every image (DiffAugment: the coins are in [0, 1));
    p = 0 returns the images unchanged, bit for bit. Differentiable in `images`.
    """
    uniforms = tf.cast(uniforms, images.dtype)
    p = tf.cast(p, images.dtype)
    for name in transforms:
        fn, k = TRANSFORMS[name]
        coin, first = COLUMNS[name]
        on = uniforms[:, coin] < p
        changed = fn(images, uniforms[:, first:first + k])
        images = tf.where(on[:, None, None, None], changed, images)
    return images


class AdaController:
    """ADA's p and its running statistic, as mirrored variables (created in strategy.scope)."""

    def __init__(self, augment_config):
        """`augment_config`: the config's augment section (--ada_* and the global batch)."""
        c = augment_config
        self.target, self.every = c.ada_target, c.ada_every_steps
        # p moves by at most this much per update: `every` steps of the global batch
        # against the images it takes to move p by 1.
        self.rate = c.ada_every_steps * c.global_batch_size / (1000.0 * c.ada_kimg)
        self.images = float(c.ada_every_steps * c.global_batch_size)
        self.p = tf.Variable(0.0, trainable=False, name="augment_p")
        self.signs = tf.Variable(0.0, trainable=False, name="ada_real_signs")

    def checkpoint_items(self):
        return {"augment_p": self.p, "ada_real_signs": self.signs}

    def update(self, step, real_signs):
        """After step `step` (0-based) in cross-replica context: add the step's all-reduced
        sum of sign(D(real)); every `every` steps move p toward the target and reset."""
        self.signs.assign_add(real_signs)

        def adjust():
            r_t = self.signs / self.images
            self.p.assign(tf.clip_by_value(self.p + tf.sign(r_t - self.target) * self.rate,
                                           0.0, 1.0))
            self.signs.assign(0.0)
            return tf.constant(0)

        tf.cond((step + 1) % self.every == 0, adjust, lambda: tf.constant(0))


# --augment -> the probability each transform is applied with, from the state: none has no
# augmentation at all, diffaugment always applies every transform, ada its controller's p.
AUGMENTS = {
    "none": None,
    "diffaugment": lambda state: tf.constant(1.0),
    "ada": lambda state: state.ada.p,
}
