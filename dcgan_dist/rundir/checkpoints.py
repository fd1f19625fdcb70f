"""The checkpoint lifecycle of a run directory, in one place: where checkpoints live, restoring
the newest readable one, saving (a failure is exit 5), cleaning up after a failed or killed
save, and the one phrase that says which checkpoint a stopped run keeps.

    checkpoints = Checkpoints(state, workdir, keep=3, chief=True, task=0)
    step, path = checkpoints.restore()      # (0, None) when there is none
    checkpoints.save(step)                  # WriteFailedError naming file, step and cause
    checkpoints.kept()                      # "the last checkpoint .../ckpt-6 is kept"

`state` is anything with `checkpoint()` (a tf.train.Checkpoint of everything a resume needs)
and a `step` variable: `training.state.TrainState`.
"""

import re

from absl import logging
import tensorflow as tf

from dcgan_dist.errors import UserError, WriteFailedError, reason
from dcgan_dist.rundir import files

NO_CHECKPOINT = "there is no checkpoint yet (a rerun starts from step 0)"


def directory(workdir):
    return f"{workdir}/ckpt"


class Checkpoints:
    """The checkpoints of `state` in `workdir/ckpt`, keeping the newest `keep` (None: all).

    Under multi-worker every worker saves (the save may synchronise), as TensorFlow requires,
    but only the chief into the run directory: the others restore from it like the chief and
    save into a private folder that is removed after each save.
    """

    def __init__(self, state, workdir, keep, chief=True, task=0):
        self._state, self._workdir = state, workdir
        self.manager = tf.train.CheckpointManager(
            state.checkpoint(), directory(workdir), max_to_keep=keep, step_counter=state.step)
        self._chief, self._task = chief, task
        self._private = None  # a non-chief worker's save manager, made after the restore

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def kept(self):
        """What a stopped run leaves to resume from, for error messages: never Python's None."""
        latest = self.manager.latest_checkpoint
        return NO_CHECKPOINT if latest is None else f"the last checkpoint {latest} is kept"

    def restore(self, step=None):
        """Restores the newest readable checkpoint (or exactly the one of `step`); returns
        (step, path), or (0, None) when there is none.

        A checkpoint of another model (other shapes) is refused without touching it; an
        unreadable newest checkpoint falls back to the previous good one, with a warning.
        """
        manager = self.manager
        candidates = list(reversed(manager.checkpoints))
        if step is not None:
            candidates = [p for p in candidates if p.endswith(f"/ckpt-{step}")]
            if not candidates:
                raise UserError(f"no checkpoint of step {step} in {manager.directory}")
        if not candidates and tf.io.gfile.glob(f"{manager.directory}/ckpt-*.index"):
            raise UserError(f"{manager.directory} holds checkpoints but no readable 'checkpoint' "
                            "state file; restore it (or move the folder away to start over)")
        for i, path in enumerate(candidates):
            try:
                status = manager.checkpoint.restore(path)
                status.assert_existing_objects_matched()
            except (ValueError, AssertionError) as e:
                raise UserError(f"the checkpoint {path} belongs to a different model "
                                f"({reason(e)}); use another --workdir, or the flags that "
                                f"trained it: --flagfile={self._workdir}/flags.txt") from e
            except (tf.errors.OpError, IndexError) as e:  # truncated or corrupted files
                if i + 1 == len(candidates):
                    raise UserError(f"no readable checkpoint in {manager.directory}: {path} is "
                                    f"damaged ({reason(e)}); move it away to start over") from e
                logging.warning("Checkpoint %s is damaged (%s); falling back to %s", path,
                                reason(e), candidates[i + 1])
                continue
            return int(self._state.step.numpy()), path
        return 0, None

    def save(self, step):
        """Saves `step`; WriteFailedError naming the checkpoint, the step and the cause."""
        kept = self.kept()  # before the save is tried
        if not self._chief and self._private is None:
            self._private = tf.train.CheckpointManager(
                self._state.checkpoint(), f"{self.manager.directory}/.worker-{self._task}", 1)
        manager = self._private or self.manager
        try:
            path = manager.save(checkpoint_number=step)
        except files.WRITE_ERRORS as e:
            raise WriteFailedError(
                f"could not write the checkpoint {manager.directory}/ckpt-{step} at step {step} "
                f"({files.cause(e)}); {kept}: free space or restore write access, then rerun the "
                "same command to resume") from e
        if self._private is not None:
            tf.io.gfile.rmtree(self._private.directory)
        return path

    def remove_leftovers(self, workdir):
        """Deletes what failed or killed writes left in the work directory: `ckpt-N_temp/`
        folders, pieces of checkpoints newer than the newest listed one, and `*.tmp` files."""
        listed = {int(re.search(r"ckpt-(\d+)$", p).group(1)) for p in self.manager.checkpoints}
        newest = max(listed, default=0)
        ckpt_dir = self.manager.directory
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

