"""Claims: a prediction, a measured statistic and a decision rule -> a ``Verdict``.

A claim names the simulations it needs (:meth:`Claim.configs`, run options) and turns the
measurements into :class:`Finding` s.  Each finding carries raw p-values; the runner adjusts all
p-values of one run together (Benjamini-Hochberg, :func:`stats.adjust_pvalues`) and only then
lets each finding decide, so a run that tests many terms and claims does not find deviations by
multiple testing.

Decision rules (docs/claims.md has the long form):

- exponent (``growth-exponent``, user :class:`ExponentClaim`): ``consistent`` needs the prediction
  inside the bootstrap CI of the log-log fit *and* inside the CI of the last local slope, the fit
  CI no wider than the tolerance, and the signal above its null floor at the largest N.
  ``inconsistent`` needs the fit and the last local slope to deviate significantly (adjusted
  p < level) with a deviation that is not shrinking across the last local slopes.  Everything
  else is ``inconclusive`` with its reason.
- limit (``bbp``, user :class:`LimitClaim`): the per-N mean converges to the prediction; the
  same structure with a tolerance band instead of a slope.
- the count, left-vector, reuse-gap and one-step-spike claims combine these tests as their
  docstrings say.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import Prediction, predict

from . import stats
from .table import Table

STATUSES = ("consistent", "inconsistent", "inconclusive")

#: Family-wise level of the adjusted tests.
LEVEL = 0.05

#: An exponent is refuted only from at least this many widths spanning at least this ratio:
#: the "not drifting" judgement needs three local slopes, not two.
MIN_WIDTHS_TO_REFUTE = 4
MIN_RANGE_TO_REFUTE = 8.0

#: Largest Taylor parameter ``eta_1 max|a_i|`` (THEORY.md s.7) at which a deviation of a
#: step-two exponent may be called inconsistent: above it the terms k mix in the projections
#: and local slopes are pre-asymptotic whatever their error bars say.
TAYLOR_LIMIT = 0.5


# -- results -------------------------------------------------------------------------------------

class Results:
    """Measurements grouped by (config, N): ``results.get(config, N) -> [measurement dict]``."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, int], dict[int, dict[str, Any]]] = defaultdict(dict)
        self._configs: dict[str, ModelConfig] = {}

    def add(self, config: ModelConfig, N: int, seed: int, measurement: Mapping[str, Any]) -> None:
        self._configs[config.key()] = config
        self._data[(config.key(), int(N))][int(seed)] = dict(measurement)

    def get(self, config: ModelConfig, N: int) -> list[dict[str, Any]]:
        by_seed = self._data.get((config.key(), int(N)), {})
        return [by_seed[s] for s in sorted(by_seed)]

    def seeds(self, config: ModelConfig, N: int) -> list[int]:
        return sorted(self._data.get((config.key(), int(N)), {}))

    def Ns(self, config: ModelConfig) -> list[int]:
        key = config.key()
        return sorted(n for (k, n), v in self._data.items() if k == key and v)

    def __len__(self) -> int:
        return sum(len(v) for v in self._data.values())


# -- verdicts ------------------------------------------------------------------------------------

@dataclass
class Verdict:
    """The outcome of one claim on one configuration (scipy.stats-style result object).

    ``status`` is one of consistent | inconsistent | inconclusive; ``reason`` one line;
    ``evidence`` the per-N table; ``statistic`` the measured quantity the decision rests on
    (an exponent, a limit, a count) with its interval ``ci``; ``pvalue`` the smallest
    BH-adjusted p-value of the tests behind a deviation (NaN when none was run).
    """

    claim: str
    subject: str
    status: str
    reason: str
    evidence: Table
    predicted: Any = None
    statistic: float = float("nan")
    ci: tuple[float, float] = (float("nan"), float("nan"))
    pvalue: float = float("nan")
    config: ModelConfig | None = None

    def confidence_interval(self) -> tuple[float, float]:
        return self.ci

    def __repr__(self) -> str:
        return (f"Verdict(claim={self.claim!r}, subject={self.subject!r}, status={self.status!r}, "
                f"statistic={self.statistic:.4g}, ci=({self.ci[0]:.4g}, {self.ci[1]:.4g}), "
                f"pvalue={self.pvalue:.3g}, reason={self.reason!r})")

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {"claim": self.claim, "subject": self.subject, "status": self.status,
                "reason": self.reason, "predicted": self.predicted,
                "statistic": num(self.statistic), "ci": [num(self.ci[0]), num(self.ci[1])],
                "pvalue": num(self.pvalue),
                "config": self.config.to_dict() if self.config else None,
                "evidence": self.evidence.to_dict()}


@dataclass
class Finding:
    """Evidence of one claim before the multiple-testing correction.

    ``pvalues`` are the raw p-values of the tests whose significance the decision uses;
    ``decide(adjusted)`` gets them back adjusted and returns ``(status, reason, pvalue)``.
    """

    claim: str
    subject: str
    config: ModelConfig
    evidence: Table
    predicted: Any
    statistic: float
    ci: tuple[float, float]
    pvalues: dict[str, float]
    decide: Callable[[dict[str, float]], tuple[str, str, float]]
    extra: dict[str, Any] = field(default_factory=dict)


def decide_all(findings: Sequence[Finding]) -> list[Verdict]:
    """Adjust every p-value of the run together (Benjamini-Hochberg), then decide each finding."""
    flat = [(i, name, p) for i, f in enumerate(findings) for name, p in f.pvalues.items()]
    adjusted = stats.adjust_pvalues([p for _, _, p in flat])
    per: list[dict[str, float]] = [{} for _ in findings]
    for (i, name, _), q in zip(flat, adjusted):
        per[i][name] = q
    out = []
    for f, adj in zip(findings, per):
        status, reason, p = f.decide(adj)
        assert status in STATUSES, status
        out.append(Verdict(claim=f.claim, subject=f.subject, status=status, reason=reason,
                           evidence=f.evidence, predicted=f.predicted, statistic=f.statistic,
                           ci=f.ci, pvalue=p, config=f.config))
    return out


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


def exponent_finding(claim: str, subject: str, config: ModelConfig, predicted: float,
                     tolerance: float, *, raw: Mapping[int, Sequence[float]],
                     floor: Mapping[int, Sequence[float]] | None = None,
                     taylor: float | None = None) -> Finding:
    """Growth exponent of a per-seed statistic ``raw[N]`` against ``predicted``.

    With a null ``floor`` (per seed), the floor-corrected signal (:func:`floor_corrected`) is
    fitted, and only at the N where the raw statistic is above the floor: a one-sided Welch
    test at level ``LEVEL / len(N)`` (a Bonferroni screen inside the finding, not part of the
    run's BH family).  The fit's and the last local slope's p-values join the family.
    ``taylor`` is the Taylor parameter at the largest N; above :data:`TAYLOR_LIMIT` a
    significant deviation is reported as pre-asymptotic, never as inconsistent.  A refutation
    also needs :data:`MIN_WIDTHS_TO_REFUTE` widths spanning :data:`MIN_RANGE_TO_REFUTE`.
    """
    Ns = sorted(raw)
    signal = floor_corrected(raw, floor) if floor is not None else {N: list(raw[N]) for N in Ns}
    above = {N: (stats.welch_greater(raw[N], floor[N]) < LEVEL / len(Ns)) if floor is not None
             else True for N in Ns}
    usable = [N for N in Ns if above[N] and np.all(np.asarray(signal[N]) > 0)]
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
    table = Table(cols, title=f"{claim}: {subject}")
    loc_by_N = {n2: iv for _, n2, iv in locs}
    for N in Ns:
        mi = stats.mean_interval(signal[N])
        iv = loc_by_N.get(N)
        table.add(**{"N": N, "seeds": len(signal[N]), "amplitude": float(np.mean(raw[N])),
                     "null floor": float(np.mean(floor[N])) if floor is not None else None,
                     "above floor": above[N] if floor is not None else None,
                     "signal": mi.estimate, "CI low": mi.low, "CI high": mi.high,
                     "local slope": iv.estimate if iv else None,
                     "slope CI low": iv.low if iv else None,
                     "slope CI high": iv.high if iv else None,
                     "predicted": f"N^{predicted:.3g}"})

    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        if floor is not None:
            over = [N for N in Ns if above[N]]
            if not over:
                return "inconclusive", "signal below the null floor at every N", math.nan
            if not above[Ns[-1]]:
                return ("inconclusive", f"signal not above the null floor at the largest "
                        f"N = {Ns[-1]} (above at N = {', '.join(map(str, over))})", math.nan)
        if fit is None:
            return "inconclusive", "fewer than two N with a measurable signal", math.nan
        last = locs[-1][2]
        devs = [iv.estimate - predicted for _, _, iv in locs]
        slopes = _fmt_list(iv.estimate for _, _, iv in locs)
        p_fit, p_last = adj["fit"], adj["last_local"]
        in_fit, in_last = fit.contains(predicted), last.contains(predicted)
        if in_fit and in_last:
            if fit.half_width > tolerance:
                return ("inconclusive", f"CI wider than the tolerance: fit {fit} has half-width "
                        f"{fit.half_width:.3g} > {tolerance:g}", math.nan)
            return ("consistent", f"fitted exponent {fit} and last local slope {last} contain "
                    f"{predicted:.3g}; signal above the floor at N = {Ns[-1]}", math.nan)
        if not in_fit and in_last:
            return ("inconclusive", f"fit {fit} excludes {predicted:.3g} but the last local slope "
                    f"{last} contains it (local slopes {slopes}): pre-asymptotic", math.nan)
        if in_fit and not in_last:
            return ("inconclusive", f"last local slope {last} excludes {predicted:.3g} while the "
                    f"fit {fit} contains it (local slopes {slopes})", math.nan)
        # both exclude: significant?  shrinking?  The drift test needs two local slopes, and a
        # drop larger than the combined 95% margin of the two (so noise is not a drift).
        shrinking = (len(devs) >= 2 and np.sign(devs[-1]) == np.sign(devs[-2])
                     and abs(devs[-1]) < abs(devs[-2]) - _margin(locs[-2][2], last))
        significant = p_fit < LEVEL and p_last < LEVEL
        if significant and taylor is not None and taylor > TAYLOR_LIMIT:
            return ("inconclusive", f"fit {fit} and last local slope {last} exclude "
                    f"{predicted:.3g}, but the Taylor parameter eta1 max|a| = {taylor:.2f} > "
                    f"{TAYLOR_LIMIT} at N = {Ns[-1]}: terms mix, pre-asymptotic", math.nan)
        enough = (len(usable) >= MIN_WIDTHS_TO_REFUTE
                  and usable[-1] / usable[0] >= MIN_RANGE_TO_REFUTE)
        if significant and not shrinking and not enough:
            return ("inconclusive", f"fit {fit} excludes {predicted:.3g} significantly, but "
                    f"{len(usable)} widths spanning {usable[-1] / usable[0]:.3g}x cannot show the "
                    f"deviation is not a drift (needs >= {MIN_WIDTHS_TO_REFUTE} widths spanning "
                    f">= {MIN_RANGE_TO_REFUTE:g}x)", math.nan)
        if significant and not shrinking:
            return ("inconsistent", f"fitted exponent {fit} and last local slope {last} exclude "
                    f"{predicted:.3g} (BH-adjusted p = {max(p_fit, p_last):.2g}); local slopes "
                    f"{slopes} not drifting toward it", max(p_fit, p_last))
        if shrinking:
            return ("inconclusive", f"local slopes {slopes} drifting toward {predicted:.3g}: "
                    "pre-asymptotic", math.nan)
        return ("inconclusive", f"fit {fit} and last local slope {last} exclude {predicted:.3g} "
                f"but not significantly after BH (p = {max(p_fit, p_last):.2g})", math.nan)

    est = fit.estimate if fit else math.nan
    ci = (fit.low, fit.high) if fit else (math.nan, math.nan)
    return Finding(claim, subject, config, table, predicted, est, ci, pvals, decide,
                   extra={"fit": fit, "above": above})


def growth_class(finding: Finding) -> str:
    """How an exponent finding's signal behaves: below floor / growing / vanishing / undetermined.

    From the gate and the bootstrap fit of :func:`exponent_finding`: 'below floor' when the
    signal is not above the null floor at the largest N, else by the sign of the fit's CI.
    """
    above, fit = finding.extra["above"], finding.extra["fit"]
    if not above[max(above)]:
        return "below floor"
    if fit is None:
        return "undetermined (fewer than two measurable N)"
    if fit.low > 0:
        return f"growing, slope {fit}"
    if fit.high < 0:
        return f"vanishing, slope {fit}"
    return f"undetermined, slope {fit}"


def limit_finding(claim: str, subject: str, config: ModelConfig,
                  values: Mapping[int, Sequence[float]], predicted: float,
                  tolerance: float) -> Finding:
    """The per-N mean of ``values`` converges to ``predicted`` within ``tolerance`` (absolute).

    consistent: at the largest N the mean's CI meets the band ``predicted +- tolerance`` and is
    no wider than it (half-width <= tolerance: a wide CI meets every band).
    inconsistent: at each of the last two N the CI misses the band (one-sided t-test against the
    nearest end of the band, adjusted) and the deviation is not shrinking.
    """
    Ns = sorted(values)
    table = Table(["N", "seeds", "measured", "CI low", "CI high", "predicted", "deviation"],
                  title=f"{claim}: {subject}")
    ivs = {}
    pvals = {}
    for N in Ns:
        x = np.asarray(values[N], float)
        iv = stats.mean_interval(x)
        ivs[N] = iv
        edge = predicted + tolerance if iv.estimate > predicted else predicted - tolerance
        if x.size >= 2 and np.ptp(x) > 0:
            alt = "greater" if iv.estimate > predicted else "less"
            from scipy.stats import ttest_1samp

            pvals[f"outside@{N}"] = float(ttest_1samp(x, edge, alternative=alt).pvalue)
        table.add(**{"N": N, "seeds": x.size, "measured": iv.estimate, "CI low": iv.low,
                     "CI high": iv.high, "predicted": predicted,
                     "deviation": iv.estimate - predicted})

    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        last = ivs[Ns[-1]]
        lo, hi = predicted - tolerance, predicted + tolerance
        if last.high >= lo and last.low <= hi:
            if last.half_width > tolerance:
                return ("inconclusive", f"CI wider than the tolerance: mean {last} at N = "
                        f"{Ns[-1]} has half-width {last.half_width:.3g} > {tolerance:.3g}",
                        math.nan)
            return ("consistent", f"mean {last} at N = {Ns[-1]} within {predicted:.4g} +- "
                    f"{tolerance:.3g}", math.nan)
        tail = Ns[-2:]
        sig = all(adj.get(f"outside@{N}", 1.0) < LEVEL for N in tail)
        devs = [abs(ivs[N].estimate - predicted) for N in tail]
        shrinking = len(devs) == 2 and devs[1] < devs[0] - _margin(*(ivs[N] for N in tail))
        if len(tail) == 2 and sig and not shrinking:
            p = max(adj[f"outside@{N}"] for N in tail)
            return ("inconsistent", f"mean {last} at N = {Ns[-1]} outside {predicted:.4g} +- "
                    f"{tolerance:.3g} at the last two N (adjusted p = {p:.2g}), deviation "
                    f"{devs[0]:.3g} -> {devs[1]:.3g} not significantly shrinking", p)
        if shrinking:
            return ("inconclusive", f"deviation {devs[0]:.3g} -> {devs[1]:.3g} shrinking toward "
                    "the prediction: pre-asymptotic", math.nan)
        return ("inconclusive", f"mean {last} at N = {Ns[-1]} misses the band {predicted:.4g} +- "
                f"{tolerance:.3g} but not significantly at the last two N", math.nan)

    last = ivs[Ns[-1]]
    return Finding(claim, subject, config, table, predicted, last.estimate,
                   (last.low, last.high), pvals, decide)


# -- claims --------------------------------------------------------------------------------------

@dataclass
class Claim:
    """Base class: what to simulate and how to turn measurements into findings."""

    name: str
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        """The configurations whose simulations this claim reads."""
        return [config]

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        """Options of ``simulate.run`` this claim needs for ``config``."""
        return dict(self.options)

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        raise NotImplementedError


def _per_N(results: Results, config: ModelConfig,
           get: Callable[[dict[str, Any]], float]) -> dict[int, list[float]]:
    out = {}
    for N in results.Ns(config):
        out[N] = [float(get(m)) for m in results.get(config, N)]
    if not out:
        raise ConfigError(f"no measurements for config {config.to_json()}")
    return out


def _amp(m: dict[str, Any], k: int) -> dict[str, Any]:
    for a in m["amplitudes"]:
        if a["k"] == k:
            return a
    raise ConfigError(f"measurement has no amplitude for term k={k}; rerun with max_power > {k}")


@dataclass
class ExponentClaim(Claim):
    """User-facing: a positive statistic grows like ``N^{predicted(config)}``.

    ``statistic(measurement) -> float`` and optional ``floor(measurement) -> float`` (a null level
    of the same statistic; when given, the floor-corrected signal ``sqrt(s^2 - floor^2)`` is
    fitted).
    """

    predicted: Callable[[ModelConfig], float] = lambda c: 0.0
    statistic: Callable[[dict[str, Any]], float] = lambda m: 0.0
    floor: Callable[[dict[str, Any]], float] | None = None
    tolerance: float = 0.1

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        raw = _per_N(results, config, self.statistic)
        flo = _per_N(results, config, self.floor) if self.floor else None
        return [exponent_finding(self.name, "exponent", config, float(self.predicted(config)),
                                 self.tolerance, raw=raw, floor=flo)]


@dataclass
class LimitClaim(Claim):
    """User-facing: a statistic converges to ``predicted(config)`` as N grows.

    ``tolerance`` is absolute, or relative to the prediction when ``relative=True``.
    """

    predicted: Callable[[ModelConfig], float] = lambda c: 0.0
    statistic: Callable[[dict[str, Any]], float] = lambda m: 0.0
    tolerance: float = 0.02
    relative: bool = True

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = float(self.predicted(config))
        tol = self.tolerance * abs(pred) if self.relative else self.tolerance
        vals = _per_N(results, config, self.statistic)
        return [limit_finding(self.name, "limit", config, vals, pred, tol)]


@dataclass
class GrowthExponent(Claim):
    """``growth-exponent``: the projected amplitude of term k grows as ``N^{e_k}``.

    Measured: the floor-corrected amplitude ``sqrt(A_k^2 - F_k^2)`` of the step-two update
    projected on ``q_{k+1} = GS(a^{o(k+1)})`` (simulate section 2), per seed.
    """

    name: str = "growth-exponent"
    description: str = "projected amplitude of term k grows as N^{e_k}"
    terms: tuple[int, ...] | None = None
    tolerance: float = 0.1

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        need = 1 + max(self.terms or (len(predict(config).terms) - 1,))
        return {**self.options, "max_power": max(4, need)}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        out = []
        ks = self.terms if self.terms is not None else tuple(
            t.k for t in pred.terms if t.present and t.growth != "vanishing")
        available = min(len(m["amplitudes"]) for N in results.Ns(config)
                        for m in results.get(config, N))
        for k in ks:
            if k >= available:
                continue  # measured with a smaller max_power: nothing to test
            t = pred.term(k)
            raw = _per_N(results, config, lambda m, k=k: _amp(m, k)["amplitude"])
            flo = _per_N(results, config, lambda m, k=k: _amp(m, k)["null_floor"])
            subject = f"term k={k} (a^{k + 1}), e_k={t.exponent_exact}"
            out.append(exponent_finding(self.name, subject, config, t.exponent, self.tolerance,
                                        raw=raw, floor=flo,
                                        taylor=pred.taylor_parameter(max(raw))))
        return out


@dataclass
class BBP(Claim):
    """``bbp``: for alpha1 = 0 the step-one outlier and overlaps match the BBP formulas.

    Measured on W_1: the top singular value and the squared overlaps of its right singular vector
    with beta_* and of its left one with a.  Tolerances: 2% of the location, 0.05 on overlaps.
    """

    name: str = "bbp"
    description: str = "alpha1 = 0 step-one outlier location and overlaps (BBP)"
    location_tolerance: float = 0.02
    overlap_tolerance: float = 0.05
    location: Callable[[Prediction], float] = lambda p: p.bbp["outlier"]

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        return [config.replace(alpha1=0.0)]

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        cfg = self.configs(config)[0]
        pred = predict(cfg)
        if not pred.bbp["exists"]:
            vals = _per_N(results, cfg, lambda m: m["step_one"]["outlier"])
            return [limit_finding(self.name, "top singular value at the edge (no outlier)", cfg,
                                  vals, pred.bulk_edge, 0.05 * pred.bulk_edge)]
        loc = float(self.location(pred))
        return [
            limit_finding(self.name, "outlier location", cfg,
                          _per_N(results, cfg, lambda m: m["step_one"]["outlier"]), loc,
                          self.location_tolerance * loc),
            limit_finding(self.name, "squared overlap right vector / beta_*", cfg,
                          _per_N(results, cfg, lambda m: m["step_one"]["overlap_beta"]),
                          pred.bbp["overlap_beta"], self.overlap_tolerance),
            limit_finding(self.name, "squared overlap left vector / a", cfg,
                          _per_N(results, cfg, lambda m: m["step_one"]["overlap_left"]),
                          pred.bbp["overlap_left"], self.overlap_tolerance),
        ]


@dataclass
class OutlierCount(Claim):
    """``outlier-count``: the new outliers of step two (C3), paper and activation-aware counts.

    Decided through the terms' exponents: each term k >= 1 up to ``paper_count + 1`` is tested
    with the growth-exponent rule (predicted e_k).  Reported beside it: the count of new outliers
    actually visible at each N (W_2 outliers minus W_1 outliers, simulate's ``outlier_count``).
    A count is ``consistent`` when every term it counts is consistent with its exponent and no
    term it drops grows (fit CI above 0); ``inconsistent`` when the exponent test of a counted
    term is inconsistent, or that of a dropped term is inconsistent while it grows; otherwise
    ``inconclusive`` ("not observable at N <= ..."), with the visible count beside it.  The
    per-term p-values enter the run's BH family once per count (paper, activation-aware).
    """

    name: str = "outlier-count"
    description: str = "number of new outliers after step two"
    tolerance: float = 0.15

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        # amplitudes of every predicted term k = 0 .. paper_count + 1
        need = len(predict(config).terms)
        return {**self.options, "max_power": max(4, need)}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        Ns = results.Ns(config)
        visible = _per_N(results, config, lambda m: m["outlier_count"])
        counted_paper = [t.k for t in pred.terms if 1 <= t.k <= pred.paper_count]
        counted_aware = [t.k for t in pred.terms if t.k >= 1 and t.is_outlier]
        available = min(len(m["amplitudes"]) for N in Ns for m in results.get(config, N))
        ks = [t.k for t in pred.terms if 1 <= t.k < available]
        missing = [t.k for t in pred.terms if t.k >= available]
        per_term = {}
        for k in ks:
            t = pred.term(k)
            raw = _per_N(results, config, lambda m, k=k: _amp(m, k)["amplitude"])
            flo = _per_N(results, config, lambda m, k=k: _amp(m, k)["null_floor"])
            per_term[k] = exponent_finding(self.name, f"k={k}", config, t.exponent,
                                           self.tolerance, raw=raw, floor=flo,
                                           taylor=pred.taylor_parameter(max(raw)))
        table = Table(["N", "seeds", "visible new outliers (mean)", "min", "max",
                       "paper count", "activation-aware count"],
                      title=f"{self.name}: visible new outliers of W_2 vs predicted")
        for N in Ns:
            v = visible[N]
            table.add(**{"N": N, "seeds": len(v), "visible new outliers (mean)": float(np.mean(v)),
                         "min": int(min(v)), "max": int(max(v)),
                         "paper count": pred.paper_count,
                         "activation-aware count": pred.outlier_count})
        pvals = {f"{k}:{name}": p for k, f in per_term.items() for name, p in f.pvalues.items()}

        def make_decide(counted: list[int], label: str, predicted_count: int | None):
            def decide(adj: dict[str, float]) -> tuple[str, str, float]:
                if predicted_count is None:
                    return ("inconclusive", f"{label} count undefined: "
                            f"{pred.outlier_count_reason}", math.nan)
                if missing:
                    return ("inconclusive", f"the measurements lack the amplitudes of term(s) "
                            f"{missing}: rerun with max_power >= {missing[-1] + 1}", math.nan)
                status: dict[int, tuple[str, str]] = {}
                for k, f in per_term.items():
                    s, _, _ = f.decide({name: adj[f"{k}:{name}"] for name in f.pvalues})
                    status[k] = (s, growth_class(f))
                mean_vis = float(np.mean(visible[Ns[-1]]))
                summary = "; ".join(f"k={k}: exponent {status[k][0]}, {status[k][1]}"
                                    for k in ks)
                # a counted term whose exponent is refuted, or a dropped term that is
                # predicted to vanish but whose exponent test is refuted while it grows
                bad = [k for k in counted if status[k][0] == "inconsistent"]
                bad += [k for k in ks if k not in counted and status[k][0] == "inconsistent"
                        and status[k][1].startswith("growing")]
                if bad:
                    return ("inconsistent", f"{label} count {predicted_count}: term(s) {bad} "
                            f"contradict their exponents ({summary})", math.nan)
                counted_ok = all(status[k][0] == "consistent" for k in counted)
                dropped_ok = all(not status[k][1].startswith("growing")
                                 for k in ks if k not in counted)
                if counted_ok and dropped_ok:
                    tail = ("" if round(mean_vis) == predicted_count
                            else " (not all of them visible as outliers yet)")
                    return ("consistent", f"{label} count {predicted_count}: every counted term "
                            f"grows at its exponent, no dropped term grows ({summary}); visible "
                            f"new outliers at N = {Ns[-1]}: {mean_vis:.2f}{tail}", math.nan)
                return ("inconclusive", f"{label} count {predicted_count} not observable at "
                        f"N <= {Ns[-1]}: visible new outliers {mean_vis:.2f}; {summary}",
                        math.nan)
            return decide

        return [
            Finding(self.name, "paper count floor(alpha2/(1/2-alpha1))", config, table,
                    pred.paper_count, float(np.mean(visible[Ns[-1]])), (math.nan, math.nan),
                    pvals, make_decide(counted_paper, "paper", pred.paper_count)),
            Finding(self.name, "activation-aware count", config, table, pred.outlier_count,
                    float(np.mean(visible[Ns[-1]])), (math.nan, math.nan), pvals,
                    make_decide(counted_aware, "activation-aware", pred.outlier_count)),
        ]


@dataclass
class LeftVectors(Claim):
    """``left-vectors``: each outlier's left vector is the predicted power ``a^{o(k+1)}``.

    For the W_2 outliers at the largest N (by rank), the identified power (simulate's rule) and
    the squared overlap with ``q_{k+1}``, with a CI over seeds.  ``consistent``: every outlier
    rank present in at least half of the seeds is identified, in every such seed, with a term the
    theory predicts present and not vanishing, and its overlap's CI lies above 1/2.
    ``inconsistent``: some outlier is identified, in every seed where it appears (at least half
    of them), with a power whose term the theory predicts absent (zero coefficient), with an
    overlap CI above 1/2.  Otherwise ``inconclusive``.
    """

    name: str = "left-vectors"
    description: str = "outlier left vectors align with a^{o(k+1)}"

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        Ns = results.Ns(config)
        N = Ns[-1]
        ms = results.get(config, N)
        allowed = {t.k for t in pred.terms if t.present and t.growth != "vanishing"}
        absent = {t.k for t in pred.terms if t.present is False}
        ranks = max((len(m["outliers"]) for m in ms), default=0)
        table = Table(["rank", "seeds with outlier", "value (mean)", "identified k (mode)",
                       "agreement", "overlap with q_(k+1) (mean)", "CI low", "CI high",
                       "predicted"], title=f"{self.name}: W_2 outliers at N = {N}")
        rows = []
        for r in range(ranks):
            outs = [m["outliers"][r] for m in ms if len(m["outliers"]) > r]
            terms = [o["term"] for o in outs]
            mode, count = Counter(terms).most_common(1)[0]
            if mode is None:
                ov = [max(o["left_overlaps"]) for o in outs]
            else:
                ov = [o["left_overlaps"][mode] for o in outs]
            iv = stats.mean_interval(ov) if len(ov) >= 1 else None
            rows.append((r, len(outs), mode, count, iv))
            table.add(**{"rank": r + 1, "seeds with outlier": f"{len(outs)}/{len(ms)}",
                         "value (mean)": float(np.mean([o["value"] for o in outs])),
                         "identified k (mode)": mode, "agreement": f"{count}/{len(outs)}",
                         "overlap with q_(k+1) (mean)": iv.estimate if iv else None,
                         "CI low": iv.low if iv else None, "CI high": iv.high if iv else None,
                         "predicted": ("present" if mode in allowed else
                                       "absent" if mode in absent else "not predicted")
                         if mode is not None else "-"})

        def decide(adj: dict[str, float]) -> tuple[str, str, float]:
            steady = [row for row in rows if row[1] * 2 >= len(ms)]
            if not steady:
                return "inconclusive", f"no outlier in at least half of the seeds at N = {N}", \
                    math.nan
            wrong = [row for row in steady if row[2] in absent and row[3] == row[1]
                     and row[4].low > 0.5]
            if wrong:
                desc = ", ".join(f"rank {r + 1} -> a^{k + 1}" for r, _, k, _, _ in wrong)
                return ("inconsistent", f"outlier(s) aligned with a power the theory predicts "
                        f"absent: {desc}", math.nan)
            good = all(row[2] in allowed and row[3] == row[1] and row[4].low > 0.5
                       for row in steady)
            desc = ", ".join(f"rank {r + 1}: k={k} ({c}/{n} seeds, overlap {iv})"
                             for r, n, k, c, iv in steady)
            if good:
                return "consistent", f"at N = {N}: {desc}", math.nan
            return "inconclusive", f"at N = {N} not every outlier is clearly identified: {desc}", \
                math.nan

        best = rows[0][4] if rows else None
        return [Finding(self.name, f"W_2 outliers at N = {N}", config, table,
                        sorted(allowed), best.estimate if best else math.nan,
                        (best.low, best.high) if best else (math.nan, math.nan), {}, decide)]


@dataclass
class ReuseGap(Claim):
    """``reuse-gap``: beta_* overlap of the learned direction, reused vs independent batch.

    The learned directions are the projections ``(W_2 - W_1)^T q_{k+1}``, k < max_power; the
    statistic is the largest squared cosine with beta_* among them (simulate's
    ``learned_beta``), against the same maximum over null directions.  The theory's verdict is
    taken at term ``k = Prediction.beta['first_term']`` (reuse) — the finite-N projections mix
    the terms (the Taylor parameter is not small), so beta_* need not show up in q_{k+1} alone.
    Statistics (squared cosines with beta_*), paired by seed: reuse R, independent I, null
    floor F (the same projection with an independent copy of a).  The theory says, for each
    mode, whether term k carries beta_* (reuse: reuse exponent and activation moments;
    independent: ``c_1(sigma_*) != 0``).  ``consistent``: at the largest N, R is above F exactly
    when reuse is predicted to learn, I exactly when independent is, and where only reuse
    learns, R > I (paired).  ``inconsistent``: a mode predicted not to learn is above the null
    at each of the last two N (for I with information exponent > 1 that contradicts C4).
    Otherwise ``inconclusive``: a finite-N null result cannot refute an asymptotic "learns".
    All p-values are BH-adjusted.
    """

    name: str = "reuse-gap"
    description: str = "beta_* overlap of learned directions, reuse vs independent"
    term: int | None = None

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        return [config.replace(batch="reuse"), config.replace(batch="independent")]

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        reuse_cfg, ind_cfg = self.configs(config)
        pred = predict(reuse_cfg)
        k = self.term if self.term is not None else pred.beta["first_term"]
        if k is None:
            k = min(len(pred.terms) - 1, max(1, pred.paper_count))
        learned = bool(pred.beta["learned"]) and k == pred.beta["first_term"] \
            if self.term is None else bool(pred.term(k).carries_beta
                                           and pred.term(k).growth != "vanishing")
        Ns = sorted(set(results.Ns(reuse_cfg)) & set(results.Ns(ind_cfg)))
        if not Ns:
            raise ConfigError("reuse-gap needs measurements of both batch modes")
        table = Table(["N", "seeds", "reuse overlap", "independent overlap", "null overlap",
                       "reuse > independent p", "reuse > null p", "independent > null p"],
                      title=f"{self.name}: squared beta_* overlap of the learned directions "
                            "(max over k of (W2-W1)^T q_(k+1))")
        pvals: dict[str, float] = {}
        data = {}
        for N in Ns:
            rs = {s: m for s, m in zip(results.seeds(reuse_cfg, N), results.get(reuse_cfg, N))}
            is_ = {s: m for s, m in zip(results.seeds(ind_cfg, N), results.get(ind_cfg, N))}
            common = sorted(set(rs) & set(is_))
            R = [rs[s]["learned_beta"]["overlap"] for s in common]
            I_ = [is_[s]["learned_beta"]["overlap"] for s in common]
            F = [rs[s]["learned_beta"]["null"] for s in common] + \
                [is_[s]["learned_beta"]["null"] for s in common]
            data[N] = (R, I_, F)
            pvals[f"R>I@{N}"] = stats.paired_greater(R, I_)
            pvals[f"R>F@{N}"] = stats.welch_greater(R, F)
            pvals[f"I>F@{N}"] = stats.welch_greater(I_, F)
        for N in Ns:
            R, I_, F = data[N]
            table.add(**{"N": N, "seeds": len(R), "reuse overlap": float(np.mean(R)),
                         "independent overlap": float(np.mean(I_)),
                         "null overlap": float(np.mean(F)),
                         "reuse > independent p": pvals[f"R>I@{N}"],
                         "reuse > null p": pvals[f"R>F@{N}"],
                         "independent > null p": pvals[f"I>F@{N}"]})
        last = Ns[-1]
        tail = Ns[-2:]
        ind_term = predict(ind_cfg).term(k)
        expect_I = bool(ind_term.carries_beta and ind_term.growth != "vanishing")

        def decide(adj: dict[str, float]) -> tuple[str, str, float]:
            for row in table.rows:
                for col, key in (("reuse > independent p", "R>I"), ("reuse > null p", "R>F"),
                                 ("independent > null p", "I>F")):
                    row[col] = adj[f"{key}@{row['N']}"]
            R, I_, F = data[last]
            desc = (f"at N = {last}: reuse {np.mean(R):.3g}, independent {np.mean(I_):.3g}, "
                    f"null {np.mean(F):.3g}; predicted (term k={k}): reuse "
                    f"{'learns' if learned else 'does not learn'}, independent "
                    f"{'learns' if expect_I else 'does not learn'} beta_*")

            def up(key: str, Ns_: Sequence[int]) -> bool:
                return all(adj[f"{key}@{N}"] < LEVEL for N in Ns_)

            both_tail = len(tail) == 2
            if both_tail and not expect_I and up("I>F", tail):
                return ("inconsistent", f"independent-batch overlap above the null at the last "
                        f"two N, against C4 (information exponent "
                        f"{pred.target['information_exponent']}); {desc}",
                        max(adj[f"I>F@{N}"] for N in tail))
            if both_tail and not learned and up("R>F", tail):
                return ("inconsistent", f"reused-batch overlap above the null at the last two N "
                        f"where the theory says term k={k} carries no beta_*; {desc}",
                        max(adj[f"R>F@{N}"] for N in tail))
            r_up, i_up = up("R>F", [last]), up("I>F", [last])
            gap_needed = learned and not expect_I
            gap = up("R>I", [last])
            if r_up == learned and i_up == expect_I and (gap or not gap_needed):
                return "consistent", f"as predicted; {desc}", math.nan
            return "inconclusive", f"not decided at N <= {last}; {desc}", math.nan

        R, I_, _ = data[last]
        diff = stats.mean_interval(np.asarray(R) - np.asarray(I_))
        return [Finding(self.name, f"term k={k}: reuse vs independent", reuse_cfg, table,
                        "learned" if learned else "not learned", diff.estimate,
                        (diff.low, diff.high), pvals, decide)]


@dataclass
class OneStepSpikes(Claim):
    """``one-step-spikes``: Moniri et al. 2023, spikes of the feature matrix after one step.

    Measured: simulate's ``features['spike_count']`` (spikes of ``sigma(X W_1^T)/sqrt(n)`` above
    the bulk of the same matrix at W_0).  ``consistent``: the median count equals the predicted
    ``l`` at the last two N; ``inconsistent``: it differs at the last two N in every seed, on the
    same side, without moving toward ``l``; else ``inconclusive`` (not observable at this N).
    """

    name: str = "one-step-spikes"
    description: str = "feature-matrix spikes after one step (Moniri et al. 2023)"
    options: dict[str, Any] = field(default_factory=lambda: {"features": True})

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        l = pred.one_step_spikes["count"]
        counts = _per_N(results, config, lambda m: m["features"]["spike_count"])
        Ns = sorted(counts)
        table = Table(["N", "seeds", "median count", "min", "max", "predicted"],
                      title=f"{self.name}: spikes of the one-step feature matrix")
        for N in Ns:
            c = counts[N]
            table.add(**{"N": N, "seeds": len(c), "median count": float(np.median(c)),
                         "min": int(min(c)), "max": int(max(c)), "predicted": l})

        # the spikes ride on the step-one spike of W: below (twice) its BBP threshold at the
        # largest N nothing is visible yet, whatever the asymptotic count
        strength = pred.step_one["strength"] * Ns[-1] ** config.alpha1
        threshold = (1.0 / config.psi_d) ** 0.25

        def decide(adj: dict[str, float]) -> tuple[str, str, float]:
            tail = Ns[-2:]
            med = [float(np.median(counts[N])) for N in tail]
            if pred.one_step_spikes["critical"]:
                return "inconclusive", f"alpha1 is an interval end point ({l} or {l + 1} " \
                    "spikes): the count is not decided", math.nan
            if all(m == l for m in med):
                return "consistent", f"median count {l} at N = {', '.join(map(str, tail))}", \
                    math.nan
            if strength < 2 * threshold or len(Ns) < 3 or Ns[-1] < 1000:
                return ("inconclusive", f"median counts {med} at N = {tail} vs predicted {l}: not "
                        f"observable at this N (step-one spike strength {strength:.2f} vs BBP "
                        f"threshold {threshold:.2f}; a refutation needs >= 3 widths up to "
                        "N >= 1000 and strength >= 2x threshold)", math.nan)
            sides = {np.sign(c - l) for N in tail for c in counts[N]}
            moving = len(med) == 2 and abs(med[1] - l) < abs(med[0] - l)
            if len(tail) == 2 and 0 not in sides and len(sides) == 1 and not moving:
                return ("inconsistent", f"counts {med} at N = {tail} differ from {l} in every "
                        "seed, not moving toward it", math.nan)
            return "inconclusive", f"median counts {med} at N = {tail} vs predicted {l}: not " \
                "observable at this N", math.nan

        last = counts[Ns[-1]]
        return [Finding(self.name, f"alpha1={config.alpha1:g}", config, table, l,
                        float(np.median(last)), (float(min(last)), float(max(last))), {},
                        decide)]


# -- the registry --------------------------------------------------------------------------------

_REGISTRY: dict[str, Claim] = {}


def register(claim: Claim, *, replace: bool = False) -> Claim:
    """Make ``claim`` available by name to ``twostep verify --claim`` and :func:`check`."""
    if not isinstance(claim, Claim):
        raise ConfigError(f"register takes a Claim, got {type(claim).__name__}")
    if claim.name in _REGISTRY and not replace:
        raise ConfigError(f"a claim named {claim.name!r} exists; pass replace=True")
    _REGISTRY[claim.name] = claim
    return claim


def get_claim(name: str) -> Claim:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown claim {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def claim_names() -> list[str]:
    return list(_REGISTRY)


for _c in (GrowthExponent(), OutlierCount(), LeftVectors(), ReuseGap(), BBP(), OneStepSpikes()):
    register(_c)

#: names of the built-in claims (``check`` refuses to shadow them with a user claim)
BUILTIN_CLAIMS = frozenset(_REGISTRY)
