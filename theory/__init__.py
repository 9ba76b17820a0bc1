"""twostep.theory: exact Hermite coefficients and the two-step predictions.

Pure mathematics: no simulation, no I/O.  See docs/theory.md and
docs/theory.md for the formulas.
"""

from .config import ModelConfig
from .errors import ConfigError, NonFiniteError, TwostepError, UndefinedError
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
