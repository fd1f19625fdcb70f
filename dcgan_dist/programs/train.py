"""`dcgan-train`: flags -> Config -> loop.train. Errors are one line on stderr and a non-zero exit.

Exit codes: 0 done (or nothing left to do), 2 bad input (nothing was changed; also a work
directory another run holds, or a damaged dataset file), 3 non-finite loss (last good
checkpoint kept), 4 lost multi-worker peer, 5 a checkpoint or stats.jsonl could not be written
(previous checkpoint kept), 42 preempted by SIGTERM and 130 Ctrl-C, each after saving a
checkpoint (rerun the same command to resume).
"""

from dcgan_dist import flagfiles, flags, loop
from dcgan_dist.config import Config
from dcgan_dist.errors import UserError
from dcgan_dist.programs import cli

FLAGS = flags.TRAIN + ("config", "list_configs")


def main(argv, flag_values):
    if len(argv) > 1:
        raise UserError(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    if flag_values["list_configs"].value:
        print(flagfiles.describe_configs())
        return
    loop.train(Config.from_flags(flag_values))


def run(argv=None):
    """The program (`argv` for in-process runs; default sys.argv)."""
    cli.run(main, "dcgan-train", FLAGS, argv)


if __name__ == "__main__":
    run()
