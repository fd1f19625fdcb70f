"""A dataset file that cannot be read (truncated, corrupted) as one line that names the file
and the command that prepares the dataset again, instead of TensorFlow's DataLossError.

TensorFlow's error does not say which file broke, so `unreadable_files` reads each file of the
split once more, checking every record's CRC and the record count TFDS expects per file.

The in-memory source reads the whole split at start, so there the error comes before anything
in the work directory changes. A streaming source can meet a bad record at any step: then the
message also names the step and the checkpoint the rerun will resume from (`error(..., step=,
kept=)`), and the loop stops as for any other error, keeping the last checkpoint.
"""

import tensorflow as tf

from dcgan_dist.data import info as data_info
from dcgan_dist.errors import UserError, reason

# DataLossError: a bad CRC or a record cut in half. FailedPreconditionError: TFDS's count check
# ("Input dataset was expected to contain 60000 elements") when a file ends on a record border.
READ_ERRORS = (tf.errors.DataLossError, tf.errors.FailedPreconditionError)


def split_files(data):
    """[(path, expected records)] of the TFDS split `data` trains on; [] when unknown."""
    import tensorflow_datasets as tfds
    try:
        split = tfds.builder(data.dataset, data_dir=data.data_dir).info.splits[data.split]
        return [(str(p), n) for p, n in zip(split.filepaths, split.shard_lengths)]
    except Exception:  # no such dataset or split: not a damaged-file question
        return []


def unreadable_files(files):
    """The paths among `files` [(path, expected records)] that fail to read, or hold another
    number of records than expected, with the reason for each: [(path, reason)]."""
    bad = []
    for path, expected in files:
        count = 0
        try:
            for _ in tf.data.TFRecordDataset(path):
                count += 1
        except tf.errors.OpError as e:
            bad.append((path, reason(e)))
            continue
        if expected is not None and count != expected:
            bad.append((path, f"{count} records where {expected} were written"))
    return bad


def prepare_command(data):
    """How to build the dataset again, after removing the damaged copy."""
    where = data_info.where(data.data_dir)
    if data.dataset == "mnist":
        return f"dcgan-data prepare mnist --data_dir={where}"
    if not data_info.in_catalog(data.dataset):
        return data_info.prepare_folder_command(data.dataset, data.data_dir)
    return f"tfds build {data.dataset} --data_dir={where} --overwrite"


def error(data, read_error, step=None, kept=None, files=None):
    """The UserError for a failed read, or None when no damaged file explains `read_error`
    (then the caller re-raises it: a FailedPreconditionError may have another cause).

    Args:
      data: the config's data section (dataset, split, data_dir).
      read_error: what reading raised.
      step: the step at which it happened (streaming sources), or None at start.
      kept: `Checkpoints.kept()`, the checkpoint a rerun resumes from, when a step is given.
      files: [(path, expected records)] to check instead of the TFDS split's files.
    """
    bad = unreadable_files(split_files(data) if files is None else files)
    if not bad and not isinstance(read_error, tf.errors.DataLossError):
        return None
    if bad:
        path, reason = bad[0]
        what = f"{path} cannot be read ({reason})"
        folder = path.rsplit("/", 1)[0]
    else:
        what = (f"a file of {data.dataset}:{data.split} cannot be read "
                f"({reason(read_error)})")
        folder = f"{data_info.where(data.data_dir)}/{data.dataset}"
    when = "" if step is None else f" at step {step}; {kept}"
    return UserError(f"{what}{when}: delete {folder} and prepare it again with: "
                     f"{prepare_command(data)}")

