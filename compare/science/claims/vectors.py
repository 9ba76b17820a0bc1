"""``left-vectors``: each step-two outlier's left vector is the predicted power of a."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from twostep.compare.output.table import Table
from twostep.theory.config import ModelConfig
from twostep.theory.predict import predict

from .. import stats
from .base import Claim
from .codes import Reason, Status
from .guard import guard_clause, guard_terms, measured_regime
from .results import Finding, Results


@dataclass
class LeftVectors(Claim):
    """``left-vectors``: each outlier's left vector is the predicted power ``a^{o(k+1)}``.

    For the W_2 outliers at the largest N (by rank), the identified power (simulate's rule) and
    the squared overlap with ``q_{k+1}``, with a CI over seeds.  ``consistent``: every outlier
    rank present in at least half of the seeds is identified, in every such seed, with a term the
    theory predicts present and not vanishing, and its overlap's CI lies above 1/2.
    ``inconsistent``: some outlier is identified, in every seed where it appears (at least half
    of them), with a power whose term the theory predicts absent (zero coefficient), with an
    overlap CI above 1/2.  Otherwise ``inconclusive``.  Both verdicts need the series of exact
    terms to converge at that N (the regime guard): "outlier k is term k" presupposes the terms.
    """

    spectra: ClassVar[str | tuple[str, ...]] = ("W2",)  # the outliers of W_2

    name: str = "left-vectors"
    description: str = "outlier left vectors align with a^{o(k+1)}"

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        return {"terms": guard_terms(config), **self.options}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        Ns = results.Ns(config)
        N = Ns[-1]
        ms = results.get(config, N)
        regime = measured_regime(results, config)
        allowed = {t.k for t in pred.laws if t.present and t.growth != "vanishing"}
        absent = {t.k for t in pred.laws if t.present is False}
        ranks = max((len(m.outliers) for m in ms), default=0)
        table = Table(["rank", "seeds with outlier", "value (mean)", "identified k (mode)",
                       "agreement", "overlap with q_(k+1) (mean)", "CI low", "CI high",
                       "predicted"], title=f"{self.name}: W_2 outliers at N = {N}")
        rows = []
        for r in range(ranks):
            outs = [m.outliers[r] for m in ms if len(m.outliers) > r]
            terms = [o.term for o in outs]
            mode, count = Counter(terms).most_common(1)[0]
            if mode is None:
                ov = [max(v for v in o.left_overlaps if v is not None) for o in outs]
            else:
                ov = [o.left_overlaps[mode] for o in outs]
            iv = stats.mean_interval(ov) if len(ov) >= 1 else None
            rows.append((r, len(outs), mode, count, iv))
            table.add(**{"rank": r + 1, "seeds with outlier": f"{len(outs)}/{len(ms)}",
                         "value (mean)": float(np.mean([o.value for o in outs])),
                         "identified k (mode)": mode, "agreement": f"{count}/{len(outs)}",
                         "overlap with q_(k+1) (mean)": iv.estimate if iv else None,
                         "CI low": iv.low if iv else None, "CI high": iv.high if iv else None,
                         "predicted": ("present" if mode in allowed else
                                       "absent" if mode in absent else "not predicted")
                         if mode is not None else "-"})

        def decide(adj: dict[str, float]) -> tuple[str, Reason, float]:
            if not regime.ok(N):
                return Status.BLOCKED, guard_clause(regime, [N])[0], math.nan
            steady = [row for row in rows if row[1] * 2 >= len(ms)]
            if not steady:
                return "inconclusive", Reason("vectors-no-outlier", N=N), math.nan
            wrong = [row for row in steady if row[2] in absent and row[3] == row[1]
                     and row[4].low > 0.5]
            if wrong:
                return ("inconsistent", Reason("vectors-absent-power", ranks=[
                    Reason("vectors-rank-power", rank=r + 1, power=k + 1)
                    for r, _, k, _, _ in wrong]), math.nan)
            good = all(row[2] in allowed and row[3] == row[1] and row[4].low > 0.5
                       for row in steady)
            ranks = [Reason("vectors-rank", rank=r + 1, k=k, agree=c, seeds=n, overlap=str(iv))
                     for r, n, k, c, iv in steady]
            if good:
                return "consistent", Reason("vectors-consistent", N=N, ranks=ranks), math.nan
            return "inconclusive", Reason("vectors-unclear", N=N, ranks=ranks), math.nan

        best = rows[0][4] if rows else None
        return [Finding(self.name, f"W_2 outliers at N = {N}", config, table,
                        sorted(allowed), best.estimate if best else math.nan,
                        (best.low, best.high) if best else (math.nan, math.nan), {}, decide)]
