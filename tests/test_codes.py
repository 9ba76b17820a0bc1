"""Verdicts as data (issue 28, "verdicts with codes"): ``Status`` is a ``str`` Enum, a reason is
a code with parameters rendered from one table of wordings (``claims.codes.TEMPLATES``), and
code branches on codes, never on words.  A planted change of every wording changes no decision
and no code.  ``Verdict.interval`` and ``Finding.inputs`` are records, and what was stored
before (text-only reasons, dict inputs) still loads."""

from __future__ import annotations

import dataclasses
import json
import math
import string
import typing

import numpy as np
import pytest
import test_claims_amplitude as amplitude_tests
import test_claims_guard as guard_tests
import test_reuse_learning as learning_tests
import test_stats_claims as stats_tests

from twostep.compare.science.claims import (
    Finding,
    Interval,
    Reason,
    Regime,
    RuleInputs,
    Status,
    Verdict,
    codes,
    decide_all,
    exponent_finding,
    extrapolated_limit_finding,
    limit_finding,
)
from twostep.compare.science.claims.amplitude import VisibleCountInputs
from twostep.compare.science.claims.limit import LimitInputs
from twostep.theory import ModelConfig

CFG = ModelConfig()
NS = [250, 500, 1000, 2000, 4000]


def _planted(template: str, code: str) -> str:
    """``template`` with every word replaced: the code, then its fields as they were (same
    names, conversions and specs), so it renders from the same parameters."""
    fields = []
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is not None:
            fields.append("{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "")
                          + "}")
    return f"<{code}>" + "|".join(fields)


@pytest.fixture
def planted(monkeypatch):
    for code, template in list(codes.TEMPLATES.items()):
        monkeypatch.setitem(codes.TEMPLATES, code, _planted(template, code))


def _power(e, Ns=NS, seeds=8, rng=0):
    g = np.random.default_rng(rng)
    return {N: list(2.0 * N**e * np.exp(0.03 * g.standard_normal(seeds))) for N in Ns}


def _findings():
    """Findings of the generic rules that reach most of their branches."""
    g = np.random.default_rng(5)
    diverging = Regime({250: 0.02, 500: 0.03, 1000: 0.05, 2000: 0.4, 4000: 2.0}, 0.1)
    blocked = Regime({N: 0.01 for N in NS}, 0.1, Reason("guard-nonsmooth", activation="relu"))
    shrink = {N: list(3.0 + 30 / N + 0.001 * g.standard_normal(5)) for N in NS}
    return [
        exponent_finding("t", "right", CFG, 0.2, 0.1, raw=_power(0.2)),
        exponent_finding("t", "wrong", CFG, 0.5, 0.1, raw=_power(0.2)),
        exponent_finding("t", "few", CFG, 0.2, 0.1, raw=_power(0.2, Ns=[250, 500])),
        exponent_finding("t", "guard", CFG, 0.2, 0.1, raw=_power(0.2), regime=diverging,
                         taylor=0.3),
        exponent_finding("t", "blocked", CFG, 0.2, 0.1, raw=_power(0.2), regime=blocked),
        exponent_finding("t", "off", CFG, 0.2, 0.1, raw=_power(0.2), guard_off=True),
        limit_finding("t", "in", CFG, {N: [1.0, 1.01, 0.99] for N in NS}, 1.0, 0.1, note="n"),
        limit_finding("t", "out", CFG, {N: [0.0] * 4 for N in NS}, 1.0, 0.5),
        limit_finding("t", "shrink", CFG, shrink, 3.0, 0.001, regime=diverging),
        limit_finding("t", "wide", CFG, {N: list(3 + 0.3 * g.standard_normal(3)) for N in NS},
                      3.0, 0.06),
        limit_finding("t", "none", CFG, {N: [1.0, 1.0] for N in NS}, 1.0, 0.1,
                      excluded={N: Reason("location-few-seeds", N=N, k=1, seen="1/4")
                                for N in NS}),
        extrapolated_limit_finding("t", "r", CFG, {N: list(1 + 0.01 * g.standard_normal(8))
                                                   for N in NS}, 1.0, 0.03),
        extrapolated_limit_finding("t", "r2", CFG, {N: list(1.2 + 0.01 * g.standard_normal(8))
                                                    for N in NS}, 1.0, 0.03),
    ]


def _decisions(verdicts):
    def data(reason):
        # the parameters as data: nested reasons by their own data, never by their words
        d = reason.to_dict()
        return json.dumps(d, sort_keys=True, default=str)

    return [(v.subject, v.status, v.reason.codes(), data(v.reason),
             None if math.isnan(v.pvalue) else v.pvalue) for v in verdicts]


def test_a_planted_wording_changes_no_decision_and_no_code(monkeypatch):
    before = decide_all(_findings())
    for code, template in list(codes.TEMPLATES.items()):
        monkeypatch.setitem(codes.TEMPLATES, code, _planted(template, code))
    after = decide_all(_findings())
    assert _decisions(after) == _decisions(before)
    # the words did change: every reason is rendered from the planted table
    assert all(a.reason.message.startswith("<") and a.reason.message != b.reason.message
               for a, b in zip(after, before))
    assert {c for v in before for c in v.reason.codes()} >= {
        "exponent-consistent", "exponent-inconsistent", "exponent-widths", "guard-nonsmooth",
        "limit-consistent", "limit-inconsistent", "limit-shrinking", "limit-ci-wide",
        "limit-no-usable", "extrapolated-consistent", "would-decide", "guard-prefix",
        "guard-off", "taylor-note"}


# the built-in claims' tests, whose assertions are on statuses, codes and parameters: they pass
# with every wording planted (a representative set in the default suite, the rest slow)
CLAIM_TESTS = [
    (guard_tests, "test_guard_drops_only_the_diverging_widths"),
    (guard_tests, "test_missing_series_diagnostics_block_the_guarded_verdict"),
    (guard_tests, "test_user_exponent_claim_on_a_step_two_statistic_gets_the_guard"),
    (guard_tests, "test_outlier_count_needs_the_terms"),
    (guard_tests, "test_reuse_gap_trend_rule"),
    (guard_tests, "test_one_step_spikes_near_threshold_is_not_refuted_by_counting"),
    (guard_tests, "test_bbp_says_when_it_replaced_alpha1"),
    (stats_tests, "test_limit_wide_ci_is_not_consistent"),
    (learning_tests, "test_bad_claimed_and_older_stores"),
]
SLOW_CLAIM_TESTS = [
    (guard_tests, "test_guard_blocks_both_verdicts_where_the_series_diverges"),
    (guard_tests, "test_consistent_needs_the_evidence_a_refutation_needs"),
    (guard_tests, "test_outlier_count_from_the_exact_terms"),
    (guard_tests, "test_outlier_count_on_a_critical_configuration_is_never_decided"),
    (guard_tests, "test_term_exponent_claim"),
    (guard_tests, "test_left_vectors_guarded_at_the_largest_width"),
    (guard_tests, "test_growth_exponent_needs_the_term_to_carry_the_projection"),
    (stats_tests, "test_exponent_below_floor_is_inconclusive"),
    (learning_tests, "test_true_claim_consistent_above_and_below_the_line"),
    (learning_tests, "test_a_component_that_vanishes_while_the_strength_grows_is_left_open"),
    (learning_tests, "test_noisy_carrying_and_critical_points_are_inconclusive_with_what_decides"),
    (amplitude_tests, "test_term_amplitude_right_and_planted_wrong"),
    (amplitude_tests, "test_outlier_location_at_the_crossing_is_inconclusive_with_the_reason"),
]


@pytest.mark.parametrize("module, name", CLAIM_TESTS + [
    pytest.param(m, n, marks=pytest.mark.slow) for m, n in SLOW_CLAIM_TESTS],
    ids=lambda x: x if isinstance(x, str) else x.__name__)
def test_claim_tests_pass_with_every_wording_planted(planted, module, name):
    assert Reason("limit-no-width").message == "<limit-no-width>"   # the plant took
    getattr(module, name)()


# -- Status and Reason ---------------------------------------------------------------------------

def test_status_is_a_str_enum_that_reads_and_writes_as_its_string():
    assert Status.CONSISTENT == "consistent" and Status("inconclusive") is Status.INCONCLUSIVE
    assert [s.value for s in Status] == ["consistent", "inconsistent", "inconclusive", "blocked"]
    assert json.dumps({"s": Status.INCONSISTENT}) == '{"s": "inconsistent"}'
    assert f"{Status.CONSISTENT}" == str(Status.CONSISTENT) == "consistent"
    with pytest.raises(ValueError, match="allowed: consistent, inconsistent, inconclusive"):
        Status.parse("maybe")


def test_reason_is_its_text_and_its_code():
    r = Reason("limit-consistent", mean="1 [0.9, 1.1]", N=4000, predicted=1.0, tolerance=0.1,
               N_before=2000)
    assert r == "mean 1 [0.9, 1.1] at N = 4000 within 1 +- 0.1, and at N = 2000 too"
    assert r.code == "limit-consistent" and r.params["N"] == 4000
    again = Reason.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again == r and again.code == r.code and dict(again.params) == dict(r.params)
    with pytest.raises(AttributeError):
        r.code = "x"
    with pytest.raises(ValueError, match="unknown reason code 'nope'"):
        Reason("nope")
    nested = Reason("would-decide", need=Reason("need-larger-N", N=8000))
    assert nested == "; would decide: larger N than 8000"
    assert nested.codes() == ["would-decide", "need-larger-N"]
    assert Reason.from_dict(nested.to_dict()).find("need-larger-N").params["N"] == 8000
    assert Reason.of("free words").code == codes.TEXT


def test_every_template_renders_from_its_own_fields():
    # each template is well formed, and a planted one renders from the same parameters
    for code, template in codes.TEMPLATES.items():
        parsed = list(string.Formatter().parse(template))
        assert all(conv in (None, "r") for *_, conv in parsed), code
        assert _planted(template, code).startswith(f"<{code}>")


# -- verdicts and findings as data ---------------------------------------------------------------

def test_a_verdict_s_json_carries_the_code_and_the_text_and_loads_back():
    v = decide_all([limit_finding("t", "x", CFG, {N: [1.0, 1.01, 0.99] for N in NS}, 1.0,
                                  0.1)])[0]
    d = json.loads(json.dumps(v.to_dict()))
    assert d["status"] == "consistent" and d["reason"] == v.reason.message
    assert d["reason_code"]["code"] == "limit-consistent"
    back = Verdict.from_dict(d)
    assert back.reason.code == "limit-consistent" and back.reason == v.reason
    assert back.status is Status.CONSISTENT


def test_a_verdict_stored_before_codes_loads_with_its_text():
    old = {"claim": "bbp", "subject": "outlier location", "status": "inconclusive",
           "reason": "CI wider than the tolerance: mean 2.9 [2.5, 3.3] at N = 400 has ...",
           "predicted": 2.959, "statistic": 2.9, "ci": [2.5, 3.3], "decided_at": 400,
           "pvalue": None, "config": CFG.to_dict(),
           "evidence": {"title": "t", "columns": ["N"], "rows": [{"N": 400}]}}
    v = Verdict.from_dict(old)
    assert v.reason == old["reason"] and v.reason.code == codes.TEXT
    assert v.status is Status.INCONCLUSIVE and math.isnan(v.pvalue)


def test_a_verdict_s_interval_is_a_record_and_recomputes_at_another_level():
    v = decide_all([limit_finding("t", "x", CFG, {N: [1.0, 1.02, 0.98, 1.01] for N in NS},
                                  1.0, 0.1)])[0]
    assert isinstance(v.interval, Interval) and v.interval.method == "mean"
    assert v.interval.values == (1.0, 1.02, 0.98, 1.01)
    lo90, hi90 = v.confidence_interval(0.9)
    assert v.ci[0] < lo90 < hi90 < v.ci[1]
    with pytest.warns(DeprecationWarning, match=r"Verdict.interval\['method'\].*"
                                                r"Verdict.interval.method"):
        assert v.interval["method"] == "mean"
    # the old dict form is converted
    w = dataclasses.replace(v, interval={"method": "fit", "values": {"100": [1.0], "200": [2]}})
    assert w.interval == Interval.fit({100: [1.0], 200: [2.0]})


def test_finding_inputs_are_the_rule_s_record_and_round_trip():
    f = limit_finding("t", "x", CFG, {N: [1.0, 1.01] for N in NS}, 1.0, 0.1, note="n",
                      excluded={250: Reason("location-few-seeds", N=250, k=1, seen="1/4")})
    assert isinstance(f.inputs, LimitInputs) and f.inputs.excluded[250].code == \
        "location-few-seeds"
    kept = json.loads(json.dumps(f.to_dict()))
    assert kept["inputs"]["excluded"]["250"].startswith("at N = 250 the outlier of term 1")
    back = Finding.from_dict(kept)
    assert back.inputs == f.inputs
    assert _decisions(decide_all([back])) == _decisions(decide_all([f]))
    with pytest.warns(DeprecationWarning, match=r"Finding.inputs\['note'\].*Finding.inputs.note"):
        assert f.inputs["note"] == "n"


def test_a_finding_stored_before_codes_loads_and_decides():
    # the inputs as a stored finding of an earlier version had them: text only, "blocked" a
    # string, excluded clauses as words
    old_inputs = {"values": {str(N): [1.0, 1.0, 1.0] for N in NS[:2]},
                  "predicted": {str(N): 1.0 for N in NS[:2]},
                  "tolerance": {str(N): 0.1 for N in NS[:2]}, "excluded": {"250": "old words"},
                  "regime": {"residual": {str(N): 0.01 for N in NS[:2]}, "tolerance": 0.1,
                             "blocked": "the exact step-two terms are undefined (old words)"},
                  "note": "a note", "guard_off": False, "expected": {"250": 1, "500": 0}}
    f = limit_finding("t", "x", CFG, {N: [1.0] for N in NS[:2]}, 1.0, 0.1)
    d = {**f.to_dict(), "rule": "visible-count", "inputs": old_inputs}
    old = Finding.from_dict(json.loads(json.dumps(d)))
    assert isinstance(old.inputs, VisibleCountInputs) and old.inputs.expected == {250: 1, 500: 0}
    assert old.inputs.regime.blocked.code == codes.TEXT
    (v,) = decide_all([old])
    # the regime's reason blocks every width: decided again today, the finding is blocked
    assert v.status is Status.BLOCKED and v.reason.code == "limit-no-usable"
    assert v.reason.find("guard-clause").params["clause"].code == codes.TEXT
    # a dict given as inputs is converted to the rule's record
    assert isinstance(Finding(**{**{fl.name: getattr(f, fl.name)
                                    for fl in dataclasses.fields(f)},
                                 "inputs": f.inputs.to_dict()}).inputs, LimitInputs)


@pytest.mark.parametrize("cls", [Finding, Verdict], ids=lambda c: c.__name__)
def test_no_dict_typed_field(cls):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        origin = typing.get_origin(hints[f.name]) or hints[f.name]
        args = typing.get_args(hints[f.name]) or (hints[f.name],)
        for t in (origin, *args):
            t = typing.get_origin(t) or t
            assert not (isinstance(t, type) and issubclass(t, (dict, typing.Mapping))), \
                (cls.__name__, f.name, hints[f.name])
    assert issubclass(typing.get_type_hints(Finding)["inputs"].__args__[0], RuleInputs)
