"""The result store: one SQLite file holding every finished simulation cell.

A *cell* is one simulation: a :class:`ModelConfig`, a width ``N``, a seed and
the run options of ``twostep.simulate.run`` (docs/claims.md: every claim
is checked on measurements at several N with several seeds).  Its key is

    sha256(canonical JSON of {config, N, seed, options, version})

with ``version`` the installed twostep version, so a result is never reused
by a different release and a finished cell is never recomputed by the same one.

Layout (schema version 1): ``PRAGMA application_id`` = :data:`APPLICATION_ID`,
a ``meta`` table (``format = "twostep-store"``, ``schema_version``) and a
``cells`` table, one row per key, status ``'done'`` or ``'failed'``.  The file
is in WAL mode and every finished cell is committed in its own transaction, so
a sweep killed at any moment leaves a consistent store and loses only the cells
that were still running.

A ``claims`` table (added to a store on its first writable open; older
readers ignore it) records the cells a sweep is computing right now: cell key,
owner (host, pid and a random id), heartbeat.  A second sweep on the same store
leaves claimed cells to their owner and takes over a claim whose owner died
(its heartbeat stopped, or it ran on this host and its process is gone).

A store is a plain file path: SQLite URIs (``file:...``) and ``:memory:`` are
refused, and the file is always opened by its absolute path.  A file that is
not SQLite, is corrupt, or is SQLite but not a twostep store is refused with a
one-line :class:`ConfigError` and never modified.  A read-only open creates no
files beside the store (``immutable=1`` when no sweep is writing it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twostep.simulate.measurement import package_version
from twostep.simulate.options import (
    DEFAULT_KEY,
    EXECUTION_ONLY,
    KEYED_IF_SET,
    RunOptions,
    check_integer,
)
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError, NonFiniteError

from .paths import check_writable_folder, parent_of

#: ``PRAGMA application_id`` of a twostep store: the bytes "TWST".
APPLICATION_ID = 0x54575354
FORMAT = "twostep-store"
SCHEMA_VERSION = 1

_SQLITE_MAGIC = b"SQLite format 3\x00"

#: Options of ``twostep.simulate.run`` in the store key, at their defaults: the key form of
#: :class:`twostep.simulate.options.RunOptions` (one place for defaults and validation).
#: A cell's options are completed with these before hashing, so ``{}`` and the explicit
#: defaults name the same cell.
RUN_DEFAULTS: dict[str, Any] = dict(DEFAULT_KEY)
#: Run options a stored row may omit (their defaults are not written into keys).
_OPTIONAL_OPTIONS = {name: getattr(RunOptions(), name) for name in KEYED_IF_SET}

_SCHEMA = """
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

_CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key       TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    claimed   REAL NOT NULL,
    heartbeat REAL NOT NULL
)
"""


def normalise_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run options completed with the defaults, validated, in key order: the store-key form
    of :class:`~twostep.simulate.options.RunOptions` (execution-only fields are refused)."""
    options = dict(options or {})
    execution = sorted(set(options) & set(EXECUTION_ONLY))
    if execution:
        keyed = [f for f in RunOptions.fields() if f not in EXECUTION_ONLY]
        raise ConfigError(f"run option(s) {', '.join(execution)} are not part of a cell; "
                          f"allowed: {', '.join(keyed)}")
    return RunOptions.from_mapping(options).key()


@dataclass(frozen=True)
class Cell:
    """One simulation: ``simulate.run(config, N, seed, **options)``.

    ``N >= 2`` and ``seed >= 0`` are integers; ``options`` are completed with
    :data:`RUN_DEFAULTS`.  :meth:`key` is the store key (module docstring).
    """

    config: ModelConfig
    N: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.config, ModelConfig):
            raise ConfigError(f"a cell needs a ModelConfig, got {type(self.config).__name__}")
        object.__setattr__(self, "N", check_integer("N", self.N, 2))
        object.__setattr__(self, "seed", check_integer("seed", self.seed, 0))
        object.__setattr__(self, "options", normalise_options(self.options))

    # A dict field is unhashable; the key identifies the cell.
    def __hash__(self) -> int:
        return hash(self.key())

    def key(self, version: str | None = None) -> str:
        """sha256 of ``{config, N, seed, options, version}`` (canonical JSON)."""
        payload = {
            "config": self.config.to_dict(),
            "N": self.N,
            "seed": self.seed,
            "options": self.options,
            "version": package_version() if version is None else version,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        """One line naming the cell, for progress and error lists."""
        c = self.config
        text = (f"{c.activation} -> {c.target}, alpha=({c.alpha1:g}, {c.alpha2:g}), "
                f"{c.batch}, N={self.N}, seed={self.seed}")
        changed = [f"{k}={v}" for k, v in self.options.items() if RUN_DEFAULTS.get(k) != v]
        return text + (f" [{', '.join(changed)}]" if changed else "")


def _non_finite_path(value: Any, path: str = "result") -> str | None:
    """Where the first NaN/Inf sits in a JSON-like value, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = _non_finite_path(v, f"{path}[{k!r}]")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _non_finite_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


def result_json(result: Any) -> str:
    """A cell's result as JSON text; NaN/Inf raise :class:`NonFiniteError` saying where."""
    if isinstance(result, str):
        result = json.loads(result)
    if not isinstance(result, Mapping):
        raise TypeError(f"a cell result must be a dict, got {type(result).__name__}")
    try:
        return json.dumps(result, sort_keys=True, allow_nan=False)
    except ValueError:
        where = _non_finite_path(result) or "result"
        raise NonFiniteError(f"non-finite value at {where}") from None


def _refuse(path: Path, why: str) -> ConfigError:
    return ConfigError(f"store {path}: {why}; refusing to use or modify it "
                       f"(give a new file name or a twostep store)")


def _read_only_uri(path: Path, *, immutable: bool = False) -> str:
    # Built here from the resolved path (as_uri percent-escapes '?', '#', '%'),
    # never from user text.  immutable=1: no locks and no -wal/-shm files are
    # created beside the file (a plain read-only open of a WAL-mode file makes them).
    return path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")


def _nobody_writing(path: Path) -> bool:
    """No -wal beside the store: no connection has it open in WAL mode right now."""
    return not Path(f"{path}-wal").exists()


def check_store_name(path: str | os.PathLike[str]) -> Path:
    """Refuse what is not a plain file path (SQLite URIs, ``:memory:``); one line."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        raise ConfigError("store: empty file name; give a file such as results.sqlite")
    if "\x00" in text:
        raise ConfigError("store: the file name contains a NUL character")
    if text == ":memory:" or text.lower().startswith(":memory"):
        raise ConfigError(f"store {text} is SQLite's in-memory database, which keeps nothing; a "
                          "store is a plain file path such as results.sqlite")
    if text.lower().startswith("file:"):
        raise ConfigError(f"store {text}: SQLite URIs are not accepted, a store is a plain file "
                          f"path (for a file whose name starts with 'file:', give its absolute "
                          f"path)")
    return Path(text)


def check_store_path(path: str | os.PathLike[str], *, readonly: bool = False) -> bool:
    """Check a store path without writing anything; True if the store exists.

    The path must be a plain file path (:func:`check_store_name`).  A missing
    file needs an existing, writable parent folder (``readonly``: it must
    exist).  An existing one must be an SQLite file whose header carries
    :data:`APPLICATION_ID`, pass ``PRAGMA quick_check`` and hold the twostep
    ``meta`` table; it is read through an immutable read-only connection,
    which creates no files.  An empty file is a new store (``readonly``: refused,
    it holds no results).
    """
    path = check_store_name(path)
    if path.is_dir():
        raise ConfigError(f"store {path} is a folder; give a file name such as results.sqlite")
    if not path.exists():
        if readonly:
            raise ConfigError(f"store {path} does not exist")
        check_writable_folder(parent_of(path), f"store {path}")
        return False
    if not path.is_file():
        raise ConfigError(f"store {path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"store {path} is not readable")
    if not readonly and not os.access(path, os.W_OK):
        raise ConfigError(f"store {path} is not writable")
    with open(path, "rb") as fh:
        header = fh.read(100)
    if header == b"":
        # An empty file (made by touch or mktemp, or a creation that never
        # committed) holds nothing to lose and becomes a new store.  A WAL
        # beside it is not ours: a store is created without one.
        if Path(f"{path}-wal").exists():
            raise _refuse(path, f"empty, with a write-ahead log {path}-wal beside it")
        if readonly:
            raise ConfigError(f"store {path} is an empty file (0 bytes), not a store with "
                              f"results yet; fill it with twostep sweep --store {path} or "
                              f"twostep verify --store {path}")
        return False
    elif not header.startswith(_SQLITE_MAGIC):
        raise _refuse(path, "not an SQLite database")
    elif len(header) < 100:
        raise _refuse(path, "corrupt (truncated SQLite header)")
    elif int.from_bytes(header[68:72], "big") != APPLICATION_ID:
        app_id = int.from_bytes(header[68:72], "big")
        raise _refuse(path, f"an SQLite database but not a twostep store "
                            f"(application_id {app_id:#010x}, expected {APPLICATION_ID:#010x})")
    _check_contents(path)
    return True


def _read_meta(path: Path, *, immutable: bool) -> dict[str, str]:
    """quick_check, then the meta table; ConfigError if either fails."""
    try:
        conn = sqlite3.connect(_read_only_uri(path, immutable=immutable), uri=True)
    except sqlite3.Error as err:
        raise _refuse(path, f"cannot be opened ({err})") from None
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            raise _refuse(path, f"corrupt (quick_check: {rows[0][0]})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "cells"} <= tables:
            raise _refuse(path, "an SQLite database but not a twostep store (no meta/cells)")
        return dict(conn.execute("SELECT name, value FROM meta").fetchall())
    except sqlite3.DatabaseError as err:
        raise _refuse(path, f"corrupt ({err})") from None
    finally:
        conn.close()


def _check_contents(path: Path) -> None:
    try:
        meta = _read_meta(path, immutable=True)
    except ConfigError:
        # An immutable read can trip over a checkpoint of a sweep writing
        # the store right now; a live store has its WAL beside it, and being
        # ours (application_id) it may be read the ordinary way.
        if not Path(f"{path}-wal").exists():
            raise
        meta = _read_meta(path, immutable=False)
    if meta.get("format") != FORMAT:
        raise _refuse(path, f"meta format is {meta.get('format')!r}, not {FORMAT!r}")
    schema = meta.get("schema_version")
    if schema != str(SCHEMA_VERSION):
        raise _refuse(path, f"schema version {schema}, this twostep reads {SCHEMA_VERSION}")


#: "this store's version" as a default that None (all versions) cannot mean.
_OWN = object()

_FLOAT_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.type in ("float", float))


def _worker_id() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


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


def owner_alive(host: str, pid: int, heartbeat: float, *, now: float,
                stale_after: float) -> bool:
    """Whether a claim's owner may still be computing its cell."""
    if now - heartbeat > stale_after:
        return False
    return pid_alive(pid) if host == host_id() else True


@dataclass
class Claimed:
    """What :meth:`Store.claim` found: keys claimed now, done, held by a live owner, failed."""

    mine: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    held: dict[str, tuple[str, int]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)


class Store:
    """The SQLite result store (module docstring).  Use as a context manager.

    ``Store(path)`` creates a missing file and opens an existing twostep store;
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
            uri = _read_only_uri(self.path, immutable=_nobody_writing(self.path))
            self._conn = sqlite3.connect(uri, uri=True)
            self._conn.execute("PRAGMA busy_timeout = 60000")
            return
        # The absolute path, never the user's text: SQLite reads a name that
        # starts with "file:" as a URI.
        self._conn = sqlite3.connect(str(self.path.resolve()), isolation_level=None,
                                     timeout=60.0)
        try:
            self._conn.execute("PRAGMA busy_timeout = 60000")
            if not exists:
                # Created in rollback-journal mode: the schema lands in the main
                # file atomically, so the file is recognisable as a twostep store
                # (application_id in its header) from its first commit on.
                self._create()
            # WAL + synchronous=NORMAL: a commit survives the process being killed
            # (only a power cut may lose the last few cells).
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(_CLAIMS_SCHEMA)
        except BaseException:  # Ctrl-C, a full disk: close now, so no -wal/-shm stay behind
            self.close()
            raise

    def _create(self) -> None:
        with self._transaction():
            if self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                created = True  # another process created it since our check
            else:
                created = False
                self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                     ("created", repr(time.time())), ("created_by", f"twostep {self.version}")])
        if created:
            try:
                check_store_path(self.path)  # whoever made it, it must be a twostep store
            except ConfigError:
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
        # A done row is final ("done wins"); a failed row is replaced by the
        # next attempt, whichever way it ends.
        guard = "cells.status != 'done'" if status == "done" else "cells.status = 'failed'"
        sql = f"""
            INSERT INTO cells (key, config, config_key, N, seed, options, version, status,
                               result, error, attempts, started, finished, elapsed, host, pid)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET
                status = excluded.status, result = excluded.result, error = excluded.error,
                attempts = cells.attempts + 1, started = excluded.started,
                finished = excluded.finished, elapsed = excluded.elapsed,
                host = excluded.host, pid = excluded.pid
            WHERE {guard}"""
        params = (cell.key(self.version), cell.config.to_json(), cell.config.key(), cell.N,
                  cell.seed, json.dumps(cell.options, sort_keys=True), self.version, status,
                  result, error, started, time.time(), elapsed, host, pid)
        with self._transaction():
            written = self._conn.execute(sql, params).rowcount
            if owner is not None:  # the result and the end of the claim commit together
                self._conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?",
                                   (params[0], owner))
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
        ``owner``: the sweep's claim on the cell ends in the same transaction.
        """
        return self._write(cell, "done", result_json(result), None, elapsed, started, worker,
                           owner)

    def put_failure(self, cell: Cell, error: str, elapsed: float | None, *,
                    started: float | None = None,
                    worker: tuple[str, int] | None = None, owner: str | None = None) -> bool:
        """Record a failed attempt; never overwrites a done cell (returns False then)."""
        return self._write(cell, "failed", None, str(error), elapsed, started, worker, owner)

    # -- claims (module docstring) --------------------------------------------
    def claim(self, keys: Iterable[str], owner: str, *, stale_after: float,
              failed_since: float | None = None) -> Claimed:
        """Claim for ``owner`` every key that is neither done nor claimed by a live owner.

        One ``BEGIN IMMEDIATE`` transaction, so two sweeps never both get a
        cell.  A claim whose owner died (heartbeat older than ``stale_after``
        seconds, or this host and its process is gone) is taken over.  With
        ``failed_since``, a cell that failed at or after that time (another
        sweep tried it while this one waited) is reported, not claimed.
        """
        if self.readonly:
            raise ConfigError(f"store {self.path} was opened read-only")
        out = Claimed()
        now, host, pid = time.time(), host_id(), os.getpid()
        with self._transaction():
            for key in keys:
                row = self._conn.execute("SELECT status, finished FROM cells WHERE key = ?",
                                         (key,)).fetchone()
                if row is not None and row[0] == "done":
                    out.done.add(key)
                    continue
                held = self._conn.execute(
                    "SELECT owner, host, pid, heartbeat FROM claims WHERE key = ?",
                    (key,)).fetchone()
                if held is not None and held[0] != owner and owner_alive(
                        held[1], held[2], held[3], now=now, stale_after=stale_after):
                    out.held[key] = (held[1], held[2])
                    continue
                if (row is not None and failed_since is not None and held is None
                        and row[1] >= failed_since):
                    out.failed.add(key)
                    continue
                self._conn.execute(
                    "INSERT INTO claims (key, owner, host, pid, claimed, heartbeat) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
                    "claimed = excluded.claimed, heartbeat = excluded.heartbeat",
                    (key, owner, host, pid, now, now))
                out.mine.add(key)
        return out

    def release(self, owner: str) -> None:
        """End every claim of ``owner`` (a sweep that stops, done or not)."""
        if self._conn is None or self.readonly:
            return
        with self._transaction():
            self._conn.execute("DELETE FROM claims WHERE owner = ?", (owner,))

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
        allowed = ("N", "seed", "version", *ModelConfig.fields(), *RUN_DEFAULTS,
                   *(k for k in _OPTIONAL_OPTIONS if k != "spectra"))
        unknown = sorted(set(filters) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown filter(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(allowed)}")
        sql = "SELECT config, N, seed, options, {} FROM cells WHERE status = ?"
        params: list[Any] = [status]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        # Every filter is a condition of the query: N and seed are columns, config fields and
        # run options are read from the stored JSON with json_extract (booleans are 0/1 there).
        exact: dict[str, list[float]] = {}
        for name, value in filters.items():
            values = _filter_values(name, value)
            if name in ("N", "seed"):
                column = name
            elif name in _OPTIONAL_OPTIONS:
                column = f"coalesce(json_extract(options, '$.{name}'), ?)"
                params.append(_OPTIONAL_OPTIONS[name])
            elif name in RUN_DEFAULTS:
                column = f"json_extract(options, '$.{name}')"
            elif name in _FLOAT_FIELDS:
                # SQL narrows with a relative 1e-12 (a JSON number parsed by SQLite need not
                # be the double Python parsed); the exact comparison is made below
                column = f"json_extract(config, '$.{name}')"
                sql += " AND (" + " OR ".join(
                    f"abs({column} - ?) <= 1e-12 * max(1.0, abs(?))" for _ in values) + ")"
                params.extend(x for v in values for x in (v, v))
                exact[name] = values
                continue
            else:
                column = f"json_extract(config, '$.{name}')"
            sql += f" AND {column} IN ({', '.join('?' * len(values))})"
            params.extend(int(v) if isinstance(v, bool) else v for v in values)
        column = "result" if status == "done" else "error"
        sql = sql.format(column) + " ORDER BY N, config_key, seed, key"
        for config_text, N, seed, options_text, payload in self._conn.execute(sql, params):
            config = _config_from_json(config_text)
            if all(getattr(config, name) in values for name, values in exact.items()):
                yield Cell(config, N, seed, json.loads(options_text)), payload

    def results(self, **filters: Any) -> Iterator[tuple[Cell, dict[str, Any]]]:
        """Done cells and their result dicts, ordered by N, config, seed.

        Filters: ``N``, ``seed``, any ModelConfig field or run option, each a
        value or a collection of values; ``version=`` (default this store's,
        None for all versions).
        """
        for cell, text in self._rows("done", filters):
            yield cell, json.loads(text)

    def failed(self, **filters: Any) -> list[tuple[Cell, str]]:
        """Failed cells (same filters as :meth:`results`) and their error text."""
        return list(self._rows("failed", filters))


def _filter_values(name: str, value: Any) -> list[Any]:
    from twostep.theory.functions import parse_function

    values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    out = []
    for v in values:
        if name in ("activation", "target"):
            out.append(parse_function(str(v)).text)
        elif name in ("N", "seed"):
            out.append(int(v))
        elif name in _FLOAT_FIELDS:
            out.append(float(v))
        else:
            out.append(v)
    return out


@functools.lru_cache(maxsize=1024)
def _config_from_json(text: str) -> ModelConfig:
    # Parsing a config re-parses its sympy functions: cache by the stored text.
    return ModelConfig.from_json(text)
