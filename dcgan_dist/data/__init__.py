"""The images a run trains on, and the tools that make datasets of them.

- `info`: what the package knows of a TFDS dataset (the one reader of its metadata: image,
  class label and class names) and the shape a run trains at; downloads, or says how to get
  the data.
- `inputs`: what a run trains on, made from the config's data section (`make_input`).
- `sources`: the input pipelines behind a table (in memory, streaming, synthetic), keyed by
  the step so a resumed run reads what an uninterrupted one would; `preview` for reals.png.
- `images`: crop, resize, flip, and the uint8 <-> [-1, 1] convention.
- `damaged`: which dataset file is broken, and the command that prepares it again.
- `mnist`, `folder`: the preparers (`dcgan-data`: programs/data.py).

It imports the core's `errors` and `runtime.streams` only.
"""
