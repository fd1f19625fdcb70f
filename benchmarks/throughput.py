"""Training throughput on this machine, every variant side by side in one invocation.

    .venv/bin/python -m benchmarks.throughput          # < 15 min on 2 cores
    .venv/bin/python -m benchmarks.throughput --quick  # smoke check, ~3 min

Every variant runs in its own worker process (throughput_worker.py), built, traced and warmed
up once; then the variants take turns, round-robin, each timing --steps steps per turn, for
--repeats turns, so slow drift of the machine (thermal, other load) spreads over all of them
instead of biasing whichever ran last. Idle workers wait on stdin and use no CPU; the report
says how much CPU anything else took while a variant was timed. Progress goes to stderr, the
markdown report to stdout.
"""

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

from benchmarks import throughput_report
from benchmarks import common
from benchmarks.common import REPO, add_data_dir, progress, require_mnist
from dcgan_dist.runtime import precision

GLOBAL_BATCH_SIZE = 256  # the tutorial's
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NUM_CPUS = os.cpu_count()  # /proc/stat counts every CPU of the machine
BF16_KEYS = ("matmul_bf16", "h")  # timed only where the CPU computes bfloat16 natively


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_dir(parser)
    parser.add_argument("--synthetic_data", action="store_true",
                        help="random images instead of MNIST everywhere (no prepared data needed)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repetition")
    parser.add_argument("--warmup_steps", type=int, default=2,
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
    parser.add_argument("--skip", default="", help="comma-separated: a,b,c,d,e,f,g,h,matmul,"
                        "matmul_bf16,dcgan32,dcgan64,dcgan128,bn_replica,bn_sync,scaling,"
                        "memory")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.quick:
        args.steps, args.warmup_steps, args.repeats, args.matmul_reps = 2, 1, 1, 3
        args.skip.add("memory")
    args.native_bf16 = precision.native_bfloat16()  # (bool, reason) for the report
    args.data_dir = os.path.abspath(args.data_dir)  # workers and the memory run use other cwds
    return args


def make_groups(args):
    """[(key, label, [(worker spec, extra env)])]: a group times its workers together."""
    common = {"data_dir": args.data_dir, "steps": args.steps, "warmup_steps": args.warmup_steps,
              "synthetic_data": args.synthetic_data, "global_batch_size": GLOBAL_BATCH_SIZE}
    spe = min(args.steps_per_execution, args.steps)

    def package(steps=args.steps, synthetic_data=args.synthetic_data, **overrides):
        return [(dict(common, kind="package", steps=steps, synthetic_data=synthetic_data,
                      overrides={"strategy": "cpu", **overrides}), {})]

    mirrored = {"strategy": "mirrored", "num_cpu_devices": 2}
    groups = [
        ("matmul", "float32 matmul", [(dict(kind="matmul", steps=args.matmul_reps,
                                             warmup_steps=0), {})]),
        ("a", "(a) the TF tutorial's loop and pipeline", [(dict(common, kind="tutorial"), {})]),
        ("b", "(b) dcgan-dist, --strategy=cpu (default strategy)", package()),
        ("c", "(c) (b) with synthetic_data", package(synthetic_data=True)),
        ("d", "(d) (b) with jit_compile", package(jit_compile=True)),
        ("e", "(e) (b) under Mirrored, 2 logical CPUs", package(**mirrored)),
        # Timed steps rounded up to whole executions.
        ("f", f"(f) (b) with steps_per_execution={spe}", package(
            steps_per_execution=spe, steps=-(-args.steps // spe) * spe)),
        ("g", "(g) (e) with jit_compile", package(**mirrored, jit_compile=True)),
        # bfloat16, where the CPU has it natively (where it is emulated the rows say so).
        ("matmul_bf16", "bfloat16 matmul", [(dict(kind="matmul", dtype="bfloat16",
                                                  steps=args.matmul_reps, warmup_steps=0), {})]),
        ("h", "(h) (b) with --precision=mixed_bfloat16", package(precision="mixed_bfloat16")),
    ]
    # The DCGAN paper's networks (configs/dcgan.cfg widths) beside (c), synthetic images so
    # the input pipeline's resize does not count.
    for side in (32, 64, 128):
        groups.append((f"dcgan{side}", f"(c) with --architecture=dcgan at {side} px", package(
            synthetic_data=True, architecture="dcgan", image_size=side, g_filters=64,
            d_filters=64, d_dropout=0.0)))
    # Synchronised batch norm's cost (configs/celeba64_gpus.cfg): the 64 px networks under
    # Mirrored on 2 logical CPUs, per-replica statistics against global ones.
    paper64 = dict(synthetic_data=True, architecture="dcgan", image_size=64, g_filters=64,
                   d_filters=64, d_dropout=0.0, **mirrored)
    groups.append(("bn_replica", "dcgan 64 px, Mirrored on 2 logical CPUs, per-replica BN",
                   package(**paper64)))
    groups.append(("bn_sync", "dcgan 64 px, Mirrored on 2 logical CPUs, --sync_batchnorm",
                   package(**paper64, sync_batchnorm=True)))
    if not args.native_bf16[0]:
        progress(f"not timing matmul_bf16 and (h): {args.native_bf16[1]}")
        args.skip.update(BF16_KEYS)
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
    return groups  # main drops the skipped ones after taking every label


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Worker:
    """One worker process: `run` on its stdin times one repetition; it answers `BENCH {json}`.

    A spec's optional "python" and "module" start another worker speaking the same protocol
    under another interpreter (benchmarks/peer.py's PyTorch peer, in torch's own environment);
    "cwd" runs it from another checkout, whose package it then imports (a baseline).
    """

    def __init__(self, name, spec, extra_env, log_dir):
        self.name, self.log_path = name, os.path.join(log_dir, f"{name}.log")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra_env)
        command = [spec.get("python", sys.executable), "-m",
                   spec.get("module", "benchmarks.throughput_worker"), json.dumps(spec)]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(command, cwd=spec.get("cwd", REPO),
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

    def cpu_ticks(self):
        """This worker's user + system CPU time so far, all threads, in clock ticks."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])


def machine_busy_ticks():
    """CPU time every process on the machine has used so far (user, nice, system, irq, steal)."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4]  # minus idle and iowait


def stop_all(workers):
    for w in workers:
        if w.proc.poll() is None:
            w.proc.stdin.close()  # end of input: the worker exits
    deadline = time.monotonic() + 30
    for w in workers:
        try:
            w.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()


def with_workdir(spec, key, log_dir):
    """A "package" worker's spec with the work directory its run is built in: one per group
    (the workers of a multi-worker group share it, as a multi-worker run does), removed with
    `log_dir`."""
    if spec.get("kind") != "package":
        return spec
    return dict(spec, workdir=os.path.join(log_dir, f"{key}-run"))


def measure(groups, args, log_dir):
    """Starts every worker, then times the groups round-robin.

    Returns ({key: [rate per repetition]}, {key: [ready messages]}, the fraction of the
    machine's CPU that other processes used while a group was timed).
    """
    workers = {key: [Worker(f"{key}-{i}", with_workdir(spec, key, log_dir), env, log_dir)
                     for i, (spec, env) in enumerate(specs)] for key, _, specs in groups}
    try:
        progress(f"started {sum(map(len, workers.values()))} worker processes; each builds, "
                 f"traces and takes {args.warmup_steps} warm-up step(s)")
        ready = {}
        for key, group in workers.items():
            ready[key] = [w.read() for w in group]
            progress(f"{key} ready: {ready[key][0].get('strategy', 'no strategy')}, "
                     f"{ready[key][0]['setup_secs']:.0f} s to build and warm up")
        rates = {key: [] for key in workers}
        other_ticks = capacity_ticks = 0
        timing_started = time.monotonic()
        for rep in range(args.repeats):
            for key, group in workers.items():
                # Account for the CPU time others used meanwhile: other users of the machine,
                # or idle workers that are not idle, would slow the variant being timed.
                before, own_before = machine_busy_ticks(), sum(w.cpu_ticks() for w in group)
                started = time.monotonic()
                for w in group:
                    w.send("run")
                results = [w.read() for w in group]
                own = sum(w.cpu_ticks() for w in group) - own_before
                other_ticks += machine_busy_ticks() - before - own
                capacity_ticks += (time.monotonic() - started) * CLOCK_TICKS * NUM_CPUS
                # Every worker reports the global work; peers finish together (all-reduce).
                rates[key].append(results[0]["work"] / max(r["secs"] for r in results))
                progress(f"repetition {rep + 1}/{args.repeats} {key}: {rates[key][-1]:.1f}/s")
            if rep == 0 and args.repeats > 1:
                round_secs = time.monotonic() - timing_started
                progress(f"about {round_secs * (args.repeats - 1) / 60:.0f} min of timing left")
    finally:
        stop_all([w for group in workers.values() for w in group])
    return rates, ready, max(other_ticks, 0) / max(capacity_ticks, 1)


def measure_memory(args, tmp):
    """Peak resident memory of the CPU smoke run (a shortened one), in MiB."""
    cmd = common.dcgan_train("--flagfile=configs/cpu_smoke.cfg",
                             f"--train_steps={args.memory_steps}", f"--workdir={tmp}/memory_run",
                             f"--data_dir={args.data_dir}")
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


def main():
    args = parse_args()
    if not args.synthetic_data:
        require_mnist(args.data_dir)
    load_at_start = os.getloadavg()[0]
    groups = make_groups(args)
    labels = {key: label for key, label, _ in groups}
    groups = [g for g in groups if g[0] not in args.skip]
    with tempfile.TemporaryDirectory(prefix="dcgan-throughput-") as tmp:
        rates, ready, other_cpu = measure(groups, args, tmp)
        memory = None if "memory" in args.skip else measure_memory(args, tmp)
    progress("done")
    print(throughput_report.render(
        labels, rates, ready, memory, args,
        global_batch_size=GLOBAL_BATCH_SIZE, other_cpu=other_cpu, load_at_start=load_at_start))


if __name__ == "__main__":
    main()
