"""dcgan-dist's dcgan step against its PyTorch peer, on the same CPU in one run.

    .venv/bin/python -m benchmarks.peer --torch_python=/work/venv-torch/bin/python

The peer is pytorch/examples `dcgan/main.py`: its networks and its training step (one D then
one G update, BCE, Adam), ngf = ndf = 64, batch 64, float32, one batch of random images held
in memory (benchmarks/peer_torch.py). dcgan-dist's side is what `dcgan-train
--architecture=dcgan --image_size=N --g_filters=64 --d_filters=64 --d_dropout=0
--global_batch_size=64 --precision=float32 --synthetic_data` runs: the run dcgan-train
builds (build.build_run), its step timed without the outer loop (throughput_worker.py's
"package" worker), with the dataset's channels
(MNIST's one; --dataset=cifar10 for three) on both sides. Each side trains the same networks
(peer_torch.py's docstring) at 32 and 64 px, and at 32 px also with a generator half as wide.

Beside them, the machine's float32 limit: the best 2048x2048 float32 GEMM of every library
installed here (tf.matmul, NumPy's BLAS, torch.mm). Every variant is its own process, built
and warmed up once; then they take turns, round-robin (throughput.py's `measure`). torch is
never a dependency of dcgan-dist: it lives in its own environment (`python3 -m venv
/work/venv-torch && /work/venv-torch/bin/pip install torch==2.13.0`), named by --torch_python.
"""

import argparse
import os
import statistics
import tempfile

from benchmarks import throughput
from benchmarks.common import add_data_dir, command_line, machine_line, progress

GLOBAL_BATCH_SIZE = 64  # pytorch/examples' --batchSize
WIDTH = 64              # its --ngf and --ndf, and configs/dcgan.cfg's widths
# (side, generator width): the same networks on both sides at each. (32, 32) is the 32 px
# network this benchmark's peer trained until 2026-12-02 (its generator from 4 * 64
# channels), which dcgan-dist trains with --g_filters=32.
VARIANTS = ((32, WIDTH), (32, WIDTH // 2), (64, WIDTH))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_dir(parser)
    parser.add_argument("--torch_python", required=True,
                        help="a Python with torch installed (its own virtual environment)")
    parser.add_argument("--dataset", default="mnist",
                        help="whose image shape both sides train on (mnist: 1 channel, "
                             "cifar10: 3); only its metadata is read")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repetition")
    parser.add_argument("--warmup_steps", type=int, default=3,
                        help="untimed steps after building (and tracing), before timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per variant")
    parser.add_argument("--matmul_reps", type=int, default=10,
                        help="2048x2048 matmuls timed per repetition")
    parser.add_argument("--baseline_repo", default="",
                        help="also time dcgan-dist's step from this checkout of the repository "
                             "(e.g. the commit before a change), with this environment")
    parser.add_argument("--skip", default="", help="comma-separated variant keys not to run")
    parser.add_argument("--precision", default="float32",
                        help="dcgan-dist's --precision (PyTorch's side stays float32)")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    args.data_dir = os.path.abspath(args.data_dir)
    return args


def make_groups(args):
    """[(key, label, [(worker spec, extra env)])], as throughput.measure takes them."""
    timing = {"steps": args.steps, "warmup_steps": args.warmup_steps}
    channels = 3 if args.dataset == "cifar10" else 1
    torch_spec = dict(timing, python=args.torch_python, module="benchmarks.peer_torch",
                      batch=GLOBAL_BATCH_SIZE, channels=channels, ngf=WIDTH, ndf=WIDTH)
    matmul = dict(kind="matmul", steps=args.matmul_reps, warmup_steps=0)
    groups = [
        ("mm_tf", "tf.matmul", [(matmul, {})]),
        ("mm_numpy", "NumPy `@`", [(dict(matmul, library="numpy"), {})]),
        ("mm_torch", "torch.mm", [(dict(matmul, python=args.torch_python,
                                        module="benchmarks.peer_torch", size=2048), {})]),
    ]
    for side, g_width in VARIANTS:
        name = variant_name(side, g_width)
        what = f"{side} px" + ("" if g_width == WIDTH else f", G width {g_width}")
        package = dict(timing, kind="package", data_dir=args.data_dir, synthetic_data=True,
                       global_batch_size=GLOBAL_BATCH_SIZE, overrides={
                           "strategy": "cpu", "dataset": args.dataset, "architecture": "dcgan",
                           "image_size": side, "g_filters": g_width, "d_filters": WIDTH,
                           "d_dropout": 0.0, "precision": args.precision})
        groups.append((f"torch{name}", f"PyTorch peer (pytorch/examples dcgan) at {what}",
                       [(dict(torch_spec, kind="dcgan", side=side, ngf=g_width), {})]))
        groups.append((f"tf{name}", f"dcgan-dist at {what}", [(package, {})]))
        if args.baseline_repo:
            groups.append((f"base{name}", f"dcgan-dist at {what} from {args.baseline_repo}",
                           [(dict(package, cwd=os.path.abspath(args.baseline_repo)), {})]))
    return [g for g in groups if g[0] not in args.skip]


def variant_name(side, g_width):
    return f"{side}" if g_width == WIDTH else f"{side}g{g_width}"


def step_flops(key, name, ready):
    """Training FLOPs per image of a variant's step, from dcgan-dist's layer count (the
    same networks on both sides). PyTorch's step (main.py's) does more: a third D forward
    (D on the fakes again for G's loss) and D's weight gradients in G's backward."""
    info = ready[f"tf{name}"][0] if f"tf{name}" in ready else {}
    flops = info.get("fwd_flops", 0) + info.get("bwd_flops", 0)
    if key.startswith("torch") and flops:
        flops += 2 * info["d_fwd_flops"]  # one more D forward, one more weight gradient
    return flops


def render(groups, rates, ready, args, other_cpu, load_at_start):
    """The markdown report: the limit rows, then each side at each size with its ratios."""
    labels = {key: label for key, label, _ in groups}
    median = {key: statistics.median(r) for key, r in rates.items()}
    spread = {key: f"{min(r):.1f}–{max(r):.1f}" for key, r in rates.items()}
    limits = {k: median[k] / 1e9 for k in ("mm_tf", "mm_numpy", "mm_torch") if k in median}
    limit = max(limits.values()) if limits else None
    channels = 3 if args.dataset == "cifar10" else 1
    precision = ("float32 everywhere" if args.precision == "float32" else
                 f"dcgan-dist --precision={args.precision}, PyTorch float32")
    out = ["## dcgan-dist's dcgan step against pytorch/examples' dcgan", "",
           f"Machine: {machine_line()}  ",
           f"torch: {ready['torch64'][0]['torch_version'] if 'torch64' in ready else '–'} "
           f"({ready['torch64'][0]['threads'] if 'torch64' in ready else '–'} threads)  ",
           f"Command: `{command_line()}`  ",
           f"{precision}, batch {GLOBAL_BATCH_SIZE}, widths {WIDTH}, {channels}-channel "
           f"random images held in memory ({args.dataset}'s shape), {args.steps} timed steps per "
           f"repetition after {args.warmup_steps} warm-up step(s), {args.repeats} repetitions, "
           "variants round-robin, each in its own process.", "",
           "| float32 2048×2048 GEMM | GFLOP/s (median) | min–max |", "|---|---:|---:|"]
    for key, rate in limits.items():
        lo, hi = (x / 1e9 for x in (min(rates[key]), max(rates[key])))
        out.append(f"| {labels[key]} | {rate:.1f} | {lo:.1f}–{hi:.1f} |")
    out += ["", "| variant | images/s (median) | min–max | × PyTorch | GFLOP/image | "
            "% of the float32 limit |", "|---|---:|---:|---:|---:|---:|"]
    for side, g_width in VARIANTS:
        name = variant_name(side, g_width)
        for key in (f"torch{name}", f"tf{name}", f"base{name}"):
            if key not in median:
                continue
            flops = step_flops(key, name, ready)
            ratio = (f"{median[key] / median[f'torch{name}']:.2f}"
                     if f"torch{name}" in median else "–")
            share = f"{100 * flops * median[key] / 1e9 / limit:.0f}%" if flops and limit else "–"
            out.append(f"| {labels[key]} | {median[key]:.1f} | {spread[key]} | {ratio} | "
                       f"{flops / 1e9 if flops else float('nan'):.2f} | {share} |")
    out += ["", f"- The limit is the best GEMM above ({limit or 0:.1f} GFLOP/s). GFLOP/image is "
            "each step's work counted from dcgan-dist's layer shapes (throughput_worker."
            "count_flops; the same networks on both sides); PyTorch's step does more for the "
            "same images (a third D forward, and D's weight gradients in G's backward).",
            f"- Other processes used {100 * other_cpu:.1f}% of the machine's CPU while variants "
            f"were timed (1-min load average {load_at_start:.1f} at the start)."]
    return "\n".join(out)


def main():
    args = parse_args()
    load_at_start = os.getloadavg()[0]
    groups = make_groups(args)
    with tempfile.TemporaryDirectory(prefix="dcgan-peer-") as tmp:
        rates, ready, other_cpu = throughput.measure(groups, args, tmp)
    progress("done")
    print(render(groups, rates, ready, args, other_cpu, load_at_start))


if __name__ == "__main__":
    main()
