"""Closed-form Gaussian algebra: ``E[poly x exp(quadratic) x erf(linear)]`` over the
line, and erf-free terms over intervals (the identities are in the package docstring)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import sympy

from ..errors import ConfigError, NonFiniteError
from ..functions import Z
from .kinks import _is_smooth, _pieces

_U = sympy.Symbol("u", real=True)
_SQRT_2PI = sympy.sqrt(2 * sympy.pi)


@functools.lru_cache(maxsize=256)
def _hermite_poly(m: int) -> sympy.Poly:
    return sympy.Poly(sympy.hermite_prob(m, Z), Z)


def _poly_expectation(q: sympy.Poly) -> sympy.Expr:
    """``E[q(u)]`` for a polynomial q in one variable: ``E[u^n] = (n-1)!!`` for even n."""
    total = sympy.S.Zero
    for (n,), c in q.terms():
        if n % 2 == 0:
            total += c * sympy.factorial2(n - 1)
    return total


def _monomial_in_hermite(k: int) -> dict[int, sympy.Rational]:
    """``u^k = sum_j k! / (j! 2^i i!) He_j(u)``, ``k - j = 2i``."""
    return {k - 2 * i: sympy.Rational(math.factorial(k),
                                      math.factorial(k - 2 * i) * 2**i * math.factorial(i))
            for i in range(k // 2 + 1)}


@dataclass(frozen=True)
class _Term:
    """``coef * q(z) * exp(A z^2 + B z + C) * erf(a z + b)`` (erf factor optional)."""

    coef: sympy.Expr
    q: sympy.Poly
    A: sympy.Expr
    B: sympy.Expr
    C: sympy.Expr
    erf: tuple[sympy.Expr, sympy.Expr] | None = None

    def times(self, p: sympy.Poly) -> _Term:
        return _Term(self.coef, self.q * p, self.A, self.B, self.C, self.erf)


def _completed_square(t: _Term) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    """``E[g(z) e^{A z^2 + B z + C}] = pref * E[g(mu + s u)]``: returns (pref, mu, s)."""
    if not (t.A < sympy.Rational(1, 2)):
        raise ConfigError(f"the Gaussian expectation of a term growing like exp({t.A}*z**2) "
                          f"diverges; functions must be square-integrable under N(0, 1)")
    if t.A == 0:
        s2 = s = sympy.S.One
    else:
        s2 = 1 / (1 - 2 * t.A)
        s = sympy.sqrt(s2)
    mu = s2 * t.B
    pref = sympy.exp(t.C) * s * sympy.exp(s2 * t.B**2 / 2)
    return pref, mu, s


def _shifted(q: sympy.Poly, mu: sympy.Expr, s: sympy.Expr) -> sympy.Poly:
    if mu == 0 and s == 1:
        return sympy.Poly(q.as_expr().subs(Z, _U), _U)
    return sympy.Poly(sympy.expand(q.as_expr().subs(Z, mu + s * _U)), _U)


def _term_expectation(t: _Term) -> sympy.Expr:
    """``E[t(z)]`` over the whole line (module docstring for the identities)."""
    pref, mu, s = _completed_square(t)
    qt = _shifted(t.q, mu, s)
    if t.erf is None:
        return t.coef * pref * _poly_expectation(qt)
    a, b = t.erf
    alpha, beta = a * s, a * mu + b
    # qt = sum_j h_j He_j(u); then E[He_j erf(alpha u + beta)] by Stein.
    hermite: dict[int, sympy.Expr] = {}
    for (k,), c in qt.terms():
        for j, w in _monomial_in_hermite(k).items():
            hermite[j] = hermite.get(j, 0) + c * w
    total = sympy.S.Zero
    for j, h in hermite.items():
        if h == 0:
            continue
        if j == 0:
            total += h * sympy.erf(beta / sympy.sqrt(1 + 2 * alpha**2))
            continue
        # erf^{(j)}(x) = 2/sqrt(pi) (-1)^{j-1} H_{j-1}(x) exp(-x^2), x = alpha u + beta
        x = alpha * _U + beta
        hq = sympy.Poly(sympy.expand(sympy.hermite(j - 1, x)), _U)
        inner = _Term(sympy.S.One, sympy.Poly(hq.as_expr().subs(_U, Z), Z),
                      -alpha**2, -2 * alpha * beta, -beta**2)
        total += (h * alpha**j * 2 / sympy.sqrt(sympy.pi) * (-1) ** (j - 1)
                  * _term_expectation(inner))
    return t.coef * pref * total


def _Phi(x: sympy.Expr) -> sympy.Expr:
    if x == sympy.oo:
        return sympy.S.One
    if x == -sympy.oo:
        return sympy.S.Zero
    return (1 + sympy.erf(x / sympy.sqrt(2))) / 2


def _phi(x: sympy.Expr) -> sympy.Expr:
    if x in (sympy.oo, -sympy.oo):
        return sympy.S.Zero
    return sympy.exp(-x**2 / 2) / _SQRT_2PI


def _interval_moments(n: int, lo: sympy.Expr, hi: sympy.Expr) -> list[sympy.Expr]:
    """``J_k = int_lo^hi u^k phi(u) du`` for k = 0..n (module docstring recursion)."""
    def edge(x: sympy.Expr, power: int) -> sympy.Expr:
        return sympy.S.Zero if x in (sympy.oo, -sympy.oo) else x**power * _phi(x)

    out = [_Phi(hi) - _Phi(lo)]
    if n >= 1:
        out.append(_phi(lo) - _phi(hi))
    for k in range(2, n + 1):
        out.append(edge(lo, k - 1) - edge(hi, k - 1) + (k - 1) * out[k - 2])
    return out


def _term_interval(t: _Term, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    """``int_lo^hi t(z) phi(z) dz`` for an erf-free term with real B."""
    pref, mu, s = _completed_square(t)
    qt = _shifted(t.q, mu, s)
    ulo = lo if lo in (sympy.oo, -sympy.oo) else (lo - mu) / s
    uhi = hi if hi in (sympy.oo, -sympy.oo) else (hi - mu) / s
    moments = _interval_moments(qt.degree(), ulo, uhi)
    return t.coef * pref * sum((c * moments[k] for (k,), c in qt.terms()), sympy.S.Zero)


def _quadratic(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr] | None:
    expr = sympy.expand(expr)
    if not expr.is_polynomial(Z):
        return None
    p = sympy.Poly(expr, Z)
    if p.degree() > 2:
        return None
    c = p.all_coeffs()[::-1] + [sympy.S.Zero] * 2
    return c[2], c[1], c[0]


def _linear(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr] | None:
    quad = _quadratic(expr)
    if quad is None or quad[0] != 0:
        return None
    return quad[1], quad[2]


_EXP_REWRITE = (sympy.sin, sympy.cos, sympy.sinh, sympy.cosh)


@functools.lru_cache(maxsize=1024)
def _closed_terms(expr: sympy.Expr, allow_erf: bool = True) -> tuple[_Term, ...] | None:
    """Split a smooth ``expr`` into :class:`_Term` s, or None if its shape does
    not close (module docstring).  Decided by inspecting factors only."""
    if not _closable_shape(expr):
        return None
    e = expr.rewrite(sympy.erfc, sympy.erf) if expr.has(sympy.erfc) else expr
    if e.has(*_EXP_REWRITE):
        e = e.rewrite(list(_EXP_REWRITE), sympy.exp)
    e = sympy.expand(e)
    terms = []
    for term in sympy.Add.make_args(e):
        coef, poly, expo, erfs = sympy.S.One, sympy.S.One, sympy.S.Zero, []
        for factor in sympy.Mul.make_args(term):
            if not factor.has(Z):
                coef *= factor
            elif factor.is_polynomial(Z):
                poly *= factor
            elif isinstance(factor, sympy.exp):
                expo += factor.args[0]
            elif (isinstance(factor, sympy.Pow) and isinstance(factor.base, sympy.exp)
                  and factor.exp.is_Integer):
                expo += factor.base.args[0] * factor.exp
            elif isinstance(factor, sympy.erf):
                erfs.append(factor.args[0])
            else:
                return None
        if len(erfs) > 1 or (erfs and not allow_erf):
            return None
        quad = _quadratic(expo)
        if quad is None or not quad[0].is_real:
            return None
        erf = None
        if erfs:
            lin = _linear(erfs[0])
            if lin is None or not all(v.is_real for v in lin) or not quad[1].is_real:
                return None
            erf = lin
        terms.append(_Term(coef, sympy.Poly(poly, Z), quad[0], quad[1], quad[2], erf))
    return tuple(terms)


_CLOSED_FUNCS = (sympy.exp, sympy.erf, sympy.erfc, *_EXP_REWRITE)


def _closable_shape(expr: sympy.Expr) -> bool:
    """Cheap structural test run before any expansion: only sums, products, integer
    powers (negative ones of exp only), exp/sin/cos/sinh/cosh/erf/erfc may touch z."""
    if not expr.has(Z) or expr == Z:
        return True
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        return all(_closable_shape(a) for a in expr.args)
    if isinstance(expr, sympy.Pow):
        if expr.exp.has(Z) or not expr.exp.is_Integer:
            return False
        if expr.exp < 0 and not isinstance(expr.base, sympy.exp):
            return False
        return _closable_shape(expr.base)
    if isinstance(expr, _CLOSED_FUNCS):
        return all(_closable_shape(a) for a in expr.args)
    return False


def _tidy(value: sympy.Expr) -> sympy.Expr:
    value = sympy.expand(value)
    if value.has(sympy.I):
        value = sympy.expand(sympy.expand_complex(value))
        re, im = value.as_real_imag()
        if im != 0 and abs(sympy.N(im, 50)) > sympy.Float(10) ** -40:
            raise NonFiniteError(f"Gaussian expectation has imaginary part {im}")
        value = sympy.expand(re)
    if value != 0 and value.is_number and abs(sympy.N(value, 60)) < sympy.Float(10) ** -50:
        # an unsimplified exact zero (sums of radicals); simplify only tiny values
        simple = sympy.simplify(value)
        if simple == 0:
            return sympy.S.Zero
    return value





def _exact_expectation(expr: sympy.Expr, hermite_order: int) -> tuple[sympy.Expr, str] | None:
    """Closed form of ``E[expr He_m]`` when the shape allows, else None."""
    he = _hermite_poly(hermite_order)
    if _is_smooth(expr):
        terms = _closed_terms(expr)
        if terms is None:
            return None
        value = sum((_term_expectation(t.times(he)) for t in terms), sympy.S.Zero)
        how = ("exact: Gaussian moments of a polynomial" if expr.is_polynomial(Z) else
               "exact: Gaussian integral of polynomial x exp(quadratic) x erf(linear)")
        return _tidy(value), how
    pieces = _pieces(expr)
    if pieces is None:
        return None
    value = sympy.S.Zero
    for lo, hi, piece in pieces:
        terms = _closed_terms(piece, allow_erf=False)
        if terms is None or not all(t.B.is_real for t in terms):
            return None
        value += sum((_term_interval(t.times(he), lo, hi) for t in terms), sympy.S.Zero)
    return _tidy(value), "exact: piecewise, interval integrals of polynomial x phi"
