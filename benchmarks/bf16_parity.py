"""Quality parity of bfloat16 and float32: configs/mnist_fast.cfg at equal steps, two seeds each.

    .venv/bin/python -m benchmarks.bf16_parity      # ~1 h with native bf16
    .venv/bin/python -m benchmarks.bf16_parity --steps=20 --num_images=500

Trains mnist_fast.cfg four times, --precision=float32 and --precision=mixed_bfloat16 with
--seed=0 and 1, each to the same --steps (its learning-rate decay fitted to them), one at a
time, and scores each last checkpoint with the package's evaluation classifier (as
quality.py does). The verdict follows issue 16's rule: bf16 may be the CPU default only if
its scores are within the spread of float32's, that is, its mean is at least float32's worst
seed. Where the CPU has no native bf16 (benchmarks/throughput.py says), bf16 is emulated and
about 10x slower, so this is a check of the script there, not a measurement.
"""

import argparse
import os
import statistics

from benchmarks import quality
from benchmarks.common import REPO, add_data_dir, command_line, machine_line, require_mnist

PRECISIONS = ("float32", "mixed_bfloat16")
SEEDS = (0, 1)


def verdict(scores):
    """scores: {precision: [classifier score per seed]} -> one line that says whether bf16
    is within float32's spread."""
    f32, bf16 = scores["float32"], scores["mixed_bfloat16"]
    within = statistics.mean(bf16) >= min(f32)
    return (f"float32 {min(f32):.2f}-{max(f32):.2f} (mean {statistics.mean(f32):.2f}), bf16 "
            f"{min(bf16):.2f}-{max(bf16):.2f} (mean {statistics.mean(bf16):.2f}): bf16 is "
            + ("within float32's spread" if within else "below float32's spread: keep float32"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir(parser)
    parser.add_argument("--workroot", default="/tmp/dcgan_parity")
    parser.add_argument("--steps", type=int, default=30000, help="training steps of every run")
    parser.add_argument("--num_images", type=int, default=10000)
    parser.add_argument("--config", default="configs/mnist_fast.cfg")
    args = parser.parse_args()
    require_mnist(args.data_dir)
    if os.path.exists(args.workroot):
        parser.error(f"{args.workroot} exists: remove it or choose another --workroot")
    os.makedirs(args.workroot)
    # score_run scores the last checkpoint within the report time: no limit here.
    args.report_minutes, args.limit_minutes = [1e8], {}
    runs = []
    for precision in PRECISIONS:
        for seed in SEEDS:
            name = f"{precision}_seed{seed}"
            flagfile = os.path.join(args.workroot, f"{name}.cfg")
            with open(flagfile, "w") as f:
                f.write(f"--flagfile={os.path.join(REPO, args.config)}\n"
                        f"--precision={precision}\n--seed={seed}\n--train_steps={args.steps}\n")
            workdir = os.path.join(args.workroot, name)
            quality.train(name, workdir, flagfile, None, max(args.steps // 10, 1), args)
            runs.append((precision, seed, name, workdir))

    from dcgan_dist.rundir import progress
    evaluator = quality.mnist_evaluator(args.data_dir)
    print(f"Machine: {machine_line()}  ")
    print(f"Command: `{command_line()}`  ")
    print(f"{args.config} to {args.steps} steps; {args.num_images} generated images scored by "
          f"classifier {evaluator.networks[0].info.get('sha256')}.\n")
    print("| precision | seed | steps | minutes | images/s (median) | classifier score "
          "| Frechet distance |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    scores = {p: [] for p in PRECISIONS}
    for precision, seed, name, workdir in runs:
        rows = quality.score_run(name, workdir, evaluator, args)
        if not rows or rows[-1][2] != args.steps:
            raise SystemExit(f"{name} did not reach step {args.steps}: see {workdir}.log")
        _, minutes, step, s = rows[-1]
        rate = statistics.median(r["images_per_sec"] for r in progress.read_stats(workdir))
        scores[precision].append(s["classifier_score"])
        print(f"| {precision} | {seed} | {step} | {minutes:.1f} | {rate:,.0f} | "
              f"{s['classifier_score']:.2f} | {s['frechet_distance']:.2f} |")
    print(f"\n{verdict(scores)}.")


if __name__ == "__main__":
    main()
