"""Cell functions and a sweep driver for the sweep tests.

They live in a module (not in the test files) so that spawned pool workers and
dask workers can import them by name.  Behaviour is steered by environment
variables, which spawned workers inherit:

- ``TWOSTEP_TEST_FAIL_SEEDS``: comma-separated seeds at which ``flaky_cell`` raises;
- ``TWOSTEP_TEST_RUN``: a label stored in each result (which run computed it);
- ``TWOSTEP_TEST_LOG``: a file where ``slow_cell`` appends "key run" per computation.
"""

from __future__ import annotations

import math
import os
import signal
import time

from twostep.compare.execution.grid import Grid
from twostep.compare.execution.sweep import run_sweep

#: The kill-and-resume grid: 24 cells of ~0.2 s each.
KILL_GRID = {"ns": [10, 20, 30], "seeds": 8}
SLEEP = 0.2


def echo_cell(cell):
    return {"N": cell.N, "seed": cell.seed, "pid": os.getpid(),
            "run": os.environ.get("TWOSTEP_TEST_RUN", "")}


def flaky_cell(cell):
    """Raises at the seeds listed in TWOSTEP_TEST_FAIL_SEEDS; seed 2 returns a NaN."""
    failing = {int(s) for s in os.environ.get("TWOSTEP_TEST_FAIL_SEEDS", "").split(",") if s}
    if cell.seed in failing:
        raise ValueError(f"flaky cell refuses seed {cell.seed}")
    if cell.seed == 2:
        return {"N": cell.N, "outliers": [1.0, math.nan]}
    return echo_cell(cell)


def suicidal_cell(cell):
    """The worker kills itself (SIGKILL, like the OOM killer) at seed 2."""
    if cell.seed == 2:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)  # never reached: SIGKILL cannot be caught
    time.sleep(0.05)
    return echo_cell(cell)


def slow_cell(cell):
    time.sleep(SLEEP)
    run = os.environ.get("TWOSTEP_TEST_RUN", "")
    log = os.environ.get("TWOSTEP_TEST_LOG")
    if log:
        # One short line per write: appends of < PIPE_BUF bytes do not interleave.
        with open(log, "a") as fh:
            fh.write(f"{cell.key()} {run}\n")
    return {"N": cell.N, "seed": cell.seed, "run": run, "computed_at": time.time()}


def kill_cells():
    return Grid(**KILL_GRID).cells()


def main(store: str) -> None:
    """The sweep the kill test starts in a subprocess (and kills)."""
    run_sweep(kill_cells(), store, jobs=2, quiet=True, cell_fn=slow_cell)
