"""Parity: decided by 60-digit evaluation, then proved symbolically where sympy can."""

from __future__ import annotations

import functools
from fractions import Fraction

import mpmath
import sympy

from ..budget import _evaluates, _short
from ..errors import ConfigError
from ..functions import Function, Z
from .checks import _as_expr
from .kinks import _is_smooth, _pieces
from .results import Symmetry

# Parity checks by evaluation: precision and tolerance (relative to the size of f).
_PARITY_DPS = 60
_PARITY_TOL = mpmath.mpf(10) ** -45
_PARITY_POINTS = tuple(sympy.Rational(p, 10**10) for p in (
    5772156649, 13247179572, 22360679775, 3183098862,
    31415926536, 7071067812, 46692016091, 17320508076))

# Symbolic parity proofs are attempted only on expressions up to this many operations.
_SIMPLIFY_OPS = 40


def _numbers_at(expr: sympy.Expr) -> list[tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]]:
    out = []
    with mpmath.workdps(_PARITY_DPS):
        for x in _PARITY_POINTS:
            plus = sympy.N(expr.subs(Z, x), _PARITY_DPS)
            minus = sympy.N(expr.subs(Z, -x), _PARITY_DPS)
            if not (plus.is_real and minus.is_real):
                raise ConfigError(f"function {expr} is not real-valued at z = +-{float(x):.4g}")
            out.append((mpmath.mpf(str(x.p)) / x.q, mpmath.mpf(str(plus)),
                        mpmath.mpf(str(minus))))
    return out


def _rational_guess(x: mpmath.mpf, tol: mpmath.mpf) -> sympy.Rational | None:
    guess = Fraction(mpmath.nstr(x, _PARITY_DPS - 5)).limit_denominator(10**6)
    if abs(x - mpmath.mpf(guess.numerator) / guess.denominator) <= tol:
        return sympy.Rational(guess.numerator, guess.denominator)
    return None


def _light_simplify(expr: sympy.Expr) -> sympy.Expr:
    """A cheap normal form: expand, combine logs, then cancel in exp (tanh, sigmoid,
    silu, softplus)."""
    e = sympy.expand(expr)
    if sympy.count_ops(e) > _SIMPLIFY_OPS:
        return e  # rewriting a long expression in exp and cancelling can take minutes
    if e.has(Z) and _is_smooth(e) and e.has(sympy.log):
        # log(a) - log(b) = log(a/b) holds wherever f is real (a, b > 0): softplus
        e = sympy.logcombine(e, force=True).replace(
            lambda x: isinstance(x, sympy.log),
            lambda x: sympy.log(sympy.cancel(sympy.expand(x.args[0].rewrite(sympy.exp)))))
        e = sympy.expand(e)
    if e.has(Z) and _is_smooth(e) and e.has(sympy.exp):
        # sigmoid and silu: a rational function of exp(z).  tanh alone is left to
        # expand (tanh(-z) = -tanh(z) already); rewriting powers of tanh in exp and
        # cancelling can take minutes.
        if e.has(sympy.tanh, sympy.sinh, sympy.cosh):
            e = sympy.expand(e.rewrite([sympy.tanh, sympy.sinh, sympy.cosh], sympy.exp))
        e = sympy.cancel(e)
    return e


def _mirrored_parts(expr: sympy.Expr) -> list[tuple[sympy.Expr, sympy.Expr]] | None:
    """Pairs ``(f(z), f(-z))`` as smooth expressions valid on a common interval, for a
    symbolic parity proof: one pair for smooth f; for piecewise f one pair per piece,
    provided the kinks are symmetric about 0 (else None)."""
    if _is_smooth(expr):
        return [(expr, expr.subs(Z, -Z))]
    pieces = _pieces(expr)
    if pieces is None:
        return None
    by_interval = {(lo, hi): piece for lo, hi, piece in pieces}
    pairs = []
    for (lo, hi), piece in by_interval.items():
        mirror = by_interval.get((-hi, -lo))
        if mirror is None:
            return None
        pairs.append((piece, mirror.subs(Z, -Z)))
    return pairs


@functools.lru_cache(maxsize=512)
@_evaluates(lambda expr: f"the parity of {_short(expr)}")
def _symmetry(expr: sympy.Expr) -> Symmetry:
    if expr.is_polynomial(Z):
        p = sympy.Poly(expr, Z)
        even = [d for (d,), c in p.terms() if d % 2 == 0 and c != 0]
        odd = {d: c for (d,), c in p.terms() if d % 2 == 1 and c != 0}
        even_part = "zero" if not even else "constant" if even == [0] else "general"
        odd_part = "zero" if not odd else "linear" if list(odd) == [1] else "general"
        return Symmetry(even_part, odd_part,
                        constant=p.coeff_monomial(1) if even_part == "constant" else None,
                        slope=odd.get(1) if odd_part == "linear" else None,
                        how_even="polynomial", how_odd="polynomial")
    # Decide by 60-digit evaluation first (cheap), then try to prove symbolically
    # only the parts that the numbers say are zero, constant or linear.
    values = _numbers_at(expr)
    checked = f"checked to 1e-45 at {len(values)} points"
    with mpmath.workdps(_PARITY_DPS):
        scale = max([mpmath.mpf(1)] + [max(abs(p), abs(m)) for _, p, m in values])
        tol = _PARITY_TOL * scale
        evens = [(p + m) / 2 for _, p, m in values]
        slopes = [(p - m) / (2 * x) for x, p, m in values]
        if all(abs(e) <= tol for e in evens):
            even = ["zero", None, checked]
        elif all(abs(e - evens[0]) <= tol for e in evens):
            even = ["constant", _rational_guess(evens[0], tol), checked]
        else:
            even = ["general", None, checked]
        if all(abs(v) <= tol for v in slopes):
            odd = ["zero", None, checked]
        elif all(abs(v - slopes[0]) <= tol for v in slopes):
            odd = ["linear", _rational_guess(slopes[0], tol), checked]
        else:
            odd = ["general", None, checked]
    if even[0] != "general" or odd[0] != "general":
        parts = _mirrored_parts(expr)
        if parts is not None and even[0] != "general":
            found = {_light_simplify((p + q) / 2) for p, q in parts}
            if len(found) == 1 and not next(iter(found)).has(Z):
                value = found.pop()
                even = ["zero" if value == 0 else "constant",
                        None if value == 0 else value, "proved symbolically"]
        if parts is not None and odd[0] != "general":
            found = {_light_simplify((p - q) / 2) for p, q in parts}
            if found == {0}:
                odd = ["zero", None, "proved symbolically"]
            else:
                slopes_sym = {_light_simplify(o / Z) for o in found}
                if len(slopes_sym) == 1 and not next(iter(slopes_sym)).has(Z):
                    odd = ["linear", slopes_sym.pop(), "proved symbolically"]
    return Symmetry(even[0], odd[0], constant=even[1], slope=odd[1],
                    how_even=even[2], how_odd=odd[2])


def symmetry(f: str | Function | sympy.Expr) -> Symmetry:
    """Parity structure of f (see :class:`Symmetry`)."""
    return _symmetry(_as_expr(f))


def parity(f: str | Function | sympy.Expr) -> str:
    """"odd" | "even" | "linear+even" (``f - c_1 z`` even: relu, gelu, silu,
    softplus) | "none".  A function that is odd up to a constant (sigmoid) is
    "none" here; :func:`symmetry` gives the finer structure."""
    return _symmetry(_as_expr(f)).kind
