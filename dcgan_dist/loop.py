"""The outer training loop: restore, then train in executions of steps_per_execution steps,
with logging, sample grids, evaluations and checkpoints each on their own schedule.

    state = train(config)                      # dcgan-train's whole run

Read top to bottom, `train` goes down the tree: the strategy, the precision, the data, the
state and its checkpoints, the run directory, then the loop, whose every execution runs the
step function (`step`) and then what is due.
"""

import dataclasses
import math
import signal

from absl import logging
import numpy as np
import tensorflow as tf

from dcgan_dist import precision as precision_lib, signals, state as state_lib
from dcgan_dist import step as step_lib, strategy as strategy_lib, workers
from dcgan_dist.data import damaged, info as data_info, sources
from dcgan_dist.errors import DivergedError, InterruptError, PreemptedError, UserError
from dcgan_dist.evaluation import evaluator as evaluator_lib, sampling
from dcgan_dist.rundir import checkpoints as checkpoints_lib, files, grids, lock, progress
from dcgan_dist.rundir import runinfo


def train(config, *, strategy=None, dataset_fn=None):
    """Trains a DCGAN as `config` says; resumes from `config.workdir` when it holds a checkpoint.

    The chief holds the work directory while it runs: a second run on it stops (rundir.lock).

    Args:
      config: a validated `Config`.
      strategy: a tf.distribute strategy to use instead of the one `config` names (tests).
      dataset_fn: `dataset_fn(input_context, start_step) -> per-replica batches of images in
        [-1, 1]` (with --conditional, of (images, int32 labels), the classes read from
        config.dataset's metadata), used instead of TFDS (tests); needs `config.train_steps`.

    Returns:
      The TrainState at the end of training.
    """
    files.check_writable_dir(config.workdir)
    # The strategy first: multi-worker collectives must be configured before any other op.
    placement = strategy_lib.place(config, strategy)
    with lock.holding(config.workdir, placement.chief):
        return _train(config, placement, dataset_fn)


def _train(config, placement, dataset_fn):
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision, why = precision_lib.resolve_precision(config.precision, placement.kind)
    if precision == "mixed_float16" and not tf.config.list_physical_devices("GPU"):
        logging.warning("--precision=mixed_float16 on a CPU is slower than float32; it is "
                        "meant for GPUs")
    per_replica_batch_size = config.per_replica_batch_size(placement.replicas)
    strategy_lib.check_tpu_batch(placement, config.global_batch_size)
    info, dataset_fn, source = _input(config, placement, dataset_fn)
    steps_per_epoch = info.num_examples // config.global_batch_size
    total_steps = config.train_steps or config.epochs * steps_per_epoch
    if total_steps == 0:
        raise UserError(f"--epochs={config.epochs} of {info.num_examples} examples at "
                        f"--global_batch_size={config.global_batch_size} is no steps; "
                        "set --train_steps")
    progress.log_start(config, info, source, placement.describe(), per_replica_batch_size,
                       (precision, why), total_steps, steps_per_epoch)

    strategy, chief = placement.strategy, placement.chief
    num_classes = info.num_classes if config.conditional else 0
    state = state_lib.build_state(config, strategy, info.image_shape, precision, num_classes)
    checkpoints = checkpoints_lib.Checkpoints(state, config.workdir, config.keep_checkpoints,
                                              chief, placement.task)
    start_step, restored = checkpoints.restore()
    if restored:
        logging.info("Resumed from %s at step %d", restored, start_step)
    workers.check_same_step(placement, state.step)
    if start_step >= total_steps:
        logging.info("Nothing to do: step %d of %d already reached", start_step, total_steps)
        return state

    # Everything that can still fail on bad input comes before the first change to the
    # work directory: the input pipeline, the evaluator.
    try:  # the in-memory source reads the whole split here
        iterator = iter(strategy.distribute_datasets_from_function(
            lambda ctx: dataset_fn(ctx, start_step)))
    except damaged.READ_ERRORS as e:
        raise damaged.error(config, e) or e
    evaluator = None
    if config.eval_every_steps and chief:  # every network whose weights are here
        evaluator = evaluator_lib.Evaluator.for_run(
            data_dir=config.data_dir, dataset=config.dataset, image_shape=info.image_shape,
            image_key=config.image_key, inception_path=config.inception_path,
            label_key=config.label_key)
        for line in evaluator.warnings(config.eval_num_images):
            logging.warning("Periodic evaluation: %s", line)
    if chief:
        reals = (sources.preview(config, info, state_lib.NUM_SAMPLES)
                 if info.num_examples and not config.synthetic_data else None)
        _start_workdir(config, info, checkpoints, start_step, reals)
    schedule = _Schedule.of(config, steps_per_epoch, total_steps)
    run = _Run(
        config=config, placement=placement, state=state, checkpoints=checkpoints,
        schedule=schedule, evaluator=evaluator,
        class_names=info.class_names if num_classes else (),
        progress=progress.Progress(config.workdir, total_steps, config.global_batch_size,
                                   start_step, is_chief=chief),
        train_fn=step_lib.make_train_fn(strategy, state, config, per_replica_batch_size,
                                        total_steps),
        sample_fn=tf.function(lambda: strategy.run(
            lambda: state.sampling_generator(state.grid_inputs(), training=False)),
            autograph=False),
        generate_fn=sampling.make_generate_fn(strategy, state.sampling_generator,
                                              config.noise_dim, per_replica_batch_size,
                                              config.seed, num_classes)
        if config.eval_every_steps else None)
    if config.eval_every_steps:
        workers.wait_for_chief(placement)  # the chief may have trained a classifier
    stop = signals.StopRequest(lambda: (
        "dcgan-train: error: second Ctrl-C: stopped at once, without the checkpoint of this "
        f"step; {checkpoints.kept()}; rerun the same command to resume"))
    try:
        _train_loop(run, iterator, start_step, stop)
    finally:
        stop.close()
        run.progress.close()
    workdir = config.workdir
    logging.info("Done: %d steps. Samples in %s/samples, GIF %s/samples.gif, checkpoints in "
                 "%s/ckpt, TensorBoard: tensorboard --logdir %s", total_steps, workdir, workdir,
                 workdir, workdir)
    return state


def _input(config, placement, dataset_fn):
    """(DatasetInfo with the training shape, dataset_fn, the source's kind): the run's data
    source, or the dataset_fn a test passed (its shape read from its first batch, its size
    unknown)."""
    if dataset_fn is not None:
        spec = tf.nest.flatten(dataset_fn(tf.distribute.InputContext(), 0).element_spec)[0]
        info = data_info.DatasetInfo(name="test", image_key="", source_shape=None, splits={},
                                     label_key=None, num_classes=0)
        if config.conditional:  # the classes: the dataset's metadata, not its files
            info = data_info.read(config.dataset, config.data_dir, config.image_key,
                                  label_key=config.label_key)
        return dataclasses.replace(info, image_shape=tuple(spec.shape[1:])), dataset_fn, "given"
    info = data_info.load_info(config)
    kind, _ = sources.choose_source(config, info, placement.input_pipelines)
    source = sources.make_source(config, info, placement.input_pipelines)
    return info, source.make_dataset, kind.replace("_", "-")


def _start_workdir(config, info, checkpoints, start_step, reals):
    """The chief's first writes: leftovers of a failed save removed, flags.txt and run.json,
    reals.png, and sample grids newer than the checkpoint (a killed run's) removed."""
    workdir = config.workdir
    checkpoints.remove_leftovers(workdir)
    runinfo.write(workdir, config, info.image_shape, start_step,
                  info.class_names if config.conditional else None)
    if reals is not None:
        files.must_write(f"{workdir}/reals.png", start_step, grids.write_reals, workdir, reals)
    grids.remove_samples_after(workdir, start_step)


@dataclasses.dataclass(frozen=True)
class _Schedule:
    """When each periodic job is due, from the config alone: every worker must cut its
    executions at the same steps."""
    total_steps: int
    log: int
    sample: int
    ckpt: int
    evaluate: int  # 0 = never

    @classmethod
    def of(cls, config, steps_per_epoch, total_steps):
        # 0 means once an epoch (or at the end if epochs are unknown).
        def every(steps):
            return steps or steps_per_epoch or total_steps
        return cls(total_steps, config.log_every_steps, every(config.sample_every_steps),
                   every(config.ckpt_every_steps), config.eval_every_steps)

    def due(self, every, step):
        return bool(every) and (step % every == 0 or step == self.total_steps)

    def steps_until_boundary(self, step, steps_per_execution):
        """Steps in the next execution: never past a boundary of any job or the end."""
        until = [self.total_steps - step, steps_per_execution]
        until += [every - step % every for every in (self.log, self.sample, self.ckpt,
                                                     self.evaluate) if every]
        return min(until)


@dataclasses.dataclass
class _Run:
    """What the outer loop works with, built once by `train`."""
    config: object
    placement: strategy_lib.Placement
    state: state_lib.TrainState
    checkpoints: checkpoints_lib.Checkpoints
    progress: progress.Progress
    evaluator: object
    schedule: _Schedule
    train_fn: object
    sample_fn: object
    generate_fn: object = None
    class_names: tuple = ()  # --conditional: the grid's rows are the first 16 of these
    best_effort: files.BestEffort = dataclasses.field(default_factory=files.BestEffort)


def _train_loop(run, iterator, step, stop):
    """Executions of up to steps_per_execution steps, each followed by what is due."""
    schedule = run.schedule
    sums = {"g_loss": 0.0, "d_loss": 0.0, "skipped_steps": 0.0, "real_signs": 0.0}
    last_log_step = step
    while step < schedule.total_steps:
        num_steps = schedule.steps_until_boundary(step, run.config.steps_per_execution)
        out = _execute(run, iterator, step, num_steps)
        for name in sums:  # losses are means over the execution; the others are sums
            sums[name] += out[name] * (num_steps if name.endswith("_loss") else 1)
        step += num_steps

        evaluating = schedule.due(schedule.evaluate, step)  # on every worker: collective
        if schedule.due(schedule.log, step) or evaluating:
            span = step - last_log_step
            scalars = {"g_loss": sums["g_loss"] / span, "d_loss": sums["d_loss"] / span}
            if run.state.loss_scaling:
                scalars["skipped_steps"] = sums["skipped_steps"]
            # StyleGAN2-ADA's overfitting heuristic r_t = E[sign D(real)], for every run; and
            # the augmentation probability (ada's p after the last step, 1 for diffaugment).
            scalars["d_real_sign"] = sums["real_signs"] / (span * run.config.global_batch_size)
            if run.config.augment != "none":
                scalars["augment_p"] = out["augment_p"]
            run.progress.log(step, scalars, _evaluate(run, step) if evaluating else None)
            sums, last_log_step = dict.fromkeys(sums, 0.0), step
        if run.placement.chief and schedule.due(schedule.sample, step):
            _write_samples(run, step)
        stop_signal = _collectively(run, f"after step {step}", workers.agree_on_stop,
                                    run.placement, stop.received)
        if schedule.due(schedule.ckpt, step) or stop_signal:
            run.checkpoints.save(step)
        if stop_signal:
            error = PreemptedError if stop_signal == signal.SIGTERM else InterruptError
            raise error(f"{signals.NAMES[stop_signal]} at step {step}: checkpoint saved as "
                        f"{run.config.workdir}/ckpt/ckpt-{step}; rerun the same command to resume")


def _write_samples(run, step):
    """The step's grid, its TensorBoard image and the GIF: a grid or GIF that cannot be
    written must not stop a healthy run (rundir.files)."""
    images = run.placement.strategy.experimental_local_results(run.sample_fn())[0]
    columns = run.state.grid_columns
    grid_uint8 = run.best_effort("the sample grids", grids.write_grid, run.config.workdir, step,
                                 np.asarray(images), columns)
    if grid_uint8 is not None:
        run.progress.image(step, grid_uint8,
                           grids.describe_rows(run.class_names, len(images) // columns))
    run.best_effort("samples.gif", grids.write_gif, run.config.workdir)


def _collectively(run, when, fn, *args):
    """fn(*args), with a lost peer of a multi-worker run turned into PeerLostError."""
    try:
        return fn(*args)
    except workers.PEER_ERRORS as e:
        if not run.placement.multi_worker:
            raise
        raise workers.peer_lost(run.placement, e, when, run.checkpoints.kept()) from e


def _execute(run, iterator, step, num_steps):
    """Runs num_steps steps; turns a lost peer or a non-finite loss into a clear error."""
    try:
        out = _collectively(run, f"during steps {step + 1}-{step + num_steps}", run.train_fn,
                            iterator, tf.constant(num_steps, tf.int32))
        out = {name: float(value) for name, value in out.items()}
    except damaged.READ_ERRORS as e:  # a streaming source met a damaged file
        raise damaged.error(run.config, e, step=step + 1, kept=run.checkpoints.kept()) or e
    if not (math.isfinite(out["g_loss"]) and math.isfinite(out["d_loss"])):
        raise DivergedError(
            f"non-finite loss between steps {step + 1} and {step + num_steps} (g_loss "
            f"{out['g_loss']}, d_loss {out['d_loss']}); {run.checkpoints.kept()}: lower the "
            "learning rates or use --precision=float32")
    return out


def _evaluate(run, step):
    """Every worker generates (collectively); the chief scores while the others wait at a
    barrier with a long timeout (workers.wait_for_chief), not the step's collective.

    Returns the chief's metrics (flat numbers for stats.jsonl), None on other workers.
    """
    def generate_and_score():
        num_images = run.config.eval_num_images
        images = run.generate_fn(num_images)
        labels = sampling.eval_labels(num_images, run.state.num_classes)
        scores = run.evaluator.score(images, labels) if run.placement.chief else None
        workers.wait_for_chief(run.placement)
        return scores

    return _collectively(run, f"while evaluating step {step}", generate_and_score)
