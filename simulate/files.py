"""The files of a measurement: which files twostep wrote (it replaces only those), the umask, and
a never-replacing rename (docs/reference.md; :meth:`Measurement.save`)."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

from twostep.theory import ConfigError

from .formats import FORMAT, OLD_FORMATS


def umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no thread-safe way to read it elsewhere
    os.umask(mask)
    return mask


#: A measurement JSON larger than this is not one twostep wrote (the arrays go to the npz).
_MAX_JSON_BYTES = 64 * 2**20
#: The arrays of a measurement's npz (``Measurement.arrays``), as zip member names.
_NPZ_MEMBER = re.compile(r"(W\d+|update)\.(singular_values|values)\.npy")


def _regular(path: Path) -> os.stat_result | None:
    """``lstat`` of a regular file that is not a symbolic link, else None."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def is_measurement_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a regular file holding a measurement JSON twostep wrote."""
    info = _regular(Path(path))
    if info is None or info.st_size > _MAX_JSON_BYTES:
        return False
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(_MAX_JSON_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") in (FORMAT, *OLD_FORMATS)


def is_measurement_npz(path: str | os.PathLike) -> bool:
    """True when ``path`` is a regular file holding a measurement's arrays (an npz whose
    members are all ``<spectrum>.singular_values`` / ``<spectrum>.values``)."""
    if _regular(Path(path)) is None:
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return all(_NPZ_MEMBER.fullmatch(name) for name in names)


def place_new(temp: str, target: Path) -> None:
    """Move ``temp`` to ``target`` only if ``target`` does not exist (a hard link: atomic and
    never replacing); where links are not supported, a last look, then a rename."""
    try:
        os.link(temp, target, follow_symlinks=False)
    except FileExistsError:
        raise ConfigError(f"{target} appeared while the measurement was saved; it was left "
                          "as it is and nothing was replaced") from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV,
                             errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(target):
            raise ConfigError(f"{target} appeared while the measurement was saved; it was "
                              "left as it is and nothing was replaced") from None
        os.rename(temp, target)
        return
    os.unlink(temp)


def refuse_to_replace(name: str, mode: int, *, ours: Callable[[], bool], what: str, force: bool,
                      force_hint: str, folder: str = "directory") -> None:
    """Refuse (one-line ConfigError) replacing the existing file ``name`` of ``lstat`` mode
    ``mode`` unless it is a regular file twostep wrote (``ours()``, asked only of a regular
    file; described as ``what``) and
    ``force`` is given (spelled ``force_hint`` in the advice).  A symbolic link (never written
    through), a ``folder``, a device, FIFO or socket and a file twostep did not write are
    refused whatever ``force``."""
    if stat.S_ISLNK(mode):
        raise ConfigError(f"{name} is a symbolic link; twostep never writes through or "
                          "replaces one: give a new file name")
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{name} is a {folder}; give a file name")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{name} is not a regular file (a device, FIFO or socket); it is "
                          "never replaced: give a new file name")
    if not ours():
        raise ConfigError(f"{name} exists and twostep did not write it (not {what}); it is "
                          "never replaced: give a new file name")
    if not force:
        raise ConfigError(f"{name} exists ({what}); give a new file name, or {force_hint} "
                          "to replace it")
