"""`dcgan-generate --workdir=W --num_images=N --output=FILE.npz [--grid]`: images from a run.

The sampling generator (the EMA one when the run kept one) of W's latest checkpoint, on noise
from the run's EVAL_NOISE stream (--seed, default 0): uint8 images under the key `images`,
shape N x H x W x C, and with --grid an 8x8 PNG beside the file. The export's `sample(N, 0)`
gives the same images as seed 0. --truncation=T draws the noise from the normal truncated to
[-T, T] (fidelity for variety). --reject=R draws N / (1 - R) and keeps the N the run's
discriminator rates most real (fidelity for variety too; the export cannot: it has no
discriminator).

`--interpolate=0,1,2 --output=FILE.png` walks from seed 0's first image to seed 1's and on
(spherical interpolation, --interpolation_steps frames apart): a PNG strip, and FILE.gif
beside it with one frame per step.

A --conditional run draws classes too, and the .npz holds them under `labels` (int32 [N]):
`--labels=7` or `--labels=0,1,2` (indices or class names) picks the classes, which the
images cycle through (--num_images in all) or `--per_class=N` draws N of each, class by
class; without either, every class in turn. Its grid has one row per class (the first 16).
The export's `sample(labels, 0)` gives the same images for the same labels.
"""

import io

import numpy as np

from dcgan_dist import build
from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import interpolation, sampling
from dcgan_dist.programs import cli
from dcgan_dist.rundir import files, grids

FLAGS = ("workdir", "num_images", "output", "grid", "labels", "per_class", "seed",
         "truncation", "reject", "interpolate", "interpolation_steps", "verbose")


def generate(workdir, num_images, output, grid=False, labels=None, per_class=0, seed=0,
             truncation=0.0, reject=0.0):
    """Writes `output` (and its grid); returns the lines to print."""
    record, state = build.reopen(workdir)
    class_labels = sampling.choose_labels(labels, per_class, num_images, record.class_names)
    num_images = num_images if class_labels is None else len(class_labels)
    images_uint8 = to_uint8(sampling.generate(state.sampling_generator, num_images,
                                              record.config.model.noise_dim, seed=seed,
                                              labels=class_labels, truncation=truncation,
                                              discriminator=state.discriminator, reject=reject))
    arrays = {"images": images_uint8}
    if class_labels is not None:
        arrays["labels"] = class_labels
    buffer = io.BytesIO()  # zipfile seeks back while writing; GFile cannot
    np.savez_compressed(buffer, **arrays)
    files.write_atomic(output, buffer.getvalue())
    lines = [f"{output}: " + ", ".join(f"{name} {array.shape} {array.dtype}"
                                       for name, array in arrays.items())]
    if grid:
        path = output.rsplit(".", 1)[0] + ".png"
        files.write_atomic(path, grids.encode_png(grids.class_grid(images_uint8, class_labels)))
        lines.append(f"{path}: " + (f"{min(grids.GENERATED_COLUMNS ** 2, len(images_uint8))} "
                                    "images in a grid"
                                    if class_labels is None else "one row per class"))
    return lines


def interpolate(workdir, seeds, steps, output, labels=None, truncation=0.0):
    """Writes the strip `output` (.png) and the GIF beside it; returns the lines to print."""
    if not output.lower().endswith(".png"):
        raise UserError(f"--output={output} must be a .png with --interpolate (the strip; the "
                        "GIF goes beside it)")
    seeds = interpolation.parse_seeds(seeds)
    record, state = build.reopen(workdir)
    classes = sampling.choose_labels(labels, 1 if record.class_names else 0, 0,
                                     record.class_names)  # each class once; None unconditional
    z = interpolation.path_noise(seeds, steps, record.config.model.noise_dim, truncation)
    frames = to_uint8(interpolation.frames(state.sampling_generator, z, classes))
    rows = frames[:, None] if classes is None else frames  # [F, rows, H, W, C]
    strip = np.swapaxes(rows, 0, 1).reshape((-1,) + frames.shape[-3:])  # row by row
    files.write_atomic(output, grids.encode_png(grids.make_grid(strip, columns=len(frames))))
    gif = output[:-4] + ".gif"
    files.write_atomic(gif, grids.encode_gif([grids.make_grid(frame, columns=1)
                                              for frame in rows]))
    what = "one row" if classes is None else f"a row per class ({len(classes)})"
    return [f"{output}: seeds {', '.join(map(str, seeds))}, {len(frames)} frames, {what}",
            f"{gif}: {len(frames)} frames"]


def main(argv, flag_values):
    if argv[1:] or not flag_values.workdir or not flag_values.output:
        raise UserError("usage: dcgan-generate --workdir=W --num_images=N --output=FILE.npz "
                        "[--grid] [--seed=S] [--truncation=T] [--reject=R] [--labels=7|0,1,2] "
                        "[--per_class=N] | --interpolate=0,1,2 --output=FILE.png")
    if flag_values.interpolate:
        lines = interpolate(flag_values.workdir, flag_values.interpolate,
                            flag_values.interpolation_steps, flag_values.output,
                            flag_values.labels, flag_values.truncation)
    else:
        lines = generate(flag_values.workdir, flag_values.num_images, flag_values.output,
                         flag_values.grid, flag_values.labels, flag_values.per_class,
                         flag_values.seed, flag_values.truncation, flag_values.reject)
    print("\n".join(lines))


def run(argv=None):
    cli.run(main, "dcgan-generate", FLAGS, argv)


if __name__ == "__main__":
    run()
