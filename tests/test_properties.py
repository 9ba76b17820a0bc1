"""Properties of ``twostep.theory.predict`` over drawn configurations (hypothesis).

The configurations come from ``compare.strategies.model_configs()``: ``(alpha1, alpha2)`` on
a decimal grid, activations ``tanh`` (odd), ``tanh(z + 1/2)`` (no parity), ``gelu`` (smooth,
not odd) and ``relu`` (non-smooth), targets He1/He2/He3, reused or independent batch.  The
properties are those of theory/predict.py's docstring (docs/theory.md §4-§5): the exponents
``e_k = alpha2 - k (1/2 - alpha1)``, the paper count, the activation-aware count and which
terms can be outliers.  Paper counts are kept <= 1 (``max_count=1``): a prediction computes
``max(count + 1, 2)`` terms, each a few symbolic moments, and the moments of a new
(activation, k) cost seconds the first time; test_predict.py covers larger counts on fixed
examples.  Hypothesis runs derandomized with no example database (``database=None``); its
plugin still caches the source constants it collects under ``.hypothesis/`` at collection
time, before any fixture of this module runs.
"""

from __future__ import annotations

import functools
import json
import math
from fractions import Fraction

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twostep.compare.science.strategies import (
    CONFIG_ACTIVATIONS,
    activations,
    model_configs,
    polynomial_targets,
)
from twostep.theory import ModelConfig
from twostep.theory.counts import paper_count
from twostep.theory.predict import predict
from twostep.theory.prediction import Prediction

PROPERTY = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CONFIGS = model_configs(max_count=1)
HALF = Fraction(1, 2)


def _exact(x: float) -> Fraction:
    return Fraction(repr(x))  # the strategy draws decimals: repr is the exact rational


@functools.cache
def _c1(activation: str) -> float:
    """``c_1(sigma) = E[z sigma(z)]`` by mpmath.quad against the Gaussian density."""
    sigma = {"tanh": mpmath.tanh, "tanh(z + 1/2)": lambda x: mpmath.tanh(x + 0.5),
             "gelu": lambda x: x * mpmath.ncdf(x), "relu": lambda x: max(x, 0)}[activation]
    with mpmath.workdps(30):
        return float(mpmath.quad(lambda x: x * sigma(x) * mpmath.npdf(x),
                                 [-mpmath.inf, -0.5, 0, mpmath.inf]))


@PROPERTY
@given(CONFIGS)
def test_exponents_growth_and_paper_count(config):
    p = predict(config)
    a1, a2 = _exact(config.alpha1), _exact(config.alpha2)
    assert [t.k for t in p.laws] == list(range(len(p.laws)))
    # the orders by their derivation (docs/theory.md §4), not by the closed form the code uses:
    # term 0 is the step-two update itself, of order eta_2 ~ N^alpha2; each further power of
    # the step-one update brings eta_1 ~ N^alpha1 times a projection of order N^(-1/2), so
    # e_0 = alpha2 and e_{k+1} - e_k = alpha1 - 1/2 exactly
    step = a1 - HALF
    e = a2
    for t in p.laws:
        assert Fraction(t.exponent_exact) == e
        assert t.exponent == float(e)
        assert t.left_power == t.k + 1
        assert t.growth == ("diverging" if e > 0 else "critical" if e == 0 else "vanishing")
        e += step
    # the paper counts exactly the terms k >= 1 with e_k >= 0, critical iff one of them (or
    # term 0 when alpha2 = 0) has e_k = 0: walk the recurrence until e_k < 0 (step < 0)
    walked, e, k, zero = 0, a2, 0, a2 == 0
    while True:
        k, e = k + 1, e + step
        if e < 0:
            break
        walked, zero = walked + 1, zero or e == 0
    assert (p.paper_count, p.critical) == (walked, zero)
    assert p.paper_count == sum(1 for t in p.laws if t.k >= 1 and t.growth != "vanishing")
    assert p.critical == any(t.growth == "critical" for t in p.laws)
    # the ratio is where the exponent line crosses zero: e_0 + ratio (e_1 - e_0) = 0
    assert isinstance(p.ratio, Fraction) and a2 + p.ratio * step == 0


@PROPERTY
@given(CONFIGS)
def test_activation_aware_count_never_exceeds_the_paper_count(config):
    p = predict(config)
    counted = [t for t in p.laws if 1 <= t.k <= p.paper_count]
    if p.aware_count is None:
        # undefined only when a counted term's coefficients are (non-smooth activation)
        assert not p.activation.smooth
        assert any(t.present is None for t in counted)
    else:
        assert 0 <= p.aware_count <= p.paper_count
        assert p.aware_count == sum(1 for t in counted if t.present)
    if p.activation.smooth:
        assert all(t.present is not None for t in p.laws)


@PROPERTY
@given(CONFIGS, st.sampled_from([100, 1000, 10_000]))
def test_absent_or_vanishing_terms_are_never_predicted_outliers(config, N):
    p = predict(config)
    listed = {o.term for o in p.at(N).outliers if o.term >= 1}
    for t in p.laws:
        if t.present is False:
            assert t.is_outlier is False and t.carries_beta is False
        if t.growth == "vanishing" or t.k == 0:
            assert t.is_outlier is False
        assert (t.k in listed) == (t.is_outlier is True), t
    assert all(o.term == 0 for o in p.at(N).spectrum("W1").outliers)
    # the step-one spike against a hand closed form (psi_d = psi_n = 1, tau = 0, etabar_1 = 1):
    # ||u||^2 = c_1(He_m)^2 + E[He_m^2] = [m = 1] + m!, cos^2(u, beta_*) = [m = 1] / ||u||^2,
    # theta = |c_1(sigma)| ||u|| with c_1(sigma) by mpmath.quad.  alpha1 = 0: aspect c = 1, so
    # BBP's location sqrt((1 + t^2)(c + t^2)) / t = t + 1/t and its right overlap
    # 1 - (c + t^2) / (t^2 (t^2 + 1)) = 1 - 1/t^2 above t = c^(1/4) = 1, else the edge 2 and 0;
    # alpha1 > 0: the leading order theta N^alpha1
    m = int(config.target[2:])
    u2 = (m == 1) + math.factorial(m)
    theta = abs(_c1(config.activation)) * math.sqrt(u2)
    spike = p.at(N).step_one_spike
    assert spike.u_norm == pytest.approx(math.sqrt(u2), rel=1e-14)
    if config.alpha1 == 0:
        above = theta > 1
        assert spike.value == pytest.approx(theta + 1 / theta if above else 2.0, rel=1e-12)
        assert spike.right_beta_overlap == pytest.approx(
            (1 - theta**-2) * (m == 1) / u2 if above else 0.0, rel=1e-12, abs=1e-15)
    else:
        assert spike.value == pytest.approx(theta * N ** config.alpha1, rel=1e-12)


@PROPERTY
@given(CONFIGS)
def test_odd_activation_has_no_odd_terms(config):
    # sigma odd: c_{k+1}(sigma) = 0 for k + 1 even, and E[sigma^(k+1) sigma'^m] = 0 for k + 1
    # even (sigma^(k+1) is then odd, sigma'^m even): every odd k is absent, both batches.
    p = predict(config)
    if p.activation.parity == "odd":
        assert all(t.present is False for t in p.laws if t.k % 2 == 1)
    if config.activation == "tanh":
        assert p.activation.parity == "odd"


@PROPERTY
@given(CONFIGS)
def test_prediction_round_trips_through_json(config):
    p = predict(config)
    d = p.to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back == d
    again = ModelConfig.from_dict(back["config"])
    assert again == config and again.key() == config.key()
    assert predict(again).to_dict() == back
    assert Prediction.from_dict(back) == p


@PROPERTY
@given(activations(), model_configs(activation=st.just("tanh"), batches=("independent",),
                                    max_count=1))
def test_every_smooth_activation_decides_every_independent_term(act, config):
    # independent batch: term k is present iff c_{k+1}(sigma) != 0, defined for smooth sigma
    p = predict(config.replace(activation=act))
    assert p.activation.smooth
    for t in p.laws:
        (coef,) = t.coefficients
        assert coef.defined and t.present is (not coef.zero)
    assert p.aware_count is not None


def _gaussian_moment(j: int) -> int:
    """E[z^j] for z ~ N(0, 1): (j - 1)!! for even j, 0 for odd j (math.prod of the odd numbers
    below j: independent of the sympy factorial2 the theory uses)."""
    return 0 if j % 2 else math.prod(range(j - 1, 0, -2))


@settings(PROPERTY, max_examples=15)
@given(polynomial_targets(max_degree=4))
def test_polynomial_target_c1_decides_beta_for_an_independent_batch(target):
    # c_1(sigma_*) = E[z sigma_*(z)] = sum_i c_i E[z^(i+1)]; with tanh (c_1 != 0, so term 0 is
    # present with e_0 = alpha2 >= 0) the independent batch learns beta_* iff c_1 != 0.
    coefs = {int(i): int(c) for c, i in
             (part.strip()[1:].split(")*z**") for part in target.split(" + "))}
    c1 = sum(c * _gaussian_moment(i + 1) for i, c in coefs.items())
    p = predict(ModelConfig(activation="tanh", target=target, batch="independent",
                            alpha1=0.1, alpha2=0.2))
    assert p.target.c1 == pytest.approx(c1, abs=1e-9)
    assert p.beta.learned is (c1 != 0)


def test_config_strategy_draws_every_activation_and_respects_max_count():
    seen: set[str] = set()

    @settings(PROPERTY, max_examples=60)
    @given(CONFIGS)
    def collect(config):
        assert paper_count(config.alpha1, config.alpha2)[0] <= 1
        seen.add(config.activation)

    collect()
    assert {ModelConfig(activation=a).activation for a in CONFIG_ACTIVATIONS} <= seen
