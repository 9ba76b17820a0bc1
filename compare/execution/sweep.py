"""Sweeps: grids of simulation cells run in parallel into the result store.

A sweep runs ``simulate.run(config, N, seed, **options)`` for every cell of a
:class:`Grid` (widths N, seeds, ``(alpha1, alpha2)`` pairs, batch modes,
activations, targets) and commits each result to a :class:`Store` the moment
it arrives.  Cells already done in the store are skipped, so an interrupted or
killed sweep is resumed by running it again.  docs/claims.md asks for
measurements at several N with seeds; this module produces them.

The parts, one module each:

- :mod:`.grid`: :class:`Grid`, :func:`geometric_ns` and the seed and cell bounds;
- :mod:`.cell_checks`: :func:`check_cells`, what ``simulate.run`` would refuse, refused
  before any store or worker exists (the runner's own checks and plan);
- :mod:`.executors`: the ``"process"`` pool (recovering from dead workers), ``"dask"`` and
  ``"inline"`` executors, and :class:`Execution` (executor, jobs, scheduler, quiet);
- :mod:`.worker`: what runs in a worker (one cell, its outcome, dying with the parent);
- :mod:`.heartbeat`: the sweep's leases on its cells, kept alive and released;
- :mod:`.progress`: :class:`SweepResult` and the recorder committing each outcome.

The parent process is the only writer to the store.  Before running, a sweep
claims its cells in the store (owner, heartbeat; see :mod:`.store_leases`): a second
sweep on the same store leaves the cells claimed by a live sweep to it, waits
for them at the end and counts them as done by another sweep, and takes over
the claims of a sweep that died.  A cell is written only while this sweep still holds
its lease: one taken over meanwhile is dropped with a warning.  Pool workers die with
the sweep that started them (``PR_SET_PDEATHSIG`` on Linux, and a watchdog on the
parent's pid).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from twostep.theory.deprecation import moved_names
from twostep.theory.errors import ConfigError

from .cell import Cell
from .cell_checks import check_cells
from .executors import (
    DASK_CONNECT_TIMEOUT,
    EXECUTORS,
    Execution,
    require_dask,
)
from .grid import (
    Grid,
    geometric_ns,
)
from .heartbeat import STALE_AFTER_S, _Claims
from .progress import SweepResult, _Recorder
from .store import SharedStore, Store, check_store_path, package_version
from .store_leases import Claimed
from .worker import (
    CellFunction,
    available_cores,
    run_cell,
)

__all__ = ["Cell", "Grid", "SweepResult", "available_cores", "check_cells", "geometric_ns",
           "run_cell", "run_sweep", "EXECUTORS", "Execution"]

#: Seconds between two looks at the cells another live sweep is computing.
WAIT_POLL_S = 0.5


def run_sweep(cells: Iterable[Cell], store: Store | SharedStore | str | os.PathLike[str], *,
              executor: str = "process", jobs: int | None = None,
              scheduler: str | None = None, quiet: bool = False,
              cell_fn: CellFunction | None = None,
              on_open: Callable[[Store], None] | None = None,
              execution: Execution | None = None) -> SweepResult:
    """Run every cell not yet done in ``store``; commit each as it finishes.

    ``store`` is an open :class:`Store`, a :class:`SharedStore` (opened through it after the
    executor is up, and left open for its owner) or a path (opened, created if missing,
    after the executor is up, and closed at the end).  ``cell_fn(cell) -> dict``
    defaults to :func:`run_cell`; it must be importable by the workers (a
    module-level function).  ``on_open(store)`` is called once the store is open for
    the cells to run (not when every cell is done already).  ``execution``, if given, is
    used instead of ``executor``, ``jobs``, ``scheduler`` and ``quiet``.  Returns the counts
    and the failed cells with their errors.  Interrupting (Ctrl-C) keeps every cell already
    committed.
    """
    execution = (execution or Execution(executor, jobs, scheduler, quiet)).checked()
    cell_fn = run_cell if cell_fn is None else cell_fn
    unique = _unique(cells)
    _check_cell_fn(execution, cell_fn)
    version, done = _done_in(store)
    pending = [c for c in unique if c.key(version) not in done]
    result = SweepResult(skipped=len(unique) - len(pending))
    if not pending:
        return result  # nothing to run: no workers started, nothing written
    started = time.time()
    with contextlib.ExitStack() as stack:
        runner, recorder = _open(stack, store, execution, len(pending), result, on_open)
        _run_claimed({c.key(version): c for c in pending}, runner, cell_fn, recorder,
                     execution.quiet, started)
    order = {cell: i for i, cell in enumerate(unique)}
    result.failed.sort(key=lambda item: order[item[0]])  # grid order, not finishing order
    return result


def _unique(cells: Iterable[Cell]) -> list[Cell]:
    """The cells once each, in their first order; a non-cell or no cell is refused."""
    unique: dict[Cell, None] = {}
    for cell in cells:
        if not isinstance(cell, Cell):
            raise ConfigError(f"a sweep runs Cell objects, got {type(cell).__name__}")
        unique.setdefault(cell, None)
    if not unique:
        raise ConfigError("empty sweep: no cells to run")
    return list(unique)


def _check_cell_fn(execution: Execution, cell_fn: CellFunction) -> None:
    """Process workers need a cell function they can import; dask needs dask."""
    if execution.executor == "process":
        try:
            pickle.dumps(cell_fn)
        except Exception as err:
            raise ConfigError(f"the cell function cannot be sent to worker processes ({err}); "
                              "use a module-level function") from None
    elif execution.executor == "dask":
        require_dask()


def _done_in(store: Store | SharedStore | str | os.PathLike[str]) -> tuple[str, set[str]]:
    """The version a sweep into ``store`` keys its cells with, and the keys done there
    (a path is looked at read-only; a missing store has none)."""
    if isinstance(store, SharedStore):
        store = store.existing() or store.path
    if isinstance(store, Store):
        return store.version, store.done_keys()
    if check_store_path(store):
        with Store(store, readonly=True) as peek:
            return package_version(), peek.done_keys()
    return package_version(), set()


def _open(stack: contextlib.ExitStack, store: Store | SharedStore | str | os.PathLike[str],
          execution: Execution, total: int, result: SweepResult,
          on_open: Callable[[Store], None] | None) -> tuple[Any, _Recorder]:
    """Start the executor, open the store, the recorder and the sweep's claims on
    ``stack``; return the runner and the recorder."""
    # The executor first: a scheduler that cannot be reached stops the
    # sweep before a new store file is created.
    runner = stack.enter_context(execution.runner(DASK_CONNECT_TIMEOUT))
    if isinstance(store, SharedStore):
        store = store.get()
    elif not isinstance(store, Store):
        store = stack.enter_context(Store(store))
    if on_open is not None:
        on_open(store)
    recorder = _Recorder(store, result, total, execution.quiet)
    stack.callback(recorder.close)
    recorder.owner = stack.enter_context(_Claims(store)).owner
    return runner, recorder


def _run_claimed(by_key: dict[str, Cell], runner: Any, cell_fn: CellFunction,
                 recorder: _Recorder, quiet: bool, started: float) -> None:
    """Claim the cells, run those this sweep got, then wait for those another live sweep
    holds (taking over any whose sweep dies) until every cell is settled.  A waited-for
    cell that failed after ``started`` is counted failed, not rerun."""
    store, owner = recorder.store, recorder.owner
    got = store.claim(by_key, owner, stale_after=STALE_AFTER_S)
    recorder.result.skipped += len(got.done)  # finished since the first look
    recorder.bar.update(len(got.done))
    told = False
    while True:
        todo = [cell for key, cell in by_key.items() if key in got.mine]
        if todo:
            runner.run(todo, cell_fn, recorder)
        if not got.held:
            break
        if not told and not quiet:
            told = True
            _say_waiting(got)
        time.sleep(WAIT_POLL_S)
        got = store.claim(list(got.held), owner, stale_after=STALE_AFTER_S,
                          failed_since=started)
        recorder.elsewhere_done(len(got.done))
        for key in sorted(got.failed):
            record = store.record(key) or {}
            recorder.count_failed(by_key[key], record.get("error") or "failed in "
                                  "another sweep")


def _say_waiting(got: Claimed) -> None:
    hosts = sorted({f"{h.split('/')[0]} pid {p}" for h, p in got.held.values()})
    print(f"twostep sweep: {len(got.held)} cell(s) are being computed by another "
          f"sweep of this store ({', '.join(hosts)}); waiting for them",
          file=sys.stderr, flush=True)


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {
    "HEARTBEAT_S": "twostep.compare.execution.heartbeat",
    "MAX_CELLS": "twostep.compare.execution.grid",
    "MAX_SEEDS": "twostep.compare.execution.grid",
    "WATCHDOG_S": "twostep.compare.execution.worker",
    "check_cell_count": "twostep.compare.execution.grid",
    "check_run_inputs": "twostep.compare.execution.cell_checks",
    "check_seed_count": "twostep.compare.execution.grid",
    "error_summary": "twostep.compare.execution.worker",
})
