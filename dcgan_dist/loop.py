"""The outer training loop: restore, then train in executions of steps_per_execution steps,
with logging, sample grids and checkpoints each on their own schedule, and a final save."""

import dataclasses
import math
import re
import signal

from absl import logging
import numpy as np
import tensorflow as tf

from dcgan_dist import DivergedError, InterruptError, PeerLostError, PreemptedError, UserError
from dcgan_dist import data, evaluation, metrics, rundir, samples, state as state_lib
from dcgan_dist import step as step_lib, strategy as strategy_lib
from dcgan_dist import damaged_data, hold, signals, writes


# What collectives raise when a peer dies or hangs past --collective_timeout_secs.
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError)


def _peer_summary(error, own_task):
    """The lost task's name (when TensorFlow gives it) and what went wrong, in a few words.

    The error text names this worker's own devices too (often first), so the first task
    that is not `own_task` is the peer.
    """
    tasks = re.finditer(r"/job:\w+(?:/replica:\d+)?/task:(\d+)", str(error))
    peer = next((t.group(0) for t in tasks if int(t.group(1)) != own_task), "a peer")
    reason = {
        tf.errors.UnavailableError: "it stopped answering",
        tf.errors.DeadlineExceededError: "no answer within --collective_timeout_secs",
    }.get(type(error), type(error).__name__)
    return f"{peer}: {reason}"


def _schedule(every_steps, steps_per_epoch, total_steps):
    """`every_steps`, or once an epoch when it is 0 (or at the end if epochs are unknown)."""
    return every_steps or steps_per_epoch or total_steps


def _steps_until_boundary(step, total_steps, steps_per_execution, schedules):
    """Steps in the next execution: never past a log/sample/checkpoint boundary or the end."""
    until = [total_steps - step, steps_per_execution]
    until += [every - step % every for every in schedules]
    return min(until)


def _image_shape_of(dataset_fn):
    spec = dataset_fn(tf.distribute.InputContext(), 0).element_spec
    return tuple(spec.shape[1:])


def train(config, *, strategy=None, dataset_fn=None):
    """Trains a DCGAN as `config` says; resumes from `config.workdir` when it holds a checkpoint.

    The chief holds the work directory while it runs: a second run on it stops (hold.py).

    Args:
      config: a validated `Config`.
      strategy: a tf.distribute strategy to use instead of the one `config` names (tests).
      dataset_fn: `dataset_fn(input_context, start_step) -> per-replica batches of images in
        [-1, 1]`, used instead of TFDS (tests); needs `config.train_steps`.

    Returns:
      The TrainState at the end of training.
    """
    # The strategy first: multi-worker collectives must be configured before any other op.
    strategy = strategy or strategy_lib.make_strategy(config)
    with hold.holding(config.workdir, strategy_lib.is_chief(strategy)):
        return _train(config, strategy, dataset_fn)


def _train(config, strategy, dataset_fn):
    kind = strategy_lib.resolve_kind(config)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision, why = strategy_lib.resolve_precision(config, kind)
    logging.info("precision %s -> %s: %s", config.precision, precision, why)
    if precision == "mixed_float16" and not tf.config.list_physical_devices("GPU"):
        logging.warning("--precision=mixed_float16 on a CPU is slower than float32; it is "
                        "meant for GPUs")
    per_replica_batch_size = config.per_replica_batch_size(strategy.num_replicas_in_sync)

    info = None
    if dataset_fn is None:
        info = data.load_info(config)
        image_shape, num_examples = info.image_shape, info.num_examples
        source = data.make_source(config, info, strategy_lib.num_input_pipelines(strategy))
        dataset_fn = source.make_dataset
    else:
        image_shape, num_examples = _image_shape_of(dataset_fn), 0
    steps_per_epoch = data.steps_per_epoch(num_examples, config.global_batch_size)
    total_steps = config.train_steps or config.epochs * steps_per_epoch
    if total_steps == 0:
        raise UserError(f"--epochs={config.epochs} of {num_examples} examples at "
                        f"--global_batch_size={config.global_batch_size} is no steps; "
                        "set --train_steps")
    logging.info("Strategy %s, per-replica batch %d, precision %s, %d steps (%s steps/epoch)",
                 strategy_lib.describe(strategy), per_replica_batch_size, precision, total_steps,
                 steps_per_epoch or "?")

    workdir = config.workdir
    chief = strategy_lib.is_chief(strategy)
    tf.io.gfile.makedirs(workdir)
    state = state_lib.build_state(config, strategy, image_shape, precision)
    manager = state_lib.make_checkpoint_manager(state, f"{workdir}/ckpt", config.keep_checkpoints)
    start_step, restored = state_lib.restore_latest(state, manager)
    if restored:
        logging.info("Resumed from %s at step %d", restored, start_step)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _check_workers_agree(strategy, state)
    if not chief:
        # TensorFlow's multi-worker rule: every worker saves (the save may synchronise), and
        # non-chiefs save to a private folder that is removed afterwards.
        manager = state_lib.make_checkpoint_manager(
            state, f"{workdir}/ckpt/.worker-{strategy_lib.task_id(strategy)}", 1)
    if start_step >= total_steps:
        logging.info("Nothing to do: step %d of %d already reached", start_step, total_steps)
        return state

    # Everything that can still fail on bad input comes before the first change to the
    # work directory: the input pipeline, the evaluator.
    try:  # the in-memory source reads the whole split here
        iterator = iter(strategy.distribute_datasets_from_function(
            lambda ctx: dataset_fn(ctx, start_step)))
    except damaged_data.READ_ERRORS as e:
        raise damaged_data.error(config, e) or e
    evaluator = None
    if config.eval_every_steps and chief:  # every network whose weights are here
        evaluator = evaluation.Evaluator.for_run(
            data_dir=config.data_dir, dataset=config.dataset, image_shape=image_shape,
            inception_path=config.inception_path)
        for line in evaluator.warnings(config.eval_num_images):
            logging.warning("Periodic evaluation: %s", line)
    reals = (data.preview(config, info, state_lib.NUM_SAMPLES)
             if chief and info and not config.synthetic_data else None)
    if chief:
        writes.remove_leftovers(workdir, manager)
        writes.must_write(f"{workdir}/flags.txt", start_step, samples.write_atomic,
                          f"{workdir}/flags.txt", config.as_flagfile().encode())
        writes.must_write(f"{workdir}/run.json", start_step, samples.write_atomic,
                          f"{workdir}/run.json", rundir.encode(config, image_shape).encode())
        if reals is not None:
            writes.must_write(f"{workdir}/reals.png", start_step, samples.write_reals, workdir,
                              reals)
        samples.remove_samples_after(workdir, start_step)
    run = _Run(
        config=config, strategy=strategy, state=state, manager=manager, chief=chief,
        total_steps=total_steps, evaluator=evaluator,
        writer=metrics.MetricsWriter(workdir, total_steps, config.global_batch_size, start_step,
                                     is_chief=chief),
        train_fn=step_lib.make_train_fn(strategy, state, config, per_replica_batch_size,
                                        total_steps),
        sample_fn=tf.function(lambda: strategy.run(
            lambda: state.sampling_generator(state.sample_noise, training=False))),
        sample_every_steps=_schedule(config.sample_every_steps, steps_per_epoch, total_steps),
        ckpt_every_steps=_schedule(config.ckpt_every_steps, steps_per_epoch, total_steps),
        generate_fn=evaluation.make_generate_fn(strategy, state.sampling_generator,
                                                config.noise_dim, per_replica_batch_size,
                                                config.seed) if config.eval_every_steps else None)
    if config.eval_every_steps:
        evaluation.wait_for_chief(strategy)  # the chief may have trained a classifier
    stop = signals.StopRequest(lambda: _second_interrupt_message(run))
    try:
        _train_loop(run, iterator, start_step, stop)
    finally:
        stop.close()
        run.writer.close()
    logging.info("Done: %d steps. Samples in %s/samples, GIF %s/samples.gif, checkpoints in "
                 "%s/ckpt, TensorBoard: tensorboard --logdir %s", total_steps, workdir, workdir,
                 workdir, workdir)
    return state


@dataclasses.dataclass
class _Run:
    """What the outer loop works with, built once by `train`."""
    config: object
    strategy: tf.distribute.Strategy
    state: state_lib.TrainState
    manager: tf.train.CheckpointManager
    writer: metrics.MetricsWriter
    evaluator: object
    chief: bool
    total_steps: int
    train_fn: object
    sample_fn: object
    sample_every_steps: int
    ckpt_every_steps: int
    generate_fn: object = None
    best_effort: writes.BestEffort = dataclasses.field(default_factory=writes.BestEffort)

    @property
    def schedules(self):
        # From the config alone: every worker must cut its executions at the same steps.
        every = [self.config.log_every_steps, self.sample_every_steps, self.ckpt_every_steps]
        return every + ([self.config.eval_every_steps] if self.config.eval_every_steps else [])


def _train_loop(run, iterator, step, stop):
    """Executions of up to steps_per_execution steps, each followed by what is due."""
    sums = {"g_loss": 0.0, "d_loss": 0.0, "skipped_steps": 0.0}
    last_log_step = step
    while step < run.total_steps:
        num_steps = _steps_until_boundary(step, run.total_steps,
                                          run.config.steps_per_execution, run.schedules)
        out = _execute(run, iterator, step, num_steps)
        for name in sums:
            sums[name] += out[name] * (1 if name == "skipped_steps" else num_steps)
        step += num_steps
        done = step == run.total_steps

        def due(every):
            return every and (step % every == 0 or done)

        evaluating = due(run.config.eval_every_steps)  # on every worker: generation is collective
        if due(run.config.log_every_steps) or evaluating:
            span = step - last_log_step
            scalars = {"g_loss": sums["g_loss"] / span, "d_loss": sums["d_loss"] / span}
            if run.state.loss_scaling:
                scalars["skipped_steps"] = sums["skipped_steps"]
            run.writer.log(step, scalars, _evaluate(run, step) if evaluating else None)
            sums, last_log_step = dict.fromkeys(sums, 0.0), step
        if run.chief and due(run.sample_every_steps):
            # A grid or GIF that cannot be written must not stop a healthy run (writes.py).
            images = run.strategy.experimental_local_results(run.sample_fn())[0]
            grid_uint8 = run.best_effort("the sample grids", samples.write_grid,
                                         run.config.workdir, step, np.asarray(images))
            if grid_uint8 is not None:
                run.writer.image(step, grid_uint8)
            run.best_effort("samples.gif", samples.write_gif, run.config.workdir)
        stop_signal = _stop_requested(run, stop)
        if due(run.ckpt_every_steps) or stop_signal:
            writes.save_checkpoint(run.manager, step, state_lib.kept_checkpoint(run.manager))
            if not run.chief:
                tf.io.gfile.rmtree(run.manager.directory)
        if stop_signal:
            error = PreemptedError if stop_signal == signal.SIGTERM else InterruptError
            raise error(f"{signals.NAMES[stop_signal]} at step {step}: checkpoint saved as "
                        f"{run.config.workdir}/ckpt/ckpt-{step}; rerun the same command to resume")


def _stop_requested(run, stop):
    """The signal to save and exit for now (SIGTERM or SIGINT), or None. Multi-worker: if any
    worker got one, all stop at this step together (a lone worker saving or leaving would
    hang the others); SIGTERM wins over Ctrl-C, so every worker exits with the same code."""
    if not isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return stop.received
    try:
        flags = run.strategy.run(lambda: tf.constant(
            [float(stop.received == signal.SIGTERM), float(stop.received == signal.SIGINT)]))
        term, interrupt = run.strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None).numpy()
    except _PEER_ERRORS as e:
        raise _peer_lost(run, e, "after the last step") from e
    return signal.SIGTERM if term > 0 else signal.SIGINT if interrupt > 0 else None


def _second_interrupt_message(run):
    """The line a second Ctrl-C prints as it ends the process (signals.py), mid-save or not."""
    return (f"dcgan-train: error: second Ctrl-C: stopped at once, without the checkpoint of "
            f"this step; {state_lib.kept_checkpoint(run.manager)}; rerun the same command to "
            "resume")


def _peer_lost(run, error, when):
    return PeerLostError(
        f"lost a peer worker {when}: "
        f"{_peer_summary(error, strategy_lib.task_id(run.strategy))}; "
        f"{state_lib.kept_checkpoint(run.manager)}: restart every worker with the same command "
        "to resume")


def _check_workers_agree(strategy, state):
    """Every worker must resume from the same step, or their weights silently differ."""
    steps = strategy.gather(strategy.run(lambda: tf.reshape(state.step.read_value(), [1])),
                            axis=0).numpy()
    if steps.min() != steps.max():
        raise UserError(f"the workers restored different steps ({sorted(set(steps.tolist()))}); "
                        "give every worker the same --workdir on shared storage (gs:// or a "
                        "shared mount)")


def _execute(run, iterator, step, num_steps):
    """Runs num_steps steps; turns a lost peer or a non-finite loss into a clear error."""
    try:
        out = run.train_fn(iterator, tf.constant(num_steps, tf.int32))
        out = {"g_loss": float(out["g_loss"]), "d_loss": float(out["d_loss"]),
               "skipped_steps": float(out["skipped_steps"])}
    except damaged_data.READ_ERRORS as e:  # a streaming source met a damaged file
        raise damaged_data.error(run.config, e, step=step + 1,
                                 kept=state_lib.kept_checkpoint(run.manager)) or e
    except _PEER_ERRORS as e:
        if not isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        raise _peer_lost(run, e, f"during steps {step + 1}-{step + num_steps}") from e
    if not (math.isfinite(out["g_loss"]) and math.isfinite(out["d_loss"])):
        raise DivergedError(
            f"non-finite loss between steps {step + 1} and {step + num_steps} (g_loss "
            f"{out['g_loss']}, d_loss {out['d_loss']}); "
            f"{state_lib.kept_checkpoint(run.manager)}: lower the learning rates or use "
            "--precision=float32")
    return out


def _evaluate(run, step):
    """Every worker generates (collectively); the chief scores while the others wait at a
    barrier with a long timeout (evaluation.wait_for_chief), not the step's collective.

    Returns the chief's metrics (flat numbers for stats.jsonl), None on other workers.
    """
    try:
        images = run.generate_fn(run.config.eval_num_images)
        scores = run.evaluator.score(images) if run.chief else None
        evaluation.wait_for_chief(run.strategy)
    except _PEER_ERRORS as e:
        if not isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        raise _peer_lost(run, e, f"while evaluating step {step}") from e
    return scores
