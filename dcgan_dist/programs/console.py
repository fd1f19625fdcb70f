"""The console scripts' one entry point: TensorFlow started quietly, then the program its name
says (setup.cfg's `dcgan-train = dcgan_dist.programs.console:main` runs programs/train.py).

This module must not import TensorFlow, nor anything that does (`flags` takes its choices from
tables that import it): what quiets TensorFlow has to happen before its first import.

TensorFlow's C++ side writes to stderr while it loads, before any Python code can set its log
level: on a CPU box "Could not find cuda drivers", "oneDNN custom operations are on", the
cpu_feature_guard notice, and at the first device query an `E0000 ... failed call to cuInit`
that reads like a failure. None of it is the user's business, so the import and the first
device query run with stderr (file descriptor 2) sent to a temporary file, which is replayed
only if the import fails. TensorFlow's later C++ log lines (grappler's "E0000 ... remapper
failed", which TensorFlow 2.20 prints whatever TF_CPP_MIN_LOG_LEVEL says) are dropped from the
process's stderr by a filter (`filter_cpp_log_lines`); every other line passes. `--verbose` on the command
line, or TF_CPP_MIN_LOG_LEVEL set by the user, leaves all of it alone.
"""

import atexit
import importlib
import os
import re
import sys
import tempfile
import threading

PREFIX = "dcgan-"  # dcgan-NAME runs dcgan_dist/programs/NAME.py
VERBOSE_ARGS = ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1")

# A C++ log line below FATAL ("E0000 00:00:1796153114.347659   12538 meta_optimizer.cc:967] ...")
# and absl's notice that precedes the first one. Python's absl lines look the same but name a
# .py file ("I1201 19:25:14.504380 1405526097 progress.py:116] step 2/4"): they pass.
CPP_LOG_LINE = re.compile(rb"([IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+\.(?:cc|cpp|c|h):\d+\] |"
                          rb"WARNING: All log messages before absl::InitializeLog\(\) )")


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
    filter_cpp_log_lines()
    return True


def filter_cpp_log_lines():
    """From now on, file descriptor 2 is a pipe whose lines a thread copies to the real stderr,
    except TensorFlow's C++ log lines (CPP_LOG_LINE). At exit the pipe is drained before the
    process ends, so the last lines (an error message, a traceback) are not lost."""
    real = os.dup(2)
    read_end, write_end = os.pipe()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy():
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                *lines, pending = (pending + chunk).split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not CPP_LOG_LINE.match(line))
                if kept:
                    os.write(real, kept)
            if pending and not CPP_LOG_LINE.match(pending):
                os.write(real, pending)

    copier = threading.Thread(target=copy, name="stderr-filter", daemon=True)
    copier.start()

    def drain():
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end: the copier reads to its end
        copier.join(timeout=10)

    atexit.register(drain)
    from dcgan_dist import signals  # no TensorFlow in it; a second Ctrl-C skips atexit
    signals.BEFORE_IMMEDIATE_EXIT.append(drain)


def program_module(script):
    """The module of console script `script` (a path, as in sys.argv[0]): dcgan-eval ->
    dcgan_dist.programs.eval."""
    name = os.path.basename(script).removesuffix(".exe")
    if not name.startswith(PREFIX):
        raise SystemExit(f"{name}: not a dcgan-dist program: their names are {PREFIX}NAME "
                         "(setup.cfg's console scripts), each running dcgan_dist/programs/NAME.py")
    return f"dcgan_dist.programs.{name[len(PREFIX):]}"


def main():
    """Every console script: quiet TensorFlow, then the program named by sys.argv[0]."""
    module = program_module(sys.argv[0])
    start_tensorflow_quietly(sys.argv)
    try:
        importlib.import_module(module).run()
    except SystemExit as e:
        from dcgan_dist import signals
        if e.code in signals.STOPPED_EXIT_CODES:  # saved, closed and said: leave at once
            signals.exit_now(e.code)
        raise
