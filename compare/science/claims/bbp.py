"""``bbp``: the step-one outlier and overlaps at alpha1 = 0 (the BBP formulas)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.observables import StepOneSpike
from twostep.theory.predict import predict
from twostep.theory.prediction import Prediction

from .base import Claim, Domain, _per_N
from .codes import Reason
from .results import Finding, Results
from .rules import limit_finding

#: The aspect ratios psi_d = d/N ``twostep fuzz`` draws for the ``bbp`` claim.
BBP_PSI_D = (0.5, 1.0, 2.0)


def _spike(m: Measurement, name: str) -> float:
    """Field ``name`` of W_1's top singular triplet of a measurement; one whose run did not
    compute it (not this claim's: e.g. a store swept without W_1's spectrum) stops with one
    line."""
    value = None if m.step_one_spike is None else getattr(m.step_one_spike, name)
    if value is None:
        raise ConfigError(f"measurement has no step-one spike {name} (W_1's spectrum was not "
                          "computed); rerun with spectra including W1")
    return value


def _predicted_spike(pred: Prediction, N: int) -> StepOneSpike:
    """The predicted top triplet of W_1, ``pred.at(N).step_one_spike`` (what a user's claim
    reads, docs/howto-own-claim.md).  At alpha1 = 0 it does not depend on N: the default
    ``location`` reads it at the smallest width, which passes every step-size check."""
    return pred.at(N, ks=()).step_one_spike


@dataclass
class BBP(Claim):
    """``bbp``: for alpha1 = 0 the step-one outlier and overlaps match the BBP formulas.

    Measured on W_1: the top singular value and the squared overlaps of its right singular vector
    with beta_* and of its left one with a.  Tolerances: 2% of the location, 0.015 on overlaps
    (set from the calibration, docs/results.md).
    The claim is about ``alpha1 = 0``: a config with another alpha1 is run with alpha1 = 0, and
    the verdict says so.
    """

    spectra: ClassVar[str | tuple[str, ...]] = ("W1",)  # W_1's top singular triplet

    name: str = "bbp"
    description: str = "alpha1 = 0 step-one outlier location and overlaps (BBP)"
    location_tolerance: float = 0.02
    #: set from the calibration (docs/results.md, Calibration): 0.05 accepted +-10% errors in
    #: the right overlap in 98-100% of the resamples; 0.015 in 0%, type I 0%
    overlap_tolerance: float = 0.015
    location: Callable[[Prediction], float] = lambda p: _predicted_spike(p, 2).value

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        return [config.replace(alpha1=0.0)]

    def domain(self) -> Domain:
        """alpha1 = 0 by definition: ``twostep fuzz`` draws etabar1 in [1.5, 4] and psi_d among
        :data:`BBP_PSI_D` instead of the alphas."""
        return Domain(alphas=False, etabar1=(1.5, 4.0), psi_d=BBP_PSI_D, fixed={"alpha1": 0.0},
                      core="it reads W_1's spectrum")

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        cfg = self.configs(config)[0]
        pred = predict(cfg)
        note = ("" if config.alpha1 == 0 else
                Reason("bbp-alpha1-zero", alpha1=float(config.alpha1)))

        def values(get: Callable[[Measurement], float]) -> dict[int, list[float]]:
            return _per_N(results, cfg, get, self.name)

        obs = pred.at(max(results.Ns(cfg) or [2]), ks=())
        if not obs.spectrum("W1").outliers:  # no BBP outlier: the spike sits at the edge
            return [limit_finding(self.name, "top singular value at the edge (no outlier)", cfg,
                                  values(lambda m: _spike(m, "value")), obs.bulk_edge,
                                  0.05 * obs.bulk_edge, note=note)]
        spike = obs.step_one_spike
        loc = float(self.location(pred))
        return [
            limit_finding(self.name, "outlier location", cfg,
                          values(lambda m: _spike(m, "value")), loc,
                          self.location_tolerance * loc, note=note),
            limit_finding(self.name, "squared overlap right vector / beta_*", cfg,
                          values(lambda m: _spike(m, "right_beta_overlap")),
                          spike.right_beta_overlap, self.overlap_tolerance, note=note),
            limit_finding(self.name, "squared overlap left vector / a", cfg,
                          values(lambda m: _spike(m, "left_a_overlap")),
                          spike.left_a_overlap, self.overlap_tolerance, note=note),
        ]
