"""What a path on the command line means: on this machine's disk, or remote (a file system
TensorFlow reaches by a scheme: gs://, s3://, ...; file:// is this disk), and how a typed
local path is made absolute. The one rule every part asks: the flags, the config's check that
a remote TPU can read the run's paths, the run directory's probes and lock."""

import os


def is_remote(path):
    """Whether `path` names a file system by scheme (gs://...), not this machine's disk."""
    return "://" in (path or "") and not path.startswith("file://")


def expand(path):
    """~ and relative paths made absolute, so a run's flags.txt and run.json hold where its
    files really are; remote paths and empty values as given."""
    if not path or is_remote(path):
        return path
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.abspath(path)  # absolute ones as typed
