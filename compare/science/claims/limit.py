"""The limit rule (``"limit"``): the per-N mean converges to the prediction within a band.

:func:`limit_finding` builds the finding (its evidence table, raw p-values and JSON-able
inputs); :func:`decide_limit`, the registered rule, decides it at the last two usable N both
ways from the inputs and the run's adjusted p-values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twostep.compare.output.table import Table
from twostep.theory.config import ModelConfig

from .. import stats
from .codes import Reason, _excluded_code, _excluded_of, _note_code, _note_of
from .data import Interval, RuleInputs
from .evidence import _margin, more_seeds
from .guard import Regime, _outside, _usable, guard_status, regime_from_dict, regime_to_dict
from .results import LEVEL, Finding, Outcome, register_rule


def _per_N_value(x: float | Mapping[int, float], Ns: Sequence[int]) -> dict[str, float]:
    """``x`` (one value, or one per N) per N of ``Ns``, keyed by ``str(N)`` (JSON-able)."""
    if isinstance(x, Mapping):
        return {str(N): float(x[N]) for N in Ns if N in x}
    return {str(N): float(x) for N in Ns}


def _left_out(Ns: Sequence[int], regime: Regime | None, excluded: Mapping[int, Any]
              ) -> list[Reason | str]:
    """The clauses on the widths of ``Ns`` that cannot decide (the words of ``_usable``): the
    guard's (code ``guard-clause``, with the widths by cause), then each ``excluded[N]``."""
    out: list[Reason | str] = []
    if regime is not None:
        outside = [N for N in Ns if not regime.ok(N)]
        if outside:
            out.append(_outside(regime, outside, "guard-clause"))
    out += [excluded[N] for N in Ns if N in excluded and (regime is None or regime.ok(N))]
    return out


@dataclass(frozen=True)
class LimitInputs(RuleInputs):
    """The inputs of the limit rule (``Finding.inputs``): per N the seeds' ``values``, the
    ``predicted`` value and the ``tolerance``; ``excluded[N]``: why N cannot decide; the
    ``regime`` guard (None: off); the ``note`` appended to every reason; ``guard_off``: the
    claim asked for no guard."""

    values: Mapping[int, tuple[float, ...]]
    predicted: Mapping[int, float]
    tolerance: Mapping[int, float]
    excluded: Mapping[int, str] = field(default_factory=dict)
    regime: Regime | None = None
    note: str = ""
    guard_off: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"values": {str(N): [float(v) for v in vs] for N, vs in self.values.items()},
                "predicted": {str(N): p for N, p in self.predicted.items()},
                "tolerance": {str(N): t for N, t in self.tolerance.items()},
                "excluded": {str(N): str(why) for N, why in self.excluded.items()},
                **_excluded_code(self.excluded),
                "regime": regime_to_dict(self.regime), "note": str(self.note),
                **_note_code(self.note),
                "guard_off": self.guard_off}

    @classmethod
    def _fields_of(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return dict(values={int(N): tuple(v) for N, v in d["values"].items()},
                    predicted={int(N): p for N, p in d["predicted"].items()},
                    tolerance={int(N): t for N, t in d["tolerance"].items()},
                    excluded=_excluded_of(d),
                    regime=regime_from_dict(d.get("regime")), note=_note_of(d),
                    guard_off=bool(d.get("guard_off", False)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LimitInputs:
        return cls(**cls._fields_of(d))


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
    inputs = LimitInputs({N: tuple(float(v) for v in values[N]) for N in Ns},
                         {int(N): p for N, p in pred.items()},
                         {int(N): t for N, t in tol.items()}, dict(excluded), regime, note,
                         guard_off)
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


@register_rule("limit", inputs=LimitInputs)
def decide_limit(inputs: LimitInputs, adj: Mapping[str, float]) -> Outcome:
    """The limit rule (:func:`limit_finding`) on its inputs and the adjusted p-values."""
    if not isinstance(inputs, LimitInputs):
        inputs = LimitInputs.from_dict(inputs)
    values = {N: list(v) for N, v in inputs.values.items()}
    Ns = sorted(values)
    pred, tol = inputs.predicted, inputs.tolerance
    then = ([Reason("note", note=inputs.note)] if inputs.note else []) + (
        [Reason("guard-off")] if inputs.guard_off else [])
    usable, _ = _usable(Ns, inputs.regime, inputs.excluded)
    clauses = _left_out(Ns, inputs.regime, inputs.excluded)
    prefix = Reason("left-out", clauses=clauses) if clauses else ""
    if not usable:
        return Outcome(guard_status(inputs.regime, Ns),
                       Reason("limit-no-usable", clauses=clauses, then=then) if clauses
                       else Reason("limit-no-width", then=then))
    ivs = {N: stats.mean_interval(values[N]) for N in usable}
    last_N = usable[-1]
    last = ivs[last_N]
    p_last = pred[last_N]
    where = dict(statistic=last.estimate, ci=(last.low, last.high), N=last_N,
                 interval=Interval.mean(values[last_N]), predicted=p_last)
    at = dict(mean=str(last), N=last_N, predicted=float(p_last), tolerance=float(tol[last_N]))

    def out(status: str, code: str, pvalue: float = math.nan, **params: Any) -> Outcome:
        return Outcome(status, Reason(code, prefix=prefix, then=then, **at, **params),
                       pvalue, **where)

    def meets(N: int) -> bool:
        return ivs[N].high >= pred[N] - tol[N] and ivs[N].low <= pred[N] + tol[N]

    tail = usable[-2:]
    if len(tail) < 2:
        return out("inconclusive", "limit-one-width")
    if all(meets(N) for N in tail):
        if last.half_width > tol[last_N]:
            n = more_seeds(len(values[last_N]), last.half_width, tol[last_N])
            more = "" if n is None else Reason("need-seeds", seeds=n)
            return out("inconclusive", "limit-ci-wide", half_width=float(last.half_width),
                       more=more)
        return out("consistent", "limit-consistent", N_before=tail[0])
    sig = all(adj.get(f"outside@{N}", 1.0) < LEVEL for N in tail)
    devs = [float(abs(ivs[N].estimate - pred[N])) for N in tail]
    shrinking = devs[1] < devs[0] - _margin(*(ivs[N] for N in tail))
    if sig and not shrinking:
        p = max(adj[f"outside@{N}"] for N in tail)
        return out("inconsistent", "limit-inconsistent", p, p=float(p), deviations=devs)
    if shrinking:
        return out("inconclusive", "limit-shrinking", deviations=devs)
    if not meets(last_N):
        return out("inconclusive", "limit-misses")
    return out("inconclusive", "limit-meets-last-only", N_before=tail[0])

