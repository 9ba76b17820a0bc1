"""`twostep verify|report|fuzz`: bad input is one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import json

import pytest
from _cli import run_cli


def _nothing_written(path):
    return sorted(p.name for p in path.iterdir()) == sorted(
        p.name for p in path.iterdir() if p.name.startswith("input"))


@pytest.mark.parametrize("argv, fragment", [
    (["verify", "--claim", "no-such-claim"], "unknown claim 'no-such-claim'; known: "),
    (["verify", "--claim", "bbp", "--N", "1", "100"], "N must be >= 2"),
    (["verify", "--claim", "bbp", "--N"], "expected at least one argument"),
    (["verify", "--claim", "bbp", "--seeds", "0"],
     "--seeds must be an integer in [1, 10000], got 0"),
    (["verify", "--claim", "bbp", "--config", "input-bad.json"], "config is not valid JSON"),
    (["verify", "--claim", "bbp", "--config", "input-unknown.json"],
     "unknown config field(s) colour"),
    (["verify", "--claim", "bbp", "--config", "input-range.json"], "alpha1 must be in [0, 1/2)"),
    (["verify", "--claim", "bbp", "--config", "input-missing.json"],
     "cannot read --config input-missing.json"),
    (["verify", "--out", "input-file.txt"], "exists and is not a folder"),
    (["verify", "--out", "no/such/parent/dir"], "does not exist"),
    (["verify", "--N", "100", "200"], "--config and --N go with --claim"),
    (["verify", "--jobs", "0"], "jobs"),
    (["fuzz", "--claim", "nope"], "unknown claim 'nope'"),
    (["fuzz", "--claim", "bbp", "--N", "1"], "--N needs widths >= 19"),
    (["report", "input-missing.sqlite", "--out", "r"], "does not exist"),
    (["report", "input-file.txt", "--out", "r"], "input-file.txt"),
])
def test_bad_input(capsys, workdir, argv, fragment):
    (workdir / "input-bad.json").write_text("{not json")
    (workdir / "input-unknown.json").write_text(json.dumps({"colour": "red"}))
    (workdir / "input-range.json").write_text(json.dumps({"alpha1": 0.7}))
    (workdir / "input-file.txt").write_text("I am not a store")
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    assert fragment in err
    assert err.count("\n") == 1
    assert _nothing_written(workdir), sorted(p.name for p in workdir.iterdir())
    assert (workdir / "input-file.txt").read_text() == "I am not a store"


def test_report_infers_the_plan_of_a_sweep_store(capsys, workdir):
    # a store filled by `twostep sweep` has no recorded plan: compare.verify.inferred_plan
    # picks the claims that apply (bbp at alpha1 = 0, reuse-gap where both batch modes ran)
    from twostep.compare.execution.store import Store
    from twostep.compare.plans.verify import inferred_plan, stored_plan

    code, _, err = run_cli(capsys, "sweep", "--store", "s.sqlite", "--alpha", "0,0.2",
                           "--batch", "reuse", "independent", "--N", "20", "40", "--seeds", "2",
                           "--terms", "3",
                           "--executor", "inline", "--quiet")
    assert code == 0, err
    with Store("s.sqlite", readonly=True) as store:
        assert stored_plan(store) is None
        plan = inferred_plan(store)
    names = sorted((chk.name, chk.config.batch) for chk in plan)
    expected = [(name, batch) for batch in ("reuse", "independent")
                for name in ("bbp", "growth-exponent", "outlier-count", "left-vectors")]
    assert names == sorted([*expected, ("reuse-gap", "reuse")])
    assert all(chk.Ns == (20, 40) and chk.seeds == 2 for chk in plan)
    code, out, err = run_cli(capsys, "report", "s.sqlite", "--out", "r", "--format", "json",
                             "--no-plots")
    assert code == 0, err
    claims = {v["claim"] for v in json.loads(out)}
    assert claims == {"bbp", "growth-exponent", "outlier-count", "left-vectors", "reuse-gap"}


def test_verify_draws_the_spectrum_cell_that_compare_verify_names():
    from twostep.compare.commands import verify as command
    from twostep.compare.plans.verify import SPECTRUM_CELL

    assert not hasattr(command, "SPECTRUM_CELL")  # one definition, in compare/plans/verify.py
    assert SPECTRUM_CELL["N"] == 2000 and SPECTRUM_CELL["options"] == {"spectrum": True}
    assert SPECTRUM_CELL["config"].alpha1 == 0.3 and SPECTRUM_CELL["config"].batch == "reuse"


def test_fuzz_summary_counts_examples_and_verdicts():
    """Issue 19 §6: `fuzz --examples 5` said "inconclusive: 13" (verdicts, not examples)."""
    from collections import Counter

    from twostep.compare.commands.fuzz import STATUS_NAMES, summary_line
    from twostep.compare.plans.fuzz import FuzzResult

    res = FuzzResult(claim="growth-exponent", examples=5,
                     counts=Counter(inconclusive=13), evaluated=5)
    assert summary_line("growth-exponent", res) == (
        "twostep fuzz growth-exponent: 5 examples, 13 verdicts (one per finding of an "
        "example): consistent: 0, inconsistent: 0, inconclusive: 13, blocked: 0")
    one = FuzzResult(claim="bbp", examples=1, counts=Counter(consistent=1), evaluated=1)
    from twostep.compare.science.claims import Status

    assert STATUS_NAMES == tuple(s.value for s in Status)
    assert "bbp: 1 example, 1 verdict (" in summary_line("bbp", one)
