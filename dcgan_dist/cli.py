"""How every console script reports failure: one line on stderr and the error's exit code."""

import gc
import sys

from absl import app
from absl import flags

from dcgan_dist import DcganError


def run(main, prog, flags_parser=None):
    """app.run(main), with DcganError as `prog: error: ...` and a non-zero exit.

    With --verbose (where the program defines it) the traceback is shown instead.
    """
    try:
        app.run(main, flags_parser=flags_parser or make_flags_parser(prog))
    except DcganError as e:
        if flags.FLAGS.is_parsed() and "verbose" in flags.FLAGS and flags.FLAGS.verbose:
            raise
        # Drop the tracebacks and collect: TensorFlow objects they kept alive warn as they are
        # deleted, and those lines should come before the error, not after it.
        cause = e
        while cause is not None:
            cause.__traceback__, cause = None, cause.__cause__ or cause.__context__
        gc.collect()
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        # Ctrl-C outside the training loop (which saves and exits 130 itself, loop.py):
        # while starting up or finishing, with nothing in progress to save.
        print(f"{prog}: error: interrupted by Ctrl-C; rerun the same command to start again",
              file=sys.stderr)
        sys.exit(130)


def make_flags_parser(prog):
    """absl's parser, but a bad flag or flagfile is one line and exit 2, not a usage dump."""

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as e:
            message = str(e).removeprefix("ERROR:: ")
            print(f"{prog}: error: {message}; see {prog} --helpfull", file=sys.stderr)
            sys.exit(2)

    return parse
