"""The execution side of a sweep: a taken-over cell's result is dropped with a warning, the
Execution record, and the size check by the runner's own plan."""

from __future__ import annotations

import time

import pytest

from twostep.compare.execution.cell_checks import check_cells
from twostep.compare.execution.executors import Execution
from twostep.compare.execution.grid import Grid
from twostep.compare.execution.store import Store
from twostep.compare.execution.sweep import run_sweep
from twostep.theory.errors import ConfigError

STORE: list = []


def _taken_over_cell(cell):
    """Seed 1 is taken over by "another sweep" while this one computes it: its lease goes
    stale on "another host", the other sweep claims the cell and writes its own result."""
    if cell.seed == 1:
        with Store(STORE[0]) as other:
            other._conn.execute("UPDATE claims SET host = 'elsewhere', heartbeat = ? "
                                "WHERE key = ?", (time.time() - 3600, cell.key()))
            assert other.claim([cell.key()], "other", stale_after=120.0).mine == {cell.key()}
            other.put_result(cell, {"by": "other"}, 0.1, owner="other")
    return {"by": "this"}


def test_a_taken_over_cells_result_is_dropped_with_a_warning(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    STORE[:] = [path]
    cells = Grid(ns=[10], seeds=3).cells()
    result = run_sweep(cells, path, executor="inline", quiet=True, cell_fn=_taken_over_cell)
    assert (result.done, result.taken_over, result.failed) == (2, 1, [])
    assert "3 cells: 2 done" in result.summary() and "1 taken over" in result.summary()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(warnings) == 1 and "seed=1" in warnings[0] and "dropped" in warnings[0]
    with Store(path, readonly=True) as s:
        assert {c.seed: r["by"] for c, r in s.results()} == {0: "this", 1: "other", 2: "this"}
        assert s.claims() == [] and s.record(cells[1].key())["attempts"] == 1


def _echo(cell):
    return {"seed": cell.seed}


def test_an_execution_record_replaces_the_keywords(tmp_path):
    cells = Grid(ns=[10], seeds=2).cells()
    result = run_sweep(cells, tmp_path / "s.sqlite", cell_fn=_echo,
                       execution=Execution(executor="inline", quiet=True))
    assert result.done == 2
    assert Execution(executor="inline", jobs=None).checked().jobs >= 1
    assert Execution(jobs=3).checked() == Execution(jobs=3)
    with pytest.raises(ConfigError, match="executor must be one of"):
        run_sweep(cells, tmp_path / "t.sqlite", execution=Execution(executor="threads"))
    with pytest.raises(ConfigError, match="needs executor='dask'"):
        Execution(scheduler="tcp://127.0.0.1:9").checked()
    with pytest.raises(ConfigError, match="jobs"):
        Execution(jobs=0).checked()
    assert not (tmp_path / "t.sqlite").exists()


def test_the_size_check_is_the_runners_plan():
    # the whole spectrum needs a dense SVD: refused by the runner's plan, before any work
    cells = Grid(ns=[9000], options={"spectrum": True}).cells()
    with pytest.raises(ConfigError, match=r"spectrum=True needs max\(N, d\) <= 8000"):
        check_cells(cells, memory=False)
    # the width check names the sweep's flag
    with pytest.raises(ConfigError, match="--top <= 9"):
        check_cells(Grid(ns=[9]).cells(), memory=False)
    check_cells(Grid(ns=[20, 40], seeds=2, activations=["tanh", "relu"]).cells())
