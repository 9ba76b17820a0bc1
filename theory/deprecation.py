"""Names and modules that moved, kept one minor version with a DeprecationWarning that names the
new place (docs/reference.md, Moved names).  Lowest layer: every layer may use it."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

#: Until this version the old places keep working.
REMOVED_IN = "0.5"


def moved_names(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``names`` (name -> the module that defines it):
    reading ``module.name`` warns, naming ``new.name``, and gives the object itself."""
    def __getattr__(name: str) -> Any:
        if name in names:
            where = names[name]
            warnings.warn(f"{module}.{name} is deprecated (removed in {REMOVED_IN}); "
                          f"import it from {where}", DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(where), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
