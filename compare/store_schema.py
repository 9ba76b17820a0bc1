"""The layout of a twostep store file: its identifiers and the SQL of its tables.

Schema version 1: ``PRAGMA application_id`` = :data:`APPLICATION_ID`, a ``meta`` table
(``format`` = :data:`FORMAT`, ``schema_version``) and a ``cells`` table, one row per cell
key, status ``'done'`` or ``'failed'``.  The ``claims`` table (the leases of the cells
being computed right now, :mod:`.store_leases`) is added on a store's first writable open;
older readers ignore it.
"""

from __future__ import annotations

#: ``PRAGMA application_id`` of a twostep store: the bytes "TWST".
APPLICATION_ID = 0x54575354
FORMAT = "twostep-store"
SCHEMA_VERSION = 1

#: The first 16 bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE cells (
    key        TEXT PRIMARY KEY,
    config     TEXT NOT NULL,
    config_key TEXT NOT NULL,
    N          INTEGER NOT NULL,
    seed       INTEGER NOT NULL,
    options    TEXT NOT NULL,
    version    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    result     TEXT,
    error      TEXT,
    attempts   INTEGER NOT NULL DEFAULT 1,
    started    REAL,
    finished   REAL NOT NULL,
    elapsed    REAL,
    host       TEXT,
    pid        INTEGER
);
CREATE INDEX cells_by_config ON cells (config_key, N, seed);
CREATE INDEX cells_by_status ON cells (version, status);
"""

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key       TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    claimed   REAL NOT NULL,
    heartbeat REAL NOT NULL
)
"""

#: A cell row written by :meth:`Store.put_result` / :meth:`Store.put_failure`.  A done row is
#: final ("done wins"); a failed row is replaced by the next attempt, whichever way it ends.
UPSERT_CELL = """
    INSERT INTO cells (key, config, config_key, N, seed, options, version, status,
                       result, error, attempts, started, finished, elapsed, host, pid)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET
        status = excluded.status, result = excluded.result, error = excluded.error,
        attempts = cells.attempts + 1, started = excluded.started,
        finished = excluded.finished, elapsed = excluded.elapsed,
        host = excluded.host, pid = excluded.pid
    WHERE {guard}"""

#: The guard of :data:`UPSERT_CELL` by the status written.
UPSERT_GUARD = {"done": "cells.status != 'done'", "failed": "cells.status = 'failed'"}
