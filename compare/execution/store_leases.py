"""Leases: which sweep computes which cell right now, and who may take a cell over.

The ``claims`` table of a store holds one lease per cell being computed: cell key, owner,
host, pid, when it was claimed and its last heartbeat.  The owner is
``"<host id>:<pid>:<random hex>"``, new for every sweep: it is the lease's token.

- :func:`claim` takes, in one ``BEGIN IMMEDIATE`` transaction, every key that is neither
  done nor held by a live owner, so two sweeps never both get a cell.
- A lease's owner is alive (:func:`owner_alive`) when it runs on this host (same PID
  namespace) and its process is provably there (``os.kill(pid, 0)``, and on Linux a
  process that started before the lease, not a later one reusing the pid), however old
  its heartbeat: its heartbeat thread may have died or the machine been suspended.  An
  owner on another host (or where processes cannot be probed) is alive while its heartbeat
  is younger than the ``stale_after`` seconds; after that its cells are taken over.
- :func:`end` (run by the store in the transaction that writes a cell) is the
  compare-and-set: the write goes through only while the writer still holds the lease.  A
  sweep whose lease was taken over gets :class:`LeaseLost` and drops its result, so two
  sweeps never both write a cell.
"""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from twostep.theory.errors import TwostepError

#: Seconds a process may seem to have started after the lease it holds was claimed (the
#: boot time of /proc/stat has a one-second grain; clocks step): beyond, its pid was reused.
PID_REUSE_SLACK_S = 5.0


class LeaseLost(TwostepError):
    """A cell's lease is no longer held by the writer: another sweep took the cell over."""


@dataclass
class Claimed:
    """What :meth:`Store.claim` found: keys claimed now, done, held by a live owner, failed."""

    mine: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    held: dict[str, tuple[str, int]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)


@functools.lru_cache(maxsize=1)
def host_id() -> str:
    """This host as a claim sees it: the host name and, on Linux, the PID namespace.

    Two containers with the same host name do not see each other's processes:
    the namespace keeps one from taking a live claim of the other for dead.
    """
    name = socket.gethostname()
    try:
        return f"{name}/pidns:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie counts as gone)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no safe probe (os.kill(pid, 0) terminates on Windows): heartbeat only
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, someone else's
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (Unix time, Linux /proc), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/stat") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def owner_alive(host: str, pid: int, heartbeat: float, *, now: float,
                stale_after: float, claimed: float | None = None) -> bool:
    """Whether a claim's owner may still be computing its cell (module docstring).

    On this host, where processes can be probed, the process decides: gone, or a process
    that started after the lease was ``claimed`` (its pid reused), is dead; running is alive
    whatever its heartbeat.  Elsewhere: alive while the heartbeat is at most
    ``stale_after`` seconds old.
    """
    if host == host_id() and os.name == "posix":
        if not pid_alive(pid):
            return False
        started = None if claimed is None else process_started(pid)
        return started is None or started <= claimed + PID_REUSE_SLACK_S
    return now - heartbeat <= stale_after


def claim(conn: sqlite3.Connection, keys: Iterable[str], owner: str, *, stale_after: float,
          failed_since: float | None = None) -> Claimed:
    """:meth:`Store.claim` on an open connection, inside the caller's transaction."""
    out = Claimed()
    now, host, pid = time.time(), host_id(), os.getpid()
    for key in keys:
        row = conn.execute("SELECT status, finished FROM cells WHERE key = ?",
                           (key,)).fetchone()
        if row is not None and row[0] == "done":
            out.done.add(key)
            continue
        held = conn.execute("SELECT owner, host, pid, heartbeat, claimed FROM claims "
                            "WHERE key = ?", (key,)).fetchone()
        if held is not None and held[0] != owner and owner_alive(
                held[1], held[2], held[3], now=now, stale_after=stale_after, claimed=held[4]):
            out.held[key] = (held[1], held[2])
            continue
        if (row is not None and failed_since is not None and held is None
                and row[1] >= failed_since):
            out.failed.add(key)
            continue
        conn.execute(
            "INSERT INTO claims (key, owner, host, pid, claimed, heartbeat) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
            "claimed = excluded.claimed, heartbeat = excluded.heartbeat",
            (key, owner, host, pid, now, now))
        out.mine.add(key)
    return out


def end(conn: sqlite3.Connection, key: str, owner: str) -> None:
    """End ``owner``'s lease on ``key`` inside the transaction writing the cell; raise
    :class:`LeaseLost` (the caller's transaction then rolls back) if it holds none."""
    ended = conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?",
                         (key, owner)).rowcount
    if not ended:
        raise LeaseLost(f"the lease on cell {key[:12]} is no longer held by this sweep "
                        f"(another sweep of the store took the cell over)")


def release(conn: sqlite3.Connection, owner: str) -> None:
    """End every lease of ``owner`` (inside the caller's transaction)."""
    conn.execute("DELETE FROM claims WHERE owner = ?", (owner,))

