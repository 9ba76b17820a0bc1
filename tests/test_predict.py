"""Predictions of twostep.theory.predict against the facts of docs/theory.md and invariants."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twostep.compare.science.strategies import alphas
from twostep.theory import ModelConfig
from twostep.theory.counts import exponent, one_step_spike_count, paper_count
from twostep.theory.errors import ConfigError
from twostep.theory.observables import BetaLearning, FeatureSpikes, StepOneSpike
from twostep.theory.predict import predict
from twostep.theory.prediction import PREDICTION_SCHEMA, Prediction
from twostep.theory.spectra import Outlier

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
    assert p.aware_count == 1
    kept = [t.k for t in p.laws if t.is_outlier]
    assert kept == [2]
    assert p.law(1).present is False
    assert p.law(1).coefficients[0].exact  # zero by parity is exact


@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_shifted_tanh_keeps_both_terms(batch):
    p = predict(ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                            batch=batch))
    assert p.paper_count == 2 and p.aware_count == 2


def test_he3_reuse_learns_beta_from_k2():
    p = predict(ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45,
                            batch="reuse"))
    assert p.beta.learned is True and p.beta.first_term == 2
    assert [t.carries_beta for t in p.laws[:3]] == [False, False, True]
    assert p.target.information_exponent == 3 and p.target.reuse_exponent == 3


def test_he3_reuse_needs_the_second_term():
    # floor(alpha2/(1/2 - alpha1)) = 1 < 2: term 2 vanishes, beta_* is not learned
    p = predict(ModelConfig(activation="tanh", target="He3", alpha1=0.2, alpha2=0.4,
                            batch="reuse"))
    assert p.paper_count == 1 and p.beta.learned is False


def test_he3_independent_never_carries_beta():
    p = predict(ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45,
                            batch="independent"))
    assert p.beta.learned is False
    assert not any(t.carries_beta for t in p.laws)


@pytest.mark.parametrize("batch", ["reuse", "independent"])
@pytest.mark.parametrize("activation", ["tanh", "tanh(z + 1/2)"])
def test_he2_never_carries_beta(batch, activation):
    p = predict(ModelConfig(activation=activation, target="He2", alpha1=0.3, alpha2=0.45,
                            batch=batch))
    assert p.beta.learned is False
    assert not any(t.carries_beta for t in p.laws)
    assert p.target.reuse_exponent is None


def test_relu_reuse_count_is_undefined_not_a_number():
    p = predict(ModelConfig(activation="relu", target="He1", alpha1=0.3, alpha2=0.45,
                            batch="reuse"))
    # k=1: c_2(relu) != 0 keeps the term; k=2: c_3(relu) = 0 and the m >= 1 moments multiply
    # distributions, so the count cannot be decided
    assert p.law(1).present is True
    assert p.law(2).present is None
    assert p.aware_count is None and "undefined" in p.aware_count_reason
    q = predict(ModelConfig(activation="relu", target="He1", alpha1=0.3, alpha2=0.45,
                            batch="independent"))
    assert q.aware_count == 1  # c_2 != 0, c_3 = 0


# -- step one ----------------------------------------------------------------------------------

def test_bbp_reference():
    p = predict(ModelConfig(activation="tanh", target="He1", noise=0.0, psi_d=1.0, psi_n=1.0,
                            alpha1=0.0, alpha2=0.2, etabar1=3.0))
    b = p.bbp
    assert b.exists
    assert b.theta == pytest.approx(2.570, abs=5e-4)
    assert b.location == pytest.approx(2.959, abs=5e-4)
    assert b.cosine_beta == pytest.approx(0.651, abs=5e-4)
    assert b.right_beta_overlap == pytest.approx(0.651**2, abs=1e-3)
    assert b.bulk_edge == pytest.approx(2.0)
    assert p.at(1000).spectrum("W1").outliers[0].value == pytest.approx(2.959, abs=5e-4)


def test_bbp_below_threshold_has_no_outlier():
    p = predict(ModelConfig(activation="tanh", target="He1", alpha1=0.0, etabar1=0.5))
    assert p.bbp.theta < 1 and not p.bbp.exists
    assert p.at(1000).spectrum("W1").outliers == ()


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
        predict(ModelConfig(loss="correlation"))
    with pytest.raises(ConfigError, match="canonical"):
        predict(ModelConfig(first_layer="sphere"))
    # the sign law is no other scaling, but its powers of a are collinear: refused for that
    with pytest.raises(ConfigError, match="collinear"):
        predict(ModelConfig(second_layer="sign"))


def test_prediction_json_round_trip_is_stable():
    import json

    config = ModelConfig(activation="tanh(z + 1/2)", target="He3")
    p = predict(config)
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert d == p.to_dict()  # every value survives JSON (no tuples, NaN or Fractions)
    assert d["schema"] == PREDICTION_SCHEMA == 3
    assert ModelConfig.from_dict(d["config"]) == p.config == config
    # the values are those of the prediction, not only its keys
    assert (d["paper_count"], d["critical"]) == (p.paper_count, p.critical) == (2, False)
    assert Fraction(d["ratio_exact"]) == p.ratio == Fraction(9, 10) / Fraction(2, 5)
    assert d["ratio"] == float(p.ratio)
    assert d["aware_count"] == p.aware_count and "outlier_count" not in d
    assert d["aware_count_reason"] == p.aware_count_reason
    assert [t["exponent_exact"] for t in d["laws"]] == [str(exponent(0.3, 0.45, k))
                                                         for k in range(len(p.laws))]
    assert [t["present"] for t in d["laws"]] == [t.present for t in p.laws]
    assert d["bulk_edge"] == p.bulk_edge == 2.0
    assert d["step_one"] == p.step_one.to_dict() and d["target"] == p.target.to_dict()
    assert d["beta"] == p.beta.to_dict() and d["beta"]["terms"] == list(p.beta.terms)
    assert d["features"]["spike_count"] == one_step_spike_count(0.3)[0]
    assert d["bbp"] is None  # alpha1 = 0.3: no finite BBP location
    # and the prediction of the round-tripped config is the same prediction
    assert predict(ModelConfig.from_dict(d["config"])).to_dict() == d
    # the JSON reads back into the same Prediction, observables included
    back = Prediction.from_dict(d)
    assert back == p and isinstance(back.beta, BetaLearning)
    assert isinstance(back.features, FeatureSpikes)
    assert back.to_dict() == d


@pytest.mark.parametrize("config", [ModelConfig(alpha1=0.0), ModelConfig(activation="relu",
                                    alpha1=0.3, alpha2=0.45, batch="reuse")])
def test_prediction_from_dict_reads_back_bbp_and_undefined_counts(config):
    import json

    p = predict(config)
    back = Prediction.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back == p
    assert back.at(500).step_one_spike == p.at(500).step_one_spike
    assert back.at(500).outliers == p.at(500).outliers


def test_prediction_from_dict_refuses_old_schema_and_missing_keys():
    d = predict(ModelConfig()).to_dict()
    with pytest.raises(ConfigError, match="schema 1 is not one of 2, 3"):
        Prediction.from_dict({**d, "schema": 1})
    del d["aware_count"]
    with pytest.raises(ConfigError, match="missing key 'aware_count'"):
        Prediction.from_dict(d)
    with pytest.raises(ConfigError, match="BetaLearning: unknown field.s. term"):
        Prediction.from_dict({**predict(ModelConfig()).to_dict(),
                              "beta": {"term": 0}})  # schema 3 has first_term and best_term


# -- the observables (theory/observables.py) -----------------------------------------------------

def test_aware_and_paper_counts():
    p = predict(ModelConfig(activation="tanh", target="He1", alpha1=0.3, alpha2=0.45))
    assert (p.paper_count, p.aware_count) == (2, 1)
    assert "k=1 dropped" in p.aware_count_reason and "[2] kept" in p.aware_count_reason
    assert not hasattr(p, "outlier_count")
    q = predict(ModelConfig(activation="tanh", target="He1", alpha1=0.1, alpha2=0.1))
    assert (q.paper_count, q.aware_count) == (0, 0) and q.aware_count_reason == "no term kept"


# c_1(tanh) = E[tanh'(z)] = E[z tanh z], by mpmath.quad against the Gaussian density (the
# engine uses its own quadrature); 0.6057055096021588 (test_hermite's 45-digit reference)
with mpmath.workdps(30):
    C1_TANH = float(mpmath.quad(lambda x: x * mpmath.tanh(x) * mpmath.npdf(x),
                                [-mpmath.inf, 0, mpmath.inf]))


def test_step_one_spike_at_alpha1_zero_is_the_bbp_spike():
    # By hand (docs/theory.md §3): He1, tau = 0, psi_d = psi_n = 1: u = c_1(sigma_*) beta_* plus
    # an orthogonal part of squared norm (d/n)(E[y^2] + tau^2) = 1, so ||u||^2 = 1 + 1 = 2 and
    # cos^2(u, beta_*) = 1/2; theta = etabar_1 |c_1(tanh)| ||u|| = 3 sqrt(2) c_1(tanh) ~ 2.570.
    # Aspect c = N/d = 1: BBP's sqrt((1 + t^2)(c + t^2)) / t = (1 + t^2) / t = t + 1/t, and both
    # squared overlaps 1 - (c + t^2)/(t^2 (t^2 + 1)) = 1 - c (1 + t^2)/(t^2 (t^2 + c)) = 1 - 1/t^2;
    # the beta overlap is the right one times cos^2(u, beta_*) = (1 - 1/t^2) / 2.
    p = predict(ModelConfig(activation="tanh", target="He1", noise=0.0, psi_d=1.0, psi_n=1.0,
                            alpha1=0.0, alpha2=0.2, etabar1=3.0))
    s = p.at(1000).step_one_spike
    assert isinstance(s, StepOneSpike)
    theta = 3.0 * C1_TANH * math.sqrt(2)
    assert s.value == pytest.approx(theta + 1 / theta, rel=1e-12)
    assert s.right_u_overlap == pytest.approx(1 - theta**-2, rel=1e-12)
    assert s.left_a_overlap == pytest.approx(1 - theta**-2, rel=1e-12)
    assert s.right_beta_overlap == pytest.approx((1 - theta**-2) / 2, rel=1e-12)
    assert s.value == pytest.approx(2.959, abs=5e-4)
    assert s.u_norm == pytest.approx(math.sqrt(2), rel=1e-14)
    assert p.at(10).step_one_spike == s  # N-independent
    # below the threshold (theta = 0.5 sqrt(2) c_1 ~ 0.43 < c^(1/4) = 1): the edge 1 + sqrt(1),
    # overlaps 0
    q = predict(ModelConfig(activation="tanh", target="He1", alpha1=0.0, etabar1=0.5))
    below = q.at(1000).step_one_spike
    assert below.value == q.bulk_edge == 2.0
    assert below.right_u_overlap == below.left_a_overlap == below.right_beta_overlap == 0.0


@pytest.mark.parametrize("alpha1", [0.1, 0.3])
def test_step_one_spike_for_alpha1_positive_scales_as_N_to_the_alpha1(alpha1):
    # leading order etabar_1 |c_1(tanh)| ||u|| N^alpha1 with etabar_1 = 1 and ||u|| = sqrt(2)
    # (He1, tau = 0, psi_d = psi_n = 1: see the test above)
    p = predict(ModelConfig(activation="tanh", target="He1", alpha1=alpha1, alpha2=0.2))
    assert p.bbp is None
    small, large = p.at(100).step_one_spike, p.at(100_000).step_one_spike
    assert small.value == pytest.approx(C1_TANH * math.sqrt(2) * 100 ** alpha1, rel=1e-12)
    assert large.value / small.value == pytest.approx(1000 ** alpha1, rel=1e-12)
    assert small.right_u_overlap is small.left_a_overlap is small.right_beta_overlap is None
    assert small.u_norm == pytest.approx(math.sqrt(2), rel=1e-14)


def test_step_one_spike_without_a_spike_and_bad_N():
    # c_1(sigma) = 0: strength 0, no spike: the top singular value stays at the edge
    p = predict(ModelConfig(activation="He2", target="He1", alpha1=0.3, alpha2=0.2))
    assert p.step_one.strength == 0 and p.at(1000).step_one_spike.value == 2.0  # 1 + sqrt(1)
    for N in (1, 2.5, True):
        with pytest.raises(ConfigError, match="N must be an integer >= 2"):
            p.at(N)
    assert p.at(100).spectra.names == ("W1", "W2")  # a prediction has the W_1 and W_2 spectra


def test_outliers_at_returns_outliers_with_the_predicted_values():
    p = predict(ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45))
    w2 = p.at(4000).outliers
    assert all(isinstance(o, Outlier) for o in w2)
    # a step-two term's value is its finite-N location (docs/amplitudes.md), None inside the
    # bulk; the step-one spike's only the leading order (the statement)
    from twostep.theory.amplitudes import term_amplitude

    where = {k: term_amplitude(p.config, k, 4000).location for k in (1, 2)}
    assert [(o.term, o.left_power, o.value, o.growth) for o in w2] == [
        (0, 1, None, "diverging"), (1, 2, where[1], "diverging"), (2, 3, where[2], "diverging")]
    assert where[1] is not None  # the value is filled in where theory has it
    assert [o.exponent for o in w2] == [0.3, pytest.approx(0.25), pytest.approx(0.05)]
    strength = p.step_one.strength
    assert f"{strength:.3g} N^0.3 = {strength * 4000 ** 0.3:.3g} at N=4000" in w2[0].statement
    assert "order N^0.25" in w2[1].statement
    # measured-only fields are None
    assert all(o.index is None and o.gap is None and o.left_overlaps is None
               and o.right_beta_overlap is None for o in w2)
    assert p.at(4000).spectrum("W1").outliers == w2[:1]
    # alpha1 = 0: the BBP outlier has a finite value, critical growth
    q = predict(ModelConfig(activation="tanh", target="He1", noise=0.0, psi_d=1.0, psi_n=1.0,
                            alpha1=0.0, alpha2=0.2, etabar1=3.0))
    (o,) = q.at(1000).spectrum("W1").outliers
    assert (o.term, o.value, o.exponent, o.growth) == (0, q.bbp.location, 0.0, "critical")
    assert "term 0 of order N^0.2" in q.at(1000).outliers[0].statement


def test_beta_and_feature_spikes_are_observables():
    p = predict(ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45,
                            batch="reuse"))
    assert isinstance(p.beta, BetaLearning)
    assert (p.beta.learned, p.beta.first_term, p.beta.terms) == (True, 2, (2,))
    assert "k=2" in p.beta.reason
    assert p.beta.overlap is p.beta.null is p.beta.null_sd is p.beta.null_draws is None
    f = p.features
    assert isinstance(f, FeatureSpikes)
    assert (f.spike_count, f.critical, f.alpha) == (2, False, 0.3)
    assert f.threshold is f.above_threshold is f.F0 is f.F1 is f.definition is None
    assert "2310.07891" in f.reference


def test_prediction_has_no_scaling_field_and_reads_json_with_or_without_it():
    # issue 21, section 7: the scaling is always "canonical", the config's; it is no field
    # of the Prediction, and stored JSON that has the key (every earlier one) still loads
    import dataclasses
    import json

    p = predict(ModelConfig(alpha1=0.0))
    assert "scaling" not in {f.name for f in dataclasses.fields(Prediction)}
    d = json.loads(json.dumps(p.to_dict()))
    assert d["scaling"] == p.config.scaling == "canonical"  # the JSON keys are unchanged
    assert Prediction.from_dict(d) == p
    assert Prediction.from_dict({k: v for k, v in d.items() if k != "scaling"}) == p
