"""When a write to the work directory fails: a full disk, a permission lost mid-run, a storage
error. Two kinds of writes, two answers:

- What resuming needs (checkpoints, stats.jsonl, flags.txt) stops the run: one line naming
  the file, the step and the cause, exit 5 (WriteFailedError). TensorFlow lists a checkpoint in
  `ckpt/checkpoint` only after writing it whole, so the previous one stays the newest listed.
- What a person looks at (sample grids, the GIF, TensorBoard) must not kill a healthy run:
  `BestEffort` warns once per kind and training goes on.

A failed or killed save leaves pieces (`ckpt/ckpt-N_temp/`, `*.tmp`); `remove_leftovers`
deletes them on the next start.
"""

import re

from absl import logging
import tensorflow as tf

from dcgan_dist import WriteFailedError

# What tf.io.gfile and checkpoint saves raise: ResourceExhaustedError (no space),
# PermissionDeniedError, FailedPreconditionError, ... and OSError from plain Python files.
WRITE_ERRORS = (tf.errors.OpError, OSError)


def cause(error):
    """The reason in a few words: 'No space left on device', not TensorFlow's node dump."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(getattr(error, "message", None) or error).strip()
    text = text.splitlines()[0] if text else type(error).__name__
    text = re.sub(r"\s*\[(\[|Op:).*", "", text)  # "[Op:SaveV2]", "[[{{node ...}}]]"
    # TensorFlow often writes "<path>; No space left on device": keep the reason, not the path.
    return text.rsplit("; ", 1)[-1].strip() or type(error).__name__


def save_checkpoint(manager, step, kept):
    """manager.save(step), or WriteFailedError naming the checkpoint, the step and the cause.

    Args:
      manager: the run's tf.train.CheckpointManager.
      step: the step being saved.
      kept: `state.kept_checkpoint(manager)`, taken before the save is tried.
    """
    try:
        return manager.save(checkpoint_number=step)
    except WRITE_ERRORS as e:
        raise WriteFailedError(
            f"could not write the checkpoint {manager.directory}/ckpt-{step} at step {step} "
            f"({cause(e)}); {kept}: free space or restore write access, then rerun the same "
            "command to resume") from e


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


def remove_leftovers(workdir, manager):
    """Deletes what failed or killed writes left in the work directory: `ckpt-N_temp/`
    folders, pieces of checkpoints newer than the newest listed one, and `*.tmp` files."""
    listed = {int(re.search(r"ckpt-(\d+)$", p).group(1)) for p in manager.checkpoints}
    newest = max(listed, default=0)
    ckpt_dir = manager.directory
    removed = []
    for path in tf.io.gfile.glob(f"{ckpt_dir}/ckpt-*_temp"):
        tf.io.gfile.rmtree(path)
        removed.append(path)
    for path in tf.io.gfile.glob(f"{ckpt_dir}/ckpt-*"):
        match = re.search(r"/ckpt-(\d+)\.(index|data-\d+-of-\d+)$", path)
        if match and int(match.group(1)) > newest and tf.io.gfile.exists(
                f"{ckpt_dir}/checkpoint"):
            tf.io.gfile.remove(path)
            removed.append(path)
    for pattern in (f"{workdir}/*.tmp", f"{workdir}/samples/*.tmp", f"{ckpt_dir}/*.tmp*"):
        for path in tf.io.gfile.glob(pattern):
            tf.io.gfile.remove(path)
            removed.append(path)
    if removed:
        logging.info("Removed %d leftovers of an interrupted write: %s", len(removed),
                     ", ".join(removed))
    return removed
