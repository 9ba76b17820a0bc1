"""Leases of a store (compare/execution/store_leases.py): two sweeps never both write a cell.

Two :class:`Store` handles on one file in this process stand for two sweeps' parents; a
lease is moved to "another host" or made stale by editing the claims table as a dead or
suspended sweep would have left it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from twostep.compare.execution.store import Cell, LeaseLost, Store
from twostep.theory.config import ModelConfig

STALE = 120.0
CELL = Cell(ModelConfig(), 20, 0)


def _age(store, key, *, host=None, pid=None, claimed=None, seconds=3600.0):
    """Make the lease on ``key`` look ``seconds`` old (and held by ``host``/``pid``)."""
    then = time.time() - seconds
    store._conn.execute("UPDATE claims SET heartbeat = ?, host = coalesce(?, host), "
                        "pid = coalesce(?, pid), claimed = coalesce(?, claimed) WHERE key = ?",
                        (then, host, pid, claimed, key))


@pytest.fixture
def two(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as a, Store(path) as b:
        yield a, b


def test_a_stale_lease_of_a_live_process_on_this_host_is_not_taken(two):
    # the holder's heartbeat thread died (or the machine slept): its process still computes
    a, b = two
    key = CELL.key()
    assert a.claim([key], "A", stale_after=STALE).mine == {key}
    _age(a, key)  # claimed a moment ago, silent for an hour; its pid (ours) is alive
    got = b.claim([key], "B", stale_after=STALE)
    assert got.mine == set() and key in got.held
    assert a.put_result(CELL, {"by": "A"}, 0.1, owner="A")
    assert dict(b.results())[CELL]["by"] == "A"


def test_a_taken_over_workers_write_is_refused(two):
    a, b = two
    key = CELL.key()
    a.claim([key], "A", stale_after=STALE)
    _age(a, key, host="elsewhere")  # A runs on another host and went silent: B takes over
    assert b.claim([key], "B", stale_after=STALE).mine == {key}
    with pytest.raises(LeaseLost, match="another sweep"):
        a.put_result(CELL, {"by": "A"}, 0.1, owner="A")
    assert b.counts() == {"done": 0, "failed": 0}  # nothing written by A
    assert a.claims()[0]["owner"] == "B"  # and B's lease untouched
    assert b.put_result(CELL, {"by": "B"}, 0.1, owner="B")
    with pytest.raises(LeaseLost):  # after B finished too: A still cannot write
        a.put_failure(CELL, "ValueError: late", 0.1, owner="A")
    with Store(a.path, readonly=True) as s:
        assert [(c, r["by"]) for c, r in s.results()] == [(CELL, "B")]
        assert s.record(key)["attempts"] == 1 and s.claims() == []


def test_a_failure_of_a_taken_over_worker_does_not_replace_the_new_owners_row(two):
    a, b = two
    key = CELL.key()
    a.claim([key], "A", stale_after=STALE)
    _age(a, key, host="elsewhere")
    b.claim([key], "B", stale_after=STALE)
    b.put_failure(CELL, "ValueError: B failed", 0.1, owner="B")
    with pytest.raises(LeaseLost):
        a.put_result(CELL, {"by": "A"}, 0.1, owner="A")
    assert b.status(key) == "failed" and b.record(key)["error"] == "ValueError: B failed"


def test_a_lease_of_a_dead_process_or_a_reused_pid_is_taken(two):
    a, b = two
    key = CELL.key()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    a.claim([key], "A", stale_after=STALE)
    _age(a, key, pid=dead.pid, seconds=0.0)  # beating, but its process is gone
    assert b.claim([key], "B", stale_after=STALE).mine == {key}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_a_pid_reused_by_a_later_process_does_not_keep_a_stale_lease(two):
    a, b = two
    key = CELL.key()
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        a.claim([key], "A", stale_after=STALE)
        # claimed an hour ago by a process with this pid: the live one started just now
        _age(a, key, pid=later.pid, claimed=time.time() - 3600)
        assert b.claim([key], "B", stale_after=STALE).mine == {key}
    finally:
        later.kill()
        later.wait()


def test_a_lease_on_another_host_is_kept_while_it_beats(two):
    a, b = two
    key = CELL.key()
    a.claim([key], "A", stale_after=STALE)
    _age(a, key, host="elsewhere", seconds=STALE / 2)
    assert b.claim([key], "B", stale_after=STALE).held == {key: ("elsewhere", a.claims()[0]["pid"])}


def test_the_holder_writes_and_its_lease_ends_with_the_write(two):
    a, b = two
    key = CELL.key()
    a.claim([key], "A", stale_after=STALE)
    assert a.put_result(CELL, {"x": 1}, 0.1, owner="A") and a.claims() == []
    assert b.claim([key], "B", stale_after=STALE).done == {key}
    assert [c["host"] for c in b.claims()] == []
