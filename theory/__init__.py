"""twostep.theory: exact Hermite coefficients and the two-step predictions.

Pure mathematics: no simulation, no I/O.  See docs/theory.md and
docs/theory.md for the formulas.

The names below are imported on first use (PEP 562): ``from twostep.theory import
ConfigError`` does not load sympy, so the command line and sweep workers start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, NonFiniteError, TwostepError, UndefinedError

if TYPE_CHECKING:
    from .config import ModelConfig
    from .functions import Function, parse_function

__all__ = [
    "ConfigError",
    "Function",
    "ModelConfig",
    "NonFiniteError",
    "TwostepError",
    "UndefinedError",
    "parse_function",
]

#: name -> submodule of the names imported on first use
_LAZY = {"ModelConfig": "config", "Function": "functions", "parse_function": "functions"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
