"""twostep.simulate: exact GD steps of the two-layer network and their spectra.

``run(config, N, seed)`` simulates the steps of docs/model.md once
(streamed over sample blocks, reproducible from the seed) and returns a
:class:`Measurement` whose fields mirror the theory's ``Prediction``.

The names below are imported on first use (PEP 562): importing a light submodule
(``twostep.simulate.options``) does not load the simulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gd import default_steps, parse_steps
    from .measurement import Measurement
    from .options import Step
    from .runner import run

__all__ = ["Measurement", "Step", "default_steps", "parse_steps", "run"]

#: name -> submodule of the names imported on first use
_LAZY = {"Step": "options", "default_steps": "gd", "parse_steps": "gd",
         "Measurement": "measurement", "run": "runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
