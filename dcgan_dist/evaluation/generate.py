"""`dcgan-generate --workdir=W --num_images=N --output=FILE.npz [--grid]`: images from a run.

The sampling generator (the EMA one when the run kept one) of W's latest checkpoint, on noise
from the run's EVAL_NOISE stream (seed 0): uint8 images under the key `images`, shape
N x H x W x C, and with --grid an 8x8 PNG beside the file. The export's `sample(N, 0)` gives
the same images.
"""

import io

import numpy as np

from dcgan_dist import cli
from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import sampling
from dcgan_dist.rundir import files, grids, reopen


def generate(workdir, num_images, output, grid=False):
    """Writes `output` (and its grid); returns the lines to print."""
    config, state = reopen.restore_run(workdir)
    images = sampling.generate(state.sampling_generator, num_images, config.noise_dim)
    images_uint8 = to_uint8(images)
    buffer = io.BytesIO()  # zipfile seeks back while writing; GFile cannot
    np.savez_compressed(buffer, images=images_uint8)
    files.write_atomic(output, buffer.getvalue())
    lines = [f"{output}: images {images_uint8.shape} {images_uint8.dtype}"]
    if grid:
        grid_uint8 = grids.make_grid(images[:64], columns=8, scale=2)
        path = output.rsplit(".", 1)[0] + ".png"
        files.write_atomic(path, grids.encode_png(grid_uint8))
        lines.append(f"{path}: {min(64, len(images))} images in a grid")
    return lines


def main(argv, flag_values):
    if argv[1:] or not flag_values.workdir or not flag_values.output:
        raise UserError("usage: dcgan-generate --workdir=W --num_images=N --output=FILE.npz "
                        "[--grid]")
    print("\n".join(generate(flag_values.workdir, flag_values.num_images, flag_values.output,
                             flag_values.grid)))


def run(argv=None):
    cli.run(main, "dcgan-generate", argv)


if __name__ == "__main__":
    run()
