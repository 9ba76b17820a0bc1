"""The calibration's resampling (benchmarks/calibrate.py, docs/results.md "Calibration") on a small
pooled fixture: synthetic exact-term amplitudes built from the finite-N predictions with 1.5%
seed noise, 8 seeds per N (at 4 seeds per N the r_inf t interval is then about +-0.023, inside
the 3% tolerance; at 3% noise it is about +-0.045, and a true claim is inconclusive). Drawing
the default design (4 seeds per N) from the pool, a true ``term-amplitude`` claim (term 1) is
never refuted and a planted 30% error always is; the tables and the figure are written from the
same tallies."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from twostep.compare.science.claims import TermAmplitudeClaim
from twostep.simulate import Measurement
from twostep.theory import ModelConfig, amplitudes
from twostep.theory.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("calibrate", ROOT / "benchmarks" / "calibrate.py")
cal = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("calibrate", cal)   # its dataclasses look their module up
_spec.loader.exec_module(cal)

CFG = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.2, alpha2=0.45,
                  batch="independent")
NS = (500, 1000, 2000, 4000)
SETUP = {"fixture": cal.Setup("fixture", (CFG,), 8, {}, NS)}


def _pool(seeds: int = 8, noise: float = 0.015):
    rng = np.random.default_rng(1)
    pool = {}
    for N in NS:
        pred = {k: amplitudes.term_amplitude(CFG, k, N) for k in (0, 1)}
        pool[(CFG.key(), N)] = {
            s: Measurement(config=CFG, N=N, d=N, n=N, seed=s, series={"residual": 0.01},
                           terms=[{"k": k, "left_power": k + 1,
                                   "amplitude": float(p.amplitude
                                                      * np.exp(noise * rng.standard_normal()))}
                                  for k, p in pred.items()])
            for s in range(seeds)}
    return pool


def _cases():
    return [cal.Case("term-amplitude", "constant", e, TermAmplitudeClaim(terms=(1,),
                                                                         factor=1 + e),
                     CFG, "fixture") for e in (0.0, 0.3, -0.3)]


@pytest.fixture(scope="module")
def tallies():
    return cal.resample_rates(_pool(), SETUP, _cases(), resamples=10, per_N=4, seed=3)


def test_planted_error_refuted_true_claim_not(tallies):
    cases = _cases()
    for k in (1,):
        subject = f"term k={k}: measured / predicted amplitude"
        true = tallies[("term-amplitude", subject, 0.0)]
        assert true.n == 10
        assert true.counts["inconsistent"] == 0, true.counts
        assert true.rate("consistent") > 0.5, true.counts
        for e in (0.3, -0.3):
            wrong = tallies[("term-amplitude", subject, e)]
            assert wrong.rate("inconsistent") == 1.0, (e, wrong.counts)
            assert wrong.counts["consistent"] == 0
    text = cal.tables(tallies, cases)
    assert "| term-amplitude | term k=1: measured / predicted amplitude | 10 |" in text
    assert "0% / 100%" in text   # false acceptance / power of the planted errors


def test_draws_are_without_replacement_within_N():
    rng = np.random.default_rng(0)
    for _ in range(5):
        res = cal.draw(_pool(), SETUP, rng, 4)["fixture"]
        for N in NS:
            seeds = res.seeds(CFG, N)
            assert len(seeds) == 4 and len(set(seeds)) == 4


def test_pool_too_small_for_the_design():
    with pytest.raises(ConfigError, match="3 pooled seeds at N = 500; the design draws 4"):
        cal.draw(_pool(seeds=3), SETUP, np.random.default_rng(0), 4)


def test_binomial_interval_and_figure(tallies, tmp_path):
    lo, hi = cal.binomial_ci(0, 300)
    assert lo == 0 and 0.01 < hi < 0.0125     # the rule of three: about 3/300
    out = tmp_path / "power.png"
    cal.figure(tallies, _cases(), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_planted_options_of_the_claims():
    from twostep.compare.science.claims import OutlierLocations
    from twostep.compare.science.claims.reuse import ReuseGap

    with pytest.raises(ConfigError, match="claimed must be"):
        ReuseGap(claimed={"reuse": True})
    assert ReuseGap(claimed={"reuse": True, "independent": False}).claimed["reuse"] is True
    assert OutlierLocations(factor=1.1).factor == 1.1


def test_a_plant_that_changes_no_finding_is_not_counted():
    # a "planted" claim identical to the true one (as a location factor on a term the theory
    # puts inside the bulk, or a flipped independent batch read by the reuse finding): its
    # findings are the true claim's, so counting them as false acceptance would be wrong
    inert = [cal.Case("term-amplitude", "constant", e,
                      TermAmplitudeClaim(terms=(1,), factor=1.0), CFG, "fixture")
             for e in (0.0, 0.3)]
    t = cal.resample_rates(_pool(), SETUP, inert, resamples=3, per_N=4, seed=3)
    subject = "term k=1: measured / predicted amplitude"
    assert t[("term-amplitude", subject, 0.0)].n == 3
    assert ("term-amplitude", subject, 0.3) not in t
    assert "no planted error changed the prediction" in cal.tables(t, inert)
