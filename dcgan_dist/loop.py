"""The outer loop: drives a built run (`build.build_run`) in executions of up to
steps_per_execution steps, each followed by what is due: logging, sample grids, evaluations
and checkpoints, each on its own schedule (whose end a --train_minutes run fits once it has
measured its rate); saves and stops on SIGTERM or Ctrl-C.

    state = train(config)                      # dcgan-train's whole run: build, then drive
"""

import dataclasses
import math
import os
import signal

from absl import logging
import numpy as np
import tensorflow as tf

from dcgan_dist import build, signals
from dcgan_dist.data import damaged, images
from dcgan_dist.errors import DivergedError, InterruptError, PreemptedError
from dcgan_dist.evaluation import sampling
from dcgan_dist.rundir import grids
from dcgan_dist.runtime import workers
from dcgan_dist.training import step as step_lib


def train(config, *, strategy=None, dataset_fn=None):
    """Trains a DCGAN as `config` says, resuming from its work directory's newest checkpoint
    (`build.build_run` says what `strategy` and `dataset_fn` replace). Returns the TrainState
    at the end of training."""
    with build.build_run(config, strategy=strategy, dataset_fn=dataset_fn) as run:
        drive(run)
        return run.state


def drive(run):
    """Runs `run` to its last step; a run already there says so and changes nothing."""
    if run.done:
        logging.info("Nothing to do: step %d of %d already reached", run.start_step,
                     run.schedule.total_steps)
        return
    stop = signals.StopRequest(lambda: (
        "dcgan-train: error: second Ctrl-C: stopped at once, without the checkpoint of this "
        f"step; {run.checkpoints.kept()}; rerun the same command to resume"))
    timeout_secs = run.config.runtime.collective_timeout_secs
    hang = workers.HangWatch(timeout_secs if run.placement.multi_worker else 0,
                             lambda when: _hung(run, when))
    try:
        _loop(run, stop, hang)
    finally:
        stop.close()
    workdir = run.config.rundir.workdir
    logging.info("Done: %d steps. Samples in %s/samples, GIF %s/samples.gif, checkpoints in "
                 "%s/ckpt, TensorBoard: tensorboard --logdir %s", run.schedule.total_steps,
                 workdir, workdir, workdir, workdir)


def _loop(run, stop, hang):
    """Executions of up to steps_per_execution steps, each followed by what is due."""
    step = run.start_step
    sums = dict.fromkeys(step_lib.METRICS, 0.0)
    last_log_step = step
    while step < run.schedule.total_steps:
        num_steps = run.schedule.steps_until_boundary(step)
        out = _execute(run, step, num_steps, hang)
        for name in sums:  # losses are means over the execution; the others are sums
            sums[name] += out[name] * (num_steps if name.endswith("_loss") else 1)
        step += num_steps
        if run.budget is not None:
            _fit_to_budget(run, step)
        schedule = run.schedule

        evaluating = schedule.due(schedule.evaluate, step)  # on every worker: collective
        if schedule.due(schedule.log, step) or evaluating:
            run.progress.log(step, _scalars(run, sums, out, step - last_log_step),
                             _evaluate(run, step) if evaluating else None)
            sums, last_log_step = dict.fromkeys(sums, 0.0), step
        if run.placement.chief and schedule.due(schedule.sample, step):
            _write_samples(run, step)
        with hang.call(f"after step {step}"):
            stop_signal = _collectively(run, f"after step {step}", workers.agree_on_stop,
                                        run.placement, stop.received)
        if schedule.due(schedule.ckpt, step) or stop_signal:
            run.checkpoints.save(step)
        if stop_signal:
            error = PreemptedError if stop_signal == signal.SIGTERM else InterruptError
            raise error(f"{signals.NAMES[stop_signal]} at step {step}: checkpoint saved as "
                        f"{run.config.rundir.workdir}/ckpt/ckpt-{step}; rerun the same command "
                        "to resume")


def _fit_to_budget(run, step):
    """--train_minutes: once its rate is measured, the run's last step moves (`timebudget`)."""
    total_steps = run.budget.fit(step, run.progress.elapsed_secs())
    if total_steps is not None:
        run.schedule = dataclasses.replace(run.schedule, total_steps=total_steps)
        run.progress.total_steps = run.schedule.total_steps
    if run.budget.done:
        run.budget = None


def _scalars(run, sums, out, span):
    """What a log step reports over the `span` steps since the last one."""
    scalars = {"g_loss": sums["g_loss"] / span, "d_loss": sums["d_loss"] / span}
    if run.state.loss_scaling:
        scalars["skipped_steps"] = sums["skipped_steps"]
    # StyleGAN2-ADA's overfitting heuristic r_t = E[sign D(real)], for every run; and the
    # augmentation probability (ada's p after the last step, 1 for diffaugment).
    scalars["d_real_sign"] = sums["real_signs"] / (span * run.config.data.global_batch_size)
    if run.config.augment.augment != "none":
        scalars["augment_p"] = out["augment_p"]
    return scalars


def _write_samples(run, step):
    """The step's grid, its TensorBoard image and the GIF: a grid or GIF that cannot be
    written must not stop a healthy run (rundir.files)."""
    workdir = run.config.rundir.workdir
    images_uint8 = images.to_uint8(np.asarray(
        run.placement.strategy.experimental_local_results(run.sample_fn())[0]))
    columns = grids.sample_columns(run.state.num_classes)
    grid_uint8 = run.best_effort("the sample grids", grids.write_grid, workdir, step,
                                 images_uint8, columns)
    if grid_uint8 is not None:
        run.progress.image(step, grid_uint8,
                           grids.describe_rows(run.class_names, len(images_uint8) // columns))
    run.best_effort("samples.gif", grids.write_gif, workdir)


def _collectively(run, when, fn, *args):
    """fn(*args), with a lost peer of a multi-worker run turned into PeerLostError."""
    try:
        return fn(*args)
    except workers.PEER_ERRORS as e:
        if not run.placement.multi_worker:
            raise
        raise workers.peer_lost(run.placement, e, when, run.checkpoints.kept()) from e


def _hung(run, when):
    """HangWatch's verdict, in its timer thread: the lost-peer error, then exit 4 at once (the
    main thread waits in the collective), as a second Ctrl-C leaves."""
    error = workers.peer_lost(run.placement, tf.errors.DeadlineExceededError(None, None, ""),
                              when, run.checkpoints.kept())
    os.write(2, f"dcgan-train: error: {error}\n".encode())
    signals.exit_now(error.exit_code)


def _execute(run, step, num_steps, hang):
    """Runs num_steps steps; turns a lost peer or a non-finite loss into a clear error."""
    when = f"during steps {step + 1}-{step + num_steps}"
    try:
        with hang.call(when):
            out = _collectively(run, when, run.train_fn, run.iterator,
                                tf.constant(num_steps, tf.int32),
                                tf.constant(run.schedule.total_steps, tf.int64))
        out = {name: float(value) for name, value in out.items()}
    except damaged.READ_ERRORS as e:  # a streaming source met a damaged file
        raise damaged.error(run.config.data, e, step=step + 1,
                            kept=run.checkpoints.kept()) or e
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
        num_images = run.config.evaluation.eval_num_images
        generated = run.generate_fn(num_images)
        labels = sampling.eval_labels(num_images, run.state.num_classes)
        scores = run.evaluator.score(generated, labels) if run.placement.chief else None
        workers.wait_for_chief(run.placement)
        return scores

    return _collectively(run, f"while evaluating step {step}", generate_and_score)
