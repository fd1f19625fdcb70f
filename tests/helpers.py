"""Helpers the tests share: running a program (as a process, or in this one), waiting for a
background run, and reading what runs leave behind."""

import configparser
import hashlib
import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import tensorflow as tf

BIN = os.path.dirname(sys.executable)  # the console scripts of the installed package
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The start of a `python -c` script that cannot import dcgan_dist (an exported model must load
# without it): a finder that refuses the package, and no repository folder on sys.path.
WITHOUT_THE_PACKAGE = textwrap.dedent("""
    import importlib.abc, sys

    class NoPackage(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "dcgan_dist":
                raise ImportError("dcgan_dist is excluded from this process")

    sys.meta_path.insert(0, NoPackage())
    sys.path = [p for p in sys.path if p not in ("", ".") and "dcgan" not in p]
""")


def tiny_run_args(workdir, tmp, *extra, train_steps=None, log_every_steps=None,
                  deterministic=False):
    """dcgan-train flags of a tiny, fast run on synthetic images (float32, not auto: the same
    arithmetic on every CPU), with --train_steps and --log_every_steps when given, and
    --deterministic when asked (with op determinism a resumed run must equal the
    uninterrupted one); then `extra` (later flags win)."""
    return [f"--workdir={workdir}", "--synthetic_data", f"--data_dir={tmp}/no_data",
            "--global_batch_size=4", "--g_filters=8", "--d_filters=4", "--precision=float32",
            *([f"--train_steps={train_steps}"] if train_steps is not None else []),
            *([f"--log_every_steps={log_every_steps}"] if log_every_steps is not None else []),
            *(["--deterministic"] if deterministic else []), *extra]


def user_env(env=None):
    """The environment a user's shell gives a program: without the TF_CPP_MIN_LOG_LEVEL this
    test process set for itself, so the program quiets TensorFlow as it does for people."""
    env = dict(os.environ if env is None else env)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def run_cli(program, args, timeout=300, **kwargs):
    """Runs console script `program` (dcgan-train, dcgan-eval, ...) as its own process."""
    env = user_env()
    return subprocess.run([os.path.join(BIN, program), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, **kwargs)


def run_in_process(run_fn, program, args, capsys):
    """Runs a program's `run(argv)` here; returns (exit code, stdout, stderr). Log lines go to
    absl's handler, not to capsys: assert them with caplog."""
    try:
        run_fn([program, *map(str, args)])
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def parse_train(*args):
    """The Config of dcgan-train's command line `args`, parsed as the program parses it
    (configs and flagfiles expanded first, then its flags)."""
    from dcgan_dist.config import Config
    from dcgan_dist.programs import cli, train
    flag_values, _ = cli.parse("dcgan-train", train.FLAGS, ["dcgan-train", *args])
    return Config.from_flags(flag_values)


def console_scripts():
    """{script: entry point} of setup.cfg's console_scripts: the list of programs."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    lines = parser["options.entry_points"]["console_scripts"].splitlines()
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines
                if line.strip() and not line.strip().startswith("#"))


def program_modules():
    """{script: its module} of every program (dcgan-train: dcgan_dist.programs.train, ...)."""
    from dcgan_dist.programs import console
    return {script: importlib.import_module(console.program_module(script))
            for script in console_scripts()}


def last_line(text):
    return text.strip().splitlines()[-1]


def _default_sigint():
    # A background job of a non-interactive shell inherits SIGINT ignored, and so would the
    # child: Ctrl-C tests would then pass without the handling they test.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(args, log_path, program="dcgan-train", env=None):
    """Starts a program in the background, SIGINT at its default disposition, output to log."""
    env = user_env(env)
    log = open(log_path, "w")
    return subprocess.Popen([os.path.join(BIN, program), *map(str, args)], stdout=log,
                            stderr=subprocess.STDOUT, env=env, preexec_fn=_default_sigint)


def ignores_sigint(pid):
    """Whether process `pid` has SIGINT ignored (bit 2 of SigIgn in /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))
    return bool(mask & (1 << (signal.SIGINT - 1)))


def wait_for(condition, proc, timeout_secs=120, what="the run made no progress"):
    """Polls `condition()` while `proc` runs; `what` is the message if it times out. A `proc`
    whose output is a pipe (stdout=PIPE) that ends first has that output in the message."""
    deadline = time.monotonic() + timeout_secs
    while not condition():
        if proc.poll() is not None:
            output = f":\n{proc.stdout.read()}" if proc.stdout else ""
            raise AssertionError(f"the run ended before the test could act{output}")
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def snapshot(folder):
    """{relative path: sha256} of every file below `folder`: to prove nothing changed."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def latest_checkpoint(workdir):
    return tf.train.latest_checkpoint(os.path.join(str(workdir), "ckpt"))


def checkpoint_step(prefix):
    return int(tf.train.load_checkpoint(prefix).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


def checkpoint_weights(prefix):
    """The model and optimizer tensors of a checkpoint, by name."""
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("generator", "discriminator", "g_opt", "d_opt"))}


def assert_same_checkpoints(workdir_a, workdir_b, min_tensors=22):
    """The newest checkpoints of two runs hold bit-identical models and optimizers."""
    a = checkpoint_weights(latest_checkpoint(workdir_a))
    b = checkpoint_weights(latest_checkpoint(workdir_b))
    assert a.keys() == b.keys() and len(a) >= min_tensors
    for name in a:
        assert (a[name] == b[name]).all(), name
