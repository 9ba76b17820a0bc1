"""The exponent rule: the growth exponent of a per-seed statistic against a prediction.

:func:`exponent_finding`: ``consistent`` needs the prediction inside the bootstrap CI of the
log-log fit *and* inside the CI of the last local slope, the fit CI no wider than the tolerance,
and the signal above its null floor at the largest N.  ``inconsistent`` needs the fit and the
last local slope to deviate significantly (adjusted p < level) with a deviation that is not
shrinking across the last local slopes.  Both need the same evidence: at least
:data:`~twostep.compare.claims.evidence.MIN_WIDTHS` usable widths spanning
:data:`~twostep.compare.claims.evidence.MIN_RANGE`.  Everything else is ``inconclusive`` with
its reason and what would decide it (:func:`_exponent_need`).

The steps: :func:`_exponent_data` (the signal, the widths above the floor and in the regime,
the fit and the local slopes), :func:`_exponent_table` (the evidence), :func:`_exponent_verdict`
(the guard and the floor, then :func:`_slopes_verdict` on the fit and the last local slope).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from twostep.theory.config import ModelConfig

from .. import stats
from ..table import Table
from .evidence import (
    MIN_RANGE,
    MIN_WIDTHS,
    _evidence_note,
    _fmt_list,
    _margin,
    enough_widths,
    more_seeds,
)
from .guard import Regime, TermShare, guard_clause
from .results import LEVEL, Finding


def floor_corrected(raw: Mapping[int, Sequence[float]],
                    floor: Mapping[int, Sequence[float]]) -> dict[int, list[float]]:
    """Per-seed signal ``sqrt(A_i^2 - F_N^2)`` (0 when ``A_i <= F_N``), ``F_N`` the mean floor.

    The projection of the update on ``q_{k+1}`` is the term's signal plus the update's noise
    along a direction of the law of ``q_{k+1}``; the null floor estimates the second, the two
    add in quadrature, and the floor's expectation is the same for every seed at one N (so its
    per-N mean is subtracted, not each seed's noisy estimate).
    """
    out = {}
    for N in raw:
        f2 = float(np.mean(floor[N])) ** 2
        out[N] = [math.sqrt(max(a * a - f2, 0.0)) for a in raw[N]]
    return out


def _exponent_need(reason: str, fit: stats.Interval | None, seeds: int, tolerance: float,
                   largest: int) -> str:
    """What would decide an undecided exponent-rule verdict, from the reason's cause."""
    if "diverges" in reason:
        return ("a smaller etabar1 (the exact terms do not depend on it) or the N where the "
                "series converges")
    if "null floor" in reason:
        return f"a larger N than {largest} (the signal must clear its floor) or more seeds"
    if "width(s) spanning" in reason:
        return (f"more widths: add N = {2 * largest} (a verdict needs {MIN_WIDTHS} spanning "
                f"{MIN_RANGE:g}x)")
    if "pre-asymptotic" in reason or "drifting" in reason or "excludes" in reason:
        return f"larger N than {largest} (the local slopes have not settled)"
    if fit is not None:
        n = more_seeds(seeds, fit.half_width, tolerance)
        if n is not None:
            return f"about {n} seeds per N (fit half-width {fit.half_width:.2g} vs {tolerance:g})"
    return "more seeds or larger N"


@dataclass(frozen=True)
class _ExponentData:
    """What the exponent rule reads off the measurements: the widths ``Ns``, the per-seed
    statistic ``raw`` and its null ``floor`` (or None), the fitted ``signal`` (floor-corrected
    where there is a floor), whether each N is ``above`` the floor and ``in_regime``, the
    ``usable`` widths (both, and a positive signal), the log-log ``fit`` and the local slopes
    ``locs`` on them (None and empty with fewer than two usable widths)."""

    Ns: list[int]
    raw: Mapping[int, Sequence[float]]
    floor: Mapping[int, Sequence[float]] | None
    signal: dict[int, list[float]]
    above: dict[int, bool]
    in_regime: dict[int, bool]
    usable: list[int]
    fit: stats.Interval | None
    locs: list[tuple[int, int, stats.Interval]]

    @property
    def considered(self) -> list[int]:
        """The widths the regime guard admits."""
        return [N for N in self.Ns if self.in_regime[N]]


def _exponent_data(raw: Mapping[int, Sequence[float]],
                   floor: Mapping[int, Sequence[float]] | None, predicted: float,
                   regime: Regime | None) -> tuple[_ExponentData, dict[str, float]]:
    """The :class:`_ExponentData` of ``raw`` and the raw p-values that join the BH family (the
    fit's and the last local slope's)."""
    Ns = sorted(raw)
    signal = floor_corrected(raw, floor) if floor is not None else {N: list(raw[N]) for N in Ns}
    above = {N: (stats.welch_greater(raw[N], floor[N]) < LEVEL / len(Ns)) if floor is not None
             else True for N in Ns}
    in_regime = {N: regime is None or regime.ok(N) for N in Ns}
    usable = [N for N in Ns if above[N] and in_regime[N] and np.all(np.asarray(signal[N]) > 0)]
    fit = None
    locs: list[tuple[int, int, stats.Interval]] = []
    pvals: dict[str, float] = {}
    if len(usable) >= 2:
        sub = {N: signal[N] for N in usable}
        fit = stats.fit_exponent(sub, predicted=predicted)
        locs = stats.local_slopes(sub, predicted=predicted)
        pvals["fit"] = fit.pvalue
        pvals["last_local"] = locs[-1][2].pvalue
    return _ExponentData(Ns, raw, floor, signal, above, in_regime, usable, fit, locs), pvals


def _exponent_table(claim: str, subject: str, predicted: float, data: _ExponentData,
                    regime: Regime | None) -> Table:
    """The evidence of :func:`exponent_finding`: one row per N."""
    raw, floor = data.raw, data.floor
    cols = ["N", "seeds", "amplitude", "null floor", "above floor", "signal", "CI low",
            "CI high", "local slope", "slope CI low", "slope CI high", "predicted"]
    if regime is not None:
        cols.append("series residual")
    if isinstance(regime, TermShare):
        cols.append("term share")
    table = Table(cols, title=f"{claim}: {subject}")
    loc_by_N = {n2: iv for _, n2, iv in data.locs}
    for N in data.Ns:
        mi = stats.mean_interval(data.signal[N])
        iv = loc_by_N.get(N)
        row = {"N": N, "seeds": len(data.signal[N]), "amplitude": float(np.mean(raw[N])),
               "null floor": float(np.mean(floor[N])) if floor is not None else None,
               "above floor": data.above[N] if floor is not None else None,
               "signal": mi.estimate, "CI low": mi.low, "CI high": mi.high,
               "local slope": iv.estimate if iv else None,
               "slope CI low": iv.low if iv else None,
               "slope CI high": iv.high if iv else None,
               "predicted": f"N^{predicted:.3g}"}
        if regime is not None:
            row["series residual"] = regime.residual.get(N)
        if isinstance(regime, TermShare):
            row["term share"] = regime.share.get(N)
        table.add(**row)
    return table


def _floor_reason(data: _ExponentData) -> str:
    """Why the null floor leaves the verdict open (empty when it does not): the signal is
    below it at every width the guard admits, or at the largest of them."""
    if data.floor is None:
        return ""
    considered = data.considered
    over = [N for N in considered if data.above[N]]
    if not over:
        return "signal below the null floor at every N"
    if not data.above[considered[-1]]:
        return (f"signal not above the null floor at the largest N = {considered[-1]} (above "
                f"at N = {', '.join(map(str, over))})")
    return ""


def _exponent_verdict(data: _ExponentData, predicted: float, tolerance: float,
                      regime: Regime | None, adj: Mapping[str, float]
                      ) -> tuple[str, str, float]:
    """The exponent rule's ``(status, reason, pvalue)`` before the notes: the regime guard,
    the null floor, then the fit and the last local slope (:func:`_slopes_verdict`)."""
    blocked, prefix = guard_clause(regime, data.Ns)
    if blocked:
        return "inconclusive", blocked, math.nan
    below = _floor_reason(data)
    if below:
        return "inconclusive", prefix + below, math.nan
    if data.fit is None:
        return "inconclusive", prefix + "fewer than two N with a measurable signal", math.nan
    return _slopes_verdict(data, predicted, tolerance, adj, prefix)


def _slopes_verdict(data: _ExponentData, predicted: float, tolerance: float,
                    adj: Mapping[str, float], prefix: str) -> tuple[str, str, float]:
    """The verdict from the fit and the last local slope (both CIs against ``predicted``, the
    BH-adjusted p-values, the drift of the local slopes), once the guard and the floor pass."""
    fit, locs, usable = data.fit, data.locs, data.usable
    last = locs[-1][2]
    devs = [iv.estimate - predicted for _, _, iv in locs]
    slopes = _fmt_list(iv.estimate for _, _, iv in locs)
    p_fit, p_last = adj["fit"], adj["last_local"]
    in_fit, in_last = fit.contains(predicted), last.contains(predicted)
    if not enough_widths(usable):
        return ("inconclusive", prefix + f"{_evidence_note(usable)}; so far fit {fit}, last "
                f"local slope {last} against {predicted:.3g}", math.nan)
    where = (f"above the null floor at N = {data.considered[-1]}" if data.floor is not None
             else f"at N = {usable[0]}..{usable[-1]}")
    if in_fit and in_last:
        if fit.half_width > tolerance:
            return ("inconclusive", prefix + f"CI wider than the tolerance: fit {fit} has "
                    f"half-width {fit.half_width:.3g} > {tolerance:g}", math.nan)
        return ("consistent", prefix + f"fitted exponent {fit} and last local slope {last} "
                f"contain {predicted:.3g}; signal {where}", math.nan)
    if not in_fit and in_last:
        return ("inconclusive", prefix + f"fit {fit} excludes {predicted:.3g} but the last "
                f"local slope {last} contains it (local slopes {slopes}): pre-asymptotic",
                math.nan)
    if in_fit and not in_last:
        return ("inconclusive", prefix + f"last local slope {last} excludes {predicted:.3g} "
                f"while the fit {fit} contains it (local slopes {slopes})", math.nan)
    # both exclude: significant?  shrinking?  The drift test needs two local slopes, and a
    # drop larger than the combined 95% margin of the two (so noise is not a drift).
    shrinking = (len(devs) >= 2 and np.sign(devs[-1]) == np.sign(devs[-2])
                 and abs(devs[-1]) < abs(devs[-2]) - _margin(locs[-2][2], last))
    significant = p_fit < LEVEL and p_last < LEVEL
    if significant and not shrinking:
        return ("inconsistent", prefix + f"fitted exponent {fit} and last local slope {last} "
                f"exclude {predicted:.3g} (BH-adjusted p = {max(p_fit, p_last):.2g}); local "
                f"slopes {slopes} not drifting toward it", max(p_fit, p_last))
    if shrinking:
        return ("inconclusive", prefix + f"local slopes {slopes} drifting toward "
                f"{predicted:.3g}: pre-asymptotic", math.nan)
    return ("inconclusive", prefix + f"fit {fit} and last local slope {last} exclude "
            f"{predicted:.3g} but not significantly after BH (p = {max(p_fit, p_last):.2g})",
            math.nan)


def exponent_finding(claim: str, subject: str, config: ModelConfig, predicted: float,
                     tolerance: float, *, raw: Mapping[int, Sequence[float]],
                     floor: Mapping[int, Sequence[float]] | None = None,
                     taylor: float | None = None, regime: Regime | None = None,
                     guard_off: bool = False) -> Finding:
    """Growth exponent of a per-seed statistic ``raw[N]`` against ``predicted``.

    With a null ``floor`` (per seed), the floor-corrected signal (:func:`floor_corrected`) is
    fitted, and only at the N where the raw statistic is above the floor: a one-sided Welch
    test at level ``LEVEL / len(N)`` (a Bonferroni screen inside the finding, not part of the
    run's BH family).  With a ``regime`` (the guard), only the N where the series of exact terms
    converges are used.  The fit's and the last local slope's p-values join the family.
    ``taylor`` (the estimate ``eta_1 max|a_i|`` at the largest N) is displayed, not used.
    Either verdict needs :func:`enough_widths` usable widths.
    """
    data, pvals = _exponent_data(raw, floor, predicted, regime)
    Ns, fit = data.Ns, data.fit
    table = _exponent_table(claim, subject, predicted, data, regime)
    taylor_note = ("" if taylor is None else
                   f"; Taylor estimate eta1 max|a| = {taylor:.2f} at N = {Ns[-1]}")
    guard_note = "; regime guard off (asked by the claim)" if guard_off else ""
    seeds_now = min((len(raw[N]) for N in Ns), default=0)

    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        status, reason, p = _exponent_verdict(data, predicted, tolerance, regime, adj)
        if status == "inconclusive" and "would decide" not in reason:
            reason += "; would decide: " + _exponent_need(reason, fit, seeds_now, tolerance,
                                                          Ns[-1] if Ns else 0)
        return status, reason + taylor_note + guard_note, p

    est = fit.estimate if fit else math.nan
    ci = (fit.low, fit.high) if fit else (math.nan, math.nan)
    return Finding(claim, subject, config, table, predicted, est, ci, pvals, decide,
                   extra={"fit": fit, "above": data.above, "usable": data.usable,
                          "locs": data.locs, "signal": data.signal})
