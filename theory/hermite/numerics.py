"""mpmath evaluation of sympy expressions: exp, sinh and cosh saturate instead of
asking for astronomically many bits; non-smooth primitives come from
:data:`twostep.theory.nonsmooth.REGISTRY`."""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import sympy

from .. import nonsmooth
from ..errors import ConfigError
from ..functions import Z

#: ``exp`` of an argument beyond this (about 1e1233) is taken as +inf (or 0): its
#: value would have an exponent of more than 2^4096 bits, and mpmath (like sympy's
#: evalf) would need that many bits of working precision -- ``exp(exp(exp(40)))``
#: never returns.  Quadrature nodes stay below 1e300, so ordinary functions never
#: meet the cap.
_EXP_CAP = mpmath.mpf(2) ** 4096


def _capped_functions(flag: list) -> dict[str, Callable]:
    """exp, sinh, cosh that saturate to inf (recording it in ``flag``) past :data:`_EXP_CAP`."""
    def saturating(fn, odd: bool):
        def call(x):
            if isinstance(x, mpmath.mpf) and mpmath.isfinite(x) and abs(x) > _EXP_CAP:
                flag.append(True)
                if x > 0:
                    return mpmath.inf
                return -mpmath.inf if odd else (mpmath.inf if fn is not mpmath.exp
                                                else mpmath.mpf(0))
            return fn(x)
        return call

    return {"exp": saturating(mpmath.exp, False), "sinh": saturating(mpmath.sinh, True),
            "cosh": saturating(mpmath.cosh, False)}



def _mp_callable(expr: sympy.Expr, capped: dict[str, Callable] | None = None):
    """mpmath callable of ``expr``; exp, sinh and cosh saturate past :data:`_EXP_CAP`
    (``capped``: the saturating functions to use, default ones that record nothing)."""
    modules = [{**nonsmooth.lambdify_modules("mpmath"),
                **(capped if capped is not None else _capped_functions([]))}, "mpmath"]
    try:
        return sympy.lambdify(Z, expr, modules=modules, cse=True)
    except Exception as err:  # noqa: BLE001 - sympy's printers raise several types
        # an unevaluated Derivative (of floor, zeta, ...) has no mpmath form
        names = sorted({type(f).__name__ for f in expr.atoms(sympy.Derivative)} |
                       {str(d.expr.func) for d in expr.atoms(sympy.Derivative)})
        what = (f"sympy has no closed-form derivative of {', '.join(names[1:] or names)}"
                if expr.has(sympy.Derivative) else
                (str(err).splitlines()[0] if str(err) else type(err).__name__))
        raise ConfigError(f"cannot evaluate {expr} numerically: {what}") from None


def _to_mp(x: sympy.Expr):
    if x == sympy.oo:
        return mpmath.inf
    if x == -sympy.oo:
        return -mpmath.inf
    return mpmath.mpf(str(sympy.N(x, mpmath.mp.dps + 5)))
