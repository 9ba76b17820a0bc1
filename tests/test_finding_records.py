"""A finding's p-values and own data are records (issue 28): ``Finding.pvalues`` is a
:class:`PValues`, ``Finding.extra`` one record per rule (:class:`FindingExtra`), read by
attribute; the dict reads of the old form still work with a RecordAccessWarning naming the
attribute; the JSON and the export rows keep their shapes."""

from __future__ import annotations

import dataclasses
import json
import math
import typing

import numpy as np
import pytest
from test_records import dict_paths

from twostep.compare.output.export import evidence_rows
from twostep.compare.output.table import Table
from twostep.compare.science import stats
from twostep.compare.science.claims import coherent, exponent, learning
from twostep.compare.science.claims.data import ByKey, FindingExtra, OtherExtra, PValue, PValues
from twostep.compare.science.claims.limit import limit_finding
from twostep.compare.science.claims.results import Finding, decide_all, family
from twostep.theory import ModelConfig
from twostep.theory.records import RecordAccessWarning

CFG = ModelConfig()
NS = (250, 500, 1000, 2000)
RULE_EXTRAS = (exponent.ExponentExtra, coherent.CoherentExtra, learning.LearningExtra,
               OtherExtra)


def test_every_extra_record_is_walked():
    """A rule that adds its own extra record must add it to RULE_EXTRAS (walked below)."""
    assert set(FindingExtra.__subclasses__()) == set(RULE_EXTRAS)


@pytest.mark.parametrize("cls", RULE_EXTRAS, ids=lambda c: c.__name__)
def test_each_rules_extra_is_a_record_without_dicts(cls):
    assert dataclasses.is_dataclass(cls) and issubclass(cls, FindingExtra)
    hints = typing.get_type_hints(cls)
    found = [p for f in dataclasses.fields(cls)
             for p in dict_paths(hints[f.name], f"{cls.__name__}.{f.name}", {cls, Finding})]
    assert not found, found


def _exponent_finding():
    rng = np.random.default_rng(5)
    raw = {N: list(N**0.25 * np.exp(0.01 * rng.standard_normal(6))) for N in NS}
    return exponent.exponent_finding("t", "x", CFG, 0.25, 0.1, raw=raw), raw


def test_pvalues_are_a_record_read_one_way():
    f = limit_finding("c", "s", CFG, {1000: [1.2, 1.25, 1.18], 2000: [1.2, 1.21, 1.19]},
                      1.0, 0.02)
    assert isinstance(f.pvalues, PValues)
    assert f.pvalues.names == ("outside@1000", "outside@2000")
    assert all(isinstance(t, PValue) for t in f.pvalues.tests)
    assert f.pvalues.get("outside@2000") == f.pvalues.tests[1].p
    assert f.pvalues.get("nope") is None
    with pytest.warns(RecordAccessWarning, match=r"Finding\.pvalues\['outside@1000'\] is "
                                                 r"deprecated; use Finding\.pvalues\.get"):
        assert f.pvalues["outside@1000"] == f.pvalues.tests[0].p
    with pytest.warns(RecordAccessWarning, match=r"Finding\.pvalues\.items\(\)"):
        assert dict(f.pvalues.items()) == f.pvalues.to_dict()
    with pytest.raises(ValueError, match="twice: a"):
        PValues((PValue("a", 0.1), PValue("a", 0.2)))


def test_the_bh_adjustment_reads_the_record_unchanged():
    """The run's family and the adjusted p-values are those of the raw values by key, as with
    the old dicts (an independent BH through stats.adjust_pvalues on the same list)."""
    f, _ = _exponent_finding()
    g = limit_finding("c", "s", CFG, {1000: [1.2, 1.25, 1.18], 2000: [1.2, 1.21, 1.19]},
                      1.0, 0.02)
    fam = family([f, g])
    raw = [t.p for t in f.pvalues.tests] + [t.p for t in g.pvalues.tests]
    assert list(fam.values()) == raw
    assert list(fam) == [f.key(n) for n in f.pvalues.names] + [g.key(n) for n in g.pvalues.names]
    v = decide_all([g, f])[0]
    adjusted = stats.adjust_pvalues([t.p for t in g.pvalues.tests]
                                    + [t.p for t in f.pvalues.tests])
    assert v.status == "inconsistent"
    assert v.pvalue == max(adjusted[:2])   # the intersection-union test's p: the larger one


def test_a_finding_keeps_its_json_shape():
    f = limit_finding("c", "s", CFG, {1000: [1.2, 1.25, 1.18], 2000: [1.2, 1.21, 1.19]},
                      1.0, 0.02)
    d = json.loads(json.dumps(f.to_dict()))
    assert d["pvalues"] == {"outside@1000": f.pvalues.get("outside@1000"),
                            "outside@2000": f.pvalues.get("outside@2000")}
    back = Finding.from_dict(d)
    assert back.pvalues == f.pvalues and decide_all([back]) == decide_all([f])


def test_the_exponent_rule_keeps_its_own_record():
    f, raw = _exponent_finding()
    e = f.extra
    assert isinstance(e, exponent.ExponentExtra)
    assert e.usable == NS and e.above.keys == NS and all(v for _, v in e.above.entries)
    assert e.signal.get(500) == tuple(raw[500])   # no floor: the signal is the raw statistic
    assert isinstance(e.fit, stats.Interval) and e.fit.contains(0.25)
    with pytest.warns(RecordAccessWarning, match=r"Finding\.extra\['fit'\] is deprecated; use "
                                                 r"Finding\.extra\.fit"):
        assert f.extra["fit"] is e.fit
    with pytest.warns(RecordAccessWarning, match=r"Finding\.extra\['signal'\]"):
        assert f.extra["signal"] == {N: tuple(raw[N]) for N in NS}   # the old mapping
    with pytest.raises(KeyError):
        f.extra["colour"]


def test_the_coherent_rule_keeps_its_own_record():
    rng = np.random.default_rng(2)
    raw = {N: list(N ** 0.5 * (1 + 0.05 * rng.standard_normal(8))) for N in NS}
    f = coherent.coherent_finding("t", "k=1", CFG, 0.25, raw=raw, regime=None, tolerance=0.2,
                                  k=1)
    e = f.extra
    assert isinstance(e, coherent.CoherentExtra)
    assert e.seeds.to_dict() == {N: 8 for N in NS} and e.k == 1
    assert e.sign_pvalue == e.fit.pvalue(0.0) and f.pvalues.get("fit") == e.fit.pvalue(0.25)
    shift = CFG.alpha2 + CFG.alpha1
    assert e.gamma[0] == e.fit.estimate - shift
    assert e.fit.point(NS[0]) == dict(e.fit.points)[NS[0]]


def test_a_plain_dict_extra_still_reads():
    with pytest.warns(DeprecationWarning, match="Finding\\(extra=<dict>\\) is deprecated"):
        f = Finding("c", "s", CFG, Table(["N"]), 1, math.nan, (math.nan, math.nan), {},
                    lambda adj: ("inconclusive", "x", math.nan), extra={"signal": 1.5})
    assert isinstance(f.extra, OtherExtra) and f.extra.signal == 1.5
    with pytest.warns(RecordAccessWarning, match=r"Finding\.extra\['signal'\]"):
        assert f.extra["signal"] == 1.5
    assert Finding("c", "s", CFG, Table(["N"]), 1, math.nan, (math.nan, math.nan), {},
                   lambda adj: ("inconclusive", "x", math.nan), extra={}).extra is None


def test_the_export_rows_of_a_finding_keep_their_names():
    f, raw = _exponent_finding()
    rows = evidence_rows(f)
    names = {r["statistic"] for r in rows}
    assert {"pvalue.fit", "pvalue.last_local", "extra.signal", "extra.above", "extra.usable",
            "extra.fit.estimate"} <= names
    signal = [r["value"] for r in rows if r["statistic"] == "extra.signal" and r["N"] == 500]
    assert signal == raw[500]
    assert ByKey.of({2: "b", 1: "a"}).keys == (1, 2)


# -- the status blocked (issue 28: consistent, inconsistent, inconclusive, blocked) ------------

def test_a_verdict_stored_inconclusive_with_a_guard_code_loads_as_blocked():
    from twostep.compare.science.claims import Status, Verdict
    from twostep.compare.science.claims.codes import BLOCKED_CODES, Reason

    reason = Reason("guard-nonsmooth", activation="relu")
    assert reason.code in BLOCKED_CODES
    old = {"claim": "term-exponent", "subject": "exact terms", "status": "inconclusive",
           "reason": reason.message, "reason_code": reason.to_dict(), "predicted": None,
           "statistic": None, "ci": [None, None], "decided_at": None, "pvalue": None,
           "config": CFG.to_dict(), "evidence": {"title": "t", "columns": ["N"], "rows": []}}
    v = Verdict.from_dict(json.loads(json.dumps(old)))
    assert v.status is Status.BLOCKED and v.reason.code == "guard-nonsmooth"
    assert v.to_dict()["status"] == "blocked"
    # another code stays what it was stored as
    other = {**old, "reason_code": Reason("limit-no-width").to_dict()}
    assert Verdict.from_dict(other).status is Status.INCONCLUSIVE


def test_only_the_guard_blocks_a_finding_no_data_can_decide():
    from twostep.compare.science.claims.base import _blocked
    from twostep.compare.science.claims.codes import Reason
    from twostep.compare.science.claims.guard import Regime, guard_status, regime_to_dict

    def status(reason):
        return decide_all([_blocked("c", "s", CFG, 1.0, reason)])[0].status

    assert status(Reason("guard-nonsmooth", activation="relu")) == "blocked"
    assert status(Reason("paper-count-zero")) == "inconclusive"
    assert status(Reason("stored-before-beta", N=250)) == "inconclusive"
    assert status("free text") == "inconclusive"
    out = Regime({250: 5.0, 500: 0.01}, 0.1)
    assert guard_status(out, [250]) == "blocked" and guard_status(out, [250, 500]) == "inconclusive"
    assert guard_status(None, [250]) == "inconclusive"
    # no empty-string sentinel: a regime that does not block says null
    assert regime_to_dict(out)["blocked"] is None and "blocked_code" not in regime_to_dict(out)
    assert Regime({250: 0.01}, 0.1, "").blocked is None and Regime({250: 0.01}, 0.1, "").ok(250)
    assert Regime({250: 0.01}, 0.1, "old words").blocked.code == "text"


def test_a_reuse_learning_finding_exports_its_sign_findings_numbers():
    """Its extra holds the sign findings (decided by callables, with no JSON form): the export
    writes their numbers (``extra.signs...``) and the dict read still gives the findings."""
    from test_reuse_learning import ABOVE, TRUE_COSINES, _planted

    res = _planted(ABOVE, TRUE_COSINES, u_noise=1.5, rng=np.random.default_rng(1))
    f = learning.ReuseLearning().findings(ABOVE, res)[0]
    assert isinstance(f.extra, learning.LearningExtra) and f.extra.tested == (2,)
    sign = f.extra.signs.get(2)
    assert isinstance(sign, Finding) and isinstance(sign.extra, coherent.CoherentExtra)
    with pytest.warns(RecordAccessWarning, match=r"Finding\.extra\['signs'\]"):
        assert f.extra["signs"] == {2: sign}
    rows = evidence_rows(f)
    fit = [r["value"] for r in rows if r["statistic"].startswith("extra.signs.fit.estimate")]
    assert fit == [sign.extra.fit.estimate]
