"""Result types of the Hermite engine: :class:`Value`, :class:`Coefficient`,
:class:`ReuseExponent`, :class:`Symmetry`, and their constructors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import sympy

from ..errors import NonFiniteError, UndefinedError

#: ``Value.cause`` of a value that is zero by parity (a symmetry of the function).
PARITY = "parity"
#: ``Value.cause`` of a moment not computed (beyond ``api.MAX_DERIVATIVE_ORDER``).
NOT_COMPUTED_CAUSE = "not-computed"


@dataclass(frozen=True)
class Value:
    """One Gaussian expectation ``E[g(z)]``, ``z ~ N(0, 1)``.

    ``value`` is the exact closed form when ``exact`` (else None); ``numeric``
    the value at ``digits`` significant digits; ``error`` the quadrature's
    error estimate when numerical (None when exact).  ``defined=False`` marks a
    quantity that does not exist (products of distributions); ``numeric`` is
    NaN then and :attr:`is_zero` raises :class:`UndefinedError`.
    """

    value: sympy.Expr | None
    numeric: mpmath.mpf
    exact: bool
    error: float | None
    digits: int
    defined: bool = True
    reason: str = ""
    #: what ``reason`` says, as a code for code to branch on (:data:`PARITY`,
    #: :data:`NOT_COMPUTED_CAUSE`; empty: no cause code code needs)
    cause: str = ""

    def __float__(self) -> float:
        return float(self.numeric)

    @property
    def is_zero(self) -> bool:
        """Exact zero, or numerical with ``|numeric| <= error``."""
        if not self.defined:
            raise UndefinedError(self.reason)
        if self.exact:
            return bool(self.value == 0) or self.value.is_zero is True
        return abs(self.numeric) <= self.error

    def __str__(self) -> str:
        if not self.defined:
            return f"undefined ({self.reason})"
        if self.exact:
            return str(self.value)
        return f"{mpmath.nstr(self.numeric, min(self.digits, 17))} +- {self.error:.1e}"


@dataclass(frozen=True, kw_only=True)
class Coefficient(Value):
    """The Hermite coefficient ``c_m(f) = E[f(z) He_m(z)]`` (docs/theory.md, Hermite
    convention)."""

    order: int = 0

    @property
    def normalised(self) -> Value:
        """``mu_m = c_m / sqrt(m!)``, exact when ``c_m`` is."""
        scale = math.factorial(self.order)
        with mpmath.workdps(self.digits):
            numeric = +(self.numeric / mpmath.sqrt(scale))
        value = None if self.value is None else self.value / sympy.sqrt(scale)
        error = None if self.error is None else self.error / math.sqrt(scale)
        return Value(value=value, numeric=numeric, exact=self.exact, error=error,
                     digits=self.digits, defined=self.defined, reason=self.reason,
                     cause=self.cause)


@dataclass(frozen=True)
class ReuseExponent:
    """``j_* = min{j >= 1 : E[z f(z)^j] != 0}`` searched up to ``limit``
    (docs/theory.md, section 5); ``value`` is None when no j up to the limit works."""

    value: int | None
    limit: int

    def __str__(self) -> str:
        return str(self.value) if self.value is not None else f"none up to {self.limit}"


@dataclass(frozen=True)
class Symmetry:
    """Parity structure of ``f``: even part ``(f(z) + f(-z))/2`` and odd part
    ``(f(z) - f(-z))/2``.

    ``even_part`` is "zero", "constant" (then ``constant`` is its exact value,
    or None if only known numerically) or "general"; ``odd_part`` is "zero",
    "linear" (``slope * z``; ``slope`` exact or None) or "general".
    ``how_even`` and ``how_odd`` say how each part was decided: "polynomial",
    "proved symbolically" (sympy ``cancel`` after rewriting in exp) or "checked to
    1e-45 at 8 points" (60-digit evaluation, when sympy cannot settle it: kinks, logs).
    """

    even_part: str
    odd_part: str
    constant: sympy.Expr | None = None
    slope: sympy.Expr | None = None
    how_even: str = "proved symbolically"
    how_odd: str = "proved symbolically"

    @property
    def kind(self) -> str:
        """"odd" | "even" | "linear+even" | "none" (relu, gelu, silu and
        softplus are ``z/2 + even``: "linear+even")."""
        if self.even_part == "zero":
            return "odd"
        if self.odd_part == "zero":
            return "even"
        if self.odd_part == "linear":
            return "linear+even"
        return "none"

    def zero_reason(self, m: int) -> str | None:
        """Why ``c_m`` vanishes by symmetry, or None."""
        if m % 2 == 0:
            if self.even_part == "zero":
                return (f"zero by parity: f is odd ({self.how_even}), "
                        f"c_{m} pairs it with even He_{m}")
            if self.even_part == "constant" and m >= 2:
                return (f"zero by parity: f - f(0) is odd ({self.how_even}), "
                        f"c_{m} pairs it with even He_{m}")
        else:
            if self.odd_part == "zero":
                return f"zero by parity: f is even ({self.how_odd}), c_{m} pairs it with odd He_{m}"
            if self.odd_part == "linear" and m >= 3:
                return (f"zero by parity: f - c_1 z is even ({self.how_odd}), "
                        f"c_{m} pairs it with odd He_{m}")
        return None




def _exact_value(value: sympy.Expr, digits: int, reason: str, cause: str = "") -> Value:
    return Value(value=value, numeric=_evalf(value, digits), exact=True, error=None,
                 digits=digits, reason=reason, cause=cause)


def _evalf(value: sympy.Expr, digits: int) -> mpmath.mpf:
    number = sympy.N(value, digits + 5)
    if not number.is_real:
        re, im = number.as_real_imag()
        if abs(im) > sympy.Float(10) ** (-digits):
            raise NonFiniteError(f"Gaussian expectation {value} is not real")
        number = re
    if number in (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        raise NonFiniteError(f"Gaussian expectation {value} is not finite")
    with mpmath.workdps(digits):
        return mpmath.mpf(str(number))


def _undefined(digits: int, reason: str, cause: str = "") -> Value:
    return Value(value=None, numeric=mpmath.mpf("nan"), exact=False, error=None,
                 digits=digits, defined=False, reason=reason, cause=cause)


def _as_coefficient(v: Value, m: int) -> Coefficient:
    return Coefficient(value=v.value, numeric=v.numeric, exact=v.exact, error=v.error,
                       digits=v.digits, defined=v.defined, reason=v.reason, cause=v.cause,
                       order=m)
