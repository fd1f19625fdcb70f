"""`dcgan-generate --workdir=W --num_images=N --output=FILE.npz [--grid]`: images from a run.

The sampling generator (the EMA one when the run kept one) of W's latest checkpoint, on noise
from the run's EVAL_NOISE stream (seed 0): uint8 images under the key `images`, shape
N x H x W x C, and with --grid an 8x8 PNG beside the file. The export's `sample(N, 0)` gives
the same images.

A --conditional run draws classes too, and the .npz holds them under `labels` (int32 [N]):
`--labels=7` or `--labels=0,1,2` (indices or class names) picks the classes, which the
images cycle through (--num_images in all) or `--per_class=N` draws N of each, class by
class; without either, every class in turn. Its grid has one row per class (the first 16).
The export's `sample(labels, 0)` gives the same images for the same labels.
"""

import io

import numpy as np

from dcgan_dist import cli
from dcgan_dist.data.images import to_uint8
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import sampling
from dcgan_dist.rundir import files, grids, reopen, runinfo

GRID_MAX_CLASSES = 16  # rows of a conditional run's grid
GRID_PER_CLASS = 8


def _class_index(item, class_names):
    """One --labels entry: a class index or a class name -> its index."""
    if item in class_names:
        return class_names.index(item)
    if item.lstrip("-").isdigit() and 0 <= int(item) < len(class_names):
        return int(item)
    shown = ", ".join(class_names[:10]) + (", ..." if len(class_names) > 10 else "")
    raise UserError(f"--labels={item} is not a class of this run: it has {len(class_names)} "
                    f"classes, 0-{len(class_names) - 1} ({shown})")


def choose_labels(labels, per_class, num_images, class_names):
    """The class of every image to generate (int32 [N]), from --labels, --per_class and
    --num_images; None for an unconditional run, which takes neither flag."""
    if not class_names:
        if labels or per_class:
            flag = "--labels" if labels else "--per_class"
            raise UserError(f"{flag} needs a --conditional run; this run was trained without "
                            "classes")
        return None
    if per_class < 0:
        raise UserError(f"--per_class={per_class} must not be negative")
    items = [item.strip() for item in labels.split(",")] if labels else []
    classes = ([_class_index(item, class_names) for item in items] if items
               else list(range(len(class_names))))
    if per_class:
        return np.repeat(np.array(classes, np.int32), per_class)
    return np.array(classes, np.int32)[np.arange(num_images) % len(classes)]


def _grid(images, labels):
    """8x8 of the first images; for classes, one row per class of up to 8 of its images."""
    if labels is None:
        return grids.make_grid(images[:64], columns=8, scale=2)
    rows = list(dict.fromkeys(labels.tolist()))[:GRID_MAX_CLASSES]  # in order of appearance
    blank = np.full_like(images[0], -1.0)  # a short row is padded with black
    tiles = []
    for label in rows:
        chosen = images[labels == label][:GRID_PER_CLASS]
        tiles += list(chosen) + [blank] * (GRID_PER_CLASS - len(chosen))
    return grids.make_grid(np.stack(tiles), columns=GRID_PER_CLASS, scale=2)


def generate(workdir, num_images, output, grid=False, labels=None, per_class=0):
    """Writes `output` (and its grid); returns the lines to print."""
    config, state = reopen.restore_run(workdir)
    class_labels = choose_labels(labels, per_class, num_images,
                                 runinfo.read(workdir).class_names if state.num_classes else ())
    num_images = num_images if class_labels is None else len(class_labels)
    images = sampling.generate(state.sampling_generator, num_images, config.noise_dim,
                               labels=class_labels)
    images_uint8 = to_uint8(images)
    arrays = {"images": images_uint8}
    if class_labels is not None:
        arrays["labels"] = class_labels
    buffer = io.BytesIO()  # zipfile seeks back while writing; GFile cannot
    np.savez_compressed(buffer, **arrays)
    files.write_atomic(output, buffer.getvalue())
    lines = [f"{output}: " + ", ".join(f"{name} {array.shape} {array.dtype}"
                                       for name, array in arrays.items())]
    if grid:
        grid_uint8 = _grid(images, class_labels)
        path = output.rsplit(".", 1)[0] + ".png"
        files.write_atomic(path, grids.encode_png(grid_uint8))
        lines.append(f"{path}: " + (f"{min(64, len(images))} images in a grid"
                                    if class_labels is None else "one row per class"))
    return lines


def main(argv, flag_values):
    if argv[1:] or not flag_values.workdir or not flag_values.output:
        raise UserError("usage: dcgan-generate --workdir=W --num_images=N --output=FILE.npz "
                        "[--grid] [--labels=7|0,1,2] [--per_class=N]")
    print("\n".join(generate(flag_values.workdir, flag_values.num_images, flag_values.output,
                             flag_values.grid, flag_values.labels, flag_values.per_class)))


def run(argv=None):
    cli.run(main, "dcgan-generate", argv)


if __name__ == "__main__":
    run()
