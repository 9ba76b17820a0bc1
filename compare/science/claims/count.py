"""``outlier-count``: the new outliers of step two, decided from the signs of the exact terms'
growth exponents."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from twostep.compare.output.table import Table
from twostep.simulate.options import MAX_POWER_LIMIT
from twostep.simulate.terms import TERMS_LIMIT
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict
from twostep.theory.prediction import Prediction

from .base import Claim, _available_terms, _per_N
from .codes import Reason, Status
from .coherent import cell_seconds, exponent_sign
from .growth import _exact_term_findings
from .guard import GUARD_TERMS, Regime, _outside, guard_terms, measured_regime
from .results import Finding, Results


@dataclass
class OutlierCount(Claim):
    """``outlier-count``: the new outliers of step two (C3), paper and activation-aware counts.

    An asymptotic count is a statement about the signs of the exponents of the exact terms'
    coherent (BBP) strengths ``theta_k`` (only the coherent part of ``T_k`` makes an outlier;
    docs/claims.md, the coherent rule), so it is decided from them: each term
    k = 1 .. paper_count + 1 is tested for the sign of its exponent (the fit with corrections to
    scaling significantly on one side of 0 after BH) at the N where the series of exact terms
    converges at the config's own step sizes (the regime guard), from at least
    :data:`MIN_WIDTHS` widths spanning :data:`MIN_RANGE`.  ``consistent`` when every sign is
    decided and the count of growing terms equals the prediction; ``inconsistent`` as soon as
    one term's sign is decided against the prediction; otherwise ``inconclusive``, with what
    would decide each undecided term (seeds per N and the time they cost).  A critical
    configuration (some e_k = 0) is never decided by exponents.  Reported beside it: each term's
    step-size-free exponent ``gamma_k = e_k - alpha2 - k alpha1`` and the new outliers visible
    at each N (W_2's outliers minus W_1's).
    """

    spectra: ClassVar[str | tuple[str, ...]] = ("W1", "W2")  # W_2 count minus W_1 count

    name: str = "outlier-count"
    description: str = "number of new outliers after step two"
    tolerance: float = 0.15
    #: a count to test instead of the theory's (a user's claim, e.g. a planted false count):
    #: terms 1..claimed grow, the next ones vanish; one finding instead of two
    claimed: int | None = None
    #: also draw W_1 and W_2's spectra for the visible new outliers (reported beside the
    #: verdict, never used by it); False keeps the cells at the exact terms' cost
    visible: bool = True

    def __post_init__(self) -> None:
        if not self.visible:
            self.spectra = ()   # an instance value shadowing the class's declaration
        if self.claimed is not None and (isinstance(self.claimed, bool)
                                         or not isinstance(self.claimed, int)
                                         or not 0 <= self.claimed <= TERMS_LIMIT - 1):
            raise ConfigError(f"claimed must be an integer in [0, {TERMS_LIMIT - 1}] (a count "
                              f"of new outliers), got {self.claimed!r}")

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        pred = predict(config)
        need = len(pred.laws)   # whole-update amplitudes of k = 0 .. paper_count + 1 (figures)
        top = max(pred.paper_count, self.claimed or 0) + 1
        return {**self.options, "max_power": min(MAX_POWER_LIMIT, max(4, need, top + 1)),
                "terms": guard_terms(config, max(GUARD_TERMS, top))}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        Ns = results.Ns(config)
        # the visible count is None in a rescaled (core) measurement: shown as "-", not used
        unseen = any(m.visible_new_outliers is None for N in Ns for m in results.get(config, N))
        visible = ({N: [] for N in Ns} if unseen else
                   _per_N(results, config, lambda m: m.visible_new_outliers, self.name))
        regime = measured_regime(results, config)
        counted_paper = [t.k for t in pred.laws if 1 <= t.k <= pred.paper_count]
        counted_aware = [t.k for t in pred.laws if t.k >= 1 and t.is_outlier]
        # ranges, not lists: near alpha1 = 1/2 the paper count reaches millions
        last_k = (pred.paper_count if self.claimed is None
                  else max(pred.paper_count, self.claimed)) + 1
        available = _available_terms(results, config)
        missing = range(max(1, available), last_k + 1) if regime.blocked is None else range(0)
        tested = list(range(1, min(available, last_k + 1))) if regime.blocked is None else []
        per_term = _exact_term_findings(self.name, config, results, pred, tested,
                                        self.tolerance, regime)
        signs_p = {k: f.extra.sign_pvalue for k, f in per_term.items()}
        table = _visible_table(self.name, config, results, pred, visible, regime)
        # one test per term enters the BH family: the sign of its coherent exponent; both
        # findings share them (scope "signs"), so each enters the run's family once
        pvals = {f"{k}:sign": p for k, p in signs_p.items() if math.isfinite(p)}
        mean_vis = float(np.mean(visible[Ns[-1]])) if Ns and visible[Ns[-1]] else math.nan
        seeds = {N: len(results.get(config, N)) for N in Ns}
        per_width = (str(seeds[Ns[0]]) if len(set(seeds.values())) == 1
                     else ",".join(f"{N}={s}" for N, s in seeds.items())) if Ns else "-"
        e = _CountEvidence(pred, Ns, regime, tested, missing, per_term,
                           cell_seconds(results, config), mean_vis,
                           f"{config.second_layer} second layer, seeds per N {per_width}")

        if self.claimed is not None:
            claimed = list(range(1, self.claimed + 1))
            return [Finding(self.name, f"claimed count {self.claimed}", config, table,
                            self.claimed, mean_vis, (math.nan, math.nan), pvals,
                            _count_decider(e, claimed, "claimed", self.claimed), scope="signs",
                            subject_key="claimed-count")]
        return [
            Finding(self.name, "paper count floor(alpha2/(1/2-alpha1))", config, table,
                    pred.paper_count, mean_vis, (math.nan, math.nan), pvals,
                    _count_decider(e, counted_paper, "paper", pred.paper_count), scope="signs",
                    subject_key="paper-count"),
            Finding(self.name, "activation-aware count", config, table, pred.aware_count,
                    mean_vis, (math.nan, math.nan), pvals,
                    _count_decider(e, counted_aware, "activation-aware", pred.aware_count),
                    scope="signs", subject_key="aware-count"),
        ]


def _visible_table(claim: str, config: ModelConfig, results: Results, pred: Prediction,
                   visible: Mapping[int, Sequence[int]], regime: Regime) -> Table:
    """The evidence of ``outlier-count``: the new outliers visible at each N (reported, never
    used by the verdict) beside the predicted counts."""
    table = Table(["N", "seeds", "visible new outliers (mean)", "min", "max",
                   "paper count", "activation-aware count", "series residual"],
                  title=f"{claim}: visible new outliers of W_2 vs predicted")
    for N in results.Ns(config):
        v = visible[N]
        table.add(**{"N": N, "seeds": len(results.get(config, N)),
                     "visible new outliers (mean)": float(np.mean(v)) if v else None,
                     "min": int(min(v)) if v else None, "max": int(max(v)) if v else None,
                     "paper count": pred.paper_count,
                     "activation-aware count": pred.aware_count,
                     "series residual": regime.residual.get(N)})
    return table


@dataclass(frozen=True)
class _CountEvidence:
    """What a count's verdict reads: the prediction, the widths ``Ns``, the ``regime``, the
    ``tested`` terms and the ``missing`` ones (not measured), each tested term's sign finding
    (``per_term``, the coherent rule), the cells' ``seconds`` and the mean visible count at the
    largest N (``mean_vis``, reported)."""

    pred: Prediction
    Ns: list[int]
    regime: Regime
    tested: list[int]
    missing: range
    per_term: dict[int, Finding]
    seconds: dict[int, float]
    mean_vis: float
    #: the law of the second layer and the seeds per width (named in every reason)
    design: str = ""

    def visible(self) -> Reason:
        """The clause on the visible new outliers at the largest N, then the design."""
        return Reason("count-visible", N=self.Ns[-1], design=self.design,
                      mean="-" if math.isnan(self.mean_vis) else f"{self.mean_vis:.2f}")


def _count_decider(e: _CountEvidence, counted: list[int], label: str,
                   predicted_count: int | None
                   ) -> Callable[[dict[str, float]], tuple[str, str, float]]:
    """The decide callable of one count's finding (:func:`_count_verdict`)."""
    def decide(adj: dict[str, float]) -> tuple[str, str, float]:
        return _count_verdict(e, counted, label, predicted_count, adj)
    return decide


def _count_open(e: _CountEvidence, label: str, predicted_count: int | None) -> Reason | None:
    """Why no sign can decide the count (None when one can): the count is undefined, the
    guard blocks, the configuration is critical, or no width is in the regime."""
    pred, regime, Ns, vis = e.pred, e.regime, e.Ns, e.visible()
    if predicted_count is None:
        return Reason("count-undefined", label=label, why=pred.aware_count_reason)
    if regime.blocked is not None:
        return Reason("count-blocked", blocked=regime.blocked, visible=vis)
    if pred.critical:
        return Reason("count-critical", label=label, count=predicted_count,
                      ratio=str(pred.ratio), visible=vis)
    if not any(regime.ok(N) for N in Ns):
        return Reason("count-outside", label=label, count=predicted_count,
                      clause=_outside(regime, list(Ns), "guard-clause"), visible=vis)
    return None


def _count_verdict(e: _CountEvidence, counted: list[int], label: str,
                   predicted_count: int | None, adj: Mapping[str, float]
                   ) -> tuple[str, Reason, float]:
    """The count's verdict from the signs of the tested terms' exponents
    (:func:`~twostep.compare.science.claims.coherent.exponent_sign`): the terms ``counted`` grow,
    the other tested terms vanish."""
    why = _count_open(e, label, predicted_count)
    if why is not None:   # the guard's reasons block (BLOCKED_CODES), the others leave it open
        return Status.undecided(why.code), why, math.nan
    tested, Ns, vis, missing = e.tested, e.Ns, e.visible(), e.missing
    signs = {k: exponent_sign(k, e.per_term[k], adj.get(f"{k}:sign", math.nan), e.regime, Ns,
                              e.seconds) for k in tested}
    summary = [text for _, text in signs.values()]
    wrong = [k for k in tested if signs[k][0] is not None
             and (signs[k][0] > 0) != (k in counted)]
    said = dict(label=label, count=predicted_count, summary=summary, visible=vis)
    if wrong:
        decided = sum(1 for k in tested if signs[k][0] is not None and signs[k][0] > 0)
        p = max(adj[f"{k}:sign"] for k in wrong)
        return "inconsistent", Reason("count-inconsistent", said, wrong=wrong,
                                      decided=decided), p
    if missing:   # no term measured contradicts the count, but some are missing
        missing_text = (str(list(missing)) if len(missing) <= 8
                        else f"[{missing[0]}, {missing[1]}, ..., {missing[-1]}]")
        fix = (Reason("count-rerun-terms", k=missing[-1]) if missing[-1] <= TERMS_LIMIT
               else Reason("count-terms-limit", k=missing[-1], limit=TERMS_LIMIT))
        return ("inconclusive", Reason("count-missing-terms", terms=list(missing),
                                       shown=missing_text, fix=fix,
                                       then=[Reason("clauses", items=summary)] if summary else []),
                math.nan)
    if any(sg is None for sg, _ in signs.values()):
        grows = [k for k in tested if signs[k][0] == 1]
        vanish = [k for k in tested if signs[k][0] == -1]
        open_ = [k for k in tested if signs[k][0] is None]
        return ("inconclusive", Reason("count-open", said, N=Ns[-1], grows=grows or "none",
                                       vanish=vanish or "none", open=open_), math.nan)
    used = list(e.per_term[tested[0]].extra.usable)
    return "consistent", Reason("count-consistent", said, used=used), math.nan
