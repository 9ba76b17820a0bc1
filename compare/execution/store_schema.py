"""The layout of a twostep store file: its identifiers and the SQL of its tables.

Schema version 1: ``PRAGMA application_id`` = :data:`APPLICATION_ID`, a ``meta`` table
(``format`` = :data:`FORMAT`, ``schema_version``) and a ``cells`` table, one row per cell
key, status ``'done'`` or ``'failed'``.  The ``claims`` table (the leases of the cells
being computed right now, :mod:`.store_leases`) is added on a store's first writable open;
older readers ignore it.

A new store is written whole (:func:`write_new_store`): built in a temporary file beside it
and linked into place, so a twostep store is never seen empty, and an empty file is never one
twostep made.
"""

from __future__ import annotations

import errno
import os
import secrets
import sqlite3
import time
from pathlib import Path

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


#: errno values of a file system without hard links (a new store is then renamed into place).
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


def write_new_store(path: Path, version: str) -> bool:
    """Create the store ``path`` holding the schema and its meta rows, whole: the file is
    built under a temporary name in the same folder and hard-linked into place, which is
    atomic and never replaces a file.  False when a file appeared at ``path`` meanwhile (a
    concurrent sweep made the store first; the caller checks what it is).  Where the file
    system has no hard links, a last look, then a rename."""
    temp = path.with_name(f".twostep-new-store-{secrets.token_hex(8)}")
    # O_EXCL: the temporary name is ours alone; 0o644 and the umask, as SQLite creates files
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    try:
        conn = sqlite3.connect(str(temp), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (name, value) VALUES (?, ?)",
                [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                 ("created", repr(time.time())), ("created_by", f"twostep {version}")])
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError as err:
            if err.errno not in _NO_LINKS:
                raise
            if os.path.lexists(path):
                return False
            os.rename(temp, path)
        return True
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
