"""dcgan-dist: the TensorFlow DCGAN tutorial, trained under any tf.distribute strategy."""

import importlib.util

__version__ = "0.1.0"

# TensorFlow comes from an extra chosen by hardware (setup.cfg), so a bare install lacks it.
if importlib.util.find_spec("tensorflow") is None:
    raise ImportError("dcgan-dist needs TensorFlow, which it installs only through an extra: "
                      "pip install '.[cpu]', '.[gpu]' or '.[tpu]' (see README, Running on ...)")


class DcganError(Exception):
    """An error the command line reports as one line, without a traceback."""

    exit_code = 1


class UserError(DcganError):
    """Bad input (flags, files, work directory): nothing was changed. Exit code 2."""

    exit_code = 2


class DivergedError(DcganError):
    """A non-finite loss: the run stopped, the last good checkpoint is kept. Exit code 3."""

    exit_code = 3


class PeerLostError(DcganError):
    """A multi-worker peer stopped answering within the collective timeout. Exit code 4."""

    exit_code = 4


class WriteFailedError(DcganError):
    """Writing a checkpoint or stats.jsonl failed (disk full, permission lost, storage error):
    the run stopped, the previous checkpoint is still the newest listed. Exit code 5."""

    exit_code = 5


class PreemptedError(DcganError):
    """SIGTERM arrived; a checkpoint of the current step was saved. Exit code 42."""

    exit_code = 42


class InterruptError(DcganError):
    """Ctrl-C (SIGINT) arrived; a checkpoint of the current step was saved. Exit code 130,
    the shell's code for a job ended by SIGINT."""

    exit_code = 130
