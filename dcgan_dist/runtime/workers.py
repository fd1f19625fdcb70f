"""What the workers of a multi-worker run agree on, and what happens when one is lost.

Every worker runs the same loop; at a few points they must decide together or one would
wait forever in a collective the others never enter: the step they resume from, whether to
stop (a signal reached one of them), and the end of the chief's evaluation. A collective that
fails because a peer died or hung past --collective_timeout_secs becomes PeerLostError (exit
4), naming the peer. Each takes the run's `strategy.Placement`; off multi-worker they are
no-ops.
"""

import contextlib
import re
import signal
import threading
import time

import tensorflow as tf

from dcgan_dist.errors import PeerLostError, UserError

# What collectives raise when a peer dies or hangs past --collective_timeout_secs.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError)

# How long workers wait for the chief's scoring, instead of --collective_timeout_secs:
# scoring thousands of images on Inception can take many minutes on a CPU.
EVAL_WAIT_SECS = 3600


def peer_summary(error, own_task):
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


def peer_lost(placement, error, when, kept):
    """The PeerLostError for `error`, raised `when` ("during steps 3-4"); `kept` says which
    checkpoint a restart resumes from (`Checkpoints.kept()`)."""
    return PeerLostError(
        f"lost a peer worker {when}: {peer_summary(error, placement.task)}; "
        f"{kept}: restart every worker with the same command to resume")


# TensorFlow's own timeout on the step's collectives is this many times --collective_timeout_secs:
# a backstop behind HangWatch, which names a hung peer first. TensorFlow aborting a timed-out
# collective can crash the process it runs in (SIGSEGV or SIGABRT, "Mutex corrupt", with no
# message: TensorFlow 2.20 on CI and 2.21 here under load, 2026-12-07), so the run says what
# happened and leaves before that abort, and TensorFlow's timeout catches only the collectives
# no HangWatch watches (the first call, which traces; generating images for an evaluation).
TENSORFLOW_TIMEOUT_FACTOR = 2


class HangWatch:
    """Calls `on_hang(when)` from a timer thread when a watched call (`with watch.call(when):`)
    has waited --collective_timeout_secs longer than the longest watched call before it; the
    first call, which traces the step, sets no limit and no length. `on_hang` must end the
    process: the main thread is still blocked in the collective. Off (timeout 0): no limit."""

    def __init__(self, timeout_secs, on_hang):
        self._timeout_secs, self._on_hang = timeout_secs, on_hang
        self._longest = None  # seconds; None until the first (tracing) call has returned

    @contextlib.contextmanager
    def call(self, when):
        timer = None
        if self._timeout_secs and self._longest is not None:
            timer = threading.Timer(self._timeout_secs + self._longest, self._on_hang, (when,))
            timer.daemon = True
            timer.start()
        started = time.monotonic()
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
        took = time.monotonic() - started
        self._longest = 0.0 if self._longest is None else max(self._longest, took)


def check_same_step(placement, step):
    """Every worker must resume from the same step, or their weights silently differ."""
    if not placement.multi_worker:
        return
    strategy = placement.strategy
    steps = strategy.gather(strategy.run(lambda: tf.reshape(step.read_value(), [1])),
                            axis=0).numpy()
    if steps.min() != steps.max():
        raise UserError(f"the workers restored different steps ({sorted(set(steps.tolist()))}); "
                        "give every worker the same --workdir on shared storage (gs:// or a "
                        "shared mount)")


def agree_on_stop(placement, received):
    """The signal to save and exit for now (SIGTERM or SIGINT), or None. If any worker got
    one, all stop at this step together (a lone worker saving or leaving would hang the
    others); SIGTERM wins over Ctrl-C, so every worker exits with the same code."""
    if not placement.multi_worker:
        return received
    strategy = placement.strategy
    flags = strategy.run(lambda: tf.constant(
        [float(received == signal.SIGTERM), float(received == signal.SIGINT)]))
    term, interrupt = strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None).numpy()
    return signal.SIGTERM if term > 0 else signal.SIGINT if interrupt > 0 else None


def wait_for_chief(placement, timeout_secs=EVAL_WAIT_SECS):
    """A barrier (a one-number all-reduce) that waits up to `timeout_secs`.

    Peers that went on to the next training step while the chief scores would wait there
    only --collective_timeout_secs and then fail the run; here they wait for the chief.
    """
    if not placement.multi_worker:
        return
    strategy = placement.strategy
    one = strategy.run(lambda: tf.constant(1.0))
    strategy.extended.reduce_to(
        tf.distribute.ReduceOp.SUM, one, destinations=one,
        options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_secs))
