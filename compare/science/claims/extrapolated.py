"""The extrapolated-limit rule (``"extrapolated-limit"``): the limit ``r_inf`` of
``r(N) = r_inf + c N^{-1/2}`` fitted across N, against a band.

:func:`extrapolated_limit_finding` builds the finding; :func:`decide_extrapolated_limit`, the
registered rule, decides it from the inputs and the run's adjusted p-values; :func:`_extrapolate`
is the weighted fit with its Student-t interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from twostep.compare.output.table import Table
from twostep.theory.config import ModelConfig

from .. import stats
from .codes import Reason, _note_code, _note_of
from .data import RuleInputs
from .guard import Regime, _usable, guard_status, regime_from_dict, regime_to_dict
from .limit import _left_out
from .results import LEVEL, Finding, Outcome, register_rule

#: An extrapolation ``r_inf + c N^{-1/2}`` has two parameters: it needs at least this many
#: usable widths (one left to check the form) spanning at least this ratio (N^{-1/2} halves).
EXTRAPOLATION_WIDTHS = 3
EXTRAPOLATION_RANGE = 4.0


def _extrapolate(values: Mapping[int, Sequence[float]], level: float = 0.95,
                 edges: tuple[float, float] | None = None
                 ) -> tuple[stats.Interval, float | None]:
    """``r_inf`` of the weighted least-squares fit of the per-N means against ``N^{-1/2}``, with
    a Student-t interval.

    The weights are ``n_N / v_N`` with ``v_N`` the per-seed variances *smoothed* across the
    widths (a power law ``v_N = A N^b`` fitted to the sample variances in logs): weights taken
    from each width's own few seeds would favour the widths whose seeds happen to agree, and
    understate the error.  ``r_inf = sum_N c_N mean_N`` is linear in the means, so its variance
    is ``sum_N c_N^2 s_N^2 / n_N`` with each width's *own* sample variance ``s_N^2`` (unbiased
    whatever the weights), and the interval uses the Welch-Satterthwaite degrees of freedom of
    that sum (the seeds are few: a normal or a percentile-bootstrap interval from 4 seeds per
    width covers far less than its level).  With ``edges = (lo, hi)`` also the one-sided
    t p-value that ``r_inf`` lies beyond the nearer edge, against ``r_inf`` inside the band
    (None without edges)."""
    from scipy import stats as sps

    Ns = sorted(values)
    samples = [np.asarray(values[N], float) for N in Ns]
    sizes = np.array([s.size for s in samples], float)
    var = np.array([np.var(s, ddof=1) for s in samples])
    xs = np.asarray([N ** -0.5 for N in Ns])
    pos = var > 0
    if pos.sum() >= 2:
        slope, icpt = np.polyfit(np.log(np.asarray(Ns, float)[pos]), np.log(var[pos]), 1)
        smooth = np.exp(icpt + slope * np.log(np.asarray(Ns, float)))
    else:
        smooth = np.full(len(Ns), var[pos].mean() if pos.any() else 1.0)
    w = sizes / smooth
    design = np.column_stack([np.ones_like(xs), xs]) * np.sqrt(w)[:, None]
    coef = (np.linalg.pinv(design) * np.sqrt(w)[None, :])[0]   # means -> r_inf
    means = np.array([s.mean() for s in samples])
    est = float(coef @ means)
    parts = coef ** 2 * var / sizes
    se = float(math.sqrt(parts.sum()))
    if se > 0:
        dof = float(parts.sum() ** 2 / np.sum(parts ** 2 / (sizes - 1)))
    else:   # every width's seeds agree exactly: a zero-width interval
        dof = float(sizes.sum() - 2)
    q = float(sps.t.ppf(0.5 + level / 2, dof)) if dof > 0 else math.inf
    p = None
    if edges is not None:
        lo, hi = edges
        if lo <= est <= hi:
            p = 1.0
        elif se == 0:
            p = 0.0
        else:
            p = float(sps.t.sf(((est - hi) if est > hi else (lo - est)) / se, dof))
    return stats.Interval(est, est - q * se, est + q * se, math.nan, int(sizes.sum())), p


def extrapolated_limit_finding(claim: str, subject: str, config: ModelConfig,
                               values: Mapping[int, Sequence[float]], predicted: float,
                               tolerance: float, *, regime: Regime | None = None,
                               note: str = "") -> Finding:
    """The limit ``r_inf`` of ``values`` as N grows, from ``r(N) = r_inf + c N^{-1/2}`` fitted
    across the usable widths (:func:`_extrapolate`), against ``predicted +- tolerance``.

    Both verdicts need :data:`EXTRAPOLATION_WIDTHS` usable widths spanning
    :data:`EXTRAPOLATION_RANGE` and at least two seeds at each.  consistent: the 95% CI of
    ``r_inf`` meets the band and is no wider than it (half-width <= tolerance).  inconsistent:
    the CI misses the band and the one-sided t p-value against the nearer band edge,
    BH-adjusted, is below :data:`LEVEL` (it is the verdict's p-value).  Otherwise
    inconclusive.  The statistic is ``r_inf`` with its CI (``decided_at`` None: every usable
    width decided).
    """
    Ns = sorted(values)
    table = Table(["N", "seeds", "measured", "CI low", "CI high", "predicted"]
                  + (["series residual"] if regime is not None else []),
                  title=f"{claim}: {subject} (limit of r_inf + c N^-1/2)")
    for N in Ns:
        iv = stats.mean_interval(values[N])
        row = {"N": N, "seeds": len(values[N]), "measured": iv.estimate, "CI low": iv.low,
               "CI high": iv.high, "predicted": predicted}
        if regime is not None:
            row["series residual"] = regime.residual.get(N)
        table.add(**row)
    usable, _ = _usable(Ns, regime, {})
    usable = [N for N in usable if len(values[N]) >= 2]
    fit = p = None
    if len(usable) >= 2:
        fit, p = _extrapolate({N: values[N] for N in usable},
                              edges=(predicted - tolerance, predicted + tolerance))
    inputs = ExtrapolatedInputs({N: tuple(float(v) for v in values[N]) for N in Ns},
                                predicted, tolerance, regime, note)
    return Finding(claim, subject, config, table, predicted,
                   fit.estimate if fit else math.nan,
                   (fit.low, fit.high) if fit else (math.nan, math.nan),
                   {"r_inf": p} if p is not None else {}, rule="extrapolated-limit",
                   inputs=inputs)


@dataclass(frozen=True)
class ExtrapolatedInputs(RuleInputs):
    """The inputs of the extrapolated-limit rule (``Finding.inputs``): per N the seeds'
    ``values``; the ``predicted`` limit and the ``tolerance``; the ``regime`` guard (None:
    off); the ``note`` appended to every reason."""

    values: Mapping[int, tuple[float, ...]]
    predicted: float
    tolerance: float
    regime: Regime | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"values": {str(N): [float(v) for v in vs] for N, vs in self.values.items()},
                "predicted": self.predicted, "tolerance": self.tolerance,
                "regime": regime_to_dict(self.regime), "note": str(self.note),
                **_note_code(self.note)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExtrapolatedInputs:
        return cls({int(N): tuple(v) for N, v in d["values"].items()}, d["predicted"],
                   d["tolerance"], regime_from_dict(d.get("regime")), _note_of(d))


@register_rule("extrapolated-limit", inputs=ExtrapolatedInputs)
def decide_extrapolated_limit(inputs: ExtrapolatedInputs, adj: Mapping[str, float]) -> Outcome:
    """The rule of :func:`extrapolated_limit_finding`."""
    if not isinstance(inputs, ExtrapolatedInputs):
        inputs = ExtrapolatedInputs.from_dict(inputs)
    values = {N: list(v) for N, v in inputs.values.items()}
    Ns = sorted(values)
    predicted, tolerance = inputs.predicted, inputs.tolerance
    then = [Reason("note", note=inputs.note)] if inputs.note else []
    usable, _ = _usable(Ns, inputs.regime, {})
    usable = [N for N in usable if len(values[N]) >= 2]
    clauses = _left_out(Ns, inputs.regime, {})
    prefix = Reason("left-out", clauses=clauses) if clauses else ""
    enough = (len(usable) >= EXTRAPOLATION_WIDTHS
              and usable[-1] / usable[0] >= EXTRAPOLATION_RANGE)
    if len(usable) < 2:
        return Outcome(guard_status(inputs.regime, Ns),
                       Reason("extrapolated-too-few", prefix=prefix, then=then))
    fit, _ = _extrapolate({N: values[N] for N in usable})
    where = dict(statistic=fit.estimate, ci=(fit.low, fit.high))
    seen = dict(prefix=prefix, then=then, fit=str(fit), Ns=list(usable),
                predicted=float(predicted), tolerance=float(tolerance))
    if not enough:
        return Outcome("inconclusive", Reason("extrapolated-span", seen,
                                              need_widths=EXTRAPOLATION_WIDTHS,
                                              need_range=EXTRAPOLATION_RANGE), **where)
    meets = fit.high >= predicted - tolerance and fit.low <= predicted + tolerance
    if meets:
        if fit.half_width > tolerance:
            return Outcome("inconclusive", Reason("extrapolated-ci-wide", seen,
                                                  half_width=float(fit.half_width)), **where)
        return Outcome("consistent", Reason("extrapolated-consistent", seen), **where)
    p = adj.get("r_inf", 1.0)
    if p < LEVEL:
        return Outcome("inconsistent", Reason("extrapolated-inconsistent", seen, p=float(p)), p,
                       **where)
    return Outcome("inconclusive", Reason("extrapolated-not-significant", seen, p=float(p)),
                   **where)
