"""Sample grids as PNG, reals.png, and the GIF of all grids, written through tf.io.gfile
(gs:// works) with `files.write_atomic`, so a killed run never leaves a half-written image
where a viewer or the GIF builder would read it.
"""

import io
import re

import imageio.v3 as iio
import numpy as np
import tensorflow as tf

from dcgan_dist.data.images import to_uint8
from dcgan_dist.rundir.files import write_atomic

SAMPLE_RE = re.compile(r"step_(\d{6,})\.png$")


GRID_TARGET_PX = 480  # grids are scaled up by whole pixels to at most this width


def make_grid(images, columns=4, scale=None):
    """Tiles N HxWxC images in [-1, 1] into one uint8 image with a 1-pixel gutter.

    `scale` repeats pixels; by default as many times as keep the grid within 480 px across
    (MNIST's 4x4 grid: 4x, 468 px, as before; 32 px: 3x; 64 px and up: 1x, 261 px and more).
    Grey grids are HxW, RGB ones HxWx3.
    """
    images_uint8 = to_uint8(images)
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


def encode_png(image_uint8):
    return iio.imwrite("<bytes>", image_uint8, extension=".png")


def sample_path(workdir, step):
    return f"{workdir}/samples/step_{step:06d}.png"


def write_grid(workdir, step, images, columns=4):
    """Writes samples/step_NNNNNN.png (a conditional run's: one row per class); returns the
    grid as uint8."""
    grid_uint8 = make_grid(images, columns)
    tf.io.gfile.makedirs(f"{workdir}/samples")
    write_atomic(sample_path(workdir, step), encode_png(grid_uint8))
    return grid_uint8


def write_reals(workdir, images):
    """reals.png: real training images exactly as the model sees them (crop, size, channels,
    flips), where a wrong crop or a channel mix-up shows first."""
    grid_uint8 = make_grid(images)
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


def write_gif(workdir, duration_ms=200):
    """Rebuilds samples.gif from every grid on disk, in step order (one frame per grid).

    Every frame is RGB: a GIF whose frames switch between grey and colour could not be read
    back by imageio 2.38 with Pillow 13 ("No packer found from P to L").
    """
    frames = []
    for _, path in list_samples(workdir):
        with tf.io.gfile.GFile(path, "rb") as f:
            frame = iio.imread(io.BytesIO(f.read()), extension=".png")
        frames.append(np.repeat(frame[..., None], 3, axis=-1) if frame.ndim == 2 else frame[..., :3])
    if not frames:
        return 0
    data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=duration_ms,
                       loop=0)
    write_atomic(f"{workdir}/samples.gif", data)
    return len(frames)


def remove_samples_after(workdir, step):
    """Deletes grids newer than `step` (left by a run killed after its last checkpoint)."""
    for sample_step, path in list_samples(workdir):
        if sample_step > step:
            tf.io.gfile.remove(path)
