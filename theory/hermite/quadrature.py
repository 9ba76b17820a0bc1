"""Tanh-sinh quadrature of ``E[g He_m]`` for every m at once, split at 0 and at the kinks."""

from __future__ import annotations

import functools
import math

import mpmath
import sympy

from ..budget import _check_deadline
from ..errors import ConfigError, NonFiniteError
from .kinks import _is_smooth, _pieces
from .numerics import _mp_callable, _to_mp
from .results import Value

# Guard digits of the quadrature beyond the requested ones; more are added for
# high orders, where He_m phi is of size sqrt(m!) and the integral cancels.
_GUARD = 10


def _segments(expr: sympy.Expr) -> list[tuple[sympy.Expr, sympy.Expr, sympy.Expr]]:
    """Integration segments: smooth pieces, each split at 0 as well."""
    pieces = _pieces(expr) if not _is_smooth(expr) else None
    if pieces is None:
        pieces = ((-sympy.oo, sympy.oo, expr),)
    out = []
    for lo, hi, piece in pieces:
        if sympy.N(lo, 30) < 0 < sympy.N(hi, 30):
            out += [(lo, sympy.S.Zero, piece), (sympy.S.Zero, hi, piece)]
        else:
            out.append((lo, hi, piece))
    return out


_RULE: list = []
#: A quadrature term ``w f(x) phi(x)`` beyond 2^1024 (the float range) means the integral
#: diverges (``exp(1/z)`` near 0+), not a number to accumulate in fixed point.
_MAX_TERM_BITS = 1024


def _tanh_sinh():
    # One rule object for the process: it caches the nodes per (interval, degree, precision).
    if not _RULE:
        _RULE.append(mpmath.calculus.quadrature.TanhSinh(mpmath.mp))
    return _RULE[0]


def _batch_order(m: int) -> int:
    """Numerical coefficients are computed in batches (one pass over the nodes gives
    every order): 0 alone for plain expectations, else up to 12, 20 or m."""
    return 0 if m == 0 else 12 if m <= 12 else 20 if m <= 20 else m


def _error_estimate(results: list, dps: int) -> mpmath.mpf:
    """Error of the last of successive tanh-sinh levels ``I_1, ..., I_k``: each level
    roughly doubles the correct digits, so ``|I - I_k| ~ 10^(D1^2/D2)`` with
    ``D1 = log10|I_k - I_{k-1}|``, ``D2 = log10|I_k - I_{k-2}|`` (Borwein, Bailey and
    Girgensohn; the estimate of ``mpmath.quad``), never below ``10^-dps``."""
    if len(results) == 2:
        return abs(results[-1] - results[-2])
    d1, d2 = abs(results[-1] - results[-2]), abs(results[-1] - results[-3])
    if d1 == 0 and d2 == 0:
        return mpmath.mpf(10) ** -dps
    if d1 == 0 or d2 == 0:
        return max(d1, d2)
    l1, l2 = mpmath.log10(d1), mpmath.log10(d2)
    return mpmath.mpf(10) ** int(min(0, max(l1**2 / l2, 2 * l1, -dps)))


def _fixed(x: mpmath.mpf, bits: int) -> int:
    """``round(x 2^bits)`` toward zero (mpmath's ``to_fixed`` floors negatives to -1)."""
    magnitude = mpmath.libmp.to_fixed(abs(x)._mpf_, bits)
    return -magnitude if x < 0 else magnitude


def _node_term(expr: sympy.Expr, g, x: mpmath.mpf, w: mpmath.mpf) -> mpmath.mpf:
    """``w g(x) e^{-x^2/2}`` at one quadrature node; a pole, a complex value or a term beyond
    2^:data:`_MAX_TERM_BITS` (the integral diverges) is refused naming ``expr``."""
    try:
        gx = g(x)
    except (ZeroDivisionError, ValueError, OverflowError) as err:
        raise NonFiniteError(f"{expr} cannot be evaluated at z = "
                             f"{mpmath.nstr(x, 8)} ({err or type(err).__name__})") from None
    if isinstance(gx, mpmath.mpc):
        if gx.imag != 0:
            raise ConfigError(f"{expr} is not real-valued at z = {float(x):.4g}")
        gx = gx.real
    term = w * gx * mpmath.exp(-x * x / 2)
    if not mpmath.isfinite(term) or mpmath.mag(term) > _MAX_TERM_BITS:
        raise ConfigError(
            f"E[f(z) He_m(z)] diverges for f = {expr}: f(z) phi(z) reaches "
            f"{mpmath.nstr(term / w, 3)} at z = {mpmath.nstr(x, 3)}; "
            f"functions must be square-integrable under N(0, 1)")
    return term


@functools.lru_cache(maxsize=256)
def _hermite_quadrature(expr: sympy.Expr, order: int, digits: int
                        ) -> tuple[tuple[mpmath.mpf, mpmath.mpf], ...]:
    """``(E[g He_m], error)`` for m = 0..order by one tanh-sinh pass per smooth segment.

    The sum ``sum_k w_k g(x_k) phi(x_k) He_m(x_k)`` is accumulated for every m at once
    in fixed point (Python integers), with ``He_{n+1} = x He_n - n He_{n-1}``: the
    nodes and ``g`` are evaluated once, not once per order.  ``He_m phi`` reaches
    ``sqrt(m!)``, so the working precision carries ``log10 sqrt(order!)`` more digits.
    """
    dps = digits + _GUARD + math.ceil(math.lgamma(order + 1) / (2 * math.log(10)))
    # weights carry `spare` more bits: a node whose weight truncates to 0 could
    # otherwise still matter once multiplied by He_m(x) ~ (|x| + m)^m.
    spare = order * math.ceil(math.log2(2 * order + 40)) + 16
    values = [mpmath.mpf(0)] * (order + 1)
    errors = [mpmath.mpf(0)] * (order + 1)
    with mpmath.workdps(dps):
        prec = mpmath.mp.prec
        bits = prec + 64
        rule = _tanh_sinh()
        max_degree = rule.guess_degree(prec) + 2
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        for lo, hi, piece in _segments(expr):
            g = _mp_callable(piece)
            a, b = _to_mp(lo), _to_mp(hi)
            history: list[list[mpmath.mpf]] = []
            for degree in range(1, max_degree + 1):
                sums = [0] * (order + 1)
                for x, w in rule.get_nodes(a, b, degree, prec):
                    _check_deadline()
                    weight = _fixed(_node_term(expr, g, x, w), bits + spare)
                    if weight == 0:
                        continue
                    sums[0] += weight
                    if order == 0:
                        continue
                    xf = _fixed(x, bits)
                    h0, h1 = 1 << bits, xf
                    sums[1] += (weight * h1) >> bits
                    for n in range(1, order):
                        h0, h1 = h1, ((xf * h1) >> bits) - n * h0
                        sums[n + 1] += (weight * h1) >> bits
                # tanh-sinh: level k halves the step and reuses the nodes of level k-1
                step = mpmath.ldexp(1, -degree)
                level = [mpmath.ldexp(mpmath.mpf(s), -(bits + spare)) * norm for s in sums]
                if history:
                    level = [prev / (2 * step) + cur for prev, cur in zip(history[-1], level)]
                history.append([step * v for v in level])
                if degree > 1:
                    est = [_error_estimate([h[m] for h in history], dps)
                           for m in range(order + 1)]
                    tol = [mpmath.mpf(10) ** -(digits + 3) * max(1, abs(history[-1][m]))
                           for m in range(order + 1)]
                    if all(e <= t for e, t in zip(est, tol)):
                        break
            for m in range(order + 1):
                values[m] += history[-1][m]
                errors[m] += est[m]
        out = []
        for m in range(order + 1):
            if not (mpmath.isfinite(values[m]) and mpmath.isfinite(errors[m])):
                raise NonFiniteError(f"quadrature of E[g(z) He_{m}(z)] for g = {expr} gave "
                                     f"{values[m]}")
            floor = mpmath.mpf(10) ** -(dps - 5) * max(1, abs(values[m]))
            out.append((values[m], max(errors[m], floor)))
    return tuple(out)


def _quadrature(expr: sympy.Expr, hermite_order: int, digits: int) -> Value:
    """``E[g(z) He_m(z)]`` by tanh-sinh quadrature (:func:`_hermite_quadrature`)."""
    batch = _batch_order(hermite_order)
    value, error = _hermite_quadrature(expr, batch, digits)[hermite_order]
    with mpmath.workdps(digits):
        numeric = +value
    # the returned number is rounded to `digits`: its error includes that rounding
    error = error + abs(value) * mpmath.mpf(10) ** -digits
    dps = digits + _GUARD + math.ceil(math.lgamma(batch + 1) / (2 * math.log(10)))
    return Value(value=None, numeric=numeric, exact=False, error=float(error), digits=digits,
                 reason=f"numerical: tanh-sinh quadrature at {dps} digits")
