"""The second layer's law (docs/model.md, "The second layer's law"): one registry keyed by the
``ModelConfig.second_layer`` name.

The theory sees the second layer through ``s = sqrt(N) a``, whose entries are iid with mean 0 and
variance 1 under every law; what depends on the law is the moments ``E[s^m]`` (the Gram-Schmidt
constants of the powers ``a^{o(k+1)}``, docs/amplitudes.md §4) and, at small widths, seeded
draws of ``s``:

- ``gaussian``: ``s ~ N(0, 1)``, ``E[s^m] = (m-1)!!``;
- ``uniform``: ``s = sqrt(3) erf(g / sqrt(2))`` of a standard normal g (the transform
  ``simulate.draws`` uses), uniform on ``[-sqrt(3), sqrt(3)]``, ``E[s^m] = 3^{m/2} / (m+1)``;
- ``sign``: ``s = +-1``, ``E[s^m] = 1``.

All odd moments vanish.  The exponents ``e_k`` and the counts do not depend on the law (for any
law with finite moments ``||a^{o(k+1)}||`` is of order ``N^{-k/2}``); the constants do.

With ``sign`` the powers are collinear: ``s^{k+1}`` is ``s`` for even k and the ones vector for
odd k, so step-two term k shares term k-2's left vector and the Gram-Schmidt residuals of
``k >= 2`` vanish (:attr:`Law.refusal`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .errors import ConfigError


def _gaussian_moment(m: int) -> sympy.Rational:
    return sympy.Integer(0) if m % 2 else sympy.Integer(sympy.factorial2(m - 1))


def _uniform_moment(m: int) -> sympy.Rational:
    return sympy.Integer(0) if m % 2 else sympy.Rational(3 ** (m // 2), m + 1)


def _sign_moment(m: int) -> sympy.Rational:
    return sympy.Integer(0) if m % 2 else sympy.Integer(1)


def _gaussian_draw(rng: np.random.Generator, N: int) -> np.ndarray:
    return rng.standard_normal(N)


def _uniform_draw(rng: np.random.Generator, N: int) -> np.ndarray:
    from scipy.special import erf

    return math.sqrt(3.0) * erf(rng.standard_normal(N) / math.sqrt(2.0))


def _sign_draw(rng: np.random.Generator, N: int) -> np.ndarray:
    return 2.0 * rng.integers(0, 2, size=N) - 1.0


@dataclass(frozen=True)
class Law:
    """One law of ``s = sqrt(N) a`` (module docstring): ``formula`` of ``a_i``, the moments
    ``moment(m) = E[s^m]`` (exact rationals), ``draw(rng, N)``: N iid draws of ``s`` (float64,
    the transform of ``simulate.draws``), and ``refusal``: why no prediction is derived for it
    (None: predictions exist)."""

    name: str
    formula: str
    moment: Callable[[int], sympy.Rational]
    draw: Callable[[np.random.Generator, int], np.ndarray]
    refusal: str | None = None

    def describe(self) -> str:
        """One line for a prediction's notes and headers."""
        return f"{self.name} second layer ({self.formula})"


_SIGN_REFUSAL = (
    "second_layer=sign: the powers of a are collinear (a^{o(k+1)} is a for even k and the ones "
    "vector for odd k, up to scale), so step-two term k shares term k-2's left vector and the "
    "Gram-Schmidt residuals of k >= 2 vanish; predictions exist for the gaussian and uniform "
    "laws (docs/model.md, The second layer's law)")

#: The laws by ``ModelConfig.second_layer`` name (the same names as ``config.SECOND_LAYER``).
LAWS: dict[str, Law] = {
    "gaussian": Law("gaussian", "a_i iid N(0, 1/N)", _gaussian_moment, _gaussian_draw),
    "uniform": Law("uniform", "a_i iid uniform on [-sqrt(3/N), sqrt(3/N)], variance 1/N",
                   _uniform_moment, _uniform_draw),
    "sign": Law("sign", "a_i = +-1/sqrt(N)", _sign_moment, _sign_draw, _SIGN_REFUSAL),
}


def law(name: Any) -> Law:
    """The :class:`Law` named ``name`` (a ``ModelConfig.second_layer``); else a one-line
    ConfigError naming the laws."""
    if not isinstance(name, str) or name not in LAWS:
        raise ConfigError(f"second_layer must be one of {', '.join(LAWS)}; got {name!r}")
    return LAWS[name]


@functools.cache
def moment(name: str, m: int) -> sympy.Rational:
    """``E[s^m]`` under the law ``name`` (exact)."""
    return law(name).moment(m)


def predictable(name: str) -> Law:
    """The law ``name`` when predictions exist for it; else its refusal as a ConfigError."""
    out = law(name)
    if out.refusal is not None:
        raise ConfigError(out.refusal)
    return out
