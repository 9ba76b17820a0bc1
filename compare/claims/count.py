"""``outlier-count``: the new outliers of step two, decided from the signs of the exact terms'
growth exponents."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from twostep.simulate.options import MAX_POWER_LIMIT
from twostep.simulate.terms import TERMS_LIMIT
from twostep.theory.config import ModelConfig
from twostep.theory.predict import predict

from .. import stats
from ..table import Table
from .base import Claim, _available_terms, _per_N
from .growth import _exact_term_findings
from .results import LEVEL, Finding, Results
from .rules import GUARD_TERMS, _evidence_note, enough_widths, guard_terms, measured_regime


def _sign_pvalues(finding: Finding) -> dict[str, float]:
    """The p-value of "exponent = 0" for the fit of an exponent finding (the sign test of the
    count), on the same usable widths."""
    usable, signal = finding.extra["usable"], finding.extra["signal"]
    if len(usable) < 2:
        return {}
    sub = {N: signal[N] for N in usable}
    return {"sign_fit": stats.fit_exponent(sub, predicted=0.0).pvalue}


@dataclass
class OutlierCount(Claim):
    """``outlier-count``: the new outliers of step two (C3), paper and activation-aware counts.

    An asymptotic count is a statement about the signs of the exponents of the exact terms
    ``T_k`` (simulate's ``terms``) and about their sum, so it is decided from them: each term
    k = 1 .. paper_count + 1 is tested for the sign of its growth exponent (the fit significantly
    on one side of 0 after BH, the last local slope on the same side) at the N where the series
    of exact terms
    converges at the config's own step sizes (the regime guard), from at least
    :data:`MIN_WIDTHS` widths spanning :data:`MIN_RANGE`.  When every sign is decided, the
    measured count (terms growing) is compared with the prediction: ``consistent`` if equal,
    ``inconsistent`` if not; otherwise ``inconclusive`` with the undecided terms.  A critical
    configuration (some e_k = 0) is never decided by exponents.  Reported beside it: each term's
    exponent test and the new outliers visible at each N (W_2's outliers minus W_1's).
    """

    spectra: ClassVar[str | tuple[str, ...]] = ("W1", "W2")  # W_2 count minus W_1 count

    name: str = "outlier-count"
    description: str = "number of new outliers after step two"
    tolerance: float = 0.15

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        pred = predict(config)
        need = len(pred.terms)   # whole-update amplitudes of k = 0 .. paper_count + 1 (figures)
        return {**self.options, "max_power": min(MAX_POWER_LIMIT, max(4, need)),
                "terms": guard_terms(config, max(GUARD_TERMS, pred.paper_count + 1))}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        Ns = results.Ns(config)
        # the visible count is None in a rescaled (core) measurement: shown as "-", not used
        unseen = any(m.visible_new_outliers is None for N in Ns for m in results.get(config, N))
        visible = ({N: [] for N in Ns} if unseen else
                   _per_N(results, config, lambda m: m.visible_new_outliers, self.name))
        regime = measured_regime(results, config)
        counted_paper = [t.k for t in pred.terms if 1 <= t.k <= pred.paper_count]
        counted_aware = [t.k for t in pred.terms if t.k >= 1 and t.is_outlier]
        # ranges, not lists: near alpha1 = 1/2 the paper count reaches millions
        last_k = pred.paper_count + 1
        available = _available_terms(results, config)
        missing = range(max(1, available), last_k + 1) if not regime.blocked else range(0)
        tested = list(range(1, min(available, last_k + 1))) if not regime.blocked else []
        missing_text = (str(list(missing)) if len(missing) <= 8
                        else f"[{missing[0]}, {missing[1]}, ..., {missing[-1]}]")
        per_term = _exact_term_findings(self.name, config, results, pred, tested,
                                        self.tolerance, regime)
        signs_p = {k: _sign_pvalues(f) for k, f in per_term.items()}
        table = Table(["N", "seeds", "visible new outliers (mean)", "min", "max",
                       "paper count", "activation-aware count", "series residual"],
                      title=f"{self.name}: visible new outliers of W_2 vs predicted")
        for N in Ns:
            v = visible[N]
            table.add(**{"N": N, "seeds": len(results.get(config, N)),
                         "visible new outliers (mean)": float(np.mean(v)) if v else None,
                         "min": int(min(v)) if v else None, "max": int(max(v)) if v else None,
                         "paper count": pred.paper_count,
                         "activation-aware count": pred.aware_count,
                         "series residual": regime.residual.get(N)})
        pvals = {f"{k}:{name}": p for k, f in per_term.items() for name, p in f.pvalues.items()}
        pvals.update({f"{k}:{name}": p for k, ps in signs_p.items() for name, p in ps.items()})
        mean_vis = float(np.mean(visible[Ns[-1]])) if Ns and visible[Ns[-1]] else math.nan

        def sign_of(k: int, adj: dict[str, float]) -> tuple[int | None, str]:
            f = per_term[k]
            usable, fit, locs = f.extra["usable"], f.extra["fit"], f.extra["locs"]
            if fit is None or not enough_widths(usable):
                why = (regime.describe([N for N in Ns if not regime.ok(N)])
                       if any(not regime.ok(N) for N in Ns) else "")
                return None, (f"k={k}: sign undetermined ({_evidence_note(usable)}"
                              + (f"; {why}" if why else "") + ")")
            last = locs[-1][2]
            p = adj[f"{k}:sign_fit"]
            same = np.sign(fit.estimate) == np.sign(last.estimate) != 0
            if same and p < LEVEL:
                sign = int(np.sign(fit.estimate))
                return sign, (f"k={k}: {'grows' if sign > 0 else 'vanishes'}, slope {fit} "
                              f"(last local {last}, p = {p:.2g})")
            return None, f"k={k}: sign undetermined, slope {fit}, last local {last} (p = {p:.2g})"

        def make_decide(counted: list[int], label: str, predicted_count: int | None):
            def decide(adj: dict[str, float]) -> tuple[str, str, float]:
                vis = (f"visible new outliers at N = {Ns[-1]}: "
                       + ("-" if math.isnan(mean_vis) else f"{mean_vis:.2f}"))
                if predicted_count is None:
                    return ("inconclusive", f"{label} count undefined: "
                            f"{pred.aware_count_reason}", math.nan)
                if regime.blocked:
                    return "inconclusive", f"{regime.blocked}; {vis}", math.nan
                if pred.critical:
                    return ("inconclusive", f"{label} count {predicted_count}: alpha2/(1/2 - "
                            f"alpha1) = {pred.ratio} is an integer, so a term has e_k = 0 and "
                            f"the count is decided by a finite spike, not by exponents; {vis}",
                            math.nan)
                if missing:
                    fix = (f"rerun with terms >= {missing[-1]}" if missing[-1] <= TERMS_LIMIT
                           else f"the count needs {missing[-1]} exact terms, twostep computes "
                                f"at most {TERMS_LIMIT}")
                    return ("inconclusive", f"the measurements lack exact term(s) {missing_text}: "
                            f"{fix}", math.nan)
                if not any(regime.ok(N) for N in Ns):
                    return ("inconclusive", f"{label} count {predicted_count} not decided: "
                            f"{regime.describe(Ns)}; {vis}", math.nan)
                signs = {k: sign_of(k, adj) for k in tested}
                summary = "; ".join(text for _, text in signs.values())
                if any(sg is None for sg, _ in signs.values()):
                    return ("inconclusive", f"{label} count {predicted_count} not decided at "
                            f"N <= {Ns[-1]}: {summary}; {vis}", math.nan)
                measured = sum(1 for k in tested if signs[k][0] > 0)
                wrong = [k for k in tested if (signs[k][0] > 0) != (k in counted)]
                if not wrong:
                    used = ", ".join(map(str, per_term[tested[0]].extra["usable"]))
                    return ("consistent", f"{label} count {predicted_count}: {summary}; series "
                            f"converges at N = {used}; {vis}", math.nan)
                p = max(adj[f"{k}:sign_fit"] for k in wrong)
                return ("inconsistent", f"{label} count {predicted_count}, measured {measured}: "
                        f"term(s) {wrong} against the prediction; {summary}; {vis}", p)
            return decide

        return [
            Finding(self.name, "paper count floor(alpha2/(1/2-alpha1))", config, table,
                    pred.paper_count, mean_vis, (math.nan, math.nan),
                    pvals, make_decide(counted_paper, "paper", pred.paper_count)),
            Finding(self.name, "activation-aware count", config, table, pred.aware_count,
                    mean_vis, (math.nan, math.nan), pvals,
                    make_decide(counted_aware, "activation-aware", pred.aware_count)),
        ]
