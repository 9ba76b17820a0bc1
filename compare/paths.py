"""Checks on output paths, made before any work so that nothing is half-written."""

from __future__ import annotations

import os
from pathlib import Path

from twostep.theory.errors import ConfigError


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse (one line naming ``what``) a folder that is missing or cannot be written into."""
    if not folder.is_dir():
        raise ConfigError(f"{what}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: folder {folder} is not writable")


def parent_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")
