"""The Verdict means what scipy's result objects mean (docs/reference.md#verdict): its p-value
is the decisive test's, its statistic and interval come from the width that decided, it is
immutable, each test enters the BH family once, and a finding is data a store can keep."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from twostep.compare.output.table import Table
from twostep.compare.science import stats
from twostep.compare.science.claims import (
    Finding,
    Regime,
    Verdict,
    decide_all,
    family,
    limit_finding,
)
from twostep.theory import ModelConfig

CFG = ModelConfig(activation="tanh", target="He1", alpha1=0.2, alpha2=0.45)


def _values(means, seeds=4, sd=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return {N: list(m + sd * rng.standard_normal(seeds)) for N, m in means.items()}


def test_limit_statistic_comes_from_the_width_that_decided():
    """Found 2: the regime guard excluded N = 4000 (mean 5.0) and the verdict, decided at
    N = 1000 and 2000, reported statistic 5.0 and CI (4.75, 5.25)."""
    values = {1000: [0.99, 1.0, 1.01, 1.0], 2000: [0.995, 1.0, 1.005, 1.0],
              4000: [4.8, 5.0, 5.2, 5.0]}
    guard = Regime({1000: 0.01, 2000: 0.01, 4000: 3.0}, 0.1)
    [v] = decide_all([limit_finding("c", "s", CFG, values, 1.0, 0.02, regime=guard)])
    assert v.status == "consistent", v.reason
    assert v.decided_at == 2000
    assert v.statistic == pytest.approx(1.0)
    iv = stats.mean_interval(values[2000])
    assert v.ci == pytest.approx((iv.low, iv.high))
    assert v.confidence_interval() == pytest.approx((iv.low, iv.high))


def test_limit_with_no_usable_width_reports_no_statistic():
    values = {1000: [1.0, 1.01], 2000: [5.0, 5.1]}
    guard = Regime({1000: 3.0, 2000: 3.0}, 0.1)
    [v] = decide_all([limit_finding("c", "s", CFG, values, 1.0, 0.02, regime=guard)])
    # the guard alone leaves no width: the theory does not apply there, blocked
    assert v.status == "blocked" and v.reason.code == "limit-no-usable"
    assert math.isnan(v.statistic) and v.decided_at is None


def test_pvalue_is_the_deciding_test_s():
    """inconsistent needs both of the last two widths outside the band: an intersection-union
    test, whose p-value is the larger of the two adjusted p-values (what the docs now say)."""
    values = _values({1000: 1.2, 2000: 1.2, 4000: 1.2}, sd=0.05)
    f = limit_finding("c", "s", CFG, values, 1.0, 0.02)
    assert set(f.pvalues.names) == {"outside@2000", "outside@4000"}  # only the tests that decide
    [v] = decide_all([f])
    adj = stats.adjust_pvalues([f.pvalues.get("outside@2000"), f.pvalues.get("outside@4000")])
    assert v.status == "inconsistent"
    assert v.pvalue == pytest.approx(max(adj))
    # consistent and inconclusive verdicts rest on no test
    [ok] = decide_all([limit_finding("c", "s", CFG, _values({1000: 1, 2000: 1}), 1.0, 0.05)])
    assert ok.status == "consistent" and math.isnan(ok.pvalue)


def test_verdict_is_immutable_and_takes_a_confidence_level():
    values = {1000: [0.99, 1.0, 1.01, 1.0], 2000: [0.995, 1.0, 1.005, 1.01]}
    [v] = decide_all([limit_finding("c", "s", CFG, values, 1.0, 0.05)])
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.status = "inconsistent"
    ci90 = v.confidence_interval(confidence_level=0.90)
    iv = stats.mean_interval(values[2000], level=0.90)
    assert (ci90.low, ci90.high) == pytest.approx((iv.low, iv.high))
    assert ci90.high - ci90.low < v.ci[1] - v.ci[0]
    bare = Verdict("c", "s", "consistent", "r", Table(["N"]), ci=(0.0, 1.0))
    assert bare.confidence_interval() == (0.0, 1.0)
    with pytest.raises(ValueError, match="confidence_level must be 0.95"):
        bare.confidence_interval(confidence_level=0.9)


def _shared(subject, p):
    return Finding("count", subject, CFG, Table(["N"]), 1, math.nan, (math.nan, math.nan),
                   {"1:sign_fit": p}, lambda adj: ("inconclusive", "x", math.nan),
                   scope="signs")


def test_each_test_enters_the_bh_family_once():
    """Found 2: the count's two findings put the same p-values into the family twice, which
    shifts every other claim's adjusted p-value.  Findings that share a scope share a key."""
    other = limit_finding("c", "s", CFG, _values({1000: 1.2, 2000: 1.2}, sd=0.05), 1.0, 0.02)
    two = [_shared("paper count", 0.01), _shared("activation-aware count", 0.01)]
    assert len(family(two + [other])) == 1 + len(other.pvalues.tests)
    alone = decide_all([_shared("paper count", 0.01), other])[1]
    both = decide_all(two + [other])[2]
    assert both.pvalue == alone.pvalue
    with pytest.raises(ValueError, match="twice with different p-values"):
        family([_shared("a", 0.01), _shared("b", 0.02)])


def test_a_finding_is_data_a_report_can_rebuild():
    values = {1000: [0.99, 1.0, 1.01, 1.0], 2000: [0.995, 1.0, 1.005, 1.0],
              4000: [1.3, 1.31, 1.29, 1.3]}
    f = limit_finding("c", "s", CFG, values, 1.0, 0.02, regime=Regime(
        {1000: 0.01, 2000: 0.01, 4000: 0.01}, 0.1), note="a note")
    kept = json.loads(json.dumps(f.to_dict()))
    assert kept["rule"] == "limit" and kept["inputs"]["values"]["4000"] == values[4000]
    again = Finding.from_dict(kept)
    assert decide_all([again]) == decide_all([f])
    with pytest.raises(ValueError, match="cannot be kept as data"):
        _shared("x", 0.5).to_dict()
    with pytest.raises(ValueError, match="unknown decision rule"):
        Finding("c", "s", CFG, Table(["N"]), 1, 0.0, (0.0, 0.0), {}, rule="nope")


def test_outlier_count_puts_its_sign_tests_in_the_family_once():
    from test_claims_guard import COUNT, _count_results

    from twostep.compare.science.claims import OutlierCount

    fs = OutlierCount().findings(COUNT, _count_results([(5, 0.45), (1, 0.15), (1, -0.15),
                                                        (1, -0.45)]))
    assert len(fs) == 2 and fs[0].pvalues == fs[1].pvalues
    assert all(name.endswith(":sign") for name in fs[0].pvalues.names)  # what decide uses
    assert len(family(fs)) == len(fs[0].pvalues.tests)
