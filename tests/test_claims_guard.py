"""The regime guard, the symmetric evidence bar and the built-in claims' decisions on synthetic
measurements (no simulation): every branch of consistent / inconsistent / inconclusive.

Synthetic statistics are ``C N^e exp(s Z)`` with a seeded Generator and s = 3% per seed and 8
seeds: a last local slope over a factor 2 then has a 95% half-width of about 0.05, so a 0.3
error is always resolved and a right exponent is not rejected by chance.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from twostep.compare.science import rescale
from twostep.compare.science.claims import (
    BBP,
    ExponentClaim,
    LeftVectors,
    LimitClaim,
    OneStepSpikes,
    OutlierCount,
    Regime,
    Results,
    ReuseGap,
    Status,
    TermExponent,
    decide_all,
    exponent_finding,
    limit_finding,
)
from twostep.simulate import Measurement
from twostep.theory import ConfigError, ModelConfig

NS = [500, 1000, 2000, 4000]
SEEDS = 8
CFG = ModelConfig()


def measurement(config, N, seed, **fields):
    """A synthetic :class:`Measurement` (d = n = N); projections get ``left_power = k + 1``."""
    for name in ("amplitudes", "terms"):
        if fields.get(name) is not None:
            fields[name] = [{"left_power": e["k"] + 1, **e} for e in fields[name]]
    return Measurement(config=config, N=N, d=N, n=N, seed=seed, **fields)


def _decide(findings):
    return decide_all(findings)


def power_law(e, *, Ns=NS, seeds=SEEDS, s=0.03, C=2.0, rng=None):
    rng = rng or np.random.default_rng(0)
    return {N: list(C * N**e * np.exp(s * rng.standard_normal(seeds))) for N in Ns}


def regime(residual, Ns=NS):
    return Regime({N: residual for N in Ns}, 0.1)


# -- the generic rules -----------------------------------------------------------------------

def test_guard_blocks_both_verdicts_where_the_series_diverges():
    raw_true, raw_false = power_law(0.05), power_law(0.42)
    for raw, pred in ((raw_true, 0.05), (raw_false, 0.05), (raw_true, 0.42)):
        v = _decide([exponent_finding("t", "x", CFG, pred, 0.1, raw=raw,
                                      regime=regime(21.0))])[0]
        assert v.status is Status.BLOCKED
        assert v.reason.code == "guard-outside" and v.reason.params["diverging"] == NS


def test_guard_lets_a_converging_series_decide_either_way():
    raw = power_law(0.05)
    right = _decide([exponent_finding("t", "x", CFG, 0.05, 0.1, raw=raw, regime=regime(0.01))])
    wrong = _decide([exponent_finding("t", "x", CFG, 0.35, 0.1, raw=raw, regime=regime(0.01))])
    assert right[0].status == "consistent", right[0].reason
    assert wrong[0].status == "inconsistent", wrong[0].reason


def test_guard_drops_only_the_diverging_widths():
    Ns = [250, 500, 1000, 2000, 4000]
    raw = power_law(0.2, Ns=Ns)
    reg = Regime({250: 0.02, 500: 0.03, 1000: 0.05, 2000: 0.4, 4000: 2.0}, 0.1)
    v = _decide([exponent_finding("t", "x", CFG, 0.2, 0.1, raw=raw, regime=reg)])[0]
    # 3 converging widths spanning 4x: not enough evidence for either verdict
    assert v.status == "inconclusive"
    assert v.reason.code == "exponent-widths", v.reason
    assert v.reason.find("guard-prefix").params["diverging"] == [2000, 4000]
    assert v.reason.params["widths"].params["count"] == 3


def test_missing_series_diagnostics_block_the_guarded_verdict():
    reg = Regime({N: None for N in NS}, 0.1)
    v = _decide([exponent_finding("t", "x", CFG, 0.3, 0.1, raw=power_law(0.3), regime=reg)])[0]
    assert v.status is Status.BLOCKED and v.reason.code == "guard-outside"
    assert v.reason.params["no_series"] == NS


def test_consistent_needs_the_evidence_a_refutation_needs():
    few = power_law(0.3, Ns=[100, 200])
    v = _decide([exponent_finding("t", "x", CFG, 0.3, 0.3, raw=few)])[0]
    assert v.status == "inconclusive" and v.reason.code == "exponent-widths"
    enough = power_law(0.3, Ns=[100, 200, 400, 800])
    assert _decide([exponent_finding("t", "x", CFG, 0.3, 0.3, raw=enough)])[0].status \
        == "consistent"


def test_limit_with_no_spread_that_misses_the_band_is_decided():
    zero = {N: [0.0] * 4 for N in NS}
    v = _decide([limit_finding("t", "x", CFG, zero, 1.0, 0.5)])[0]
    assert v.status == "inconsistent", v.reason
    v = _decide([limit_finding("t", "x", CFG, {N: [1.2] * 4 for N in NS}, 1.0, 0.5)])[0]
    assert v.status == "consistent", v.reason


def test_limit_consistent_needs_the_last_two_widths():
    rng = np.random.default_rng(1)
    good = {N: list(3.0 + 0.01 * rng.standard_normal(5)) for N in NS}
    assert _decide([limit_finding("t", "x", CFG, {4000: good[4000]}, 3.0, 0.05)])[0].status \
        == "inconclusive"
    off_before = dict(good)
    off_before[2000] = list(3.5 + 0.01 * rng.standard_normal(5))
    v = _decide([limit_finding("t", "x", CFG, off_before, 3.0, 0.05)])[0]
    assert v.status == "inconclusive", v.reason


# -- user claims: the guard applies without being asked ---------------------------------------

def _measurements(Ns, residual, amp, seeds=4, extra=None):
    rng = np.random.default_rng(2)
    res = Results()
    for N in Ns:
        for s in range(seeds):
            m = {"amplitudes": [{"k": 2, "amplitude": float(amp(N) * np.exp(0.05 *
                                                                          rng.standard_normal()))}],
                 "step_one_spike": {"value": float(3.0 + 0.01 * rng.standard_normal())},
                 "series": {"residual": residual(N)}}
            if extra:
                m.update(extra(N, s))
            res.add(CFG, N, s, measurement(CFG, N, s, **m))
    return res


def test_user_exponent_claim_on_a_step_two_statistic_gets_the_guard():
    data = _measurements(NS, lambda N: 20.0, lambda N: N**0.42)
    claim = ExponentClaim("term2", predicted=lambda c: 0.42,
                          statistic=lambda m: m.amplitudes[0].amplitude)
    assert claim.run_options(CFG)["terms"] >= 1
    v = _decide(claim.findings(CFG, data))[0]
    assert v.status is Status.BLOCKED and v.reason.code == "guard-outside"
    assert v.reason.params["diverging"] == NS
    off = ExponentClaim("term2", predicted=lambda c: 0.42, guard=False,
                        statistic=lambda m: m.amplitudes[0].amplitude)
    v = _decide(off.findings(CFG, data))[0]
    assert v.status == "consistent" and "guard-off" in v.reason.codes()


def test_user_claim_on_a_step_one_statistic_is_not_guarded():
    data = _measurements(NS, lambda N: 20.0, lambda N: 1.0)
    claim = LimitClaim("s1", predicted=lambda c: 3.0, tolerance=0.02,
                       statistic=lambda m: m.step_one_spike.value)
    v = _decide(claim.findings(CFG, data))[0]
    assert v.status == "consistent", v.reason
    assert "series residual" not in v.evidence.columns


def test_user_statistic_errors_name_the_claim_the_width_and_the_seed():
    data = _measurements(NS, lambda N: 0.0, lambda N: 1.0)
    bad = ExponentClaim("mine", predicted=lambda c: 0.1, statistic=lambda m: m.outlierr)
    with pytest.raises(ConfigError, match=r"claim 'mine': the statistic failed at N=500, "
                                          r"seed=0: AttributeError: .*outlierr"):
        bad.findings(CFG, data)
    # the dict reads of earlier versions say how to read a typed measurement
    old = ExponentClaim("old", predicted=lambda c: 0.1, statistic=lambda m: m["amplitudes"])
    with pytest.raises(ConfigError, match=r"claim 'old'.*TypeError: .*m\.amplitudes"):
        old.findings(CFG, data)
    nan = LimitClaim("nan", predicted=lambda c: 1.0, statistic=lambda m: math.nan)
    with pytest.raises(ConfigError, match=r"claim 'nan'.*nan at N=500, seed=0"):
        nan.findings(CFG, data)
    with pytest.raises(ConfigError, match="needs statistic="):
        ExponentClaim("none", predicted=lambda c: 0.1)


def test_user_callables_that_raise_are_one_line_config_errors():
    # every user callable of a user claim: the statistic, the floor, and predicted on the
    # coherent path (which called it bare before: a user's ZeroDivisionError escaped raw)
    data = _measurements(NS, lambda N: 0.0, lambda N: 1.0)
    for claim, what in [
            (LimitClaim("lim", predicted=lambda c: 1.0, statistic=lambda m: 1 / 0),
             "the statistic failed at N=500, seed=0"),
            (ExponentClaim("flo", predicted=lambda c: 0.1, statistic=lambda m: 1.0,
                           floor=lambda m: 1 / 0), "the statistic failed at N=500, seed=0"),
            (ExponentClaim("coh", predicted=lambda c: 1 / 0, statistic=lambda m: 1.0,
                           fit="coherent"), r"predicted\(config\) failed")]:
        with pytest.raises(ConfigError, match=rf"claim '{claim.name}': {what}.*"
                                              r"ZeroDivisionError") as info:
            claim.findings(CFG, data)
        assert "\n" not in str(info.value)


def test_a_builtin_statistic_that_raises_is_a_bug_not_bad_input(monkeypatch):
    # a built-in claim's own statistic raising is a package bug: it propagates with its
    # traceback (the CLI exits 1), not as a ConfigError (exit 2, "bad input")
    from twostep.compare.science.claims import GrowthExponent, growth

    res = Results()
    for N in NS:
        for s in range(SEEDS):
            res.add(CFG, N, s, measurement(
                CFG, N, s, series={"residual": 0.01},
                amplitudes=[{"k": k, "amplitude": 1.0, "null_floor": 1e-3} for k in (0, 1)]))

    def bug(m, k):
        raise ZeroDivisionError("a bug in the package")

    monkeypatch.setattr(growth, "_amp", bug)
    with pytest.raises(ZeroDivisionError, match="a bug in the package"):
        GrowthExponent(terms=(1,)).findings(CFG, res)


def test_builtin_claims_on_measurements_without_their_fields_say_what_to_rerun():
    # what a built-in claim reads but the run did not compute is bad input: one line
    res = Results()
    for N in (250, 500):
        for s in range(2):
            res.add(SPIKES, N, s, measurement(SPIKES, N, s))   # run without features=True
    with pytest.raises(ConfigError, match=r"claim 'one-step-spikes' at N=250, seed=0: .*"
                                          r"rerun with features=True"):
        OneStepSpikes().findings(SPIKES, res)
    zero = BBP().configs(CFG)[0]
    res = Results()
    for N in NS:
        for s in range(2):
            res.add(zero, N, s, measurement(zero, N, s))   # no W_1 spectrum: no spike
    with pytest.raises(ConfigError, match=r"claim 'bbp' at N=500, seed=0: .*step-one spike.*"
                                          r"rerun with spectra including W1"):
        BBP().findings(CFG, res)


# -- built-in claims on synthetic measurements ------------------------------------------------

COUNT = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.2, alpha2=0.45,
                    batch="reuse", etabar1=0.3)


def _count_results(exponents, residual=0.01, Ns=NS, seeds=SEEDS, visible=1):
    rng = np.random.default_rng(7)
    res = Results()
    for N in Ns:
        for s in range(seeds):
            amps = [float(C * N**e * np.exp(0.03 * rng.standard_normal()))
                    for C, e in exponents]
            # the coherent part: an unbiased estimate of (C N^e)^2 per unit left weight
            terms = [{"k": k, "amplitude": amp, "null_floor": 1e-3, "beta_overlap": 0.1,
                      "null_beta_overlap": 1e-3, "coherent_sq": amp**2, "left_weight": 1.0}
                     for k, amp in enumerate(amps)]
            res.add(COUNT, N, s, measurement(COUNT, N, s, terms=terms,
                                             series={"residual": residual},
                                             visible_new_outliers=visible))
    return res


def test_outlier_count_from_the_exact_terms():
    # (0.2, 0.45): e_1 = 0.15, e_2 = -0.15; paper and activation-aware counts 1
    claim = OutlierCount()
    right = _count_results([(5, 0.45), (1, 0.15), (1, -0.15), (1, -0.45)])
    vs = _decide(claim.findings(COUNT, right))
    assert [v.status for v in vs] == ["consistent", "consistent"], [v.reason for v in vs]
    wrong = _count_results([(5, 0.45), (1, 0.15), (1, 0.15), (1, -0.45)])
    vs = _decide(claim.findings(COUNT, wrong))
    assert vs[0].status == "inconsistent" and vs[0].reason.code == "count-inconsistent"
    assert vs[0].reason.params["wrong"] == [2], vs[0].reason
    flat = _count_results([(5, 0.45), (1, 0.15), (1, 0.0), (1, -0.45)])
    vs = _decide(claim.findings(COUNT, flat))
    assert vs[0].status == "inconclusive" and vs[0].reason.code == "count-open"
    assert vs[0].reason.params["open"] == [2], vs[0].reason
    diverging = _count_results([(5, 0.45), (1, 0.15), (1, -0.15), (1, -0.45)], residual=15.0)
    vs = _decide(claim.findings(COUNT, diverging))
    assert vs[0].status is Status.BLOCKED and vs[0].reason.code == "count-outside"
    assert vs[0].reason.find("guard-clause").params["diverging"] == NS
    few = _count_results([(5, 0.45), (1, 0.15), (1, -0.15), (1, -0.45)], Ns=[100, 200, 400])
    assert _decide(claim.findings(COUNT, few))[0].status == "inconclusive"


def test_outlier_count_on_a_critical_configuration_is_never_decided():
    crit = COUNT.replace(alpha1=0.25, alpha2=0.5 - 0.25)  # ratio 1: e_1 = 0
    res = Results()
    for r in _count_results([(5, 0.25), (1, 0.0), (1, -0.25)])._data.items():
        (_, N), by_seed = r
        for s, m in by_seed.items():
            res.add(crit, N, s, m)
    vs = _decide(OutlierCount().findings(crit, res))
    assert all(v.status == "inconclusive" for v in vs)
    assert vs[0].reason.code == "count-critical"


def test_outlier_count_needs_the_terms():
    res = _count_results([(5, 0.45), (1, 0.15)])
    vs = _decide(OutlierCount().findings(COUNT, res))
    assert vs[0].status == "inconclusive" and vs[0].reason.code == "count-missing-terms"
    assert vs[0].reason.params["fix"].code == "count-rerun-terms"
    assert vs[0].reason.params["fix"].params["k"] == 2


def test_term_exponent_claim():
    res = _count_results([(5, 0.45), (1, 0.15), (1, -0.15), (1, -0.45)])
    vs = _decide(TermExponent(terms=(1, 2)).findings(COUNT, res))
    assert [v.status for v in vs] == ["consistent", "consistent"], [v.reason for v in vs]
    off = _count_results([(5, 0.45), (1, 0.45), (1, -0.15), (1, -0.45)])
    vs = _decide(TermExponent(terms=(1,)).findings(COUNT, off))
    assert vs[0].status == "inconsistent"
    relu = COUNT.replace(activation="relu")
    assert TermExponent().run_options(relu)["terms"] == 0
    vs = _decide(TermExponent().findings(relu, res_for(relu, res)))
    assert vs[0].status is Status.BLOCKED and vs[0].reason.code == "guard-nonsmooth"


def res_for(config, res):
    out = Results()
    for (_, N), by_seed in res._data.items():
        for s, m in by_seed.items():
            out.add(config, N, s, m)
    return out


REUSE = ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45, batch="reuse",
                    etabar1=0.2)


def _reuse_results(reuse_e, ind_e, residual=0.01, Ns=NS, seeds=SEEDS):
    rng = np.random.default_rng(11)
    res = Results()
    for cfg, e in ((REUSE, reuse_e), (REUSE.replace(batch="independent"), ind_e)):
        for N in Ns:
            for s in range(seeds):
                terms = [{"k": k, "amplitude": 1.0, "null_floor": 0.01,
                          "beta_overlap": float(0.05 * (N / 500) ** e *
                                                np.exp(0.1 * rng.standard_normal())),
                          "null_beta_overlap": float(1.0 / N * np.exp(0.1 *
                                                                      rng.standard_normal()))}
                         for k in range(4)]
                res.add(cfg, N, s, measurement(cfg, N, s, terms=terms,
                                               series={"residual": residual}))
    return res


def test_reuse_gap_trend_rule():
    claim = ReuseGap()
    assert claim._k(REUSE) == 2
    v = _decide(claim.findings(REUSE, _reuse_results(0.0, -1.0)))[0]
    assert v.status == "consistent", v.reason
    # reuse falling toward the null where the theory says it learns: contradiction
    v = _decide(claim.findings(REUSE, _reuse_results(-1.0, -1.0)))[0]
    assert v.status == "inconsistent" and v.reason.code == "gap-disagrees", v.reason
    assert [(s.code, s.params["mode"]) for s in v.reason.params["states"]][0] == \
        ("gap-falls", "reuse")
    # independent flat above the null where the theory says it does not learn (C4)
    v = _decide(claim.findings(REUSE, _reuse_results(0.0, 0.0)))[0]
    assert v.status == "inconsistent" and v.reason.code == "gap-disagrees", v.reason
    assert ("gap-learns", "independent") in [(s.code, s.params["mode"])
                                             for s in v.reason.params["states"]]
    v = _decide(claim.findings(REUSE, _reuse_results(0.0, -1.0, residual=30.0)))[0]
    assert v.status == "inconclusive" and v.reason.find("guard-clause").params["diverging"]
    v = _decide(claim.findings(REUSE, _reuse_results(0.0, -1.0, Ns=[250, 500, 1000])))[0]
    assert v.status == "inconclusive" and v.reason.code == "gap-widths"


SPIKES = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45)


def _spike_results(config, counts_by_N, seeds=3):
    res = Results()
    for N, c in counts_by_N.items():
        for s in range(seeds):
            res.add(config, N, s, measurement(config, N, s, features={"spike_count": c}))
    return res


def test_one_step_spikes_near_threshold_is_not_refuted_by_counting():
    # alpha1 = 0.3: 2 spikes predicted, the second grows only as N^0.1
    v = _decide(OneStepSpikes().findings(SPIKES, _spike_results(
        SPIKES, {250: 1, 500: 1, 1000: 1})))[0]
    assert v.status == "inconclusive"
    v = _decide(OneStepSpikes().findings(SPIKES, _spike_results(
        SPIKES, {250: 1, 500: 1, 1000: 1, 2000: 1, 4000: 1})))[0]
    assert v.status == "inconclusive" and v.reason.code == "spikes-near-zero", v.reason
    assert v.reason.params["margin"] == 0.15


def test_one_step_spikes_decided_both_ways_with_margins():
    # alpha1 = 0.16: one spike, s_1 = 0.16, s_2 = -0.18: decidable by counting
    cfg = SPIKES.replace(alpha1=0.16, alpha2=0.02)
    widths = (250, 500, 1000, 2000)
    v = _decide(OneStepSpikes().findings(cfg, _spike_results(cfg, dict.fromkeys(widths, 1))))[0]
    assert v.status == "consistent", v.reason
    v = _decide(OneStepSpikes().findings(cfg, _spike_results(cfg, dict.fromkeys(widths, 2))))[0]
    assert v.status == "inconsistent", v.reason
    v = _decide(OneStepSpikes().findings(cfg, _spike_results(cfg, {250: 2, 500: 2})))[0]
    assert v.status == "inconclusive"


def test_left_vectors_guarded_at_the_largest_width():
    cfg = COUNT
    res = Results()
    for N in NS:
        for s in range(4):
            res.add(cfg, N, s, measurement(
                cfg, N, s, outliers=[{"term": 0, "value": 30.0,
                                      "left_overlaps": [0.99, 0.0, 0.0, 0.0]}],
                series={"residual": 12.0 if N == NS[-1] else 0.01}))
    v = _decide(LeftVectors().findings(cfg, res))[0]
    assert v.status is Status.BLOCKED and v.reason.code == "guard-outside"
    assert v.reason.params["diverging"] == [NS[-1]]
    res2 = Results()
    for (_, N), by_seed in res._data.items():
        for s, m in by_seed.items():
            res2.add(cfg, N, s, dataclasses.replace(m, series={"residual": 0.01}))
    assert _decide(LeftVectors().findings(cfg, res2))[0].status == "consistent"


def test_bbp_says_when_it_replaced_alpha1():
    cfg = ModelConfig(activation="tanh", target="He1", alpha1=0.3, alpha2=0.2, etabar1=3.0,
                      batch="independent")
    claim = BBP()
    zero = claim.configs(cfg)[0]
    res = Results()
    rng = np.random.default_rng(3)
    for N in NS:
        for s in range(4):
            res.add(zero, N, s, measurement(zero, N, s, step_one_spike={
                "value": float(2.959 + 0.01 * rng.normal()), "right_beta_overlap": 0.42,
                "left_a_overlap": 0.9}))
    vs = _decide(claim.findings(cfg, res))
    assert all(v.reason.find("bbp-alpha1-zero").params["alpha1"] == 0.3 for v in vs)


def test_growth_exponent_needs_the_term_to_carry_the_projection():
    from twostep.compare.science.claims import GrowthExponent

    cfg = COUNT.replace(alpha1=0.2, alpha2=0.4, batch="independent")  # e_1 = 0.1
    rng = np.random.default_rng(5)

    def results(share):
        res = Results()
        for N in NS:
            for s in range(SEEDS):
                whole = [float(C * N**e * np.exp(0.03 * rng.standard_normal()))
                         for C, e in ((5, 0.4), (1, 0.1))]
                res.add(cfg, N, s, measurement(
                    cfg, N, s,
                    amplitudes=[{"k": k, "amplitude": w, "null_floor": 1e-3}
                                for k, w in enumerate(whole)],
                    terms=[{"k": k, "amplitude": w * (1.0 if k == 0 else share),
                            "null_floor": 1e-3} for k, w in enumerate(whole)],
                    series={"residual": 0.01}))
        return res

    claim = GrowthExponent(terms=(1,))
    v = _decide(claim.findings(cfg, results(0.8)))[0]
    assert v.status == "consistent", v.reason
    v = _decide(claim.findings(cfg, results(0.2)))[0]
    assert v.status is Status.BLOCKED and v.reason.code == "guard-outside", v.reason
    assert v.reason.params["low_share"] == NS


def test_reuse_gap_expectation_does_not_depend_on_the_terms_growth():
    # (0.2, 0.3): e_2 = -0.3, term 2 vanishes; its direction still carries beta_* with a
    # reused batch (carries_beta), and the statistic is that direction: same verdict as at
    # (0.3, 0.45) on the same (scale-free) overlaps
    vanishing = REUSE.replace(alpha1=0.2, alpha2=0.3)
    res = res_for_pair(vanishing, _reuse_results(0.0, -1.0))
    v = _decide(ReuseGap().findings(vanishing, res))[0]
    assert v.status == "consistent", v.reason


def res_for_pair(config, res):
    out = Results()
    for (key, N), by_seed in res._data.items():
        batch = res._configs[key].batch
        for s, m in by_seed.items():
            out.add(config.replace(batch=batch), N, s, m)
    return out


# -- typed measurements: the declared steps that turn the guard on, and stored format-1 dicts --

def test_step_two_reads_names_the_step_two_fields_and_spectra():
    from twostep.compare.science.claims.guard import step_two_reads

    m = measurement(CFG, 500, 0, terms=[{"k": 1, "amplitude": 2.0}],
                    step_one_spike={"value": 3.0}, series={"residual": 0.01},
                    spectra={"W1": {"singular_values": [3.0]},
                             "W2": {"singular_values": [4.0]}})
    assert m.spectrum("W1").step == 1 and m.spectrum("W2").step == 2  # from the names
    log = step_two_reads(lambda m: m.step_one_spike.value + m.N, m)
    assert m.step_one_spike.value == 3.0 and m.N == 500
    log |= step_two_reads(lambda m: m.spectrum("W1").singular_values[0], m)
    assert m.spectrum("W1").singular_values == (3.0,)
    assert log == set()
    log |= step_two_reads(lambda m: m.terms[0].amplitude, m)
    log |= step_two_reads(lambda m: m.spectra.get("W2").singular_values[0], m)
    assert log == {"terms", "spectra.W2"}
    with pytest.raises(AttributeError, match="amplitdes"):
        step_two_reads(lambda m: m.amplitdes, m)


@pytest.mark.parametrize(("statistic", "guarded"), [
    (lambda m: m.terms[0].amplitude, True),
    (lambda m: m.spectrum("W2").singular_values[0], True),
    (lambda m: m.spectrum("update").singular_values[0], True),
    (lambda m: m.step_one_spike.value, False),
    (lambda m: m.spectrum("W1").singular_values[0], False),
])
def test_a_user_statistic_reading_step_two_turns_the_guard_on(statistic, guarded):
    res = Results()
    for N in NS:
        for s in range(4):
            spec = {name: {"singular_values": [3.0 + 0.001 * s]} for name in ("W1", "W2",
                                                                               "update")}
            res.add(CFG, N, s, measurement(CFG, N, s, terms=[{"k": 1, "amplitude": 3.0}],
                                           step_one_spike={"value": 3.0 + 0.001 * s},
                                           series={"residual": 20.0}, spectra=spec))
    v = _decide(LimitClaim("mine", predicted=lambda c: 3.0, statistic=statistic)
                .findings(CFG, res))[0]
    assert ("series residual" in v.evidence.columns) is guarded
    assert v.status is (Status.BLOCKED if guarded else Status.CONSISTENT), v.reason


def _edge_results(residuals, off=()):
    """Planted measurements whose W_2 edge (the top-level field and the same number in
    ``spectrum("W2")``) is 3.0, or 3.5 at the N of ``off``, with the series residual of
    ``residuals[N]``."""
    res = Results()
    for N in NS:
        for s in range(4):
            edge = (3.5 if N in off else 3.0) + 0.001 * s
            res.add(CFG, N, s, measurement(
                CFG, N, s, bulk_edge_empirical=edge, series={"residual": residuals[N]},
                spectra={"W1": {"bulk_edge_empirical": 2.0, "singular_values": [2.5]},
                         "W2": {"bulk_edge_empirical": edge, "singular_values": [edge]}},
                dynamics=[{"t": 1, "update_norm": edge}, {"t": 2, "update_norm": edge}]))
    return res


@pytest.mark.parametrize("residual_at_largest", [20.0, None])
def test_the_w2_edge_read_as_a_field_is_guarded_as_through_spectra(residual_at_largest):
    # m.bulk_edge_empirical is spectrum("W2").bulk_edge_empirical (W_T's fitted edge): a user
    # statistic reading it must get the regime guard exactly as the same read through spectra
    # the series diverges (or has no residual) at the two largest N, where the edge is off
    residuals = {N: 0.01 for N in NS} | dict.fromkeys(NS[-2:], residual_at_largest)
    res = _edge_results(residuals, off=NS[-2:])

    def verdict(statistic, guard=True):
        claim = LimitClaim("edge", predicted=lambda c: 3.0, statistic=statistic, guard=guard)
        return _decide(claim.findings(CFG, res))[0]

    field = verdict(lambda m: m.bulk_edge_empirical)
    spectra = verdict(lambda m: m.spectrum("W2").bulk_edge_empirical)
    unguarded = verdict(lambda m: m.bulk_edge_empirical, guard=False)
    assert (field.status, field.reason) == (spectra.status, spectra.reason)
    assert field.evidence.columns == spectra.evidence.columns
    assert field.evidence.rows == spectra.evidence.rows
    assert "series residual" in field.evidence.columns
    # guarded, the two largest N are left out and the two smallest decide; unguarded, the two
    # largest refute
    assert field.status == "consistent", field.reason
    left_out = field.reason.find("guard-clause").params
    assert left_out["widths"] == NS[-2:], field.reason
    assert unguarded.status == "inconsistent", unguarded.reason
    assert "guard-off" in unguarded.reason.codes()


@pytest.mark.parametrize(("statistic", "guarded"), [
    (lambda m: m.dynamics[1].update_norm, True),
    (lambda m: m.dynamics[-1].update_norm, True),
    (lambda m: max(d.update_norm for d in m.dynamics), True),
    (lambda m: m.dynamics[0].update_norm, False),
    (lambda m: m.spectrum("W1").bulk_edge_empirical + 1.0, False),
])
def test_the_dynamics_of_step_two_are_guarded_those_of_step_one_are_not(statistic, guarded):
    res = _edge_results({N: 20.0 for N in NS})
    v = _decide(LimitClaim("mine", predicted=lambda c: 3.0, statistic=statistic)
                .findings(CFG, res))[0]
    assert ("series residual" in v.evidence.columns) is guarded
    assert v.status is (Status.BLOCKED if guarded else Status.CONSISTENT), v.reason


def test_reading_the_whole_measurement_reads_every_step_two_field():
    import json
    import zlib

    from twostep.compare.science.claims import STEP_TWO_FIELDS
    from twostep.compare.science.claims.guard import step_two_reads

    m = next(iter(_edge_results({N: 0.01 for N in NS}).get(CFG, NS[0])))
    # every step-two field holds something (hiding a field that holds nothing changes nothing)
    m = dataclasses.replace(
        m, outliers=[{"value": 3.1}], visible_new_outliers=1,
        amplitudes=[{"k": 0, "left_power": 1, "amplitude": 1.0}],
        beta={"overlap": 0.5}, terms=[{"k": 0, "left_power": 1, "amplitude": 1.0}])
    whole = {"to_dict": lambda m: zlib.crc32(json.dumps(m.to_dict()).encode()),
             "arrays": lambda m: sum(a.sum() for a in m.arrays().values())}
    for method, statistic in whole.items():
        log = step_two_reads(statistic, m)
        expected = (set(STEP_TWO_FIELDS) | {"spectra.W2", "dynamics.2"} if method == "to_dict"
                    else {"spectra.W2"})  # the arrays are the spectra's singular values
        assert log == expected, method


def test_the_guard_and_the_core_read_one_classification_of_the_fields():
    from twostep.compare.science.claims import STEP_TWO_FIELDS
    from twostep.simulate.measurement import fields_of
    from twostep.theory.fields import FIELD_KINDS

    for f in dataclasses.fields(Measurement):
        assert f.metadata.get("of") in FIELD_KINDS, f"Measurement.{f.name} has no kind"
    assert set(rescale.RESCALED_AS) == set(FIELD_KINDS)
    # everything a rescaling empties is a step-two quantity, read whole or entry by entry
    per_step = set(fields_of("per step"))
    assert per_step == {"spectra", "dynamics"}
    assert set(rescale.WHOLE_UPDATE_FIELDS) - per_step <= STEP_TWO_FIELDS
    assert "bulk_edge_empirical" in STEP_TWO_FIELDS and "series" in STEP_TWO_FIELDS
    assert not STEP_TWO_FIELDS & set(fields_of("run", "width", "step one"))


def _format_1(m: Measurement) -> dict:
    """The stored dict of ``m`` as format 1 wrote it (the names before the typed observables)."""
    d = m.to_dict()
    d["format"] = "twostep.simulate.Measurement/1"
    d["outlier_count"] = d.pop("visible_new_outliers")
    d["learned_beta"] = d.pop("beta")
    s = d.pop("step_one_spike")
    d["step_one"] = None if s is None else {
        "outlier": s["value"], "overlap_right": s["right_u_overlap"],
        "overlap_left": s["left_a_overlap"], "overlap_beta": s["right_beta_overlap"],
        "u_norm": s["u_norm"]}
    # format 1 kept the run's options and how it was made in one dict, with the names of then
    d["options"] = {**d["options"], **{k: v for k, v in d.pop("provenance").items()
                                       if v is not None}}
    d["learned_beta"] = {("term" if k == "best_term" else k): v
                         for k, v in d["learned_beta"].items() if k != "first_term"}
    return d


def test_a_format_1_store_dict_gives_the_verdicts_of_the_current_format():
    bbp_cfg = BBP().configs(COUNT)[0]
    rng = np.random.default_rng(13)
    new, old = Results(), Results()
    for N in NS:
        for s in range(SEEDS):
            terms = [{"k": k, "amplitude": float(C * N**e * np.exp(0.03 * rng.standard_normal())),
                      "null_floor": 1e-3}
                     for k, (C, e) in enumerate([(5, 0.45), (1, 0.15), (1, -0.15), (1, -0.45)])]
            for t in terms:
                t.update(coherent_sq=t["amplitude"] ** 2, left_weight=1.0)
            for cfg in (COUNT, bbp_cfg):
                m = measurement(cfg, N, s, terms=terms, series={"residual": 0.01},
                                visible_new_outliers=1,
                                step_one_spike={"value": float(3.0 + 0.01 * rng.normal()),
                                                "right_beta_overlap": 0.4, "left_a_overlap": 0.9,
                                                "right_u_overlap": 0.5, "u_norm": 1.0},
                                beta={"overlap": float(0.3 + 0.001 * rng.normal()), "best_term": 2,
                                      "null": 0.01, "null_sd": 0.001, "null_draws": 16})
                stored = _format_1(m)
                assert "outlier_count" in stored and "step_one" in stored
                back = Measurement.from_dict(stored)
                # format 1 recorded the max_power used among the options: the provenance has it
                assert back.provenance.max_power == m.options.max_power
                assert dataclasses.replace(back, provenance=m.provenance) == Measurement.from_dict(
                    m.to_dict())
                new.add(cfg, N, s, m.to_dict())
                old.add(cfg, N, s, stored)
    user = LimitClaim("beta", predicted=lambda c: 0.3, statistic=lambda m: m.beta.overlap)
    # decided verdicts (the BBP claim: no outlier at etabar1 = 0.3, a top value of 3 is off)
    expected = {"outlier-count": ["consistent", "consistent"], "bbp": ["inconsistent"],
                "beta": ["consistent"]}
    for claim in (OutlierCount(), BBP(), user):
        a = _decide(claim.findings(COUNT, new))
        b = _decide(claim.findings(COUNT, old))
        assert [(v.status, v.reason) for v in a] == [(v.status, v.reason) for v in b]
        assert [v.status for v in a] == expected[claim.name], [v.reason for v in a]
    assert all(isinstance(m, Measurement) for m in old.get(COUNT, NS[0]))
