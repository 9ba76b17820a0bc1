"""``reuse-gap``: beta_* in the exact term the theory names, reused vs independent batch."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from twostep.compare.output.table import Table
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from .. import stats
from .base import Claim, _blocked, _both_modes, _check_mode_claim, _term
from .codes import Reason
from .evidence import _evidence_reason, enough_widths
from .guard import GUARD_TERMS, Regime, _outside, guard_terms, measured_regime
from .results import LEVEL, Finding, Results

#: The reuse-gap trend is the log-log slope of the overlap over the usable widths.  A direction
#: that carries beta_* keeps an overlap of order 1 (slope 0); one that does not falls to the null
#: of a random direction in R^d, ~1/d (slope -1).  The trend decides between the two by the
#: midpoint: "learns" needs the slope significantly above it, "does not learn" below it.
TREND_MIDPOINT = -0.5


@dataclass
class ReuseGap(Claim):
    """``reuse-gap``: beta_* in the exact term the theory names, reused vs independent batch.

    The term is ``k = j_* - 1`` (``j_*`` the reuse exponent: the first k whose reuse
    coefficient carries beta_*), or ``term``.  Statistic per seed: the squared cosine with
    beta_* of the exact term's projection ``T_k^T q_{k+1}`` (simulate's ``terms``), against its
    null (the same projection on independent copies of a, ~1/d).  Per batch mode, from at least
    :data:`MIN_WIDTHS` widths spanning :data:`MIN_RANGE` where the series of exact terms
    converges (the regime guard):

    - "learns": above the null at each of the last two N (Welch, BH) and a log-log slope
      significantly above :data:`TREND_MIDPOINT` (bounded overlaps have slope 0);
    - "does not learn": a slope significantly below :data:`TREND_MIDPOINT`, toward the null
      (which falls as 1/d: slope -1);
    - otherwise undecided.  A finite-N overlap at the null decides nothing either way.

    ``consistent`` when both modes are decided as predicted (reuse: reuse exponent and
    activation moments; independent: ``c_1(sigma_*) != 0``), ``inconsistent`` when a decided
    mode contradicts its prediction, else ``inconclusive``.  ``claimed`` replaces the
    prediction by a user's (``{"reuse": bool, "independent": bool}``: whether each mode learns
    beta_*; a planted false claim for the calibration and tests).
    """

    spectra: ClassVar[str | tuple[str, ...]] = ()  # exact terms only

    name: str = "reuse-gap"
    description: str = "beta_* overlap of the exact term, reuse vs independent"
    term: int | None = None
    claimed: Mapping[str, bool] | None = None

    def __post_init__(self) -> None:
        _check_mode_claim(self.claimed, "whether each batch mode learns beta_*")

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        return _both_modes(config)

    def _k(self, config: ModelConfig) -> int:
        if self.term is not None:
            return int(self.term)
        pred = predict(config.replace(batch="reuse"))
        j = pred.target.reuse_exponent
        if pred.beta.first_term is not None:
            return int(pred.beta.first_term)
        if j is not None and j - 1 < len(pred.laws):
            return max(1, int(j) - 1)
        return min(len(pred.laws) - 1, max(1, pred.paper_count))

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        return {**self.options, "terms": guard_terms(config, max(GUARD_TERMS, self._k(config)))}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        reuse_cfg, ind_cfg = self.configs(config)
        k = self._k(config)
        preds = {"reuse": predict(reuse_cfg).law(k), "independent": predict(ind_cfg).law(k)}
        # the statistic is a direction (scale-free): it says whether term k's right vector
        # carries beta_*, not whether the term grows into an outlier (term-exponent and
        # outlier-count decide that), so the expectation does not depend on e_k
        expect = {mode: bool(t.carries_beta and t.present) for mode, t in preds.items()}
        if self.claimed is not None:
            expect = {mode: bool(self.claimed[mode]) for mode in preds}
        cfgs = {"reuse": reuse_cfg, "independent": ind_cfg}
        Ns = sorted(set(results.Ns(reuse_cfg)) & set(results.Ns(ind_cfg)))
        if not Ns:
            raise ConfigError("reuse-gap needs measurements of both batch modes")
        regimes = {mode: measured_regime(results, cfg) for mode, cfg in cfgs.items()}
        subject = f"term k={k} (a^{k + 1}): reuse vs independent"
        if regimes["reuse"].blocked is not None:
            return [_blocked(self.name, subject, reuse_cfg, expect, regimes["reuse"].blocked)]
        data = {mode: _overlaps(results, cfg, k, Ns) for mode, cfg in cfgs.items()}
        usable = [N for N in Ns if all(regimes[m].ok(N) for m in cfgs)]
        pvals, fits = _gap_tests(data, usable, usable[-2:])
        gap = _GapEvidence(Ns, usable, usable[-2:], data, regimes, expect, fits)
        table = _gap_table(self.name, k, gap, pvals)

        def decide(adj: dict[str, float]) -> tuple[str, Reason, float]:
            for row in table.rows:
                for col, mode in (("reuse > null p", "reuse"),
                                  ("independent > null p", "independent")):
                    key = f"{mode}>null@{row['N']}"
                    row[col] = adj.get(key)
            return _gap_verdict(gap, adj)

        R = [np.mean(data["reuse"][N][0]) for N in Ns]
        return [Finding(self.name, subject, reuse_cfg, table,
                        {m: "learns" if e else "does not learn" for m, e in expect.items()},
                        float(R[-1]), (math.nan, math.nan), pvals, decide)]


@dataclass(frozen=True)
class _GapEvidence:
    """What the reuse-gap verdict reads: the widths ``Ns`` measured in both modes, the
    ``usable`` ones (converging in both) and the last two of them (``tail``), per mode the
    per-seed overlaps and null overlaps per N (``data``), the ``regimes``, the expected state
    (``expect``: learns or not) and the modes' trend fits (``fits``, :func:`_gap_tests`)."""

    Ns: list[int]
    usable: list[int]
    tail: list[int]
    data: dict[str, dict[int, tuple[list[float], list[float]]]]
    regimes: dict[str, Regime]
    expect: dict[str, bool]
    fits: dict[str, stats.Interval | None]


def _overlaps(results: Results, cfg: ModelConfig, k: int, Ns: Sequence[int]
              ) -> dict[int, tuple[list[float], list[float]]]:
    """Per N the seeds' squared beta_* overlaps of term k's projection and their nulls."""
    out = {}
    for N in Ns:
        ms = results.get(cfg, N)
        S = [float(_term(m, k).beta_overlap or 0.0) for m in ms]
        F = [float(_term(m, k).null_beta_overlap or 0.0) for m in ms]
        out[N] = (S, F)
    return out


def _gap_tests(data: Mapping[str, Mapping[int, tuple[list[float], list[float]]]],
               usable: Sequence[int], tail: Sequence[int]
               ) -> tuple[dict[str, float], dict[str, stats.Interval | None]]:
    """The raw p-values that join the BH family and the trend fits, per mode: above the null at
    each ``tail`` width (Welch), and the log-log slope over the ``usable`` widths against
    :data:`TREND_MIDPOINT` (no fit with fewer than two widths or a zero overlap)."""
    pvals: dict[str, float] = {}
    fits: dict[str, stats.Interval | None] = {}
    for mode in data:
        for N in tail:
            S, F = data[mode][N]
            pvals[f"{mode}>null@{N}"] = stats.welch_greater(S, F)
        sub = {N: data[mode][N][0] for N in usable}
        fit = None
        if len(usable) >= 2 and all(min(v) > 0 for v in sub.values()):
            fit = stats.fit_exponent(sub, predicted=TREND_MIDPOINT)
            pvals[f"{mode}:trend"] = fit.pvalue
        fits[mode] = fit
    return pvals, fits


def _gap_table(claim: str, k: int, gap: _GapEvidence, pvals: Mapping[str, float]) -> Table:
    """The evidence of ``reuse-gap``: the modes' mean overlaps and the null's, one row per N."""
    table = Table(["N", "seeds", "reuse overlap", "independent overlap", "null overlap",
                   "reuse > null p", "independent > null p", "series residual (reuse)",
                   "series residual (independent)"],
                  title=f"{claim}: squared beta_* overlap of T_{k}^T q_{k + 1} "
                        "(exact term)")
    for N in gap.Ns:
        R, FR = gap.data["reuse"][N]
        I_, FI = gap.data["independent"][N]
        table.add(**{"N": N, "seeds": len(R), "reuse overlap": float(np.mean(R)),
                     "independent overlap": float(np.mean(I_)),
                     "null overlap": float(np.mean(FR + FI)),
                     "reuse > null p": pvals.get(f"reuse>null@{N}"),
                     "independent > null p": pvals.get(f"independent>null@{N}"),
                     "series residual (reuse)": gap.regimes["reuse"].residual.get(N),
                     "series residual (independent)":
                         gap.regimes["independent"].residual.get(N)})
    return table


def _measured(gap: _GapEvidence, mode: str, adj: Mapping[str, float]
              ) -> tuple[bool | None, Reason]:
    """Whether ``mode`` learns beta_* (None: undecided) and the clause saying so."""
    fit = gap.fits[mode]
    means = [float(np.mean(gap.data[mode][N][0])) for N in gap.usable]
    if len(gap.tail) < 2:
        return None, Reason("gap-too-few", mode=mode)
    above = all(adj[f"{mode}>null@{N}"] < LEVEL for N in gap.tail)
    decided = fit is not None and adj[f"{mode}:trend"] < LEVEL
    trend = Reason("gap-no-trend") if fit is None else Reason("gap-trend", fit=str(fit))
    said = dict(mode=mode, means=means, trend=trend)
    if above and decided and fit.estimate > TREND_MIDPOINT:
        return True, Reason("gap-learns", said)
    if decided and fit.estimate < TREND_MIDPOINT:
        return False, Reason("gap-falls", said)
    return None, Reason("gap-undecided", said, midpoint=TREND_MIDPOINT)


def _gap_verdict(gap: _GapEvidence, adj: Mapping[str, float]) -> tuple[str, Reason, float]:
    """Both modes' measured states against the expected ones."""
    expect, usable = gap.expect, gap.usable
    pred = Reason("gap-predicted", reuse=expect["reuse"], independent=expect["independent"])
    outside = [N for N in gap.Ns if N not in usable]
    prefix = ""
    if outside:
        prefix = Reason("gap-guard", clauses=[
            _outside(r, outside, "guard-clause")
            for r in gap.regimes.values() if any(not r.ok(N) for N in outside)])
    if not enough_widths(usable):
        return ("inconclusive", Reason("gap-widths", prefix=prefix,
                                       widths=_evidence_reason(usable), predicted=pred),
                math.nan)
    found = {mode: _measured(gap, mode, adj) for mode in gap.data}
    said = dict(prefix=prefix, states=[text for _, text in found.values()], predicted=pred)
    wrong = [mode for mode, (got, _) in found.items()
             if got is not None and got != expect[mode]]
    if wrong:
        keys = [key for mode in wrong for key in
                ([f"{mode}>null@{N}" for N in gap.tail] if found[mode][0]
                 else [f"{mode}:trend"])]
        return "inconsistent", Reason("gap-disagrees", said), max(adj[key] for key in keys)
    if all(got is not None for got, _ in found.values()):
        return "consistent", Reason("gap-agrees", said), math.nan
    return "inconclusive", Reason("gap-open", said), math.nan
