"""Input checks: expressions, integers, digits, and integrability (poles, growth,
real values) before any shortcut."""

from __future__ import annotations

import functools
import math

import mpmath
import sympy

from twostep.theory.mpeval import _capped_functions

from ..budget import _evaluates, _short
from ..errors import ConfigError
from ..functions import Function, Z, parse_function
from ..singular import real_singularity
from .gaussian import _SQRT_2PI
from .numerics import _mp_callable

#: Largest precision (significant digits) a caller may ask for.
MAX_DIGITS = 200
#: Largest Hermite order the library computes (the CLI allows less).
MAX_ORDER = 200

def _as_expr(f: str | Function | sympy.Expr) -> sympy.Expr:
    """The expression of ``f``; one with a singularity on the real line is refused (the rule
    of :func:`twostep.theory.singular.real_singularity`: ``1/z``, ``log(z)``, ``tan(z)``, a
    removable ``tanh(z)/z`` accepted), as :func:`parse_function` refuses its text.  Its
    derivatives and powers, the integrands of the moments, have no other singularity."""
    if isinstance(f, str):
        return parse_function(f).expr
    if isinstance(f, Function):
        expr = f.expr
    elif isinstance(f, sympy.Basic):
        expr = sympy.sympify(f)
        others = sorted(str(s) for s in expr.free_symbols if s != Z)
        if others:
            raise ConfigError(f"expression {expr} uses symbol(s) {', '.join(others)}; "
                              f"only z (twostep.theory.functions.Z) is allowed")
    else:
        expr = None
    if expr is not None:
        singularity = real_singularity(expr, Z) if expr.has(Z) else None
        if singularity is not None:
            raise ConfigError(singularity.message(str(expr)))
        return expr
    raise ConfigError(f"expected a function name, an expression string, a Function or a "
                      f"sympy expression in z; got {type(f).__name__}")


def _name(f: str | Function | sympy.Expr) -> str:
    if isinstance(f, Function):
        return f.text
    if isinstance(f, str):
        return parse_function(f).text
    return str(f)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def _check_digits(digits: object) -> int:
    return _check_int("digits", digits, 1, MAX_DIGITS)


_FAR = sympy.Integer(40)


#: ``exp`` of an argument beyond this (about 1e1233) is taken as +inf (or 0): its
#: value would have an exponent of more than 2^4096 bits, and mpmath (like sympy's
#: evalf) would need that many bits of working precision -- ``exp(exp(exp(40)))``
#: never returns.  Quadrature nodes stay below 1e300, so ordinary functions never


def _far_value(expr: sympy.Expr, x: sympy.Expr) -> sympy.Expr:
    """``f(x)`` for the integrability check: sympy's 30-digit evalf, unless a
    saturating mpmath evaluation first meets an astronomically large exponential
    (:data:`_EXP_CAP`); then that evaluation's value (+-inf, or 0 for ``exp(-huge)``)."""
    flag: list = []
    try:
        with mpmath.workdps(30):
            fast = _mp_callable(expr, _capped_functions(flag))(mpmath.mpf(int(x)))
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        flag.clear()
    if not flag:
        return sympy.N(expr.subs(Z, x), 30)
    if isinstance(fast, mpmath.mpc):
        return sympy.I if fast.imag != 0 else sympy.Float(str(fast.real))
    if mpmath.isnan(fast):
        return sympy.nan
    if mpmath.isinf(fast):
        return sympy.oo if fast > 0 else -sympy.oo
    return sympy.S.Zero if fast == 0 else sympy.Float(str(fast), 30)


def _log_weight(value: sympy.Expr, x: sympy.Expr, power: int) -> sympy.Expr:
    """``log(|f(x)|^power phi(x))`` for ``value = f(x)`` (-oo for 0, +oo for +-oo)."""
    if value == 0:
        return -sympy.oo
    if value in (sympy.oo, -sympy.oo):
        return sympy.oo
    return power * sympy.log(abs(value)) - x**2 / 2 - sympy.log(_SQRT_2PI)


@functools.lru_cache(maxsize=1024)
@_evaluates(lambda expr, power: f"the integrability check of {_short(expr)}")
def _check_integrable(expr: sympy.Expr, power: int) -> None:
    """Refuse ``f`` with ``E[|f|^power] = inf`` before any shortcut (parity would
    otherwise call c_1(exp(z^2)) zero): ``|f(+-40)|^power phi(40)`` must be below 1,
    i.e. ``|f|^power`` grows more slowly than about ``exp(z^2/2)``; also refuses
    functions that are not real-valued there (singularities on the real line were refused
    where the function came in: :func:`_as_expr`).  Raises :class:`ConfigError`."""
    if expr.is_polynomial(Z):  # every moment of a polynomial is finite, whatever f(40) is
        if all(c.is_real for c in sympy.Poly(expr, Z).coeffs()):
            return
        raise ConfigError(f"function {expr} is not real-valued; expected a real function "
                          f"of z defined on the whole line")
    for x in (_FAR, -_FAR):
        value = _far_value(expr, x)
        if value.has(sympy.nan, sympy.zoo) or not value.is_extended_real:
            raise ConfigError(f"function {expr} is not real-valued (at z = {x}); expected a "
                              f"real function of z defined on the whole line")
        if value == 0:
            continue
        log_weight = _log_weight(value, x, power)
        if log_weight.is_finite and sympy.N(log_weight, 15) > -60:
            # not negligible at 40: |f|^power phi must also fall faster than 1/|z| from 40
            # to 80, else its integral diverges (exp(z^2/4) squared: constant, not decaying)
            further = _log_weight(_far_value(expr, 2 * x), 2 * x, power)
            if not further.is_extended_real or (
                    further != -sympy.oo and sympy.N(further - log_weight, 15) > -math.log(2)):
                log_weight = sympy.oo
        if sympy.N(log_weight, 15) > 0:
            what = "E[f(z)^2]" if power == 2 else "E[f(z)]"
            raise ConfigError(f"{what} diverges for f = {expr} (it grows like "
                              f"exp(z^2/{2 * power}) or faster); functions must be "
                              f"square-integrable under N(0, 1)")


def check_square_integrable(f: str | Function | sympy.Expr) -> None:
    """Refuse (one line, :class:`ConfigError`) what every Hermite coefficient of ``f`` refuses
    before any evaluation: an unknown or singular function (:func:`_as_expr`), one that is
    not real-valued, or one with ``E[f(z)^2] = inf`` (``exp(z**2)``).  ``twostep sweep`` and
    ``verify`` run it on their functions before any cell."""
    _check_integrable(_as_expr(f), 2)
