"""Writes to the work directory: atomic where a reader looks, and what happens when one fails (a
full disk, a permission lost mid-run, a storage error). Two kinds of writes, two answers:

- What resuming needs (checkpoints, stats.jsonl, flags.txt) stops the run: one line naming
  the file, the step and the cause, exit 5 (WriteFailedError). TensorFlow lists a checkpoint in
  `ckpt/checkpoint` only after writing it whole, so the previous one stays the newest listed.
- What a person looks at (sample grids, the GIF, TensorBoard) must not kill a healthy run:
  `BestEffort` warns once per kind and training goes on.

Every file a reader looks at (grids, the GIF, flags.txt, run.json, reference statistics,
generated images) is written by `write_atomic`: to a temporary name, then renamed, so a kill
never leaves half a file where a viewer or the next run would read it. A failed or killed
save leaves pieces (`ckpt/ckpt-N_temp/`, `*.tmp`), which `checkpoints.remove_leftovers`
deletes on the next start.
"""

import os
import tempfile

from absl import logging
import tensorflow as tf

from dcgan_dist import paths
from dcgan_dist.errors import UserError, WriteFailedError, reason

# What tf.io.gfile and checkpoint saves raise: ResourceExhaustedError (no space),
# PermissionDeniedError, FailedPreconditionError, ... and OSError from plain Python files.
WRITE_ERRORS = (tf.errors.OpError, OSError)


def cause(error):
    """The reason in a few words (`errors.reason`), without the path TensorFlow often puts
    first ("<path>; No space left on device"): the message names the file itself."""
    return reason(error).rsplit("; ", 1)[-1].strip() or type(error).__name__


def must_write(path, step, write_fn, *args):
    """write_fn(*args), which writes `path` (stats.jsonl, flags.txt); a failure stops the run
    like a checkpoint's, with WriteFailedError naming the file, the step and the cause."""
    try:
        return write_fn(*args)
    except WRITE_ERRORS as e:
        raise WriteFailedError(
            f"could not write {path} at step {step} ({cause(e)}); nothing before the last "
            "checkpoint is lost: free space or restore write access, then rerun the same "
            "command to resume") from e


class BestEffort:
    """Runs writes a healthy run can do without; a failure warns once per kind of write.

    Later writes of the same kind are still tried (the disk may have been freed), silently.
    """

    def __init__(self):
        self._warned = set()

    def __call__(self, what, write_fn, *args, **kwargs):
        """Returns write_fn(*args, **kwargs), or None when it failed to write."""
        try:
            return write_fn(*args, **kwargs)
        except WRITE_ERRORS as e:
            if what not in self._warned:
                self._warned.add(what)
                logging.warning("Could not write %s (%s); training goes on without it (this "
                                "warning is not repeated)", what, cause(e))
            return None


def write_atomic(path, data):
    """Writes bytes or text to `path` (local or gs://) through a temporary name and a rename."""
    tmp = f"{path}.tmp"
    with tf.io.gfile.GFile(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def append_line(path, line):
    """Appends one line to a JSON-lines file: a kill tears at most this line, which readers
    drop (`progress.read_jsonl`)."""
    with tf.io.gfile.GFile(path, "a") as f:
        f.write(line.rstrip("\n") + "\n")


def check_writable_dir(path, flag="--workdir"):
    """Refuses a directory that is a file or cannot be written, before any work starts.

    Called where a program is about to write, not when its flags are read: the readers of a
    run directory (dcgan-generate, dcgan-export) work on read-only ones. gs:// is not probed.
    """
    if paths.is_remote(path):
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{flag}={path} is a file; pass a directory (it is created if missing)")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    try:  # Try it: permission bits say nothing to root, and some file systems are read-only.
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise UserError(f"{flag}={path} is not writable ({e.strerror}); choose a directory you "
                        "can write to") from e
