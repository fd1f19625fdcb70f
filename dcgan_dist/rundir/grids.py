"""Sample grids as PNG, reals.png, and the GIF of all grids, written through tf.io.gfile
(gs:// works) with `files.write_atomic`, so a killed run never leaves a half-written image
where a viewer or the GIF builder would read it; and the one layout of every grid: the 4x4
of the fixed sample noise, a conditional run's row per class, dcgan-generate's 8x8.

Images come as uint8 (`data.images.to_uint8` of the models' [-1, 1]).
"""

import io
import re

import imageio.v3 as iio
import numpy as np
import tensorflow as tf

from dcgan_dist.rundir import gif
from dcgan_dist.rundir.files import write_atomic

SAMPLE_RE = re.compile(r"step_(\d{6,})\.png$")


GRID_TARGET_PX = 480  # grids are scaled up by whole pixels to at most this width
SAMPLE_COLUMNS = 4    # the fixed sample noise's grid: 4x4, as in the tutorial
# A conditional grid: one row per class, up to CLASS_ROWS classes (the first ones), each row
# up to CLASS_COLUMNS images, so a column shows one z (samples) drawn as every class.
CLASS_ROWS = 16
CLASS_COLUMNS = 8
GENERATED_COLUMNS = 8  # dcgan-generate --grid: the first 8x8 images


def sample_columns(num_classes):
    """The columns of a run's sample grids."""
    return CLASS_COLUMNS if num_classes else SAMPLE_COLUMNS


def sample_inputs(sample_noise, num_classes):
    """The sampling generator's input for a run's sample grid (the models' contract): the
    fixed noise, or with classes the first CLASS_COLUMNS of it once per row, a row per
    class."""
    if not num_classes:
        return sample_noise
    rows = min(num_classes, CLASS_ROWS)
    z = tf.tile(sample_noise[:CLASS_COLUMNS], [rows, 1])
    labels = tf.repeat(tf.range(rows, dtype=tf.int32), CLASS_COLUMNS)
    return [z, labels]


def class_grid(images_uint8, labels, scale=2):
    """One row per class in order of appearance (the first CLASS_ROWS), up to CLASS_COLUMNS
    of its images each, short rows padded with black; unlabelled, the first 8x8."""
    if labels is None:
        return make_grid(images_uint8[:GENERATED_COLUMNS ** 2], GENERATED_COLUMNS, scale)
    rows = list(dict.fromkeys(np.asarray(labels).tolist()))[:CLASS_ROWS]
    blank = np.zeros_like(images_uint8[0])
    tiles = []
    for label in rows:
        chosen = images_uint8[labels == label][:CLASS_COLUMNS]
        tiles += list(chosen) + [blank] * (CLASS_COLUMNS - len(chosen))
    return make_grid(np.stack(tiles), CLASS_COLUMNS, scale)


def make_grid(images_uint8, columns=SAMPLE_COLUMNS, scale=None):
    """Tiles N HxWxC uint8 images into one uint8 image with a 1-pixel gutter.

    `scale` repeats pixels; by default as many times as keep the grid within 480 px across
    (MNIST's 4x4 grid: 4x, 468 px, as before; 32 px: 3x; 64 px and up: 1x, 261 px and more).
    Grey grids are HxW, RGB ones HxWx3.
    """
    images_uint8 = np.asarray(images_uint8)
    num, height, width, channels = images_uint8.shape
    rows = -(-num // columns)
    pad = 1
    grid_uint8 = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, channels),
                         255, np.uint8)
    for i, image in enumerate(images_uint8):
        r, c = divmod(i, columns)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        grid_uint8[top:top + height, left:left + width] = image
    if scale is None:
        scale = max(1, GRID_TARGET_PX // grid_uint8.shape[1])
    grid_uint8 = grid_uint8.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid_uint8[..., 0] if channels == 1 else grid_uint8


def describe_rows(class_names, num_rows):
    """What a conditional grid's rows are, for TensorBoard; None without classes."""
    rows = [name if name == str(i) else f"{i} {name}"  # MNIST's names are its indices
            for i, name in enumerate(class_names[:num_rows])]
    return "Rows, top to bottom: the classes " + ", ".join(rows) if rows else None


def encode_png(image_uint8):
    return iio.imwrite("<bytes>", image_uint8, extension=".png")


def sample_path(workdir, step):
    return f"{workdir}/samples/step_{step:06d}.png"


def write_grid(workdir, step, images_uint8, columns=SAMPLE_COLUMNS):
    """Writes samples/step_NNNNNN.png (a conditional run's: one row per class); returns the
    grid as uint8."""
    grid_uint8 = make_grid(images_uint8, columns)
    tf.io.gfile.makedirs(f"{workdir}/samples")
    write_atomic(sample_path(workdir, step), encode_png(grid_uint8))
    return grid_uint8


def write_reals(workdir, images_uint8):
    """reals.png: real training images exactly as the model sees them (crop, size, channels,
    flips), where a wrong crop or a channel mix-up shows first."""
    grid_uint8 = make_grid(images_uint8)
    write_atomic(f"{workdir}/reals.png", encode_png(grid_uint8))
    return grid_uint8


def list_samples(workdir):
    """[(step, path)] of the sample grids in the work directory, in step order."""
    pattern = f"{workdir}/samples/step_*.png"
    found = []
    for path in tf.io.gfile.glob(pattern):
        match = SAMPLE_RE.search(path)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


GIF_MAX_FRAMES = 30  # the GIF's cost per rewrite is bounded by this, however long the run


def gif_frames(samples, max_frames=GIF_MAX_FRAMES):
    """At most `max_frames` of `samples`, evenly spread, always the first and the last."""
    if len(samples) <= max_frames:
        return list(samples)
    last = len(samples) - 1
    picked = sorted({round(i * last / (max_frames - 1)) for i in range(max_frames)})
    return [samples[i] for i in picked]


def write_gif(workdir, duration_ms=200, max_frames=GIF_MAX_FRAMES):
    """Rebuilds samples.gif from the grids on disk in step order, one frame per grid; with
    more than `max_frames` grids, from `max_frames` of them spread evenly over the run.

    Re-encoding every grid each time cost a small folder's run more and more as it went on
    (179 frames and 5 MB rewritten at every epoch, issue 26); bounded, each rewrite costs
    the same. Every frame is RGB: a GIF whose frames switch between grey and colour could
    not be read back by imageio 2.38 with Pillow 13 ("No packer found from P to L").
    """
    frames = []
    for _, path in gif_frames(list_samples(workdir), max_frames):
        with tf.io.gfile.GFile(path, "rb") as f:
            frames.append(iio.imread(io.BytesIO(f.read()), extension=".png"))
    if not frames:
        return 0
    write_atomic(f"{workdir}/samples.gif", encode_gif(frames, duration_ms))
    return len(frames)


def encode_gif(frames_uint8, duration_ms=200):
    """An endlessly looping GIF of same-sized frames (HxW grey, HxWx1, HxWx3 or 4), each made
    RGB (see write_gif) and compressed once however often it is written (rundir.gif)."""
    frames = [np.repeat(f[..., None], 3, axis=-1) if f.ndim == 2 else
              np.repeat(f, 3, axis=-1) if f.shape[-1] == 1 else f[..., :3]
              for f in frames_uint8]
    return gif.encode(frames, duration_ms)


def remove_samples_after(workdir, step):
    """Deletes grids newer than `step` (left by a run killed after its last checkpoint)."""
    for sample_step, path in list_samples(workdir):
        if sample_step > step:
            tf.io.gfile.remove(path)
