"""mpmath evaluation of sympy expressions: exp, sinh and cosh saturate instead of asking for
astronomically many bits.

:func:`mp_callable` takes the variable and the implementations of the non-smooth primitives as
arguments, so this module sits below both users: :mod:`.nonsmooth` (whose
:func:`~.nonsmooth.discontinuous` evaluates an expression next to a pole) and
:mod:`.hermite.numerics` (``z`` and the mpmath implementations of
:data:`.nonsmooth.REGISTRY`).
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import sympy

from .errors import ConfigError

__all__ = ["mp_callable"]

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


def mp_callable(expr: sympy.Expr, symbol: sympy.Symbol, primitives: dict[str, Callable],
                capped: dict[str, Callable] | None = None):
    """mpmath callable of ``expr`` in ``symbol``; ``primitives``: ``{class name:
    implementation}`` of the non-smooth primitives (``nonsmooth.lambdify_modules("mpmath")``);
    exp, sinh and cosh saturate past :data:`_EXP_CAP` (``capped``: the saturating functions
    to use, default ones that record nothing).  An expression mpmath cannot evaluate is a
    one-line :class:`ConfigError`."""
    modules = [{**primitives,
                **(capped if capped is not None else _capped_functions([]))}, "mpmath"]
    try:
        return sympy.lambdify(symbol, expr, modules=modules, cse=True)
    except Exception as err:  # noqa: BLE001 - sympy's printers raise several types
        # an unevaluated Derivative (of floor, zeta, ...) has no mpmath form
        names = sorted({type(f).__name__ for f in expr.atoms(sympy.Derivative)} |
                       {str(d.expr.func) for d in expr.atoms(sympy.Derivative)})
        what = (f"sympy has no closed-form derivative of {', '.join(names[1:] or names)}"
                if expr.has(sympy.Derivative) else
                (str(err).splitlines()[0] if str(err) else type(err).__name__))
        raise ConfigError(f"cannot evaluate {expr} numerically: {what}") from None
