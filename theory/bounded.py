"""What the text of a function may hold before sympy evaluates it (``parse_function``).

sympy evaluates an expression as it builds it: ``9**9**9**9`` and ``2**2**2**2**2`` are
integers with billions and 19729 digits, ``z**100000`` has coefficients that no printer can
write, and such work runs in C where no time budget can stop it.  So the text is read twice:
first without evaluating anything (every function an undefined sympy function, every
operator ``evaluate=False``), and that tree is measured here; only a tree within the limits is
evaluated.  One rule, two sizes (:data:`LIMITS`):

- an exact number (a literal, or a power, product or sum of numbers) has at most
  :data:`MAX_DIGITS` digits; a power multiplies its base's digits by its exponent;
- a power of an expression in z has degree at most :data:`MAX_DEGREE` (nested powers
  multiply: ``(z**100)**100`` has degree 10000).

Attribute access (``pi.evalf(10**8)``, ``z.diff``) is refused with the unparsable text: a
function is an expression, not a program.
"""

from __future__ import annotations

import io
import math
import re
import tokenize
from collections.abc import Callable

import sympy
from sympy.core.function import AppliedUndef

from .errors import ConfigError

__all__ = ["LIMITS", "MAX_DEGREE", "MAX_DIGITS", "check_sizes", "check_tokens", "real_tree"]

#: Most digits of an exact number in a function (a literal, or one its powers, products and
#: sums of numbers would compute).
MAX_DIGITS = 1000
#: Highest degree of a power of an expression in z (``z**100``; nested powers multiply).
MAX_DEGREE = 100
#: The rule, as error messages name it.
LIMITS = (f"a function may hold exact numbers of at most {MAX_DIGITS} digits and powers up to "
          f"degree {MAX_DEGREE}")

_LITERAL = re.compile(r"^(?P<int>[\d_]*)(?:\.(?P<frac>[\d_]*))?(?:[eE](?P<exp>[+-]?[\d_]+))?"
                      r"[jJ]?$")


def _too_large(text: str, what: str) -> ConfigError:
    return ConfigError(f"function {text!r} is too large to evaluate: {what}; {LIMITS}")


def _literal_digits(token: str) -> float:
    """Digits of the exact number a numeric literal stands for (``1e400``: 401)."""
    match = _LITERAL.match(token)
    if match is None:  # 0x.., 0o.., 0b..: at most as many digits as characters
        return float(len(token))
    exponent = (match["exp"] or "0").replace("_", "")
    if len(exponent.lstrip("+-")) > 9:
        return math.inf
    mantissa = (match["int"] or "") + (match["frac"] or "")
    return float(len(mantissa.replace("_", "")) + abs(int(exponent)))


def check_tokens(text: str, refuse: Callable[[], ConfigError]) -> None:
    """Refuse attribute access (``refuse()``: the unparsable-text error) and numeric literals
    beyond :data:`MAX_DIGITS` (before sympy builds them: ``1e999999999`` would not return)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        raise refuse() from None
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string == ".":
            raise refuse()
        if tok.type == tokenize.NUMBER:
            digits = _literal_digits(tok.string)
            if digits > MAX_DIGITS:
                shown = tok.string if len(tok.string) <= 30 else tok.string[:27] + "..."
                raise _too_large(text, f"the number {shown} has {_digits_text(digits)} digits")


def _digits_text(digits: float) -> str:
    return "more than 10^9" if not math.isfinite(digits) else (
        f"{math.floor(digits):.0f}" if digits < 1e6 else f"about {digits:.2g}")


def _short(node: sympy.Basic, limit: int = 40) -> str:
    text = str(node)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _magnitude(node: sympy.Expr, real: Callable[[sympy.Basic], sympy.Expr]) -> float:
    """``|value|`` of a constant sub-tree already within the limits (inf when unknown)."""
    try:
        value = complex(sympy.N(real(node), 15))
    except (TypeError, ValueError, ArithmeticError):
        return math.inf
    size = abs(value)
    return size if math.isfinite(size) else math.inf


def _log10(number: sympy.Basic) -> float:
    """``log10`` of the largest of a number's numerator and denominator (of its size for pi,
    E, I), at least 0."""
    if isinstance(number, sympy.Rational):
        return max(math.log10(max(abs(number.p), number.q)), 0.0)
    try:
        return max(math.log10(abs(complex(sympy.N(number, 15)))), 0.0)
    except (TypeError, ValueError, ArithmeticError):
        return 0.0


def check_sizes(tree: sympy.Basic, text: str, degrees: dict[str, int],
                real: Callable[[sympy.Basic], sympy.Expr], z: sympy.Symbol) -> None:
    """Refuse (one line naming the limit) an unevaluated ``tree`` whose evaluation would hold
    an exact number beyond :data:`MAX_DIGITS` digits or a power of degree beyond
    :data:`MAX_DEGREE`.  ``degrees``: the polynomial degree of a named function (``He3``: 3;
    others 1); ``real(node)``: the evaluated form of a constant sub-tree (to read an
    exponent's value, once its own size is known to be within the limits).

    Each node's size is ``(log10 of its largest exact number, degree in z)``, bounded from
    above: sums add ``log10`` of their length, products add, a power multiplies by its
    exponent, a built-in polynomial of degree k by k."""

    def size(node: sympy.Basic) -> tuple[float, float]:
        if node == z:
            return 0.0, 1.0
        if not node.args:
            return _log10(node), 0.0
        log, degree = _combine(node, [size(arg) for arg in node.args])
        if math.floor(log) + 1 > MAX_DIGITS:
            raise _too_large(text, f"{_short(node)} has {_digits_text(log + 1)} digits")
        if degree > MAX_DEGREE:
            raise _too_large(text, f"{_short(node)} has degree {_digits_text(degree)}")
        return log, degree

    def _combine(node: sympy.Basic, parts: list[tuple[float, float]]) -> tuple[float, float]:
        logs, degrees_ = [p[0] for p in parts], [p[1] for p in parts]
        if isinstance(node, sympy.Add):
            return max(logs) + math.log10(len(parts)), max(degrees_)
        if isinstance(node, sympy.Mul):
            return sum(logs), sum(degrees_)
        if isinstance(node, sympy.Pow):
            exponent = node.args[1]
            if exponent.has(z):
                return sum(logs), sum(degrees_)
            factor = max(1.0, _magnitude(exponent, real))
            return logs[0] * factor, degrees_[0] * factor
        k = degrees.get(type(node).__name__, 0) if isinstance(node, AppliedUndef) else 0
        if k:  # a built-in polynomial: its coefficients are below 10^k
            return k * (max(logs) + 1), k * max(degrees_)
        return max(logs), max(degrees_)

    try:
        size(tree)
    except RecursionError:
        raise _too_large(text, "it is nested too deeply") from None


def real_tree(local: dict[str, object]) -> Callable[[sympy.Basic], sympy.Expr]:
    """``real(node)``: the evaluated form of an unevaluated sub-tree whose functions are the
    undefined functions named like ``local``'s (:func:`check_sizes`)."""
    def real(node: sympy.Basic) -> sympy.Expr:
        if not node.args:
            return node
        args = [real(a) for a in node.args]
        if isinstance(node, AppliedUndef):
            return local[type(node).__name__](*args)
        return node.func(*args)

    return real

