"""What every benchmark shares: the machine it ran on, how it was started, progress lines, the
MNIST they measure on, and how they run dcgan-train.

Run the benchmarks as modules from the repository root (`.venv/bin/python -m
benchmarks.throughput`), so they import each other and the package without path edits.
"""

import importlib.metadata
import os
import platform
import shlex
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = "data"  # where launch/cpu_smoke.sh prepares MNIST: every benchmark's default
STARTED = time.monotonic()


def progress(message):
    """A progress line on stderr (the reports go to stdout), with seconds since the start."""
    print(f"[{time.monotonic() - STARTED:6.0f}s] {message}", file=sys.stderr, flush=True)


def _version(name):
    """An installed distribution's version; TensorFlow may be installed as tensorflow-cpu
    (the cpu extra) or tensorflow-tpu, under the same module."""
    for distribution in (name, f"{name}-cpu", f"{name}-tpu"):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            pass
    return "not installed"


def machine_line():
    """The CPU, its cores, the OS, TensorFlow and Keras: the first line of every report."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = ", ".join(f"{name} {_version(name)}" for name in ("tensorflow", "keras"))
    return (f"{model}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
            f"{platform.system()} {platform.machine()}; {versions}; Python "
            f"{platform.python_version()}")


def command_line():
    """How this benchmark was started, as it would be typed from the repository root."""
    exe = os.path.relpath(sys.executable, REPO)
    module = os.path.relpath(sys.argv[0], REPO).removesuffix(".py").replace(os.sep, ".")
    return shlex.join([exe, "-m", module, *sys.argv[1:]])


def add_data_dir(parser):
    parser.add_argument("--data_dir", default=DATA_DIR,
                        help="TFDS directory with MNIST prepared (dcgan-data prepare mnist)")


def require_mnist(data_dir):
    """Exits with the command that prepares MNIST when `data_dir` lacks it."""
    import glob
    if not glob.glob(os.path.join(data_dir, "mnist", "*", "dataset_info.json")):
        sys.exit(f"no MNIST in {data_dir}: run `.venv/bin/dcgan-data prepare mnist "
                 f"--data_dir={data_dir}` (offline)")


def dcgan_train(*flags):
    """The dcgan-train command of the Python running this benchmark, with `flags`."""
    return [os.path.join(os.path.dirname(sys.executable), "dcgan-train"), *map(str, flags)]


def train(name, log_path, flags, minutes=None):
    """Runs dcgan-train with `flags` from the repository root, output to `log_path`: to its
    last step, or for `minutes` of wall clock counted from the process start (imports and
    tracing are paid), then SIGTERM, which makes it save the current step. Returns its exit
    code (0 done, 42 stopped by the budget)."""
    cmd = dcgan_train(*flags)
    budget = "to its last step" if minutes is None else f"{minutes:g} min"
    progress(f"{name}: {budget}: {shlex.join(cmd)}")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        started = time.monotonic()
        try:
            proc.wait(timeout=None if minutes is None else minutes * 60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait()
    progress(f"{name}: exit {code} after {time.monotonic() - started:.0f} s")
    return code
