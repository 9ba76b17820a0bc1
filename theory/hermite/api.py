"""The public functions: expectations, coefficients, derivative moments, exponents."""

from __future__ import annotations

import functools

import sympy

from .. import nonsmooth
from ..budget import _evaluates, _short
from ..errors import ConfigError
from ..functions import Function, Z
from .checks import MAX_ORDER, _as_expr, _check_digits, _check_int, _check_integrable, _name
from .gaussian import _exact_expectation
from .kinks import _is_smooth
from .quadrature import _quadrature
from .results import (
    NOT_COMPUTED_CAUSE,
    PARITY,
    Coefficient,
    ReuseExponent,
    Value,
    _as_coefficient,
    _exact_value,
    _undefined,
)
from .symmetry import _symmetry


@functools.lru_cache(maxsize=4096)
@_evaluates(lambda expr, digits: f"E[{_short(expr)}]")
def _expectation(expr: sympy.Expr, digits: int) -> Value:
    if not expr.has(Z):
        return _exact_value(expr, digits, "exact: constant")
    if expr.has(sympy.DiracDelta):
        raise ConfigError(f"cannot take E[{expr}]: DiracDelta terms are distributions; ask for "
                          f"a Hermite coefficient (Stein: E[f^(m)] = c_m(f)) instead")
    _check_integrable(expr, 1)
    exact = _exact_expectation(expr, 0)
    if exact is not None:
        return _exact_value(exact[0], digits, exact[1])
    sym = _symmetry(expr)
    if sym.even_part == "zero":
        return _exact_value(sympy.S.Zero, digits, f"zero by parity: integrand odd ({sym.how_even})",
                            PARITY)
    if sym.even_part == "constant" and sym.constant is not None:
        return _exact_value(sym.constant, digits,
                            f"exact by parity: integrand is a constant plus an odd part "
                            f"({sym.how_even})")
    return _quadrature(expr, 0, digits)


def expectation(g: str | Function | sympy.Expr, digits: int = 30) -> Value:
    """``E[g(z)]``, ``z ~ N(0, 1)``: exact where the shape closes (module docstring),
    exact 0 for odd g, else mpmath quadrature with an error estimate."""
    return _expectation(_as_expr(g), _check_digits(digits))


@functools.lru_cache(maxsize=8192)
@_evaluates(lambda expr, m, digits: f"c_{m}({_short(expr)})")
def _coefficient(expr: sympy.Expr, m: int, digits: int) -> Coefficient:
    sym = _symmetry(expr)
    reason = sym.zero_reason(m)
    if reason is not None:
        return _as_coefficient(_exact_value(sympy.S.Zero, digits, reason, PARITY), m)
    if m == 0 and sym.even_part == "constant" and sym.constant is not None:
        return _as_coefficient(_exact_value(sym.constant, digits,
                                            f"exact: c_0 = f(0), f - f(0) odd ({sym.how_even})"), m)
    if m == 1 and sym.odd_part == "linear" and sym.slope is not None:
        return _as_coefficient(_exact_value(sym.slope, digits,
                                            f"exact: f - c_1 z is even ({sym.how_odd})"), m)
    exact = _exact_expectation(expr, m)
    if exact is not None:
        return _as_coefficient(_exact_value(exact[0], digits, exact[1]), m)
    return _as_coefficient(_quadrature(expr, m, digits), m)


def coefficient(f: str | Function | sympy.Expr, m: int, digits: int = 30) -> Coefficient:
    """``c_m(f) = E[f(z) He_m(z)]`` (docs/theory.md, "Hermite convention"), exact when the Gaussian
    integral closes, exact 0 by parity, else numerical with an error estimate."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    return _coefficient(expr, _check_int("order m", m, 0, MAX_ORDER), _check_digits(digits))


def coefficients(f: str | Function | sympy.Expr, order: int, digits: int = 30
                 ) -> list[Coefficient]:
    """``[c_0(f), ..., c_order(f)]`` (see :func:`coefficient`)."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    order = _check_int("order", order, 0, MAX_ORDER)
    digits = _check_digits(digits)
    return [_coefficient(expr, m, digits) for m in range(order + 1)]


#: Highest derivative order ``sigma^(k+1)`` differentiated symbolically for a derivative moment
#: with ``m >= 1`` of a non-polynomial activation.  sympy's derivatives of tanh grow so fast
#: that order 13 takes 16 s and order 50 never returns; beyond this order the moment is not
#: computed (``defined=False``, reason "not computed: ...").  Polynomials have no limit.
MAX_DERIVATIVE_ORDER = 8

#: Start of the reason of a moment beyond :data:`MAX_DERIVATIVE_ORDER`.
NOT_COMPUTED = "not computed"


@functools.lru_cache(maxsize=1024)
def _derivative(expr: sympy.Expr, n: int) -> sympy.Expr:
    """``expr^(n)``, one order at a time from the cached ``expr^(n-1)`` (each moment of a
    term shares them)."""
    return expr if n == 0 else sympy.diff(_derivative(expr, n - 1), Z)


@functools.lru_cache(maxsize=4096)
@_evaluates(lambda expr, k, m, digits, name: f"E[sigma^({k + 1}) sigma'^{m}] for sigma = {name}")
def _derivative_moment(expr: sympy.Expr, k: int, m: int, digits: int, name: str) -> Value:
    if m == 0:
        c = _coefficient(expr, k + 1, digits)
        return Value(value=c.value, numeric=c.numeric, exact=c.exact, error=c.error,
                     digits=digits, reason=f"Stein: E[sigma^({k + 1})] = c_{k + 1}(sigma); "
                                           f"{c.reason}", cause=c.cause)
    if not _is_smooth(expr) or nonsmooth.discontinuous(expr):
        return _undefined(digits, f"undefined for non-smooth activation {name}: "
                                  f"E[sigma^({k + 1}) sigma'^{m}] multiplies distributions")
    sym = _symmetry(expr)
    if sym.even_part in ("zero", "constant") and k % 2 == 1:
        return _exact_value(sympy.S.Zero, digits,
                            f"zero by parity: sigma - sigma(0) odd ({sym.how_even}), so "
                            f"sigma^({k + 1}) is odd and sigma' even", PARITY)
    if sym.odd_part == "zero" and (k + 1 + m) % 2 == 1:
        return _exact_value(sympy.S.Zero, digits,
                            f"zero by parity: sigma even ({sym.how_odd}), "
                            f"sigma^({k + 1}) sigma'^{m} is odd", PARITY)
    if k + 1 > MAX_DERIVATIVE_ORDER and not expr.is_polynomial(Z):
        return _undefined(digits, f"{NOT_COMPUTED}: E[sigma^({k + 1}) sigma'^{m}] for sigma = "
                                  f"{name} needs a symbolic derivative of order {k + 1} > "
                                  f"{MAX_DERIVATIVE_ORDER}", NOT_COMPUTED_CAUSE)
    integrand = _derivative(expr, k + 1) * _derivative(expr, 1) ** m
    if integrand.has(sympy.Derivative):  # floor, frac, zeta: sympy cannot differentiate them
        return _undefined(digits, f"undefined for activation {name}: sympy has no closed-form "
                                  f"derivative of it, so E[sigma^({k + 1}) sigma'^{m}] has no "
                                  "integrand")
    return _expectation(integrand, digits)


def derivative_moment(f: str | Function | sympy.Expr, k: int, m: int, digits: int = 30
                      ) -> Value:
    """``E[sigma^{(k+1)}(z) sigma'(z)^m]``, ``0 <= m <= k`` (docs/theory.md, section 4: the
    leading coefficient of step-two term k).  For m = 0 this is ``c_{k+1}(sigma)``
    (Stein, distributional: defined for relu).  For a non-smooth activation and
    m >= 1 it multiplies distributions: returned with ``defined=False``.  So is a moment
    with ``m >= 1`` of a non-polynomial activation beyond the symbolic derivative order
    :data:`MAX_DERIVATIVE_ORDER` (reason "not computed: ..."), unless parity makes it 0."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    k = _check_int("k", k, 0, MAX_ORDER)
    if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= k:
        raise ConfigError(f"m must be an integer with 0 <= m <= k = {k}, got {m!r}")
    return _derivative_moment(expr, k, m, _check_digits(digits), _name(f))


def information_exponent(f: str | Function | sympy.Expr, limit: int = 20) -> int | None:
    """Least ``m >= 1`` with ``c_m(f) != 0`` (docs/theory.md, "Hermite convention"), None
    up to ``limit``."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    limit = _check_int("limit", limit, 1, MAX_ORDER)
    for m in range(1, limit + 1):
        if not _coefficient(expr, m, 30).is_zero:
            return m
    return None


@functools.lru_cache(maxsize=1024)
@_evaluates(lambda expr, j: f"E[z f(z)^{j}] for f = {_short(expr)}")
def _reuse_moment(expr: sympy.Expr, j: int) -> Value:
    sym = _symmetry(expr)
    if sym.odd_part == "zero":
        return _exact_value(sympy.S.Zero, 30, f"zero by parity: f even ({sym.how_odd})", PARITY)
    if sym.even_part == "zero" and j % 2 == 0:
        return _exact_value(sympy.S.Zero, 30,
                            f"zero by parity: f odd ({sym.how_even}), z f^{j} is odd", PARITY)
    if j == 1:
        return _coefficient(expr, 1, 30)
    return _expectation(sympy.expand(Z * expr**j) if expr.is_polynomial(Z) else Z * expr**j, 30)


def reuse_exponent(f: str | Function | sympy.Expr, limit: int = 8) -> ReuseExponent:
    """``j_* = min{j >= 1 : E[z f(z)^j] != 0}`` (docs/theory.md, section 5), using
    ``E[z f^j] = c_1(f^j)``; "none up to limit" when no j works (even f)."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    limit = _check_int("limit", limit, 1, MAX_ORDER)
    for j in range(1, limit + 1):
        if not _reuse_moment(expr, j).is_zero:
            return ReuseExponent(j, limit)
    return ReuseExponent(None, limit)
