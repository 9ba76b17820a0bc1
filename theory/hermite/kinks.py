"""Kinks: the switching points of non-smooth expressions and their smooth pieces.

What each primitive contributes (its switches, its branch between them) is read
from :data:`twostep.theory.nonsmooth.REGISTRY`.
"""

from __future__ import annotations

import functools

import sympy

from .. import nonsmooth
from ..functions import Z

_is_smooth = nonsmooth.is_smooth
_switches = nonsmooth.switches


def _sample_points(breaks: list[sympy.Expr]) -> list[sympy.Expr]:
    if not breaks:
        return [sympy.S.Zero]
    pts = [breaks[0] - 1]
    pts += [(a + b) / 2 for a, b in zip(breaks[:-1], breaks[1:])]
    pts.append(breaks[-1] + 1)
    return pts


def _resolve(expr: sympy.Expr, t: sympy.Expr) -> sympy.Expr:
    """The smooth branch of ``expr`` valid around the point ``t`` (not a kink); each
    non-smooth node gives its branch by its registry entry (``NonSmooth.branch``)."""
    if not expr.args or _is_smooth(expr):
        return expr
    kind = nonsmooth.entry(expr)
    if kind is None:
        return expr.func(*[_resolve(a, t) for a in expr.args])
    return kind.branch(expr, {Z: t}, lambda e: _resolve(e, t))


@functools.lru_cache(maxsize=512)
def _pieces(expr: sympy.Expr) -> tuple[tuple[sympy.Expr, sympy.Expr, sympy.Expr], ...] | None:
    """``expr`` as smooth pieces ``(lo, hi, piece)`` between its kinks, or None when a
    switching point is not a root of a polynomial (then it is integrated as is)."""
    breaks: list[sympy.Expr] = []
    for _ in range(8):  # nested kinks: refine until no new switching point appears
        new = []
        for t in _sample_points(breaks):
            for node in sympy.preorder_traversal(expr):
                for sw in _switches(node):
                    sw = sympy.expand(_resolve(sw, t))
                    if not sw.has(Z):
                        continue
                    if not sw.is_polynomial(Z):
                        return None
                    for r in sympy.Poly(sw, Z).real_roots():
                        if all(sympy.simplify(r - b) != 0 for b in breaks + new):
                            new.append(r)
        if not new:
            break
        breaks = sorted(breaks + new, key=lambda r: sympy.N(r, 30))
    else:
        return None
    edges = [-sympy.oo, *breaks, sympy.oo]
    return tuple((lo, hi, _resolve(expr, t))
                 for lo, hi, t in zip(edges[:-1], edges[1:], _sample_points(breaks)))
