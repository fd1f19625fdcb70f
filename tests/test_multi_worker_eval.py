"""Periodic evaluation under MultiWorkerMirroredStrategy: two workers on 127.0.0.1."""

import json
import os
import sys

from test_multi_worker import HERE, _common_flags, _start_workers

SLOW_SCORING_SECS = 15


def test_slow_scoring_on_the_chief_does_not_time_out_its_peer(tmp_path, tiny_data_dir,
                                                              stand_in_inception):
    """Both workers generate through the strategy; the chief scores for longer than the
    collective timeout while worker 1 waits at evaluation's barrier, not in a train step."""
    workdir = tmp_path / "run"
    flags = _common_flags(workdir, tmp_path, train_steps=4, collective_timeout_secs=8,
                          eval_every_steps=2, eval_num_images=16, data_dir=tiny_data_dir,
                          inception_path=stand_in_inception[0], sample_every_steps=4,
                          ckpt_every_steps=4)
    procs = _start_workers(tmp_path, flags, lambda i: [
        sys.executable, os.path.join(HERE, "eval_worker_driver.py"), str(SLOW_SCORING_SECS)])
    codes = [p.wait(timeout=400) for p in procs]
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    records = [json.loads(line) for line in (workdir / "stats.jsonl").read_text().splitlines()]
    evaluated = [r for r in records if "eval/fid" in r]
    assert [r["step"] for r in evaluated] == [2, 4]
    for record in evaluated:
        assert record["eval/num_generated"] == 16 and sum(record["eval/class_histogram"]) == 16
        assert 1.0 <= record["eval/classifier_score"] <= 10.0 and record["eval/fid"] >= 0
