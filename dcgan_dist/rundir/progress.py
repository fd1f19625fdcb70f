"""Progress for people (log lines with throughput and ETA) and for tools (stats.jsonl,
eval.jsonl, TensorBoard).

Only the chief writes. stats.jsonl is append-only, one JSON object per log step; on resume it
is cut back to the restored step so a rerun never duplicates or skips steps. eval.jsonl holds
one line per `dcgan-eval` report.
"""

import json
import time

from absl import logging
import numpy as np
import tensorflow as tf

from dcgan_dist.rundir import files


def _format_secs(secs):
    secs = int(round(secs))
    hours, rest = divmod(secs, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Ticker:
    """Progress of long work in images: a line every `every_secs` with the count, images/s
    and the ETA (`total` may be None when unknown)."""

    def __init__(self, what, total=None, every_secs=30.0):
        self.what, self.total, self.every_secs = what, total, every_secs
        self.done, self._start = 0, time.monotonic()
        self._last = self._start

    def update(self, num_images):
        self.done += num_images
        now = time.monotonic()
        if now - self._last < self.every_secs:
            return
        self._last = now
        rate = self.done / max(now - self._start, 1e-9)
        of = f"/{self.total}" if self.total else ""
        eta = (f"  eta {_format_secs((self.total - self.done) / rate)}"
               if self.total and rate else "")
        logging.info("%s: %d%s images  %.1f img/s%s", self.what, self.done, of, rate, eta)


def log_start(architecture, data, total_steps, steps_per_epoch, workdir, budget_minutes=0):
    """The run's first line: what is trained, on what data (`data.inputs.Input.description`),
    for how long (`budget_minutes`: a --train_minutes run still to fit its steps), and where
    the results go. Details (model sizes, the data source's reasoning) are debug lines, shown
    with --verbose."""
    steps = (f"as many steps as fit {budget_minutes:g} minutes (at most {total_steps})"
             if budget_minutes else f"{total_steps} steps")
    logging.info("Training %s networks on %s for %s%s; results in %s", architecture, data,
                 steps, f" ({steps_per_epoch} per epoch)" if steps_per_epoch else "", workdir)


def log_placement(placement, per_replica_batch_size, precision_flag):
    """The second line: the strategy, the batch per replica, and the precision with why."""
    logging.info("Strategy %s, per-replica batch %d; precision %s -> %s: %s",
                 placement.describe(), per_replica_batch_size, precision_flag,
                 placement.precision, placement.precision_why)


def read_jsonl(path):
    """The records of a JSON-lines file ([] if absent), dropping a torn last line left by a kill."""
    if not tf.io.gfile.exists(path):
        return []
    records = []
    with tf.io.gfile.GFile(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records


def read_stats(workdir):
    return read_jsonl(f"{workdir}/stats.jsonl")


def append_eval(workdir, record):
    """One dcgan-eval report as a line of WORKDIR/eval.jsonl."""
    files.append_line(f"{workdir}/eval.jsonl", json.dumps(record))


class Progress:
    """Writes progress lines, stats.jsonl and TensorBoard summaries (no-ops off the chief)."""

    def __init__(self, workdir, total_steps, global_batch_size, start_step, is_chief=True):
        self.workdir = workdir
        self.total_steps = total_steps
        self.global_batch_size = global_batch_size
        self.is_chief = is_chief
        self._start_time = time.monotonic()
        self._last_time, self._last_step = self._start_time, start_step
        self._elapsed_before = 0.0
        self._writer = None
        # TensorBoard is for people: a failure to write it warns once and the run goes on.
        self._best_effort = files.BestEffort()
        if is_chief:
            records = [r for r in read_stats(workdir) if r["step"] <= start_step]
            self._elapsed_before = records[-1]["elapsed_secs"] if records else 0.0
            # Rewrite without records past the restored checkpoint (and any torn line).
            data = "".join(json.dumps(r) + "\n" for r in records)
            files.must_write(f"{workdir}/stats.jsonl", start_step, files.write_atomic,
                             f"{workdir}/stats.jsonl", data)
            self._writer = self._best_effort("TensorBoard summaries", tf.summary.create_file_writer,
                                             f"{workdir}/tensorboard")

    def elapsed_secs(self):
        return self._elapsed_before + time.monotonic() - self._start_time

    def log(self, step, scalars, evaluation=None):
        """Logs losses and throughput since the previous call; appends one stats record.

        `evaluation`: metrics from `evaluation.Evaluator.score`, added to the same record.
        """
        now = time.monotonic()
        images_per_sec = ((step - self._last_step) * self.global_batch_size
                          / max(now - self._last_time, 1e-9))
        steps_per_sec = images_per_sec / self.global_batch_size
        self._last_time, self._last_step = now, step
        eta = (self.total_steps - step) / steps_per_sec if steps_per_sec else float("inf")
        record = {"step": step, **{k: float(v) for k, v in scalars.items()},
                  "images_per_sec": round(images_per_sec, 2),
                  "elapsed_secs": round(self.elapsed_secs(), 3)}
        if evaluation:
            record.update({f"eval/{k}": v for k, v in evaluation.items()})
        losses = "  ".join(f"{k} {float(v):.4f}" for k, v in scalars.items() if "loss" in k or k == "augment_p")
        if evaluation:
            losses += "".join(f"  {k} {evaluation[k]:.2f}" for k in
                              ("fid", "intra_fid", "classifier_score", "frechet_distance",
                               "class_accuracy") if k in evaluation)
        logging.info("step %d/%d  %s  %.1f img/s  elapsed %s  eta %s", step, self.total_steps,
                     losses, images_per_sec, _format_secs(record["elapsed_secs"]),
                     _format_secs(eta) if np.isfinite(eta) else "?")
        if not self.is_chief:
            return record
        files.must_write(f"{self.workdir}/stats.jsonl", step, files.append_line,
                         f"{self.workdir}/stats.jsonl", json.dumps(record))
        self._best_effort("TensorBoard summaries", self._scalars, step, record)
        return record

    def _scalars(self, step, record):
        if self._writer:
            with self._writer.as_default(step=step):
                for name, value in record.items():
                    if name != "step" and np.isscalar(value) and not isinstance(value, str):
                        tf.summary.scalar(name, value)

    def image(self, step, grid_uint8, description=None):
        """The sample grid; `description` (what its rows are) shows beside it."""
        if self.is_chief and self._writer:
            self._best_effort("TensorBoard summaries", self._image, step, grid_uint8,
                              description)

    def _image(self, step, grid_uint8, description):
        with self._writer.as_default(step=step):
            tf.summary.image("samples", grid_uint8.reshape((1,) + grid_uint8.shape[:2] + (-1,)),
                             **({"description": description} if description else {}))

    def close(self):
        if self._writer:
            self._best_effort("TensorBoard summaries", self._writer.close)
