"""The core view (compare/plans/core.py): rescaled exact-term statistics against direct runs."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from twostep.compare.plans import core
from twostep.compare.plans.verify import check
from twostep.compare.science import rescale
from twostep.compare.science.claims import Reason, Results, measured_regime
from twostep.simulate import Measurement, draws, run
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.observables import ExactTerm
from twostep.theory.records import P1Stats

BASE = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                   etabar1=0.2, batch="reuse")
OTHER = BASE.replace(alpha1=0.2, alpha2=0.35, etabar1=0.15, etabar2=0.7)
N, SEED = 200, 1
RUN = {"terms": 4, "max_power": 5}


@pytest.fixture(scope="module")
def pair():
    return run(BASE, N, SEED, **RUN), run(OTHER, N, SEED, **RUN)


def rel(x: float, y: float) -> float:
    return abs(x - y) / max(abs(y), 1e-300)


def test_draws_are_shared_by_step_sizes():
    # the draws are keyed by (seed, N) only: the item 1 already holds
    d, n = draws.dimensions(BASE, N)
    assert np.array_equal(draws.draw_first_layer(BASE, SEED, N, d, np.dtype("float64")),
                          draws.draw_first_layer(OTHER, SEED, N, d, np.dtype("float64")))
    assert np.array_equal(draws.draw_second_layer(BASE, SEED, N),
                          draws.draw_second_layer(OTHER, SEED, N))
    beta = draws.draw_beta(SEED, N, d)
    b1 = draws.draw_batch(BASE, SEED, N, 0, beta, np.dtype("float64"))
    b2 = draws.draw_batch(OTHER, SEED, N, 0, beta, np.dtype("float64"))
    assert np.array_equal(b1.X, b2.X) and np.array_equal(b1.y, b2.y)


def test_rescaled_terms_match_a_direct_run(pair):
    base, direct = pair
    got = core.rescale(base, BASE, OTHER)
    assert isinstance(got, Measurement) and got.config == OTHER
    assert all(isinstance(t, ExactTerm) for t in got.terms)
    for t, u in zip(got.terms, direct.terms):
        for name in ("amplitude", "null_floor", "null_floor_sd", "beta_overlap",
                     "null_beta_overlap", "left_overlap", "right_beta_overlap", "coherent_sq",
                     "coherent_sq_se", "beta_component"):
            if getattr(u, name) is None:
                assert getattr(t, name) is None
            else:
                assert rel(getattr(t, name), getattr(u, name)) < 1e-10, (t.k, name)
        for x, y in zip(t.singular_values, u.singular_values):
            assert rel(x, y) < 1e-10
        for x, y in zip(t.leakage, u.leakage):
            assert (x is None and y is None) or rel(x, y) < 1e-10
    s, d = got.series, direct.series
    assert rel(s.eta1, d.eta1) < 1e-14 and rel(s.eta2, d.eta2) < 1e-14
    for x, y in zip(s.norms, d.norms):
        assert rel(x, y) < 1e-10
    assert rel(s.p1.max, d.p1.max) < 1e-10
    # eta1 is smaller: the converging residual at the base's eta1 is carried as an upper estimate
    assert s.core_rule.startswith("carried")
    assert s.residual == base.series.residual <= 0.1
    assert d.residual <= s.residual
    assert s.core_from == BASE and len(s.core_scales) == len(got.terms)
    # nothing about the whole update survives
    for name in ("outliers", "visible_new_outliers", "beta", "step_one_spike", "features",
                 "bulk_edge_empirical"):
        assert getattr(got, name) is None, name
    assert got.amplitudes == () and len(got.spectra) == 0 and got.dynamics == ()
    # a stored dict gives the same measurement, and the rescaled one is JSON
    assert core.rescale(base.to_dict(), BASE, OTHER).to_dict() == got.to_dict()


def test_same_eta1_keeps_the_measured_residual():
    other = BASE.replace(alpha2=0.25, etabar2=3.0)     # eta1 unchanged: residual exact
    base = run(BASE, 100, 0, **RUN)
    direct = run(other, 100, 0, **RUN)
    got = core.rescale(base, BASE, other)
    assert got.series.core_rule == "measured"
    assert rel(got.series.residual, direct.series.residual) < 1e-10
    assert got.step_one_spike == base.step_one_spike is not None
    assert got.features == base.features
    for t, u in zip(got.terms, direct.terms):
        assert rel(t.amplitude, u.amplitude) < 1e-10


def test_unknown_series_keys_are_dropped_not_copied_unscaled(pair):
    # the series is a typed record: a key the core would not know how to rescale cannot get
    # into a measurement (one line), so a rescaled measurement never carries one unscaled
    base, _ = pair
    with pytest.raises(ConfigError, match=r"^Series: unknown field\(s\) future_norm; allowed: "):
        replace(base, series={**base.series.to_dict(), "future_norm": 1.5})
    for target in (OTHER, BASE.replace(alpha2=0.25, etabar2=3.0)):
        got = core.rescale(base, BASE, target)
        assert got.series.K == base.series.K
        assert got.series.tolerance == base.series.tolerance
        assert got.series == core.rescale(base, BASE, target).series


def _regime_of(m: Measurement, config: ModelConfig):
    res = Results()
    res.add(config, m.N, m.seed, m)
    return measured_regime(res, config)


def test_unknown_residual_never_converges(pair):
    base, _ = pair
    # a larger eta1: not measured
    up = BASE.replace(etabar1=0.5)
    got = core.rescale(base, BASE, up)
    assert got.series.residual is None and not got.series.converges
    assert got.series.core_rule.startswith("unknown (eta1 above")
    assert not _regime_of(got, up).ok(N)
    # a smaller eta1 below a diverging residual: unknown, not carried
    diverging = replace(base, series=replace(base.series, residual=3.0))
    got = core.rescale(diverging, BASE, OTHER)
    assert got.series.residual is None
    assert not _regime_of(got, OTHER).ok(N)
    # no residual at all
    missing = replace(base, series=replace(base.series, residual=None))
    assert core.rescale(missing, BASE, OTHER).series.residual is None
    # smaller eta1 but beyond the radius of convergence: unknown
    far = replace(base, series=replace(base.series, p1=P1Stats(max=10.0, fraction_above=())))
    got = core.rescale(far, BASE, OTHER)
    assert got.series.residual is None and "R_sigma" in got.series.core_rule


def test_the_guard_says_the_core_does_not_know_the_residual(pair):
    # at an eta1 above the base's the rescaled residual is unknown (rule 3): the guard's
    # clause on those widths says so in the core's words, not "run with terms >= 1"
    from twostep.compare.science.claims.rules import regime_from_dict, regime_to_dict

    base, _ = pair
    res = Results()
    for n in (100, 200, 400, 800):
        t1, t2 = core.etas(BASE, n)
        res.add(BASE, n, SEED, replace(base, N=n, series=replace(base.series, eta1=t1,
                                                                   eta2=t2)))
    up = BASE.replace(etabar1=0.5)
    verdicts, _, refused = core.evaluate_core("term-exponent", res, [BASE], [up], RUN["terms"])
    assert not refused
    reasons = [v.reason for v in verdicts[up.key()]]
    assert reasons and all(r.find("guard-outside").params["explained"] == [100, 200, 400, 800]
                           for r in reasons), reasons
    assert rescale.UNKNOWN_RESIDUAL in reasons[0].find("guard-outside").params["clause"]
    # the note is part of a data finding's regime: a stored finding decides to the same words
    regime = measured_regime(core.plane_results(res, BASE, [up]), up)
    kept = regime_from_dict(json.loads(json.dumps(regime_to_dict(regime))))
    assert kept.describe(regime.residual) == regime.describe(regime.residual)
    assert rescale.UNKNOWN_RESIDUAL in kept.describe([100])
    # a direct measurement without a residual gets the usual remedy
    direct = replace(base, series=replace(base.series, residual=None))
    assert "(run with terms >= 1)" in _regime_of(direct, BASE).describe([N])


def test_radius_of_convergence():
    assert core.radius("tanh") == pytest.approx(math.pi / 2)
    assert core.radius("tanh(z + 1/2)") == pytest.approx(math.pi / 2)
    assert core.radius("tanh(2*z)") == pytest.approx(math.pi / 4)
    assert core.radius("sigmoid") == pytest.approx(math.pi)
    assert core.radius("erf") == math.inf and core.radius("z**3 - z") == math.inf
    assert core.radius("tanh(z)**3") is None           # not known here: never carried


def test_refusals(pair):
    base, _ = pair
    with pytest.raises(ConfigError, match="step sizes only"):
        core.rescale(base, BASE, BASE.replace(batch="independent"))
    with pytest.raises(ConfigError, match="not those of config_from"):
        core.rescale(base, OTHER, BASE)
    with pytest.raises(ConfigError, match="whole update"):
        core.core_claim("growth-exponent")
    with pytest.raises(ConfigError, match="exact terms"):
        core.rescale(replace(base, terms=None), BASE, OTHER)


def test_a_bug_in_a_core_claim_is_not_a_refusal(monkeypatch):
    # evaluate_core turns a ConfigError (the claim cannot be decided from these measurements)
    # into a refusal; any other exception of the claim's findings is a bug and propagates
    cls = type(core.core_claim("term-exponent"))
    monkeypatch.setattr(cls, "run_options", lambda self, config: {"terms": 1})

    def bug(self, config, results):
        raise ZeroDivisionError("a bug in the package")

    monkeypatch.setattr(cls, "findings", bug)
    with pytest.raises(ZeroDivisionError, match="a bug in the package"):
        core.evaluate_core("term-exponent", Results(), [BASE], [BASE], 4)

    def bad_input(self, config, results):
        raise ConfigError("the measurements lack exact term(s) [3]")

    monkeypatch.setattr(cls, "findings", bad_input)
    _, _, refused = core.evaluate_core("term-exponent", Results(), [BASE], [BASE], 4)
    assert "lack exact term" in refused[BASE.key()]


NS = (25, 50, 100, 200)


def _same(a, b):
    assert a.status == b.status, (a.reason, b.reason)
    assert a.subject == b.subject
    # the outlier count's statistic and last clause are the visible W_2 outliers (not rescaled)
    # "what would decide" quotes the cells' own wall times, which differ between two runs
    timed = re.compile(r"about [0-9.]+ (s|min|h)")

    def essence(reason):   # the codes, and the text without the visible outliers' clause
        params = {**reason.params, **({"visible": ""} if "visible" in reason.params else {})}
        return reason.codes(), timed.sub("about T", str(Reason(reason.code, params)))

    assert essence(a.reason) == essence(b.reason)
    if a.claim == "outlier-count":
        return
    for x, y in ((a.statistic, b.statistic), *zip(a.ci, b.ci)):
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-8, abs=1e-12)
    ra, rb = a.evidence.rows, b.evidence.rows
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb):
        for col in x:
            u, v = x[col], y[col]
            if col.startswith("series residual"):
                # carried residuals are upper estimates: the same side of the tolerance
                assert (u is not None and u <= 0.1) == (v is not None and v <= 0.1), col
            elif isinstance(u, float) and isinstance(v, float) and not math.isnan(v):
                assert u == pytest.approx(v, rel=1e-7, abs=1e-12), col
            else:
                assert (u == v) or (u is None and v is None) or (
                    isinstance(u, float) and math.isnan(u)), col


@pytest.mark.parametrize("claim", [pytest.param("outlier-count", marks=pytest.mark.slow),
                                   "term-exponent"])
def test_core_check_equals_verify_check_cell_by_cell(claim):
    # eta1 equal to the base's at every N (same alpha1, etabar1): the residual rule is exact
    configs = [BASE.replace(alpha2=0.1), BASE.replace(alpha2=0.3, etabar2=0.5)]
    out = core.core_check(claim, BASE, configs, NS, 2)
    assert out.options["terms"] == 3
    for cfg in configs:
        direct = check(claim, cfg, NS, 2, **out.options)
        got = out.of(cfg)
        assert len(got) == len(direct)
        for a, b in zip(got, direct):
            _same(a, b)


@pytest.mark.slow
def test_core_check_reuse_gap_with_a_smaller_eta1():
    base = ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45, etabar1=0.02)
    cfg = base.replace(alpha1=0.2, alpha2=0.4)            # eta1 smaller: carried residual
    out = core.core_check("reuse-gap", base, [cfg], NS, 2)
    direct = check("reuse-gap", cfg, NS, 2, **out.options)
    rules = [m.series.core_rule for b in core.CORE_CLAIMS["reuse-gap"]().configs(cfg)
             for N in NS for m in core.plane_results(out.base_results, out.bases, [b]).get(b, N)]
    assert all(r.startswith("carried") for r in rules), rules
    for a, b in zip(out.of(cfg), direct):
        _same(a, b)


@pytest.mark.slow   # the rescaling of its inputs is checked fast above, against a direct run
def test_core_check_reuse_learning_equals_direct_checks_with_a_smaller_eta1():
    """The rescaled beta_component (by s_k) and coherent_sq (by s_k^2) give the direct run's
    reuse-learning verdicts, cosines and signs, at a config whose eta1 is below the base's."""
    base = ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45, etabar1=0.02)
    cfg = base.replace(alpha1=0.2, alpha2=0.4)
    out = core.core_check("reuse-learning", base, [cfg], NS, 3)
    direct = check("reuse-learning", cfg, NS, 3, **out.options)
    got = out.of(cfg)
    assert [v.subject for v in got] == [v.subject for v in direct]
    for a, b in zip(got, direct):
        _same(a, b)


def test_seeds_per_width():
    assert core.seeds_at(3, 500) == 3 and core.seeds_at({500: 4, 1000: 2}, 1000) == 2
    assert core.describe_seeds({1000: 2, 500: 4}) == "4 / 2 seeds"
    assert core.describe_seeds({500: 4, 1000: 4}) == "4 seeds"
    with pytest.raises(ConfigError, match="give none for N = 2000"):
        core.seeds_at({500: 4}, 2000)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="seeds must be integers >= 1"):
            core.seeds_at({500: bad}, 500)
    # the base sweep draws exactly the design: seeds 0..S_N - 1 at each width
    per = {NS[0]: 3, NS[1]: 1, NS[2]: 2}
    out = core.core_check("term-exponent", BASE, [BASE.replace(alpha2=0.3)], NS[:3], per)
    for N, S in per.items():
        assert out.base_results.seeds(BASE, N) == list(range(S))


def test_core_check_refuses_other_claims():
    with pytest.raises(ConfigError, match="core evaluates"):
        core.core_check("left-vectors", BASE, [BASE], NS, 2)


@pytest.mark.slow  # predicting a paper count of 9 takes half a minute of sympy
def test_core_check_refuses_too_many_terms():
    far = BASE.replace(alpha1=0.45, alpha2=0.45)   # paper count 9: needs 10 terms
    res = Results()
    verdicts, blocked, refused = core.evaluate_core("outlier-count", res, [BASE], [far],
                                                    core.TERMS_CAP)
    assert far.key() in refused and "needs" in refused[far.key()]
    assert core.classify(verdicts[far.key()], blocked[far.key()], True) == "refused"


# -- fuzz on the core ----------------------------------------------------------------------------

def test_fuzz_on_the_core_evaluates_many_examples_from_one_sweep(tmp_path, monkeypatch):
    from twostep.compare.plans import fuzz as fz

    monkeypatch.chdir(tmp_path)
    res = fz.fuzz("outlier-count", BASE, examples=30, Ns=(25, 50, 100, 200), seeds=2,
                  resolution=20)
    assert res.core is not None and res.core["base"].alpha1 == pytest.approx(0.45)
    assert res.core["options"]["terms"] == core.TERMS_CAP
    assert sum(res.counts.values()) >= 2 * res.evaluated and res.ok
    assert 1 < res.evaluated <= 30                   # examples, not verdicts (issue 19)


def test_fuzz_failure_on_the_core_is_shrunk_and_rerun_directly(tmp_path, monkeypatch):
    from twostep.compare.output.table import Table
    from twostep.compare.plans import fuzz as fz
    from twostep.compare.science.claims import Verdict

    monkeypatch.chdir(tmp_path)
    real = core.evaluate_core

    def fake(claim, results, bases, configs, K):   # "inconsistent" wherever alpha2 >= 0.3
        v, b, r = real(claim, results, bases, configs, K)
        for cfg in configs:
            if cfg.alpha2 >= 0.3:
                v[cfg.key()] = [Verdict("outlier-count", "fake", "inconsistent", "fake",
                                        Table(["N"]), config=cfg)]
        return v, b, r

    monkeypatch.setattr(core, "evaluate_core", fake)
    res = fz.fuzz("outlier-count", BASE, examples=20, Ns=(25, 50, 100, 200), seeds=2,
                  resolution=20)
    assert res.failure is not None and res.failure.alpha2 == pytest.approx(0.3)
    assert "twostep verify --claim outlier-count" in res.command
    assert res.confirmation is not None                 # the direct rerun of that point
    assert all(v.status != "inconsistent" for v in res.confirmation)
    assert "terms" in res.core_command
