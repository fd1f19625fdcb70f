"""Training throughput on this machine, every variant side by side in one invocation.

    .venv/bin/python benchmarks/throughput.py --data_dir=data            # ~10-15 min on 2 cores
    .venv/bin/python benchmarks/throughput.py --data_dir=data --quick    # smoke check, ~3 min

Every variant runs in its own worker process (throughput_worker.py), built, traced and warmed
up once; then the variants take turns, round-robin, each timing --steps steps per turn, for
--repeats turns, so slow drift of the machine (thermal, other load) spreads over all of them
instead of biasing whichever ran last. Idle workers wait on stdin and use no CPU. Progress
goes to stderr, the markdown report to stdout.
"""

import argparse
import glob
import importlib.metadata
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "throughput_worker.py")
GLOBAL_BATCH_SIZE = 256  # the tutorial's
STARTED = time.monotonic()


def progress(message):
    print(f"[{time.monotonic() - STARTED:6.0f}s] {message}", file=sys.stderr, flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default="data", help="TFDS directory with mnist prepared")
    parser.add_argument("--synthetic_data", action="store_true",
                        help="random images instead of MNIST everywhere (no prepared data needed)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repetition")
    parser.add_argument("--warmup_steps", type=int, default=3,
                        help="untimed steps after tracing, before the first repetition")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions per variant")
    parser.add_argument("--steps_per_execution", type=int, default=10, help="for variant (f)")
    parser.add_argument("--scaling_batch", type=int, default=128,
                        help="per-worker batch of the multi-worker weak-scaling runs")
    parser.add_argument("--matmul_reps", type=int, default=10,
                        help="2048x2048 matmuls timed per repetition")
    parser.add_argument("--memory_steps", type=int, default=20, help="steps of the memory run")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 2 timed steps, 1 warm-up, 1 repetition, no memory run")
    parser.add_argument("--skip", default="", help="comma-separated: a,b,c,d,e,f,g,matmul,"
                        "scaling,memory")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.quick:
        args.steps, args.warmup_steps, args.repeats, args.matmul_reps = 2, 1, 1, 3
        args.skip.add("memory")
    args.data_dir = os.path.abspath(args.data_dir)  # workers and the memory run use other cwds
    return args


def make_groups(args):
    """[(key, label, [(worker spec, extra env)])]: a group times its workers together."""
    common = {"data_dir": args.data_dir, "steps": args.steps, "warmup_steps": args.warmup_steps,
              "synthetic_data": args.synthetic_data, "global_batch_size": GLOBAL_BATCH_SIZE}
    spe = min(args.steps_per_execution, args.steps)

    def package(**overrides):
        spec = dict(common, kind="package", overrides={"strategy": "cpu"})
        if overrides.pop("synthetic_data", False):
            spec["synthetic_data"] = True
        spec.update(steps=overrides.pop("steps", args.steps))
        spec["overrides"].update(overrides)
        return [(spec, {})]

    mirrored = {"strategy": "mirrored", "num_cpu_devices": 2}
    groups = [
        ("matmul", "float32 matmul 2048x2048", [(dict(
            kind="matmul", steps=args.matmul_reps, warmup_steps=0), {})]),
        ("a", "(a) the TF tutorial's loop and tf.data pipeline", [(dict(common, kind="tutorial"),
                                                                  {})]),
        ("b", "(b) dcgan-dist, OneDeviceStrategy (CPU)", package()),
        ("c", "(c) (b) with synthetic_data", package(synthetic_data=True)),
        ("d", "(d) (b) with jit_compile", package(jit_compile=True)),
        ("e", "(e) (b) under Mirrored, 2 logical CPUs", package(**mirrored)),
        # Timed steps rounded up to whole executions.
        ("f", f"(f) (b) with steps_per_execution={spe}", package(
            steps_per_execution=spe, steps=-(-args.steps // spe) * spe)),
        ("g", "(g) (e) with jit_compile", package(**mirrored, jit_compile=True)),
    ]
    cores = sorted(os.sched_getaffinity(0))
    if "scaling" not in args.skip and len(cores) < 2:
        progress("fewer than 2 usable cores: skipping the multi-worker scaling runs")
        args.skip.add("scaling")
    if "scaling" not in args.skip:
        for num_workers in (1, 2):
            hosts = [f"127.0.0.1:{port}" for port in free_ports(num_workers)]
            workers = []
            for index in range(num_workers):
                spec = dict(common, kind="package", synthetic_data=True, one_thread=True,
                            core=cores[index], global_batch_size=args.scaling_batch * num_workers,
                            overrides={"strategy": "multi_worker", "collective_timeout_secs": 120})
                tf_config = {"cluster": {"worker": hosts},
                             "task": {"type": "worker", "index": index}}
                workers.append((spec, {"TF_CONFIG": json.dumps(tf_config)}))
            groups.append((f"w{num_workers}", f"{num_workers} worker(s)", workers))
    return [g for g in groups if g[0] not in args.skip and not (
        g[0].startswith("w") and "scaling" in args.skip)]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Worker:
    """One worker process: `run` on its stdin times one repetition; it answers `BENCH {json}`."""

    def __init__(self, name, spec, extra_env, log_dir):
        self.name, self.log_path = name, os.path.join(log_dir, f"{name}.log")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra_env)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([sys.executable, WORKER, json.dumps(spec)], cwd=REPO,
                                         env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, text=True)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self):
        for line in self.proc.stdout:
            if line.startswith("BENCH "):
                return json.loads(line[len("BENCH "):])
        with open(self.log_path) as log:
            tail = "".join(log.readlines()[-25:])
        sys.exit(f"worker {self.name} failed (exit {self.proc.wait()}); the end of "
                 f"{self.log_path}:\n{tail}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # end of input: the worker exits
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def measure(groups, args, log_dir):
    """Starts every worker, then times the groups round-robin; returns ({key: [rate]}, ready)."""
    workers = {key: [Worker(f"{key}-{i}", spec, env, log_dir)
                     for i, (spec, env) in enumerate(specs)] for key, _, specs in groups}
    try:
        progress(f"started {sum(map(len, workers.values()))} worker processes; each builds, "
                 f"traces and takes {args.warmup_steps} warm-up step(s)")
        ready = {}
        for key, group in workers.items():
            ready[key] = [w.read() for w in group]
            progress(f"{key} ready ({ready[key][0]['warmup_secs']:.0f} s to build and warm up)")
        rates = {key: [] for key in workers}
        for rep in range(args.repeats):
            for key, group in workers.items():
                for w in group:
                    w.send("run")
                results = [w.read() for w in group]
                # Every worker reports the global work; peers finish together (all-reduce).
                rates[key].append(results[0]["work"] / max(r["secs"] for r in results))
                progress(f"repetition {rep + 1}/{args.repeats} {key}: {rates[key][-1]:.1f}/s")
    finally:
        for group in workers.values():
            for w in group:
                w.close()
    return rates, ready


def measure_memory(args, tmp):
    """Peak resident memory of the CPU smoke run (a shortened one), in MiB."""
    exe = os.path.join(os.path.dirname(sys.executable), "dcgan-train")
    cmd = [exe, "--flagfile=configs/cpu_smoke.cfg", f"--train_steps={args.memory_steps}",
           f"--workdir={tmp}/memory_run", f"--data_dir={args.data_dir}"]
    cmd += ["--synthetic_data"] if args.synthetic_data else []
    progress("memory run: " + shlex.join(cmd))
    started = time.monotonic()
    with open(os.path.join(tmp, "memory_run.log"), "w") as log:
        # cwd=REPO: cpu_smoke.cfg includes configs/mnist.cfg by a relative path.
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    # wait4 gives this child's own rusage; RUSAGE_CHILDREN would be the largest of every
    # child waited for so far, the benchmark workers included.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        with open(os.path.join(tmp, "memory_run.log")) as log:
            progress("memory run failed:\n" + "".join(log.readlines()[-15:]))
        return None
    return usage.ru_maxrss / 1024, time.monotonic() - started  # ru_maxrss is KiB on Linux


def machine_line():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}"
                         for name in ("tensorflow", "keras"))
    return (f"{model}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
            f"{platform.system()} {platform.machine()}; {versions}; Python "
            f"{platform.python_version()}")


def command_line():
    exe = os.path.relpath(sys.executable)
    return shlex.join([exe if not exe.startswith("..") else sys.executable] + sys.argv)


def spread(rates, scale=1.0):
    return f"{min(rates) / scale:.1f}–{max(rates) / scale:.1f}"


def report(groups, rates, ready, memory, args):
    labels = {key: label for key, label, _ in groups}
    median = {key: statistics.median(r) for key, r in rates.items()}
    flops = ready["matmul"][0] if "matmul" in ready else None
    per_image = (flops["fwd_flops"] + flops["bwd_flops"]) if flops else None
    data = "synthetic images" if args.synthetic_data else f"MNIST from TFDS ({args.data_dir})"
    out = ["## dcgan-dist training throughput", "",
           f"Machine: {machine_line()}  ", f"Command: `{command_line()}`  ",
           f"Global batch {GLOBAL_BATCH_SIZE}, float32, {data}; {args.steps} timed steps per "
           f"repetition after tracing and {args.warmup_steps} warm-up step(s); "
           f"{args.repeats} repetition(s), variants round-robin; each variant in its own "
           "process (so the 2-device CPU split of (e)/(g) does not touch the others).", "",
           "| variant | images/s (median) | min–max | × (a) | % of matmul rate |",
           "|---|---:|---:|---:|---:|"]
    for key in "abcdefg":
        if key not in median:
            continue
        ratio = f"{median[key] / median['a']:.2f}" if "a" in median else "–"
        limit = (f"{100 * per_image * median[key] / median['matmul']:.1f}%"
                 if flops and "matmul" in median else "–")
        out.append(f"| {labels[key]} | {median[key]:.1f} | {spread(rates[key])} | {ratio} | "
                   f"{limit} |")
    out.append("")
    if "b" in median and "c" in median:
        note = " (both synthetic here: --synthetic_data)" if args.synthetic_data else ""
        out.append(f"- Input-pipeline overhead, 1 − (b)/(c): "
                   f"{100 * (1 - median['b'] / median['c']):.1f}%{note}.")
    if flops:
        m = {k: v / 1e6 for k, v in flops.items() if k.endswith("flops")}
        out.append(
            f"- Training FLOPs per image, counted from the layer shapes (multiply-adds × 2 of "
            f"conv, transposed conv and dense layers): forward G {m['g_fwd_flops']:.1f} M, "
            f"D {m['d_fwd_flops']:.1f} M; forward G + 2·D (real and generated images) = "
            f"{m['fwd_flops']:.1f} M. Backward, each layer's input and weight gradient ≈ its "
            f"forward: G 2·G − first layer (no gradient into the noise, "
            f"{m['g_first_flops']:.1f} M), D(real) and D(fake) for d_loss 2·D − first layer "
            f"each ({m['d_first_flops']:.1f} M: none into the images), D(fake) for g_loss "
            f"1·D (input gradients only) = {m['bwd_flops']:.1f} M. Total "
            f"**{per_image / 1e9:.3f} GFLOP/image** (the issue's ~0.46 is 3·G + 7·D without "
            f"the first-layer savings: {(3 * m['g_fwd_flops'] + 7 * m['d_fwd_flops']) / 1e3:.3f}"
            f"; the rule of thumb 3 × forward gives {3 * m['fwd_flops'] / 1e3:.3f}). Batch "
            "norm, activations, dropout, losses and Adam are left out (<1%).")
    if "matmul" in median:
        out.append(f"- float32 `tf.matmul` 2048×2048, {args.matmul_reps} per repetition: "
                   f"{median['matmul'] / 1e9:.1f} GFLOP/s (min–max "
                   f"{spread(rates['matmul'], 1e9)}), the limit in the last column.")
    if "w1" in median and "w2" in median:
        efficiency = median["w2"] / (2 * median["w1"])
        out += ["", f"Multi-worker weak scaling: MultiWorkerMirroredStrategy on 127.0.0.1, "
                f"synthetic data, per-worker batch {args.scaling_batch}, each worker pinned to "
                "one core with 1 intra-op and 1 inter-op thread; the 1-worker baseline is "
                "MultiWorkerMirroredStrategy with a 1-worker TF_CONFIG.", "",
                "| workers | images/s (median) | min–max |", "|---:|---:|---:|",
                f"| 1 | {median['w1']:.1f} | {spread(rates['w1'])} |",
                f"| 2 | {median['w2']:.1f} | {spread(rates['w2'])} |", "",
                f"- Efficiency 2-worker / (2 × 1-worker): **{100 * efficiency:.0f}%**."]
    if memory:
        out.append(f"- Peak RSS of the CPU smoke run (`dcgan-train --flagfile=configs/"
                   f"cpu_smoke.cfg --train_steps={args.memory_steps}`): **{memory[0]:.0f} MiB** "
                   f"({memory[1]:.0f} s wall).")
    return "\n".join(out)


def main():
    args = parse_args()
    if not args.synthetic_data and not glob.glob(
            os.path.join(args.data_dir, "mnist", "*", "dataset_info.json")):
        sys.exit(f"no MNIST in {args.data_dir}: run `.venv/bin/dcgan-data prepare mnist "
                 f"--data_dir={os.path.relpath(args.data_dir)}` (offline), or pass "
                 "--synthetic_data")
    groups = make_groups(args)
    with tempfile.TemporaryDirectory(prefix="dcgan-throughput-") as tmp:
        rates, ready = measure(groups, args, tmp)
        memory = None if "memory" in args.skip else measure_memory(args, tmp)
    progress("done")
    print(report(groups, rates, ready, memory, args))


if __name__ == "__main__":
    main()
