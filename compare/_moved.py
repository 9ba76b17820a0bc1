"""The module paths compare/ had before it was laid out by concern (0.4), kept one minor
version: importing an old path warns (DeprecationWarning, naming the new path) and gives the
new module itself, so no name exists twice (docs/reference.md, Moved modules)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old module -> new module (a package's submodules follow it)
MOVED: dict[str, str] = {}


def _target(fullname: str) -> str | None:
    for old, new in MOVED.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname[len(old):]
    return None


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the new module (``python -m`` an old path runs the
    new module's code)."""

    def find_spec(self, fullname, path=None, target=None):
        new = _target(fullname)
        if new is None:
            return None
        spec = importlib.util.find_spec(new)
        if spec is None:
            return None
        alias = importlib.util.spec_from_loader(fullname, self,
                                                is_package=spec.submodule_search_locations
                                                is not None)
        alias.loader_state = new
        return alias

    def create_module(self, spec):
        new = spec.loader_state
        warnings.warn(f"{spec.name} is deprecated (moved in twostep 0.4); import {new}",
                      DeprecationWarning, stacklevel=_caller_level())
        return importlib.import_module(new)

    def exec_module(self, module):
        """The new module is already executed."""

    def get_code(self, fullname):
        """``python -m`` an old path: run the new module as ``__main__`` under its own name, so
        its relative imports resolve from the new package."""
        new = _target(fullname)
        source = (f"import runpy, warnings\n"
                  f"warnings.warn({fullname!r} ' is deprecated (moved in twostep 0.4); run '"
                  f" {new!r}, DeprecationWarning, stacklevel=1)\n"
                  f"runpy.run_module({new!r}, run_name='__main__', alter_sys=True)\n")
        return compile(source, f"<{fullname}, moved to {new}>", "exec")


def _caller_level() -> int:
    """The stack level of the importing code: the first frame outside importlib."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen")
                                 or "importlib" in frame.f_code.co_filename
                                 or frame.f_code.co_filename == __file__):
        frame, level = frame.f_back, level + 1
    return level


def install(moved: dict[str, str]) -> None:
    MOVED.update(moved)
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
