"""A run directory describes itself: `run.json` holds what reopening the run needs.

`dcgan-train` writes `run.json` (every training flag's value, plus the resolved dataset, image
shape and channels, and for a --conditional run its class names, in label order) and
`flags.txt` (a flagfile that reproduces the run). `dcgan-eval`, `dcgan-generate` and
`dcgan-export` reopen a run from `run.json`, and refuse one with a key they do not know (it was
written by a newer version, and guessing would score or sample the wrong model). Runs made
before run.json existed are reopened from `flags.txt`.

This module reads and writes the files; `build.read_run` turns what they say into a Config
(which checks the flag names: `config.Config.from_values`, `from_flagfile`).
"""

import dataclasses
import json

from dcgan_dist.errors import UserError
from dcgan_dist.rundir import files

FORMAT_VERSION = 1
_KEYS = {"format_version", "dataset", "image_shape", "channels", "config", "classes"}


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a run directory says of its run: the flags' `values` (run.json) or, for a run from
    before run.json, its `flagfile` text; and the models' image shape and classes."""
    path: str                 # the file it was read from, for messages
    values: dict | None       # run.json's "config": flag name -> value
    flagfile: str | None      # flags.txt's text, when there is no run.json
    image_shape: tuple | None  # (height, width, channels); None for a run from flags.txt
    class_names: tuple = ()   # --conditional: the classes the models take, in label order


def encode(values, image_shape, class_names=None):
    """run.json's text for a run of flag `values` on images of `image_shape` (and
    `class_names`: a conditional run's; an unconditional run's run.json has no "classes")."""
    record = {
        "format_version": FORMAT_VERSION,
        "dataset": values["dataset"],
        "image_shape": list(image_shape),
        "channels": int(image_shape[-1]),
        "config": dict(values),
    }
    if class_names:
        record["classes"] = list(class_names)
    return json.dumps(record, indent=2) + "\n"


def decode(text, path="run.json"):
    """RunInfo from run.json's text; an unknown key or version is an error, not dropped."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON ({e}); restore it from a backup, or reopen "
                        "the run from its flags.txt by moving run.json away") from e
    unknown = sorted(set(record) - _KEYS)
    if unknown or record.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} has keys this dcgan-dist does not know ({', '.join(unknown)}) "
                        f"or format_version {record.get('format_version')} (this version "
                        f"reads {FORMAT_VERSION}); upgrade dcgan-dist to reopen this run")
    return RunInfo(path, dict(record["config"]), None, tuple(record["image_shape"]),
                   tuple(record.get("classes", ())))


def write(workdir, values, flagfile, image_shape, step, class_names=None):
    """flags.txt (`flagfile`) and run.json, atomically; a failure stops the run (exit 5) like
    a checkpoint's."""
    for name, text in (("flags.txt", flagfile),
                       ("run.json", encode(values, image_shape, class_names))):
        path = f"{workdir}/{name}"
        files.must_write(path, step, files.write_atomic, path, text)


def read(workdir):
    """RunInfo of a run directory: from run.json, or from flags.txt for older runs."""
    import tensorflow as tf  # gfile: the run may live on gs://
    for name in ("run.json", "flags.txt"):
        path = f"{workdir}/{name}"
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                text = f.read()
            if name == "run.json":
                return decode(text, path)
            return RunInfo(path, None, text, None)
    raise UserError(f"{workdir} has no run.json or flags.txt: is this the work directory of a "
                    "dcgan-train run?")
