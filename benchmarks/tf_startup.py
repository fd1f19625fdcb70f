"""How TensorFlow starts in each of several Pythons: import time (with the first device
query, where the standard wheel probes for CUDA) and what it writes to stderr.

    python -m benchmarks.tf_startup PYTHON [PYTHON ...]    # e.g. two venvs' bin/python

Issue 22 used it to choose the `cpu` extra's wheel (tensorflow vs tensorflow-cpu); the
report is benchmarks/RESULTS_install.md. Run it alone on the machine (`/work/cpu/measure`
here); each Python's bytecode must be compiled already (pip does; `uv pip install` does not
unless --compile-bytecode), or the import pays for compiling.
"""

import os
import statistics
import subprocess
import sys
import time

CODE = "import tensorflow as tf; tf.config.list_physical_devices('GPU'); print(tf.__version__)"
RUNS = 6  # the first only warms the page cache


def measure(python):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = subprocess.run([python, "-c", CODE], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
    times = times[1:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    print(f"{python}: TensorFlow {result.stdout.strip()}, import + device query "
          f"{statistics.median(times):.2f} s (median of {len(times)}; {min(times):.2f}-"
          f"{max(times):.2f}); {len(lines)} stderr lines:")
    for line in lines:
        print(f"    {line[:150]}")


if __name__ == "__main__":
    for python in sys.argv[1:]:
        measure(python)
