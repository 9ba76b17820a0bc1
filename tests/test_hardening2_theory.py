"""Hardening, second round (issue 19, part B), theory side: no unbounded work as alpha1 -> 1/2
(§2), every command that predicts under a time budget."""

from __future__ import annotations

import time

import pytest

from tests._cli import run_cli
from twostep.theory import hermite
from twostep.theory.config import ModelConfig
from twostep.theory.errors import TimeBudgetError
from twostep.theory.predict import MAX_TERMS, predict

# -- §2: alpha1 near 1/2 -----------------------------------------------------------------------


def test_high_order_derivative_moment_is_not_differentiated_symbolically():
    # sympy needs 16 s for the order-13 derivative of tanh (and never returns at order 50):
    # beyond MAX_DERIVATIVE_ORDER the moment is "not computed", at once
    with hermite.time_budget(5):
        v = hermite.derivative_moment("tanh", 12, 1)
    assert not v.defined and v.reason.startswith(hermite.NOT_COMPUTED), v.reason
    assert "order 13" in v.reason
    # parity still decides what it can, at any order; polynomials have no limit
    assert hermite.derivative_moment("tanh", 13, 5).is_zero
    assert hermite.derivative_moment("z**3", 40, 1).is_zero


@pytest.mark.parametrize("alpha1", [0.49, 0.49999999])
def test_predict_near_half_is_bounded(alpha1):
    t0 = time.monotonic()
    with hermite.time_budget(5):
        p = predict(ModelConfig(alpha1=alpha1, alpha2=0.45))
    assert time.monotonic() - t0 < 30
    assert len(p.laws) == MAX_TERMS + 1
    assert p.paper_count >= 45 and p.aware_count is None
    assert "not enumerated" in p.aware_count_reason
    assert any("alpha1 near 1/2" in n for n in p.notes)
    assert all(t.present is not None for t in p.laws)  # tanh: c_{k+1} or parity decides


@pytest.mark.slow
def test_a_term_beyond_the_derivative_order_is_undecided_not_hung():
    # silu is z/2 + even: c_{k+1} = 0 for even k >= 2, so the reused-batch moments decide;
    # beyond the symbolic order they are "not computed" and the term is undecided
    with hermite.time_budget(10):
        p = predict(ModelConfig(activation="silu", alpha1=0.48, alpha2=0.45))
    t = p.law(hermite.MAX_DERIVATIVE_ORDER)   # k = 8: sigma^(9)
    assert t.present is None and "not computed" in t.reason, t.reason
    assert p.law(2).present is True  # order 3: computed


def test_predict_runs_under_the_default_time_budget(monkeypatch):
    # a caller without a budget (verify, report, the library) gets DEFAULT_TIME_BUDGET
    monkeypatch.setattr(hermite, "DEFAULT_TIME_BUDGET", 1e-4)
    hermite.api._derivative_moment.cache_clear()
    hermite.api._coefficient.cache_clear()
    with pytest.raises(TimeBudgetError, match="gave up on"):
        predict(ModelConfig(activation="sin(z) + z**2/3", alpha1=0.31, alpha2=0.44))


def test_outlier_count_near_half_asks_only_what_simulate_can():
    from twostep.compare.science.claims.count import OutlierCount
    from twostep.compare.science.claims.growth import GrowthExponent
    from twostep.simulate.options import MAX_POWER_LIMIT

    cfg = ModelConfig(alpha1=0.49999999, alpha2=0.45)
    assert OutlierCount().run_options(cfg)["max_power"] <= MAX_POWER_LIMIT
    assert GrowthExponent().run_options(cfg)["max_power"] <= MAX_POWER_LIMIT


def test_theory_cli_near_half_answers(capsys):
    t0 = time.monotonic()
    code, out, err = run_cli(capsys, "theory", "--alpha1", "0.49999999")
    assert code == 0, err
    assert time.monotonic() - t0 < 30
    assert "paper count 45000000 exceeds the 16 terms" in out
    assert "alpha1 near 1/2" in out
