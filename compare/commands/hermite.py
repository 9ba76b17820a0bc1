"""``twostep hermite EXPR``: Hermite coefficients of an activation or target.

Prints ``c_m = E[f(z) He_m(z)]`` and ``mu_m = c_m / sqrt(m!)`` for m = 0..K
(docs/theory.md, "Hermite convention"), each marked exact (with its closed form) or numerical
(with its error estimate), then the information exponent, the reuse exponent
``j_* = min{j >= 1 : E[z f^j] != 0}`` (section 5) and the parity class.

``--json`` prints one object instead (keys are stable)::

    {"function": text as given, "expression": str(sympy expression),
     "smooth": bool, "parity": "odd" | "even" | "linear+even" | "none",
     "information_exponent": int | null, "reuse_exponent": int | null,
     "reuse_limit": J, "digits": D,
     "coefficients": [{"order": m, "value": float, "exact": bool,
                       "closed_form": str | null, "error": float | null,
                       "normalised": float, "reason": str}, ...]}

``information_exponent`` is null when no c_m, 1 <= m <= max(20, K), is nonzero;
``reuse_exponent`` is null when no j <= J works.

Each evaluation (the integrability check, the parity, one coefficient, one
expectation) has ``--time-budget`` seconds; one that takes longer ends the
command with one line naming it (exit 2).  On a terminal a progress bar on
stderr counts the evaluations once the command runs for more than 2 s.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from twostep.theory.budget import check_time_budget
from twostep.theory.errors import ConfigError

from ._config_args import add_time_budget_argument, evaluations

if TYPE_CHECKING:
    import mpmath

    from twostep.theory import hermite

#: Largest order the command prints (the library goes further).
MAX_ORDER = 40
DIGITS_RANGE = (5, 100)
REUSE_LIMIT_RANGE = (1, 20)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", metavar="EXPR",
                        help="a built-in name (relu, tanh, He3, ...) or an expression in z "
                             "such as 'tanh(z + 1/2)' or 'He3(z)/sqrt(6)'")
    parser.add_argument("--order", type=int, default=8, metavar="K",
                        help=f"highest order m, 0..{MAX_ORDER} (default: %(default)s)")
    parser.add_argument("--digits", type=int, default=30, metavar="D",
                        help=f"significant digits, {DIGITS_RANGE[0]}..{DIGITS_RANGE[1]} "
                             f"(default: %(default)s)")
    parser.add_argument("--reuse-limit", type=int, default=8, metavar="J",
                        help=f"search the reuse exponent up to j = J, {REUSE_LIMIT_RANGE[0]}.."
                             f"{REUSE_LIMIT_RANGE[1]} (default: %(default)s)")
    add_time_budget_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value}")


def _summary(args: argparse.Namespace) -> dict:
    _check_range("--order", args.order, 0, MAX_ORDER)
    _check_range("--digits", args.digits, *DIGITS_RANGE)
    _check_range("--reuse-limit", args.reuse_limit, *REUSE_LIMIT_RANGE)
    from twostep.theory import hermite
    from twostep.theory.functions import parse_function

    function = parse_function(args.function)
    coefficients = hermite.coefficients(function, args.order, digits=args.digits)
    reuse = hermite.reuse_exponent(function, limit=args.reuse_limit)
    ie_limit = max(20, args.order)
    return {
        "function": args.function,
        "expression": str(function.expr),
        "smooth": function.smooth,
        "parity": hermite.parity(function),
        "information_exponent": hermite.information_exponent(function, limit=ie_limit),
        "reuse_exponent": reuse.value,
        "reuse_limit": reuse.limit,
        "digits": args.digits,
        "_coefficients": coefficients,
        "_reuse": reuse,
        "_ie_limit": ie_limit,
    }


def _json(summary: dict) -> str:
    out = {k: v for k, v in summary.items() if not k.startswith("_")}
    out["coefficients"] = [
        {"order": c.order, "value": float(c), "exact": c.exact,
         "closed_form": str(c.value) if c.exact else None, "error": c.error,
         "normalised": float(c.normalised), "reason": c.reason}
        for c in summary["_coefficients"]]
    return json.dumps(out, indent=2)


def _number(c: hermite.Coefficient, x: mpmath.mpf, digits: int) -> str:
    import mpmath

    if c.exact and c.is_zero:
        return " 0"
    text = mpmath.nstr(x, digits)
    return text if text.startswith("-") else " " + text


def _table(summary: dict) -> str:
    from twostep.theory.hermite import PARITY

    digits = summary["digits"]
    rows = [("m", "c_m", "mu_m = c_m/sqrt(m!)", "how", "closed form / error")]
    for c in summary["_coefficients"]:
        if c.exact:
            detail = str(c.value)
            if c.cause == PARITY:
                detail += "  (parity)"
        else:
            detail = f"+- {c.error:.1e}"
        rows.append((str(c.order), _number(c, c.numeric, digits),
                     _number(c, c.normalised.numeric, digits),
                     "exact" if c.exact else "numerical", detail))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"Hermite coefficients of {summary['function']} = {summary['expression']}  "
             f"(c_m = E[f(z) He_m(z)], z ~ N(0,1); "
             f"{'smooth' if summary['smooth'] else 'non-smooth'})"]
    for r in rows:
        lines.append("  ".join([r[0].rjust(widths[0])] + [r[i].ljust(widths[i])
                                                          for i in (1, 2, 3)] + [r[4]]))
    ie = summary["information_exponent"]
    lines.append(f"information exponent: "
                 f"{ie if ie is not None else 'none up to ' + str(summary['_ie_limit'])}"
                 f"  (min m >= 1 with c_m != 0)")
    lines.append(f"reuse exponent: {summary['_reuse']}  (min j >= 1 with E[z f(z)^j] != 0)")
    lines.append(f"parity: {summary['parity']}")
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    check_time_budget(args.time_budget, "--time-budget")
    with evaluations(args, "hermite"):
        summary = _summary(args)  # everything is computed before anything is printed
    print(_json(summary) if args.json else _table(summary))
    return 0
