"""Activations and targets: names and sympy expressions in ``z``.

A function is given either by a built-in name (``relu``, ``tanh``, ``He3``,
...) or by an expression string in the single variable ``z`` that may use the
built-ins as functions (``"tanh(z + 1/2)"``, ``"relu(z) - 0.5"``,
``"He3(z)/sqrt(6)"``).  Decimal literals are read exactly (``0.5 -> 1/2``) so
that coefficients of an expression stay exact.

``He_m`` is the probabilists' Hermite polynomial (docs/theory.md, "Hermite convention"), not
normalised: ``He3 = z**3 - 3*z`` has variance ``3! = 6``.

The same object gives the exact sympy expression (for ``theory.hermite``) and
vectorised numpy callables of the function and its derivatives (for
``simulate``), so prediction and simulation can never use two different
definitions of one name.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.special
import sympy
from sympy.core.function import AppliedUndef
from sympy.parsing.sympy_parser import (
    convert_xor,
    parse_expr,
    rationalize,
    standard_transformations,
)

from . import bounded, nonsmooth, singular
from .errors import ConfigError

Z = sympy.Symbol("z", real=True)

_HALF = sympy.Rational(1, 2)


def _hermite(m: int) -> sympy.Expr:
    return sympy.expand(sympy.hermite_prob(m, Z))


#: Built-in names and their expressions in ``z``.
BUILTINS: dict[str, sympy.Expr] = {
    "relu": sympy.Max(Z, 0),
    "abs": sympy.Abs(Z),
    "tanh": sympy.tanh(Z),
    "sigmoid": 1 / (1 + sympy.exp(-Z)),
    "softplus": sympy.log(1 + sympy.exp(Z)),
    "gelu": Z * _HALF * (1 + sympy.erf(Z / sympy.sqrt(2))),
    "silu": Z / (1 + sympy.exp(-Z)),
    "erf": sympy.erf(Z),
    "sin": sympy.sin(Z),
    "quadratic": Z**2,
    "identity": Z,
    **{f"He{m}": _hermite(m) for m in range(1, 9)},
}

#: Functions of sympy that an expression may use besides the built-ins (the
#: non-smooth ones are those of :data:`.nonsmooth.REGISTRY` that have a name, and the jumps
#: floor, ceiling, frac).  No other name is read: every function listed is evaluated by
#: ``theory.hermite`` and printed for numpy (a simulation refuses the jumps in one line), and
#: the parser never reaches the rest of sympy (``zeta``, ``besselj``, ``N``, ``fibonacci``).
ELEMENTARY = (
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sinh", "cosh", "erf", "erfc",
    "tan", "cot", "sec", "csc", "sech", "atan", "asinh",
    *(kind.names[0] for kind in nonsmooth.REGISTRY.values() if kind.names),
    "floor", "ceiling", "frac", "pi", "E",
)

#: Distance of the nearest complex singularity of sigma' from the real axis, for the built-ins
#: (relu/abs are not smooth: the exact terms are undefined for them; :attr:`Function.radius`).
_BUILTIN_RADIUS = {"tanh": math.pi / 2, "sigmoid": math.pi, "softplus": math.pi,
                   "silu": math.pi, "gelu": math.inf, "erf": math.inf, "sin": math.inf,
                   "quadratic": math.inf, "identity": math.inf}
#: Entire functions: ``f(s z + c)`` has an infinite radius (:attr:`Function.radius`).
_ENTIRE = ("erf", "erfc", "sin", "cos", "exp", "sinh", "cosh")

_TRANSFORMS = standard_transformations + (convert_xor, rationalize)
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_+\-*/^().,\s]+$")


def allowed_text() -> str:
    """The one-line list of what a function may be, for error messages."""
    names = ", ".join(BUILTINS)
    return (f"a built-in name ({names}) or an expression in z using them and "
            f"{', '.join(e for e in ELEMENTARY if e not in BUILTINS)}")


def _local_dict() -> dict[str, object]:
    x = sympy.Dummy("x", real=True)
    local: dict[str, object] = {"z": Z, "I": sympy.I}
    registered = {name: kind.cls for kind in nonsmooth.REGISTRY.values() for name in kind.names}
    for name in ELEMENTARY:
        local[name] = registered.get(name) or getattr(sympy, name)
    local.update(registered)
    for name, expr in BUILTINS.items():
        local[name] = sympy.Lambda(x, expr.subs(Z, x))
    return local


def _is_smooth(expr: sympy.Expr) -> bool:
    """No kink or jump: no registered primitive, and not :func:`.nonsmooth.discontinuous`
    (``floor(z)``, ``sin(1/z)``)."""
    return nonsmooth.is_smooth(expr) and not nonsmooth.discontinuous(expr)


@dataclass(frozen=True)
class Function:
    """A scalar function of one standard Gaussian variable ``z``.

    Attributes
    ----------
    text : the name or expression as given (the key used in configs).
    expr : the exact sympy expression in :data:`Z`.
    smooth : False when the expression has kinks or jumps (relu, abs, ...);
        then derivatives beyond the first are distributions.
    """

    text: str
    expr: sympy.Expr
    smooth: bool

    @property
    def is_polynomial(self) -> bool:
        return bool(self.expr.is_polynomial(Z))

    @property
    def radius(self) -> float | None:
        """``R_sigma``: the elementwise Taylor series of sigma' at any real point converges
        within this distance (a lower bound on the radius): the distance of the nearest complex
        singularity from the real axis for the built-ins (pi/2 for tanh, pi for the logistic
        family, infinite for entire functions), ``R_f / |s|`` for ``f(s z + c)`` with a real
        affine argument and f tanh or entire, infinite for polynomials.  None when not known
        here (relu, abs, and any other expression)."""
        if self.text in _BUILTIN_RADIUS:
            return _BUILTIN_RADIUS[self.text]
        expr = self.expr
        if expr.is_polynomial(Z):
            return math.inf
        # f(s z + c) for a built-in-like f with a real affine argument: R_f / |s|
        if len(expr.args) == 1:
            arg = expr.args[0]
            poly = sympy.Poly(arg, Z) if arg.is_polynomial(Z) else None
            if poly is not None and poly.degree() == 1:
                s, c = poly.all_coeffs()
                if s.is_real and c.is_real and s != 0:
                    name = type(expr).__name__
                    if name == "tanh":
                        return float(math.pi / 2 / abs(s))
                    if name in _ENTIRE:
                        return math.inf
        return None

    @property
    def kinks(self) -> tuple[sympy.Expr, ...]:
        """The sub-expressions where the function kinks or jumps (:func:`.nonsmooth.kinks`:
        ``(Max(0, z),)`` for relu, ``()`` for tanh); the branch switches where one of
        ``nonsmooth.switches(node)`` changes sign.  Jumps that no registered primitive
        describes (``floor(z)``, ``sin(1/z)``) are not listed; :attr:`smooth` is False for
        them too."""
        return nonsmooth.kinks(self.expr)

    def derivative(self, k: int = 1) -> sympy.Expr:
        """The k-th derivative as a sympy expression (a.e. for non-smooth)."""
        return sympy.diff(self.expr, Z, k) if k else self.expr

    def numpy(self, derivative: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """Vectorised numpy callable of the ``derivative``-th derivative.

        The result has the dtype of the input (float32 stays float32) and
        the input's shape even when the derivative is a constant.

        Kinks are fine (relu' is the step ``Heaviside(z)``), jumps are not: a
        derivative holding a Dirac delta (``sign``, ``Heaviside`` and anything
        with a jump, from the first derivative on) raises :class:`ConfigError`:
        sympy's derivative holds a ``DiracDelta``, or the derivative before it
        holds a primitive that jumps (:func:`.nonsmooth.jump`; sympy drops the
        delta of a ``Piecewise``).
        Its a.e. value 0 would make gradient descent ignore the jump, while the
        theory's ``c_1 = E[sigma']`` counts it (``E[sign'(z)] = 2 phi(0)``), so a
        simulation would silently measure a different model.
        """
        target = self.derivative(derivative)
        which = {1: "first", 2: "second", 3: "third"}.get(derivative, f"{derivative}-th")
        instead = ("simulate a continuous activation instead (relu, abs, or a smooth step "
                   "such as erf(4*z) or tanh(4*z))")
        if target.has(sympy.DiracDelta):
            raise ConfigError(
                f"{self.text} has a jump: its {which} derivative {target} is a Dirac delta, "
                f"0 almost everywhere, so gradient descent would not see the jump the theory "
                f"counts; {instead}")
        jumping = nonsmooth.jump(self.derivative(derivative - 1)) if derivative else None
        if jumping is not None:
            raise ConfigError(
                f"{self.text} has a jump: {jumping} jumps, so its {which} derivative holds a "
                f"Dirac delta that its a.e. value {target} leaves out; gradient descent would "
                f"not see the jump the theory counts; {instead}")
        if derivative:
            _numpy_callable(self.expr, 0, self.text)  # the function itself must be real
        return _numpy_callable(self.expr, derivative, self.text)


#: Points where :meth:`Function.numpy` tries a callable once before a simulation uses it.
_PROBE = np.array([-2.5, -1.0, -0.3, 0.0, 0.4, 1.3, 2.2])


def _not_numeric(text: str, target: sympy.Expr, derivative: int, err: BaseException) -> str:
    """The one-line refusal of a function numpy cannot evaluate (``zeta``, ``airyai``, ...)."""
    which = "" if not derivative else f" (its derivative {derivative}: {target})"
    names = sorted({type(f).__name__ for f in target.atoms(sympy.Function, sympy.Derivative)}
                   - set(ELEMENTARY) - set(nonsmooth.lambdify_modules("numpy")))
    if target.has(sympy.Derivative):
        why = ("sympy has no closed-form derivative of "
               + ", ".join(sorted({str(d.expr.func) for d in target.atoms(sympy.Derivative)})))
    elif isinstance(err, OverflowError):
        why = "a constant is beyond the float64 range"
    elif names:
        why = f"numpy has no {', '.join(names)}"
    else:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        why = f"{type(err).__name__}: {first}"
    return (f"{text} cannot be evaluated numerically for a simulation{which}: {why}; "
            f"a simulation accepts {allowed_text()}")


@functools.lru_cache(maxsize=256)
def _numpy_callable(expr: sympy.Expr, derivative: int, text: str = ""
                    ) -> Callable[[np.ndarray], np.ndarray]:
    """The numpy callable of ``expr``'s ``derivative``-th derivative, tried once on
    :data:`_PROBE`: what numpy cannot print or evaluate (``zeta``, ``airyai``, ``1e400*z``)
    and what is not real-valued (``I*z``) is a one-line ConfigError naming ``text``."""
    text = text or str(expr)
    target = sympy.diff(expr, Z, derivative) if derivative else expr
    # a.e. derivatives of kinks: Heaviside(0) and sign(0) carry no mass.
    modules = [{"erf": scipy.special.erf, "erfc": scipy.special.erfc,
                **nonsmooth.lambdify_modules("numpy")}, "numpy"]
    try:
        raw = sympy.lambdify(Z, target, modules=modules)
        with np.errstate(all="ignore"):
            probe = np.asarray(raw(_PROBE.copy()))
    except Exception as err:  # noqa: BLE001 - printers and numpy raise many types
        raise ConfigError(_not_numeric(text, target, derivative, err)) from None
    if np.iscomplexobj(probe) or probe.dtype == object:
        raise ConfigError(f"function {text} is not real-valued; expected a real function of z "
                          "defined on the whole line")

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        out = np.asarray(raw(x))
        if out.shape != x.shape:
            out = np.broadcast_to(out, x.shape)
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        return out.astype(dtype, copy=False) if out.dtype != dtype else out

    return call


def _normalise_name(text: str) -> str | None:
    low = text.strip()
    for name in BUILTINS:
        if name.lower() == low.lower():
            return name
    return None


#: What the code sympy's parser writes calls besides the names of :func:`_local_dict`; any
#: other name is an undefined function or symbol (refused), never one of sympy's.
_PARSER_NAMES = ("Integer", "Float", "Rational", "Symbol", "Function", "Add", "Mul", "Pow")
#: The constants of :func:`_local_dict` (every other name there is a function).
_CONSTANTS = ("z", "pi", "E", "I")
#: Polynomial degree of the built-in polynomials (:func:`.bounded.check_sizes`; others 1).
_DEGREES = {**{f"He{m}": m for m in range(1, 9)}, "quadratic": 2}


def _parse(text: str) -> sympy.Basic:
    """The sympy expression of ``text``, evaluated only once its unevaluated tree names no
    function beyond :func:`allowed_text` and is within :data:`.bounded.LIMITS`."""
    def refuse() -> ConfigError:
        return ConfigError(f"cannot parse function {text!r}; expected {allowed_text()}")

    bounded.check_tokens(text, refuse)
    local = _local_dict()
    parser = {name: getattr(sympy, name) for name in _PARSER_NAMES}
    undefined = {name: value if name in _CONSTANTS else sympy.Function(name)
                 for name, value in local.items()}
    try:
        tree = parse_expr(text, local_dict=undefined, global_dict=dict(parser),
                          transformations=_TRANSFORMS, evaluate=False)
    except Exception:  # noqa: BLE001 - sympy raises many types for bad text
        raise refuse() from None
    if isinstance(tree, sympy.Basic):
        unknown = sorted({type(f).__name__ for f in tree.atoms(AppliedUndef)} - set(local))
        if unknown:
            raise ConfigError(f"unknown function(s) {', '.join(unknown)} in {text!r}; "
                              f"expected {allowed_text()}")
        bounded.check_sizes(tree, text, _DEGREES, bounded.real_tree(local), Z)
    try:
        return parse_expr(text, local_dict=local, global_dict=dict(parser),
                          transformations=_TRANSFORMS, evaluate=True)
    except Exception:  # noqa: BLE001 - sympy raises many types for bad text
        raise refuse() from None


@functools.lru_cache(maxsize=512)
def parse_function(text: str) -> Function:
    """Parse a built-in name or an expression in ``z`` into a :class:`Function`.

    Raises :class:`ConfigError` (one line, listing what is allowed) for an
    unknown name, an unparsable expression, symbols other than ``z``, a text beyond
    :data:`.bounded.LIMITS`, or a singularity on the real line
    (:func:`.singular.real_singularity`: ``1/z``, ``log(z)``, ``tan(z)``, naming the point).
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty function; expected {allowed_text()}")
    name = _normalise_name(text)
    if name is not None:
        expr = BUILTINS[name]
        return Function(text=name, expr=expr, smooth=_is_smooth(expr))
    if not _SAFE_TEXT.match(text) or "__" in text:
        raise ConfigError(f"cannot parse function {text!r}; expected {allowed_text()}")
    expr = _parse(text)
    if not isinstance(expr, sympy.Expr):
        raise ConfigError(f"{text!r} is not an expression in z; expected {allowed_text()}")
    if isinstance(expr, sympy.Symbol) and expr != Z:
        raise ConfigError(f"unknown function name {text!r}; expected {allowed_text()}")
    others = sorted(str(s) for s in expr.free_symbols if s != Z)
    if others:
        raise ConfigError(
            f"function {text!r} uses symbol(s) {', '.join(others)}; only z is allowed "
            f"(expected {allowed_text()})")
    if not expr.free_symbols:
        raise ConfigError(f"function {text!r} is constant; it must depend on z")
    singularity = singular.real_singularity(expr, Z)
    if singularity is not None:  # 1/z, log(z), tan(z), exp(1/z): one rule, naming the point
        raise ConfigError(singularity.message(text.strip()))
    return Function(text=text.strip(), expr=expr, smooth=_is_smooth(expr))
