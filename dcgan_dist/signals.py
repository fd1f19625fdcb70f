"""SIGTERM and Ctrl-C (SIGINT) as requests to save a checkpoint of the current step and stop,
instead of dying mid-step with everything since the last periodic checkpoint lost.

SIGTERM is how preemptible VMs and TPU maintenance end a job; Ctrl-C is a person at the
terminal. The first of either only sets `received`; the loop looks at it after each
execution, saves, and exits (42 for SIGTERM, 130 for Ctrl-C). A second Ctrl-C means "now":
the process exits at once with one line, and the previous checkpoint stays the newest.

Python runs signal handlers on the main thread between bytecodes, so while TensorFlow runs a
step or writes a checkpoint (seconds in C++), a handler waits. That is fine for the first
signal, but the second Ctrl-C must not wait for the save it interrupts. So the signal number
also goes to a pipe (`signal.set_wakeup_fd`, written by the C-level handler at once), and a
small thread reading the pipe does the immediate exit.
"""

import os
import signal
import sys
import threading

from absl import logging

# Run just before a second Ctrl-C's immediate exit, which skips atexit: the console's stderr
# filter drains there, so that the exit's message is not lost in its pipe.
BEFORE_IMMEDIATE_EXIT = []

NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C"}
# The exits after a stop that saved and said so (SIGTERM 42, Ctrl-C 130, a lost peer 4): the
# console leaves at once (`exit_now`) instead of tearing the interpreter down, which in a
# multi-worker run can abort in TensorFlow's collective threads ("terminate called ...
# exception not rethrown", exit -6 instead of 130, seen ~1 in 12 runs of a chief + worker).
STOPPED_EXIT_CODES = (4, 42, 130)


def exit_now(code):
    """Leaves the process with `code` at once: stdio flushed and BEFORE_IMMEDIATE_EXIT run,
    atexit and interpreter teardown skipped. Only once everything is saved and closed."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    for before_exit in BEFORE_IMMEDIATE_EXIT:
        before_exit()
    os._exit(code)


class StopRequest:
    """Catches SIGTERM and SIGINT while training; `close()` restores what was there before.

    Args:
      second_interrupt_message: a callable returning the one line printed when a second
        Ctrl-C ends the process at once.
    """

    def __init__(self, second_interrupt_message):
        self.received = None  # signal.SIGTERM or signal.SIGINT, the first that arrived
        self._message_fn = second_interrupt_message
        self._previous = {}
        self._pipe = None
        if threading.current_thread() is not threading.main_thread():
            return  # signal.signal works on the main thread only (tests may train elsewhere)
        for signum in NAMES:
            if signal.getsignal(signum) == signal.SIG_IGN:
                continue  # e.g. SIGINT of a background job (`cmd &`, nohup): stays ignored
            self._previous[signum] = signal.signal(signum, self._handle)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._previous_wakeup_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._pipe = (read_fd, write_fd)
        threading.Thread(target=self._watch, args=(read_fd,), daemon=True,
                         name="stop-request").start()

    @staticmethod
    def _handle(signum, frame):
        """Replaces the default handlers (KeyboardInterrupt raised inside TensorFlow, or
        death by SIGTERM); the watcher thread, which sees the same signal, does the work."""
        del signum, frame

    def _note(self, signum):
        if self.received is None:
            self.received = signum
            again = "; Ctrl-C again stops at once without it" if signum == signal.SIGINT else ""
            logging.warning("%s: finishing this step to save a checkpoint, then stopping%s",
                            NAMES[signum], again)
        elif signum == signal.SIGINT:
            # Second Ctrl-C (after a first Ctrl-C or SIGTERM): leave now, whatever runs.
            os.write(2, (self._message_fn() + "\n").encode())
            exit_now(130)

    def _watch(self, read_fd):
        """Runs in its own thread: sees each signal as soon as it arrives, even mid-save."""
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:  # the write end was closed: close() ran
                os.close(read_fd)
                return
            for signum in data:
                if signum in NAMES:
                    self._note(signum)

    @property
    def name(self):
        """'SIGTERM' or 'Ctrl-C': how the stop was asked for."""
        return NAMES.get(self.received)

    def close(self):
        """Puts back the previous handlers; a signal from now on acts as it did before."""
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous = {}
        if self._pipe:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            read_fd, write_fd = self._pipe
            self._pipe = None
            del read_fd  # the watcher closes it: closing it under its blocked read would race
            os.close(write_fd)  # the watcher reads end-of-file and returns

