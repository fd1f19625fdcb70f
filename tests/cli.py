"""Helpers for tests that run the real entry points as subprocesses."""

import hashlib
import os
import signal
import subprocess
import sys

import tensorflow as tf


def run_cli(args, module="dcgan_dist.main", timeout=300, **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, **kwargs)


def _default_sigint():
    # A background job of a non-interactive shell inherits SIGINT ignored, and so would the
    # child: Ctrl-C tests would then pass without the handling they test.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(args, log_path):
    """Starts the trainer in the background, SIGINT at its default disposition, output to log."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, "-m", "dcgan_dist.main", *map(str, args)],
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=_default_sigint)


def ignores_sigint(pid):
    """Whether process `pid` has SIGINT ignored (bit 2 of SigIgn in /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))
    return bool(mask & (1 << (signal.SIGINT - 1)))


def snapshot(folder):
    """{relative path: sha256} of every file below `folder`: to prove nothing changed."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def checkpoint_step(prefix):
    return int(tf.train.load_checkpoint(prefix).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


def checkpoint_weights(prefix):
    """The model and optimizer tensors of a checkpoint, by name."""
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("generator", "discriminator", "g_opt", "d_opt"))}
