"""The images a run trains on, and the tools that make datasets of them.

- `info`: what the package knows of a TFDS dataset (the one reader of its metadata: image,
  class label and class names) and the shape a run trains at; downloads, or says how to get
  the data.
- `inputs`: what a run trains on, made from the config's data section (`make_input`).
- `sources`: the input pipelines behind a table (in memory, streaming, synthetic), keyed by
  the step so a resumed run reads what an uninterrupted one would; `preview` for reals.png.
- `images`: crop, resize, flip, and the uint8 <-> [-1, 1] convention.
- `damaged`: which dataset file is broken, and the command that prepares it again.
- `mnist`: MNIST from its IDX files. `prepare`: your images (`dcgan-data prepare images`),
  read in place by `readers` (folders, zip, tar, LMDB, StyleGAN2-ADA zips; `cifar` for
  CIFAR's tarballs), decoded as viewers show them by `photos`, split (a held-out `test`) and labelled from
  their names by `splits`;
  `writer` stores the result complete or not at all (local or gs://); `commands` says what
  was written and the dcgan-train command for it. (`dcgan-data`: programs/data.py.)

It imports the core's `errors` and `runtime.streams` only.
"""
