"""``twostep verify --profile headline``: the seed's count ``floor(alpha2/(1/2 - alpha1))`` decided
where it is 1 and where it is 2, on 2 cores (docs/results.md, "The headline").

The count is a statement about the signs of the exponents ``e_k = alpha2 + k alpha1 + gamma_k``
of the exact terms' coherent strengths (docs/claims.md, the coherent rule).  Where the count is
2, term 3's exponent is about -0.1, and with the canonical Gaussian second layer its per-seed
spread is so large (its pair statistic's weight ``a_i^4`` sits on a handful of neurons) that no
seed count affordable here decides it.  The exponents do not depend on the second layer's law
(for any law with finite moments ``||a^{o(k+1)}||`` is of order ``N^{-k/2}``), so the profile
uses the bounded uniform law of the same variance (docs/model.md, "The second layer's law"),
which spreads that weight over tens of neurons and cuts term 3's spread 4-11x.

The plan, per batch mode (:data:`SETUPS`: an activation whose terms 1-3 all have nonzero
coefficients in that mode):

- ``outlier-count`` at the count-1 point (0.2, 0.45) and the count-2 points (0.32, 0.45) and
  (0.3, 0.49) (:data:`POINTS`);
- planted false counts 1 and 3 (:class:`~.claims.OutlierCount` with ``claimed``) at the count-2
  points, which must come out ``inconsistent``;

all from ONE base sweep per mode (compare/plans/core_plan.py) at N = 500..4000 with the seeds per
width of :data:`SEEDS`, and the step-size-free exponents ``gamma_1..gamma_3`` printed with their
intervals.  Step sizes: ``etabar1 = 0.02`` keeps the series of exact terms convergent (the
regime guard) at every point; the count is a statement about exponents, free of etabar1.
"""

from __future__ import annotations

from collections.abc import Mapping

from twostep.theory.config import ModelConfig

from ..science.claims import OutlierCount
from .core_plan import PLANTED
from .verify import Check

#: The widths (the coherent rule needs at least 4 spanning a factor 8, docs/claims.md).
NS = (500, 1000, 2000, 4000)
#: The count-1 point and the two count-2 points.
COUNT1_POINT = (0.2, 0.45)
COUNT2_POINTS = ((0.32, 0.45), (0.3, 0.49))
POINTS = (COUNT1_POINT, *COUNT2_POINTS)
#: One setup per batch mode: activation, target, second-layer law and etabar1.
#:  - reused batch: softplus, whose reuse coefficients ``E[sigma^(k+1) sigma'^m]`` are nonzero
#:    for k = 1..3 and whose term-3 spread is the smallest measured;
#:  - independent batches: term k's coefficient is ``c_{k+1}(sigma)``; softplus, GELU, SiLU and
#:    ReLU are ``z/2 + even`` (``c_3 = 0``: term 2 absent), so tanh(z + 1), with c_2, c_3, c_4
#:    all nonzero.
SETUPS = {
    "reuse": ModelConfig(activation="softplus", target="He1", batch="reuse",
                         second_layer="uniform", etabar1=0.02),
    "independent": ModelConfig(activation="tanh(z + 1)", target="He1", batch="independent",
                               second_layer="uniform", etabar1=0.02),
}
#: Each mode's base sweep runs at the largest step sizes of the (alpha1, alpha2) grid of the
#: count plane (compare/plans/phase.py), so the same cells give the plane by rescaling (the carried
#: series residual of the regime guard needs the base's eta1 at least every point's).
ANCHORS = tuple(setup.replace(alpha1=0.4825, alpha2=0.4925) for setup in SETUPS.values())
#: Seeds per width of each mode (docs/results.md, "The headline": from pilots of the per-seed
#: spread, for a 95% half-width under 0.08 on gamma_3 with every width a usable point; the
#: independent batch's term 3 at N = 500 has a signal/noise of 0.26 per seed, and a cell there
#: costs a third of a second).
SEEDS: dict[str, dict[int, int]] = {
    "reuse": {500: 96, 1000: 64, 2000: 32, 4000: 24},
    "independent": {500: 256, 1000: 64, 2000: 32, 4000: 24},
}
#: The cells' options: float32 GEMMs, no null draws (the coherent rule reads no floor).
OPTIONS = {"dtype": "float32", "null_draws": 0}


def _count(name: str = "outlier-count", claimed: int | None = None) -> OutlierCount:
    # visible=False: the count is decided from the exact terms; W_1's and W_2's spectra are not
    # drawn (a rescaled measurement has none)
    return OutlierCount(name=name, claimed=claimed, visible=False)


def headline_plan(seeds: Mapping[str, Mapping[int, int]] | None = None,
                  modes: tuple[str, ...] = ("reuse", "independent")) -> tuple[Check, ...]:
    """The headline checks (module docstring), mode by mode."""
    seeds = SEEDS if seeds is None else seeds
    plan = []
    for mode in modes:
        setup, per = SETUPS[mode], dict(seeds[mode])
        Ns = tuple(sorted(per))
        for a1, a2 in POINTS:
            cfg = setup.replace(alpha1=a1, alpha2=a2)
            plan.append(Check(_count(), cfg, Ns, per, OPTIONS,
                              label=f"count, {setup.activation}, {mode}, ({a1}, {a2})"))
        for a1, a2 in COUNT2_POINTS:
            cfg = setup.replace(alpha1=a1, alpha2=a2)
            for wrong in (1, 3):
                plan.append(Check(_count(f"{PLANTED}{wrong}", wrong), cfg, Ns, per, OPTIONS,
                                  label=f"planted count {wrong}, {setup.activation}, {mode}, "
                                        f"({a1}, {a2})"))
    return tuple(plan)


def seeds_override(seeds: int | Mapping[int, int] | None
                   ) -> dict[str, dict[int, int]] | None:
    """``--seeds`` for the headline profile: None (the profile's :data:`SEEDS`), one count at
    every width of :data:`NS`, or seeds per width (its widths replace :data:`NS`), for both
    modes."""
    if seeds is None:
        return None
    per = dict.fromkeys(NS, seeds) if isinstance(seeds, int) else dict(seeds)
    return {mode: per for mode in SETUPS}
