"""--train_minutes: a run fitted to minutes of training instead of a count of steps.

    total_steps, budget = timebudget.resume(workdir, train_minutes, total_steps, decay_fraction)
    fitted = budget.fit(step, elapsed_secs)  # after each execution: a new total or None,
                                             # until budget.done

Stopping a run when its time is up (Lightning's `max_time`) would cut it before its learning
rates decay, and a GAN's last steps at a falling rate are where it gains most
(benchmarks/RESULTS_fid.md). So the run measures its own rate over the first tenth of the
budget and sets its last step where that rate meets the budget (never past --train_steps or
--epochs, its cap): the decay (--lr_decay_fraction) is then placed on that total, as
Li et al. 2020 ("Budgeted Training") decay to the budget. At four tenths it fits once more, at
the rate since the first fit, if the decay has not begun by then (with the usual fraction of
a half it has not: the rates are still constant, so moving the end changes nothing trained);
the new end never starts the decay before the current step. The minutes are the training loop's
(`rundir.progress` counts them across resumes); building the run before it is not counted.
A first tenth can run faster than the rest: on 2026-12-07's 2-core VM, 14 minutes of
`mnist_fast` fit 86,510 steps at 103 steps/s and took 14.4 (the later steps ran 3% slower),
and `folder32` fitted to 13.5 took 14.7, its steps slowing as ada's p rose. The second fit
measures from the first (over at least a twentieth of the budget, as the first) and absorbs
such drifts.

The fitted total goes to WORKDIR/time_budget.json: a stopped and resumed run keeps it (it
ends, and decays, where the last fit said), however fast its new machine is, and does not
fit again (a run stopped between the two fits keeps the first). Delete the file to fit the
run again. One machine's clock decides, so multi-worker runs set
--train_steps instead (`build.build_run` refuses the flag there). The loop makes the fit
(`loop._fit_to_budget`); this module does its arithmetic and keeps it in the run directory.
"""

import dataclasses
import json
import math

from absl import logging
import tensorflow as tf

from dcgan_dist.errors import UserError
from dcgan_dist.rundir import files

FILE = "time_budget.json"
FIT_AT = 0.1        # the fit happens once this share of the budget has passed ...
MIN_MEASURE = 0.05  # ... and the rate has been measured over at least this share
REFIT_AT = 0.4      # the second fit, at the rate since the first, unless the decay has begun


@dataclasses.dataclass
class TimeBudget:
    """The fits still to make: `fit` after every execution until `done`."""
    budget_secs: float
    cap_steps: int
    path: str
    decay_fraction: float = 0.0  # --lr_decay_fraction: the decay begins at (1 - it) * total
    done: bool = False
    _mark: tuple = None   # (step, elapsed_secs) after this start's first execution (traced)
    _first: tuple = None  # (elapsed_secs, what it wrote) of the first fit

    def fit(self, step, elapsed_secs):
        """The run's new total steps when it is time to fit them (twice), else None.

        Args:
          step: the step just reached.
          elapsed_secs: training seconds so far, across resumes.
        """
        if self._mark is None:  # the rate is measured from here: the first execution traces
            self._mark = (step, elapsed_secs)
            return None
        if self._first is None:
            mark_step, mark_secs = self._mark
            if (elapsed_secs < FIT_AT * self.budget_secs
                    or elapsed_secs - mark_secs < MIN_MEASURE * self.budget_secs
                    or step <= mark_step):
                return None
            total, rate = self._total(step, elapsed_secs, mark_step, mark_secs)
            written = {"total_steps": total, "fitted_at_step": step, "steps_per_sec": rate}
            self._first = (elapsed_secs, written)
            self._write(step, written)
            self._log("fit", total, rate, mark_step, step)
            return total
        first_secs, written = self._first
        first_step, first_total = written["fitted_at_step"], written["total_steps"]
        if (elapsed_secs < REFIT_AT * self.budget_secs
                or elapsed_secs - first_secs < MIN_MEASURE * self.budget_secs
                or step <= first_step):
            return None
        self.done = True
        if step >= (1 - self.decay_fraction) * first_total:
            return None  # the decay has begun: its slope stays
        total, rate = self._total(step, elapsed_secs, first_step, first_secs)
        total = max(total, math.ceil(step / (1 - self.decay_fraction)))  # no decay before now
        self._write(step, {**written, "total_steps": total, "refitted_at_step": step,
                     "refit_steps_per_sec": rate})
        self._log("refit", total, rate, first_step, step)
        return total

    def _total(self, step, elapsed_secs, since_step, since_secs):
        """(total steps, steps/s): the rate since (since_step, since_secs), over what is left."""
        rate = (step - since_step) / (elapsed_secs - since_secs)
        left_secs = max(0.0, self.budget_secs - elapsed_secs)
        return min(self.cap_steps, step + int(rate * left_secs)), round(rate, 3)

    def _write(self, step, fitted):
        files.must_write(self.path, step, files.write_atomic, self.path,
                         json.dumps({"train_minutes": self.budget_secs / 60, **fitted},
                                    indent=2) + "\n")

    def _log(self, what, total, rate, since_step, step):
        logging.info("Time budget: %.1f minutes %s %d steps at %.1f steps/s (measured over "
                     "steps %d-%d; %s)", self.budget_secs / 60, what, total, rate, since_step,
                     step, "capped by --train_steps or --epochs" if total == self.cap_steps else
                     f"written to {self.path}")


def resume(workdir, train_minutes, total_steps, decay_fraction=0.0):
    """(total_steps, budget) of the run in `workdir` whose steps are `total_steps` by
    --train_steps or --epochs: without `train_minutes` (0), those and None; with them, the
    total an earlier start fitted (time_budget.json) and None, or the cap and the TimeBudget
    still to fit (its refit keeps the decay, of `decay_fraction` of the total, ahead)."""
    if not train_minutes:
        return total_steps, None
    path = f"{workdir}/{FILE}"
    if not tf.io.gfile.exists(path):
        return total_steps, TimeBudget(train_minutes * 60, total_steps, path, decay_fraction)
    try:
        with tf.io.gfile.GFile(path) as f:
            fitted = int(json.load(f)["total_steps"])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e}); delete it and rerun: "
                        "the run fits its steps to --train_minutes again") from e
    logging.info("Time budget: %d steps, as fitted by an earlier start (%s; delete it to "
                 "fit again)", fitted, path)
    return fitted, None
