"""Everything a run writes to, and reads back from, its work directory.

- `files`: the one atomic write, appends, and the failure policy: what resuming needs stops
  the run (exit 5), what a person looks at warns once; the writability check.
- `checkpoints`: the checkpoint lifecycle: build the manager, restore the newest readable
  checkpoint, save, clean up after a failed save, say which checkpoint a stopped run keeps.
- `runinfo`: run.json and flags.txt, how a run describes itself.
- `lock`: one writer per work directory. `progress`: log lines, stats.jsonl, eval.jsonl,
  TensorBoard. `grids`: the grids' layout, sample grids, reals.png and the GIF.
- `timebudget`: --train_minutes: the steps that fit them, kept in time_budget.json.

It imports the core's `errors` and `paths` only: it writes what it is given.
"""
