"""Results, verdicts and findings, and the run-wide multiple-testing step (:func:`decide_all`).

A claim turns measurements (:class:`Results`) into :class:`Finding` s carrying raw p-values;
:func:`decide_all` adjusts every p-value of a run together (Benjamini-Hochberg,
:func:`twostep.compare.stats.adjust_pvalues`) and only then lets each finding decide its
:class:`Verdict` (docs/claims.md).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig

from .. import stats
from ..table import Table

STATUSES = ("consistent", "inconsistent", "inconclusive")

#: Family-wise level of the adjusted tests.
LEVEL = 0.05


# -- results -------------------------------------------------------------------------------------

class Results:
    """Measurements grouped by (config, N): ``results.get(config, N) -> [Measurement]``.

    :meth:`add` takes a :class:`~twostep.simulate.Measurement` or a mapping (a stored JSON
    dict, of the current or an earlier format), converted by ``Measurement.from_dict``.
    """

    def __init__(self) -> None:
        self._data: dict[tuple[str, int], dict[int, Measurement]] = defaultdict(dict)
        self._configs: dict[str, ModelConfig] = {}

    def add(self, config: ModelConfig, N: int, seed: int,
            measurement: Measurement | Mapping[str, Any]) -> None:
        m = Measurement.from_dict(measurement)
        self._configs[config.key()] = config
        self._data[(config.key(), int(N))][int(seed)] = m

    def get(self, config: ModelConfig, N: int) -> list[Measurement]:
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
