"""The generic decision rules: the exponent and limit rules, the null floor, the regime guard.

- exponent (:func:`exponent_finding`): ``consistent`` needs the prediction inside the bootstrap
  CI of the log-log fit *and* inside the CI of the last local slope, the fit CI no wider than
  the tolerance, and the signal above its null floor at the largest N.  ``inconsistent`` needs
  the fit and the last local slope to deviate significantly (adjusted p < level) with a
  deviation that is not shrinking across the last local slopes.  Both need the same evidence:
  at least :data:`MIN_WIDTHS` usable widths spanning :data:`MIN_RANGE`.  Everything else is
  ``inconclusive`` with its reason.
- limit (:func:`limit_finding`, rule ``"limit"``): the per-N mean converges to the prediction;
  the same structure with a tolerance band instead of a slope, decided at the last two usable N
  both ways; the verdict's statistic and interval are those of the largest usable N.
- extrapolated limit (:func:`extrapolated_limit_finding`, rule ``"extrapolated-limit"``): the
  limit ``r_inf`` of ``r(N) = r_inf + c N^{-1/2}`` fitted across N, against a band.
- the regime guard (:class:`Regime`, :func:`measured_regime`): a statement about step-two terms
  is decided only at the N where the measured series of exact terms converges (docs/claims.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twostep.simulate.measurement import fields_of
from twostep.simulate.terms import SERIES_TOLERANCE, TERMS_LIMIT
from twostep.theory.config import ModelConfig

from .. import stats
from ..table import Table
from .results import LEVEL, Finding, Outcome, Results, register_rule

#: An asymptotic statement is decided (either way) only from at least this many widths spanning
#: at least this ratio: the "not drifting" judgement needs three local slopes, not two, and a
#: ``consistent`` needs the same evidence an ``inconsistent`` needs.
MIN_WIDTHS = 4
MIN_RANGE = 8.0
#: old names, kept for user code
MIN_WIDTHS_TO_REFUTE = MIN_WIDTHS
MIN_RANGE_TO_REFUTE = MIN_RANGE

#: Exact terms computed for the regime guard when a claim needs no more (``terms`` run option).
GUARD_TERMS = 3

#: Top-level measurement fields that hold step-two quantities (a statistic that reads one of
#: them is a statement about the step-two update, and the regime guard applies to it): the
#: fields of kind "step two" and "exact terms" of ``simulate.measurement.FIELD_KINDS``.  The
#: fields of kind "per step" are read entry by entry (:data:`STEP_TWO_SPECTRA`,
#: :data:`STEP_TWO_FROM`).
STEP_TWO_FIELDS = frozenset(fields_of("step two", "exact terms"))
#: Spectra of step two (``measurement.spectra[name]``).
STEP_TWO_SPECTRA = frozenset({"W2", "update"})
#: Entries of ``measurement.dynamics`` (one per step) with ``t`` at least this are step two's.
STEP_TWO_FROM = 2


# -- the generic tests ---------------------------------------------------------------------------

def _fmt_list(xs: Iterable[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def _margin(a: stats.Interval, b: stats.Interval) -> float:
    """Combined 95% margin of the difference of two independent estimates."""
    return math.hypot(a.half_width, b.half_width)


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


# -- the regime guard ----------------------------------------------------------------------------

#: What the guard says of a width without a series residual, unless its measurements say why
#: (``series["residual_missing"]``, :class:`Regime`).
NO_SERIES = "run with terms >= 1"


@dataclass(frozen=True)
class Regime:
    """Where the series of exact step-two terms converges (docs/claims.md).

    ``residual[N]``: the largest relative residual ``||U - sum_{k<=K} T_k|| / ||U||`` over the
    seeds at N (None where a seed has no series diagnostics); N supports a term-level verdict
    iff it is at most ``tolerance``.  ``blocked`` (non-empty) says why no N can: the terms are
    undefined for the activation.  ``missing[N]``: why N has no residual, where a measurement
    says so (its ``series["residual_missing"]``: the core view's rescaled measurements); the
    other N without one are told :data:`NO_SERIES`.
    """

    residual: Mapping[int, float | None]
    tolerance: float
    blocked: str = ""
    missing: Mapping[int, str] = field(default_factory=dict)

    def ok(self, N: int) -> bool:
        r = self.residual.get(N)
        return not self.blocked and r is not None and r <= self.tolerance

    def describe(self, Ns: Sequence[int]) -> str:
        """One clause on the N of ``Ns`` that do not support a verdict."""
        if self.blocked:
            return self.blocked
        missing = [N for N in Ns if self.residual.get(N) is None]
        diverging = [N for N in Ns if N not in missing and not self.ok(N)]
        parts = []
        if diverging:
            worst = max(diverging, key=lambda N: (self.residual[N], N))
            where = ", ".join(map(str, diverging))
            parts.append(f"series residual {self.residual[worst]:.3g} at N = {worst} (> "
                         f"{self.tolerance:g} at N = {where}): the expansion that defines the "
                         "terms diverges there")
        by_note: dict[str, list[int]] = {}
        for N in missing:
            by_note.setdefault(self.missing.get(N, NO_SERIES), []).append(N)
        for note, where in by_note.items():
            parts.append(f"no series diagnostics at N = {', '.join(map(str, where))} ({note})")
        return "; ".join(parts)


#: The projection of the whole update on ``q_{k+1}`` is term k's when term k's own projection
#: is at least this share of it (median over seeds); the rest is other terms' leakage.
MIN_TERM_SHARE = 0.5


@dataclass(frozen=True)
class TermShare(Regime):
    """A :class:`Regime` that also needs term k to carry the whole update's projection on
    ``q_{k+1}``: ``share[N]`` is the median over seeds of ``||T_k^T q_{k+1}|| /
    ||(W_2 - W_1)^T q_{k+1}||`` (None where a seed lacks term k)."""

    k: int = 0
    share: Mapping[int, float | None] = field(default_factory=dict)

    def ok(self, N: int) -> bool:
        s = self.share.get(N)
        return Regime.ok(self, N) and s is not None and s >= MIN_TERM_SHARE

    def describe(self, Ns: Sequence[int]) -> str:
        parts = [Regime.describe(self, [N for N in Ns if not Regime.ok(self, N)])]
        low = [N for N in Ns if Regime.ok(self, N) and not self.ok(N)]
        if low:
            shares = ", ".join("-" if self.share.get(N) is None else f"{self.share[N]:.2f}"
                               for N in low)
            parts.append(f"term {self.k} carries only {shares} of the projection on "
                         f"q_{self.k + 1} at N = {', '.join(map(str, low))} (< {MIN_TERM_SHARE:g};"
                         " the rest leaks from the other terms)")
        return "; ".join(p for p in parts if p)


def term_share(results: Results, config: ModelConfig, k: int, regime: Regime) -> TermShare:
    """:class:`TermShare` of term k from the exact terms and the whole-update amplitudes."""
    share: dict[int, float | None] = {}
    for N in results.Ns(config):
        values = []
        for m in results.get(config, N):
            exact = next((t for t in (m.terms or ()) if t.k == k), None)
            whole = next((a for a in m.amplitudes or () if a.k == k), None)
            if exact is None or whole is None or not whole.amplitude:
                values = None
                break
            values.append(exact.amplitude / whole.amplitude)
        share[N] = None if values is None else float(np.median(values))
    return TermShare(regime.residual, regime.tolerance, regime.blocked, regime.missing, k=k,
                     share=share)


def measured_regime(results: Results, config: ModelConfig) -> Regime:
    """The :class:`Regime` of ``config``'s measurements (their ``series`` diagnostics)."""
    from twostep.theory.functions import parse_function

    residual: dict[int, float | None] = {}
    missing: dict[int, str] = {}
    for N in results.Ns(config):
        series = [m.series or {} for m in results.get(config, N)]
        values = [s.get("residual") for s in series]
        residual[N] = None if any(v is None for v in values) else float(max(values))
        notes = [s["residual_missing"] for s in series
                 if s.get("residual") is None and s.get("residual_missing")]
        if residual[N] is None and notes:
            missing[N] = str(notes[0])
    blocked = ""
    if not parse_function(config.activation).smooth:
        blocked = (f"the exact step-two terms are undefined for the non-smooth activation "
                   f"{config.activation!r} (their coefficients are derivatives of a kink; "
                   "docs/theory.md)")
    return Regime(residual, SERIES_TOLERANCE, blocked, missing)


def guard_clause(regime: Regime | None, Ns: Sequence[int]) -> tuple[str, str]:
    """``(blocked, prefix)`` of a guarded verdict: ``blocked`` is the reason when no width of
    ``Ns`` is in the regime (the verdict is then inconclusive), ``prefix`` the clause on the
    widths left out (empty when none)."""
    if regime is None:
        return "", ""
    outside = [N for N in Ns if not regime.ok(N)]
    if Ns and len(outside) == len(Ns):
        return regime.describe(Ns), ""
    return "", (regime.describe(outside) + "; ") if outside else ""


def guard_terms(config: ModelConfig, need: int = GUARD_TERMS) -> int:
    """The ``terms`` run option a step-two claim needs on ``config`` (at most
    ``simulate.terms.TERMS_LIMIT``): 0 when the activation is not smooth (the terms are
    undefined; the guard then blocks every term-level verdict)."""
    from twostep.theory.functions import parse_function

    return min(need, TERMS_LIMIT) if parse_function(config.activation).smooth else 0


def enough_widths(Ns: Sequence[int]) -> bool:
    """At least :data:`MIN_WIDTHS` widths spanning at least :data:`MIN_RANGE`."""
    Ns = sorted(Ns)
    return len(Ns) >= MIN_WIDTHS and Ns[-1] / Ns[0] >= MIN_RANGE


def _evidence_note(Ns: Sequence[int]) -> str:
    span = Ns[-1] / Ns[0] if Ns else 0.0
    return (f"{len(Ns)} usable width(s) spanning {span:.3g}x (a verdict either way needs >= "
            f"{MIN_WIDTHS} spanning >= {MIN_RANGE:g}x)")


def more_seeds(seeds: int, half_width: float, target: float) -> int | None:
    """Seeds per N that bring a 95% half-width measured with ``seeds`` seeds under ``target``
    (it shrinks as ``1/sqrt(seeds)``; 20% to spare), or None when unknown."""
    if not (seeds >= 1 and math.isfinite(half_width) and half_width > 0 and target > 0):
        return None
    return max(seeds + 1, math.ceil(seeds * (half_width / target) ** 2 * 1.2))


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
    cols = ["N", "seeds", "amplitude", "null floor", "above floor", "signal", "CI low",
            "CI high", "local slope", "slope CI low", "slope CI high", "predicted"]
    if regime is not None:
        cols.append("series residual")
    if isinstance(regime, TermShare):
        cols.append("term share")
    table = Table(cols, title=f"{claim}: {subject}")
    loc_by_N = {n2: iv for _, n2, iv in locs}
    for N in Ns:
        mi = stats.mean_interval(signal[N])
        iv = loc_by_N.get(N)
        row = {"N": N, "seeds": len(signal[N]), "amplitude": float(np.mean(raw[N])),
               "null floor": float(np.mean(floor[N])) if floor is not None else None,
               "above floor": above[N] if floor is not None else None,
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
    taylor_note = ("" if taylor is None else
                   f"; Taylor estimate eta1 max|a| = {taylor:.2f} at N = {Ns[-1]}")
    guard_note = "; regime guard off (asked by the claim)" if guard_off else ""

    seeds_now = min((len(raw[N]) for N in Ns), default=0)

    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        status, reason, p = _decide(adj)
        if status == "inconclusive" and "would decide" not in reason:
            reason += "; would decide: " + _exponent_need(reason, fit, seeds_now, tolerance,
                                                          Ns[-1] if Ns else 0)
        return status, reason + taylor_note + guard_note, p

    def _decide(adj: dict[str, float]) -> tuple[str, str, float]:
        blocked, prefix = guard_clause(regime, Ns)
        if blocked:
            return "inconclusive", blocked, math.nan
        considered = [N for N in Ns if in_regime[N]]
        if floor is not None:
            over = [N for N in considered if above[N]]
            if not over:
                return "inconclusive", prefix + "signal below the null floor at every N", \
                    math.nan
            if not above[considered[-1]]:
                return ("inconclusive", prefix + f"signal not above the null floor at the "
                        f"largest N = {considered[-1]} (above at N = "
                        f"{', '.join(map(str, over))})", math.nan)
        if fit is None:
            return "inconclusive", prefix + "fewer than two N with a measurable signal", math.nan
        last = locs[-1][2]
        devs = [iv.estimate - predicted for _, _, iv in locs]
        slopes = _fmt_list(iv.estimate for _, _, iv in locs)
        p_fit, p_last = adj["fit"], adj["last_local"]
        in_fit, in_last = fit.contains(predicted), last.contains(predicted)
        if not enough_widths(usable):
            return ("inconclusive", prefix + f"{_evidence_note(usable)}; so far fit {fit}, last "
                    f"local slope {last} against {predicted:.3g}", math.nan)
        where = (f"above the null floor at N = {considered[-1]}" if floor is not None
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

    est = fit.estimate if fit else math.nan
    ci = (fit.low, fit.high) if fit else (math.nan, math.nan)
    return Finding(claim, subject, config, table, predicted, est, ci, pvals, decide,
                   extra={"fit": fit, "above": above, "usable": usable, "locs": locs,
                          "signal": signal})


def regime_to_dict(regime: Regime | None) -> dict | None:
    """A :class:`Regime` (or :class:`TermShare`) as JSON-able data (a finding's inputs)."""
    if regime is None:
        return None
    d = {"residual": {str(N): r for N, r in regime.residual.items()},
         "tolerance": regime.tolerance, "blocked": regime.blocked}
    if regime.missing:
        d["missing"] = {str(N): why for N, why in regime.missing.items()}
    if isinstance(regime, TermShare):
        d.update(k=regime.k, share={str(N): s for N, s in regime.share.items()})
    return d


def regime_from_dict(d: Mapping | None) -> Regime | None:
    if d is None:
        return None
    residual = {int(N): r for N, r in d["residual"].items()}
    missing = {int(N): why for N, why in d.get("missing", {}).items()}
    if "share" in d:
        return TermShare(residual, d["tolerance"], d["blocked"], missing, k=int(d["k"]),
                         share={int(N): s for N, s in d["share"].items()})
    return Regime(residual, d["tolerance"], d["blocked"], missing)


def _per_N_value(x: float | Mapping[int, float], Ns: Sequence[int]) -> dict[str, float]:
    if isinstance(x, Mapping):
        return {str(N): float(x[N]) for N in Ns if N in x}
    return {str(N): float(x) for N in Ns}


def _usable(Ns: Sequence[int], regime: Regime | None, excluded: Mapping[int, str]
            ) -> tuple[list[int], str]:
    """The N that may decide (converging series, not excluded) and the clause on the others."""
    parts = []
    if regime is not None:
        outside = [N for N in Ns if not regime.ok(N)]
        if outside:
            parts.append(regime.describe(outside))
    out = [N for N in Ns if N not in excluded and (regime is None or regime.ok(N))]
    for N in Ns:
        if N in excluded and (regime is None or regime.ok(N)):
            parts.append(excluded[N])
    return out, "; ".join(parts)


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


# -- the extrapolated limit ----------------------------------------------------------------------

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
    inputs = {"values": {str(N): [float(v) for v in values[N]] for N in Ns},
              "predicted": predicted, "tolerance": tolerance,
              "regime": regime_to_dict(regime), "note": note}
    return Finding(claim, subject, config, table, predicted,
                   fit.estimate if fit else math.nan,
                   (fit.low, fit.high) if fit else (math.nan, math.nan),
                   {"r_inf": p} if p is not None else {}, rule="extrapolated-limit",
                   inputs=inputs)


@register_rule("extrapolated-limit")
def decide_extrapolated_limit(inputs: Mapping[str, Any], adj: Mapping[str, float]) -> Outcome:
    """The rule of :func:`extrapolated_limit_finding`."""
    values = {int(N): v for N, v in inputs["values"].items()}
    Ns = sorted(values)
    predicted, tolerance = inputs["predicted"], inputs["tolerance"]
    regime = regime_from_dict(inputs["regime"])
    suffix = f"; {inputs['note']}" if inputs["note"] else ""
    usable, clause = _usable(Ns, regime, {})
    usable = [N for N in usable if len(values[N]) >= 2]
    prefix = clause + "; " if clause else ""
    band = f"{predicted:.4g} +- {tolerance:.3g}"
    enough = (len(usable) >= EXTRAPOLATION_WIDTHS
              and usable[-1] / usable[0] >= EXTRAPOLATION_RANGE)
    if len(usable) < 2:
        return Outcome("inconclusive", prefix + "fewer than two usable widths with two seeds: "
                       "no limit can be extrapolated" + suffix)
    fit, _ = _extrapolate({N: values[N] for N in usable})
    where = dict(statistic=fit.estimate, ci=(fit.low, fit.high))
    seen = f"limit r_inf = {fit} from N = {', '.join(map(str, usable))}"
    if not enough:
        return Outcome("inconclusive", prefix + f"{seen}: an extrapolation needs >= "
                       f"{EXTRAPOLATION_WIDTHS} usable widths spanning >= "
                       f"{EXTRAPOLATION_RANGE:g}x" + suffix, **where)
    meets = fit.high >= predicted - tolerance and fit.low <= predicted + tolerance
    if meets:
        if fit.half_width > tolerance:
            return Outcome("inconclusive", prefix + f"{seen}: CI half-width "
                           f"{fit.half_width:.3g} wider than the tolerance {tolerance:.3g}"
                           + suffix, **where)
        return Outcome("consistent", prefix + f"{seen} within {band}" + suffix, **where)
    p = adj.get("r_inf", 1.0)
    if p < LEVEL:
        return Outcome("inconsistent", prefix + f"{seen} outside {band} (adjusted p = {p:.2g})"
                       + suffix, p, **where)
    return Outcome("inconclusive", prefix + f"{seen} misses {band} but not significantly after "
                   f"BH (p = {p:.2g})" + suffix, **where)
