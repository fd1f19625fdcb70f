"""`dcgan-train`: flags -> Config -> train. Errors are one line on stderr and a non-zero exit."""

import sys

from absl import app

from dcgan_dist import DcganError
from dcgan_dist import flags as flag_defs


def main(argv):
    if len(argv) > 1:
        raise DcganError(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    from dcgan_dist import config as config_lib, loop  # TensorFlow loads after flag parsing.
    loop.train(config_lib.Config.from_flags())


def run():
    """Console-script entry point."""
    try:
        app.run(main)
    except DcganError as e:
        if flag_defs.FLAGS.is_parsed() and flag_defs.FLAGS.verbose:
            raise
        print(f"dcgan-train: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    run()
