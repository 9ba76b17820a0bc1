"""Sweeps: grids, the process-pool executor (failures, dead workers, kill-and-resume), the CLI.

Cell functions live in ``_sweep_worker`` so that spawned workers can import them.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _sweep_worker as worker
import pytest

from twostep.compare.cli import main
from twostep.compare.commands.sweep import build_grid
from twostep.compare.execution import executors
from twostep.compare.execution import executors as executors_module
from twostep.compare.execution import progress as progress_module
from twostep.compare.execution import sweep as sweep_module
from twostep.compare.execution.grid import Grid, geometric_ns
from twostep.compare.execution.store import Cell, Store
from twostep.compare.execution.sweep import run_sweep
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError, TwostepError

TESTS = Path(__file__).resolve().parent


# -- grids ---------------------------------------------------------------------------

def test_geometric_ns():
    assert geometric_ns(500, 4000, 4) == [500, 1000, 2000, 4000]
    assert geometric_ns(100, 100, 1) == [100]
    assert geometric_ns(2, 4, 10) == [2, 3, 4]  # rounding collisions removed
    ns = geometric_ns(300, 9000, 7)
    assert ns[0] == 300 and ns[-1] == 9000 and ns == sorted(set(ns))
    ratios = [b / a for a, b in zip(ns, ns[1:])]
    assert max(ratios) / min(ratios) < 1.01  # equal steps in log N, up to rounding
    for args, words in [((1, 10, 3), "smallest N must be an integer >= 2"),
                        ((100, 50, 3), r"largest N \(50\) must be >= the smallest"),
                        ((100, 200, 0), "number of N values must be an integer >= 1"),
                        ((100, 200, 1), "must be >= 2 when the smallest and largest N differ")]:
        with pytest.raises(ConfigError, match=words):
            geometric_ns(*args)


def test_grid_order_dedup_and_configs():
    base = ModelConfig(etabar1=2.0)
    grid = Grid(ns=[200, 100, 200], seeds=2, alphas=["0.3,0.45", (0.4, 0.4)],
                batches=["reuse", "independent"], activations=["tanh", "tanh", "relu"],
                targets=["He3(z)/sqrt(6)"], base=base, options={"dtype": "float32"})
    assert grid.ns == (100, 200) and grid.seeds == (0, 1)
    assert len(grid.configs) == 2 * 2 * 2  # activation x batch x alpha; "tanh" once
    assert all(c.etabar1 == 2.0 and c.target == ModelConfig(target="He3(z)/sqrt(6)").target
               for c in grid.configs)
    cells = grid.cells()
    assert len(cells) == len(grid) == 2 * 8 * 2
    assert cells == grid.cells()  # deterministic
    assert [c.N for c in cells] == [100] * 16 + [200] * 16  # small N first
    assert [c.seed for c in cells[:4]] == [0, 1, 0, 1]
    assert len({c.key() for c in cells}) == len(cells)
    assert all(c.options["dtype"] == "float32" for c in cells)
    assert Grid(ns=[50], seeds=[3, 1, 3]).seeds == (3, 1)


@pytest.mark.parametrize("kwargs, words", [
    ({"ns": []}, "empty grid: no N values"),
    ({"ns": [1, 100]}, "N must be an integer >= 2, got 1"),
    ({"ns": [100], "seeds": 0}, r"number of seeds must be an integer in \[1, 10000\], got 0"),
    ({"ns": [100], "seeds": []}, "empty grid: no seeds"),
    ({"ns": [100], "seeds": [-1]}, "seed must be an integer >= 0"),
    ({"ns": [100], "alphas": []}, "empty grid: no alpha pairs"),
    ({"ns": [100], "alphas": ["0.3"]}, "an alpha pair is 'alpha1,alpha2'"),
    ({"ns": [100], "alphas": ["0.3,0.5"]}, r"alpha2 must be in \[0, 1/2\)"),
    ({"ns": [100], "batches": ["sideways"]}, "batch must be one of reuse, independent"),
    ({"ns": [100], "activations": ["nosuch"]}, "activation"),
    ({"ns": [100], "targets": []}, "empty grid: no targets"),
    ({"ns": [100], "options": {"dtype": "float16"}}, "dtype must be one of float64, float32"),
])
def test_bad_grids_are_refused(kwargs, words):
    with pytest.raises(ConfigError, match=words) as info:
        Grid(**kwargs)
    assert "\n" not in str(info.value)


def test_run_sweep_refuses_bad_arguments_before_writing(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    cells = Grid(ns=[10]).cells()
    for kwargs, words in [({"executor": "spark"}, "executor must be one of process, dask"),
                          ({"jobs": 0}, "jobs must be an integer >= 1"),
                          ({"scheduler": "tcp://x:1"}, "needs executor='dask'"),
                          ({"cell_fn": lambda c: {}}, "cannot be sent to worker processes")]:
        with pytest.raises(ConfigError, match=words):
            run_sweep(cells, path, **kwargs)
    with pytest.raises(ConfigError, match="empty sweep"):
        run_sweep([], path)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'twostep\[dask\]'"):
        run_sweep(cells, path, executor="dask")
    assert not path.exists()


# -- the process pool ---------------------------------------------------------------

def test_failed_cells_are_stored_the_sweep_goes_on_and_retries(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    cells = Grid(ns=[10, 20], seeds=4).cells()
    monkeypatch.setenv("TWOSTEP_TEST_FAIL_SEEDS", "1")
    result = run_sweep(cells, path, jobs=2, quiet=True, cell_fn=worker.flaky_cell)
    # seed 1 raises, seed 2 returns a NaN: both fail, seeds 0 and 3 complete.
    assert (result.done, result.skipped, len(result.failed)) == (4, 0, 4)
    errors = {(c.N, c.seed): e.splitlines()[0] for c, e in result.failed}
    assert errors[(10, 1)] == "ValueError: flaky cell refuses seed 1"
    assert errors[(20, 2)] == "NonFiniteError: non-finite value at result['outliers'][1]"
    with Store(path) as store:
        assert store.counts() == {"done": 4, "failed": 4}
        stored = {(c.N, c.seed): e for c, e in store.failed()}
        assert stored.keys() == errors.keys()
        assert "Traceback" in stored[(10, 1)] and "flaky_cell" in stored[(10, 1)]
        first = {c.key(): store.record(c.key()) for c, _ in store.results()}

    # Rerun with seed 1 fixed: failed cells are retried, done ones are not touched.
    monkeypatch.setenv("TWOSTEP_TEST_FAIL_SEEDS", "")
    result = run_sweep(cells, path, jobs=2, quiet=True, cell_fn=worker.flaky_cell)
    assert (result.done, result.skipped, len(result.failed)) == (2, 4, 2)
    assert {(c.N, c.seed) for c, _ in result.failed} == {(10, 2), (20, 2)}
    with Store(path) as store:
        assert store.counts() == {"done": 6, "failed": 2}
        for key, row in first.items():
            assert store.record(key) == row
        retried = store.record(Cell(cells[0].config, 10, 1).key())
        assert retried["status"] == "done" and retried["attempts"] == 2


def test_a_worker_killed_inside_a_cell_fails_only_that_cell(tmp_path):
    path = tmp_path / "s.db"
    cells = Grid(ns=[10], seeds=6).cells()
    result = run_sweep(cells, path, jobs=2, quiet=True, cell_fn=worker.suicidal_cell)
    assert result.done == 5 and [c.seed for c, _ in result.failed] == [2]
    assert result.failed[0][1].startswith("WorkerDied: the worker process died")
    with Store(path) as store:
        assert store.counts() == {"done": 5, "failed": 1}
        assert sorted(c.seed for c, _ in store.results()) == [0, 1, 3, 4, 5]
        rows = store._conn.execute("SELECT count(*), count(DISTINCT key) FROM cells").fetchone()
        assert rows == (6, 6)
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


class _Outcomes:
    """Stands in for the sweep's recorder: keeps what the pool returns."""

    def __init__(self):
        self.outcomes = {}

    def outcome(self, cell, out):
        self.outcomes[cell.seed] = out


def test_the_runner_knows_its_workers_and_their_exit_codes(monkeypatch):
    # The triage needs each worker's exit code; the runner finds the pool's workers through
    # multiprocessing.active_children() (no private executor attribute).
    runner = executors._ProcessRunner(2)
    cells = Grid(ns=[10], seeds=4).cells()
    recorder = _Outcomes()
    assert runner._run_batch(cells, worker.echo_cell, recorder) == ([], [])
    assert runner.workers == [] and runner.pool is None  # discarded with the batch
    pids = {out.pid for out in recorder.outcomes.values()}
    assert sorted(recorder.outcomes) == [0, 1, 2, 3] and 1 <= len(pids) <= 2

    seen = {}

    def spy(cells, started, finished, exitcodes):
        seen.update(started=dict(started), exitcodes=dict(exitcodes))
        return real(cells, started, finished, exitcodes)

    real = executors_module._triage
    monkeypatch.setattr(executors_module, "_triage", spy)
    cells = Grid(ns=[10], seeds=3).cells()  # seed 2 kills its worker (SIGKILL)
    recorder = _Outcomes()
    requeue, suspects = runner._run_batch(cells, worker.suicidal_cell, recorder)
    assert [c.seed for c in suspects] == [2] and 2 not in recorder.outcomes
    killed = seen["started"][2]  # the pid that took seed 2
    assert seen["exitcodes"][killed] == -signal.SIGKILL
    # every other worker of the pool was terminated by it (or by the runner)
    assert all(code == -signal.SIGTERM for pid, code in seen["exitcodes"].items()
               if pid != killed)
    assert set(seen["started"].values()) <= set(seen["exitcodes"])


def test_workers_and_the_parser_load_no_sympy_or_scipy():
    """A spawned worker imports the sweep module (and a cell function's module) before its
    first cell, and ``twostep --help`` builds every parser: neither loads sympy, scipy or
    mpmath (1.5 s of imports per process; a cell that simulates loads them itself)."""
    code = ("import sys; import twostep.compare.execution.sweep; from twostep.compare.cli import "
            "build_parser; build_parser(); "
            "print(sorted(m for m in ('sympy', 'scipy', 'mpmath') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_triage_of_a_broken_pool():
    from twostep.compare.execution.executors import _triage

    cells = Grid(ns=[10], seeds=6).cells()
    # tokens 0, 1 finished; 2 ran on pid 100 (SIGKILL: -9), 3 on pid 200 (terminated by
    # the pool: -15); 4, 5 never started.
    started, finished = {0: 100, 1: 200, 2: 100, 3: 200}, {0, 1}
    requeue, suspects = _triage(cells, started, finished, {100: -9, 200: -15})
    assert suspects == [cells[2]] and requeue == [cells[3], cells[4], cells[5]]
    # No exit codes to go by: both running cells are suspects.
    requeue, suspects = _triage(cells, started, finished, {})
    assert suspects == [cells[2], cells[3]] and requeue == [cells[4], cells[5]]
    # A worker died between cells: nobody to blame, all unfinished cells go again.
    requeue, suspects = _triage(cells, {0: 1, 1: 1}, {0, 1}, {1: -9})
    assert requeue == cells[2:] and suspects == []
    # The workers died before running anything: stop rather than blame every cell.
    with pytest.raises(TwostepError, match="before running any cell"):
        _triage(cells, {}, set(), {1: 1, 2: 1})


@pytest.mark.parametrize("terminal, quiet, shown", [(True, False, True), (True, True, False),
                                                    (False, False, False)])
def test_progress_bar_only_on_a_terminal_and_not_quiet(tmp_path, capsys, monkeypatch,
                                                       terminal, quiet, shown):
    from twostep.compare.execution.progress import SweepResult, _Recorder
    from twostep.compare.execution.worker import _Outcome

    monkeypatch.setattr(progress_module, "_stderr_is_terminal", lambda: terminal)
    cells = Grid(ns=[10], seeds=2).cells()
    with Store(tmp_path / "s.db") as store:
        recorder = _Recorder(store, SweepResult(), len(cells), quiet)
        recorder.outcome(cells[0], _Outcome("done", '{"x": 1}', 0.0, 0.5, "h", 1))
        recorder.outcome(cells[1], _Outcome("failed", "ValueError: no", 0.0, 0.5, "h", 1))
        recorder.close()
        assert store.counts() == {"done": 1, "failed": 1}
    err = capsys.readouterr().err
    assert ("2/2" in err and "failed=1" in err) if shown else err == ""


def _done_rows(path):
    if not path.exists():
        return {}
    try:
        with Store(path, readonly=True) as store:
            return {c.key(): store.record(c.key()) for c, _ in store.results()}
    except (ConfigError, OSError):
        return {}  # caught between the file's creation and its first commit


@pytest.mark.slow
def test_kill_the_sweep_and_resume(tmp_path, monkeypatch):
    """SIGKILL a running sweep (parent and workers), rerun it: each cell done once."""
    path, log = tmp_path / "kill.db", tmp_path / "computations.log"
    cells = worker.kill_cells()
    total = len(cells)
    env = {**os.environ, "TWOSTEP_TEST_RUN": "first", "TWOSTEP_TEST_LOG": str(log)}
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import _sweep_worker as w; " \
           f"w.main({str(path)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # Generous deadline: interpreter and worker start-up on a loaded machine.
        deadline = time.monotonic() + 60
        while len(_done_rows(path)) < 4:
            if proc.poll() is not None:
                pytest.fail(f"the sweep ended before the kill: {proc.stdout.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("no 4 cells committed within 60 s")
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-cell
        proc.wait(timeout=30)
    before = _done_rows(path)
    assert 4 <= len(before) < total, "the kill came too late to test resuming"

    monkeypatch.setenv("TWOSTEP_TEST_RUN", "second")
    monkeypatch.setenv("TWOSTEP_TEST_LOG", str(log))
    result = run_sweep(cells, path, jobs=2, quiet=True, cell_fn=worker.slow_cell)
    assert (result.done, result.skipped, result.failed) == (total - len(before), len(before), [])

    after = _done_rows(path)
    assert set(after) == {c.key() for c in cells}
    for key, row in before.items():
        assert after[key] == row  # committed before the kill: never recomputed
    runs = collections.Counter(r["result"].split('"run": "')[1][:5] for r in after.values())
    assert runs == {"first": len(before), "secon": total - len(before)}
    computed = collections.defaultdict(list)
    for line in log.read_text().splitlines():
        key, run = line.split()
        computed[key].append(run)
    for key in before:
        assert computed[key] == ["first"]
    for key in set(after) - set(before):
        # Killed mid-cell (or finished but not yet committed): once more, once only.
        assert computed[key].count("second") == 1 and computed[key].count("first") <= 1
    with Store(path) as store:
        assert store._conn.execute("SELECT count(*), count(DISTINCT key) FROM cells"
                                   ).fetchone() == (total, total)
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.skipif(not hasattr(__import__("twostep.simulate").simulate, "run"),
                    reason="twostep.simulate.run not written yet")
def test_one_tiny_real_cell(tmp_path):
    from twostep.simulate import Measurement

    path = tmp_path / "s.db"
    cell = Cell(ModelConfig(), 64, 0, {"top": 3})
    result = run_sweep([cell], path, jobs=1, quiet=True)
    assert result.done == 1 and result.failed == []
    with Store(path) as store:
        [(stored, data)] = list(store.results())
    assert stored == cell
    Measurement.from_dict(data)


# -- the command line ---------------------------------------------------------------

def run_cli(capsys, *argv):
    try:
        code = main(["sweep", *argv])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def _bad_inputs(tmp):
    text_file = tmp / "notes.txt"
    text_file.write_text("not a store\n")
    bad_json = tmp / "bad.json"
    bad_json.write_text("{'alpha1': 0.3")
    unknown = tmp / "unknown.json"
    unknown.write_text('{"alpha1": 0.3, "width": 5}')
    out_of_range = tmp / "range.json"
    out_of_range.write_text('{"alpha1": 0.6}')
    store = str(tmp / "new.db")
    return [
        (["--store", store, "--N", "1", "100"], "N must be an integer >= 2, got 1"),
        (["--store", store, "--N", "100", "--seeds", "0"],
         "--seeds must be an integer in [1, 10000]"),
        (["--store", store, "--N-geometric", "500:100:3"], "largest N (100) must be >="),
        (["--store", store, "--N-geometric", "500-4000"], "MIN:MAX:COUNT"),
        (["--store", store, "--N", "100", "--alpha", "0.7,0.1"], "alpha1 must be in [0, 1/2)"),
        (["--store", store, "--N", "100", "--alpha", "0.3"], "an alpha pair is"),
        (["--store", store, "--N", "100", "--batch", "sideways"], "must be one of reuse"),
        (["--store", store, "--N", "100", "--activation", "nosuch"], "activation"),
        (["--store", store, "--N", "100", "--config", str(tmp / "none.json")],
         "cannot read --config"),
        (["--store", store, "--N", "100", "--config", str(bad_json)], "not valid JSON"),
        (["--store", store, "--N", "100", "--config", str(unknown)],
         "unknown config field(s) width; allowed: activation"),
        (["--store", store, "--N", "100", "--config", str(out_of_range)],
         "alpha1 must be in [0, 1/2)"),
        (["--store", store, "--N", "100", "--dtype", "float16"], "dtype must be one of"),
        (["--store", store, "--N", "100", "--top", "0"], "top must be an integer >= 1"),
        (["--store", store, "--N", "100", "--jobs", "0"], "--jobs must be an integer >= 1"),
        (["--store", store, "--N", "100", "--executor", "spark"],
         "argument --executor: invalid choice: 'spark' (choose from 'process', 'dask', "
         "'inline')"),
        (["--store", store, "--N", "100", "--scheduler", "tcp://h:1"], "needs --executor dask"),
        (["--store", store, "--N", "x"], "invalid int value"),
        (["--store", store], "one of the arguments --N --N-geometric is required"),
        (["--store", str(tmp / "nodir" / "s.db"), "--N", "100"], "does not exist"),
        (["--store", str(tmp), "--N", "100"], "is a folder"),
        (["--store", str(text_file), "--N", "100"], "not an SQLite database"),
    ]


def test_cli_bad_inputs_exit_2_with_one_line_and_write_nothing(tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for argv, words in cases:
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert words in err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and out == "", (argv, out, err)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # no store created, the text file untouched


def test_cli_grid_flags(tmp_path):
    from twostep.compare.cli import build_parser

    config = tmp_path / "base.json"
    config.write_text('{"etabar1": 3, "psi_d": 0.5}')
    args = build_parser().parse_args([
        "sweep", "--store", "x.db", "--config", str(config), "--N-geometric", "500:4000:4",
        "--seeds", "3", "--alpha", "0.3,0.45", "0.4,0.4", "--batch", "reuse", "independent",
        "--activation", "tanh", "relu", "--target", "He1", "--dtype", "float32", "--top", "5"])
    grid = build_grid(args)
    assert grid.ns == (500, 1000, 2000, 4000) and grid.seeds == (0, 1, 2)
    assert len(grid.configs) == 8
    assert all(c.etabar1 == 3.0 and c.psi_d == 0.5 for c in grid.configs)
    assert grid.options["dtype"] == "float32" and grid.options["top"] == 5
    assert len(grid.cells()) == 4 * 8 * 3


def test_cli_reports_failures_and_exits_1(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.db"
    # The default cell function, replaced by one workers can import by name.
    monkeypatch.setattr(sweep_module, "run_cell", worker.flaky_cell)
    monkeypatch.setenv("TWOSTEP_TEST_FAIL_SEEDS", "1")
    code, out, err = run_cli(capsys, "--store", str(store), "--N", "10", "--seeds", "4",
                             "--jobs", "2", "--quiet")
    assert code == 1
    assert "4 cells: 2 done, 0 skipped (already in the store), 2 failed" in out
    assert "N=10, seed=1: ValueError: flaky cell refuses seed 1" in out
    assert "N=10, seed=2: NonFiniteError: non-finite value at result['outliers'][1]" in out
    assert err == ""  # --quiet, and no progress bar off a terminal

    monkeypatch.setattr(sweep_module, "run_cell", worker.echo_cell)
    code, out, _ = run_cli(capsys, "--store", str(store), "--N", "10", "--seeds", "4",
                           "--jobs", "2", "--quiet")
    assert code == 0
    assert "4 cells: 2 done, 2 skipped (already in the store), 0 failed" in out
