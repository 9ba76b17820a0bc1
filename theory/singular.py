"""The one rule for singularities on the real line: a function that is infinite or not real at
a real point (a pole of ``1/z`` or ``tan(z)``, the logarithmic singularity of ``log(z)``, the
branch point of ``sqrt(z)``, the essential singularity of ``exp(1/z)``) has Gaussian
expectations that diverge, of itself or of its derivatives, so the theory refuses it, naming
the point (:func:`real_singularity`, called by :func:`.functions.parse_function` and by
``theory.hermite`` for a sympy expression).

Where such a point can be: every primitive of the expression that is singular where its
argument takes some values (a negative or fractional power of ``b`` where ``b = 0``, ``log(a)``
where ``a = 0``, ``tan``/``sec`` at ``pi/2 + k pi``, ``cot``/``csc`` at ``k pi``).  The points are
found exactly for a polynomial argument (its real roots; the pole of ``tan`` of an affine
argument nearest to 0), else numerically on [-40, 40] (where the Gaussian weight is above
1e-348, the float64 range): a change of sign or of the level crossed between two nodes of a
grid of step 1/200, or a minimum of ``|b|`` near 0, refined by bisection or golden section to
50 digits.  Each point is then confirmed on the whole function: at ``p +- 1e-8, 1e-16, 1e-24,
1e-32`` it is not finite or not real, or its size grows steadily (a removable singularity,
``sin(z)/z``, is accepted; so are ``exp(-1/z^2)``, which tends to 0, and the bounded
oscillation of ``sin(1/z)``, which is non-smooth, not infinite).

The work is bounded: at most :data:`MAX_PRIMITIVES` primitives, :data:`MAX_POINTS` points
each, a fixed grid and a fixed number of refinement steps.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy

from . import nonsmooth
from .errors import ConfigError
from .mpeval import mp_callable

__all__ = ["MAX_POINTS", "MAX_PRIMITIVES", "Singularity", "real_singularity"]

#: Most primitives of one expression examined, and most candidate points of one primitive.
MAX_PRIMITIVES = 64
MAX_POINTS = 8
#: Half-width of the numerical search, and its grid's nodes.
_REACH, _NODES = 40.0, 16001
#: Working digits of the refinement and the confirmation; the distances of the confirmation.
_DPS = 60
_EPS = ("1e-8", "1e-16", "1e-24", "1e-32")
#: Entire functions: a pole of their argument is an essential singularity.
_ENTIRE = (sympy.exp, sympy.sin, sympy.cos, sympy.sinh, sympy.cosh, sympy.erf, sympy.erfc)


@dataclass(frozen=True)
class Singularity:
    """A real point where the function is infinite or not real: ``kind`` ("a pole", ...),
    ``point`` (exact when known, else an mpmath number), ``side`` (" , not real-valued below
    it" or ""), :meth:`where` (``"z = pi/2 (1.5708)"``)."""

    kind: str
    point: object
    side: str = ""

    def where(self) -> str:
        if isinstance(self.point, sympy.Basic):
            if isinstance(self.point, sympy.Rational):
                return f"z = {self.point}"
            text = str(self.point)
            if len(text) <= 24 and not self.point.has(sympy.CRootOf):
                return f"z = {text} ({float(self.point):.6g})"
            return f"z = {float(self.point):.6g}"
        return f"z = {float(self.point):.6g}"

    def message(self, name: str) -> str:
        return (f"function {name} has a singularity on the real line: {self.kind} at "
                f"{self.where()}{self.side}; expected a function that is finite and real on "
                f"the whole line (square-integrable under N(0, 1) with its derivatives: at a "
                f"singularity their Gaussian expectation diverges)")


def _primitives(expr: sympy.Expr, x: sympy.Symbol) -> list[tuple[sympy.Expr, tuple, str]]:
    """``(argument, levels, kind)`` of each primitive of ``expr`` that is singular where its
    argument takes a level: ``levels`` is ``()`` for the zeros, ``(offset, period)`` for
    ``offset + k period``."""
    out: list[tuple[sympy.Expr, tuple, str]] = []

    def visit(node: sympy.Basic, entire: bool) -> None:
        if len(out) >= MAX_PRIMITIVES or not node.has(x):
            return
        found = None
        if isinstance(node, sympy.Pow) and node.base.has(x) and not node.exp.has(x):
            if node.exp.is_negative:
                found = (node.base, (), "a pole" if node.exp.is_integer else "a branch point")
            elif not node.exp.is_integer:
                found = (node.base, (), "a branch point")
        elif isinstance(node, sympy.log):
            found = (node.args[0], (), "a logarithmic singularity")
        elif isinstance(node, (sympy.tan, sympy.sec)):
            found = (node.args[0], (sympy.pi / 2, sympy.pi), "a pole")
        elif isinstance(node, (sympy.cot, sympy.csc)):
            found = (node.args[0], (sympy.S.Zero, sympy.pi), "a pole")
        if found is not None:
            out.append(found if not entire else (*found[:2], "an essential singularity"))
        inner = entire or isinstance(node, _ENTIRE)
        for arg in node.args:
            visit(arg, inner)

    visit(expr, False)
    return out


def _exact_points(arg: sympy.Expr, levels: tuple, x: sympy.Symbol) -> list | None:
    """The points exactly, for a polynomial argument with rational coefficients (its real
    roots; the levels of an affine argument nearest to 0), or None (search numerically)."""
    if not arg.is_polynomial(x):
        return None
    poly = sympy.Poly(arg, x)
    if not poly.domain.is_QQ and not poly.domain.is_ZZ or poly.degree() > 30:
        return None
    if not levels:
        return list(poly.real_roots())[:MAX_POINTS * 4]
    if poly.degree() != 1:
        return None
    s, c = poly.all_coeffs()
    offset, period = levels
    k0 = sympy.floor((c - offset) / period)  # x = (offset + k period - c) / s is near 0
    return [sympy.nsimplify((offset + k * period - c) / s) for k in range(k0 - 1, k0 + 3)]


def _grid_points(arg: sympy.Expr, levels: tuple, x: sympy.Symbol) -> list:
    """Candidate points on [-40, 40]: a change of sign (or of the level crossed) between two
    grid nodes, refined by bisection; a minimum of ``|arg - level|`` near 0, refined by
    golden section."""
    grid = np.linspace(-_REACH, _REACH, _NODES)
    try:
        fn = sympy.lambdify(x, arg, modules=[nonsmooth.lambdify_modules("numpy"), "numpy"])
        with np.errstate(all="ignore"):
            values = np.broadcast_to(np.asarray(fn(grid), dtype=complex), grid.shape)
    except Exception:  # noqa: BLE001 - an argument numpy cannot evaluate has no grid search
        return []
    offset, period = (float(levels[0]), float(levels[1])) if levels else (0.0, 0.0)
    real = np.where(np.isfinite(values) & (values.imag == 0), values.real, np.nan)
    u = (real - offset) / period if levels else real
    level = np.floor(u) if levels else np.sign(u)
    ok = np.isfinite(u[:-1]) & np.isfinite(u[1:])
    crossings = np.flatnonzero(ok & (level[:-1] != level[1:]))
    distance = np.abs(u - np.round(u)) if levels else np.abs(u)
    inner = distance[1:-1]
    minima = 1 + np.flatnonzero((inner <= distance[:-2]) & (inner <= distance[2:])
                                & (inner < 1e-3))
    order = sorted([(abs(grid[i]), "cross", i) for i in crossings]
                   + [(abs(grid[i]), "min", i) for i in minima])[:MAX_POINTS]
    mp_arg = mp_callable(arg, x, nonsmooth.lambdify_modules("mpmath"))
    points = []
    for _, how, i in order:
        if how == "cross":
            k = max(level[i], level[i + 1]) if levels else 0
            refine, lo, hi = _bisect, grid[i], grid[i + 1]
        else:
            k = np.round(u[i]) if levels else 0
            refine, lo, hi = _golden, grid[i - 1], grid[i + 1]
        target = levels[0] + int(k) * levels[1] if levels else sympy.S.Zero
        with mpmath.workdps(_DPS + 40):
            try:
                points.append(refine(mp_arg, mpmath.mpf(lo), mpmath.mpf(hi),
                                     mpmath.mpf(sympy.N(target, _DPS + 40))))
            except (ArithmeticError, ValueError, TypeError):
                continue
    return points


def _bisect(fn, a, b, target):
    """A change of sign of ``re fn - target`` in ``[a, b]``, to about 1e-60."""
    fa = mpmath.re(fn(a)) - target
    for _ in range(200):
        m = (a + b) / 2
        fm = mpmath.re(fn(m)) - target
        if (fm > 0) == (fa > 0):
            a, fa = m, fm
        else:
            b = m
    return (a + b) / 2


def _golden(fn, a, b, target):
    """The minimum of ``|fn - target|`` in ``[a, b]`` by golden section, to about 1e-60."""
    ratio = (mpmath.sqrt(5) - 1) / 2
    for _ in range(300):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if abs(fn(c) - target) < abs(fn(d) - target):
            b = d
        else:
            a = c
    return (a + b) / 2


def _confirm(f, point) -> str | None:
    """``None`` when ``f`` stays finite, real and not growing next to ``point`` on both sides;
    else ``""`` (it grows or is infinite) or ``", not real-valued below it"`` / ``above``."""
    with mpmath.workdps(_DPS):
        p = mpmath.mpf(sympy.N(point, _DPS)) if isinstance(point, sympy.Basic) else point
        result = None
        for side, word in ((-1, "below"), (1, "above")):
            try:
                values = [f(p + side * mpmath.mpf(eps)) for eps in _EPS]
            except (ArithmeticError, ValueError, TypeError):
                return ""
            if any(isinstance(v, mpmath.mpc) and v.imag != 0 for v in values):
                return f", not real-valued {word} it"
            sizes = [abs(mpmath.re(v)) for v in values]
            if any(not mpmath.isfinite(s) for s in sizes):
                result = ""
            elif sizes[0] > 0 and all(b >= 1.1 * a for a, b in zip(sizes, sizes[1:])) \
                    and sizes[-1] >= 4 * sizes[0]:
                result = ""
        return result


@functools.lru_cache(maxsize=512)
def real_singularity(expr: sympy.Expr, x: sympy.Symbol) -> Singularity | None:
    """The real singularity of ``expr`` nearest to 0 among those of each primitive (module
    docstring), or None."""
    primitives = _primitives(expr, x)
    if not primitives:
        return None
    try:
        f = mp_callable(expr, x, nonsmooth.lambdify_modules("mpmath"))
    except ConfigError:  # mpmath cannot evaluate it: the evaluations refuse it themselves
        return None
    for arg, levels, kind in primitives:
        points = _exact_points(arg, levels, x)
        if points is None:
            points = _grid_points(arg, levels, x)
        # nearest to 0 first, +p before -p
        points = sorted(points, key=lambda p: (abs(float(p)), float(p) < 0))[:MAX_POINTS]
        for point in points:
            side = _confirm(f, point)
            if side is not None:
                exact = point if isinstance(point, sympy.Basic) else _recognised(point)
                return Singularity(kind, exact, side)
    return None


def _recognised(point):
    """``point`` (an mpmath number) as a short exact number where one within 1e-40 exists
    (0, pi, sqrt(2*pi)/2), else itself."""
    with mpmath.workdps(_DPS):
        exact = sympy.nsimplify(sympy.Float(point, _DPS), [sympy.pi], tolerance=1e-40)
        if len(str(exact)) <= 24 and abs(mpmath.mpf(sympy.N(exact, _DPS)) - point) < 1e-40:
            return exact
    return point
