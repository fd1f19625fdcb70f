"""The markdown report of benchmarks/throughput.py: what ran where, the table, and the notes
that turn images/s into fractions of what the machine can do."""

import statistics

from benchmarks.common import command_line, machine_line


# Rows computed in bfloat16 and the matmul rate that bounds them; other rows: "matmul".
LIMITS = {"h": "matmul_bf16"}


def spread(rates, scale=1.0):
    return f"{min(rates) / scale:.1f}–{max(rates) / scale:.1f}"


def flops_lines(flops):
    """How the FLOPs per training image were counted (see throughput_worker.count_flops)."""
    m = {k: v / 1e6 for k, v in flops.items() if k.endswith("flops")}
    total = m["fwd_flops"] + m["bwd_flops"]
    return [
        f"- Training FLOPs per image: **{total / 1e3:.3f} GFLOP**, counted from the models' "
        "layer shapes (2 × multiply-adds of the conv, transposed-conv and dense layers):",
        f"  - forward: G {m['g_fwd_flops']:.1f} M once + D {m['d_fwd_flops']:.1f} M twice "
        f"(real and generated images) = {m['fwd_flops']:.1f} M;",
        f"  - backward, a layer's input gradient and its weight gradient each ≈ its forward: "
        f"G 2·G less the first layer's input gradient (the noise; {m['g_first_flops']:.1f} M) + "
        f"D(real) and D(fake) for d_loss, 2·D each less the first layer's input gradient "
        f"({m['d_first_flops']:.1f} M) + D(fake) for g_loss, input gradients only, 1·D = "
        f"{m['bwd_flops']:.1f} M;",
        f"  - the issue's \"about 0.46\" checks out: it is 3·G + 7·D without the first-layer "
        f"savings ({(3 * m['g_fwd_flops'] + 7 * m['d_fwd_flops']) / 1e3:.3f}); the rule of "
        f"thumb 3 × forward would say {3 * m['fwd_flops'] / 1e3:.3f}. Left out: batch norm, "
        "activations, dropout, losses, Adam (together < 1%).",
    ]


def render(labels, rates, ready, memory, args, *, global_batch_size, other_cpu, load_at_start):
    """The whole report as markdown; `rates` maps variant key -> rate per repetition."""
    median = {key: statistics.median(r) for key, r in rates.items()}
    flops = ready["matmul"][0] if "matmul" in ready else None
    per_image = flops["fwd_flops"] + flops["bwd_flops"] if flops else None
    data = "synthetic images" if args.synthetic_data else f"MNIST from TFDS ({args.data_dir})"
    out = ["## dcgan-dist training throughput", "",
           f"Machine: {machine_line()}  ", f"Command: `{command_line()}`  ",
           f"Native bfloat16: **{'yes' if args.native_bf16[0] else 'no'}**, "
           f"{args.native_bf16[1]}.  ",
           f"Global batch {global_batch_size}, float32 unless the row says bfloat16, {data}. "
           f"{args.steps} timed steps per "
           f"repetition after tracing and {args.warmup_steps} warm-up step(s), "
           f"{args.repeats} repetition(s), variants round-robin. Each variant runs in its own "
           "process, so the 2-device CPU split of (e) and (g) does not touch the others.", "",
           "| variant | images/s (median) | min–max | × (a) | % of its matmul rate |",
           "|---|---:|---:|---:|---:|"]
    for key in "abcdefgh":
        matmul = LIMITS.get(key, "matmul")  # the matmul rate in the row's own precision
        if key in median:
            ratio = f"{median[key] / median['a']:.2f}" if "a" in median else "–"
            limit = (f"{100 * per_image * median[key] / median[matmul]:.0f}%"
                     if flops and matmul in median else "–")
            out.append(f"| {labels[key]} | {median[key]:.1f} | {spread(rates[key])} | {ratio} "
                       f"| {limit} |")
        elif key in LIMITS and not args.native_bf16[0]:
            out.append(f"| {labels[key]} | not timed: bfloat16 is emulated here | – | – | – |")
    dcgan = [k for k in median if k.startswith("dcgan")]
    if dcgan:
        out += ["", "The DCGAN paper's networks (`--architecture=dcgan`, configs/dcgan.cfg "
                "widths: g_filters = d_filters = 64), synthetic one-channel images resized as "
                "MNIST would be, against (c):", "",
                "| variant | images/s (median) | min–max | × (c) | GFLOP/image | "
                "% of matmul rate |", "|---|---:|---:|---:|---:|---:|"]
        for key in dcgan:
            own = ready[key][0]
            own_flops = own["fwd_flops"] + own["bwd_flops"]
            ratio = f"{median[key] / median['c']:.2f}" if "c" in median else "–"
            limit = (f"{100 * own_flops * median[key] / median['matmul']:.0f}%"
                     if "matmul" in median else "–")
            out.append(f"| {labels[key]} | {median[key]:.1f} | {spread(rates[key])} | {ratio} "
                       f"| {own_flops / 1e9:.2f} | {limit} |")
    if "bn_replica" in median and "bn_sync" in median:
        out += ["", "Synchronised batch norm (configs/celeba64_gpus.cfg): the 64 px networks "
                "under Mirrored on 2 logical CPUs, synthetic data:", "",
                "| variant | images/s (median) | min–max |", "|---|---:|---:|"]
        out += [f"| {labels[k]} | {median[k]:.1f} | {spread(rates[k])} |"
                for k in ("bn_replica", "bn_sync")]
        cost = 100 * (1 - median["bn_sync"] / median["bn_replica"])
        out.append(f"\n- --sync_batchnorm costs **{cost:.1f}%** of the step here (an all-reduce "
                   "of each BN layer's mean and variance per step).")
    out.append("")
    if "b" in median and "c" in median:
        note = " (meaningless here: --synthetic_data feeds both)" if args.synthetic_data else ""
        out.append(f"- Input-pipeline overhead, 1 − (b)/(c): "
                   f"{100 * (1 - median['b'] / median['c']):.1f}%{note}.")
    if flops:
        out += flops_lines(flops)
    if "matmul" in median:
        out.append(f"- float32 `tf.matmul` 2048×2048 ({args.matmul_reps} per repetition): "
                   f"{median['matmul'] / 1e9:.1f} GFLOP/s (min–max "
                   f"{spread(rates['matmul'], 1e9)}), the limit in the last column: "
                   "FLOPs/image × images/s ÷ this rate.")
    if "matmul_bf16" in median:
        ratio = (f", {median['matmul_bf16'] / median['matmul']:.2f}× float32's"
                 if "matmul" in median else "")
        out.append(f"- bfloat16 `tf.matmul` 2048×2048: {median['matmul_bf16'] / 1e9:.1f} GFLOP/s "
                   f"(min–max {spread(rates['matmul_bf16'], 1e9)}){ratio}: the limit of the "
                   "bfloat16 rows.")
    elif not args.native_bf16[0]:
        out.append(f"- bfloat16 `tf.matmul` and (h) were not timed: {args.native_bf16[1]}, so "
                   "bfloat16 is emulated and --precision=auto picks float32.")
    out.append(f"- Other processes used {100 * other_cpu:.1f}% of the machine's CPU while "
               f"variants were timed (1-min load average {load_at_start:.1f} at the start); "
               "more than a few percent means the numbers above are disturbed.")
    if "w1" in median and "w2" in median:
        out += ["", "Multi-worker weak scaling: MultiWorkerMirroredStrategy on 127.0.0.1 "
                f"(TF_CONFIG), synthetic data, per-worker batch {args.scaling_batch}, each worker "
                "pinned to its own core with 1 intra-op and 1 inter-op thread. The 1-worker "
                "baseline is MultiWorkerMirroredStrategy with a 1-worker TF_CONFIG.", "",
                "| workers | images/s (median) | min–max |", "|---:|---:|---:|",
                f"| 1 | {median['w1']:.1f} | {spread(rates['w1'])} |",
                f"| 2 | {median['w2']:.1f} | {spread(rates['w2'])} |", "",
                f"- Efficiency, 2-worker ÷ (2 × 1-worker): "
                f"**{100 * median['w2'] / (2 * median['w1']):.0f}%**."]
    if memory:
        out.append(f"- Peak resident memory of the CPU smoke run (`dcgan-train --flagfile="
                   f"configs/cpu_smoke.cfg --train_steps={args.memory_steps}`, its own batch): "
                   f"**{memory[0]:.0f} MiB** ({memory[1]:.0f} s).")
    return "\n".join(out)
