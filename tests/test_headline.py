"""The headline profile's new paths at small N: a plan through the core view (one base sweep per
setup, every check by rescaling) gives the verdicts of direct runs, reads only its own seeds,
and is re-read by ``twostep report``; seeds per width from the CLI; the headline plan's
shape (docs/results.md, "The headline")."""

from __future__ import annotations

import json
import re

import pytest
from _cli import run_cli

from twostep.compare.commands.verify import seeds_argument
from twostep.compare.execution.store import Store
from twostep.compare.plans import core_plan, headline
from twostep.compare.plans.verify import Check, run_checks
from twostep.compare.science.claims import OutlierCount
from twostep.theory import ConfigError, ModelConfig

BASE = ModelConfig(activation="softplus", target="He1", batch="reuse", second_layer="uniform",
                   etabar1=0.02)
OPTS = {"dtype": "float64", "null_draws": 0}
NS = (40, 80, 160, 320)


def _plan(seeds=2, first_seed=0):
    return (Check(OutlierCount(visible=False), BASE.replace(alpha1=0.2, alpha2=0.45), NS,
                  seeds, OPTS, first_seed=first_seed),
            Check(OutlierCount(name="planted-count-3", claimed=3, visible=False),
                  BASE.replace(alpha1=0.32, alpha2=0.45), NS, seeds, OPTS,
                  first_seed=first_seed))


def _summary(verdicts):
    return [(v.claim, v.subject, v.status, v.pvalue) for v in verdicts]


def test_the_core_view_of_a_plan_is_the_direct_run(tmp_path):
    plan = _plan()
    core = core_plan.run_core_plan(plan, tmp_path / "core.sqlite", executor="inline",
                                   quiet=True)
    # one base sweep (same step-size-free setup and options): 4 widths x 2 seeds
    assert core.sweep.done == 8 and not core.sweep.failed
    direct = run_checks(plan, tmp_path / "direct.sqlite", executor="inline", quiet=True)
    assert len(core.verdicts) == len(direct.verdicts) == 3
    # the rescaled base measurements are the direct runs' up to float64 rounding of the scale
    # factors (compare/plans/core.py: 1e-12 relative); the verdicts' statuses agree and their
    # p-values to that rounding
    for c, d in zip(_summary(core.verdicts), _summary(direct.verdicts)):
        assert c[:3] == d[:3]
        assert c[3] == pytest.approx(d[3], rel=1e-6, nan_ok=True)
    # the base runs at the largest step sizes of the plan (the carried residual needs it)
    (base,) = core_plan.bases(plan).values()
    assert (base.config().alpha1, base.config().alpha2) == (0.32, 0.45)
    assert base.cell_options()["terms"] == 4       # planted count 3 reads term 4
    assert base.cell_options()["spectra"] == []


def test_each_check_reads_its_own_seeds_and_the_report_rereads_the_store(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    anchor = BASE.replace(alpha1=0.4, alpha2=0.49)
    pilot = core_plan.run_core_plan(_plan(2, first_seed=1000), store, executor="inline",
                                    quiet=True, anchors=(anchor,))
    run = core_plan.run_core_plan(_plan(3), store, executor="inline", quiet=True,
                                  anchors=(anchor,))
    assert pilot.sweep.done == 8 and run.sweep.done == 12
    seeds = {s for N in NS for s in run.results[0].seeds(BASE.replace(alpha1=0.2), N)}
    assert seeds == {0, 1, 2}
    with Store(store, readonly=True) as st:
        assert core_plan.stored_as_core(st)
        assert [a.key() for a in core_plan.stored_anchors(st)] == [anchor.key()]
        plan = core_plan.stored_plan(st)
        assert plan[1].claim.claimed == 3 and plan[1].name == "planted-count-3"
        again, _ = core_plan.evaluate(plan, st)
    assert _summary(again) == _summary(run.verdicts)
    code, out, err = run_cli(capsys, "report", str(store), "--out", str(tmp_path / "rep"),
                             "--no-plots")
    assert code == 0, err
    assert "planted-count-3" in out


def test_the_core_view_refuses_claims_that_read_the_whole_update():
    with pytest.raises(ConfigError, match="core evaluates"):
        core_plan.bases((Check("bbp", BASE, NS, 2, OPTS),))


@pytest.mark.parametrize("text,want", [("16", 16), ("1000=64,2000=64", {1000: 64, 2000: 64}),
                                       (" 500=8, 1000=4 ", {500: 8, 1000: 4})])
def test_seeds_per_width_parse(text, want):
    assert seeds_argument(text) == want


@pytest.mark.parametrize("args,message", [
    (["--seeds", "1000=x"], "is not N=S"),
    (["--seeds", "1000=4,1000=8"], "given twice"),
    (["--seeds", "four"], "is not a seed count"),
    (["--claim", "outlier-count", "--N", "40", "80", "--seeds", "40=2,160=2"],
     "name exactly the widths"),
    (["--claim", "outlier-count", "--N", "40", "80", "--seeds", "40=2,80=0"], "--seeds"),
    (["--seeds", "8"], "go(es)? with --claim or --profile headline"),
])
def test_bad_seeds_are_one_line(tmp_path, capsys, args, message):
    code, out, err = run_cli(capsys, "verify", *args, "--store", str(tmp_path / "v.sqlite"),
                             "--out", str(tmp_path / "out"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "v.sqlite").exists() and not (tmp_path / "out").exists()


def test_the_headline_plan_covers_both_modes_and_plants_wrong_counts():
    plan = headline.headline_plan()
    by_mode = {m: [c for c in plan if c.config.batch == m] for m in ("reuse", "independent")}
    for checks in by_mode.values():
        points = {(c.config.alpha1, c.config.alpha2) for c in checks
                  if c.claim.claimed is None}
        assert points == set(headline.POINTS)
        planted = {(c.config.alpha1, c.config.alpha2, c.claim.claimed) for c in checks
                   if c.claim.claimed is not None}
        assert planted == {(a1, a2, w) for a1, a2 in headline.COUNT2_POINTS for w in (1, 3)}
        assert all(c.config.second_layer == "uniform" for c in checks)
    # one base sweep per mode, at the plane's largest step sizes
    groups = core_plan.bases(plan, headline.ANCHORS)
    assert len(groups) == 2
    assert {(b.config().alpha1, b.config().alpha2) for b in groups.values()} == {
        (0.4825, 0.4925)}
    # ... which are the count plane's grid's largest, so its plane reads the same cells
    from twostep.compare.plans import phase

    a1s, a2s = phase._axes(20)
    assert (max(a1s), max(a2s)) == (0.4825, 0.4925)
    # --seeds replaces the seeds per width of both modes
    small = headline.headline_plan(headline.seeds_override({40: 2, 80: 2}))
    assert {c.Ns for c in small} == {(40, 80)}
    assert json.loads(json.dumps(small[0].to_dict()))["seeds"] == {"40": 2, "80": 2}
