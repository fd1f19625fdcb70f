"""Where and how a run's steps execute, from the config's `runtime` section.

- `strategy`: the one strategy factory (STRATEGIES) and `place`, which returns a Placement:
  the strategy, this process's role, the precision and the per-replica batch.
- `precision`: what `--precision=auto` stands for on this machine, and why.
- `workers`: what the workers of a multi-worker run agree on, and a lost peer's error.
- `streams`: every random stream of a run keyed from --seed, the same on any placement.

It imports the core's `errors` only.
"""
