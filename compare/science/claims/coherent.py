"""The coherent rule: exponents of the exact terms' coherent strengths (docs/claims.md).

Only the coherent (rank-one) part of term k, the BBP strength ``theta_k``, makes an outlier;
the projected amplitude ``||T_k^T q_{k+1}||`` adds the neurons' own fluctuations, whose
N-dependence differs (docs/amplitudes.md).  Each measurement carries the unbiased pair estimate
``coherent_sq`` of ``theta_k^2`` (:class:`~twostep.theory.observables.ExactTerm`); its exponent
is fitted across N with corrections to scaling (:mod:`twostep.compare.science.scaling`) at the N
where the series of exact terms converges (the regime guard).

- :func:`coherent_finding`: the exponent against a prediction (``term-exponent``), or its sign
  (``outlier-count``);
- :func:`gamma_data` (and :func:`gamma_lines`, its text): ``gamma_k = e_k - alpha2 -
  k alpha1``, the N-exponent of the step-size-free ``D_k``'s coherent strength (predicted
  ``-k/2``; a finding's ``extra.gamma``): one measurement of it decides the sign of ``e_k``
  at every (alpha1, alpha2) with the same interval;
- :func:`what_decides`: the seeds per N (and time on the machine that measured) that would bring
  the interval under a margin, from the measured spread (a pilot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from twostep.compare.output.table import Table
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

from .. import scaling
from .base import _term
from .codes import Reason, Status
from .data import ByKey, FindingExtra
from .evidence import MIN_RANGE, MIN_WIDTHS, _evidence_reason, enough_widths
from .guard import Regime, _outside, guard_clause, measured_regime
from .results import LEVEL, Finding, Results

#: Seeds per width beyond which "more seeds" is not a useful answer.
MAX_USEFUL_SEEDS = 10_000


class MissingCoherent(ConfigError):
    """Measurements stored before twostep measured the coherent strength."""


def coherent_values(results: Results, config: ModelConfig, k: int, claim: str
                    ) -> dict[int, list[float]]:
    """``coherent_sq / left_weight`` of term k per seed at each N: the squared coherent
    strength per unit left weight, whose square root grows as ``N^{e_k}`` without the
    Gram-Schmidt's finite-N correction (the left weight is a fact about the draw of a alone;
    :attr:`ExactTerm.left_weight`).  A measurement without these fields (stored before twostep
    measured them) stops with one line saying to rerun."""
    out: dict[int, list[float]] = {}
    for N in results.Ns(config):
        values = []
        for seed, m in zip(results.seeds(config, N), results.get(config, N)):
            try:
                t = _term(m, k)
            except ConfigError as err:
                raise ConfigError(f"claim {claim!r} at N={N}, seed={seed}: {err}") from None
            if t.coherent_sq is None or t.left_weight is None:
                raise MissingCoherent(
                    f"exact term k={k} at N={N}, seed={seed} has no coherent strength "
                    "(coherent_sq, left_weight: measured since twostep 0.2; this store's cells "
                    "are older): rerun into a new store to decide it")
            L = float(t.left_weight)
            values.append(float(t.coherent_sq) / L if L > 0 else math.nan)
        out[N] = values
    return out


def cell_seconds(results: Results, config: ModelConfig) -> dict[int, float]:
    """Mean wall time of one cell per N (the measurements' ``timing.total_s``)."""
    out = {}
    for N in results.Ns(config):
        ts = [float(m.timing.total_s or math.nan) for m in results.get(config, N)]
        ts = [t for t in ts if math.isfinite(t)]
        if ts:
            out[N] = float(np.mean(ts))
    return out


@dataclass(frozen=True)
class Need:
    """What would decide an undecided exponent: ``seeds`` per width at the widths ``Ns`` and
    the estimated wall time of the missing cells (``seconds``; None when unknown)."""

    seeds: int | None
    Ns: tuple[int, ...]
    seconds: float | None
    why: str = ""

    def __str__(self) -> str:
        if self.seeds is None:
            return self.why or "more widths (the systematic error alone exceeds the margin)"
        t = "" if self.seconds is None else f", about {_duration(self.seconds)} on the machine " \
                                            "that measured these cells"
        return f"{self.seeds} seeds per N at N = {', '.join(map(str, self.Ns))}{t}"


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def what_decides(fit: scaling.ScalingFit, seeds: Mapping[int, int], margin: float,
                 seconds: Mapping[int, float]) -> Need:
    """Seeds per N that bring ``fit``'s 95% half-width under ``margin`` (statistical errors
    shrink as ``1/sqrt(seeds)``; the systematic part does not), and their cost."""
    Ns = tuple(sorted(seeds))
    if fit.chosen is None:
        return Need(None, Ns, None, "a fit on at least two widths with a mean clearly above "
                                    "zero (more seeds at the largest N, or larger N)")
    need = scaling.seeds_needed(fit, seeds, margin)
    if need is None:
        largest = max(Ns)
        return Need(None, Ns, None, f"larger N than {largest}: the window-to-window systematic "
                                    f"error {fit.syst:.2g} alone exceeds the margin "
                                    f"{margin:.2g}")
    if need <= min(seeds.values()):
        # the interval is already as narrow as the margin: the estimate sits closer to the
        # threshold than the margin assumed, so more seeds of the same widths do not decide it
        return Need(None, Ns, None, f"larger N than {max(Ns)}: the interval (half-width within "
                                    f"the margin {margin:.2g}) still straddles the threshold at "
                                    f"these widths")
    missing = {N: max(0, need - seeds.get(N, 0)) for N in Ns}
    cost = (sum(missing[N] * seconds[N] for N in Ns) if all(N in seconds for N in Ns)
            else None)
    return Need(need, Ns, cost)


def widths_need(raw: Mapping[int, Sequence[float]], usable: Sequence[int],
                seconds: Mapping[int, float]) -> str:
    """What would make enough widths usable (>= MIN_WIDTHS spanning MIN_RANGE): per unusable
    N, the seeds that would lift its mean ``MIN_SIGNAL_Z`` standard errors above zero (from its
    measured mean and spread); or one more width above the largest (its cost from the N^3 of
    the GEMMs)."""
    parts = []
    for N in sorted(raw):
        if N in usable:
            continue
        x = np.asarray(raw[N], dtype=float)
        x = x[np.isfinite(x)]
        if x.size < 2 or x.mean() <= 0 or x.std(ddof=1) == 0:
            parts.append(f"N = {N}: mean not above zero")
            continue
        z1 = float(x.mean() / x.std(ddof=1))   # per seed
        need = math.ceil((1.2 * scaling.MIN_SIGNAL_Z / z1) ** 2)
        if need > MAX_USEFUL_SEEDS:
            parts.append(f"N = {N}: signal/noise {z1:.2g} per seed, beyond seeds")
            continue
        cost = (f", about {_duration(need * seconds[N])}" if N in seconds else "")
        parts.append(f"N = {N}: {need} seeds (signal/noise {z1:.2g} per seed{cost})")
    if parts and all(p.endswith(("mean not above zero", "beyond seeds")) for p in parts) and raw:
        top = max(raw)
        x = np.asarray(raw[top], dtype=float)
        x = x[np.isfinite(x)]
        bound = (x.mean() + 2 * x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
        return (f"nothing at these widths: the coherent part is not above the per-seed noise at "
                f"any N <= {top} (at N = {top}: mean {x.mean():.3g}, 95% upper bound "
                f"{bound:.3g}); seeds cannot lift a zero mean, only N where the part is larger "
                "than its noise")
    top = max(raw) if raw else 0
    if top and top in seconds:
        nxt = 2 * top
        parts.append(f"or a width N = {nxt} (about {_duration(8 * seconds[top])} per seed, "
                     "N^3 from the largest)")
    return (f"{MIN_WIDTHS} usable widths spanning {MIN_RANGE:g}x: " + "; ".join(parts)
            if parts else "")


@dataclass(frozen=True)
class _CoherentEvidence:
    """What :func:`coherent_finding` decides from: why the measurements cannot say (``missing``,
    else empty), the widths ``Ns``, the per-seed values of those in the regime
    (``considered``), the scaling ``fit`` on them and its ``usable`` widths and 95% interval
    ``(lo, hi)``, the prediction and ``tolerance``, the ``regime``, the cells' ``seconds`` and
    what would decide an undecided verdict (``need``)."""

    missing: str
    Ns: list[int]
    considered: dict[int, Sequence[float]]
    fit: scaling.ScalingFit
    usable: list[int]
    lo: float
    hi: float
    predicted: float
    tolerance: float
    regime: Regime | None
    seconds: Mapping[int, float]
    need: Need


def _coherent_fit(raw: Mapping[int, Sequence[float]], regime: Regime | None, power: int,
                  missing: str) -> tuple[dict[int, Sequence[float]], scaling.ScalingFit]:
    """The widths of ``raw`` in the regime and the scaling fit on them (a fit without an
    exponent, saying why, when fewer than two)."""
    considered = {N: raw[N] for N in sorted(raw) if regime is None or regime.ok(N)}
    fit = scaling.fit_scaling(considered, power) if len(considered) >= 2 else scaling.ScalingFit(
        math.nan, math.inf, 0.0, None,
        note=missing or "fewer than two widths in the regime")
    return considered, fit


def _coherent_table(claim: str, subject: str, column: str, predicted: float,
                    raw: Mapping[int, Sequence[float]], fit: scaling.ScalingFit,
                    regime: Regime | None, power: int) -> Table:
    """The evidence of :func:`coherent_finding`: per N the strength (or the component, with
    ``power = 1``), its standard error, z, whether it is in the fit, the local slope."""
    cols = ["N", "seeds", column, "se", "z", "in fit", "local slope", "predicted"]
    if regime is not None:
        cols.append("series residual")
    table = Table(cols, title=f"{claim}: {subject} (coherent strength)")
    usable = list(fit.usable)
    prev = None
    for N in sorted(raw):
        x = np.asarray(raw[N], dtype=float)
        m = float(x.mean())
        se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.inf
        strength = m if power == 1 else math.copysign(math.sqrt(abs(m)), m)
        point = fit.point(N)
        slope = None
        if point is not None and prev is not None:
            slope = (point[0] - prev[1][0]) / math.log(N / prev[0])
        if point is not None:
            prev = (N, point)
        row = {"N": N, "seeds": int(x.size), column: strength,
               "se": se if power == 1 else 0.5 * se / math.sqrt(abs(m)) if m else None,
               "z": m / se if se and math.isfinite(se) else None,
               "in fit": N in usable, "local slope": slope, "predicted": f"N^{predicted:.3g}"}
        if regime is not None:
            row["series residual"] = regime.residual.get(N)
        table.add(**row)
    return table


def _coherent_verdict(e: _CoherentEvidence, adj: Mapping[str, float]
                      ) -> tuple[str, Reason, float]:
    """The coherent rule's verdict: what the measurements, the guard or the widths leave open,
    else the interval against the prediction (:func:`_interval_verdict`)."""
    if e.missing:
        return "inconclusive", Reason("coherent-missing", why=str(e.missing)), math.nan
    blocked, prefix = guard_clause(e.regime, e.Ns)
    if blocked is not None:
        return Status.BLOCKED, blocked, math.nan
    fit, usable = e.fit, e.usable
    if fit.chosen is None:
        more = widths_need(e.considered, usable, e.seconds) or str(e.need)
        return ("inconclusive", Reason("coherent-no-exponent", prefix=prefix, note=fit.note,
                                       need=str(more)), math.nan)
    if not enough_widths(usable):
        more = widths_need(e.considered, usable, e.seconds)
        reason = Reason("coherent-widths", prefix=prefix, widths=_evidence_reason(usable),
                        fit=str(fit))
        if more:
            reason = reason.then(Reason("would-decide", need=str(more)))
        return "inconclusive", reason, math.nan
    return _interval_verdict(e, adj.get("fit", math.nan), prefix)


def _interval_verdict(e: _CoherentEvidence, p: float, prefix: str) -> tuple[str, Reason, float]:
    """The verdict from the fit's interval ``(lo, hi)`` against the prediction, the BH-adjusted
    p-value ``p`` of the fit and the largest widths' (narrower) fit."""
    fit, predicted, tolerance, lo, hi = e.fit, e.predicted, e.tolerance, e.lo, e.hi
    Ns, need = e.Ns, e.need
    narrow = fit.narrower_interval()
    tail = (None if fit.narrower is None else
            Reason("coherent-narrower", N=fit.narrower.N_min,
                   estimate=float(fit.narrower.estimate), low=float(narrow[0]),
                   high=float(narrow[1])))
    seen = dict(prefix=prefix, fit=str(fit), predicted=float(predicted), N=Ns[-1])
    also = [] if tail is None else [Reason("coherent-so-does", tail=tail)]
    if lo <= predicted <= hi:
        # consistent means the data rule out a deviation of the tolerance: the interval's
        # half-width must be at most half of it (at the full tolerance, the calibration
        # accepted a prediction off by 0.1 in 20% of four-seed designs)
        if (hi - lo) / 2 > tolerance / 2:
            return ("inconclusive", Reason("coherent-wide", seen, half_width=float(hi - lo) / 2,
                                           half_tolerance=tolerance / 2,
                                           tolerance=float(tolerance), need=str(need)),
                    math.nan)
        if narrow is not None and not narrow[0] <= predicted <= narrow[1]:
            return ("inconclusive", Reason("coherent-narrower-excludes", seen, tail=tail),
                    math.nan)
        return "consistent", Reason("coherent-consistent", seen, then=also), math.nan
    if p < LEVEL and narrow is not None and narrow[0] <= predicted <= narrow[1]:
        return ("inconclusive", Reason("coherent-pre-asymptotic", seen, p=float(p), tail=tail),
                math.nan)
    if p < LEVEL:
        return "inconsistent", Reason("coherent-inconsistent", seen, p=float(p), then=also), p
    return "inconclusive", Reason("coherent-not-significant", seen, p=float(p)), math.nan


def coherent_finding(claim: str, subject: str, config: ModelConfig, predicted: float, *,
                     raw: Mapping[int, Sequence[float]] | MissingCoherent,
                     regime: Regime | None,
                     tolerance: float, seconds: Mapping[int, float] | None = None,
                     k: int | None = None, power: int = 2,
                     column: str = "sqrt(U/L)") -> Finding:
    """The exponent of ``sqrt(E coherent_sq)`` against ``predicted`` (module docstring).

    ``consistent`` needs the fit's 95% interval (statistical and systematic errors) to contain
    the prediction and to be no wider than ``tolerance`` either side; ``inconsistent`` needs it
    to exclude the prediction significantly (BH-adjusted p < level).  Both need
    :func:`~twostep.compare.science.claims.evidence.enough_widths` usable widths: converging series
    (the regime guard) and a seed mean at least ``scaling.MIN_SIGNAL_Z`` standard errors above zero.
    ``extra``: a :class:`CoherentExtra`.  ``power = 1``: ``raw`` holds a signed
    component (oriented so that its mean is positive) whose mean grows as ``N^{exponent}``
    itself, shown in the table's ``column``.  ``raw`` may be the
    :class:`MissingCoherent` of measurements stored before the coherent strength existed: the
    finding is then inconclusive, saying so.
    """
    missing = ""
    if isinstance(raw, MissingCoherent):
        missing, raw = str(raw), {}
    Ns = sorted(raw)
    considered, fit = _coherent_fit(raw, regime, power, missing)
    usable = list(fit.usable)
    seeds = {N: len(raw[N]) for N in Ns}
    lo, hi = fit.interval()
    pvals: dict[str, float] = {}
    sign_p = math.nan
    if fit.chosen is not None and enough_widths(usable):
        pvals["fit"] = fit.pvalue(predicted)
        sign_p = fit.pvalue(0.0)
    gamma = None
    if k is not None and fit.chosen is not None:
        shift = config.alpha2 + k * config.alpha1
        gamma = (fit.estimate - shift, lo - shift, hi - shift)
    table = _coherent_table(claim, subject, column, predicted, raw, fit, regime, power)
    need = what_decides(fit, {N: seeds[N] for N in usable or considered}, tolerance / 2,
                        seconds or {})
    evidence = _CoherentEvidence(missing, Ns, considered, fit, usable, lo, hi, predicted,
                                 tolerance, regime, seconds or {}, need)

    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        return _coherent_verdict(evidence, adj)

    extra = CoherentExtra(fit, tuple(usable), ByKey.of(seeds), sign_p, gamma, need, k,
                          widths_need(considered, usable, seconds or {}))
    return Finding(claim, subject, config, table, predicted, fit.estimate, (lo, hi), pvals,
                   decide, extra=extra)


@dataclass(frozen=True)
class CoherentExtra(FindingExtra):
    """What a :func:`coherent_finding` keeps (``Finding.extra``): the ``fit`` (a
    :class:`~twostep.compare.science.scaling.ScalingFit`), its ``usable`` widths, the ``seeds`` per
    N, ``sign_pvalue`` (the raw p-value of a null exponent; NaN without a fit on enough widths),
    ``gamma`` (the step-size-free exponent ``(estimate, low, high)`` when the term ``k`` is
    given and the fit is determined, else None), ``need`` (what would decide it) and
    ``widths_need`` (what would make enough widths usable; empty when they are)."""

    fit: scaling.ScalingFit
    usable: tuple[int, ...]
    seeds: ByKey[int]
    sign_pvalue: float
    gamma: tuple[float, float, float] | None
    need: Need
    k: int | None
    widths_need: str


def sign_need(finding: Finding, seconds: Mapping[int, float], margin: float) -> Need:
    """What would decide the sign of a :func:`coherent_finding`'s exponent (margin: the
    predicted ``|e_k|``)."""
    extra = finding.extra
    usable = extra.usable or extra.seeds.keys
    return what_decides(extra.fit, {N: extra.seeds.get(N) for N in usable}, margin, seconds)


def exponent_sign(k: int, finding: Finding, p: float, regime: Regime | None, Ns: Sequence[int],
                  seconds: Mapping[int, float], *, what: str = "",
                  label: str = "coherent exponent") -> tuple[int | None, Reason]:
    """The sign of term k's coherent exponent from its :func:`coherent_finding` and the
    BH-adjusted p-value ``p`` of a null exponent (``extra.sign_pvalue``): ``(+1 | -1, why)``
    when decided, ``(None, why and what would decide)`` otherwise.  Decided needs
    :func:`~twostep.compare.science.claims.evidence.enough_widths` usable widths, ``p < LEVEL`` and
    the largest widths' fit of the same sign (else pre-asymptotic: larger N).  ``what`` names the
    quantity in the text (``"k=2 beta_* component"``), ``label`` its exponent."""
    f = finding
    who = what or f"k={k}"
    usable, fit = f.extra.usable, f.extra.fit
    gamma = f.extra.gamma
    g = ("" if gamma is None else
         Reason("sign-gamma", k=k, gamma=float(gamma[0]), low=float(gamma[1]),
                high=float(gamma[2])))
    said = dict(who=who, label=label, fit=str(fit), p=float(p), gamma=g)
    if fit.chosen is None or not enough_widths(usable):
        outside = [N for N in Ns if regime is not None and not regime.ok(N)]
        need = f.extra.widths_need or sign_need(f, seconds, abs(f.predicted))
        then = ([Reason("clause", text=fit.note)] if fit.note else []) + (
            [_outside(regime, outside, "guard-clause-after")] if outside else []) + [
            Reason("sign-would-decide", need=str(need))]
        return None, Reason("sign-widths", who=who, widths=_evidence_reason(usable), then=then)
    agrees = fit.narrower is None or np.sign(fit.narrower.estimate) == np.sign(fit.estimate)
    if p < LEVEL and not agrees:
        return None, Reason("sign-disagrees", said, N_min=fit.narrower.N_min,
                            narrower=float(fit.narrower.estimate), N=Ns[-1])
    if p < LEVEL:
        sign = int(np.sign(fit.estimate))
        return sign, Reason("sign-grows" if sign > 0 else "sign-vanishes", said)
    need = sign_need(f, seconds, abs(f.predicted))
    return None, Reason("sign-undetermined", said, need=str(need))


def gamma_data(config: ModelConfig, results: Results) -> list[dict[str, Any]]:
    """One entry per exact term k >= 1 measured on ``config``: the step-size-free exponent
    ``gamma_k`` from the N where the series converges, as data (what :func:`gamma_lines`
    prints): ``k``, ``predicted`` (``-k/2``), ``gamma`` (the fit, None when undetermined),
    ``interval`` (its 95% interval ``[low, high]``, None when undetermined), ``usable`` (the
    widths of the fit), ``stat`` and ``syst`` (the fit's statistical and systematic errors,
    None when undetermined) and ``reason`` (why it is undetermined, else None).  Empty when
    the measurements carry no coherent strengths."""
    Ns = results.Ns(config)
    ms = [m for N in Ns for m in results.get(config, N)]
    if not ms or any(not m.terms for m in ms):
        return []
    K = min(len(m.terms) for m in ms) - 1
    if any(t.coherent_sq is None or t.left_weight is None for m in ms for t in m.terms):
        return []
    regime = measured_regime(results, config)
    if regime.blocked is not None:
        return []
    rows = []
    for k in range(1, K + 1):
        f = coherent_finding("gamma", f"k={k}", config, -k / 2, k=k,
                             raw=coherent_values(results, config, k, "gamma"), regime=regime,
                             tolerance=math.inf)
        fit, gamma = f.extra.fit, f.extra.gamma
        known = gamma is not None
        rows.append({"k": k, "predicted": -k / 2, "gamma": float(gamma[0]) if known else None,
                     "interval": [float(gamma[1]), float(gamma[2])] if known else None,
                     "usable": [int(N) for N in f.extra.usable],
                     "stat": float(fit.stat) if known else None,
                     "syst": float(fit.syst) if known else None,
                     "reason": None if known else (fit.note or regime.describe(Ns))})
    return rows


def gamma_lines(config: ModelConfig, results: Results | None, label: str = "",
                rows: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
    """One line per exact term k >= 1 measured on ``config``: the step-size-free exponent
    ``gamma_k`` (measured, 95% interval, predicted ``-k/2``) from the N where the series
    converges (the entries of :func:`gamma_data`, or ``rows`` when given: ``results`` is then
    not read).  Empty when the measurements carry no coherent strengths."""
    if rows is None:
        if results is None:
            raise ValueError("gamma_lines needs the results or their gamma_data rows")
        rows = gamma_data(config, results)
    lines = []
    for r in rows:
        k, predicted = r["k"], r["predicted"]
        if r["gamma"] is None:
            lines.append(f"  gamma_{k}: undetermined ({r['reason']}); predicted {predicted:g}")
            continue
        where = f"N = {', '.join(map(str, r['usable']))}" if r["usable"] else "no usable N"
        lo, hi = r["interval"]
        lines.append(f"  gamma_{k} = {r['gamma']:.3f} [{lo:.3f}, {hi:.3f}] (predicted "
                     f"{predicted:g}; {where}; stat {r['stat']:.2g}, syst {r['syst']:.2g})")
    if lines and label:
        lines.insert(0, label)
    return lines
