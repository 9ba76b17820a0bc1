"""Which files may be used as a store, checked before anything is written.

A store is a plain file path: SQLite URIs (``file:...``) and ``:memory:`` are refused, and
the file is always opened by its absolute path.  A file that is not SQLite, is corrupt, or
is SQLite but not a twostep store is refused with a one-line :class:`ConfigError` and never
modified.  Reads made here create no files beside the store (``immutable=1`` when no sweep
is writing it).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from twostep.theory.errors import ConfigError

from .paths import check_path_name, check_writable_folder, parent_of, path_errors
from .store_schema import APPLICATION_ID, FORMAT, SCHEMA_VERSION, SQLITE_MAGIC


def refuse(path: Path, why: str) -> ConfigError:
    """The one-line refusal of a file that is not a usable store."""
    return ConfigError(f"store {path}: {why}; refusing to use or modify it "
                       f"(give a new file name or a twostep store)")


def read_only_uri(path: Path, *, immutable: bool = False) -> str:
    """The SQLite URI of a read-only connection to ``path``."""
    # Built here from the resolved path (as_uri percent-escapes '?', '#', '%'),
    # never from user text.  immutable=1: no locks and no -wal/-shm files are
    # created beside the file (a plain read-only open of a WAL-mode file makes them).
    return path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")


def nobody_writing(path: Path) -> bool:
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
    check_path_name(text, f"store {text}")
    if text.endswith(("/", os.sep)) and not os.path.isdir(text):
        # Path() would drop the slash and make a file of what the user named as a folder
        name = text.rstrip("/" + os.sep)
        raise ConfigError(f"store {text}: a trailing / names a folder, and no folder {name} "
                          f"exists; a store is a file: give a name such as "
                          f"{name if Path(name).suffix else name + '.sqlite'}")
    return Path(text)


def check_store_path(path: str | os.PathLike[str], *, readonly: bool = False) -> bool:
    """Check a store path without writing anything; True if the store exists.

    The path must be a plain file path (:func:`check_store_name`).  A missing
    file needs an existing, writable parent folder (``readonly``: it must
    exist).  An existing one must be an SQLite file whose header carries
    :data:`APPLICATION_ID`, pass ``PRAGMA quick_check`` and hold the twostep
    ``meta`` table; it is read through an immutable read-only connection,
    which creates no files.  An empty file is refused: twostep never made it (a new store
    is written whole).
    """
    path = check_store_name(path)
    with path_errors(f"store {path}"):  # e.g. a folder on the way that cannot be searched
        return _check_existing(path, readonly)


def _check_existing(path: Path, readonly: bool) -> bool:
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
        # twostep writes a new store whole (store_schema.write_new_store), so an empty file
        # (made by touch or mktemp, or by a program that never finished) is not one of its
        # stores and holds nothing of ours: it is left as it is
        advice = ("it holds no results: fill a new store with twostep sweep --store NEW or "
                  "twostep verify --store NEW" if readonly else
                  "refusing to use or modify it: remove it, or give a new file name")
        raise ConfigError(f"store {path} is an empty file (0 bytes) that twostep did not create "
                          f"(a new store is written whole); {advice}")
    _check_header(path, header)
    _check_contents(path)
    return True


def _check_header(path: Path, header: bytes) -> None:
    """The first 100 bytes: SQLite's magic and, at offset 68, a twostep application_id."""
    if not header.startswith(SQLITE_MAGIC):
        raise refuse(path, "not an SQLite database")
    if len(header) < 100:
        raise refuse(path, "corrupt (truncated SQLite header)")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id != APPLICATION_ID:
        raise refuse(path, f"an SQLite database but not a twostep store "
                           f"(application_id {app_id:#010x}, expected {APPLICATION_ID:#010x})")


def _read_meta(path: Path, *, immutable: bool) -> dict[str, str]:
    """quick_check, then the meta table; ConfigError if either fails."""
    try:
        conn = sqlite3.connect(read_only_uri(path, immutable=immutable), uri=True)
    except sqlite3.Error as err:
        raise refuse(path, f"cannot be opened ({err})") from None
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            raise refuse(path, f"corrupt (quick_check: {rows[0][0]})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "cells"} <= tables:
            raise refuse(path, "an SQLite database but not a twostep store (no meta/cells)")
        return dict(conn.execute("SELECT name, value FROM meta").fetchall())
    except sqlite3.DatabaseError as err:
        raise refuse(path, f"corrupt ({err})") from None
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
        raise refuse(path, f"meta format is {meta.get('format')!r}, not {FORMAT!r}")
    schema = meta.get("schema_version")
    if schema != str(SCHEMA_VERSION):
        raise refuse(path, f"schema version {schema}, this twostep reads {SCHEMA_VERSION}")
