"""A sweep's leases on its cells, kept alive by a heartbeat thread and released at the end.

The heartbeat runs in a thread of the sweep's own process (a connection per beat), so one
sweep stays one writer.  A sweep killed with SIGKILL stops beating: on this host its leases
are taken over as soon as its process is gone, on another host once the heartbeat is
:data:`STALE_AFTER_S` old (:mod:`.store_leases`).  A failed beat is retried at the next one;
the first failure is said once on stderr.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
import uuid

from .store import Store
from .store_leases import host_id

#: Seconds between two heartbeats of a sweep's claims, and the age after which a
#: claim whose owner cannot be probed (another host) is taken for dead.
HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0


class _Claims:
    """This sweep's claims on its cells: a heartbeat thread, and their release at the end.

    ``owner`` is the sweep's lease token (host, pid and a random id): the store writes a
    cell with it only while the lease is still this sweep's.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.owner = f"{host_id()}:{os.getpid()}:{uuid.uuid4().hex}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="twostep-claims", daemon=True)

    def __enter__(self) -> _Claims:
        self._thread.start()
        return self

    def _beat(self) -> None:
        # A failed beat is retried at the next one; the first failure is said on stderr (once
        # per sweep): while the beats fail, the claims age, and after STALE_AFTER_S a sweep of
        # this store on another host may take over cells this one is still computing.
        path = str(self.store.path.resolve())
        told = False
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._renew(path)
            except sqlite3.Error as err:
                if not told:
                    told = True
                    print(f"twostep sweep: warning: cannot renew this sweep's claims in the "
                          f"store {path} ({type(err).__name__}: {err}); retrying every "
                          f"{HEARTBEAT_S:g} s, but if it keeps failing a sweep of this store on "
                          f"another machine may take over its cells after {STALE_AFTER_S:g} s",
                          file=sys.stderr, flush=True)

    def _renew(self, path: str) -> None:
        """One heartbeat: this sweep's claims stamped with the time now.  A connection per
        beat, closed at once: between beats the sweep holds only its store's own connection,
        so a sweep stopped at any moment (Ctrl-C, a second Ctrl-C cutting the join short)
        leaves no open connection and so no -wal/-shm behind."""
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?",
                         (time.time(), self.owner))
        finally:
            conn.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            self._thread.join(timeout=35.0)
        finally:  # even when a second Ctrl-C cuts the wait short
            with contextlib.suppress(sqlite3.Error):
                self.store.release(self.owner)
