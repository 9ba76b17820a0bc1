"""The exponent claims: ``growth-exponent`` (the whole update's projections) and
``term-exponent`` (the exact step-two terms)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from twostep.simulate.options import MAX_POWER_LIMIT
from twostep.simulate.terms import TERMS_LIMIT
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict
from twostep.theory.prediction import Prediction

from .base import Claim, _amp, _available_terms, _blocked, _per_N
from .coherent import MissingCoherent, cell_seconds, coherent_finding, coherent_values
from .exponent import exponent_finding
from .guard import GUARD_TERMS, Regime, guard_terms, measured_regime, term_share
from .results import Finding, Results


@dataclass
class GrowthExponent(Claim):
    """``growth-exponent``: the projected amplitude of term k grows as ``N^{e_k}``.

    Measured: the floor-corrected amplitude ``sqrt(A_k^2 - F_k^2)`` of the whole step-two update
    projected on ``q_{k+1} = GS(a^{o(k+1)})`` (simulate section 2), per seed, at the N where the
    series of exact terms converges (the regime guard) and where term k's own projection is at
    least :data:`MIN_TERM_SHARE` of it (:class:`TermShare`): only there is the projection on
    ``q_{k+1}`` term k's.  Measured: for k >= 2 other terms' leakage (term 0's above all)
    carries 80-85% of it even where the series converges.
    """

    spectra: ClassVar[str | tuple[str, ...]] = ()  # amplitudes and exact terms only

    name: str = "growth-exponent"
    description: str = "projected amplitude of term k grows as N^{e_k}"
    terms: tuple[int, ...] | None = None
    tolerance: float = 0.1

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        need = 1 + max(self.terms or (len(predict(config).laws) - 1,))
        # the predicted terms reach k = MAX_TERMS near alpha1 = 1/2; measure what simulate can
        power = max(4, need) if self.terms else min(MAX_POWER_LIMIT, max(4, need))
        return {"terms": guard_terms(config, max(GUARD_TERMS, need - 1)), **self.options,
                "max_power": power}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        out = []
        ks = self.terms if self.terms is not None else tuple(
            t.k for t in pred.laws if t.present and t.growth != "vanishing")
        available = min(len(m.amplitudes) for N in results.Ns(config)
                        for m in results.get(config, N))
        regime = measured_regime(results, config)
        for k in ks:
            if k >= available:
                continue  # measured with a smaller max_power: nothing to test
            t = pred.law(k)
            raw = _per_N(results, config, lambda m, k=k: _amp(m, k).amplitude, self.name)
            flo = _per_N(results, config, lambda m, k=k: _amp(m, k).null_floor, self.name)
            subject = f"term k={k} (a^{k + 1}), e_k={t.exponent_exact}"
            out.append(exponent_finding(self.name, subject, config, t.exponent, self.tolerance,
                                        raw=raw, floor=flo, regime=term_share(results, config, k,
                                                                              regime),
                                        taylor=pred.taylor_parameter(max(raw))))
        return out


def _exact_term_findings(claim: str, config: ModelConfig, results: Results, pred: Prediction,
                         ks: Sequence[int], tolerance: float, regime: Regime,
                         label: str = "exact term") -> dict[int, Finding]:
    """Coherent-rule findings (:func:`~twostep.compare.science.claims.coherent.coherent_finding`) of
    the exact terms' coherent strengths against ``e_k``, under the regime guard."""
    out = {}
    seconds = cell_seconds(results, config)
    known = {t.k: t for t in pred.laws}
    for k in ks:
        if k in known:
            exponent, exact = known[k].exponent, known[k].exponent_exact
        else:   # beyond the predicted terms (a user's claimed count): e_k of the canonical model
            exponent = config.alpha2 - k * (0.5 - config.alpha1)
            exact = f"{exponent:.4g}"
        try:
            raw = coherent_values(results, config, k, claim)
        except MissingCoherent as err:   # an older store: inconclusive, saying so
            raw = err
        out[k] = coherent_finding(claim, f"{label} k={k} (a^{k + 1}), e_k={exact}",
                                  config, exponent, raw=raw, regime=regime,
                                  tolerance=tolerance, seconds=seconds, k=k)
    return out


@dataclass
class TermExponent(Claim):
    """``term-exponent``: the exact term's coherent (BBP) strength ``theta_k`` grows as
    ``N^{e_k}`` (simulate's ``terms``; ``T_k = eta_2 eta_1^k D_k`` with ``D_k`` free of the
    step sizes, so the statement does not depend on ``etabar_1``).  The coherent rule
    (:mod:`~twostep.compare.science.claims.coherent`: the pair estimate of ``theta_k^2``, fitted
    with corrections to scaling on ``N >= N_min`` windows) under the regime guard and BH; by default
    every term with a nonzero coefficient up to ``paper_count + 1``.
    """

    spectra: ClassVar[str | tuple[str, ...]] = ()  # exact terms only

    name: str = "term-exponent"
    description: str = "exact step-two term k grows as N^{e_k}"
    terms: tuple[int, ...] | None = None
    tolerance: float = 0.1

    def _ks(self, pred: Prediction) -> tuple[int, ...]:
        if self.terms is not None:
            return tuple(self.terms)
        return tuple(t.k for t in pred.laws if t.present and t.k <= TERMS_LIMIT)

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        need = max(self._ks(predict(config)) or (GUARD_TERMS,))
        return {**self.options, "terms": guard_terms(config, max(need, GUARD_TERMS))}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred = predict(config)
        regime = measured_regime(results, config)
        ks = self._ks(pred)
        if regime.blocked is not None:
            return [_blocked(self.name, "exact terms", config, [pred.law(k).exponent for k in ks],
                             regime.blocked)]
        available = _available_terms(results, config)
        missing = [k for k in ks if k >= available]
        if missing:
            raise ConfigError(f"claim {self.name!r}: the measurements lack exact term(s) "
                              f"{missing}; rerun with terms >= {missing[-1]}")
        return list(_exact_term_findings(self.name, config, results, pred, ks, self.tolerance,
                                         regime).values())
