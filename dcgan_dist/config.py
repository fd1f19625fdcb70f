"""The frozen run configuration: the training flags, validated, in one section per wing.

    config = Config.from_flags(flag_values)     # dcgan-train
    config = Config.of(workdir="runs/x", g_lr=2e-4)   # tests, benchmarks: others at defaults
    models.build(config.model, image_shape)     # each wing reads its own section

The flags stay one flat list (flagfiles, flags.txt and run.json are written and read flat:
`values`, `flagfile`, `from_flagfile`); the sections are how the code reads them. A
section holds every flag its wing reads, so a value the data and the step both need (the
global batch, the seed) stands in both, and comes from its one flag. No I/O here: the work
directory is checked where a program is about to write, a flags.txt is read by the caller.
"""

import dataclasses
import types

from absl import flags as absl_flags

from dcgan_dist import flags, paths
from dcgan_dist.errors import UserError
from dcgan_dist.training import augment


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The data wing: which images, at what size, in what order (`data.inputs.make_input`)."""
    dataset: str
    data_dir: str | None
    split: str
    image_key: str | None
    label_key: str | None
    image_size: int
    cache_limit_mb: int
    random_flip: bool
    conditional: bool
    synthetic_data: bool
    global_batch_size: int
    seed: int


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The models wing: the architecture and its widths (`models.build`)."""
    architecture: str
    noise_dim: int
    g_filters: int
    d_filters: int
    d_dense_units: int
    d_dropout: float
    d_spectral_norm: bool
    sync_batchnorm: bool


@dataclasses.dataclass(frozen=True)
class ObjectiveConfig:
    """What the step optimises and how (`training.state`, `training.step`)."""
    loss: str
    d_r1_gamma: float
    r1_every_steps: int
    d_gp_gamma: float
    g_lr: float
    d_lr: float
    lr_decay_fraction: float
    adam_beta1: float
    g_ema_decay: float
    global_batch_size: int
    noise_dim: int
    jit_compile: bool
    seed: int


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """What the discriminator's inputs go through (`training.augment`)."""
    augment: str
    augment_policy: str
    ada_target: float
    ada_every_steps: int
    ada_kimg: float
    global_batch_size: int


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Where and how the steps run (`runtime.strategy.place`): strategy, precision,
    determinism."""
    strategy: str
    num_cpu_devices: int
    tpu: str | None
    all_reduce: str
    collective: str
    collective_timeout_secs: int
    slurm_port_base: int
    precision: str
    deterministic: bool
    global_batch_size: int
    local_paths: tuple  # ((flag, path), ...) a TPU host could not read: `Config.of` derives it


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """How long to train and when each periodic job is due (`build.Schedule`)."""
    train_steps: int
    epochs: int
    train_minutes: float  # 0 = off; else the steps are fitted to it (`timebudget`)
    steps_per_execution: int
    log_every_steps: int
    sample_every_steps: int
    ckpt_every_steps: int
    eval_every_steps: int
    global_batch_size: int


@dataclasses.dataclass(frozen=True)
class RunDirConfig:
    """The work directory: where `build.build_run` has the rundir wing write, and how many
    checkpoints it keeps there."""
    workdir: str
    keep_checkpoints: int


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Scoring during training (`evaluation`): against which dataset, with what."""
    dataset: str
    data_dir: str | None
    image_key: str | None
    label_key: str | None
    inception_path: str | None
    reference_split: str  # '' = the held-out 'test' split when there is one
    split: str            # the split the run trains on: scoring against it says so
    eval_num_images: int
    noise_dim: int
    seed: int


SECTIONS = {"data": DataConfig, "model": ModelConfig, "objective": ObjectiveConfig,
            "augment": AugmentConfig, "runtime": RuntimeConfig, "schedule": ScheduleConfig,
            "rundir": RunDirConfig, "evaluation": EvalConfig}
_DERIVED = {"local_paths"}


@dataclasses.dataclass(frozen=True)
class Config:
    """Every training flag (`values`, flat; `flagfile`, the same as a flagfile that
    reproduces the run) and the same values as sections, validated."""
    values: types.MappingProxyType = dataclasses.field(hash=False)  # the sections hash it
    flagfile: str
    data: DataConfig
    model: ModelConfig
    objective: ObjectiveConfig
    augment: AugmentConfig
    runtime: RuntimeConfig
    schedule: ScheduleConfig
    rundir: RunDirConfig
    evaluation: EvalConfig

    @classmethod
    def of(cls, **values):
        """A validated Config of training flag values; unnamed flags take their defaults."""
        return cls.from_values(values)

    @classmethod
    def from_values(cls, values, source=None):
        """`of` for a mapping; with `source`, read from that file (run.json): a name that is
        not a training flag is then a newer version's."""
        unknown = ", ".join(sorted(set(values) - set(flags.TRAIN)))
        if unknown and source:
            raise UserError(f"{source} has keys this dcgan-dist does not know ({unknown}); "
                            "upgrade dcgan-dist to reopen this run")
        if unknown:
            raise UserError(f"unknown training flags {unknown}; see dcgan-train --help")
        values = {name: values.get(name, flags.default(name)) for name in flags.TRAIN}
        v = types.SimpleNamespace(**values)
        _validate(v)
        local = tuple(_local_paths(v))
        sections = {}
        for name, section in SECTIONS.items():
            fields = {f.name: getattr(v, f.name) for f in dataclasses.fields(section)
                      if f.name not in _DERIVED}
            if section is RuntimeConfig:
                fields["local_paths"] = local
            sections[name] = section(**fields)
        return cls(values=types.MappingProxyType(values), flagfile=_as_flagfile(values),
                   **sections)

    @classmethod
    def from_flags(cls, flag_values):
        """Builds a Config from dcgan-train's parsed flags (`cli.run` hands them over)."""
        return cls.of(**{name: flag_values[name].value for name in flags.TRAIN})

    @classmethod
    def from_flagfile(cls, text, source="flags.txt", **overrides):
        """The Config of a flagfile's text (`flagfile`, or an older version's flags.txt),
        parsed by absl with the trainer's own flag definitions: an unknown flag is an error."""
        args = [line.strip() for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "//"))]
        flag_values = flags.flag_values(flags.TRAIN)
        try:
            flag_values(["reopen", *args], known_only=False)
        except absl_flags.Error as e:
            raise UserError(f"{source} cannot be read as this version's flags ({e}); reopen it "
                            "with the dcgan-dist version that trained it") from e
        values = {name: flag_values[name].value for name in flags.TRAIN}
        return cls.of(**dict(values, **overrides))

    def replace(self, **changes):
        """This Config with some flags changed, validated again."""
        return Config.of(**dict(self.values, **changes))


POSITIVE = ("global_batch_size", "noise_dim", "g_lr", "d_lr", "steps_per_execution",
            "num_cpu_devices", "log_every_steps", "keep_checkpoints", "eval_num_images",
            "d_filters", "g_filters", "r1_every_steps", "ada_every_steps", "ada_kimg")
NON_NEGATIVE = ("train_steps", "epochs", "train_minutes", "sample_every_steps",
                "ckpt_every_steps", "collective_timeout_secs", "eval_every_steps",
                "d_dense_units", "d_r1_gamma", "d_gp_gamma", "image_size", "cache_limit_mb")


def _as_flagfile(values):
    """`values` as an absl flagfile (`Config.from_flagfile` reads it back)."""
    lines = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            lines.append(f"--{name}" if value else f"--no{name}")
        else:
            lines.append(f"--{name}={value}")
    return "\n".join(lines) + "\n"


def _validate(v):
    """Raises UserError for the first value that cannot make a run."""
    if not v.workdir:
        raise UserError("--workdir is required: the folder for checkpoints, samples and logs")
    for name in flags.TRAIN:
        flag, value = flags.CATALOGUE[name], getattr(v, name)
        if isinstance(flag, absl_flags.EnumFlag) and value not in flag.parser.enum_values:
            raise UserError(f"--{name}={value} is unknown; use one of "
                            f"{', '.join(flag.parser.enum_values)}")
    for name in POSITIVE:
        if getattr(v, name) <= 0:
            raise UserError(f"--{name}={getattr(v, name)} must be greater than 0")
    for name in NON_NEGATIVE:
        if getattr(v, name) < 0:
            raise UserError(f"--{name}={getattr(v, name)} must not be negative")
    if v.train_steps == 0 and v.epochs == 0:
        raise UserError("--train_steps=0 and --epochs=0 leave nothing to train; set one of them")
    if not 0 <= v.lr_decay_fraction <= 1:
        raise UserError(f"--lr_decay_fraction={v.lr_decay_fraction} must be in [0, 1]: the "
                        "share of the run, at its end, over which the rates fall to 0")
    if not 0 <= v.d_dropout < 1:
        raise UserError(f"--d_dropout={v.d_dropout} must be in [0, 1)")
    if not 0 <= v.g_ema_decay < 1:
        raise UserError(f"--g_ema_decay={v.g_ema_decay} must be in [0, 1); 0 turns it off")
    if not 0 <= v.adam_beta1 < 1:
        raise UserError(f"--adam_beta1={v.adam_beta1} must be in [0, 1)")
    if 0 < v.collective_timeout_secs < 20:  # TensorFlow's heartbeat names a dead peer at 10 s
        raise UserError(f"--collective_timeout_secs={v.collective_timeout_secs} would race "
                        "TensorFlow's 10 s heartbeat (the two together crashed TensorFlow 2.20); "
                        "use 0 (never) or at least 20")
    if v.label_key and not v.conditional:
        raise UserError(f"--label_key={v.label_key} names the label of --conditional "
                        "training; add --conditional, or drop --label_key")
    if v.r1_every_steps > 1 and not v.d_r1_gamma:
        raise UserError(f"--r1_every_steps={v.r1_every_steps} spaces out an R1 penalty "
                        "that is off: set --d_r1_gamma, or drop --r1_every_steps")
    try:
        augment.parse_policy(v.augment_policy)
    except ValueError as e:
        raise UserError(str(e)) from e
    if not -1 <= v.ada_target <= 1:
        raise UserError(f"--ada_target={v.ada_target} must be in [-1, 1]: the mean sign of "
                        "the discriminator's outputs on real images (StyleGAN2-ADA: 0.6)")
    if v.eval_every_steps and not v.data_dir:
        raise UserError("--eval_every_steps needs --data_dir: the reference statistics and "
                        "the classifier are computed from the dataset and cached there")
    if v.jit_compile and v.sync_batchnorm:
        raise UserError("--jit_compile cannot be combined with --sync_batchnorm: the "
                        "batch-norm all-reduce cannot run inside the XLA-compiled replica "
                        "function; drop one of the two")
    # A remote TPU (a name or grpc:// address) runs on other hosts, which cannot read this
    # machine's disk. On a TPU VM (--tpu=local) local paths work while the slice has one
    # host; the strategy refuses them on a multi-host slice, where it knows the host count.
    remote_tpu = v.tpu != "local" and (v.strategy == "tpu" or (v.strategy == "auto" and v.tpu))
    local = _local_paths(v)
    if remote_tpu and local:
        name, path = local[0]
        raise UserError(f"--{name}={path} must be a gs:// path on TPU --tpu={v.tpu}: the "
                        "TPU hosts cannot read this machine's disk (on a single-host TPU VM, "
                        "--tpu=local may use local paths)")


def _local_paths(v):
    """[(flag, path)] of --workdir and --data_dir on this machine's disk (the data directory
    only when the run reads data): the one rule for what a TPU host cannot read."""
    named = [("workdir", v.workdir)] + ([] if v.synthetic_data else [("data_dir", v.data_dir)])
    return [(name, path) for name, path in named if not paths.is_remote(path)]
