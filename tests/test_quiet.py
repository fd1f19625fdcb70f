"""What the log shows by default and with --verbose (issue 22), in this process: other
libraries' info lines hidden, everyone's warnings kept, TFDS's folder warnings dropped for a
--synthetic_data run. The quiet TensorFlow start itself needs a fresh process:
test_programs.py checks a real dcgan-train's first lines."""

import logging

from absl import logging as absl_logging

from dcgan_dist.programs import cli
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
        info = data_info.load_info(config.data)
    assert info.image_shape == (28, 28, 1)
    assert not [r for r in caplog.records if "tensorflow_datasets" in r.pathname
                and r.levelno == logging.WARNING]
    # Real data still gets TFDS's warnings: the filter is gone after the call.
    assert not [f for f in logging.getLogger("absl").filters
                if isinstance(f, data_info._NoFolderWarnings)]


def test_cpp_log_lines_are_filtered_from_stderr_and_the_last_lines_survive_exit():
    """TensorFlow 2.20 prints grappler's E0000 lines whatever TF_CPP_MIN_LOG_LEVEL says; the
    console's filter drops C++ log lines and passes everything else, to the very end (a
    process of its own: the filter takes over file descriptor 2; no TensorFlow imported)."""
    import subprocess
    import sys
    script = r"""
import os, sys
from dcgan_dist.programs import console
console.filter_cpp_log_lines()
os.write(2, b"E0000 00:00:1796153114.347659   12538 meta_optimizer.cc:967] remapper failed\n")
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written\n")
print("I1201 19:25:14.504380 140552609741696 progress.py:116] step 2/4", file=sys.stderr)
os.write(2, b"W1201 19:25:15.000001    4242 cuda_executor.cc:1] no GPU\nkept ")
os.write(2, b"in two writes\n")
raise SystemExit("dcgan-train: error: the last line, without a newline")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr == ("I1201 19:25:14.504380 140552609741696 progress.py:116] step 2/4\n"
                             "kept in two writes\n"
                             "dcgan-train: error: the last line, without a newline\n")
