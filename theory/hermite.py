"""Hermite coefficients and Gaussian expectations, exact where the integral closes.

Convention (docs/theory.md, "Hermite convention"): probabilists' ``He_m``;
``c_m(f) = E[f(z) He_m(z)]`` with ``z ~ N(0, 1)``; normalised
``mu_m = c_m / sqrt(m!)``; by Stein ``c_m(f) = E[f^{(m)}(z)]`` (distributionally
for kinks), so ``f = sum_m c_m He_m / m!``.

Every result says how it was obtained.  The exact path is chosen by the
*shape* of the integrand, never by trying ``sympy.integrate`` (docs/theory.md,
section 7: it can run for minutes on tanh, sigmoid, softplus):

- sums of ``const * polynomial * exp(A z^2 + B z + C) * erf(a z + b)^e``,
  ``A < 1/2``, ``e in {0, 1}`` (polynomials, exp/sin/cos/sinh/cosh of linear
  arguments, erf and erfc of linear arguments, gelu and the derivatives of erf):
  complete the square, ``E[q(z) e^{A z^2 + B z}] = s e^{s^2 B^2/2} E[q(s^2 B + s u)]``
  with ``s^2 = 1/(1 - 2A)``; an erf factor is removed by Stein,
  ``E[He_n(u) erf(alpha u + beta)] = alpha^n E[erf^{(n)}(alpha u + beta)]``
  (``n >= 1``, an ``exp(-x^2)`` times a Hermite polynomial) and
  ``E[erf(alpha u + beta)] = erf(beta / sqrt(1 + 2 alpha^2))``;
- piecewise versions of the erf-free shape (Max, Min, Abs, Heaviside, sign,
  Piecewise with polynomial switching points): half-line and interval integrals
  ``int_l^h u^n phi(u) du`` by the recursion
  ``J_n = l^{n-1} phi(l) - h^{n-1} phi(h) + (n-1) J_{n-2}``,
  ``J_0 = Phi(h) - Phi(l)``, ``J_1 = phi(l) - phi(h)``.

Anything else is integrated by mpmath (tanh-sinh, split at 0 and at the kinks)
at the requested precision plus guard digits, and carries the quadrature's error
estimate.  A value that vanishes by symmetry is the exact ``0`` (section 4:
odd activations kill every odd k; ``z/2 + even`` activations have ``c_3 = 0``).
Parity is first checked at 60 digits at eight points, then proved symbolically
where sympy can (``cancel`` in exp, ``logcombine``, piece by piece for kinks);
the reason says which.

Inputs whose expectations do not exist are refused with a one-line
:class:`ConfigError` before any shortcut: real poles (``1/z``), growth like
``exp(z^2/4)`` or faster (not square-integrable), values that are not real.
Numerically, ``exp``, ``sinh`` and ``cosh`` of an argument beyond ``2^4096``
saturate to ``inf`` (``0`` for ``exp`` of a huge negative argument) instead of
asking for ``2^4096`` bits of precision, so ``exp(exp(exp(z)))`` is refused at
once and ``exp(-exp(exp(z)))`` integrates.

Time budget: inside ``with time_budget(seconds):`` every evaluation (one
integrability check, one parity decision, one coefficient, one expectation or
derivative moment; nested ones count towards the outermost) that runs longer
than ``seconds`` raises :class:`TimeBudgetError` naming it.  The library has no
budget by default; ``twostep theory`` and ``twostep hermite`` use
:data:`DEFAULT_TIME_BUDGET` (``--time-budget``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy

from .errors import ConfigError, NonFiniteError, TimeBudgetError, UndefinedError
from .functions import Function, Z, parse_function

__all__ = [
    "Coefficient",
    "ReuseExponent",
    "Symmetry",
    "Value",
    "DEFAULT_TIME_BUDGET",
    "MAX_DIGITS",
    "MAX_ORDER",
    "check_time_budget",
    "coefficient",
    "coefficients",
    "derivative_moment",
    "expectation",
    "information_exponent",
    "parity",
    "reuse_exponent",
    "symmetry",
    "time_budget",
]

#: Largest precision (significant digits) a caller may ask for.
MAX_DIGITS = 200
#: Largest Hermite order the library computes (the CLI allows less).
MAX_ORDER = 200

# Guard digits of the quadrature beyond the requested ones; more are added for
# high orders, where He_m phi is of size sqrt(m!) and the integral cancels.
_GUARD = 10
# Parity checks by evaluation: precision and tolerance (relative to the size of f).
_PARITY_DPS = 60
_PARITY_TOL = mpmath.mpf(10) ** -45
_PARITY_POINTS = tuple(sympy.Rational(p, 10**10) for p in (
    5772156649, 13247179572, 22360679775, 3183098862,
    31415926536, 7071067812, 46692016091, 17320508076))

# Symbolic parity proofs are attempted only on expressions up to this many operations.
_SIMPLIFY_OPS = 40
_NON_SMOOTH = (sympy.Abs, sympy.Max, sympy.Min, sympy.Heaviside, sympy.sign, sympy.Piecewise)
_U = sympy.Symbol("u", real=True)
_SQRT_2PI = sympy.sqrt(2 * sympy.pi)


# --------------------------------------------------------------------------- time budget

#: Seconds one evaluation may take under ``twostep theory`` / ``twostep hermite`` (their
#: ``--time-budget``).  The slowest legitimate evaluation measured (a derivative moment of
#: silu at k = 9, on a loaded two-core machine) takes 1.5 s.
DEFAULT_TIME_BUDGET = 10.0
#: Largest time budget accepted (one day).
MAX_TIME_BUDGET = 86400.0

_BUDGET = threading.local()


class _Expired(BaseException):
    """Raised by the alarm inside an evaluation; a BaseException so that no
    ``except Exception`` inside sympy or mpmath can swallow it.  Turned into
    :class:`TimeBudgetError` by :func:`_evaluation`."""


def check_time_budget(seconds: object, name: str = "time budget") -> float | None:
    """``seconds`` as a float in (0, MAX_TIME_BUDGET], or None (no budget); else ConfigError."""
    if seconds is None:
        return None
    if isinstance(seconds, bool):
        raise ConfigError(f"{name} must be a number of seconds in (0, {MAX_TIME_BUDGET:g}], "
                          f"got {seconds!r}")
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds in (0, {MAX_TIME_BUDGET:g}], "
                          f"got {seconds!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIME_BUDGET):
        raise ConfigError(f"{name} must be a number of seconds in (0, {MAX_TIME_BUDGET:g}], "
                          f"got {seconds!r}")
    return value


@contextlib.contextmanager
def time_budget(seconds: float | None,
                progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Give every evaluation made inside the block (one integrability check, one
    parity decision, one coefficient, one Gaussian expectation) at most ``seconds``
    of wall time; one that runs longer raises :class:`TimeBudgetError` naming it.
    ``None`` means no budget (the library's default).  ``progress(what)`` is called
    as each evaluation starts (the CLI shows a progress bar).

    In the main thread an interval timer (SIGALRM) interrupts sympy and mpmath
    wherever they are; elsewhere the quadrature checks the clock between nodes.
    """
    seconds = check_time_budget(seconds)
    saved = (getattr(_BUDGET, "seconds", None), getattr(_BUDGET, "progress", None))
    _BUDGET.seconds, _BUDGET.progress = seconds, progress
    try:
        yield
    finally:
        _BUDGET.seconds, _BUDGET.progress = saved


def _can_alarm() -> bool:
    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def _on_alarm(signum, frame) -> None:
    if getattr(_BUDGET, "armed", False):
        raise _Expired


def _disarm(previous) -> None:
    """Stop the alarm (idempotent): a late signal finds ``armed`` False and does nothing."""
    _BUDGET.armed = False
    signal.setitimer(signal.ITIMER_REAL, 0.0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _evaluation(what: str | Callable[[], str]) -> Iterator[None]:
    """One evaluation under the current budget (:func:`time_budget`).  Nested
    evaluations belong to the outermost one: its budget, its name (``what``, or
    ``what()`` computed only for the outermost one)."""
    if getattr(_BUDGET, "deadline", None) is not None or not (
            getattr(_BUDGET, "seconds", None) or getattr(_BUDGET, "progress", None)):
        yield
        return
    if callable(what):
        what = what()
    progress = getattr(_BUDGET, "progress", None)
    if progress is not None:
        progress(what)
    seconds = getattr(_BUDGET, "seconds", None)
    if seconds is None:
        yield
        return
    alarm = _can_alarm()
    previous = None
    _BUDGET.deadline, _BUDGET.what = time.monotonic() + seconds, what
    try:
        try:
            if alarm:
                previous = signal.signal(signal.SIGALRM, _on_alarm)
                _BUDGET.armed = True
                # repeats every 0.5 s after the first expiry, in case one alarm
                # lands somewhere that cannot let it through
                signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
            yield
        finally:
            if alarm:
                _disarm(previous)
    except _Expired:
        raise TimeBudgetError(_gave_up(what, seconds)) from None
    finally:
        if alarm and getattr(_BUDGET, "armed", False):
            _disarm(previous)
        _BUDGET.deadline = None


def _evaluates(describe: Callable[..., str]):
    """Decorator: each call is one :func:`_evaluation`, named by ``describe(*args)``."""
    def decorate(fn):
        @functools.wraps(fn)
        def inner(*args):
            with _evaluation(lambda: describe(*args)):
                return fn(*args)
        return inner
    return decorate


def _gave_up(what: str, seconds: float) -> str:
    return f"gave up on {what} after {seconds:g} s (the time budget of one evaluation)"


def _check_deadline() -> None:
    """Cooperative check (threads where no alarm can be set): raise once past the deadline."""
    deadline = getattr(_BUDGET, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TimeBudgetError(_gave_up(_BUDGET.what, _BUDGET.seconds))


def _short(expr: sympy.Expr, limit: int = 60) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Value:
    """One Gaussian expectation ``E[g(z)]``, ``z ~ N(0, 1)``.

    ``value`` is the exact closed form when ``exact`` (else None); ``numeric``
    the value at ``digits`` significant digits; ``error`` the quadrature's
    error estimate when numerical (None when exact).  ``defined=False`` marks a
    quantity that does not exist (products of distributions); ``numeric`` is
    NaN then and :attr:`is_zero` raises :class:`UndefinedError`.
    """

    value: sympy.Expr | None
    numeric: mpmath.mpf
    exact: bool
    error: float | None
    digits: int
    defined: bool = True
    reason: str = ""

    def __float__(self) -> float:
        return float(self.numeric)

    @property
    def is_zero(self) -> bool:
        """Exact zero, or numerical with ``|numeric| <= error``."""
        if not self.defined:
            raise UndefinedError(self.reason)
        if self.exact:
            return bool(self.value == 0) or self.value.is_zero is True
        return abs(self.numeric) <= self.error

    def __str__(self) -> str:
        if not self.defined:
            return f"undefined ({self.reason})"
        if self.exact:
            return str(self.value)
        return f"{mpmath.nstr(self.numeric, min(self.digits, 17))} +- {self.error:.1e}"


@dataclass(frozen=True, kw_only=True)
class Coefficient(Value):
    """The Hermite coefficient ``c_m(f) = E[f(z) He_m(z)]`` (docs/theory.md, Hermite
    convention)."""

    order: int = 0

    @property
    def normalised(self) -> Value:
        """``mu_m = c_m / sqrt(m!)``, exact when ``c_m`` is."""
        scale = math.factorial(self.order)
        with mpmath.workdps(self.digits):
            numeric = +(self.numeric / mpmath.sqrt(scale))
        value = None if self.value is None else self.value / sympy.sqrt(scale)
        error = None if self.error is None else self.error / math.sqrt(scale)
        return Value(value=value, numeric=numeric, exact=self.exact, error=error,
                     digits=self.digits, defined=self.defined, reason=self.reason)


@dataclass(frozen=True)
class ReuseExponent:
    """``j_* = min{j >= 1 : E[z f(z)^j] != 0}`` searched up to ``limit``
    (docs/theory.md, section 5); ``value`` is None when no j up to the limit works."""

    value: int | None
    limit: int

    def __str__(self) -> str:
        return str(self.value) if self.value is not None else f"none up to {self.limit}"


@dataclass(frozen=True)
class Symmetry:
    """Parity structure of ``f``: even part ``(f(z) + f(-z))/2`` and odd part
    ``(f(z) - f(-z))/2``.

    ``even_part`` is "zero", "constant" (then ``constant`` is its exact value,
    or None if only known numerically) or "general"; ``odd_part`` is "zero",
    "linear" (``slope * z``; ``slope`` exact or None) or "general".
    ``how_even`` and ``how_odd`` say how each part was decided: "polynomial",
    "proved symbolically" (sympy ``cancel`` after rewriting in exp) or "checked to
    1e-45 at 8 points" (60-digit evaluation, when sympy cannot settle it: kinks, logs).
    """

    even_part: str
    odd_part: str
    constant: sympy.Expr | None = None
    slope: sympy.Expr | None = None
    how_even: str = "proved symbolically"
    how_odd: str = "proved symbolically"

    @property
    def kind(self) -> str:
        """"odd" | "even" | "linear+even" | "none" (relu, gelu, silu and
        softplus are ``z/2 + even``: "linear+even")."""
        if self.even_part == "zero":
            return "odd"
        if self.odd_part == "zero":
            return "even"
        if self.odd_part == "linear":
            return "linear+even"
        return "none"

    def zero_reason(self, m: int) -> str | None:
        """Why ``c_m`` vanishes by symmetry, or None."""
        if m % 2 == 0:
            if self.even_part == "zero":
                return (f"zero by parity: f is odd ({self.how_even}), "
                        f"c_{m} pairs it with even He_{m}")
            if self.even_part == "constant" and m >= 2:
                return (f"zero by parity: f - f(0) is odd ({self.how_even}), "
                        f"c_{m} pairs it with even He_{m}")
        else:
            if self.odd_part == "zero":
                return f"zero by parity: f is even ({self.how_odd}), c_{m} pairs it with odd He_{m}"
            if self.odd_part == "linear" and m >= 3:
                return (f"zero by parity: f - c_1 z is even ({self.how_odd}), "
                        f"c_{m} pairs it with odd He_{m}")
        return None


# --------------------------------------------------------------------------- inputs


def _as_expr(f: str | Function | sympy.Expr) -> sympy.Expr:
    if isinstance(f, Function):
        return f.expr
    if isinstance(f, str):
        return parse_function(f).expr
    if isinstance(f, sympy.Basic):
        expr = sympy.sympify(f)
        others = sorted(str(s) for s in expr.free_symbols if s != Z)
        if others:
            raise ConfigError(f"expression {expr} uses symbol(s) {', '.join(others)}; "
                              f"only z (twostep.theory.functions.Z) is allowed")
        return expr
    raise ConfigError(f"expected a function name, an expression string, a Function or a "
                      f"sympy expression in z; got {type(f).__name__}")


def _name(f: str | Function | sympy.Expr) -> str:
    if isinstance(f, Function):
        return f.text
    if isinstance(f, str):
        return parse_function(f).text
    return str(f)


def _is_smooth(expr: sympy.Expr) -> bool:
    return not expr.has(*_NON_SMOOTH)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def _check_digits(digits: object) -> int:
    return _check_int("digits", digits, 1, MAX_DIGITS)


_FAR = sympy.Integer(40)


def _blows_up(expr: sympy.Expr, point: sympy.Expr) -> bool:
    """``|f| > 1e10`` at ``point +- 1e-20``: a pole, not a removable zero/zero (tanh(z)/z)."""
    for side in (1, -1):
        value = sympy.N(expr.subs(Z, point + side * sympy.Rational(1, 10**20)), 40)
        if not value.is_finite or abs(value) > 10**10:
            return True
    return False


def _real_poles(expr: sympy.Expr) -> list[sympy.Expr]:
    """Real zeros of polynomial denominators of ``expr`` that are not wrapped in a
    function (``1/z``, ``1/(z - 1)`` diverge; ``sin(1/z)``, ``exp(-1/z^2)`` do not):
    candidates, each confirmed by :func:`_blows_up`."""
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        return [pole for arg in expr.args for pole in _real_poles(arg)]
    if isinstance(expr, sympy.Pow) and expr.base.has(Z):
        if expr.exp.is_negative and expr.base.is_polynomial(Z):
            return list(sympy.Poly(expr.base, Z).real_roots())
        return _real_poles(expr.base)
    return []


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


def _far_value(expr: sympy.Expr, x: sympy.Expr) -> sympy.Expr:
    """``f(x)`` for the integrability check: sympy's 30-digit evalf, unless a
    saturating mpmath evaluation first meets an astronomically large exponential
    (:data:`_EXP_CAP`); then that evaluation's value (+-inf, or 0 for ``exp(-huge)``)."""
    flag: list = []
    try:
        with mpmath.workdps(30):
            fast = _mp_callable(expr, _capped_functions(flag))(mpmath.mpf(int(x)))
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        flag.clear()
    if not flag:
        return sympy.N(expr.subs(Z, x), 30)
    if isinstance(fast, mpmath.mpc):
        return sympy.I if fast.imag != 0 else sympy.Float(str(fast.real))
    if mpmath.isnan(fast):
        return sympy.nan
    if mpmath.isinf(fast):
        return sympy.oo if fast > 0 else -sympy.oo
    return sympy.S.Zero if fast == 0 else sympy.Float(str(fast), 30)


@functools.lru_cache(maxsize=1024)
@_evaluates(lambda expr, power: f"the integrability check of {_short(expr)}")
def _check_integrable(expr: sympy.Expr, power: int) -> None:
    """Refuse ``f`` with ``E[|f|^power] = inf`` before any shortcut (parity would
    otherwise call c_1(exp(z^2)) zero): ``|f(+-40)|^power phi(40)`` must be below 1,
    i.e. ``|f|^power`` grows more slowly than about ``exp(z^2/2)``; also refuses
    functions that are not real-valued there and real poles (``1/z``; a removable
    ``tanh(z)/z`` is accepted).  Raises :class:`ConfigError`."""
    for pole in _real_poles(expr):
        if not _blows_up(expr, pole):
            continue
        raise ConfigError(f"function {expr} has a pole at z = {pole}; its Gaussian "
                          f"expectations diverge (expected a function finite on the whole line)")
    if expr.is_polynomial(Z):  # every moment of a polynomial is finite, whatever f(40) is
        if all(c.is_real for c in sympy.Poly(expr, Z).coeffs()):
            return
        raise ConfigError(f"function {expr} is not real-valued; expected a real function "
                          f"of z defined on the whole line")
    for x in (_FAR, -_FAR):
        value = _far_value(expr, x)
        if value.has(sympy.nan, sympy.zoo) or not value.is_extended_real:
            raise ConfigError(f"function {expr} is not real-valued (at z = {x}); expected a "
                              f"real function of z defined on the whole line")
        if value == 0:
            continue
        if value in (sympy.oo, -sympy.oo):
            log_weight = sympy.oo
        else:
            log_weight = power * sympy.log(abs(value)) - x**2 / 2 - sympy.log(_SQRT_2PI)
        if sympy.N(log_weight, 15) > 0:
            what = "E[f(z)^2]" if power == 2 else "E[f(z)]"
            raise ConfigError(f"{what} diverges for f = {expr} (it grows like "
                              f"exp(z^2/{2 * power}) or faster); functions must be "
                              f"square-integrable under N(0, 1)")


# --------------------------------------------------------------------------- constructors


def _exact_value(value: sympy.Expr, digits: int, reason: str) -> Value:
    return Value(value=value, numeric=_evalf(value, digits), exact=True, error=None,
                 digits=digits, reason=reason)


def _evalf(value: sympy.Expr, digits: int) -> mpmath.mpf:
    number = sympy.N(value, digits + 5)
    if not number.is_real:
        re, im = number.as_real_imag()
        if abs(im) > sympy.Float(10) ** (-digits):
            raise NonFiniteError(f"Gaussian expectation {value} is not real")
        number = re
    if number in (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
        raise NonFiniteError(f"Gaussian expectation {value} is not finite")
    with mpmath.workdps(digits):
        return mpmath.mpf(str(number))


def _undefined(digits: int, reason: str) -> Value:
    return Value(value=None, numeric=mpmath.mpf("nan"), exact=False, error=None,
                 digits=digits, defined=False, reason=reason)


def _as_coefficient(v: Value, m: int) -> Coefficient:
    return Coefficient(value=v.value, numeric=v.numeric, exact=v.exact, error=v.error,
                       digits=v.digits, defined=v.defined, reason=v.reason, order=m)


# --------------------------------------------------------------------------- Gaussian algebra


@functools.lru_cache(maxsize=256)
def _hermite_poly(m: int) -> sympy.Poly:
    return sympy.Poly(sympy.hermite_prob(m, Z), Z)


def _moment(n: int) -> int:
    """``E[u^n] = (n-1)!!`` for even n, 0 for odd n."""
    return 0 if n % 2 else math.prod(range(n - 1, 0, -2))


def _poly_expectation(q: sympy.Poly) -> sympy.Expr:
    """``E[q(u)]`` for a polynomial q in one variable."""
    total = sympy.S.Zero
    for (n,), c in q.terms():
        if n % 2 == 0:
            total += c * _moment(n)
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


# --------------------------------------------------------------------------- kinks


def _switches(node: sympy.Basic) -> list[sympy.Expr]:
    """Expressions whose sign changes switch the branch of a non-smooth node."""
    if isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside)):
        return [node.args[0]]
    if isinstance(node, (sympy.Max, sympy.Min)):
        args = node.args
        return [args[i] - args[j] for i in range(len(args)) for j in range(i + 1, len(args))]
    if isinstance(node, sympy.Piecewise):
        out = []
        for _, cond in node.args:
            for rel in cond.atoms(sympy.core.relational.Relational):
                out.append(rel.lhs - rel.rhs)
        return out
    return []


def _sample_points(breaks: list[sympy.Expr]) -> list[sympy.Expr]:
    if not breaks:
        return [sympy.S.Zero]
    pts = [breaks[0] - 1]
    pts += [(a + b) / 2 for a, b in zip(breaks[:-1], breaks[1:])]
    pts.append(breaks[-1] + 1)
    return pts


def _resolve(expr: sympy.Expr, t: sympy.Expr) -> sympy.Expr:
    """The smooth branch of ``expr`` valid around the point ``t`` (not a kink)."""
    if not expr.args or not expr.has(*_NON_SMOOTH):
        return expr
    if isinstance(expr, sympy.Piecewise):
        for piece, cond in expr.args:
            if bool(cond.subs(Z, t)):
                return _resolve(piece, t)
        raise ConfigError(f"{expr} is undefined at z = {t}; a Piecewise needs a branch "
                          f"for every z (end with (expr, True))")
    args = [_resolve(a, t) for a in expr.args]

    def at(e: sympy.Expr) -> sympy.Float:
        return sympy.N(e.subs(Z, t), 30)

    if isinstance(expr, sympy.Abs):
        return args[0] if at(args[0]) >= 0 else -args[0]
    if isinstance(expr, sympy.sign):
        return sympy.S.One if at(args[0]) > 0 else -sympy.S.One
    if isinstance(expr, sympy.Heaviside):
        return sympy.S.One if at(args[0]) > 0 else sympy.S.Zero
    if isinstance(expr, sympy.Max):
        return max(args, key=at)
    if isinstance(expr, sympy.Min):
        return min(args, key=at)
    return expr.func(*args)


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


# --------------------------------------------------------------------------- symmetry


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


# --------------------------------------------------------------------------- numerics


def _mp_callable(expr: sympy.Expr, capped: dict[str, Callable] | None = None):
    """mpmath callable of ``expr``; exp, sinh and cosh saturate past :data:`_EXP_CAP`
    (``capped``: the saturating functions to use, default ones that record nothing)."""
    modules = [{"Heaviside": lambda x, h0=0.5: (mpmath.mpf(1) if x > 0 else mpmath.mpf(0)
                                               if x < 0 else mpmath.mpf(h0)),
                "Max": max, "Min": min, "sign": mpmath.sign,
                **(capped if capped is not None else _capped_functions([]))}, "mpmath"]
    return sympy.lambdify(Z, expr, modules=modules, cse=True)


def _to_mp(x: sympy.Expr):
    if x == sympy.oo:
        return mpmath.inf
    if x == -sympy.oo:
        return -mpmath.inf
    return mpmath.mpf(str(sympy.N(x, mpmath.mp.dps + 5)))


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
                    try:
                        gx = g(x)
                    except (ZeroDivisionError, ValueError, OverflowError) as err:
                        raise NonFiniteError(f"{expr} cannot be evaluated at z = "
                                             f"{mpmath.nstr(x, 8)} ({err or type(err).__name__})"
                                             ) from None
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
                    weight = _fixed(term, bits + spare)
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


# --------------------------------------------------------------------------- expectations


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


@functools.lru_cache(maxsize=4096)
@_evaluates(lambda expr, digits: f"E[{_short(expr)}]")
def _expectation(expr: sympy.Expr, digits: int) -> Value:
    if not expr.has(Z):
        return _exact_value(expr, digits, "exact: constant")
    if expr.has(sympy.DiracDelta):
        raise ConfigError(f"cannot take E[{expr}]: DiracDelta terms are distributions; ask for "
                          f"a Hermite coefficient (Stein: E[f^(m)] = c_m(f)) instead")
    _check_integrable(expr, 1)
    exact = _exact_expectation(expr, 0)
    if exact is not None:
        return _exact_value(exact[0], digits, exact[1])
    sym = _symmetry(expr)
    if sym.even_part == "zero":
        return _exact_value(sympy.S.Zero, digits, f"zero by parity: integrand odd ({sym.how_even})")
    if sym.even_part == "constant" and sym.constant is not None:
        return _exact_value(sym.constant, digits,
                            f"exact by parity: integrand is a constant plus an odd part "
                            f"({sym.how_even})")
    return _quadrature(expr, 0, digits)


def expectation(g: str | Function | sympy.Expr, digits: int = 30) -> Value:
    """``E[g(z)]``, ``z ~ N(0, 1)``: exact where the shape closes (module docstring),
    exact 0 for odd g, else mpmath quadrature with an error estimate."""
    return _expectation(_as_expr(g), _check_digits(digits))


@functools.lru_cache(maxsize=8192)
@_evaluates(lambda expr, m, digits: f"c_{m}({_short(expr)})")
def _coefficient(expr: sympy.Expr, m: int, digits: int) -> Coefficient:
    sym = _symmetry(expr)
    reason = sym.zero_reason(m)
    if reason is not None:
        return _as_coefficient(_exact_value(sympy.S.Zero, digits, reason), m)
    if m == 0 and sym.even_part == "constant" and sym.constant is not None:
        return _as_coefficient(_exact_value(sym.constant, digits,
                                            f"exact: c_0 = f(0), f - f(0) odd ({sym.how_even})"), m)
    if m == 1 and sym.odd_part == "linear" and sym.slope is not None:
        return _as_coefficient(_exact_value(sym.slope, digits,
                                            f"exact: f - c_1 z is even ({sym.how_odd})"), m)
    exact = _exact_expectation(expr, m)
    if exact is not None:
        return _as_coefficient(_exact_value(exact[0], digits, exact[1]), m)
    return _as_coefficient(_quadrature(expr, m, digits), m)


def coefficient(f: str | Function | sympy.Expr, m: int, digits: int = 30) -> Coefficient:
    """``c_m(f) = E[f(z) He_m(z)]`` (docs/theory.md, "Hermite convention"), exact when the Gaussian
    integral closes, exact 0 by parity, else numerical with an error estimate."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    return _coefficient(expr, _check_int("order m", m, 0, MAX_ORDER), _check_digits(digits))


def coefficients(f: str | Function | sympy.Expr, order: int, digits: int = 30
                 ) -> list[Coefficient]:
    """``[c_0(f), ..., c_order(f)]`` (see :func:`coefficient`)."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    order = _check_int("order", order, 0, MAX_ORDER)
    digits = _check_digits(digits)
    return [_coefficient(expr, m, digits) for m in range(order + 1)]


@functools.lru_cache(maxsize=4096)
@_evaluates(lambda expr, k, m, digits, name: f"E[sigma^({k + 1}) sigma'^{m}] for sigma = {name}")
def _derivative_moment(expr: sympy.Expr, k: int, m: int, digits: int, name: str) -> Value:
    if m == 0:
        c = _coefficient(expr, k + 1, digits)
        return Value(value=c.value, numeric=c.numeric, exact=c.exact, error=c.error,
                     digits=digits, reason=f"Stein: E[sigma^({k + 1})] = c_{k + 1}(sigma); "
                                           f"{c.reason}")
    if not _is_smooth(expr):
        return _undefined(digits, f"undefined for non-smooth activation {name}: "
                                  f"E[sigma^({k + 1}) sigma'^{m}] multiplies distributions")
    sym = _symmetry(expr)
    if sym.even_part in ("zero", "constant") and k % 2 == 1:
        return _exact_value(sympy.S.Zero, digits,
                            f"zero by parity: sigma - sigma(0) odd ({sym.how_even}), so "
                            f"sigma^({k + 1}) is odd and sigma' even")
    if sym.odd_part == "zero" and (k + 1 + m) % 2 == 1:
        return _exact_value(sympy.S.Zero, digits,
                            f"zero by parity: sigma even ({sym.how_odd}), "
                            f"sigma^({k + 1}) sigma'^{m} is odd")
    integrand = sympy.diff(expr, Z, k + 1) * sympy.diff(expr, Z) ** m
    return _expectation(integrand, digits)


def derivative_moment(f: str | Function | sympy.Expr, k: int, m: int, digits: int = 30
                      ) -> Value:
    """``E[sigma^{(k+1)}(z) sigma'(z)^m]``, ``0 <= m <= k`` (docs/theory.md, section 4: the
    leading coefficient of step-two term k).  For m = 0 this is ``c_{k+1}(sigma)``
    (Stein, distributional: defined for relu).  For a non-smooth activation and
    m >= 1 it multiplies distributions: returned with ``defined=False``."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    k = _check_int("k", k, 0, MAX_ORDER)
    if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= k:
        raise ConfigError(f"m must be an integer with 0 <= m <= k = {k}, got {m!r}")
    return _derivative_moment(expr, k, m, _check_digits(digits), _name(f))


def information_exponent(f: str | Function | sympy.Expr, limit: int = 20) -> int | None:
    """Least ``m >= 1`` with ``c_m(f) != 0`` (docs/theory.md, "Hermite convention"), None
    up to ``limit``."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    limit = _check_int("limit", limit, 1, MAX_ORDER)
    for m in range(1, limit + 1):
        if not _coefficient(expr, m, 30).is_zero:
            return m
    return None


@functools.lru_cache(maxsize=1024)
@_evaluates(lambda expr, j: f"E[z f(z)^{j}] for f = {_short(expr)}")
def _reuse_moment(expr: sympy.Expr, j: int) -> Value:
    sym = _symmetry(expr)
    if sym.odd_part == "zero":
        return _exact_value(sympy.S.Zero, 30, f"zero by parity: f even ({sym.how_odd})")
    if sym.even_part == "zero" and j % 2 == 0:
        return _exact_value(sympy.S.Zero, 30,
                            f"zero by parity: f odd ({sym.how_even}), z f^{j} is odd")
    if j == 1:
        return _coefficient(expr, 1, 30)
    return _expectation(sympy.expand(Z * expr**j) if expr.is_polynomial(Z) else Z * expr**j, 30)


def reuse_exponent(f: str | Function | sympy.Expr, limit: int = 8) -> ReuseExponent:
    """``j_* = min{j >= 1 : E[z f(z)^j] != 0}`` (docs/theory.md, section 5), using
    ``E[z f^j] = c_1(f^j)``; "none up to limit" when no j works (even f)."""
    expr = _as_expr(f)
    _check_integrable(expr, 2)
    limit = _check_int("limit", limit, 1, MAX_ORDER)
    for j in range(1, limit + 1):
        if not _reuse_moment(expr, j).is_zero:
            return ReuseExponent(j, limit)
    return ReuseExponent(None, limit)

