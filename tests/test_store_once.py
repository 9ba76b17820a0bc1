"""One run opens its store once: ``twostep verify`` (the look at what is done, the sweep, the
plan's evaluation and the report) and ``run_checks`` share one :class:`Store` object
(:class:`SharedStore`); a second run of the same plan reads the cells back through one open
too.  The count is of ``Store`` objects made in this process (the heartbeat's per-beat
connections are sqlite3 connections of its own thread, not stores)."""

from __future__ import annotations

import pytest
from _cli import run_cli

from twostep.compare.execution import store as store_module
from twostep.compare.plans.verify import Check, run_checks
from twostep.compare.science.claims import get_claim
from twostep.theory import ModelConfig


@pytest.fixture
def opened(monkeypatch):
    made: list[str] = []
    real = store_module.Store.__init__

    def counting(self, path, **kwargs):
        made.append(str(path))
        real(self, path, **kwargs)

    monkeypatch.setattr(store_module.Store, "__init__", counting)
    return made


@pytest.mark.parametrize("again", [False, True])
def test_verify_opens_its_store_once(capsys, tmp_path, opened, again):
    argv = ["verify", "--claim", "left-vectors", "--N", "20", "40", "--seeds", "1", "--store",
            str(tmp_path / "s.sqlite"), "--executor", "inline", "--quiet", "--no-plots"]
    if again:  # the cells are done: the second run simulates nothing and reads them back
        assert run_cli(capsys, *argv, "--out", str(tmp_path / "first"))[0] == 0
        opened.clear()
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert opened == [str(tmp_path / "s.sqlite")]


def test_run_checks_on_a_path_opens_it_once(tmp_path, opened):
    plan = (Check(get_claim("left-vectors"), ModelConfig(), (20, 40), 1),)
    run = run_checks(plan, tmp_path / "s.sqlite", executor="inline", quiet=True)
    assert run.verdicts and len(opened) == 1
    opened.clear()
    again = run_checks(plan, tmp_path / "s.sqlite", executor="inline", quiet=True)
    assert [v.status for v in again.verdicts] == [v.status for v in run.verdicts]
    assert len(opened) == 1
