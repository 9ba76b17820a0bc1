"""The limit rule (``"limit"``): the per-N mean converges to the prediction within a band.

:func:`limit_finding` builds the finding (its evidence table, raw p-values and JSON-able
inputs); :func:`decide_limit`, the registered rule, decides it at the last two usable N both
ways from the inputs and the run's adjusted p-values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twostep.theory.config import ModelConfig

from .. import stats
from ..table import Table
from .evidence import _margin, more_seeds
from .guard import Regime, _usable, regime_from_dict, regime_to_dict
from .results import LEVEL, Finding, Outcome, register_rule


def _per_N_value(x: float | Mapping[int, float], Ns: Sequence[int]) -> dict[str, float]:
    """``x`` (one value, or one per N) per N of ``Ns``, keyed by ``str(N)`` (JSON-able)."""
    if isinstance(x, Mapping):
        return {str(N): float(x[N]) for N in Ns if N in x}
    return {str(N): float(x) for N in Ns}


def limit_finding(claim: str, subject: str, config: ModelConfig,
                  values: Mapping[int, Sequence[float]], predicted: float | Mapping[int, float],
                  tolerance: float | Mapping[int, float], *, regime: Regime | None = None,
                  guard_off: bool = False, note: str = "",
                  excluded: Mapping[int, str] | None = None,
                  columns: Mapping[str, Mapping[int, Any]] | None = None) -> Finding:
    """The per-N mean of ``values`` converges to ``predicted`` within ``tolerance`` (absolute;
    either may be given per N).

    Decided at the last two *usable* N (those the ``regime`` guard admits and ``excluded``
    does not name; ``excluded[N]`` is the clause saying why N cannot decide), the same
    evidence both ways.  consistent: at each of them the mean's CI meets the band
    ``predicted +- tolerance``, and at the largest usable N it is no wider than the band
    (half-width <= tolerance: a wide CI meets every band).  inconsistent: at each of the last
    two usable N the CI misses the band (one-sided t-test against the nearest end of the band,
    adjusted; a sample with no spread that misses the band is decided, p = 0) and the deviation
    is not shrinking; the verdict's p-value is the larger of the two (an intersection-union
    test).  Only those two tests join the run's BH family.  The verdict's statistic and
    interval are the mean and its 95% t interval at the largest usable N (``decided_at``).
    ``note`` is appended to every reason; ``columns`` adds per-N columns to the table.
    """
    Ns = sorted(values)
    excluded = dict(excluded or {})
    columns = dict(columns or {})
    pred = _per_N_value(predicted, Ns)
    tol = _per_N_value(tolerance, Ns)
    table = Table(["N", "seeds", "measured", "CI low", "CI high", "predicted", "deviation",
                   "tolerance", *columns]
                  + (["series residual"] if regime is not None else []),
                  title=f"{claim}: {subject}")
    for N in Ns:
        x = list(values[N])
        iv = stats.mean_interval(x) if x else None
        row = {"N": N, "seeds": len(x), "measured": iv.estimate if iv else None,
               "CI low": iv.low if iv else None, "CI high": iv.high if iv else None,
               "predicted": pred.get(str(N)),
               "deviation": iv.estimate - pred[str(N)] if iv and str(N) in pred else None,
               "tolerance": tol.get(str(N)),
               **{c: col.get(N) for c, col in columns.items()}}
        if regime is not None:
            row["series residual"] = regime.residual.get(N)
        table.add(**row)
    usable, _ = _usable(Ns, regime, excluded)
    pvals = {f"outside@{N}": _outside_pvalue(values[N], pred[str(N)], tol[str(N)])
             for N in usable[-2:]}
    pvals = {k: p for k, p in pvals.items() if p is not None}
    inputs = {"values": {str(N): [float(v) for v in values[N]] for N in Ns},
              "predicted": pred, "tolerance": tol,
              "excluded": {str(N): why for N, why in excluded.items()},
              "regime": regime_to_dict(regime), "note": note, "guard_off": guard_off}
    scalar = not isinstance(predicted, Mapping)
    return Finding(claim, subject, config, table, predicted if scalar else None, math.nan,
                   (math.nan, math.nan), pvals, rule="limit", inputs=inputs)


def _outside_pvalue(x: Sequence[float], predicted: float, tolerance: float) -> float | None:
    """One-sided t-test of the mean against the nearer end of the band (None: < 2 values)."""
    x = np.asarray(x, float)
    if x.size < 2:
        return None
    lo, hi = predicted - tolerance, predicted + tolerance
    if np.ptp(x) == 0:  # no spread: the deviation is exact
        return 0.0 if not lo <= x[0] <= hi else 1.0
    above = x.mean() > predicted
    from scipy.stats import ttest_1samp

    return float(ttest_1samp(x, hi if above else lo,
                             alternative="greater" if above else "less").pvalue)


@register_rule("limit")
def decide_limit(inputs: Mapping[str, Any], adj: Mapping[str, float]) -> Outcome:
    """The limit rule (:func:`limit_finding`) on its inputs and the adjusted p-values."""
    values = {int(N): v for N, v in inputs["values"].items()}
    Ns = sorted(values)
    pred = {int(N): p for N, p in inputs["predicted"].items()}
    tol = {int(N): t for N, t in inputs["tolerance"].items()}
    regime = regime_from_dict(inputs["regime"])
    excluded = {int(N): why for N, why in inputs["excluded"].items()}
    suffix = (f"; {inputs['note']}" if inputs["note"] else "") + (
        "; regime guard off (asked by the claim)" if inputs["guard_off"] else "")
    usable, clause = _usable(Ns, regime, excluded)
    prefix = clause + "; " if clause else ""
    if not usable:
        return Outcome("inconclusive", (clause or "no width can decide") + suffix)
    ivs = {N: stats.mean_interval(values[N]) for N in usable}
    last_N = usable[-1]
    last = ivs[last_N]
    p_last = pred[last_N]
    where = dict(statistic=last.estimate, ci=(last.low, last.high), N=last_N,
                 interval={"method": "mean", "values": list(values[last_N])},
                 predicted=p_last)

    def out(status: str, reason: str, p: float = math.nan) -> Outcome:
        return Outcome(status, prefix + reason + suffix, p, **where)

    def band(N: int) -> str:
        return f"{pred[N]:.4g} +- {tol[N]:.3g}"

    def meets(N: int) -> bool:
        return ivs[N].high >= pred[N] - tol[N] and ivs[N].low <= pred[N] + tol[N]

    tail = usable[-2:]
    if len(tail) < 2:
        return out("inconclusive", f"mean {last} at N = {last_N}: a verdict needs the last two "
                   "widths")
    if all(meets(N) for N in tail):
        if last.half_width > tol[last_N]:
            n = more_seeds(len(values[last_N]), last.half_width, tol[last_N])
            more = "" if n is None else f"; would decide: about {n} seeds per N"
            return out("inconclusive", f"CI wider than the tolerance: mean {last} at N = "
                       f"{last_N} has half-width {last.half_width:.3g} > {tol[last_N]:.3g}"
                       + more)
        return out("consistent", f"mean {last} at N = {last_N} within {band(last_N)}, and at "
                   f"N = {tail[0]} too")
    sig = all(adj.get(f"outside@{N}", 1.0) < LEVEL for N in tail)
    devs = [abs(ivs[N].estimate - pred[N]) for N in tail]
    shrinking = devs[1] < devs[0] - _margin(*(ivs[N] for N in tail))
    if sig and not shrinking:
        p = max(adj[f"outside@{N}"] for N in tail)
        return out("inconsistent", f"mean {last} at N = {last_N} outside {band(last_N)} at "
                   f"the last two N (adjusted p = {p:.2g}), deviation {devs[0]:.3g} -> "
                   f"{devs[1]:.3g} not significantly shrinking", p)
    if shrinking:
        return out("inconclusive", f"deviation {devs[0]:.3g} -> {devs[1]:.3g} shrinking toward "
                   f"the prediction: pre-asymptotic; would decide: larger N than {last_N}")
    if not meets(last_N):
        return out("inconclusive", f"mean {last} at N = {last_N} misses the band "
                   f"{band(last_N)} but not significantly at the last two N")
    return out("inconclusive", f"mean {last} at N = {last_N} meets the band {band(last_N)} but "
               f"the mean at N = {tail[0]} does not")

