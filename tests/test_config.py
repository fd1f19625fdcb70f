"""Flags -> Config: each program's own flags, every shipped config parses, bad values get one
clear line, flags.txt replays, and Config touches nothing on disk."""

import dataclasses
import glob
import os
import re
from unittest import mock

from absl import flags as absl_flags
import pytest
import tensorflow as tf

from dcgan_dist import config as config_lib, flags, models
from dcgan_dist.errors import UserError
from dcgan_dist.programs import data, train
from dcgan_dist.runtime import precision, strategy
from helpers import parse_train as parse, program_modules

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "*.cfg")))


def test_there_are_configs():
    names = {os.path.basename(c) for c in CONFIGS}
    assert {"mnist.cfg", "cpu_smoke.cfg"} <= names


def test_config_values_are_the_training_flags():
    config = config_lib.Config.of(workdir="/x")
    assert tuple(config.values) == flags.TRAIN
    assert config.values["g_filters"] == config.model.g_filters == (
        flags.CATALOGUE["g_filters"].default)
    # Every field of a section is a training flag (but the derived local paths).
    for section in config_lib.SECTIONS.values():
        assert {f.name for f in dataclasses.fields(section)} - set(flags.TRAIN) <= {
            "local_paths"}, section
    # --config and --list_configs choose flags; they are dcgan-train's, not Config values.
    assert set(train.FLAGS) - set(flags.TRAIN) == {"config", "list_configs"}


# Each choice of these flags comes from a table; Config takes every entry and refuses
# anything else, naming the choices. (--config's: test_flagfiles.)
@pytest.mark.parametrize("name, table", [
    ("architecture", models.ARCHITECTURES), ("strategy", ["auto", *strategy.STRATEGIES]),
    ("precision", ["auto", *precision.PRECISIONS]), ("all_reduce", strategy.ALL_REDUCE),
    ("collective", strategy.COLLECTIVES)])
def test_every_entry_of_a_table_is_a_choice_and_nothing_else(name, table):
    paths = dict(workdir="gs://b/run", data_dir="gs://b/tfds")  # --strategy=tpu needs them
    for choice in table:
        assert config_lib.Config.of(**paths, **{name: choice}).values[name] == choice
    with pytest.raises(UserError, match=f"^--{name}=abacus is unknown; use one of "
                                        f"{re.escape(', '.join(table))}$"):
        config_lib.Config.of(**paths, **{name: "abacus"})


def test_each_program_accepts_its_own_flags_and_no_others():
    programs = program_modules()  # setup.cfg's console scripts
    used = {name for module in programs.values() for name in module.FLAGS}
    assert used == set(flags.CATALOGUE), "a flag no program takes"
    for program, module in programs.items():
        flag_values = flags.flag_values(module.FLAGS)
        assert set(flag_values) == set(module.FLAGS), program
        if program != "dcgan-train":
            with pytest.raises(absl_flags.UnrecognizedFlagError, match="g_lr"):
                flag_values([program, "--g_lr=1"])
    # One definition per flag: dcgan-data's --image_size is dcgan-train's.
    assert flags.flag_values(data.FLAGS)["image_size"].help == (
        flags.flag_values(flags.TRAIN)["image_size"].help)


def test_parsing_a_program_twice_starts_from_the_defaults():
    assert parse("--g_lr=0.5", "--workdir=/x").objective.g_lr == 0.5
    assert parse("--workdir=/x").objective.g_lr == flags.default("g_lr")


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_config_parses_and_has_a_header(path, tmp_path):
    with open(path) as f:
        lines = f.read().splitlines()
    header = "\n".join(lines[:next(i for i, l in enumerate(lines) if l.startswith("--"))])
    for word in ("Command:", "Hardware:", "Expected:"):
        assert word in header, f"{path} header lacks {word}"
    # The first line is the purpose --list_configs shows: one comment line of one sentence.
    assert lines[0].startswith("# ") and lines[0].endswith(".") and len(lines[0]) <= 100
    assert "--flagfile=" not in "\n".join(lines), "configs include each other by --config=NAME"
    paths = (["--workdir=gs://bucket/run", "--data_dir=gs://bucket/tfds"] if "tpu" in path
             else [f"--workdir={tmp_path}"])
    config = parse(f"--flagfile={path}", *paths)
    assert config.values["global_batch_size"] > 0


# A dataset's side (0: not square, --image_size sets it), channels and classes (0: no class
# label), so models build without data.
DATASETS = {"mnist": (28, 1, 10), "cifar10": (32, 3, 10), "celeb_a": (0, 3, 0),
            "lsun/bedroom": (0, 3, 0)}


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_config_builds_its_models(path, tmp_path):
    config = parse(f"--flagfile={path}", f"--workdir={tmp_path}", "--strategy=cpu")
    side, channels, classes = DATASETS[config.data.dataset]
    image_shape = (config.data.image_size or side,) * 2 + (channels,)
    generator, discriminator = models.build(config.model, image_shape,
                                            classes if config.data.conditional else 0)
    assert generator.output_shape == (None,) + image_shape
    assert discriminator.count_params() > 0


def test_dcgan_configs_use_the_papers_settings():
    for name in ("cifar10", "celeba64", "lsun_bedroom64", "folder64", "mnist_dcgan"):
        config = parse(f"--config={name}", "--workdir=/tmp/x")
        assert (config.model.architecture, config.objective.adam_beta1,
                config.model.d_dropout) == ("dcgan", 0.5, 0.0)
    config = parse("--config=cifar10", "--workdir=/tmp/x")
    assert (config.objective.g_lr, config.objective.d_lr,
            config.objective.global_batch_size) == (2e-4, 2e-4, 128)
    config = parse("--config=folder64", "--dataset=faces", "--workdir=/x")
    assert (config.data.dataset, config.data.image_size) == ("faces", 64)
    # Folder configs budget in steps (folder32 in minutes, at most its steps) and augment:
    # a folder's size changes neither.
    for name in ("folder32", "folder64"):
        config = parse(f"--config={name}", "--dataset=faces", "--workdir=/x")
        assert config.schedule.train_steps > 0 and config.augment.augment == "ada"
        assert (config.schedule.sample_every_steps, config.schedule.ckpt_every_steps) == (
            500, 2000)


def test_folder32_trains_mnist_fasts_networks_and_optimiser_at_32_px():
    """They beat the paper's networks at width 16 there, by FID on digits and photo crops;
    mnist_fast's Adam without momentum, R1 gamma and generator rate beat folder32's old ones
    on both (benchmarks/RESULTS_fid.md)."""
    folder32, fast = (parse(f"--config={name}", "--workdir=/x") for name in ("folder32",
                                                                             "mnist_fast"))
    assert (folder32.model.architecture, folder32.model.g_filters, folder32.model.d_filters,
            folder32.model.d_dense_units, folder32.objective.r1_every_steps) == (
        "tutorial", fast.model.g_filters, fast.model.d_filters, fast.model.d_dense_units,
        fast.objective.r1_every_steps)
    habits = ("adam_beta1", "d_r1_gamma", "g_lr", "d_lr", "lr_decay_fraction")
    assert ([getattr(folder32.objective, name) for name in habits]
            == [getattr(fast.objective, name) for name in habits])
    assert (folder32.data.image_size, folder32.objective.g_ema_decay,
            folder32.schedule.train_steps) == (32, 0.9999, 40000)
    generator, discriminator = models.build(folder32.model, (32, 32, 3))  # photos: colour
    assert generator.output_shape == (None, 32, 32, 3)
    assert discriminator(generator(tf.zeros([2, folder32.model.noise_dim]))).shape == (2, 1)


@pytest.mark.parametrize("name, minutes", [("mnist_fast", 13.5), ("mnist_cond", 13.5),
                                           ("folder32", 12.5)])
def test_fifteen_minute_configs_fit_their_steps_to_minutes(name, minutes):
    """A fixed count of steps overran 15 minutes on a slower machine (mnist_cond's 48,000:
    17.7 minutes on 2026-12-07's AMD VM): these configs fit their steps to minutes of
    training, at most their --train_steps, 8 steps per call (folder32 asks for less: its
    steps slow down as augmentation rises after the fit)."""
    schedule = parse(f"--config={name}", "--dataset=mnist", "--workdir=/x").schedule
    assert (schedule.train_minutes, schedule.steps_per_execution) == (minutes, 8)
    assert schedule.train_steps >= 40000


def test_mnist_config_is_the_tutorial():
    config = parse("--config=mnist", "--workdir=/tmp/x")
    objective, model, schedule = config.objective, config.model, config.schedule
    assert (objective.global_batch_size, schedule.epochs, objective.g_lr, objective.d_lr,
            objective.adam_beta1, model.noise_dim, model.d_dropout, model.g_filters,
            model.d_filters) == (256, 50, 1e-4, 1e-4, 0.9, 100, 0.3, 256, 64)
    assert (schedule.sample_every_steps, schedule.ckpt_every_steps) == (0, 0)  # once an epoch


def test_flagfile_written_by_a_run_replays_it(tmp_path):
    config = parse("--workdir=/tmp/x", "--global_batch_size=32", "--sync_batchnorm",
                   "--g_lr=0.0002", "--noverbose")
    path = tmp_path / "flags.txt"
    path.write_text(config.flagfile)
    assert parse(f"--flagfile={path}") == config


@pytest.mark.parametrize("overrides, message", [
    (dict(strategy="gpus"), "--strategy=gpus is unknown; use one of auto, cpu, gpu"),
    (dict(precision="fp8"), "--precision=fp8 is unknown; use one of auto, float32"),
    (dict(global_batch_size=0), "--global_batch_size=0 must be greater than 0"),
    (dict(g_lr=-1.0), "--g_lr=-1.0 must be greater than 0"),
    (dict(train_steps=-5), "--train_steps=-5 must not be negative"),
    (dict(train_steps=0, epochs=0), "leave nothing to train"),
    (dict(log_every_steps=0), "--log_every_steps=0 must be greater than 0"),
    (dict(d_dropout=1.0), r"--d_dropout=1.0 must be in \[0, 1\)"),
    (dict(g_filters=0), "--g_filters=0 must be greater than 0"),
    (dict(architecture="resnet"),
     "--architecture=resnet is unknown; use one of tutorial, dcgan"),
    (dict(d_filters=0), "--d_filters=0 must be greater than 0"),
    (dict(workdir=""), "--workdir is required"),
    (dict(lr_decay_fraction=1.5), r"--lr_decay_fraction=1.5 must be in \[0, 1\]: the share"),
    (dict(d_r1_gamma=-1.0), "--d_r1_gamma=-1.0 must not be negative"),
    (dict(jit_compile=True, sync_batchnorm=True), "--jit_compile cannot be combined with --sync_batchnorm"),
    (dict(collective="mpi"), "--collective=mpi is unknown; use one of auto, ring, nccl"),
    (dict(collective_timeout_secs=10), r"--collective_timeout_secs=10 would race TensorFlow's "
                                       r"10 s heartbeat .*; use 0 \(never\) or at least 20"),
    (dict(strategy="tpu", tpu="t", workdir="/local"), "--workdir=/local must be a gs:// path on TPU"),
])
def test_bad_values_are_refused_with_the_fix(overrides, message, tmp_path):
    values = dict(workdir=str(tmp_path))
    values.update(overrides)
    with pytest.raises(UserError, match=message):
        config_lib.Config.of(**values)


def test_config_touches_nothing_on_disk(tmp_path):
    # A file where the work directory should be, an unwritable place: Config accepts both; the
    # program that is about to write checks (rundir.files.check_writable_dir, test_errors).
    path = tmp_path / "file"
    path.write_text("keep me")
    for workdir in (str(path), "/proc/dcgan_run"):
        assert config_lib.Config.of(workdir=workdir).rundir.workdir == workdir
    assert path.read_text() == "keep me" and os.listdir(tmp_path) == ["file"]


def test_local_paths_is_the_one_tpu_path_rule():
    def local_paths(**paths):
        return config_lib.Config.of(**paths).runtime.local_paths

    assert local_paths(workdir="/local/run", data_dir="gs://b/tfds") == (
        ("workdir", "/local/run"),)
    assert local_paths(workdir="gs://b/run", data_dir=None) == (("data_dir", None),)
    # Synthetic data reads no data directory; a path with a scheme is not on this machine's
    # disk (paths.is_remote), a path without one is, and so is file://.
    assert local_paths(workdir="gs://b/r", synthetic_data=True) == ()
    assert local_paths(workdir="s3://b/r", data_dir="/data") == (("data_dir", "/data"),)
    assert local_paths(workdir="file:///tmp/r", synthetic_data=True) == (
        ("workdir", "file:///tmp/r"),)


def test_per_replica_batch_size():
    runtime = config_lib.Config.of(workdir="/tmp/x", global_batch_size=256,
                                   strategy="cpu").runtime

    def replicas(n):  # a strategy of n replicas, as far as place() asks
        return mock.Mock(spec=["num_replicas_in_sync"], num_replicas_in_sync=n)

    assert strategy.place(runtime, replicas(8)).per_replica_batch_size == 32
    with pytest.raises(UserError, match="not divisible by the 3 replicas; use a multiple such as 255"):
        strategy.place(runtime, replicas(3))
