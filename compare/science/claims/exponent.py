"""The exponent rule: the growth exponent of a per-seed statistic against a prediction.

:func:`exponent_finding`: ``consistent`` needs the prediction inside the bootstrap CI of the
log-log fit *and* inside the CI of the last local slope, the fit CI no wider than the tolerance,
and the signal above its null floor at the largest N.  ``inconsistent`` needs the fit and the
last local slope to deviate significantly (adjusted p < level) with a deviation that is not
shrinking across the last local slopes.  Both need the same evidence: at least
:data:`~twostep.compare.science.claims.evidence.MIN_WIDTHS` usable widths spanning
:data:`~twostep.compare.science.claims.evidence.MIN_RANGE`.  Everything else is ``inconclusive``
with its reason and what would decide it (:func:`_exponent_need`).

The steps: :func:`_exponent_data` (the signal, the widths above the floor and in the regime,
the fit and the local slopes), :func:`_exponent_table` (the evidence), :func:`_exponent_verdict`
(the guard and the floor, then :func:`_slopes_verdict` on the fit and the last local slope).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from twostep.compare.output.table import Table
from twostep.theory.config import ModelConfig

from .. import stats
from .codes import Reason, Status
from .data import ByKey, FindingExtra
from .evidence import (
    MIN_RANGE,
    MIN_WIDTHS,
    _evidence_reason,
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


#: The codes of an undecided exponent verdict whose local slopes have not settled.
_UNSETTLED = frozenset({"exponent-fit-excludes", "exponent-last-excludes", "exponent-drifting",
                        "exponent-not-significant"})


def _diverging(reason: Reason) -> bool:
    """Whether the guard's clause in ``reason`` names a width where the series of exact terms
    diverges (its ``diverging`` widths)."""
    return any(r is not None and r.params["diverging"]
               for r in (reason.find("guard-outside"), reason.find("guard-prefix")))


def _exponent_need(reason: Reason, fit: stats.Interval | None, seeds: int, tolerance: float,
                   largest: int) -> Reason:
    """What would decide an undecided exponent-rule verdict, from the reason's codes (first:
    the guard names a width where the series diverges, :func:`_diverging`)."""
    if _diverging(reason):
        return Reason("need-convergence")
    if reason.code in ("exponent-floor-all", "exponent-floor-largest"):
        return Reason("need-floor", N=largest)
    if reason.code == "exponent-widths":
        return Reason("need-widths", N=2 * largest, need_widths=MIN_WIDTHS, need_range=MIN_RANGE)
    if reason.code in _UNSETTLED:
        return Reason("need-settled", N=largest)
    if fit is not None:
        n = more_seeds(seeds, fit.half_width, tolerance)
        if n is not None:
            return Reason("need-seeds-fit", seeds=n, half_width=float(fit.half_width),
                          tolerance=float(tolerance))
    return Reason("need-more")


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


@dataclass(frozen=True)
class ExponentExtra(FindingExtra):
    """What an :func:`exponent_finding` keeps (``Finding.extra``): the log-log ``fit`` of the
    signal on the usable widths (None with fewer than two), whether each N is ``above`` its
    null floor, the ``usable`` widths, the local slopes ``locs`` (``(N_from, N_to,
    interval)``) and the fitted per-seed ``signal`` at each N."""

    fit: stats.Interval | None
    above: ByKey[bool]
    usable: tuple[int, ...]
    locs: tuple[tuple[int, int, stats.Interval], ...]
    signal: ByKey[tuple[float, ...]]


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


def _floor_reason(data: _ExponentData, prefix: str) -> Reason | None:
    """Why the null floor leaves the verdict open (None when it does not): the signal is
    below it at every width the guard admits, or at the largest of them."""
    if data.floor is None:
        return None
    considered = data.considered
    over = [N for N in considered if data.above[N]]
    if not over:
        return Reason("exponent-floor-all", prefix=prefix)
    if not data.above[considered[-1]]:
        return Reason("exponent-floor-largest", prefix=prefix, N=considered[-1], above=over)
    return None


def _exponent_verdict(data: _ExponentData, predicted: float, tolerance: float,
                      regime: Regime | None, adj: Mapping[str, float]
                      ) -> tuple[str, Reason, float]:
    """The exponent rule's ``(status, reason, pvalue)`` before the notes: the regime guard,
    the null floor, then the fit and the last local slope (:func:`_slopes_verdict`)."""
    blocked, prefix = guard_clause(regime, data.Ns)
    if blocked is not None:
        return Status.BLOCKED, blocked, math.nan
    below = _floor_reason(data, prefix)
    if below:
        return "inconclusive", below, math.nan
    if data.fit is None:
        return "inconclusive", Reason("exponent-no-signal", prefix=prefix), math.nan
    return _slopes_verdict(data, predicted, tolerance, adj, prefix)


def _slopes_verdict(data: _ExponentData, predicted: float, tolerance: float,
                    adj: Mapping[str, float], prefix: str) -> tuple[str, Reason, float]:
    """The verdict from the fit and the last local slope (both CIs against ``predicted``, the
    BH-adjusted p-values, the drift of the local slopes), once the guard and the floor pass."""
    fit, locs, usable = data.fit, data.locs, data.usable
    last = locs[-1][2]
    devs = [iv.estimate - predicted for _, _, iv in locs]
    p_fit, p_last = adj["fit"], adj["last_local"]
    in_fit, in_last = fit.contains(predicted), last.contains(predicted)
    seen = dict(prefix=prefix, fit=str(fit), last=str(last), predicted=float(predicted),
                slopes=[float(iv.estimate) for _, _, iv in locs])
    if not enough_widths(usable):
        return ("inconclusive", Reason("exponent-widths", seen, widths=_evidence_reason(usable)),
                math.nan)
    where = (Reason("signal-above-floor", N=data.considered[-1]) if data.floor is not None
             else Reason("signal-at", first=usable[0], last=usable[-1]))
    if in_fit and in_last:
        if fit.half_width > tolerance:
            return ("inconclusive", Reason("exponent-ci-wide", seen,
                                           half_width=float(fit.half_width),
                                           tolerance=float(tolerance)), math.nan)
        return "consistent", Reason("exponent-consistent", seen, where=where), math.nan
    if not in_fit and in_last:
        return "inconclusive", Reason("exponent-fit-excludes", seen), math.nan
    if in_fit and not in_last:
        return "inconclusive", Reason("exponent-last-excludes", seen), math.nan
    # both exclude: significant?  shrinking?  The drift test needs two local slopes, and a
    # drop larger than the combined 95% margin of the two (so noise is not a drift).
    shrinking = (len(devs) >= 2 and np.sign(devs[-1]) == np.sign(devs[-2])
                 and abs(devs[-1]) < abs(devs[-2]) - _margin(locs[-2][2], last))
    significant = p_fit < LEVEL and p_last < LEVEL
    p = float(max(p_fit, p_last))
    if significant and not shrinking:
        return "inconsistent", Reason("exponent-inconsistent", seen, p=p), p
    if shrinking:
        return "inconclusive", Reason("exponent-drifting", seen), math.nan
    return "inconclusive", Reason("exponent-not-significant", seen, p=p), math.nan


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
    notes = [r for r in (
        None if taylor is None else Reason("taylor-note", taylor=float(taylor), N=Ns[-1]),
        Reason("guard-off") if guard_off else None) if r is not None]
    seeds_now = min((len(raw[N]) for N in Ns), default=0)

    def decide(adj: dict[str, float]) -> tuple[str, Reason, float]:
        status, reason, p = _exponent_verdict(data, predicted, tolerance, regime, adj)
        if status in (Status.INCONCLUSIVE, Status.BLOCKED):
            need = _exponent_need(reason, fit, seeds_now, tolerance, Ns[-1] if Ns else 0)
            reason = reason.then(Reason("would-decide", need=need))
        for note in notes:
            reason = reason.then(note)
        return status, reason, p

    est = fit.estimate if fit else math.nan
    ci = (fit.low, fit.high) if fit else (math.nan, math.nan)
    return Finding(claim, subject, config, table, predicted, est, ci, pvals, decide,
                   extra=ExponentExtra(fit, ByKey.of(data.above), tuple(data.usable),
                                       tuple(data.locs),
                                       ByKey.of({N: tuple(v) for N, v in data.signal.items()})))
