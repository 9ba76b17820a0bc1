"""Executors of a sweep: where its cells run, and how each one's outcome comes back.

- ``"process"`` (default): a ``ProcessPoolExecutor`` of ``jobs`` spawned workers, each
  limited to ``max(1, cores // jobs)`` BLAS threads so that workers x threads <= cores.  A
  worker that dies (SIGKILL, out of memory) breaks the pool: the cell it was running is
  rerun alone in a fresh single-worker pool (stored as failed if it kills that worker too;
  completed if it only ran out of memory in company), and the other unfinished cells
  continue in a fresh pool.  Workers announce each cell they start, so the dead worker's
  cell is known (:func:`_triage`).
- ``"dask"``: a dask.distributed cluster (``scheduler`` address, or a ``LocalCluster`` of
  ``jobs`` single-threaded worker processes).  A worker that dies is handled by dask: the
  cell is retried on another worker and stored as failed (``KilledWorker``) once dask gives
  up.
- ``"inline"``: the cells one by one in the calling process: no worker start-up (small
  cells, scripts without a ``__main__`` guard) but no protection against a cell that kills
  the process.

Every runner hands each outcome to a recorder (:class:`.progress._Recorder`) in the parent
process, the only writer to the store.  :class:`Execution` gathers how a sweep runs its
cells (executor, jobs, scheduler, quiet).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from twostep.theory.errors import ConfigError, TwostepError

from .cell import Cell
from .worker import (
    CellFunction,
    _error_text,
    _execute,
    _failed_outcome,
    _init_worker,
    _Outcome,
    available_cores,
)

#: "inline" runs the cells one by one in the calling process: no worker start-up (small cells,
#: scripts without a ``__main__`` guard) but no protection against a cell that kills the process.
EXECUTORS = ("process", "dask", "inline")

#: How long to wait for a dask scheduler given by address.
DASK_CONNECT_TIMEOUT = "20s"

_DASK_HINT = "the dask executor needs dask.distributed: pip install 'twostep[dask]'"


class Recorder(Protocol):
    """Where a runner hands the outcome of each cell (:class:`.progress._Recorder`)."""

    def outcome(self, cell: Cell, out: _Outcome) -> None: ...

    def failure(self, cell: Cell, error: str) -> None: ...


def require_dask() -> None:
    """Raise a one-line :class:`ConfigError` if dask.distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError(_DASK_HINT) from None


def check_jobs(jobs: Any) -> int:
    """The number of workers: ``jobs`` (an integer >= 1), or the cores available."""
    from twostep.simulate.options import check_integer

    if jobs is None:
        return available_cores()
    return check_integer("jobs", jobs, 1)


@dataclasses.dataclass(frozen=True)
class Execution:
    """How a sweep runs its cells: ``executor`` (one of :data:`EXECUTORS`), ``jobs``
    (workers; None: the cores available), ``scheduler`` (a dask scheduler's address, with
    ``executor="dask"``) and ``quiet`` (no progress bar nor notes on stderr)."""

    executor: str = "process"
    jobs: int | None = None
    scheduler: str | None = None
    quiet: bool = False

    def checked(self) -> Execution:
        """This execution validated (one-line ConfigError), with ``jobs`` resolved."""
        if self.executor not in EXECUTORS:
            raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}; "
                              f"got {self.executor!r}")
        if self.scheduler is not None and self.executor != "dask":
            raise ConfigError("a scheduler address needs executor='dask' (--executor dask)")
        return dataclasses.replace(self, jobs=check_jobs(self.jobs))

    def runner(self, connect_timeout: str = DASK_CONNECT_TIMEOUT) -> Any:
        """A runner (context manager with ``run(cells, cell_fn, recorder)``) of a checked
        execution; nothing is started before it is entered."""
        jobs = check_jobs(self.jobs)
        if self.executor == "process":
            return _ProcessRunner(jobs)
        if self.executor == "inline":
            return _InlineRunner()
        return _DaskRunner(jobs, self.scheduler, connect_timeout)


class _ProcessRunner:
    """Process-pool executor with recovery from dead workers (module docstring)."""

    def __init__(self, jobs: int) -> None:
        import multiprocessing

        self.jobs = jobs
        self.cores = available_cores()
        # spawn: workers start clean (no inherited sqlite handle, BLAS thread
        # state or locks of the parent), the same on every OS.
        self.context = multiprocessing.get_context("spawn")
        self.pool: ProcessPoolExecutor | None = None
        # The pool's worker processes: the children of this process that appeared while
        # cells were submitted (a ProcessPoolExecutor starts its spawn workers in submit()).
        self._children_before: set[Any] = set()
        self.workers: list[Any] = []

    def __enter__(self) -> _ProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._discard_pool()

    def _discard_pool(self) -> list[Any]:
        """Stop the pool's workers now and release it; return its worker processes.

        Workers are terminated rather than asked to exit: after Ctrl-C or an
        error nothing should wait for running cells, and after a finished
        batch they are idle with every result received, while a clean exit
        (interpreter teardown with sympy loaded) takes 0.3-1 s per pool.
        Once the pool is shut down every worker has been joined, so the
        returned processes have their ``exitcode``.
        """
        pool, self.pool = self.pool, None
        workers, self.workers = self.workers, []
        if pool is None:
            return workers
        for process in workers:
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        return workers

    def _new_pool(self, workers: int, threads: int, started: Any) -> ProcessPoolExecutor:
        self._children_before = set(self.context.active_children())
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=self.context,
                                        initializer=_init_worker, initargs=(threads, started))
        return self.pool

    def _note_workers(self) -> None:
        """Record the pool's worker processes (call after submitting: submit() starts them).

        ``multiprocessing.active_children()`` lists this process's live children; those that
        were not there before the pool was made are its workers (a sweep starts no other
        processes while a pool runs).  A worker that died before this look is missed; the
        triage then treats every started unfinished cell as a suspect.
        """
        known = set(self.workers)
        self.workers += [p for p in self.context.active_children()
                         if p not in self._children_before and p not in known]

    def run(self, cells: list[Cell], cell_fn: CellFunction, recorder: Recorder) -> None:
        queue = list(cells)
        while queue:
            queue, suspects = self._run_batch(queue, cell_fn, recorder)
            self._run_alone(suspects, cell_fn, recorder)

    def _run_batch(self, cells: list[Cell], cell_fn: CellFunction,
                   recorder: Recorder) -> tuple[list[Cell], list[Cell]]:
        """Run cells in a pool; if a worker dies, return (cells to requeue, suspects)."""
        workers = min(self.jobs, len(cells))
        threads = max(1, self.cores // workers)
        started_queue = self.context.SimpleQueue()
        pool = self._new_pool(workers, threads, started_queue)
        futures = {pool.submit(_execute, cell_fn, cell, threads, token): token
                   for token, cell in enumerate(cells)}
        self._note_workers()
        started: dict[int, int] = {}  # token -> pid of the worker that took it
        finished: set[int] = set()
        broken = False
        try:
            remaining = set(futures)
            while remaining:
                ready, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                # Drain the start announcements as cells finish, so the pipe
                # never fills however long the sweep.
                while not started_queue.empty():
                    token, pid = started_queue.get()
                    started[token] = pid
                for future in ready:
                    token = futures[future]
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    except Exception as err:  # e.g. an outcome that failed to pickle
                        outcome = _failed_outcome(err)
                    finished.add(token)
                    recorder.outcome(cells[token], outcome)
        finally:
            workers = self._discard_pool()
            started_queue.close()
        if not broken:
            return [], []
        # The pool terminated the other workers (SIGTERM); the one that died otherwise is
        # the culprit.  Without exit codes every unfinished cell that had started is a suspect.
        exitcodes = {p.pid: p.exitcode for p in workers}
        return _triage(cells, started, finished, exitcodes)

    def _run_alone(self, suspects: list[Cell], cell_fn: CellFunction,
                   recorder: Recorder) -> None:
        """Rerun each suspect alone in a one-worker pool: dies again -> stored as failed."""
        pool = None
        try:
            for cell in suspects:
                if pool is None:
                    pool = self._new_pool(1, self.cores, None)
                try:
                    future = pool.submit(_execute, cell_fn, cell, self.cores)
                    self._note_workers()
                    outcome = future.result()
                except BrokenProcessPool as err:
                    self._discard_pool()
                    pool = None
                    recorder.failure(cell, f"WorkerDied: the worker process died while running "
                                           f"this cell, also when it ran alone (killed by a "
                                           f"signal or out of memory)\n\n{err!r}")
                    continue
                except Exception as err:
                    outcome = _failed_outcome(err)
                recorder.outcome(cell, outcome)
        finally:
            self._discard_pool()


def _triage(cells: list[Cell], started: dict[int, int], finished: set[int],
            exitcodes: dict[int, int | None]) -> tuple[list[Cell], list[Cell]]:
    """Split the unfinished cells of a broken pool into (requeue, suspects).

    When a worker dies the pool terminates the others (SIGTERM).  A cell that
    was running on a worker that exited some other way is a suspect; a cell
    on a terminated worker, or not started, is requeued.  When no worker can
    be singled out, every started cell is a suspect.  When no unfinished cell
    had started, none is to blame: all are requeued if the pool finished some
    cells, and the sweep stops with :class:`TwostepError` if it finished none
    (the workers cannot start), so every round makes progress.
    """
    unfinished = [t for t in range(len(cells)) if t not in finished]
    running = [t for t in unfinished if t in started]
    if not running:
        if not finished:
            raise TwostepError(
                "the worker processes died before running any cell (out of memory at start-up, "
                "or a script that calls run_sweep without an `if __name__ == '__main__':` guard)")
        return [cells[t] for t in unfinished], []  # no cell to blame: requeue them all
    terminated = -getattr(signal, "SIGTERM", 15)
    dead = {pid for pid, code in exitcodes.items() if code is not None and code != terminated}
    suspects = [t for t in running if started[t] in dead] if dead else running
    if not suspects:
        suspects = running
    return ([cells[t] for t in unfinished if t not in suspects],
            [cells[t] for t in suspects])


class _InlineRunner(contextlib.AbstractContextManager):
    """Runs cells in this process, one after the other (BLAS threads as configured)."""

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, cells: list[Cell], cell_fn: CellFunction, recorder: Recorder) -> None:
        for cell in cells:
            recorder.outcome(cell, _execute(cell_fn, cell, None))


class _DaskRunner:
    """dask.distributed executor: a given scheduler, or a LocalCluster of ``jobs``."""

    def __init__(self, jobs: int, scheduler: str | None,
                 connect_timeout: str = DASK_CONNECT_TIMEOUT) -> None:
        self.jobs, self.scheduler = jobs, scheduler
        self.connect_timeout = connect_timeout
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> _DaskRunner:
        import logging

        from distributed import Client, LocalCluster

        if self.scheduler is None:
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1,
                                        processes=True, dashboard_address=None,
                                        silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.scheduler, timeout=self.connect_timeout)
            except (OSError, TimeoutError, ValueError) as err:
                raise ConfigError(f"cannot reach the dask scheduler at {self.scheduler!r}: "
                                  f"{err}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(self, cells: list[Cell], cell_fn: CellFunction, recorder: Recorder) -> None:
        from distributed import as_completed

        # Own cluster: one single-threaded worker per job, BLAS limited like
        # the process pool.  A given scheduler's workers keep the thread
        # settings their operator chose.
        threads = max(1, available_cores() // self.jobs) if self.cluster is not None else None
        run_id = uuid.uuid4().hex[:8]
        # Readable task keys: the scheduler's log then names the cell.
        futures = {self.client.submit(_execute, cell_fn, cell, threads,
                                      key=f"twostep-N{cell.N}-seed{cell.seed}-"
                                          f"{cell.key()[:12]}-{run_id}"): cell
                   for cell in cells}
        try:
            for future in as_completed(futures):
                cell = futures[future]
                try:
                    outcome = future.result()
                except Exception as err:  # KilledWorker, CancelledError, lost scheduler
                    recorder.failure(cell, _error_text(err))
                    continue
                recorder.outcome(cell, outcome)
        finally:
            self.client.cancel(list(futures), force=True)
