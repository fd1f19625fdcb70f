"""The console scripts: TensorFlow started quietly, then the program.

    PROGRAMS = {"dcgan-train": "dcgan_dist.main", ...}     # setup.cfg's entry points

This module must not import TensorFlow, nor anything that does (`flags` takes its choices from
tables that import it): what quiets TensorFlow has to happen before its first import.

TensorFlow's C++ side writes to stderr while it loads, before any Python code can set its log
level: on a CPU box "Could not find cuda drivers", "oneDNN custom operations are on", the
cpu_feature_guard notice, and at the first device query an `E0000 ... failed call to cuInit`
that reads like a failure. None of it is the user's business, so the import and the first
device query run with stderr (file descriptor 2) sent to a temporary file, which is replayed
only if the import fails; TF_CPP_MIN_LOG_LEVEL=3 then keeps TensorFlow's later C++ log lines
(grappler's "remapper failed", ...) out too, fatal errors excepted. `--verbose` on the command
line, or TF_CPP_MIN_LOG_LEVEL set by the user, leaves all of it alone.
"""

import importlib
import os
import sys
import tempfile

PROGRAMS = {
    "dcgan-train": "dcgan_dist.main",
    "dcgan-data": "dcgan_dist.data.cli",
    "dcgan-eval": "dcgan_dist.evaluation.cli",
    "dcgan-generate": "dcgan_dist.evaluation.generate",
    "dcgan-export": "dcgan_dist.evaluation.export",
}

VERBOSE_ARGS = ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1")


def start_tensorflow_quietly(argv):
    """Imports TensorFlow and lists its devices with its start-up output hidden, unless
    `argv` asks for --verbose or the user set TF_CPP_MIN_LOG_LEVEL. Returns whether it hid."""
    if "tensorflow" in sys.modules or any(arg in VERBOSE_ARGS for arg in argv):
        return False
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()  # the CUDA probe (cuInit) happens here
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            captured.seek(0)
            os.write(2, captured.read())  # a failed import keeps everything it said
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    return True


def _run(program):
    start_tensorflow_quietly(sys.argv)
    importlib.import_module(PROGRAMS[program]).run()


def train():
    _run("dcgan-train")


def data():
    _run("dcgan-data")


def evaluate():
    _run("dcgan-eval")


def generate():
    _run("dcgan-generate")


def export():
    _run("dcgan-export")
