"""What runs in a sweep's worker: one cell, its outcome, and the worker's set-up.

:func:`_execute` runs one cell and returns an :class:`_Outcome` (plain data: cheap to
pickle); any exception becomes a failed outcome.  :func:`_init_worker` sets up a pool
worker: it dies with the sweep that started it (``PR_SET_PDEATHSIG`` on Linux, and a
watchdog on the parent's pid), limits its BLAS threads and announces each cell it starts.
This module loads neither sympy nor scipy: a worker imports it before its first cell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from .cell import Cell, result_json

CellFunction = Callable[[Cell], Mapping[str, Any]]


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def run_cell(cell: Cell) -> dict[str, Any]:
    """The default cell function: ``simulate.run(config, N, seed, **options).to_dict()``."""
    from twostep.simulate import run

    return run(cell.config, cell.N, cell.seed, **cell.options).to_dict()



class _Outcome(NamedTuple):
    """What a worker sends back for one cell (plain data: cheap to pickle)."""

    status: str            # "done" or "failed"
    payload: str           # result JSON, or the error text
    started: float         # wall-clock start (time.time())
    elapsed: float         # seconds
    host: str
    pid: int


def _error_text(err: BaseException) -> str:
    """``"Type: message"`` on the first line, then the traceback."""
    message = str(err).strip() or "(no message)"
    head = f"{type(err).__name__}: {message}"
    tail = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return f"{head}\n\n{tail.rstrip()}"


def error_summary(error: str) -> str:
    """The first line of a stored error text."""
    return error.splitlines()[0] if error else "(no message)"



def _failed_outcome(err: BaseException) -> _Outcome:
    """The outcome of a cell whose worker's answer could not be had (parent side)."""
    return _Outcome("failed", _error_text(err), time.time(), 0.0, socket.gethostname(), -1)


@contextlib.contextmanager
def _blas_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def _execute(cell_fn: CellFunction, cell: Cell, threads: int | None,
             token: int | None = None) -> _Outcome:
    """Run one cell in a worker; any exception becomes a failed outcome."""
    if token is not None and _STARTED is not None:
        _STARTED.put((token, os.getpid()))
    started, t0 = time.time(), time.perf_counter()
    try:
        with _blas_threads(threads):
            result = cell_fn(cell)
        status, payload = "done", result_json(result)
    except Exception as err:  # a failed cell is data; the sweep goes on
        status, payload = "failed", _error_text(err)
    return _Outcome(status, payload, started, time.perf_counter() - t0,
                    socket.gethostname(), os.getpid())


#: In a pool worker: where it announces each cell it starts (a SimpleQueue).
_STARTED: Any = None

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


#: PR_SET_PDEATHSIG of <linux/prctl.h>
_PR_SET_PDEATHSIG = 1
#: Seconds between two looks of a worker's watchdog at its parent.
WATCHDOG_S = 0.5


def _die_with_parent() -> None:
    """Make this worker exit when the sweep that started it dies (even by SIGKILL).

    Linux: the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``).
    Everywhere: a watchdog thread exits the worker once its parent changes
    (a dead parent's children are re-parented).  Without the workers, the
    multiprocessing resource tracker sees its pipe close and exits too.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent or parent == 1:  # the parent died before the prctl
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="twostep-parent-watchdog", daemon=True).start()


def _init_worker(threads: int, started: Any) -> None:
    """Pool initializer: die with the parent, BLAS thread limit, the start announcements."""
    global _STARTED
    _die_with_parent()
    _STARTED = started
    # The variables cover BLAS libraries loaded later (scipy's own copy);
    # threadpoolctl those loaded already.
