"""One writer per work directory: a second `dcgan-train` on a directory a live run holds stops
at once (exit 2) and names the holder; a holder that died is taken over with a warning.

The holder is described in `WORKDIR/hold.json` (host, process id, start time, heartbeat), and
the file is removed when the run ends. Two mechanisms, chosen by where the work directory is:

- **Local disks (and shared mounts with working locks):** an exclusive `fcntl.flock` on
  `hold.json`, held for the whole run. The kernel drops the lock when the process dies, however
  it dies (kill -9 included), so a stale hold is recognised without any clock: the lock is free
  but the file still names someone. NFS passes flock to the server as a POSIX lock, which the
  server frees when a crashed client's lease runs out.
- **gs:// (or a file system that refuses flock):** Cloud Storage has no locks, so `hold.json` is
  a lease: the holder rewrites its heartbeat every HEARTBEAT_SECS, and a lease whose heartbeat
  is older than STALE_AFTER_SECS (or whose process is gone, when on this host) is taken over.
  The safe way to take a lease is a write conditioned on the object's generation
  (`if_generation_match`), which only the google-cloud-storage client offers; tf.io.gfile has
  no preconditions, and we add no hard dependency for it. Instead a taker writes its record,
  waits SETTLE_SECS and reads it back: of two runs that start together, the one whose record
  was overwritten steps back. The race that remains: a run that read "no holder" and took more
  than SETTLE_SECS before writing (a stalled VM) can overwrite a lease taken in between. The
  heartbeat then notices that the lease is no longer its own and logs an error. Starting two
  runs on one gs:// directory within seconds of each other is the case this leaves open.

Under multi-worker only the chief holds the directory (the others write nothing there but
their private temporary checkpoints). Readers (`dcgan-eval`, `dcgan-generate`,
`dcgan-export`) never take the hold.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import threading
import time
import uuid

from absl import logging

from dcgan_dist import paths
from dcgan_dist.errors import UserError

HOLD_FILE = "hold.json"
HEARTBEAT_SECS = 30
STALE_AFTER_SECS = 120  # four missed heartbeats
SETTLE_SECS = 2.0


@contextlib.contextmanager
def holding(workdir, is_chief=True):
    """Holds `workdir` for the duration of the block (only where `is_chief`)."""
    if not is_chief:
        yield None
        return
    hold = acquire(workdir)
    try:
        yield hold
    finally:
        hold.release()


def acquire(workdir):
    """Takes the work directory's hold, creating the directory; UserError if a live run has it."""
    if not paths.is_remote(workdir):
        os.makedirs(workdir, exist_ok=True)
        try:
            return _LockHold(workdir)
        except _NoLocks:
            logging.info("%s refuses file locks; holding it with a heartbeat lease", workdir)
    return _LeaseHold(workdir)


def new_record():
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": started,
            "heartbeat": time.time(), "token": uuid.uuid4().hex}


def describe(record):
    return (f"host {record.get('host', '?')}, process {record.get('pid', '?')}, started "
            f"{record.get('started', '?')}")


def _busy(workdir, record):
    return UserError(f"--workdir={workdir} is in use by another dcgan-train run "
                     f"({describe(record)}); wait for it to end or stop it, or choose another "
                     "--workdir")


def _parse(text):
    try:
        record = json.loads(text)
        return record if isinstance(record, dict) else None
    except ValueError:
        return None


def _dead_here(record):
    """Whether the record names a process of this host that no longer runs."""
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return False
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    return False


class _NoLocks(Exception):
    pass


class _LockHold:
    """flock on a local hold.json; the record inside names the holder for others to read."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, HOLD_FILE)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                record = self._read_holder(fd)
                os.close(fd)
                raise _busy(workdir, record) from None
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise _NoLocks() from e
                raise
            # A holder removes the file on release: a lock on a removed file holds nothing.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        previous = _parse(os.pread(fd, 4096, 0).decode(errors="replace"))
        if previous:
            logging.warning("Taking over the hold of %s from a run that ended without "
                            "releasing it (%s)", workdir, describe(previous))
        self.record = new_record()
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.record).encode(), 0)
        os.fsync(fd)

    @staticmethod
    def _read_holder(fd):
        # The holder writes its record right after locking: give it a moment if it is empty.
        for _ in range(20):
            record = _parse(os.pread(fd, 4096, 0).decode(errors="replace"))
            if record:
                return record
            time.sleep(0.05)
        return {}

    def release(self):
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still locked, so nobody reads a half-released hold
        os.close(self._fd)
        self._fd = None


class _LeaseHold:
    """A heartbeat lease in hold.json through tf.io.gfile (gs:// and file systems without locks)."""

    def __init__(self, workdir):
        import tensorflow as tf  # gfile reaches gs://; imported here to keep the lock path light
        self._gfile = tf.io.gfile
        self.path = f"{workdir}/{HOLD_FILE}"
        self._gfile.makedirs(workdir)
        current = self._read()
        if current:
            age = time.time() - float(current.get("heartbeat", 0))
            if age < STALE_AFTER_SECS and not _dead_here(current):
                raise _busy(workdir, current)
            logging.warning("Taking over the hold of %s from a run that stopped holding it (%s; "
                            "last heartbeat %.0f s ago)", workdir, describe(current), age)
        self.record = new_record()
        self._write(self.record)
        time.sleep(SETTLE_SECS)
        winner = self._read()
        if not winner or winner.get("token") != self.record["token"]:
            raise _busy(workdir, winner or {})
        self.lost_to = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True, name="hold-lease")
        self._thread.start()

    def _read(self):
        try:
            with self._gfile.GFile(self.path) as f:
                return _parse(f.read())
        except Exception:  # absent, or unreadable: either way nobody holds it in a way we can see
            return None

    def _write(self, record):
        with self._gfile.GFile(self.path, "w") as f:
            f.write(json.dumps(record))

    def _heartbeat(self):
        while not self._stop.wait(HEARTBEAT_SECS):
            current = self._read()
            if current and current.get("token") != self.record["token"]:
                self.lost_to = current
                logging.error("Lost the hold of %s to another run (%s): two runs now write "
                              "there; stop one of them", self.path, describe(current))
                return
            self.record["heartbeat"] = time.time()
            try:
                self._write(self.record)
            except Exception as e:  # a missed heartbeat is not worth killing the run for
                logging.warning("Could not renew the hold %s (%s)", self.path, e)

    def release(self):
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        current = self._read()
        if current and current.get("token") == self.record["token"]:
            with contextlib.suppress(Exception):
                self._gfile.remove(self.path)
