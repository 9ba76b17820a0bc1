"""mpmath evaluation of sympy expressions in ``z``: exp, sinh and cosh saturate instead of
asking for astronomically many bits (:mod:`twostep.theory.mpeval`); non-smooth primitives come
from :data:`twostep.theory.nonsmooth.REGISTRY`."""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import sympy

from .. import nonsmooth
from ..functions import Z
from ..mpeval import mp_callable


def _mp_callable(expr: sympy.Expr, capped: dict[str, Callable] | None = None):
    """mpmath callable of ``expr`` in ``z`` (:func:`twostep.theory.mpeval.mp_callable` with the
    mpmath implementations of :data:`twostep.theory.nonsmooth.REGISTRY`); exp, sinh and cosh
    saturate past :data:`_EXP_CAP` (``capped``: the saturating functions to use, default ones
    that record nothing)."""
    return mp_callable(expr, Z, nonsmooth.lambdify_modules("mpmath"), capped)


def _to_mp(x: sympy.Expr):
    if x == sympy.oo:
        return mpmath.inf
    if x == -sympy.oo:
        return -mpmath.inf
    return mpmath.mpf(str(sympy.N(x, mpmath.mp.dps + 5)))
