"""Hermite coefficients and Gaussian expectations, exact where the integral closes.

Convention (docs/theory.md, "Hermite convention"): probabilists' ``He_m``;
``c_m(f) = E[f(z) He_m(z)]`` with ``z ~ N(0, 1)``; normalised
``mu_m = c_m / sqrt(m!)``; by Stein ``c_m(f) = E[f^{(m)}(z)]`` (distributionally
for kinks), so ``f = sum_m c_m He_m / m!``.

Every result says how it was obtained.  The exact path is chosen by the
*shape* of the integrand, never by trying ``sympy.integrate`` (docs/theory.md,
section 7: it can run for minutes on tanh, sigmoid, softplus):

- sums of ``const * polynomial * exp(A z^2 + B z + C) * erf(a z + b)^e``,
  ``A < 1/2``, ``e in {0, 1}`` (polynomials, exp/sin/cos/sinh/cosh of linear
  arguments, erf and erfc of linear arguments, gelu and the derivatives of erf):
  complete the square, ``E[q(z) e^{A z^2 + B z}] = s e^{s^2 B^2/2} E[q(s^2 B + s u)]``
  with ``s^2 = 1/(1 - 2A)``; an erf factor is removed by Stein,
  ``E[He_n(u) erf(alpha u + beta)] = alpha^n E[erf^{(n)}(alpha u + beta)]``
  (``n >= 1``, an ``exp(-x^2)`` times a Hermite polynomial) and
  ``E[erf(alpha u + beta)] = erf(beta / sqrt(1 + 2 alpha^2))``;
- piecewise versions of the erf-free shape (the primitives of
  :data:`twostep.theory.nonsmooth.REGISTRY`: Max, Min, Abs, Heaviside, sign,
  Piecewise; with polynomial switching points): half-line and interval integrals
  ``int_l^h u^n phi(u) du`` by the recursion
  ``J_n = l^{n-1} phi(l) - h^{n-1} phi(h) + (n-1) J_{n-2}``,
  ``J_0 = Phi(h) - Phi(l)``, ``J_1 = phi(l) - phi(h)``.

Anything else is integrated by mpmath (tanh-sinh, split at 0 and at the kinks)
at the requested precision plus guard digits, and carries the quadrature's error
estimate.  A value that vanishes by symmetry is the exact ``0`` (section 4:
odd activations kill every odd k; ``z/2 + even`` activations have ``c_3 = 0``).
Parity is first checked at 60 digits at eight points, then proved symbolically
where sympy can (``cancel`` in exp, ``logcombine``, piece by piece for kinks);
the reason says which.

Inputs whose expectations do not exist are refused with a one-line
:class:`ConfigError` before any shortcut: real poles (``1/z``), growth like
``exp(z^2/4)`` or faster (not square-integrable), values that are not real.
Numerically, ``exp``, ``sinh`` and ``cosh`` of an argument beyond ``2^4096``
saturate to ``inf`` (``0`` for ``exp`` of a huge negative argument) instead of
asking for ``2^4096`` bits of precision, so ``exp(exp(exp(z)))`` is refused at
once and ``exp(-exp(exp(z)))`` integrates.

Time budget: inside ``with time_budget(seconds):`` every evaluation (one
integrability check, one parity decision, one coefficient, one expectation or
derivative moment; nested ones count towards the outermost) that runs longer
than ``seconds`` raises :class:`TimeBudgetError` naming it.  The library has no
budget by default; ``twostep theory`` and ``twostep hermite`` use
:data:`DEFAULT_TIME_BUDGET` (``--time-budget``).

Layout: :mod:`.results` (result types), :mod:`.checks` (inputs, integrability),
:mod:`.gaussian` (closed forms), :mod:`.kinks` (switching points and pieces; what each
non-smooth primitive contributes is one entry of
:data:`twostep.theory.nonsmooth.REGISTRY`), :mod:`.symmetry` (parity),
:mod:`.quadrature` (tanh-sinh), :mod:`.numerics` (mpmath evaluation), :mod:`.api` (the
functions below); the time budget is :mod:`twostep.theory.budget` (no sympy there).
"""

from ..budget import DEFAULT_TIME_BUDGET, MAX_TIME_BUDGET, check_time_budget, time_budget
from .api import (
    MAX_DERIVATIVE_ORDER,
    NOT_COMPUTED,
    _coefficient,
    _derivative_moment,
    _expectation,
    _reuse_moment,
    coefficient,
    coefficients,
    derivative_moment,
    expectation,
    information_exponent,
    reuse_exponent,
)
from .checks import MAX_DIGITS, MAX_ORDER, check_square_integrable
from .results import NOT_COMPUTED_CAUSE, PARITY, Coefficient, ReuseExponent, Symmetry, Value
from .symmetry import parity, symmetry

__all__ = [
    "Coefficient",
    "ReuseExponent",
    "Symmetry",
    "Value",
    "DEFAULT_TIME_BUDGET",
    "MAX_DERIVATIVE_ORDER",
    "NOT_COMPUTED",
    "NOT_COMPUTED_CAUSE",
    "PARITY",
    "MAX_DIGITS",
    "MAX_ORDER",
    "MAX_TIME_BUDGET",
    "check_square_integrable",
    "check_time_budget",
    "coefficient",
    "coefficients",
    "derivative_moment",
    "expectation",
    "information_exponent",
    "parity",
    "reuse_exponent",
    "symmetry",
    "time_budget",
]

# private names used by tests (tests/test_hermite.py) and kept for callers of the
# former single module
__all__ += ["_coefficient", "_derivative_moment", "_expectation", "_reuse_moment"]
