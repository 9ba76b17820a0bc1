"""The dask executor: an own LocalCluster, a given scheduler address, an unreachable one."""

from __future__ import annotations

import os

import _sweep_worker as worker
import pytest

from twostep.compare.execution import sweep as sweep_module
from twostep.compare.execution.grid import Grid
from twostep.compare.execution.store import Cell, Store
from twostep.compare.execution.sweep import run_sweep
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

distributed = pytest.importorskip("distributed")


def test_own_local_cluster_stores_results_and_failures(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    cells = Grid(ns=[10], seeds=4).cells()
    monkeypatch.setenv("TWOSTEP_TEST_FAIL_SEEDS", "1")  # inherited by the spawned workers
    result = run_sweep(cells, path, executor="dask", jobs=2, quiet=True,
                       cell_fn=worker.flaky_cell)
    assert (result.done, result.skipped) == (2, 0)
    errors = {c.seed: e.splitlines()[0] for c, e in result.failed}
    assert errors == {1: "ValueError: flaky cell refuses seed 1",
                      2: "NonFiniteError: non-finite value at result['outliers'][1]"}
    with Store(path) as store:
        assert store.counts() == {"done": 2, "failed": 2}
        results = dict((c.seed, r) for c, r in store.results())
        assert sorted(results) == [0, 3]
        assert all(r["pid"] != os.getpid() for r in results.values())  # ran in workers
        rows = [store.record(c.key()) for c in cells]
        assert all(r["pid"] == results[r["seed"]]["pid"] for r in rows if r["status"] == "done")
    # Everything already done or failed: the rerun only retries the failures.
    monkeypatch.setenv("TWOSTEP_TEST_FAIL_SEEDS", "")
    result = run_sweep(cells[:1], path, executor="dask", jobs=1, quiet=True,
                       cell_fn=worker.flaky_cell)
    assert (result.done, result.skipped, result.failed) == (0, 1, [])


@pytest.fixture(scope="module")
def scheduler():
    import logging

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_given_scheduler_address(tmp_path, scheduler):
    path = tmp_path / "s.db"
    cells = Grid(ns=[10, 20], seeds=2).cells()
    result = run_sweep(cells, path, executor="dask", scheduler=scheduler, quiet=True,
                       cell_fn=worker.echo_cell)
    assert (result.done, result.skipped, result.failed) == (4, 0, [])
    with Store(path) as store:
        assert sorted((c.N, c.seed) for c, _ in store.results()) == [(10, 0), (10, 1),
                                                                     (20, 0), (20, 1)]
        assert len({r["pid"] for _, r in store.results()}) == 1  # the one worker
    result = run_sweep(cells, path, executor="dask", scheduler=scheduler, quiet=True,
                       cell_fn=worker.echo_cell)
    assert (result.done, result.skipped, result.failed) == (0, 4, [])


@pytest.mark.skipif(not hasattr(__import__("twostep.simulate").simulate, "run"),
                    reason="twostep.simulate.run not written yet")
def test_one_tiny_real_cell_on_dask(tmp_path, scheduler):
    from twostep.simulate import Measurement

    cell = Cell(ModelConfig(), 64, 0, {"top": 3})
    result = run_sweep([cell], tmp_path / "s.db", executor="dask", scheduler=scheduler,
                       quiet=True)
    assert result.done == 1 and result.failed == []
    with Store(tmp_path / "s.db") as store:
        [(stored, data)] = list(store.results())
    assert stored == cell
    Measurement.from_dict(data)


def test_unreachable_scheduler_is_a_one_line_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_module, "DASK_CONNECT_TIMEOUT", "1s")
    path = tmp_path / "s.db"
    with pytest.raises(ConfigError, match="cannot reach the dask scheduler at 'tcp://127.0.0.1:9'"):
        run_sweep(Grid(ns=[10]).cells(), path, executor="dask", scheduler="tcp://127.0.0.1:9",
                  quiet=True, cell_fn=worker.echo_cell)
    assert not path.exists()
