"""What the log shows by default and with --verbose (issue 22), in this process: other
libraries' info lines hidden, everyone's warnings kept, TFDS's folder warnings dropped for a
--synthetic_data run. The quiet TensorFlow start itself needs a fresh process:
test_programs.py checks a real dcgan-train's first lines."""

import logging

from absl import logging as absl_logging

from dcgan_dist import cli
from dcgan_dist.data import info as data_info


def _record(pathname, level=logging.INFO, message="m"):
    return logging.LogRecord("absl", level, pathname, 1, message, None, None)


def test_other_libraries_info_lines_show_only_with_verbose():
    handler = absl_logging.get_absl_handler()
    try:
        cli.show_details(False)
        saver = "/site-packages/tensorflow/python/checkpoint/functional_saver.py"
        assert not all(f.filter(_record(saver)) for f in handler.filters)  # Sharding callback...
        assert all(f.filter(_record(saver, logging.WARNING)) for f in handler.filters)
        assert all(f.filter(_record("/x/dcgan_dist/loop.py")) for f in handler.filters)
        assert absl_logging.get_verbosity() == absl_logging.INFO
        cli.show_details(True)
        assert all(f.filter(_record(saver)) for f in handler.filters)
        assert absl_logging.get_verbosity() == absl_logging.DEBUG
    finally:
        cli.show_details(False)
    assert len([f for f in handler.filters if isinstance(f, cli._OwnInfoOnly)]) == 1


def test_synthetic_data_does_not_warn_about_the_unused_data_folder(make_config, tmp_path,
                                                                  caplog):
    # An empty version folder, as a data_dir that never held MNIST may have: TFDS warns.
    (tmp_path / "data" / "mnist" / "3.0.1").mkdir(parents=True)
    config = make_config(synthetic_data=True, data_dir=str(tmp_path / "data"))
    with caplog.at_level(logging.INFO):
        info = data_info.load_info(config)
    assert info.image_shape == (28, 28, 1)
    assert not [r for r in caplog.records if "tensorflow_datasets" in r.pathname
                and r.levelno == logging.WARNING]
    # Real data still gets TFDS's warnings: the filter is gone after the call.
    assert not [f for f in logging.getLogger("absl").filters
                if isinstance(f, data_info._NoFolderWarnings)]
