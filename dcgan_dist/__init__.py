"""dcgan-dist: the TensorFlow DCGAN tutorial, trained under any tf.distribute strategy.

The core path is flat, read top to bottom: `programs/train` (dcgan-train) -> `flags` ->
`config` (a Config of sections, one per wing) -> `loop.train`, which has `build.build_run`
make the run top-down (placement, input, state, checkpoints, writers, evaluator), then drives
it. The wings are subpackages, each built from its own section: `runtime` (strategy,
precision, multi-worker agreement), `data` (datasets, sources, preparers), `models`
(architectures), `training` (train state, the step, losses, augmentation), `rundir`
(everything written to a work directory) and `evaluation` (scores, generation, export).
`programs` holds the five programs.
"""

import importlib.util

__version__ = "0.3.0"

# TensorFlow comes from an extra chosen by hardware (setup.cfg), so a bare install lacks it.
if importlib.util.find_spec("tensorflow") is None:
    raise ImportError("dcgan-dist needs TensorFlow, which it installs only through an extra: "
                      "pip install '.[cpu]', '.[gpu]' or '.[tpu]' (see README, Install)")
