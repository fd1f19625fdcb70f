"""Your own few hundred images: real MNIST digits as folders of PNG files, prepared as a person
would, trained with each --augment, and the discriminator's memorising measured.

    .venv/bin/python -m benchmarks.small_folders prepare --data_dir=DATA --workroot=DIR
    .venv/bin/python -m benchmarks.quality --data_dir=DATA --workroot=DIR/runs \\
        --run=d500_none=DIR/d500_none.cfg:15 ...            # the commands `prepare` prints
    .venv/bin/python -m benchmarks.small_folders heldout --data_dir=DATA --workroot=DIR
    .venv/bin/python -m benchmarks.small_folders throughput --data_dir=DATA --workroot=DIR

`prepare` writes folders of 200, 500 and 2,000 training digits (nested: the 200 are among the
500, which are among the 2,000; drawn with a fixed seed from MNIST's training split) and a
folder of 2,000 other training digits that no run sees (`heldout`), each as `digit_NNNNN.png`;
prepares each with `dcgan-data prepare folder --image_size=32` (a subprocess, as printed
there), and writes one flagfile per (size, augment) run beside them: configs/folder32.cfg
with --dataset and --augment set (RESULTS_small_folders.md was measured with folder32 as it
was before 2026-12-06: the paper's networks at width 16; it now has mnist_fast's). `--ceiling` also makes all 60,000 training digits a folder
the same way, with one run (`none`, the 15-minute budget of the 500-digit runs): what the
small folders are measured against.

`heldout` reopens every kept checkpoint of those runs and reports, over training time, the
share of real digits the discriminator calls real (logit > 0, inference mode) among its own
training digits and among the held-out ones. A discriminator that memorises its training set
calls those real and the held-out ones fake: the gap is how much it memorised, and so is the
AUC of its logits, training digits against held-out ones (0.5: nothing memorised), which
does not depend on the threshold. StyleGAN2-ADA (Karras et al. 2020, fig. 1c) shows the same
with a validation set.
"""

import argparse
import glob
import os
import subprocess
import sys

import numpy as np

from benchmarks.common import REPO, add_data_dir, command_line, machine_line, progress

SIZES = (200, 500, 2000)
HELDOUT = 2000
AUGMENTS = ("none", "diffaugment", "ada")
SEED = 26  # which training digits go into the folders
IMAGE_SIZE = 32
# A 15-minute CPU run shows ~450,000 images: at StyleGAN2-ADA's 500 kimg per unit of p, p
# could not reach 1 within it even if the discriminator memorised from the start.
ADA_FLAGS = {"ada": "--ada_kimg=100\n"}
# --ceiling's run: the steps folder32 makes here in 15 minutes, as the 500-digit runs had.
CEILING_STEPS = 33000


def dataset_name(size):
    return f"mnist_digits{size}"


def train_digits(data_dir):
    """MNIST's training images (uint8 [N, 28, 28]) in TFDS's order."""
    import tensorflow_datasets as tfds
    ds = tfds.load("mnist", split="train", data_dir=data_dir, download=False, batch_size=-1)
    return tfds.as_numpy(ds)["image"][..., 0]


def write_folder(folder, digits, indices):
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    for index in indices:
        Image.fromarray(digits[index]).save(os.path.join(folder, f"digit_{index:05d}.png"))


def _flagfile(args, size, aug, count, extra, note=""):
    """Writes run d{size}_{aug}'s flagfile (folder32.cfg on that folder) and returns the
    quality.py --run argument that trains it."""
    path = os.path.join(args.workroot, f"d{size}_{aug}.cfg")
    with open(path, "w") as f:
        f.write(f"# {count} MNIST training digits as a prepared folder, --augment={aug}{note}\n"
                f"--flagfile={REPO}/configs/folder32.cfg\n"
                f"--dataset={dataset_name(size)}\n--augment={aug}\n" + extra)
    return f"--run=d{size}_{aug}={path}:{args.minutes:g}"


def prepare(args):
    os.makedirs(args.workroot, exist_ok=True)  # its flagfiles, even when every folder is ready
    digits = train_digits(args.data_dir)
    order = np.random.default_rng(SEED).permutation(len(digits))
    folders = {size: order[:size] for size in SIZES}
    folders["heldout"] = order[max(SIZES):max(SIZES) + HELDOUT]  # in no folder above
    if args.ceiling:
        folders[len(digits)] = order
    for key, indices in folders.items():
        name = dataset_name(key)
        source = os.path.join(args.workroot, "folders", name)
        if os.path.exists(os.path.join(args.data_dir, name)):
            progress(f"{name}: already prepared in {args.data_dir}")
            continue
        write_folder(source, digits, indices)
        command = [os.path.join(os.path.dirname(sys.executable), "dcgan-data"), "prepare",
                   "folder", f"--source={source}", f"--name={name}",
                   f"--data_dir={args.data_dir}", f"--image_size={IMAGE_SIZE}"]
        progress(" ".join(command))
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        print(out.strip(), file=sys.stderr)
    runs = [_flagfile(args, size, aug, f"{size}", ADA_FLAGS.get(aug, ""))
            for size in SIZES for aug in AUGMENTS]
    if args.ceiling:
        runs.append(_flagfile(args, len(digits), "none", f"all {len(digits)}",
                              f"--train_steps={CEILING_STEPS}\n", ": the ceiling"))
    print("Train and score with, for example:\n"
          f"{sys.executable} -m benchmarks.quality --data_dir={args.data_dir} "
          f"--workroot={args.workroot}/runs --num_images=5000 --report_minutes=5,10,15 "
          + " ".join(runs))


def _logits(discriminator, images):
    """The discriminator's logits for `images` (float [-1, 1]), in inference mode."""
    return np.concatenate([discriminator(images[i:i + 500], training=False).numpy()[:, 0]
                           for i in range(0, len(images), 500)])


def _auc(train_logits, held_logits):
    """P(a training digit scores above a held-out one): 0.5 = nothing memorised, 1 = all.
    Unlike the accuracies it does not depend on where the threshold 0 falls, which moves
    with the batch-norm statistics from one checkpoint to the next."""
    above = train_logits[:, None] > held_logits[None, :]
    ties = train_logits[:, None] == held_logits[None, :]
    return float(np.mean(above + 0.5 * ties))


def _prepared(data_dir, name):
    from dcgan_dist.evaluation import reals
    ds = reals.batches(data_dir, name, "train", (IMAGE_SIZE, IMAGE_SIZE, 1))
    return np.concatenate([b.numpy() for b in ds])


def heldout(args):
    import tensorflow as tf
    from dcgan_dist import build
    from dcgan_dist.rundir import progress as run_progress
    held = _prepared(args.data_dir, dataset_name("heldout"))
    print(f"Machine: {machine_line()}\nCommand: `{command_line()}`\n")
    print("Share of real digits the discriminator calls real (logit > 0, inference mode): "
          f"its training digits against {len(held)} held-out training digits of MNIST that "
          "no run saw; the gap is what it memorised.\n")
    print("| run | minutes | step | train digits called real | held-out called real | gap | "
          "AUC train vs held-out |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for workdir in sorted(d for d in glob.glob(os.path.join(args.workroot, "runs", "d*_*"))
                          if os.path.isdir(d)):
        name = os.path.basename(workdir)
        if args.runs and name not in args.runs.split(","):
            continue
        size = int(name[1:].split("_")[0])
        if size not in SIZES:  # the ceiling's folder holds the held-out digits too
            continue
        train = _prepared(args.data_dir, dataset_name(size))
        elapsed = {r["step"]: r["elapsed_secs"] for r in run_progress.read_stats(workdir)}
        ckpts = tf.train.get_checkpoint_state(f"{workdir}/ckpt").all_model_checkpoint_paths
        steps = sorted(int(p.rsplit("-", 1)[1]) for p in ckpts)
        picked = [s for s in steps if s in elapsed]
        picked = [picked[i] for i in sorted({round(k * (len(picked) - 1) / (args.points - 1))
                                             for k in range(args.points)})] if picked else []
        for step in picked:
            _, state = build.restore_run(workdir, step=step)
            l_train, l_held = _logits(state.discriminator, train), _logits(state.discriminator, held)
            a_train, a_held = float(np.mean(l_train > 0)), float(np.mean(l_held > 0))
            print(f"| {name} | {elapsed[step] / 60:.1f} | {step} | {a_train:.3f} | "
                  f"{a_held:.3f} | {a_train - a_held:+.3f} | {_auc(l_train, l_held):.3f} |",
                  flush=True)


def throughput(args):
    """The folder config as `prepare folder` prints it, on the 500-digit folder, for
    --minutes of wall clock with its step budget raised so the schedules run the whole time:
    images/s per window of 2,000 steps, each including the grids, GIF rewrites and
    checkpoints that fell in it."""
    import json
    from benchmarks.common import train
    workdir = os.path.join(args.workroot, "runs", "throughput500")
    train("throughput500", os.path.join(args.workroot, "throughput500.log"), [
        f"--flagfile={REPO}/configs/folder32.cfg", f"--dataset={dataset_name(500)}",
        f"--data_dir={args.data_dir}", f"--workdir={workdir}", "--train_steps=1000000"],
        args.minutes)
    with open(os.path.join(workdir, "stats.jsonl")) as f:
        elapsed = {r["step"]: r["elapsed_secs"] for r in map(json.loads, f)}
    rates = [(step, 2000 * 32 / (elapsed[step] - elapsed[step - 2000]))
             for step in sorted(elapsed) if step % 2000 == 0 and step - 2000 in elapsed]
    print(f"Machine: {machine_line()}\nCommand: `{command_line()}`\n")
    print("| steps | minutes | images/s over the last 2,000 steps | vs the first window |")
    print("|---:|---:|---:|---:|")
    for step, rate in rates:
        print(f"| {step} | {elapsed[step] / 60:.1f} | {rate:.0f} | {rate / rates[0][1] - 1:+.1%} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir(parser)
    parser.add_argument("what", choices=("prepare", "heldout", "throughput"))
    parser.add_argument("--workroot", default="/tmp/dcgan_small_folders")
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--ceiling", action="store_true",
                        help="prepare: also all 60,000 training digits as a folder, one run")
    parser.add_argument("--runs", default="", metavar="NAME[,NAME]",
                        help="heldout: only these runs (default: every d* run in WORKROOT/runs)")
    parser.add_argument("--points", type=int, default=6,
                        help="heldout: checkpoints per run, spread over its time")
    args = parser.parse_args()
    args.data_dir, args.workroot = os.path.abspath(args.data_dir), os.path.abspath(args.workroot)
    {"prepare": prepare, "heldout": heldout, "throughput": throughput}[args.what](args)


if __name__ == "__main__":
    main()
