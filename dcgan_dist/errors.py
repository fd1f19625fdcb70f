"""The errors every program reports as one line on stderr, each with its own exit code.

A `DcganError` is an expected failure with a message that says what is wrong and how to fix
it; `cli.run` prints it as `PROG: error: MESSAGE` and exits with its `exit_code` (the
traceback only with --verbose). Anything else is a bug and keeps its traceback. `reason` turns
any exception into the few words such a message quotes.
"""

import re


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


def reason(error):
    """What went wrong, as one short line: an OSError's strerror ('No space left on device'),
    else the first line of the message without TensorFlow's graph locations
    ('{{function_node ...}}', '[[{{node ...}}]]', '[Op:SaveV2]'), else the error's type."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(getattr(error, "message", None) or error).strip()
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = text.splitlines()[0] if text else ""
    text = re.sub(r"\s*\[(\[|Op:).*", "", text).strip()
    return text or type(error).__name__
