"""--train_minutes: a run fitted to minutes of training instead of a count of steps.

    total_steps, budget = timebudget.resume(workdir, train_minutes, total_steps)
    fitted = budget.fit(step, elapsed_secs)  # after each execution: the new total once, else None

Stopping a run when its time is up (Lightning's `max_time`) would cut it before its learning
rates decay, and a GAN's last steps at a falling rate are where it gains most
(benchmarks/RESULTS_fid.md). So the run measures its own rate over the first tenth of the
budget and sets its last step where that rate meets the budget (never past --train_steps or
--epochs, its cap): the decay (--lr_decay_fraction) is then placed on that total, as
Li et al. 2020 ("Budgeted Training") decay to the budget. The minutes are the training loop's
(`rundir.progress` counts them across resumes); building the run before it is not counted.
The fit trusts the first tenth's rate: on 2026-12-07's 2-core VM, 14 minutes of `mnist_fast`
fit 86,510 steps at 103 steps/s and took 14.4 (the later steps ran 3% slower), so a config
that must end within a limit asks for a little less (`mnist_fast`: 13.5 for 15).

The fitted total goes to WORKDIR/time_budget.json: a stopped and resumed run keeps it (it
ends, and decays, where the first start said), however fast its new machine is. Delete the
file to fit the run again. One machine's clock decides, so multi-worker runs set
--train_steps instead (`build.build_run` refuses the flag there). The loop makes the fit
(`loop._fit_to_budget`); this module does its arithmetic and keeps it in the run directory.
"""

import dataclasses
import json

from absl import logging
import tensorflow as tf

from dcgan_dist.errors import UserError
from dcgan_dist.rundir import files

FILE = "time_budget.json"
FIT_AT = 0.1        # the fit happens once this share of the budget has passed ...
MIN_MEASURE = 0.05  # ... and the rate has been measured over at least this share


@dataclasses.dataclass
class TimeBudget:
    """The fit still to make: `fit` after every execution until it returns the total."""
    budget_secs: float
    cap_steps: int
    path: str
    _mark: tuple = None  # (step, elapsed_secs) after this start's first execution (traced)

    def fit(self, step, elapsed_secs):
        """The run's new total steps once it is time to fit them, else None.

        Args:
          step: the step just reached.
          elapsed_secs: training seconds so far, across resumes.
        """
        if self._mark is None:  # the rate is measured from here: the first execution traces
            self._mark = (step, elapsed_secs)
            return None
        mark_step, mark_secs = self._mark
        measured_secs = elapsed_secs - mark_secs
        if (elapsed_secs < FIT_AT * self.budget_secs
                or measured_secs < MIN_MEASURE * self.budget_secs or step <= mark_step):
            return None
        steps_per_sec = (step - mark_step) / measured_secs
        left_secs = max(0.0, self.budget_secs - elapsed_secs)
        total = min(self.cap_steps, step + int(steps_per_sec * left_secs))
        files.must_write(self.path, step, files.write_atomic, self.path, json.dumps({
            "train_minutes": self.budget_secs / 60, "total_steps": total, "fitted_at_step": step,
            "steps_per_sec": round(steps_per_sec, 3)}, indent=2) + "\n")
        logging.info("Time budget: %.1f minutes fit %d steps at %.1f steps/s (measured over "
                     "steps %d-%d; %s)", self.budget_secs / 60, total, steps_per_sec, mark_step,
                     step, "capped by --train_steps" if total == self.cap_steps else
                     f"written to {self.path}")
        return total


def resume(workdir, train_minutes, total_steps):
    """(total_steps, budget) of the run in `workdir` whose steps are `total_steps` by
    --train_steps or --epochs: without `train_minutes` (0), those and None; with them, the
    total an earlier start fitted (time_budget.json) and None, or the cap and the TimeBudget
    still to fit."""
    if not train_minutes:
        return total_steps, None
    path = f"{workdir}/{FILE}"
    if not tf.io.gfile.exists(path):
        return total_steps, TimeBudget(train_minutes * 60, total_steps, path)
    try:
        with tf.io.gfile.GFile(path) as f:
            fitted = int(json.load(f)["total_steps"])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e}); delete it and rerun: "
                        "the run fits its steps to --train_minutes again") from e
    logging.info("Time budget: %d steps, as fitted by the run's first start (%s; delete it to "
                 "fit again)", fitted, path)
    return fitted, None
