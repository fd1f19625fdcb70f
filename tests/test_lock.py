"""The one-writer hold of a work directory, both mechanisms, in-process and fast (the real entry
point is exercised in test_mishaps.py)."""

import json
import logging
import os
import re
import socket
import time

import pytest

from dcgan_dist.errors import UserError
from dcgan_dist.rundir import lock as hold


@pytest.fixture(autouse=True)
def _fast_lease(monkeypatch):
    monkeypatch.setattr(hold, "SETTLE_SECS", 0.01)


def _record(**fields):
    return {"host": "other-vm", "pid": 4242, "started": "2026-01-02T03:04:05+00:00",
            "heartbeat": time.time(), "token": "theirs", **fields}


@pytest.mark.parametrize("kind", [hold._LockHold, hold._LeaseHold])
def test_a_held_directory_refuses_a_second_holder_and_frees_on_release(kind, tmp_path):
    first = kind(str(tmp_path))
    record = json.loads((tmp_path / "hold.json").read_text())
    assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
    with pytest.raises(UserError, match=rf"is in use by another dcgan-train run \(host "
                                        rf"{socket.gethostname()}, process {os.getpid()}, "
                                        rf"started {re.escape(record['started'])}\)"):
        kind(str(tmp_path))
    assert json.loads((tmp_path / "hold.json").read_text()) == record  # the refusal changed nothing
    first.release()
    assert not (tmp_path / "hold.json").exists()
    kind(str(tmp_path)).release()  # free again


def test_a_lock_file_whose_holder_is_gone_is_taken_over_with_a_warning(tmp_path, caplog):
    # What kill -9 leaves: the record, but no lock (the kernel dropped it with the process).
    (tmp_path / "hold.json").write_text(json.dumps(_record()))
    with caplog.at_level(logging.WARNING):
        taken = hold._LockHold(str(tmp_path))
    assert "Taking over the hold" in caplog.text and "host other-vm, process 4242" in caplog.text
    assert json.loads((tmp_path / "hold.json").read_text())["pid"] == os.getpid()
    taken.release()


def test_a_fresh_lease_of_another_host_is_respected(tmp_path):
    (tmp_path / "hold.json").write_text(json.dumps(_record()))
    with pytest.raises(UserError, match=r"host other-vm, process 4242, started 2026-01-02"):
        hold._LeaseHold(str(tmp_path))
    assert json.loads((tmp_path / "hold.json").read_text())["token"] == "theirs"


@pytest.mark.parametrize("stale", [
    _record(heartbeat=time.time() - hold.STALE_AFTER_SECS - 1),  # a crashed VM: no heartbeat
    _record(host=socket.gethostname(), pid=2**22 + 1),  # a process of this host that is gone
], ids=["old heartbeat", "dead process here"])
def test_a_stale_lease_is_taken_over_with_a_warning(stale, tmp_path, caplog):
    (tmp_path / "hold.json").write_text(json.dumps(stale))
    with caplog.at_level(logging.WARNING):
        taken = hold._LeaseHold(str(tmp_path))
    assert "Taking over the hold" in caplog.text and f"process {stale['pid']}" in caplog.text
    assert json.loads((tmp_path / "hold.json").read_text())["token"] == taken.record["token"]
    taken.release()
    assert not (tmp_path / "hold.json").exists()


def test_the_lease_heartbeat_renews_and_notices_a_takeover(tmp_path, monkeypatch):
    monkeypatch.setattr(hold, "HEARTBEAT_SECS", 0.05)
    lease = hold._LeaseHold(str(tmp_path))
    first_beat = lease.record["heartbeat"]
    deadline = time.monotonic() + 10
    while json.loads((tmp_path / "hold.json").read_text())["heartbeat"] == first_beat:
        assert time.monotonic() < deadline, "no heartbeat"
        time.sleep(0.02)
    (tmp_path / "hold.json").write_text(json.dumps(_record()))  # someone took it over
    while lease.lost_to is None:
        assert time.monotonic() < deadline, "the takeover went unnoticed"
        time.sleep(0.02)
    assert lease.lost_to["host"] == "other-vm"
    lease.release()
    # Not ours any more, so not ours to remove.
    assert json.loads((tmp_path / "hold.json").read_text())["token"] == "theirs"


def test_only_the_chief_holds(tmp_path):
    with hold.holding(str(tmp_path), is_chief=False) as held:
        assert held is None and not (tmp_path / "hold.json").exists()
    with hold.holding(str(tmp_path), is_chief=True):
        assert (tmp_path / "hold.json").exists()
    assert not (tmp_path / "hold.json").exists()
