"""Predictions of twostep.theory.predict against the facts of docs/theory.md and invariants."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twostep.compare.strategies import alphas
from twostep.theory import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import (
    exponent,
    one_step_spike_count,
    paper_count,
    predict,
)

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


# -- the counting rule (hypothesis over (alpha1, alpha2) in [0, 1/2)^2) ------------------------

@FUZZ
@given(alphas())
def test_count_is_number_of_nonnegative_exponents(pair):
    a1, a2 = pair
    count, _ = paper_count(a1, a2)
    # e_k decreases in k (1/2 - alpha1 > 0): count the k >= 1 up to the first negative one,
    # and check that the next few are negative too
    brute = 0
    while exponent(a1, a2, brute + 1) >= 0:
        brute += 1
    assert all(exponent(a1, a2, k) < 0 for k in range(brute + 1, brute + 4))
    assert count == brute


@FUZZ
@given(alphas(), st.integers(1, 100))
def test_count_monotone_in_each_alpha(pair, step):
    a1, a2 = pair
    count, _ = paper_count(a1, a2)
    up1 = Fraction(repr(a1)) + Fraction(step, 1000)
    up2 = Fraction(repr(a2)) + Fraction(step, 1000)
    if up1 < Fraction(1, 2):
        assert paper_count(up1, a2)[0] >= count
    if up2 < Fraction(1, 2):
        assert paper_count(a1, up2)[0] >= count


@FUZZ
@given(alphas())
def test_count_zero_iff_below_first_line(pair):
    a1, a2 = pair
    count, _ = paper_count(a1, a2)
    below = Fraction(repr(a2)) < Fraction(1, 2) - Fraction(repr(a1))
    assert (count == 0) == below


@FUZZ
@given(alphas())
def test_critical_exactly_when_ratio_integer(pair):
    a1, a2 = pair
    _, critical = paper_count(a1, a2)
    r = Fraction(repr(a2)) / (Fraction(1, 2) - Fraction(repr(a1)))
    assert critical == (r == int(r))
    # and then the counted term sits exactly on e_k = 0
    if critical:
        assert exponent(a1, a2, int(r)) == 0


def test_exact_arithmetic_beats_float_rounding():
    # 0.45 / (0.5 - 0.35) is 2.9999999999999996 in floats; the exact ratio is 3.
    assert math.floor(0.45 / (0.5 - 0.35)) == 2
    assert paper_count(0.35, 0.45) == (3, True)
    assert paper_count(0.25, 0.25) == (1, True)
    assert paper_count(0.3, 0.45) == (2, False)
    assert paper_count(0.4, 0.4) == (4, True)


# -- activation-aware counts and beta_* (docs/theory.md §4-§5) -------------------------------------

@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_tanh_drops_odd_terms(batch):
    p = predict(ModelConfig(activation="tanh", target="He1", alpha1=0.3, alpha2=0.45, batch=batch))
    assert p.paper_count == 2 and not p.critical
    assert p.outlier_count == 1
    kept = [t.k for t in p.terms if t.is_outlier]
    assert kept == [2]
    assert p.term(1).present is False
    assert p.term(1).coefficients[0]["exact"]  # zero by parity is exact


@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_shifted_tanh_keeps_both_terms(batch):
    p = predict(ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                            batch=batch))
    assert p.paper_count == 2 and p.outlier_count == 2


def test_he3_reuse_learns_beta_from_k2():
    p = predict(ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45,
                            batch="reuse"))
    assert p.beta["learned"] is True and p.beta["first_term"] == 2
    assert [t.carries_beta for t in p.terms[:3]] == [False, False, True]
    assert p.target["information_exponent"] == 3 and p.target["reuse_exponent"] == 3


def test_he3_reuse_needs_the_second_term():
    # floor(alpha2/(1/2 - alpha1)) = 1 < 2: term 2 vanishes, beta_* is not learned
    p = predict(ModelConfig(activation="tanh", target="He3", alpha1=0.2, alpha2=0.4,
                            batch="reuse"))
    assert p.paper_count == 1 and p.beta["learned"] is False


def test_he3_independent_never_carries_beta():
    p = predict(ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45,
                            batch="independent"))
    assert p.beta["learned"] is False
    assert not any(t.carries_beta for t in p.terms)


@pytest.mark.parametrize("batch", ["reuse", "independent"])
@pytest.mark.parametrize("activation", ["tanh", "tanh(z + 1/2)"])
def test_he2_never_carries_beta(batch, activation):
    p = predict(ModelConfig(activation=activation, target="He2", alpha1=0.3, alpha2=0.45,
                            batch=batch))
    assert p.beta["learned"] is False
    assert not any(t.carries_beta for t in p.terms)
    assert p.target["reuse_exponent"] is None


def test_relu_reuse_count_is_undefined_not_a_number():
    p = predict(ModelConfig(activation="relu", target="He1", alpha1=0.3, alpha2=0.45,
                            batch="reuse"))
    # k=1: c_2(relu) != 0 keeps the term; k=2: c_3(relu) = 0 and the m >= 1 moments multiply
    # distributions, so the count cannot be decided
    assert p.term(1).present is True
    assert p.term(2).present is None
    assert p.outlier_count is None and "undefined" in p.outlier_count_reason
    q = predict(ModelConfig(activation="relu", target="He1", alpha1=0.3, alpha2=0.45,
                            batch="independent"))
    assert q.outlier_count == 1  # c_2 != 0, c_3 = 0


# -- step one ----------------------------------------------------------------------------------

def test_bbp_reference():
    p = predict(ModelConfig(activation="tanh", target="He1", noise=0.0, psi_d=1.0, psi_n=1.0,
                            alpha1=0.0, alpha2=0.2, etabar1=3.0))
    b = p.bbp
    assert b["exists"]
    assert b["theta"] == pytest.approx(2.570, abs=5e-4)
    assert b["outlier"] == pytest.approx(2.959, abs=5e-4)
    assert b["cosine_beta"] == pytest.approx(0.651, abs=5e-4)
    assert b["overlap_beta"] == pytest.approx(0.651**2, abs=1e-3)
    assert b["bulk_edge"] == pytest.approx(2.0)
    assert p.outliers(1000, "W1")[0]["value"] == pytest.approx(2.959, abs=5e-4)


def test_bbp_below_threshold_has_no_outlier():
    p = predict(ModelConfig(activation="tanh", target="He1", alpha1=0.0, etabar1=0.5))
    assert p.bbp["theta"] < 1 and not p.bbp["exists"]
    assert p.outliers(1000, "W1") == []


def test_one_step_spike_intervals():
    assert one_step_spike_count(0.1) == (1, False)
    assert one_step_spike_count(0.25) == (2, True)   # end point 1/4 of the first interval
    assert one_step_spike_count(0.3) == (2, False)
    assert one_step_spike_count(0.35) == (3, False)  # (1/3, 3/8)
    assert one_step_spike_count(0.45) == (10, True)  # 9/20 ends (8/18, 9/20), starts l = 10
    for l in range(1, 12):
        lo, hi = Fraction(l - 1, 2 * l), Fraction(l, 2 * l + 2)
        mid = (lo + hi) / 2
        assert one_step_spike_count(mid) == (l, False)


def test_non_canonical_scaling_is_refused():
    with pytest.raises(ConfigError, match="canonical"):
        predict(ModelConfig(second_layer="sign"))


def test_prediction_json_round_trip_is_stable():
    import json

    config = ModelConfig(activation="tanh(z + 1/2)", target="He3")
    p = predict(config)
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert d == p.to_dict()  # every value survives JSON (no tuples, NaN or Fractions)
    assert d["schema"] == 1
    assert ModelConfig.from_dict(d["config"]) == p.config == config
    # the values are those of the prediction, not only its keys
    assert (d["paper_count"], d["critical"]) == (p.paper_count, p.critical) == (2, False)
    assert Fraction(d["ratio_exact"]) == p.ratio == Fraction(9, 10) / Fraction(2, 5)
    assert d["ratio"] == float(p.ratio)
    assert d["outlier_count"] == p.outlier_count
    assert [t["exponent_exact"] for t in d["terms"]] == [str(exponent(0.3, 0.45, k))
                                                         for k in range(len(p.terms))]
    assert [t["present"] for t in d["terms"]] == [t.present for t in p.terms]
    assert d["bulk_edge"] == p.bulk_edge == 2.0
    assert d["step_one"] == p.step_one and d["beta"] == p.beta and d["target"] == p.target
    assert d["one_step_spikes"]["count"] == one_step_spike_count(0.3)[0]
    assert d["bbp"] is None  # alpha1 = 0.3: no finite BBP location
    # and the prediction of the round-tripped config is the same prediction
    assert predict(ModelConfig.from_dict(d["config"])).to_dict() == d
