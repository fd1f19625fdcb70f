"""Is the GAN any good, and what can be done with it: scores, generated images, an export.

- `evaluator`: the Evaluator over every available feature network (the NETWORKS table);
  `networks`: the FeatureNetwork interface; `inception`, `classifier`: its implementations.
- `metrics`: FID/KID/precision-recall/classifier-score arithmetic (numpy only);
  `reference_stats`: real images' statistics, cached beside the data; `reals`: real images
  at a run's size.
- `sampling`: images from a generator on the run's noise streams, and the classes asked for.
- `report`: dcgan-eval's tables. `export`: a generator as a SavedModel.
  (The programs dcgan-eval, dcgan-generate and dcgan-export live in programs/.)

It imports the core's `errors`, `runtime.streams`, the `data` wing (images and dataset metadata)
and the `rundir` wing (to write files atomically).
"""
