"""One CLI: ``--budget`` is minutes everywhere, ``--json`` in every command that prints results
(``--format json`` kept as its alias), the allowed values of every option shown in its
``--help``, and ``sweep --json``'s summary (issue 29)."""

from __future__ import annotations

import argparse
import json

import _sweep_worker as worker
import pytest
from _cli import run_cli

from twostep.compare.cli import build_parser
from twostep.compare.commands import sweep as sweep_command
from twostep.compare.commands._budget import budget_minutes
from twostep.theory.errors import ConfigError


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _action_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The lines ``--help`` shows for one option (its flags, metavar and help text)."""
    formatter = parser._get_formatter()
    formatter.add_argument(action)
    return formatter.format_help()


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


# -- --budget: minutes ---------------------------------------------------------------------

@pytest.mark.parametrize("text, minutes", [("10", 10.0), ("1.5", 1.5), ("10m", 10.0),
                                           ("600s", 10.0), ("90S", 1.5), ("60", 60.0),
                                           ("3000m", 3000.0), ("5400s", 90.0), (None, None)])
def test_budget_is_minutes_with_an_optional_unit(text, minutes):
    assert budget_minutes(text, seconds_guard=True) == minutes


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "1e400", "m", "10h", "", "ten"])
def test_a_budget_that_is_no_positive_finite_number_is_refused(text):
    with pytest.raises(ConfigError, match="--budget must be a finite number of minutes > 0"):
        budget_minutes(text)


def test_the_old_seconds_form_is_refused_only_where_it_was_seconds():
    # fuzz took seconds before 0.4: 600 (then ten minutes) would now be ten hours
    with pytest.raises(ConfigError, match=r"--budget is in minutes \(since 0\.4; it was "
                                          r"seconds\): 600 would be 10 hours; give 10 for 10 "
                                          r"minutes, or 600m for 10 hours"):
        budget_minutes("600", seconds_guard=True)
    with pytest.raises(ConfigError, match="61 would be 61 minutes; give 1.01667 for"):
        budget_minutes("61", seconds_guard=True)
    assert budget_minutes("600") == 600.0          # verify: always minutes
    assert budget_minutes("600s", seconds_guard=True) == 10.0


def test_verify_and_fuzz_say_minutes_in_their_help():
    subs = _subparsers()
    for name in ("verify", "fuzz"):
        action = _option(subs[name], "--budget")
        assert action.metavar == "MIN"
        assert "minutes" in _action_help(subs[name], action)


def test_verify_refuses_a_bad_budget_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "verify", "--budget", "0s")
    assert code == 2 and out == ""
    assert err.strip() == ("twostep verify: error: --budget must be a finite number of "
                           "minutes > 0, optionally with a unit (10, 10m, 600s), got '0s'")
    assert not any(tmp_path.iterdir())


def test_fuzz_passes_its_budget_on_in_seconds(monkeypatch, capsys):
    from twostep.compare.plans import fuzz as fuzz_module

    seen = {}

    def fake_fuzz(claim, base, **kwargs):
        seen["budget_s"] = kwargs["budget_s"]
        return fuzz_module.FuzzResult(claim, 1, evaluated=0, budget_exhausted=True)

    monkeypatch.setattr(fuzz_module, "fuzz", fake_fuzz)
    code, out, _ = run_cli(capsys, "fuzz", "--claim", "bbp", "--N", "20", "40",
                           "--budget", "1.5", "--json")
    assert code == 0
    assert seen["budget_s"] == 90.0
    data = json.loads(out)
    assert data == {"claim": "bbp", "examples": 0, "budget_exhausted": True, "failure": None,
                    "counts": {"consistent": 0, "inconsistent": 0, "inconclusive": 0,
                               "blocked": 0}}


# -- --json everywhere ---------------------------------------------------------------------

#: the commands that print results; each takes --json
PRINTING = ("verify", "theory", "hermite", "simulate", "sweep", "report", "export", "fuzz")


def test_every_command_that_prints_results_takes_json():
    subs = _subparsers()
    assert set(PRINTING) == set(subs)
    for name in PRINTING:
        assert "--json" in _subparsers()[name].format_help(), name


@pytest.mark.parametrize("name", ["verify", "report"])
def test_json_is_format_json(name):
    parser = build_parser()
    args = ["report", "s.sqlite", "--out", "o"] if name == "report" else ["verify"]
    assert parser.parse_args(args + ["--json"]).format == "json"
    assert parser.parse_args(args + ["--format", "json"]).format == "json"
    assert parser.parse_args(args).format == "markdown"


def test_json_and_another_format_together_are_refused(capsys):
    code, out, err = run_cli(capsys, "verify", "--json", "--format", "csv")
    assert code == 2 and out == ""
    assert "not allowed with argument" in err and len(err.strip().splitlines()) == 1


# -- choices in --help ---------------------------------------------------------------------

def _fixed_sets() -> dict[tuple[str, str], tuple[str, ...]]:
    """Options that take one of a fixed set but validate it themselves (their error names the
    allowed values): the set each help must show."""
    from twostep.compare.execution.executors import EXECUTORS
    from twostep.simulate.options import BACKENDS, DTYPES
    from twostep.theory.config import BATCH_MODES, FIRST_LAYER, LOSSES, SECOND_LAYER

    sets = {}
    for cmd in ("simulate", "sweep"):
        sets[(cmd, "--dtype")] = DTYPES
        sets[(cmd, "--backend")] = BACKENDS
        sets[(cmd, "--batch")] = BATCH_MODES
    for cmd in ("theory", "simulate"):
        sets[(cmd, "--batch")] = BATCH_MODES
        sets[(cmd, "--second-layer")] = SECOND_LAYER
    sets[("simulate", "--first-layer")] = FIRST_LAYER
    sets[("simulate", "--loss")] = LOSSES
    sets[("sweep", "--executor")] = EXECUTORS
    return sets


def test_every_option_with_choices_shows_them_in_its_help():
    checked = 0
    for name, parser in _subparsers().items():
        for action in parser._actions:
            if not action.choices:
                continue
            shown = _action_help(parser, action)
            missing = [c for c in action.choices if str(c) not in shown]
            assert not missing, f"twostep {name} {action.option_strings}: {missing} not in " \
                                f"{shown!r}"
            checked += 1
    assert checked >= 5  # verify --profile/--executor/--format, sweep --executor, report --format


def test_every_option_with_a_fixed_set_shows_it_in_its_help():
    subs = _subparsers()
    for (name, flag), allowed in _fixed_sets().items():
        shown = _action_help(subs[name], _option(subs[name], flag))
        missing = [v for v in allowed if v not in shown]
        assert not missing, f"twostep {name} {flag}: {missing} not in {shown!r}"


def test_sweep_executor_is_refused_naming_its_choices(capsys):
    code, out, err = run_cli(capsys, "sweep", "--store", "s.sqlite", "--N", "20",
                             "--executor", "spark")
    assert code == 2 and out == ""
    assert "invalid choice: 'spark'" in err and "'process', 'dask', 'inline'" in err


# -- sweep --json ----------------------------------------------------------------------------

SMALL = ["--N", "20", "40", "--top", "2", "--null-draws", "1", "--executor", "inline", "--quiet"]


def test_sweep_json_is_a_summary_on_stdout(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    code, out, err = run_cli(capsys, "sweep", "--store", store, *SMALL, "--json")
    assert code == 0, err
    data = json.loads(out)  # stdout is the JSON document and nothing else
    assert {k: data[k] for k in ("cells", "done", "skipped", "failed", "store", "failures")} \
        == {"cells": 2, "done": 2, "skipped": 0, "failed": 0, "store": store, "failures": []}
    assert data["elapsed_s"] >= 0
    code, out, _ = run_cli(capsys, "sweep", "--store", store, *SMALL, "--json")
    assert (code, json.loads(out)["skipped"], json.loads(out)["done"]) == (0, 2, 0)


def test_sweep_json_lists_each_failed_cell_with_its_first_error_line(tmp_path, capsys,
                                                                     monkeypatch):
    real = sweep_command.run_sweep
    monkeypatch.setattr(sweep_command, "run_sweep",
                        lambda cells, store, **kw: real(cells, store, cell_fn=worker.flaky_cell,
                                                        **kw))
    monkeypatch.setenv("TWOSTEP_TEST_FAIL_SEEDS", "1")
    store = str(tmp_path / "s.sqlite")
    code, out, _ = run_cli(capsys, "sweep", "--store", store, *SMALL, "--seeds", "2", "--json")
    assert code == 1
    data = json.loads(out)
    assert (data["cells"], data["done"], data["failed"]) == (4, 2, 2)
    assert sorted((f["N"], f["seed"], f["error"]) for f in data["failures"]) == [
        (20, 1, "ValueError: flaky cell refuses seed 1"),
        (40, 1, "ValueError: flaky cell refuses seed 1")]
    assert all("N=" in f["cell"] and f["config"]["batch"] for f in data["failures"])


# -- report tables: shared ones written once, empty columns left out -----------------------

def _verdicts():
    from twostep.compare.output.table import Table
    from twostep.compare.science.claims import Verdict
    from twostep.theory.config import ModelConfig

    def counts():  # the table both findings of one outlier-count check read
        t = Table(["N", "visible", "series residual"], title="outlier-count")
        for n, seen in ((50, 0.0), (100, 1.0), (200, 2.0)):
            t.add(N=n, visible=seen, **{"series residual": float("nan")})
        return t

    slopes = Table(["N", "amplitude", "local slope"], title="growth")
    slopes.add(N=50, amplitude=1.5)          # local slope missing: None
    slopes.add(N=100, amplitude=2.5, **{"local slope": None})
    cfg = ModelConfig()
    return [Verdict("growth-exponent", "term 0", "inconclusive", "r0", slopes, config=cfg),
            Verdict("outlier-count", "paper count", "consistent", "r1", counts(), config=cfg),
            Verdict("outlier-count", "aware count", "inconclusive", "r2", counts(), config=cfg)]


def test_compact_drops_only_the_columns_empty_in_every_row():
    from twostep.compare.output.table import Table

    t = Table(["a", "b", "c"])
    t.add(a=1, b=float("nan"), c=None)
    t.add(a=2, b=0.0)
    assert t.empty_columns() == ["c"]
    assert t.compact().columns == ["a", "b"]
    assert t.compact().to_csv() == "a,b\n1,\n2,0.0\n"
    assert Table(["a"]).compact().columns == ["a"]  # no rows: nothing is known to be empty


def test_a_shared_table_is_written_once_and_named_by_both_verdicts(tmp_path):
    from twostep.compare.output.report import render_verdicts, shared_evidence, write_report

    verdicts = _verdicts()
    assert shared_evidence(verdicts) == [1, 2, 2]
    out = write_report(tmp_path / "rep", verdicts, figures=False)
    names = sorted(p.name for p in (out / "tables").iterdir())
    assert names == ["01-growth-exponent.csv", "01-growth-exponent.json",
                     "01-growth-exponent.tex", "02-outlier-count.csv", "02-outlier-count.json",
                     "02-outlier-count.tex", "summary.csv", "summary.tex"]
    assert (out / "tables" / "01-growth-exponent.csv").read_text() == \
        "N,amplitude\n50,1.5\n100,2.5\n"
    assert (out / "tables" / "02-outlier-count.csv").read_text().splitlines()[0] == "N,visible"
    # json keeps every column (null where empty): its keys do not depend on the data
    rows = json.loads((out / "tables" / "01-growth-exponent.json").read_text())["rows"]
    assert rows[0] == {"N": 50, "amplitude": 1.5, "local slope": None}
    md = (out / "report.md").read_text()
    assert md.count("| N | visible |") == 1
    assert "(also the evidence of [3])" in md
    assert "evidence: the table of [2] above (`tables/02-outlier-count.csv`" in md
    assert "Left out, empty in every row: local slope." in md
    text = render_verdicts(verdicts)
    assert text.count("| N | visible |") == 1 and "evidence: the table of [2] above" in text
    assert "local slope" not in text
    # the JSON output is every verdict in full
    assert [v["evidence"]["columns"] for v in json.loads(render_verdicts(verdicts, "json"))][2] \
        == ["N", "visible", "series residual"]
