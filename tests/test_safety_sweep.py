"""Two sweeps on one store compute each cell once; a killed sweep leaves no process behind.

The subprocess sweeps use ``_sweep_worker.slow_cell`` (spawned workers import it by name).
"""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from twostep.compare.execution import heartbeat as heartbeat_module
from twostep.compare.execution import sweep as sweep_module
from twostep.compare.execution import worker as worker_module
from twostep.compare.execution.grid import Grid
from twostep.compare.execution.store import Store, host_id
from twostep.compare.execution.sweep import run_sweep

TESTS = Path(__file__).resolve().parent

DRIVER = """
import sys
sys.path.insert(0, {tests!r})
import _sweep_worker as w
from twostep.compare.execution.sweep import Grid, run_sweep
result = run_sweep(Grid(ns=[10], seeds={seeds}).cells(), {store!r}, jobs={jobs}, quiet=True,
                   cell_fn=w.slow_cell)
print(result.summary(), flush=True)
"""


def _driver(store, seeds=8, jobs=2):
    return [sys.executable, "-c", DRIVER.format(tests=str(TESTS), store=str(store), seeds=seeds,
                                                jobs=jobs)]


def _computations(log):
    counts = collections.Counter()
    if log.exists():
        for line in log.read_text().splitlines():
            counts[line.split()[0]] += 1
    return counts


def test_two_sweeps_at_once_compute_each_cell_once(tmp_path):
    store, log = tmp_path / "s.sqlite", tmp_path / "computed.log"
    env = {**os.environ, "TWOSTEP_TEST_LOG": str(log), "TWOSTEP_TEST_RUN": "x"}
    # Both start before the store exists: its creation races too.
    procs = [subprocess.Popen(_driver(store), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    cells = Grid(ns=[10], seeds=8).cells()
    computed = _computations(log)
    assert set(computed) == {c.key() for c in cells}
    assert max(computed.values()) == 1, computed  # no cell computed twice
    summaries = " | ".join(out for out, _ in outs)
    assert summaries.count("8 cells:") == 2, summaries
    with Store(store, readonly=True) as s:
        assert s.counts() == {"done": 8, "failed": 0}
        assert s.claims() == []  # every claim released


def _claim_as(store_path, key, *, host, pid, heartbeat):
    with Store(store_path) as s:
        s._conn.execute("INSERT INTO claims (key, owner, host, pid, claimed, heartbeat) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (key, f"{host}:{pid}:x", host, pid,
                                                      heartbeat, heartbeat))


CALLS: list[int] = []


def _recording_cell(cell):
    CALLS.append(cell.seed)
    return {"seed": cell.seed}


def test_a_live_claim_is_waited_for_and_a_dead_one_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_module, "WAIT_POLL_S", 0.05)
    path = tmp_path / "s.sqlite"
    cells = Grid(ns=[10], seeds=4).cells()
    Store(path).close()
    now = time.time()
    # seed 0: another host, beating: alive.  seed 1: another host, silent for long: dead.
    # seed 2: this host, a pid that does not exist: dead.
    _claim_as(path, cells[0].key(), host="elsewhere", pid=123, heartbeat=now)
    _claim_as(path, cells[1].key(), host="elsewhere", pid=123, heartbeat=now - 3600)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _claim_as(path, cells[2].key(), host=host_id(), pid=dead.pid, heartbeat=now)

    def the_other_sweep_finishes():
        time.sleep(0.5)
        with Store(path) as s:
            s.put_result(cells[0], {"seed": 0, "by": "other"}, 0.1, owner="elsewhere:123:x")

    CALLS.clear()
    thread = threading.Thread(target=the_other_sweep_finishes)
    thread.start()
    try:
        result = run_sweep(cells, path, executor="inline", quiet=True, cell_fn=_recording_cell)
    finally:
        thread.join()
    assert sorted(CALLS) == [1, 2, 3]  # seed 0 was left to its live owner
    assert (result.done, result.skipped, result.elsewhere, result.failed) == (3, 0, 1, [])
    assert "1 done by another sweep of this store" in result.summary()
    with Store(path, readonly=True) as s:
        assert s.counts()["done"] == 4 and s.claims() == []
        assert dict((c.seed, r) for c, r in s.results())[0]["by"] == "other"


def test_a_cell_that_failed_in_the_other_sweep_is_reported_not_rerun(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_module, "WAIT_POLL_S", 0.05)
    path = tmp_path / "s.sqlite"
    cells = Grid(ns=[10], seeds=2).cells()
    Store(path).close()
    _claim_as(path, cells[0].key(), host="elsewhere", pid=5, heartbeat=time.time())

    def fail_it():
        time.sleep(0.3)
        with Store(path) as s:
            s.put_failure(cells[0], "ValueError: over there", 0.1, owner="elsewhere:5:x")

    CALLS.clear()
    thread = threading.Thread(target=fail_it)
    thread.start()
    try:
        result = run_sweep(cells, path, executor="inline", quiet=True, cell_fn=_recording_cell)
    finally:
        thread.join()
    assert CALLS == [1]
    assert result.done == 1 and [(c.seed, e) for c, e in result.failed] == [
        (0, "ValueError: over there")]


def _slow_cell(cell):
    time.sleep(0.1)
    return {"seed": cell.seed}


def test_a_failing_heartbeat_is_said_once_on_stderr(tmp_path, monkeypatch, capsys):
    # the heartbeat swallowed every sqlite error: the claims went stale without a word while
    # the cells still ran.  Now the first failure is one warning naming the store and error.
    monkeypatch.setattr(heartbeat_module, "HEARTBEAT_S", 0.01)
    beats = []

    def locked(path, *args, **kwargs):
        beats.append(path)
        raise sqlite3.OperationalError("database is locked")

    # the heartbeat module's own sqlite3 (its connections); the store keeps the real one
    monkeypatch.setattr(heartbeat_module, "sqlite3", types.SimpleNamespace(
        connect=locked, Error=sqlite3.Error))
    path = tmp_path / "s.sqlite"
    result = run_sweep(Grid(ns=[10], seeds=4).cells(), path, executor="inline", quiet=True,
                       cell_fn=_slow_cell)
    assert result.done == 4 and len(beats) >= 2   # the sweep went on; the beats kept trying
    warnings = [line for line in capsys.readouterr().err.splitlines() if "heartbeat" in line
                or "renew" in line]
    assert len(warnings) == 1, warnings
    assert str(path.resolve()) in warnings[0]
    assert "OperationalError: database is locked" in warnings[0]


def _group_alive(pgid):
    """Processes of this process group that still run (zombies do not count)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            alive.append(int(entry.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_sigkill_of_a_process_sweep_leaves_no_worker_or_tracker(tmp_path):
    store, log = tmp_path / "s.sqlite", tmp_path / "computed.log"
    env = {**os.environ, "TWOSTEP_TEST_LOG": str(log), "TWOSTEP_TEST_RUN": "x"}
    proc = subprocess.Popen(_driver(store, seeds=40), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while sum(_computations(log).values()) < 2:  # the workers are up and computing
            assert proc.poll() is None, "the sweep ended before the kill"
            assert time.monotonic() < deadline, "no cell computed within 60 s"
            time.sleep(0.05)
        assert len(_group_alive(proc.pid)) >= 3  # the sweep, its workers, the tracker
        os.kill(proc.pid, signal.SIGKILL)  # the sweep only, as `kill -9 PID` does
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _group_alive(proc.pid) == []
    finally:
        for pid in _group_alive(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_worker_watchdog_exits_when_the_parent_changes(monkeypatch):
    # The fallback where PR_SET_PDEATHSIG is missing: the watchdog sees a new parent.
    exits = []
    monkeypatch.setattr(worker_module, "WATCHDOG_S", 0.01)
    monkeypatch.setattr(sys, "platform", "darwin")  # no prctl
    parents = iter([os.getppid(), os.getppid()] + [1] * 1000)
    monkeypatch.setattr(worker_module.os, "getppid", lambda: next(parents))
    monkeypatch.setattr(worker_module.os, "_exit", lambda code: exits.append(code))
    worker_module._die_with_parent()
    deadline = time.monotonic() + 5
    while not exits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert exits and exits[0] == 1
