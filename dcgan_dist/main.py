"""`dcgan-train`: flags -> Config -> train. Errors are one line on stderr and a non-zero exit.

Exit codes: 0 done (or nothing left to do), 2 bad input (nothing was changed; also a work
directory another run holds, or a damaged dataset file), 3 non-finite loss (last good
checkpoint kept), 4 lost multi-worker peer, 5 a checkpoint or stats.jsonl could not be written
(previous checkpoint kept), 42 preempted by SIGTERM and 130 Ctrl-C, each after saving a
checkpoint (rerun the same command to resume).
"""

from dcgan_dist import UserError, cli
from dcgan_dist import flags as flag_defs  # noqa: F401 - defines the flags


def main(argv):
    if len(argv) > 1:
        raise UserError(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    from dcgan_dist import config as config_lib, loop  # TensorFlow loads after flag parsing.
    loop.train(config_lib.Config.from_flags())


def run():
    """Console-script entry point."""
    cli.run(main, "dcgan-train")


if __name__ == "__main__":
    run()
