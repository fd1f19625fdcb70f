"""A run directory's newest checkpoint, reopened for the programs that only read it:
dcgan-eval, dcgan-generate, dcgan-export and the benchmarks.

    config, state = restore_run(workdir)

On this machine's default device, in float32, whatever the run trained on and in: the run's
own description (`runinfo`) says which models to build; `checkpoints` restores them, falling
back past a damaged newest checkpoint. Nothing is written: a read-only run directory works.
"""

import dataclasses

from absl import logging
import tensorflow as tf

from dcgan_dist import state as state_lib
from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError
from dcgan_dist.rundir import checkpoints, runinfo


def restore_run(workdir, step=None):
    """(config, state) of `workdir`'s newest readable checkpoint (or the one of `step`);
    UserError without one."""
    run = runinfo.read(workdir, strategy="auto", tpu=None)
    config, image_shape = run.config, run.image_shape
    if image_shape is None:  # a run from before run.json: its dataset's own shape
        image_shape = data_info.load_info(
            dataclasses.replace(config, synthetic_data=True)).image_shape
    state = state_lib.build_state(config, tf.distribute.get_strategy(), image_shape, "float32",
                                  run.num_classes)
    _, latest = checkpoints.Checkpoints(state, workdir, keep=None).restore(step)
    if latest is None:
        raise UserError(f"no checkpoint in {checkpoints.directory(workdir)}; train first with "
                        "dcgan-train")
    logging.info("Restored %s (step %d, %s generator)", latest, int(state.step.numpy()),
                 "EMA" if state.g_ema is not None else "plain")
    return config, state
