"""How every program starts and ends: its own flags parsed, one line and an exit code for an
expected error (`errors.DcganError`), the traceback only with --verbose.

    cli.run(main, "dcgan-eval", FLAGS)   # main(argv, flag_values); argv = what flags left

Each program parses a FlagValues of its own (`flags.flag_values`), so it accepts exactly the
flags it names in its FLAGS; `cli.run(..., argv=[...])` runs a program in-process (the tests
do), since nothing is registered globally.
"""

import gc
import logging as std_logging
import os
import sys

from absl import flags as absl_flags
from absl import logging

from dcgan_dist import flagfiles, flags
from dcgan_dist.errors import DcganError

HELP = ("--help", "-h", "-?", "--helpfull", "--helpshort")


class _OwnInfoOnly(std_logging.Filter):
    """Info lines are this package's: other libraries' (TensorFlow's "Sharding callback
    duration" at every checkpoint, TFDS's "Reusing dataset") are shown with --verbose only.
    Their warnings and errors always show."""

    verbose = False
    _OURS = (f"{os.sep}dcgan_dist{os.sep}", f"{os.sep}benchmarks{os.sep}")

    def filter(self, record):
        return (self.verbose or record.levelno >= std_logging.WARNING
                or any(part in record.pathname for part in self._OURS))


_FILTER = _OwnInfoOnly()


def show_details(verbose):
    """What the log shows: with `verbose`, every line (debug included); else this package's
    info lines and everyone's warnings."""
    logging.use_absl_handler()
    logging.set_verbosity(logging.DEBUG if verbose else logging.INFO)
    _FILTER.verbose = verbose
    handler = logging.get_absl_handler()
    if _FILTER not in handler.filters:
        handler.addFilter(_FILTER)


def parse(program, names, argv):
    """(flag_values, leftover argv) of `program`'s flags `names`; a bad flag or flagfile is one
    line and exit 2, not a usage dump; --help prints the program's flags and exits 0."""
    flag_values = flags.flag_values(names)
    if any(arg in HELP for arg in argv[1:]):
        print(f"{program}, with these flags (defaults in brackets):\n\n"
              f"{flag_values.get_help(include_special_flags=False)}")
        sys.exit(0)
    try:
        # Configs and flagfiles become plain flags first: a config includes others by name,
        # and a missing include names where it was looked for (flagfiles).
        argv = flagfiles.expand(argv, configs="config" in names)
    except DcganError as e:
        print(f"{program}: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    try:
        return flag_values, flag_values(argv)
    except absl_flags.Error as e:
        message = str(e).removeprefix("ERROR:: ")
        print(f"{program}: error: {message}; see {program} --help", file=sys.stderr)
        sys.exit(2)


def run(main, program, names, argv=None):
    """Parses `program`'s flags `names` from `argv` (default sys.argv), then calls
    `main(leftover_argv, flag_values)`. A DcganError becomes `program: error: ...` on stderr
    and its exit code (with --verbose, the traceback instead); Ctrl-C outside training exits
    130 with one line."""
    flag_values, args = parse(program, names, list(sys.argv if argv is None else argv))
    if not absl_flags.FLAGS.is_parsed():
        absl_flags.FLAGS.mark_as_parsed()  # absl's own (logging) flags, at their defaults
    show_details(flag_values["verbose"].value)
    try:
        main(args, flag_values)
    except DcganError as e:
        if flag_values["verbose"].value:
            raise
        # Drop the tracebacks and collect: TensorFlow objects they kept alive warn as they are
        # deleted, and those lines should come before the error, not after it.
        cause = e
        while cause is not None:
            cause.__traceback__, cause = None, cause.__cause__ or cause.__context__
        gc.collect()
        print(f"{program}: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        # Ctrl-C outside the training loop (which saves and exits 130 itself, loop.py):
        # while starting up or finishing, with nothing in progress to save.
        print(f"{program}: error: interrupted by Ctrl-C; rerun the same command to start again",
              file=sys.stderr)
        sys.exit(130)
