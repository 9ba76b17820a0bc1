"""The result store: one SQLite file holding every finished simulation cell.

A *cell* is one simulation (:mod:`.cell`): a :class:`ModelConfig`, a width ``N``, a seed
and the run options of ``twostep.simulate.run`` (docs/claims.md: every claim is checked on
measurements at several N with several seeds).  Its key is

    sha256(canonical JSON of {config, N, seed, options, version})

with ``version`` the installed twostep version, so a result is never reused
by a different release and a finished cell is never recomputed by the same one.

Layout (:mod:`.store_schema`, schema version 1): ``PRAGMA application_id`` =
:data:`APPLICATION_ID`, a ``meta`` table (``format = "twostep-store"``, ``schema_version``)
and a ``cells`` table, one row per key, status ``'done'`` or ``'failed'``.  The file is in
WAL mode and every finished cell is committed in its own transaction, so a sweep killed at
any moment leaves a consistent store and loses only the cells that were still running.

A ``claims`` table (added to a store on its first writable open; older readers ignore it)
holds the leases of the cells a sweep is computing right now (:mod:`.store_leases`): cell
key, owner (host, pid and a random id: the lease's token), heartbeat.  A second sweep on
the same store leaves leased cells to their owner and takes over a lease whose owner died
(its process on this host is gone, or, on another host, its heartbeat stopped).  A cell is
written with its owner's lease only while the lease is still held (compare-and-set in the
writing transaction): a sweep whose cell was taken over gets :class:`LeaseLost`.

A store is a plain file path (:mod:`.store_paths`): SQLite URIs (``file:...``) and
``:memory:`` are refused, and the file is always opened by its absolute path.  A file that
is not SQLite, is corrupt, or is SQLite but not a twostep store is refused with a one-line
:class:`ConfigError` and never modified.  A read-only open creates no files beside the
store (``immutable=1`` when no sweep is writing it).  Queries: :mod:`.store_query`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from twostep.simulate.measurement import package_version
from twostep.theory import html
from twostep.theory.errors import ConfigError

from . import store_leases, store_query
from .cell import RUN_DEFAULTS, Cell, normalise_options, result_json
from .store_leases import Claimed, LeaseLost, host_id, owner_alive, pid_alive
from .store_paths import check_store_name, check_store_path, nobody_writing, read_only_uri
from .store_schema import (
    APPLICATION_ID,
    FORMAT,
    SCHEMA_VERSION,
    UPSERT_CELL,
    UPSERT_GUARD,
    write_new_store,
)
from .store_schema import CLAIMS_SCHEMA as _CLAIMS_SCHEMA

__all__ = ["APPLICATION_ID", "FORMAT", "RUN_DEFAULTS", "SCHEMA_VERSION", "Cell", "Claimed",
           "LeaseLost", "SharedStore", "Store", "check_store_name", "check_store_path", "host_id",
           "normalise_options", "owner_alive", "package_version", "pid_alive", "result_json"]

#: "this store's version" as a default that None (all versions) cannot mean.
_OWN = object()


def _worker_id() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


class Store:
    """The SQLite result store (module docstring).  Use as a context manager.

    ``Store(path)`` creates a missing file (written whole, :func:`.store_schema.write_new_store`)
    and opens an existing twostep store;
    ``readonly=True`` never creates or writes.  ``version`` (default: the
    installed twostep version) is the version recorded with, and hashed into,
    the cells this store writes and reads by default.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False,
                 version: str | None = None) -> None:
        self.path = check_store_name(path)
        self.readonly = readonly
        self.version = package_version() if version is None else version
        self._conn = None  # type: ignore[assignment]
        exists = check_store_path(self.path, readonly=readonly)
        if readonly:
            # No sweep writing (no -wal): immutable, which creates no -wal/-shm
            # beside the store and works in a read-only folder.  A live sweep:
            # an ordinary read-only connection that sees its commits.
            uri = read_only_uri(self.path, immutable=nobody_writing(self.path))
            self._conn = sqlite3.connect(uri, uri=True)
            self._conn.execute("PRAGMA busy_timeout = 60000")
            return
        if not exists and not write_new_store(self.path.resolve(), self.version):
            check_store_path(self.path)  # another sweep made it first: it must be a store
        # The absolute path, never the user's text: SQLite reads a name that
        # starts with "file:" as a URI.
        self._conn = sqlite3.connect(str(self.path.resolve()), isolation_level=None,
                                     timeout=60.0)
        try:
            self._conn.execute("PRAGMA busy_timeout = 60000")
            # WAL + synchronous=NORMAL: a commit survives the process being killed
            # (only a power cut may lose the last few cells).
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(_CLAIMS_SCHEMA)
        except BaseException:  # Ctrl-C, a full disk: close now, so no -wal/-shm stay behind
            self.close()
            raise

    # -- context manager -----------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, version={self.version!r})"

    def _repr_html_(self) -> str:
        counts = ("closed" if self._conn is None
                  else ", ".join(f"{n} {k}" for k, n in self.counts().items()))
        return html.block("Store", html.fields({"path": self.path, "version": self.version,
                                                "cells of this version": counts}))

    # -- writing ---------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _write(self, cell: Cell, status: str, result: str | None, error: str | None,
               elapsed: float | None, started: float | None,
               worker: tuple[str, int] | None, owner: str | None = None) -> bool:
        if self.readonly:
            raise ConfigError(f"store {self.path} was opened read-only")
        host, pid = worker if worker is not None else _worker_id()
        key = cell.key(self.version)
        params = (key, cell.config.to_json(), cell.config.key(), cell.N, cell.seed,
                  json.dumps(cell.options, sort_keys=True), self.version, status, result,
                  error, started, time.time(), elapsed, host, pid)
        with self._transaction():
            if owner is not None:  # the lease ends with the write, or nothing is written
                store_leases.end(self._conn, key, owner)
            written = self._conn.execute(UPSERT_CELL.format(guard=UPSERT_GUARD[status]),
                                         params).rowcount
        return written > 0

    def set_meta(self, name: str, value: str) -> None:
        """Record a named text value (e.g. the plan of a ``twostep verify`` run)."""
        if self.readonly:
            raise ConfigError(f"store {self.path} was opened read-only")
        if name in ("format", "schema_version"):
            raise ConfigError(f"meta entry {name!r} is reserved")
        with self._transaction():
            self._conn.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
                               "DO UPDATE SET value = excluded.value", (name, value))

    def get_meta(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def put_result(self, cell: Cell, result: Mapping[str, Any] | str, elapsed: float | None,
                   *, started: float | None = None,
                   worker: tuple[str, int] | None = None, owner: str | None = None) -> bool:
        """Commit a finished cell (its own transaction).  False if it was already done.

        ``result`` is a dict of JSON types (or its JSON text); a NaN or Inf in
        it raises :class:`NonFiniteError` naming its place, and nothing is written.
        ``owner``: the sweep's lease on the cell ends in the same transaction; if another
        sweep took the cell over, nothing is written and :class:`LeaseLost` is raised.
        """
        return self._write(cell, "done", result_json(result), None, elapsed, started, worker,
                           owner)

    def put_failure(self, cell: Cell, error: str, elapsed: float | None, *,
                    started: float | None = None,
                    worker: tuple[str, int] | None = None, owner: str | None = None) -> bool:
        """Record a failed attempt; never overwrites a done cell (returns False then).
        ``owner``: as for :meth:`put_result`."""
        return self._write(cell, "failed", None, str(error), elapsed, started, worker, owner)

    # -- claims (module docstring) --------------------------------------------
    def claim(self, keys: Iterable[str], owner: str, *, stale_after: float,
              failed_since: float | None = None) -> Claimed:
        """Claim for ``owner`` every key that is neither done nor claimed by a live owner.

        One ``BEGIN IMMEDIATE`` transaction, so two sweeps never both get a
        cell.  A claim whose owner died is taken over: on this host, its process is
        gone (a live process keeps its claims, however old its heartbeat); on another
        host, its heartbeat is older than ``stale_after`` seconds
        (:func:`~.store_leases.owner_alive`).  With
        ``failed_since``, a cell that failed at or after that time (another
        sweep tried it while this one waited) is reported, not claimed.
        """
        if self.readonly:
            raise ConfigError(f"store {self.path} was opened read-only")
        with self._transaction():
            return store_leases.claim(self._conn, keys, owner, stale_after=stale_after,
                                      failed_since=failed_since)

    def release(self, owner: str) -> None:
        """End every claim of ``owner`` (a sweep that stops, done or not)."""
        if self._conn is None or self.readonly:
            return
        with self._transaction():
            store_leases.release(self._conn, owner)

    def claims(self) -> list[dict[str, Any]]:
        """The claims table (cells being computed right now), oldest first."""
        try:
            cur = self._conn.execute("SELECT * FROM claims ORDER BY claimed, key")
        except sqlite3.OperationalError:  # a store no sweep has opened since claims came
            return []
        return [dict(zip([d[0] for d in cur.description], row)) for row in cur]

    def versions(self) -> dict[str, int]:
        """``{version: number of done cells}`` over every twostep version in the store."""
        return dict(self._conn.execute(
            "SELECT version, count(*) FROM cells WHERE status = 'done' GROUP BY version "
            "ORDER BY version").fetchall())

    # -- reading ---------------------------------------------------------------
    def done_keys(self) -> set[str]:
        """Keys of the cells already done (for any version: keys include it)."""
        return {r[0] for r in self._conn.execute("SELECT key FROM cells WHERE status = 'done'")}

    def has(self, key: str) -> bool:
        """Whether the cell with this key is done."""
        row = self._conn.execute(
            "SELECT 1 FROM cells WHERE key = ? AND status = 'done'", (key,)).fetchone()
        return row is not None

    def status(self, key: str) -> str | None:
        """``'done'``, ``'failed'`` or None (never attempted)."""
        row = self._conn.execute("SELECT status FROM cells WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def record(self, key: str) -> dict[str, Any] | None:
        """The whole row of one cell (bookkeeping columns included), or None."""
        cur = self._conn.execute("SELECT * FROM cells WHERE key = ?", (key,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row))

    def counts(self, version: Any = _OWN) -> dict[str, int]:
        """``{"done": n, "failed": m}`` for ``version`` (default: this store's; None: all)."""
        version = self.version if version is _OWN else version
        sql = "SELECT status, count(*) FROM cells"
        params: tuple[Any, ...] = ()
        if version is not None:
            sql += " WHERE version = ?"
            params = (version,)
        out = {"done": 0, "failed": 0}
        out.update(dict(self._conn.execute(sql + " GROUP BY status", params).fetchall()))
        return out

    def _rows(self, status: str, filters: dict[str, Any]) -> Iterator[tuple[Cell, str]]:
        version = filters.pop("version", self.version)
        return store_query.rows(self._conn, status, version, filters)

    def results(self, **filters: Any) -> Iterator[tuple[Cell, dict[str, Any]]]:
        """Done cells and their result dicts, ordered by N, config, seed.

        Filters: ``N``, ``seed``, any ModelConfig field or run option, each a
        value or a collection of values; ``version=`` (default this store's,
        None for all versions).
        """
        for cell, text in self._rows("done", filters):
            yield cell, json.loads(text)

    def to_frame(self, **filters: Any):
        """The done cells' per-seed measurements as a long pandas DataFrame: one row per
        (cell, config fields, N, seed, observable, k, value) (:mod:`.export`; columns:
        ``export.STORE_COLUMNS``).  Filters: those of :meth:`results`, ``version`` default
        every version.  Needs pandas (``pip install 'twostep[export]'``)."""
        from ..output.export import store_frame

        return store_frame(self, **filters)

    def failed(self, **filters: Any) -> list[tuple[Cell, str]]:
        """Failed cells (same filters as :meth:`results`) and their error text."""
        return list(self._rows("failed", filters))


class SharedStore:
    """One :class:`Store` for a whole run (``twostep verify``: the pilot, the sweep, the
    plan's evaluation and the report read and write the same object), opened on first need and
    closed with this object.  Use as a context manager.

    :meth:`get` opens the store (creating a missing file) the first time and returns the same
    :class:`Store` after: a sweep calls it only once its executor is up, so a dask scheduler
    that cannot be reached leaves no file.  :meth:`existing` is the store when its file is
    there already (opened then), else None.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = check_store_name(path)
        self._store: Store | None = None
        self.opened = 0  #: how many times a Store was opened (one, or none)

    def get(self) -> Store:
        if self._store is None:
            self._store = Store(self.path)
            self.opened += 1
        return self._store

    def existing(self) -> Store | None:
        if self._store is None and check_store_path(self.path):
            return self.get()
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> SharedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SharedStore({str(self.path)!r}, open={self._store is not None})"


def shared(store: SharedStore | str | os.PathLike[str], stack: contextlib.ExitStack
           ) -> SharedStore:
    """``store`` itself, or a :class:`SharedStore` of the path closed with ``stack``."""
    return store if isinstance(store, SharedStore) else stack.enter_context(SharedStore(store))
