"""From a config to a ready run, top-down; and a finished run reopened for reading.

    with build_run(config) as run:        # holds the work directory while the block runs
        loop.drive(run)
    config, state = restore_run(workdir)  # dcgan-eval, dcgan-generate, dcgan-export

`build_run` goes down the tree once, each wing from its own section of the config: the
placement (strategy and precision) from `runtime`, the input from `data`, the train state from
`model`, `objective` and `augment`, its checkpoints and the run directory's writers from
`rundir`, the evaluator from `evaluation`, the schedule from `schedule`. Everything that can
still fail on bad input comes before the run's first file is written (the hold on the
directory, `rundir.lock`, aside).
"""

import contextlib
import dataclasses

from absl import logging
import tensorflow as tf

from dcgan_dist.config import Config
from dcgan_dist.data import damaged, info as data_info, inputs
from dcgan_dist.errors import UserError
from dcgan_dist.evaluation import evaluator as evaluator_lib, sampling
from dcgan_dist.rundir import checkpoints as checkpoints_lib, files, grids, lock
from dcgan_dist.rundir import progress as progress_lib
from dcgan_dist.rundir import runinfo, timebudget
from dcgan_dist.runtime import strategy as strategy_lib, workers
from dcgan_dist.training import state as state_lib, step as step_lib


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When each periodic job is due, from the config alone: every worker must cut its
    executions at the same steps."""
    total_steps: int
    steps_per_epoch: int  # 0 when the number of examples is unknown
    steps_per_execution: int
    log: int
    sample: int
    ckpt: int
    evaluate: int  # 0 = never

    @classmethod
    def of(cls, schedule, num_examples):
        """The Schedule of the config's schedule section over `num_examples` training
        examples (0 when unknown: then epochs cannot count steps)."""
        steps_per_epoch = num_examples // schedule.global_batch_size
        total_steps = schedule.train_steps or schedule.epochs * steps_per_epoch
        if total_steps == 0:
            raise UserError(f"--epochs={schedule.epochs} of {num_examples} examples at "
                            f"--global_batch_size={schedule.global_batch_size} is no steps; "
                            "set --train_steps")

        def every(steps):  # 0 means once an epoch (or at the end if epochs are unknown)
            return steps or steps_per_epoch or total_steps

        return cls(total_steps, steps_per_epoch, schedule.steps_per_execution,
                   schedule.log_every_steps, every(schedule.sample_every_steps),
                   every(schedule.ckpt_every_steps), schedule.eval_every_steps)

    def due(self, every, step):
        return bool(every) and (step % every == 0 or step == self.total_steps)

    def steps_until_boundary(self, step):
        """Steps in the next execution: never past a boundary of any job or the end."""
        until = [self.total_steps - step, self.steps_per_execution]
        until += [every - step % every for every in (self.log, self.sample, self.ckpt,
                                                     self.evaluate) if every]
        return min(until)


@dataclasses.dataclass
class Run:
    """A built run: what the outer loop (`loop.drive`) works with."""
    config: Config
    placement: strategy_lib.Placement
    state: state_lib.TrainState
    checkpoints: checkpoints_lib.Checkpoints
    schedule: Schedule
    start_step: int
    progress: progress_lib.Progress = None
    iterator: object = None     # None when there is nothing left to do
    train_fn: object = None     # step.make_train_fn's
    sample_fn: object = None    # () -> the sample grid's images, per replica
    evaluator: object = None    # the chief's evaluator.Evaluator (--eval_every_steps)
    generate_fn: object = None  # (num_images) -> images, on every worker (--eval_every_steps)
    class_names: tuple = ()     # --conditional: the grid's rows are the first 16 of these
    budget: timebudget.TimeBudget = None  # --train_minutes, until its fits set total_steps
    best_effort: files.BestEffort = dataclasses.field(default_factory=files.BestEffort)

    @property
    def done(self):
        return self.start_step >= self.schedule.total_steps


@contextlib.contextmanager
def build_run(config, *, strategy=None, dataset_fn=None):
    """Yields the Run of `config`, resumed from its work directory's newest checkpoint, while
    the chief holds the directory (a second run on it stops: rundir.lock).

    Args:
      config: a `Config`.
      strategy: a tf.distribute strategy to use instead of the one config.runtime names.
      dataset_fn: `dataset_fn(input_context, start_step) -> per-replica batches of images in
        [-1, 1]` (with --conditional, of (images, int32 labels)), used instead of the dataset
        (tests, benchmarks); needs --train_steps.
    """
    workdir = config.rundir.workdir
    files.check_writable_dir(workdir)
    # The strategy first: multi-worker collectives must be configured before any other op.
    placement = strategy_lib.place(config.runtime, strategy)
    strategy, chief = placement.strategy, placement.chief
    if config.schedule.train_minutes and placement.multi_worker:
        raise UserError(f"--train_minutes={config.schedule.train_minutes:g} fits a run to one "
                        "machine's clock; a multi-worker run sets --train_steps instead")
    with lock.holding(workdir, chief):
        per_replica = placement.per_replica_batch_size
        run_input = inputs.make_input(config.data, placement.input_pipelines, dataset_fn)
        info = run_input.info
        num_classes = info.num_classes if config.data.conditional else 0
        class_names = info.class_names if num_classes else ()
        schedule = Schedule.of(config.schedule, info.num_examples)
        state = state_lib.build_state(config.model, config.objective, config.augment, strategy,
                                      info.image_shape, placement.precision, num_classes)
        train_fn = step_lib.make_train_fn(strategy, state, config.objective, config.augment,
                                          per_replica)
        generator = state.sampling_generator
        sample_fn = tf.function(lambda: strategy.run(lambda: generator(
            grids.sample_inputs(state.sample_noise, num_classes), training=False)),
            autograph=False)
        checkpoints = checkpoints_lib.Checkpoints(state, workdir, config.rundir.keep_checkpoints,
                                                  chief, placement.task)
        start_step, restored = checkpoints.restore()
        # --train_minutes: the steps an earlier start fitted, or the cap until the loop fits.
        total_steps, budget = timebudget.resume(workdir, config.schedule.train_minutes,
                                                schedule.total_steps,
                                                config.objective.lr_decay_fraction)
        schedule = dataclasses.replace(schedule, total_steps=total_steps)
        progress_lib.log_start(config.model.architecture, run_input.description,
                               schedule.total_steps, schedule.steps_per_epoch, workdir,
                               config.schedule.train_minutes if budget else 0)
        progress_lib.log_placement(placement, per_replica, config.runtime.precision)
        if restored:
            logging.info("Resumed from %s at step %d", restored, start_step)
        workers.check_same_step(placement, state.step)
        run = Run(config, placement, state, checkpoints, schedule, start_step, train_fn=train_fn,
                  sample_fn=sample_fn, class_names=class_names, budget=budget)
        if run.done:
            yield run
            return

        # Everything that can still fail on bad input comes before the first change to the
        # work directory: the input pipeline, the evaluator.
        try:  # the in-memory source reads the whole split here
            run.iterator = iter(strategy.distribute_datasets_from_function(
                lambda ctx: run_input.make_dataset(ctx, start_step)))
        except damaged.READ_ERRORS as e:
            raise damaged.error(config.data, e) or e
        evaluating = bool(config.schedule.eval_every_steps)
        if evaluating and chief:  # every network whose weights are here
            run.evaluator = evaluator_lib.Evaluator.for_run(config.evaluation, info.image_shape)
            for line in run.evaluator.warnings(config.evaluation.eval_num_images):
                logging.warning("Periodic evaluation: %s", line)
        if evaluating:
            run.generate_fn = sampling.make_generate_fn(
                strategy, generator, config.evaluation.noise_dim, per_replica,
                config.evaluation.seed, num_classes)
        if chief:  # the first writes: leftovers of a failed save removed, flags.txt and
            # run.json, reals.png, sample grids newer than the checkpoint (a killed run's) gone
            reals_uint8 = run_input.reals_uint8(state_lib.NUM_SAMPLES)
            checkpoints.remove_leftovers(workdir)
            runinfo.write(workdir, config.values, config.flagfile, info.image_shape, start_step,
                          class_names)
            if reals_uint8 is not None:
                files.must_write(f"{workdir}/reals.png", start_step, grids.write_reals, workdir,
                                 reals_uint8)
            grids.remove_samples_after(workdir, start_step)
        run.progress = progress_lib.Progress(workdir, schedule.total_steps,
                                             config.data.global_batch_size, start_step,
                                             is_chief=chief)
        if evaluating:
            workers.wait_for_chief(placement)  # the chief may have trained a classifier
        try:
            yield run
        finally:
            run.progress.close()


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A run directory's run, as its run.json (or flags.txt) describes it."""
    config: Config
    image_shape: tuple | None  # None for a run from before run.json: its dataset's shape
    class_names: tuple = ()

    @property
    def num_classes(self):
        return len(self.class_names)


def read_run(workdir, **overrides):
    """The RunRecord of `workdir` (with its workdir as it is now, wherever it was trained,
    and `overrides` of other flags)."""
    info = runinfo.read(workdir)
    overrides["workdir"] = workdir
    if info.values is not None:  # older runs lack newer flags: their defaults
        config = Config.from_values(dict(info.values, **overrides), source=info.path)
    else:
        config = Config.from_flagfile(info.flagfile, info.path, **overrides)
    if config.data.conditional and not info.class_names:
        raise UserError(f"{info.path} is a --conditional run without its \"classes\"; "
                        "restore run.json from a backup")
    return RunRecord(config, info.image_shape, info.class_names)


def restore_run(workdir, step=None):
    """(config, state) of `workdir`'s newest readable checkpoint (`reopen`)."""
    record, state = reopen(workdir, step)
    return record.config, state


def reopen(workdir, step=None):
    """(RunRecord, state) of `workdir`'s newest readable checkpoint (or the one of `step`),
    on this machine's default device in float32, whatever the run trained on and in;
    UserError without one. Nothing is written: a read-only run directory works."""
    record = read_run(workdir, strategy="auto", tpu=None)
    config, image_shape = record.config, record.image_shape
    if image_shape is None:  # a run from before run.json: its dataset's own shape
        image_shape = data_info.load_info(
            dataclasses.replace(config.data, synthetic_data=True)).image_shape
    state = state_lib.build_state(config.model, config.objective, config.augment,
                                  tf.distribute.get_strategy(), image_shape, "float32",
                                  record.num_classes)
    _, latest = checkpoints_lib.Checkpoints(state, workdir, keep=None).restore(step)
    if latest is None:
        raise UserError(f"no checkpoint in {checkpoints_lib.directory(workdir)}; train first "
                        "with dcgan-train")
    logging.info("Restored %s (step %d, %s generator)", latest, int(state.step.numpy()),
                 "EMA" if state.g_ema is not None else "plain")
    return record, state

