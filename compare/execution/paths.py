"""Checks on output paths, made before any work so that nothing is half-written, the
one-line report of a disk that fills up while writing, and the one reader of the files a user
names as input (:func:`read_input_file`)."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

from twostep.theory.errors import ConfigError, TwostepError

#: Largest input file read.  A config is a few hundred bytes; a file beyond this is not one,
#: and reading it whole would only cost memory and time.
MAX_INPUT_BYTES = 2**20

#: What a file that is not a regular one is, for the refusal.
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def read_input_file(path: str | os.PathLike[str], what: str,
                    limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file the user named as input (``what``, e.g. ``--config c.json``): only a
    regular file (a named pipe or a device could block or never end) of at most ``limit``
    bytes; anything else is a one-line ConfigError ``cannot read WHAT: why``.

    The file is opened without blocking (``O_NONBLOCK``: opening a named pipe waits for a
    writer otherwise) and checked on the open descriptor, so a file swapped after a check is
    never read.  A symbolic link to a regular file is read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise ConfigError(f"cannot read {what}: {os_error_text(err)}") from None
    except ValueError:  # an embedded NUL character
        raise ConfigError(f"cannot read {what}: the file name contains a NUL character") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise ConfigError(f"cannot read {what}: it is {kind}; give a regular file")
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as err:
        raise ConfigError(f"cannot read {what}: {os_error_text(err)}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(f"cannot read {what}: larger than {limit:,} bytes, the most an input "
                          "file may hold")
    return data


def os_error_text(err: OSError) -> str:
    """An OSError as the words of one line (its message, without the repeated file name)."""
    return err.strerror or str(err)


#: A file name's and a path's longest length in bytes where the system does not say (POSIX's
#: NAME_MAX and Linux's PATH_MAX).
_NAME_MAX, _PATH_MAX = 255, 4096


def _name_limits(path: str) -> tuple[int, int]:
    """NAME_MAX and PATH_MAX of the file system of ``path``'s nearest existing folder."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    limits = []
    for name, default in (("PC_NAME_MAX", _NAME_MAX), ("PC_PATH_MAX", _PATH_MAX)):
        try:
            limits.append(int(os.pathconf(folder, name)) or default)
        except (AttributeError, OSError, ValueError):  # no pathconf (Windows), no such limit
            limits.append(default)
    return limits[0], limits[1]


def check_path_name(path: str | os.PathLike[str], what: str) -> None:
    """Refuse (one line naming ``what`` and the limit) a path with a part longer than the file
    system allows a name (ENAMETOOLONG otherwise, raised by the first look at it), or that is
    longer than a whole path may be."""
    text = os.fspath(path)
    data = os.fsencode(text)
    name_max, path_max = _name_limits(os.fsdecode(text))
    for part in data.split(os.fsencode(os.sep)):
        if len(part) > name_max:
            name = os.fsdecode(part)
            raise ConfigError(f"{what}: the name {name[:24]}... is {len(part)} bytes long; a "
                              f"file or folder name may have at most {name_max} bytes here")
    if len(data) > path_max:
        raise ConfigError(f"{what}: the path is {len(data)} bytes long; a path may have at "
                          f"most {path_max} bytes here")


@contextlib.contextmanager
def path_errors(what: str) -> Iterator[None]:
    """Turn an OSError raised while a path is checked, before any work, into one line
    (ConfigError naming ``what``: exit 2)."""
    try:
        yield
    except OSError as err:
        raise ConfigError(f"{what}: {os_error_text(err)}") from None


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


class OutputError(TwostepError):
    """Writing an output failed (the folder went away, the system refused a write, an I/O
    error); what was written before is intact."""


def is_disk_full(err: BaseException) -> bool:
    """True for SQLite's "database or disk is full" and an OSError ENOSPC / EDQUOT."""
    if isinstance(err, sqlite3.OperationalError):
        return "disk is full" in str(err) or "database or disk is full" in str(err)
    return isinstance(err, OSError) and err.errno in _FULL


@contextlib.contextmanager
def disk_full(what: str, kept: str = "nothing was lost: files already there are untouched "
                                     "and nothing half-written was left") -> Iterator[None]:
    """Turn a full disk inside the block into one line (:class:`DiskFullError`, exit 1) that
    says so and what was kept (``kept``); any other OSError of a file written, likewise
    (:class:`OutputError`, exit 1)."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as err:
        if is_disk_full(err):
            raise DiskFullError(f"{what}: the disk is full ({err}); {kept}; free some space "
                                "and run the same command again") from None
        # a file operation names its file; another OSError (a broken pipe, a process pool
        # that cannot start) is not the output's, and keeps its own handling
        if not isinstance(err, OSError) or not err.filename or isinstance(err, BrokenPipeError):
            raise
        raise OutputError(f"{what}: {os_error_text(err)} ({err.filename}); {kept}") from None
