"""Checks on output paths, made before any work so that nothing is half-written, and the
one-line report of a disk that fills up while writing."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from twostep.theory.errors import ConfigError, TwostepError


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse (one line naming ``what``) a folder that is missing or cannot be written into."""
    if not folder.is_dir():
        # the nearest part of the path that exists but is not a folder (e.g. a store file)
        blocker = next((p for p in (folder, *folder.parents)
                        if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise ConfigError(f"{what}: {blocker} is a file, not a folder")
        raise ConfigError(f"{what}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: folder {folder} is not writable")


def parent_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


#: errno values of a full disk (or a full quota).
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFullError(TwostepError):
    """The disk filled up while writing; what was written before is intact."""


def is_disk_full(err: BaseException) -> bool:
    """True for SQLite's "database or disk is full" and an OSError ENOSPC / EDQUOT."""
    if isinstance(err, sqlite3.OperationalError):
        return "disk is full" in str(err) or "database or disk is full" in str(err)
    return isinstance(err, OSError) and err.errno in _FULL


@contextlib.contextmanager
def disk_full(what: str, kept: str = "nothing was lost: files already there are untouched "
                                     "and nothing half-written was left") -> Iterator[None]:
    """Turn a full disk inside the block into one line (:class:`DiskFullError`, exit 1) that
    says so and what was kept (``kept``)."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as err:
        if not is_disk_full(err):
            raise
        raise DiskFullError(f"{what}: the disk is full ({err}); {kept}; free some space and "
                            "run the same command again") from None
