"""dcgan-dist: the TensorFlow DCGAN tutorial, trained under any tf.distribute strategy.

The core path is flat, read top to bottom: `main` (dcgan-train) -> `flags` -> `config` ->
`loop.train`, which builds the `strategy` and `precision`, the `state` (models and
optimizers) and the `step`, then runs the outer loop. The wings are subpackages: `models`
(architectures), `data` (datasets, sources, preparers), `evaluation` (scores, generation,
export) and `rundir` (everything written to a work directory).
"""

import importlib.util

__version__ = "0.2.0"

# TensorFlow comes from an extra chosen by hardware (setup.cfg), so a bare install lacks it.
if importlib.util.find_spec("tensorflow") is None:
    raise ImportError("dcgan-dist needs TensorFlow, which it installs only through an extra: "
                      "pip install '.[cpu]', '.[gpu]' or '.[tpu]' (see README, Install)")
