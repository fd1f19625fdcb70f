"""The frozen run configuration: validated values, derived values, no I/O.

Built from a program's parsed flags by `Config.from_flags`, or directly (tests, benchmarks,
run.json) with unnamed fields at their flag's default. It never touches the disk: the work
directory is checked where a program is about to write (`rundir.files.check_writable_dir`).
"""

import dataclasses

from absl import flags as absl_flags

from dcgan_dist import augment, flags
from dcgan_dist.errors import UserError

# Paths on Cloud Storage; anything else is a local disk, which a remote TPU cannot read.
REMOTE_PREFIX = "gs://"


def _default(name):
    """A field's default is its flag's: defaults live in flags.py and nowhere else."""
    return dataclasses.field(default=flags.default(name))


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a run needs, validated. Built from flags by `from_flags`, or directly in tests
    (unnamed fields take their flag's default)."""

    workdir: str | None = _default("workdir")
    dataset: str = _default("dataset")
    data_dir: str | None = _default("data_dir")
    split: str = _default("split")
    image_key: str | None = _default("image_key")
    image_size: int = _default("image_size")
    cache_limit_mb: int = _default("cache_limit_mb")
    random_flip: bool = _default("random_flip")
    conditional: bool = _default("conditional")
    label_key: str | None = _default("label_key")
    augment: str = _default("augment")
    augment_policy: str = _default("augment_policy")
    ada_target: float = _default("ada_target")
    ada_every_steps: int = _default("ada_every_steps")
    ada_kimg: float = _default("ada_kimg")
    synthetic_data: bool = _default("synthetic_data")
    architecture: str = _default("architecture")
    noise_dim: int = _default("noise_dim")
    g_filters: int = _default("g_filters")
    d_filters: int = _default("d_filters")
    d_dense_units: int = _default("d_dense_units")
    d_dropout: float = _default("d_dropout")
    d_spectral_norm: bool = _default("d_spectral_norm")
    g_ema_decay: float = _default("g_ema_decay")
    sync_batchnorm: bool = _default("sync_batchnorm")
    global_batch_size: int = _default("global_batch_size")
    g_lr: float = _default("g_lr")
    d_lr: float = _default("d_lr")
    lr_decay_fraction: float = _default("lr_decay_fraction")
    d_r1_gamma: float = _default("d_r1_gamma")
    loss: str = _default("loss")
    r1_every_steps: int = _default("r1_every_steps")
    d_gp_gamma: float = _default("d_gp_gamma")
    adam_beta1: float = _default("adam_beta1")
    precision: str = _default("precision")
    strategy: str = _default("strategy")
    num_cpu_devices: int = _default("num_cpu_devices")
    tpu: str | None = _default("tpu")
    all_reduce: str = _default("all_reduce")
    collective: str = _default("collective")
    collective_timeout_secs: int = _default("collective_timeout_secs")
    slurm_port_base: int = _default("slurm_port_base")
    steps_per_execution: int = _default("steps_per_execution")
    jit_compile: bool = _default("jit_compile")
    seed: int = _default("seed")
    deterministic: bool = _default("deterministic")
    train_steps: int = _default("train_steps")
    epochs: int = _default("epochs")
    log_every_steps: int = _default("log_every_steps")
    sample_every_steps: int = _default("sample_every_steps")
    ckpt_every_steps: int = _default("ckpt_every_steps")
    eval_every_steps: int = _default("eval_every_steps")
    eval_num_images: int = _default("eval_num_images")
    inception_path: str | None = _default("inception_path")
    keep_checkpoints: int = _default("keep_checkpoints")
    verbose: bool = _default("verbose")

    def __post_init__(self):
        if not self.workdir:
            raise UserError("--workdir is required: the folder for checkpoints, samples and logs")
        for name in self.enum_flags():
            allowed = flags.CATALOGUE[name].parser.enum_values
            if getattr(self, name) not in allowed:
                raise UserError(f"--{name}={getattr(self, name)} is unknown; use one of "
                                f"{', '.join(allowed)}")
        positive = ["global_batch_size", "noise_dim", "g_lr", "d_lr", "steps_per_execution",
                    "num_cpu_devices", "log_every_steps", "keep_checkpoints", "eval_num_images",
                    "d_filters", "g_filters", "r1_every_steps", "ada_every_steps", "ada_kimg"]
        non_negative = ["train_steps", "epochs", "sample_every_steps", "ckpt_every_steps",
                        "collective_timeout_secs", "eval_every_steps", "d_dense_units",
                        "d_r1_gamma", "d_gp_gamma", "image_size", "cache_limit_mb"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise UserError(f"--{name}={getattr(self, name)} must be greater than 0")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise UserError(f"--{name}={getattr(self, name)} must not be negative")
        if self.train_steps == 0 and self.epochs == 0:
            raise UserError("--train_steps=0 and --epochs=0 leave nothing to train; set one of them")
        if not 0 <= self.lr_decay_fraction <= 1:
            raise UserError(f"--lr_decay_fraction={self.lr_decay_fraction} must be in [0, 1]: "
                            "the share of the run, at its end, over which the rates fall to 0")
        if not 0 <= self.d_dropout < 1:
            raise UserError(f"--d_dropout={self.d_dropout} must be in [0, 1)")
        if not 0 <= self.g_ema_decay < 1:
            raise UserError(f"--g_ema_decay={self.g_ema_decay} must be in [0, 1); 0 turns it off")
        if not 0 <= self.adam_beta1 < 1:
            raise UserError(f"--adam_beta1={self.adam_beta1} must be in [0, 1)")
        if self.label_key and not self.conditional:
            raise UserError(f"--label_key={self.label_key} names the label of --conditional "
                            "training; add --conditional, or drop --label_key")
        if self.r1_every_steps > 1 and not self.d_r1_gamma:
            raise UserError(f"--r1_every_steps={self.r1_every_steps} spaces out an R1 penalty "
                            "that is off: set --d_r1_gamma, or drop --r1_every_steps")
        try:
            augment.parse_policy(self.augment_policy)
        except ValueError as e:
            raise UserError(str(e)) from e
        if not -1 <= self.ada_target <= 1:
            raise UserError(f"--ada_target={self.ada_target} must be in [-1, 1]: the mean sign of "
                            "the discriminator's outputs on real images (StyleGAN2-ADA: 0.6)")
        if self.eval_every_steps and not self.data_dir:
            raise UserError("--eval_every_steps needs --data_dir: the reference statistics and "
                            "the classifier are computed from the dataset and cached there")
        if self.jit_compile and self.sync_batchnorm:
            raise UserError("--jit_compile cannot be combined with --sync_batchnorm: the "
                            "batch-norm all-reduce cannot run inside the XLA-compiled replica "
                            "function; drop one of the two")
        # A remote TPU (a name or grpc:// address) runs on other hosts, which cannot read this
        # machine's disk. On a TPU VM (--tpu=local) local paths work while the slice has one
        # host; the strategy refuses them on a multi-host slice, where it knows the host count.
        remote_tpu = self.tpu != "local" and (
            self.strategy == "tpu" or (self.strategy == "auto" and self.tpu))
        if remote_tpu and self.local_paths():
            name, path = self.local_paths()[0]
            raise UserError(f"--{name}={path} must be a gs:// path on TPU --tpu={self.tpu}: the "
                            "TPU hosts cannot read this machine's disk (on a single-host TPU VM, "
                            "--tpu=local may use local paths)")

    @staticmethod
    def enum_flags():
        return [f.name for f in dataclasses.fields(Config)
                if isinstance(flags.CATALOGUE[f.name], absl_flags.EnumFlag)]

    def local_paths(self):
        """[(flag, path)] of --workdir and --data_dir not on Cloud Storage (the data directory
        only when the run reads data): the one rule for what a TPU host cannot read."""
        paths = [("workdir", self.workdir)] + ([] if self.synthetic_data else
                                               [("data_dir", self.data_dir)])
        return [(name, path) for name, path in paths
                if not (path or "").startswith(REMOTE_PREFIX)]

    @classmethod
    def from_flags(cls, flag_values):
        """Builds a Config from dcgan-train's parsed flags (`cli.run` hands them over)."""
        return cls(**{f.name: flag_values[f.name].value for f in dataclasses.fields(cls)})

    def per_replica_batch_size(self, num_replicas):
        """The global batch split over replicas; fails early if it does not divide evenly."""
        if self.global_batch_size % num_replicas:
            lower = self.global_batch_size - self.global_batch_size % num_replicas
            raise UserError(
                f"--global_batch_size={self.global_batch_size} is not divisible by the "
                f"{num_replicas} replicas; use a multiple such as {max(lower, num_replicas)}")
        return self.global_batch_size // num_replicas

    def as_flagfile(self):
        """This configuration as an absl flagfile that reproduces the run."""
        lines = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, bool):
                lines.append(f"--{field.name}" if value else f"--no{field.name}")
            else:
                lines.append(f"--{field.name}={value}")
        return "\n".join(lines) + "\n"

