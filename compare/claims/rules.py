"""The generic decision rules: the exponent and limit rules, the null floor, the regime guard.

- exponent (:func:`exponent_finding`): ``consistent`` needs the prediction inside the bootstrap
  CI of the log-log fit *and* inside the CI of the last local slope, the fit CI no wider than
  the tolerance, and the signal above its null floor at the largest N.  ``inconsistent`` needs
  the fit and the last local slope to deviate significantly (adjusted p < level) with a
  deviation that is not shrinking across the last local slopes.  Both need the same evidence:
  at least :data:`MIN_WIDTHS` usable widths spanning :data:`MIN_RANGE`.  Everything else is
  ``inconclusive`` with its reason.
- limit (:func:`limit_finding`): the per-N mean converges to the prediction; the same structure
  with a tolerance band instead of a slope, decided at the last two N both ways.
- the regime guard (:class:`Regime`, :func:`measured_regime`): a statement about step-two terms
  is decided only at the N where the measured series of exact terms converges (docs/claims.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from twostep.simulate.terms import SERIES_TOLERANCE, TERMS_LIMIT
from twostep.theory.config import ModelConfig

from .. import stats
from ..table import Table
from .results import LEVEL, Finding, Results

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
#: them is a statement about the step-two update, and the regime guard applies to it).
STEP_TWO_FIELDS = frozenset({"amplitudes", "terms", "outliers", "visible_new_outliers",
                             "beta", "series"})
#: Spectra of step two (``measurement.spectra[name]``).
STEP_TWO_SPECTRA = frozenset({"W2", "update"})


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

@dataclass(frozen=True)
class Regime:
    """Where the series of exact step-two terms converges (docs/claims.md).

    ``residual[N]``: the largest relative residual ``||U - sum_{k<=K} T_k|| / ||U||`` over the
    seeds at N (None where a seed has no series diagnostics); N supports a term-level verdict
    iff it is at most ``tolerance``.  ``blocked`` (non-empty) says why no N can: the terms are
    undefined for the activation.
    """

    residual: Mapping[int, float | None]
    tolerance: float
    blocked: str = ""

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
        if missing:
            parts.append(f"no series diagnostics at N = {', '.join(map(str, missing))} (run "
                         "with terms >= 1)")
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
    return TermShare(regime.residual, regime.tolerance, regime.blocked, k=k, share=share)


def measured_regime(results: Results, config: ModelConfig) -> Regime:
    """The :class:`Regime` of ``config``'s measurements (their ``series`` diagnostics)."""
    from twostep.theory.functions import parse_function

    residual: dict[int, float | None] = {}
    for N in results.Ns(config):
        values = [(m.series or {}).get("residual") for m in results.get(config, N)]
        residual[N] = None if any(v is None for v in values) else float(max(values))
    blocked = ""
    if not parse_function(config.activation).smooth:
        blocked = (f"the exact step-two terms are undefined for the non-smooth activation "
                   f"{config.activation!r} (their coefficients are derivatives of a kink; "
                   "docs/theory.md)")
    return Regime(residual, SERIES_TOLERANCE, blocked)


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

    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        status, reason, p = _decide(adj)
        return status, reason + taylor_note + guard_note, p

    def _decide(adj: dict[str, float]) -> tuple[str, str, float]:
        prefix = ""
        if regime is not None:
            outside = [N for N in Ns if not in_regime[N]]
            if len(outside) == len(Ns):
                return "inconclusive", regime.describe(Ns), math.nan
            if outside:
                prefix = regime.describe(outside) + "; "
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
        enough = enough_widths(usable)
        if not enough:
            return ("inconclusive", prefix + f"{_evidence_note(usable)}; so far fit {fit}, last "
                    f"local slope {last} against {predicted:.3g}", math.nan)
        where = (f"above the null floor at N = {considered[-1]}" if floor is not None
                 else f"at N = {usable[0]}..{usable[-1]}")
        if in_fit and in_last:
            if fit.half_width > tolerance:
                return ("inconclusive", prefix + f"CI wider than the tolerance: fit {fit} has "
                        f"half-width {fit.half_width:.3g} > {tolerance:g}", math.nan)
            if not enough:
                return ("inconclusive", prefix + f"fit {fit} and last local slope {last} contain "
                        f"{predicted:.3g}, but {_evidence_note(usable)}", math.nan)
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
        if significant and not shrinking and not enough:
            return ("inconclusive", prefix + f"fit {fit} excludes {predicted:.3g} significantly, "
                    f"but {_evidence_note(usable)}: the deviation may be a drift", math.nan)
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


def limit_finding(claim: str, subject: str, config: ModelConfig,
                  values: Mapping[int, Sequence[float]], predicted: float,
                  tolerance: float, *, regime: Regime | None = None,
                  guard_off: bool = False, note: str = "") -> Finding:
    """The per-N mean of ``values`` converges to ``predicted`` within ``tolerance`` (absolute).

    Decided at the last two N, the same evidence both ways.  consistent: at each of them the
    mean's CI meets the band ``predicted +- tolerance``, and at the largest N it is no wider
    than the band (half-width <= tolerance: a wide CI meets every band).  inconsistent: at each
    of the last two N the CI misses the band (one-sided t-test against the nearest end of the
    band, adjusted; a sample with no spread that misses the band is decided, p = 0) and the
    deviation is not shrinking.  With a ``regime`` only N where the series of exact terms
    converges are used.  ``note`` is appended to every reason.
    """
    Ns = sorted(values)
    table = Table(["N", "seeds", "measured", "CI low", "CI high", "predicted", "deviation"]
                  + (["series residual"] if regime is not None else []),
                  title=f"{claim}: {subject}")
    ivs = {}
    pvals = {}
    lo, hi = predicted - tolerance, predicted + tolerance
    for N in Ns:
        x = np.asarray(values[N], float)
        iv = stats.mean_interval(x)
        ivs[N] = iv
        edge = hi if iv.estimate > predicted else lo
        if x.size >= 2:
            if np.ptp(x) > 0:
                alt = "greater" if iv.estimate > predicted else "less"
                from scipy.stats import ttest_1samp

                pvals[f"outside@{N}"] = float(ttest_1samp(x, edge, alternative=alt).pvalue)
            else:  # no spread: the deviation is exact
                pvals[f"outside@{N}"] = 0.0 if not lo <= x[0] <= hi else 1.0
        row = {"N": N, "seeds": x.size, "measured": iv.estimate, "CI low": iv.low,
               "CI high": iv.high, "predicted": predicted, "deviation": iv.estimate - predicted}
        if regime is not None:
            row["series residual"] = regime.residual.get(N)
        table.add(**row)
    suffix = (f"; {note}" if note else "") + (
        "; regime guard off (asked by the claim)" if guard_off else "")

    def meets(N: int) -> bool:
        return ivs[N].high >= lo and ivs[N].low <= hi

    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        status, reason, p = _decide(adj)
        return status, reason + suffix, p

    def _decide(adj: dict[str, float]) -> tuple[str, str, float]:
        prefix = ""
        usable = list(Ns)
        if regime is not None:
            outside = [N for N in Ns if not regime.ok(N)]
            usable = [N for N in Ns if regime.ok(N)]
            if not usable:
                return "inconclusive", regime.describe(Ns), math.nan
            if outside:
                prefix = regime.describe(outside) + "; "
        last_N = usable[-1]
        last = ivs[last_N]
        tail = usable[-2:]
        band = f"{predicted:.4g} +- {tolerance:.3g}"
        if len(tail) < 2:
            return ("inconclusive", prefix + f"mean {last} at N = {last_N}: a verdict needs the "
                    "last two widths", math.nan)
        if all(meets(N) for N in tail):
            if last.half_width > tolerance:
                return ("inconclusive", prefix + f"CI wider than the tolerance: mean {last} at "
                        f"N = {last_N} has half-width {last.half_width:.3g} > {tolerance:.3g}",
                        math.nan)
            return ("consistent", prefix + f"mean {last} at N = {last_N} within {band}, and at "
                    f"N = {tail[0]} too", math.nan)
        sig = all(adj.get(f"outside@{N}", 1.0) < LEVEL for N in tail)
        devs = [abs(ivs[N].estimate - predicted) for N in tail]
        shrinking = devs[1] < devs[0] - _margin(*(ivs[N] for N in tail))
        if sig and not shrinking:
            p = max(adj[f"outside@{N}"] for N in tail)
            return ("inconsistent", prefix + f"mean {last} at N = {last_N} outside {band} at the "
                    f"last two N (adjusted p = {p:.2g}), deviation {devs[0]:.3g} -> "
                    f"{devs[1]:.3g} not significantly shrinking", p)
        if shrinking:
            return ("inconclusive", prefix + f"deviation {devs[0]:.3g} -> {devs[1]:.3g} shrinking "
                    "toward the prediction: pre-asymptotic", math.nan)
        if not meets(last_N):
            return ("inconclusive", prefix + f"mean {last} at N = {last_N} misses the band {band} "
                    "but not significantly at the last two N", math.nan)
        return ("inconclusive", prefix + f"mean {last} at N = {last_N} meets the band {band} but "
                f"the mean at N = {tail[0]} does not", math.nan)

    last = ivs[Ns[-1]]
    return Finding(claim, subject, config, table, predicted, last.estimate,
                   (last.low, last.high), pvals, decide)
