"""The ``term-amplitude`` and ``outlier-locations`` claims on synthetic measurements built from
the finite-N predictions themselves (theory.amplitudes), with 3% seed noise: the right
constants are consistent, a planted 30% error is inconsistent, a diverging series decides
nothing."""

from __future__ import annotations

import numpy as np

from twostep.compare.claims import OutlierLocations, Results, TermAmplitudeClaim, decide_all
from twostep.simulate import Measurement
from twostep.theory import ModelConfig, amplitudes

# independent batch: its constants are closed forms and fast; (0.2, 0.45): term 1 enters the
# outliers near N = 1700 (theta_1 = 1.135 at N = 4000, location 2.016)
CFG = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.2, alpha2=0.45,
                  batch="independent")
NS = [500, 1000, 2000, 4000]


def _results(factor=1.0, residual=0.01, visible=None, location_factor=1.0):
    rng = np.random.default_rng(0)
    res = Results()
    for N in NS:
        pred = {k: amplitudes.term_amplitude(CFG, k, N) for k in (0, 1, 2)}
        for s in range(6):
            terms = [{"k": k, "left_power": k + 1, "amplitude": float(factor * p.amplitude *
                                                 np.exp(0.03 * rng.standard_normal()))}
                     for k, p in pred.items()]
            outs = []
            if pred[1].location is not None:
                outs.append({"term": 1, "value": float(location_factor * pred[1].location *
                                                       (1 + 0.002 * rng.standard_normal()))})
            res.add(CFG, N, s, Measurement(
                config=CFG, N=N, d=N, n=N, seed=s, terms=terms, series={"residual": residual},
                outliers=outs, bulk_edge=2.0,
                visible_new_outliers=len(outs) if visible is None else visible))
    return res


def test_term_amplitude_right_and_planted_wrong():
    right = decide_all(TermAmplitudeClaim(terms=(0, 1)).findings(CFG, _results()))
    assert [v.status for v in right] == ["consistent", "consistent"], [v.reason for v in right]
    wrong = decide_all(TermAmplitudeClaim(terms=(1,), factor=1.3).findings(CFG, _results()))
    assert wrong[0].status == "inconsistent", wrong[0].reason
    diverging = decide_all(TermAmplitudeClaim(terms=(1,)).findings(CFG, _results(residual=5.0)))
    assert diverging[0].status == "inconclusive" and "diverges" in diverging[0].reason


def test_outlier_locations():
    vs = decide_all(OutlierLocations().findings(CFG, _results()))
    assert [v.status for v in vs] == ["consistent", "consistent"], [v.reason for v in vs]
    vs = decide_all(OutlierLocations().findings(CFG, _results(visible=2, location_factor=1.1)))
    assert [v.status for v in vs] == ["inconsistent", "inconsistent"], [v.reason for v in vs]
