"""What a run refuses before anything is drawn (:func:`check_inputs`): steps, spectra, terms,
an activation and a target the simulation can evaluate, finite and real where the
pre-activations lie, and a backend that prints every function the run evaluates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from twostep.theory import ConfigError, ModelConfig, parse_function

from . import backend as backends
from . import gd
from . import terms as exact_terms
from .gd import Step
from .options import MAX_POWER_LIMIT, RunOptions

#: Where the activation must be finite and real: pre-activations are about N(0, 1); the
#: step 1/64 holds 0 and the integers.
CHECK_GRID = (-8.0, 8.0, 1025)


def _evaluable(text: str, what: str, derivative: int, xp: Any = None) -> Any:
    """The backend function of ``text`` (or its derivative); anything the backend cannot
    print or evaluate is refused in one line (ConfigError), whatever sympy raised."""
    function = parse_function(text)
    try:
        if xp is None:
            return function.numpy(derivative)
        return backends.lambdify(function, derivative, xp)
    except ConfigError:
        raise
    except Exception as err:  # a printer without a method, an unknown name, ...
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        name = "" if derivative == 0 else f"derivative {derivative} of the "
        raise ConfigError(f"{what} {text}: the simulation cannot evaluate the {name}{what} "
                          f"({type(err).__name__}: {first[:120]}); use an expression of "
                          "elementary functions (docs/model.md)") from None


def _on_grid(fn: Any, text: str, what: str) -> np.ndarray:
    grid = np.linspace(*CHECK_GRID)
    try:
        with np.errstate(all="ignore"):
            return np.asarray(fn(grid), dtype=np.float64) * np.ones_like(grid)
    except ConfigError:
        raise
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{what} {text}: the simulation cannot evaluate it "
                          f"({type(err).__name__}: {first[:120]}); use an expression of "
                          "elementary functions (docs/model.md)") from None


def check_inputs(config: ModelConfig, options: RunOptions,
                 steps: Sequence[Step] | None = None) -> tuple[Step, ...]:
    """Everything :func:`run` refuses that does not depend on N or the seed, in one line
    (ConfigError), before anything is drawn; returns the checked steps.

    The steps and the spectra they name; with ``terms``, two steps and a smooth activation;
    an activation without a jump (``numpy(1)``) that, with its derivative, is finite and real
    on [-8, 8]; a target the simulation can evaluate; a backend that is installed and prints
    every function the run evaluates.  ``twostep sweep`` and ``twostep verify`` run it once
    per configuration before their store exists.
    """
    steps = gd.default_steps(config) if steps is None else gd.check_steps(steps)
    options.check_spectra_names(len(steps))
    if options.terms:
        if len(steps) != 2:
            raise ConfigError(f"terms=K decomposes a two-step update; these steps have "
                              f"{len(steps)} step(s)")
        exact_terms.check_smooth(parse_function(config.activation))
        if options.terms + 1 > MAX_POWER_LIMIT:
            raise ConfigError(f"terms must be <= {MAX_POWER_LIMIT - 1} (q_(K+1) is needed)")
    text = config.activation
    derivative = _evaluable(text, "activation", 1)  # refuses activations with a jump
    for name, fn in (("", _evaluable(text, "activation", 0)),
                     ("the derivative of ", derivative)):
        values = _on_grid(fn, text, "activation")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            z = np.linspace(*CHECK_GRID)[bad[0]]
            raise ConfigError(f"activation: {name}{text} is {values[bad[0]]} at z = {z:g}; an "
                              f"activation must be finite and real on the line (checked on "
                              f"[-8, 8], where the pre-activations lie)")
    _on_grid(_evaluable(config.target, "target", 0), config.target, "target")
    if options.backend != "numpy":  # refuses a backend that is missing or lacks a function
        xp = backends.namespace(options.backend)
        for k in range(options.terms + 2) if options.terms else (0, 1):
            _evaluable(text, "activation", k, xp)
    return steps
