"""The one registry of non-smooth primitives (kinks and jumps).

Every piece of code that treats a non-smooth function specially reads
:data:`REGISTRY`, keyed by sympy class:

- :mod:`.functions`: the names an expression string may use, ``Function.smooth``,
  the numpy implementation, and the refusal of a derivative holding a Dirac delta
  (``Function.numpy``; docs/theory.md: ``c_1 = E[sigma']`` counts a jump that
  gradient descent does not see);
- :mod:`.hermite`: where the branch switches (the kinks the exact integrals and
  the quadrature split at), which smooth branch holds between two kinks, and the
  mpmath implementation.

Adding a primitive is adding one :class:`NonSmooth` entry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy

from .errors import ConfigError
from .mpeval import mp_callable

__all__ = ["REGISTRY", "NonSmooth", "discontinuous", "entry", "is_smooth", "jump", "kinks",
           "lambdify_modules", "switches"]

#: ``resolve(e)``: the smooth branch of ``e`` at the current point (recursive).
Resolve = Callable[[sympy.Expr], sympy.Expr]


@dataclass(frozen=True)
class NonSmooth:
    """What the code needs to know about one non-smooth sympy class.

    ``names``: the names an expression string may call it by (the first is the
    one listed in error messages); empty when it cannot be written in a string.
    ``switches(node)``: expressions whose sign changes switch the branch of ``node``.
    ``branch(node, where, resolve)``: the smooth expression ``node`` equals around
    the point ``where`` (``{z: t}``, not a switching point); ``resolve`` gives the
    smooth branch of a sub-expression there.
    ``jumps``: True when the value jumps where a switch changes sign (its first
    derivative holds a Dirac delta: simulate refuses it), False for a kink (the
    first derivative is a step, the second holds the delta), None when it depends
    on the node (``jump(node)`` compares the two sides of each switching point).
    ``mpmath`` / ``numpy``: implementations for ``sympy.lambdify`` under the class
    name, or None where sympy's printer already gives the right one.
    """

    cls: type[sympy.Basic]
    switches: Callable[[sympy.Basic], list[sympy.Expr]]
    branch: Callable[[sympy.Basic, dict, Resolve], sympy.Expr]
    jumps: bool | None
    names: tuple[str, ...] = ()
    mpmath: Callable | None = field(default=None, compare=False)
    numpy: Callable | None = field(default=None, compare=False)


def _at(e: sympy.Expr, where: dict) -> sympy.Float:
    return sympy.N(e.subs(where), 30)


def _argument(node: sympy.Basic) -> list[sympy.Expr]:
    return [node.args[0]]


def _pairwise(node: sympy.Basic) -> list[sympy.Expr]:
    args = node.args
    return [args[i] - args[j] for i in range(len(args)) for j in range(i + 1, len(args))]


def _conditions(node: sympy.Basic) -> list[sympy.Expr]:
    return [rel.lhs - rel.rhs for _, cond in node.args
            for rel in cond.atoms(sympy.core.relational.Relational)]


def _abs_branch(node, where, resolve):
    a = resolve(node.args[0])
    return a if _at(a, where) >= 0 else -a


def _sign_branch(node, where, resolve):
    return sympy.S.One if _at(resolve(node.args[0]), where) > 0 else -sympy.S.One


def _heaviside_branch(node, where, resolve):
    return sympy.S.One if _at(resolve(node.args[0]), where) > 0 else sympy.S.Zero


def _max_branch(node, where, resolve):
    return max((resolve(a) for a in node.args), key=lambda e: _at(e, where))


def _min_branch(node, where, resolve):
    return min((resolve(a) for a in node.args), key=lambda e: _at(e, where))


def _piecewise_branch(node, where, resolve):
    for piece, cond in node.args:
        if bool(cond.subs(where)):
            return resolve(piece)
    at = ", ".join(f"{s} = {v}" for s, v in where.items())
    raise ConfigError(f"{node} is undefined at {at}; a Piecewise needs a branch for every z "
                     f"(end with (expr, True))")


def _mp_heaviside(x, h0=0.5):
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0) if x < 0 else mpmath.mpf(h0)


def _np_heaviside(x, h0=0.5):
    # a.e. derivatives of kinks: Heaviside(0) carries no mass
    return np.heaviside(x, h0)


#: The non-smooth primitives, in the order their names are listed to users.
REGISTRY: dict[type[sympy.Basic], NonSmooth] = {e.cls: e for e in (
    NonSmooth(sympy.Abs, _argument, _abs_branch, jumps=False, names=("Abs", "abs")),
    NonSmooth(sympy.Max, _pairwise, _max_branch, jumps=False, names=("Max", "max"),
              mpmath=max),
    NonSmooth(sympy.Min, _pairwise, _min_branch, jumps=False, names=("Min", "min"),
              mpmath=min),
    NonSmooth(sympy.Heaviside, _argument, _heaviside_branch, jumps=True, names=("Heaviside",),
              mpmath=_mp_heaviside, numpy=_np_heaviside),
    NonSmooth(sympy.sign, _argument, _sign_branch, jumps=True, names=("sign",),
              mpmath=mpmath.sign),
    NonSmooth(sympy.Piecewise, _conditions, _piecewise_branch, jumps=None),
)}


def entry(node: sympy.Basic) -> NonSmooth | None:
    """The registry entry of ``node``'s class (None for a smooth head)."""
    for cls, kind in REGISTRY.items():
        if isinstance(node, cls):
            return kind
    return None


def is_smooth(expr: sympy.Basic) -> bool:
    """No registered primitive occurs in ``expr``."""
    return not expr.has(*REGISTRY)


def kinks(expr: sympy.Basic) -> tuple[sympy.Basic, ...]:
    """The nodes of ``expr`` that are registered primitives depending on a symbol, in preorder:
    where ``expr`` kinks or jumps (``(Max(0, z),)`` for relu; ``()`` when :func:`is_smooth`)."""
    return tuple(node for node in sympy.preorder_traversal(expr)
                 if entry(node) is not None and node.free_symbols)


#: sympy functions with jumps that no :data:`REGISTRY` entry describes (an expression may
#: still use them through sympy's names; they are never smooth).
_JUMPING = (sympy.floor, sympy.ceiling, sympy.frac)


def _argument_poles(arg: sympy.Expr, x: sympy.Symbol) -> list[sympy.Expr]:
    """Real zeros of the polynomial denominators inside ``arg`` (``1/z`` in ``sin(1/z)``)."""
    out = []
    for node in sympy.preorder_traversal(arg):
        if (isinstance(node, sympy.Pow) and node.exp.is_negative and node.base.has(x)
                and node.base.is_polynomial(x)):
            out += sympy.Poly(node.base, x).real_roots()
    return out


def _continuous_at(node: sympy.Expr, x: sympy.Symbol, point: sympy.Expr) -> bool:
    """``node`` takes nearly one finite value at ``point +- 1e-20`` and ``+- 1.4e-20``
    (``exp(-1/z^2)``: yes; ``sin(1/z)``, ``cos(1/z)``, ``atan(1/z)``: no).  Evaluated by
    mpmath with exp/sinh/cosh saturating (:func:`.mpeval.mp_callable`; ``exp(exp(1/z))`` would
    never return in sympy)."""
    try:
        f = mp_callable(node, x, lambdify_modules("mpmath"))
        with mpmath.workdps(30):
            at = mpmath.mpf(str(sympy.N(point, 40)))
            values = [f(at + side * eps) for eps in (mpmath.mpf("1e-20"), mpmath.mpf("1.4e-20"))
                      for side in (1, -1)]
    except (ArithmeticError, ValueError, TypeError, ConfigError):
        return False
    if any(isinstance(v, mpmath.mpc) or not mpmath.isfinite(v) for v in values):
        return False
    return max(values) - min(values) < 1e-8


@functools.lru_cache(maxsize=1024)
def discontinuous(expr: sympy.Basic) -> bool:
    """``expr`` jumps or oscillates somewhere on the real line although no registered
    primitive occurs in it: ``floor``, ``ceiling``, ``frac``, or a function of an argument
    with a real pole where the function has no limit (``sin(1/z)``; ``exp(-1/z^2)`` is
    smooth).  Such a function is not smooth (``Function.smooth`` is False)."""
    if expr.has(*_JUMPING):
        return True
    symbols = expr.free_symbols
    if len(symbols) != 1:
        return False
    (x,) = symbols
    for node in sympy.preorder_traversal(expr):
        if not isinstance(node, sympy.Function) or not node.has(x):
            continue
        for arg in node.args:
            for pole in _argument_poles(arg, x):
                if not _continuous_at(node, x, pole):
                    return True
    return False


def switches(node: sympy.Basic) -> list[sympy.Expr]:
    """Expressions whose sign changes switch the branch of ``node`` ([] if smooth)."""
    kind = entry(node)
    return [] if kind is None else kind.switches(node)


def lambdify_modules(backend: str) -> dict[str, Callable]:
    """``{class name: implementation}`` of the registered primitives for ``backend``
    ("mpmath" or "numpy"), to go first in ``sympy.lambdify``'s ``modules``."""
    return {kind.cls.__name__: getattr(kind, backend) for kind in REGISTRY.values()
            if getattr(kind, backend) is not None}


def _jumps_here(node: sympy.Basic) -> bool:
    """A Piecewise-like node: do the two sides of a real switching point differ?"""
    symbols = node.free_symbols
    if len(symbols) != 1:
        return False
    (x,) = symbols
    eps = sympy.Rational(1, 10**20)
    for sw in switches(node):
        sw = sympy.expand(sw)
        if not sw.has(x) or not sw.is_polynomial(x):
            continue
        for r in sympy.Poly(sw, x).real_roots():
            left, right = (sympy.N(node.subs(x, r + side * eps), 30) for side in (-1, 1))
            if not (left.is_finite and right.is_finite) or abs(left - right) > 10**-10:
                return True
    return False


def jump(expr: sympy.Basic) -> sympy.Basic | None:
    """A sub-expression of ``expr`` whose value jumps (so the derivative of ``expr``
    holds a Dirac delta), or None."""
    for node in sympy.preorder_traversal(expr):
        kind = entry(node)
        if kind is None or not node.free_symbols:
            continue
        if kind.jumps or (kind.jumps is None and _jumps_here(node)):
            return node
    return None
