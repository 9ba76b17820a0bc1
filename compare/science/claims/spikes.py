"""``one-step-spikes``: spikes of the feature matrix after one step (Moniri et al. 2023)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from twostep.compare.output.table import Table
from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from .base import Claim, _per_N
from .codes import Reason
from .evidence import _evidence_reason
from .results import Finding, Results
from .rules import enough_widths

#: A count of feature-matrix spikes is decided, either way, only when spike l and spike l + 1
#: both have strength exponents at least this far from 0 (the j-th spike grows as
#: N^{j alpha - (j-1)/2}; over the widths a laptop reaches, 8x, an exponent of 0.15 changes a
#: strength by 1.37x).  The two exponents differ by 1/2 - alpha, so counting decides only
#: l = 1 with alpha in [0.15, 0.175]; everywhere else a count is inconclusive by counting.
SPIKE_EXPONENT_MARGIN = 0.15


def _spike_count(m: Measurement) -> int:
    """The feature-matrix spike count of a measurement; one whose run did not measure the
    features (not this claim's: e.g. a store swept without them) stops with one line."""
    count = None if m.features is None else m.features.spike_count
    if count is None:
        raise ConfigError("measurement has no feature-matrix spike count; rerun with "
                          "features=True")
    return count


@dataclass
class OneStepSpikes(Claim):
    """``one-step-spikes``: Moniri et al. 2023, spikes of the feature matrix after one step.

    Measured: simulate's ``features.spike_count`` (spikes of ``sigma(X W_1^T)/sqrt(n)`` above
    the bulk of the same matrix at W_0).  Spike j grows as ``N^{s_j}``, ``s_j = j alpha -
    (j - 1)/2``: the predicted ``l`` has ``s_l > 0 > s_{l+1}``.  The count is decidable by
    counting only when both ``s_l`` and ``-s_{l+1}`` are at least
    :data:`SPIKE_EXPONENT_MARGIN` (the same condition both ways), from :data:`MIN_WIDTHS`
    widths spanning :data:`MIN_RANGE`.  Then ``consistent``: the median count equals ``l`` at
    the last two N; ``inconsistent``: it differs at the last two N in every seed, on one side,
    not moving toward ``l``.  Otherwise ``inconclusive``.
    """

    spectra: ClassVar[str | tuple[str, ...]] = ()  # the feature matrices only

    name: str = "one-step-spikes"
    description: str = "feature-matrix spikes after one step (Moniri et al. 2023)"
    options: dict[str, Any] = field(default_factory=lambda: {"features": True})

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        counts = _per_N(results, config, _spike_count, self.name)
        Ns = sorted(counts)
        # the prediction a user's claim reads (N-independent): predict(config).at(N)
        features = predict(config).at(Ns[-1], ks=()).features
        l = features.spike_count
        table = Table(["N", "seeds", "median count", "min", "max", "predicted"],
                      title=f"{self.name}: spikes of the one-step feature matrix")
        for N in Ns:
            c = counts[N]
            table.add(**{"N": N, "seeds": len(c), "median count": float(np.median(c)),
                         "min": int(min(c)), "max": int(max(c)), "predicted": l})
        a = config.alpha1

        def s(j: int) -> float:
            return j * a - (j - 1) / 2

        def decide(adj: dict[str, float]) -> tuple[str, Reason, float]:
            tail = Ns[-2:]
            med = [float(np.median(counts[N])) for N in tail]
            base = Reason("spikes-base", medians=med, widths=list(tail), count=l, next=l + 1,
                          grow=float(s(l)), shrink=float(s(l + 1)))
            if features.critical:
                return "inconclusive", Reason("spikes-critical", count=l, next=l + 1), math.nan
            if not enough_widths(Ns):
                return ("inconclusive", Reason("spikes-widths", base=base,
                                               widths=_evidence_reason(Ns)), math.nan)
            said = dict(base=base, margin=SPIKE_EXPONENT_MARGIN)
            if not (s(l) >= SPIKE_EXPONENT_MARGIN and -s(l + 1) >= SPIKE_EXPONENT_MARGIN):
                return "inconclusive", Reason("spikes-near-zero", said), math.nan
            if all(m == l for m in med):
                return "consistent", Reason("spikes-consistent", said), math.nan
            sides = {np.sign(c - l) for N in tail for c in counts[N]}
            moving = abs(med[1] - l) < abs(med[0] - l)
            if len(sides) == 1 and 0 not in sides and not moving:
                return "inconsistent", Reason("spikes-inconsistent", said), math.nan
            return "inconclusive", Reason("spikes-unobservable", said), math.nan

        last = counts[Ns[-1]]
        return [Finding(self.name, f"alpha1={config.alpha1:g}", config, table, l,
                        float(np.median(last)), (float(min(last)), float(max(last))), {},
                        decide)]
