"""`dcgan-train`: flags -> Config -> train. Errors are one line on stderr and a non-zero exit.

Exit codes: 0 done (or nothing left to do), 2 bad input (nothing was changed), 3 non-finite
loss (last good checkpoint kept), 4 lost multi-worker peer, 42 preempted by SIGTERM after
saving a checkpoint (rerun the same command to resume).
"""

import gc
import sys

from absl import app
from absl import flags

from dcgan_dist import DcganError, UserError
from dcgan_dist import flags as flag_defs

PROG = "dcgan-train"


def parse_flags(argv):
    """absl's parser, but a bad flag or flagfile is one line and exit 2, not a usage dump."""
    try:
        return flag_defs.FLAGS(argv)
    except flags.Error as e:
        message = str(e).removeprefix("ERROR:: ")
        print(f"{PROG}: error: {message}; see {PROG} --helpfull", file=sys.stderr)
        sys.exit(2)


def main(argv):
    if len(argv) > 1:
        raise UserError(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    from dcgan_dist import config as config_lib, loop  # TensorFlow loads after flag parsing.
    loop.train(config_lib.Config.from_flags())


def run():
    """Console-script entry point."""
    try:
        app.run(main, flags_parser=parse_flags)
    except DcganError as e:
        if flag_defs.FLAGS.is_parsed() and flag_defs.FLAGS.verbose:
            raise
        # Drop the traceback and collect: TensorFlow objects it kept alive warn as they are
        # deleted, and those lines should come before the error, not after it.
        cause = e
        while cause is not None:
            cause.__traceback__, cause = None, cause.__cause__ or cause.__context__
        gc.collect()
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    run()
