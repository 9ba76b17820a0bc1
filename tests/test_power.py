"""Seeds per N, the pilot that sets them, and planted false counts (docs/claims.md, power)."""

from __future__ import annotations

import numpy as np
import pytest

from twostep.compare.plans.power import PILOT_FIRST_SEED, plan_seeds, powered_plan
from twostep.compare.plans.verify import Check, Run, evaluate, run_checks
from twostep.compare.science.claims import OutlierCount, Results, decide_all
from twostep.simulate import Measurement
from twostep.theory import ConfigError, ModelConfig

COUNT = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.2, alpha2=0.45,
                    etabar1=0.2, batch="independent")
NS = (500, 1000, 2000, 4000)


def test_seeds_per_width_and_a_separate_seed_range():
    chk = Check("outlier-count", COUNT, NS, {500: 2, 1000: 3, 2000: 4, 4000: 5},
                first_seed=PILOT_FIRST_SEED)
    cells = chk.cells()
    per = {N: sorted(c.seed for c in cells if c.N == N) for N in NS}
    assert per[500] == [PILOT_FIRST_SEED, PILOT_FIRST_SEED + 1]
    assert len(per[4000]) == 5
    assert Check.from_dict(chk.to_dict()) == chk
    with pytest.raises(ConfigError, match="exactly the widths"):
        Check("outlier-count", COUNT, NS, {500: 2})
    with pytest.raises(ConfigError, match="seeds must be an integer"):
        Check("outlier-count", COUNT, NS, {500: 0, 1000: 1, 2000: 1, 4000: 1})
    with pytest.raises(ConfigError, match="first_seed"):
        Check("outlier-count", COUNT, NS, 2, first_seed=-1)


def _planted(exponents, seeds=8, rel=0.1, Ns=NS, rng=None):
    """Coherent parts ``(C N^e)^2 (1 + rel Z)`` per seed (unbiased, additive noise)."""
    rng = rng or np.random.default_rng(3)
    res = Results()
    for N in Ns:
        for s in range(seeds):
            terms = []
            for k, (C, e) in enumerate(exponents):
                u = (C * N**e) ** 2 * (1 + rel * rng.standard_normal())
                terms.append({"k": k, "left_power": k + 1, "amplitude": abs(u) ** 0.5,
                              "coherent_sq": u, "left_weight": 1.0})
            res.add(COUNT, N, s, Measurement(config=COUNT, N=N, d=N, n=N, seed=s, terms=terms,
                                             series={"residual": 0.001},
                                             visible_new_outliers=1,
                                             timing={"total_s": N / 1000}))
    return res


TRUE = [(5, 0.45), (1, 0.15), (1, -0.15), (0.1, -0.45)]   # (0.2, 0.45): count 1


def test_planted_false_counts_are_refuted_and_the_true_one_is_not():
    res = _planted(TRUE)
    true = decide_all(OutlierCount().findings(COUNT, res))
    assert [v.status for v in true] == ["consistent", "consistent"], [v.reason for v in true]
    for wrong in (0, 2):   # "term 1 vanishes" and "term 2 grows"
        v = decide_all(OutlierCount(name="planted", claimed=wrong).findings(COUNT, res))[0]
        assert v.status == "inconsistent", v.reason
        assert v.pvalue < 0.05
    # a count whose last term was not measured is still refuted by the terms that were
    v = decide_all(OutlierCount(name="planted", claimed=3).findings(COUNT, res))[0]
    assert v.status == "inconsistent" and v.reason.code == "count-inconsistent", v.reason
    assert v.reason.params["wrong"] == [2, 3]
    with pytest.raises(ConfigError, match="claimed"):
        OutlierCount(claimed=-1)


def test_an_undecided_count_says_what_is_decided_and_what_would_decide_it():
    res = _planted([(5, 0.45), (1, 0.15), (1, -0.15), (0.1, -0.45)], seeds=3, rel=0.9)
    v = decide_all(OutlierCount().findings(COUNT, res))[0]
    assert v.status == "inconclusive"
    assert v.reason.code == "count-open", v.reason
    assert any(s.code in ("sign-widths", "sign-undetermined")
               for s in v.reason.params["summary"])


def test_the_pilot_asks_for_more_seeds_when_the_spread_is_large():
    quiet, noisy = _planted(TRUE, seeds=4, rel=0.05), _planted(TRUE, seeds=4, rel=0.8)
    pilot = Check(OutlierCount(), COUNT, NS, 4, first_seed=PILOT_FIRST_SEED)
    few = plan_seeds(pilot, Run((pilot,), [], None, [quiet]), 0, 1e9, 4)
    many = plan_seeds(pilot, Run((pilot,), [], None, [noisy]), 0, 1e9, 4)
    assert set(few[0].values()) == {4}, few
    assert min(many[0].values()) >= 4 and max(many[0].values()) > 16, many
    # planted cell time 0.5, 1, 2, 4 s at N = 500..4000: 60 s of cells buy at most 60 s
    capped = plan_seeds(pilot, Run((pilot,), [], None, [noisy]), 0, 60.0, 4)
    cost = sum(s * t for s, t in zip(capped[0].values(), (0.5, 1, 2, 4)))
    assert cost <= 60.0 and "what the budget allows" in capped[3], capped
    assert min(capped[0].values()) >= 4


def test_seeds_go_where_they_buy_the_most_precision_per_second():
    from twostep.compare.plans.power import POINT_SE, _allocate

    Ns = (500, 1000, 2000, 4000)
    # per-seed variances of the log points falling as N^-2 (term 3 with the uniform law), cells
    # costing N^3: cheap small widths get the seeds, every width keeps its point within POINT_SE
    var = {N: 0.7 * (1000 / N) ** 2 for N in Ns}
    cost = {N: 3.0 * (N / 1000) ** 3 for N in Ns}
    V = (0.04 / 1.96) ** 2
    s = _allocate([(var, V)], cost, 4, Ns)
    assert s is not None and s[500] > s[4000], s
    for N in Ns:
        assert var[N] / s[N] <= POINT_SE**2 * (1 + 1e-6)
    # the full fit's slope variance meets the target (weighted least squares in log N)
    x = np.log(np.asarray(Ns, dtype=float))
    w = np.asarray([s[N] / var[N] for N in Ns])
    xbar = w @ x / w.sum()
    assert 1.0 / (w @ (x - xbar) ** 2) <= V * (1 + 1e-6)
    # equal cost and variance everywhere: the largest width ends both fits and gets the most,
    # an inner width of both fits (2000) the least, at its point's own bound (0.05 / 0.01 = 5)
    flat = _allocate([(dict.fromkeys(Ns, 0.05), V)], dict.fromkeys(Ns, 1.0), 4, Ns)
    assert max(flat, key=flat.get) == 4000 and min(flat, key=flat.get) == 2000, flat
    assert flat[2000] == pytest.approx(0.05 / POINT_SE**2, rel=1e-6)
    # an unreachable target is None, not a number
    assert _allocate([(dict.fromkeys(Ns, 100.0), 1e-9)], cost, 4, Ns) is None


@pytest.mark.slow
def test_the_pilot_run_keeps_its_seeds_out_of_the_decision(tmp_path):
    cfg = COUNT.replace(alpha1=0.2)
    plan = (Check(OutlierCount(visible=False), cfg, (40, 80, 160, 320), 2,
                  {"dtype": "float32", "null_draws": 0}),)
    assert plan[0].run_options()["spectra"] == []   # exact terms only
    store = tmp_path / "p.sqlite"
    new, notes = powered_plan(plan, store, 60.0, executor="inline", quiet=True)
    # the pilot sets the seeds per width ({N: count}, issue 26's power allocation)
    per_N = {N: new[0].seeds_at(N) for N in new[0].Ns}
    assert len(notes) == 1 and min(per_N.values()) >= 2, per_N
    run_checks(new, store, executor="inline", quiet=True)
    from twostep.compare.execution.store import Store

    with Store(store) as st:
        verdicts, results = evaluate(new, st)
        seeds = {N: set(results[0].seeds(cfg, N)) for N in results[0].Ns(cfg)}
        stored = {cell.seed for cell, _ in st.results()}
    assert seeds == {N: set(range(per_N[N])) for N in per_N}
    assert {s for s in stored if s >= PILOT_FIRST_SEED}   # the pilot ran, into the same store
    assert len(verdicts) == 2


def test_a_user_exponent_claim_can_ask_for_the_coherent_fit():
    from twostep.compare.science.claims import ExponentClaim

    res = _planted(TRUE, seeds=16, rel=0.2)
    stat = lambda m: m.terms[1].coherent_sq  # noqa: E731 - a user's one-line statistic
    right = ExponentClaim("t1", predicted=lambda c: 0.15, statistic=stat, fit="coherent")
    wrong = ExponentClaim("t1w", predicted=lambda c: 0.45, statistic=stat, fit="coherent")
    assert decide_all(right.findings(COUNT, res))[0].status == "consistent"
    assert decide_all(wrong.findings(COUNT, res))[0].status == "inconsistent"
    with pytest.raises(ConfigError, match="fit must be"):
        ExponentClaim("t", predicted=lambda c: 0.1, statistic=stat, fit="linear")
