"""A run directory describes itself: `run.json` holds what reopening the run needs.

`dcgan-train` writes `run.json` (the whole Config plus the resolved dataset, image shape and
channels, and for a --conditional run its class names, in label order) and `flags.txt` (a
flagfile that reproduces the run). `dcgan-eval`, `dcgan-generate`
and `dcgan-export` reopen a run from `run.json`, and refuse one with a key they do not know
(it was written by a newer version, and guessing would score or sample the wrong model).
Runs made before run.json existed are reopened from `flags.txt`, parsed by absl with the
trainer's own flag definitions, so an unknown flag there is an error too.
"""

import dataclasses
import json

from absl import flags as absl_flags

from dcgan_dist import config as config_lib, flags
from dcgan_dist.errors import UserError
from dcgan_dist.rundir import files

FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What reopening a run needs beyond its Config."""
    config: config_lib.Config
    image_shape: tuple  # (height, width, channels) the models were built for
    class_names: tuple = ()  # --conditional: the classes the models take, in label order

    @property
    def num_classes(self):
        return len(self.class_names)


def encode(config, image_shape, class_names=None):
    """run.json's text for a run of `config` on images of `image_shape` (and `class_names`:
    a conditional run's; an unconditional run's run.json has no "classes")."""
    record = {
        "format_version": FORMAT_VERSION,
        "dataset": config.dataset,
        "image_shape": list(image_shape),
        "channels": int(image_shape[-1]),
        "config": dataclasses.asdict(config),
    }
    if class_names:
        record["classes"] = list(class_names)
    return json.dumps(record, indent=2) + "\n"


def decode(text, path="run.json", **overrides):
    """RunInfo from run.json's text; unknown keys are an error, not silently dropped."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON ({e}); restore it from a backup, or reopen "
                        "the run from its flags.txt by moving run.json away") from e
    known = {"format_version", "dataset", "image_shape", "channels", "config", "classes"}
    fields = {f.name for f in dataclasses.fields(config_lib.Config)}
    unknown = sorted(set(record) - known) + sorted(set(record.get("config", {})) - fields)
    if unknown or record.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} has keys this dcgan-dist does not know ({', '.join(unknown)}) "
                        f"or format_version {record.get('format_version')} (this version "
                        f"reads {FORMAT_VERSION}); upgrade dcgan-dist to reopen this run")
    values = dict(record["config"], **overrides)  # older runs lack newer fields: defaults
    config = config_lib.Config(**values)
    class_names = tuple(record.get("classes", ()))
    if config.conditional and not class_names:
        raise UserError(f"{path} is a --conditional run without its \"classes\"; restore "
                        "run.json from a backup")
    return RunInfo(config, tuple(record["image_shape"]), class_names)


def parse_flagfile(path, **overrides):
    """Config from a flags.txt written by an older run, parsed by absl's own flag parser."""
    flag_values = flags.flag_values(flags.TRAIN)
    try:
        flag_values(["reopen", f"--flagfile={path}"], known_only=False)
    except absl_flags.Error as e:
        raise UserError(f"{path} cannot be read as this version's flags ({e}); reopen it with "
                        "the dcgan-dist version that trained it") from e
    values = {name: flag_values[name].value for name in flags.TRAIN}
    return config_lib.Config(**dict(values, **overrides))


def write(workdir, config, image_shape, step, class_names=None):
    """flags.txt and run.json, atomically; a failure stops the run (exit 5) like a checkpoint's."""
    for name, text in (("flags.txt", config.as_flagfile()),
                       ("run.json", encode(config, image_shape, class_names))):
        path = f"{workdir}/{name}"
        files.must_write(path, step, files.write_atomic, path, text)


def read(workdir, **overrides):
    """RunInfo of a run directory: from run.json, or from flags.txt for older runs (whose
    image_shape is then None: they predate other sizes, and the caller derives it)."""
    import tensorflow as tf  # gfile: the run may live on gs://
    overrides["workdir"] = workdir  # where it is now, wherever it was trained
    for name in ("run.json", "flags.txt"):
        path = f"{workdir}/{name}"
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                text = f.read()
            if name == "run.json":
                return decode(text, path, **overrides)
            return RunInfo(parse_flagfile(path, **overrides), None)
    raise UserError(f"{workdir} has no run.json or flags.txt: is this the work directory of a "
                    "dcgan-train run?")
