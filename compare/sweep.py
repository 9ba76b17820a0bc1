"""Sweeps: grids of simulation cells run in parallel into the result store.

A sweep runs ``simulate.run(config, N, seed, **options)`` for every cell of a
:class:`Grid` (widths N, seeds, ``(alpha1, alpha2)`` pairs, batch modes,
activations, targets) and commits each result to a :class:`Store` the moment
it arrives.  Cells already done in the store are skipped, so an interrupted or
killed sweep is resumed by running it again.  docs/claims.md asks for
measurements at several N with seeds; this module produces them.

Executors:

- ``"process"`` (default): a ``ProcessPoolExecutor`` of ``jobs`` spawned
  workers, each limited to ``max(1, cores // jobs)`` BLAS threads so that
  workers x threads <= cores.  A cell that raises is stored as failed with its
  error.  A worker that dies (SIGKILL, out of memory) breaks the pool: the
  cell it was running is rerun alone in a fresh single-worker pool (stored as
  failed if it kills that worker too; completed if it only ran out of memory
  in company), and the other unfinished cells continue in a fresh pool.
  Workers announce each cell they start, so the dead worker's cell is known.
- ``"dask"``: a dask.distributed cluster (``scheduler`` address, or a
  ``LocalCluster`` of ``jobs`` single-threaded worker processes).  A worker
  that dies is handled by dask: the cell is retried on another worker and
  stored as failed (``KilledWorker``) once dask gives up.

The parent process is the only writer to the store.  Before running, a sweep
claims its cells in the store (owner, heartbeat; see :mod:`.store`): a second
sweep on the same store leaves the cells claimed by a live sweep to it, waits
for them at the end and counts them as done by another sweep, and takes over
the claims of a sweep that died.  Pool workers die with the sweep that started
them (``PR_SET_PDEATHSIG`` on Linux, and a watchdog on the parent's pid).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pickle
import signal
import socket
import sqlite3
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from twostep.theory.config import ModelConfig, batch_mode
from twostep.theory.errors import ConfigError, TwostepError

from .store import (
    Cell,
    Store,
    check_store_path,
    host_id,
    normalise_options,
    package_version,
    result_json,
)

__all__ = ["Cell", "Grid", "SweepResult", "available_cores", "check_cells", "geometric_ns",
           "run_cell", "run_sweep", "EXECUTORS"]

#: "inline" runs the cells one by one in the calling process: no worker start-up (small cells,
#: scripts without a ``__main__`` guard) but no protection against a cell that kills the process.
EXECUTORS = ("process", "dask", "inline")

CellFunction = Callable[[Cell], Mapping[str, Any]]

#: Most seeds per cell of a grid or a check (``--seeds``), and most cells in one sweep or
#: plan: sized before anything is built, so a typo cannot allocate gigabytes of cells.
MAX_SEEDS = 10_000
MAX_CELLS = 100_000

#: How long to wait for a dask scheduler given by address.
DASK_CONNECT_TIMEOUT = "20s"

_DASK_HINT = "the dask executor needs dask.distributed: pip install 'twostep[dask]'"

#: Seconds between two heartbeats of a sweep's claims, and the age after which a
#: claim whose owner cannot be probed (another host) is taken for dead.
HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0
#: Seconds between two looks at the cells another live sweep is computing.
WAIT_POLL_S = 0.5


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


def _peak_bytes(N: int, d: int, n: int, itemsize: int, options: Mapping[str, Any]) -> int:
    from twostep.simulate import gd, memory

    rows = gd.default_block_rows(N, n, f"float{8 * itemsize}")
    return int(memory.estimate_peak(N, d, n, itemsize, block_rows=rows, top=options["top"],
                                    spectrum=options["spectrum"],
                                    features=options["features"],
                                    terms=options.get("terms", 0))["total"])


def check_run_inputs(runs: Iterable[tuple[ModelConfig, Mapping[str, Any]]], *,
                     here: bool = True) -> None:
    """:func:`twostep.simulate.runner.check_inputs` once per distinct (config, run options):
    what ``twostep simulate`` refuses before drawing, refused (one line) before any store or
    worker exists.  ``here=False`` (the cells run on a dask scheduler's workers) leaves the
    backend to them."""
    from twostep.simulate.options import RunOptions
    from twostep.simulate.runner import check_inputs

    seen: set[tuple[str, str]] = set()
    for config, options in runs:
        key = (config.key(), json.dumps(dict(options), sort_keys=True, default=str))
        if key in seen:
            continue
        seen.add(key)
        run_options = RunOptions.from_mapping(options)
        if not here:
            run_options = run_options.replace(backend="numpy")
        check_inputs(config, run_options)


def check_cells(cells: Iterable[Cell], *, memory: bool = True, dtype_flag: str = "") -> None:
    """Refuse (one line) cells that ``simulate.run`` would refuse, once, before any work.

    Checked before a store is created or a worker started: per configuration and run
    options, what ``twostep simulate`` refuses before drawing
    (:func:`twostep.simulate.runner.check_inputs`: the spectra named, terms with a non-smooth
    activation, an activation or target the backend cannot print or evaluate, an activation
    with a jump or not finite on [-8, 8], a backend that is not installed); per width, ``top``
    singular values need ``min(N, d) >= top``, ``spectrum`` needs ``max(N, d)`` within the
    dense-SVD limit and, with ``memory`` (the cells run here, not on a dask scheduler's
    workers), the estimated peak memory of one cell (:mod:`twostep.simulate.memory`) must fit
    in the memory available here.  ``dtype_flag`` names the flag that selects float32.
    """
    from twostep.simulate import draws, spectra
    from twostep.simulate import memory as sim_memory
    from twostep.simulate.runner import FULL_SPECTRUM_LIMIT

    cells = list(cells)
    check_run_inputs(((cell.config, cell.options) for cell in cells), here=memory)
    available = sim_memory.available_bytes() if memory else None
    seen: set[tuple[Any, ...]] = set()
    for cell in cells:
        o = cell.options
        key = (cell.config.psi_d, cell.config.psi_n, cell.N, o["top"], o["dtype"],
               o["spectrum"], o["features"], o["terms"])
        if key in seen:
            continue
        seen.add(key)
        N = cell.N
        d, n = draws.dimensions(cell.config, N)
        spectra.check_width(N, d, o["top"], cell.config.psi_d, top_flag="--top")
        if o["spectrum"] and max(N, d) > FULL_SPECTRUM_LIMIT:
            raise ConfigError(f"N={N}: the whole spectrum (spectrum) needs max(N, d) <= "
                              f"{FULL_SPECTRUM_LIMIT} (dense SVD), got d={d}")
        if available is None:
            continue
        itemsize = 4 if o["dtype"] == "float32" else 8
        total = _peak_bytes(N, d, n, itemsize, o)
        if total > available:
            hint = "use smaller widths"
            if itemsize == 8 and dtype_flag and _peak_bytes(N, d, n, 4, o) <= available:
                hint += f" or {dtype_flag} float32"
            raise ConfigError(f"N={N} needs about {sim_memory.format_bytes(total)} per cell "
                              f"(estimated peak) but only {sim_memory.format_bytes(available)} "
                              f"is available; {hint}")


# -- grids ---------------------------------------------------------------------

def _positive_int(name: str, value: Any, minimum: int) -> int:
    from twostep.simulate.options import check_integer

    return check_integer(name, value, minimum)


def check_seed_count(seeds: Any, name: str = "the number of seeds") -> int:
    """A seed count in [1, :data:`MAX_SEEDS`]; else a one-line ConfigError."""
    from twostep.simulate.options import check_integer

    return check_integer(name, seeds, 1, MAX_SEEDS)


def check_cell_count(count: int, what: str = "the sweep") -> int:
    """Refuse (one line) a sweep or plan of more than :data:`MAX_CELLS` cells, before any
    cell is built."""
    if count > MAX_CELLS:
        raise ConfigError(f"{what} has {count:,} cells, more than the {MAX_CELLS:,} one run "
                          f"takes; split it into smaller runs into the same store (fewer widths, "
                          f"seeds or configurations)")
    return count


def geometric_ns(n_min: int, n_max: int, count: int) -> list[int]:
    """Widths spaced geometrically between ``n_min`` and ``n_max`` (both included).

    ``N_i = round(n_min (n_max / n_min)^(i / (count - 1)))``, ``i = 0..count-1``,
    sorted and without repeats (``500, 4000, 4 -> [500, 1000, 2000, 4000]``);
    successive-N slopes (docs/claims.md) then use equal steps in log N.
    """
    n_min = _positive_int("the smallest N", n_min, 2)
    n_max = _positive_int("the largest N", n_max, 2)
    count = _positive_int("the number of N values", count, 1)
    if n_max < n_min:
        raise ConfigError(f"the largest N ({n_max}) must be >= the smallest ({n_min})")
    if count == 1:
        if n_min != n_max:
            raise ConfigError("the number of N values must be >= 2 when the smallest and "
                              f"largest N differ ({n_min} != {n_max})")
        return [n_min]
    # geomspace returns both end points exactly; rint rounds half to even, like round()
    return [int(v) for v in np.unique(np.rint(np.geomspace(n_min, n_max, count)))]


def _listed(name: str, values: Any) -> tuple[Any, ...] | None:
    if values is None:
        return None
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        values = (values,)
    values = tuple(values)
    if not values:
        raise ConfigError(f"empty grid: no {name} given (give at least one or leave it unset)")
    return values


def _alpha_pair(value: Any) -> tuple[float, float]:
    if isinstance(value, str):
        parts = value.replace(" ", "").split(",")
    else:
        try:
            parts = list(value)
        except TypeError:
            parts = [value]
    if len(parts) != 2:
        raise ConfigError(f"an alpha pair is 'alpha1,alpha2' (two numbers in [0, 1/2)), "
                          f"got {value!r}")
    out = []
    for name, part in zip(("alpha1", "alpha2"), parts):
        try:
            out.append(float(part))
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number in [0, 1/2), got {part!r}") from None
    return out[0], out[1]


@dataclass(frozen=True, eq=False)
class Grid:
    """A product of widths, seeds and model configurations.

    ``ns``: widths (each an integer >= 2; see :func:`geometric_ns`).
    ``seeds``: a count (seeds ``0..count-1``) or a list of seeds (integers >= 0).
    ``alphas``, ``batches``, ``activations``, ``targets``: the values to vary;
    None keeps the ``base`` config's value.  ``options`` are the run options of
    ``simulate.run`` shared by every cell.  Every config is built (and so
    validated) on construction: a bad grid fails before anything runs.
    """

    ns: Sequence[int]
    seeds: int | Sequence[int] = 1
    alphas: Sequence[Any] | None = None
    batches: Sequence[str] | None = None
    activations: Sequence[str] | None = None
    targets: Sequence[str] | None = None
    base: ModelConfig = field(default_factory=ModelConfig)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.base, ModelConfig):
            raise ConfigError(f"base must be a ModelConfig, got {type(self.base).__name__}")
        ns = _listed("N values", self.ns)
        if ns is None:
            raise ConfigError("empty grid: no N values given")
        set_(self, "ns", tuple(sorted({_positive_int("N", n, 2) for n in ns})))
        if isinstance(self.seeds, Iterable):
            seeds = _listed("seeds", self.seeds)
            seeds = tuple(dict.fromkeys(_positive_int("seed", s, 0) for s in seeds))
        else:
            seeds = tuple(range(check_seed_count(self.seeds)))
        set_(self, "seeds", seeds)
        alphas = _listed("alpha pairs", self.alphas)
        set_(self, "alphas", None if alphas is None else tuple(_alpha_pair(a) for a in alphas))
        batches = _listed("batch modes", self.batches)
        if batches is not None:
            batches = tuple(batch_mode(b) for b in batches)  # fresh is read as independent
        set_(self, "batches", batches)
        set_(self, "activations", _listed("activations", self.activations))
        set_(self, "targets", _listed("targets", self.targets))
        set_(self, "options", normalise_options(self.options))
        count = 1
        for values in (self.alphas, batches, self.activations, self.targets):
            count *= len(values or (None,))
        check_cell_count(len(self.ns) * len(self.seeds) * count, "the grid")
        set_(self, "_configs", self._build_configs())

    def _build_configs(self) -> tuple[ModelConfig, ...]:
        b = self.base
        alphas = self.alphas or ((b.alpha1, b.alpha2),)
        configs: dict[str, ModelConfig] = {}
        for activation, target, batch, (alpha1, alpha2) in itertools.product(
                self.activations or (b.activation,), self.targets or (b.target,),
                self.batches or (b.batch,), alphas):
            config = b.replace(activation=activation, target=target, batch=batch,
                               alpha1=alpha1, alpha2=alpha2)
            configs.setdefault(config.key(), config)  # "tanh" twice is one config
        return tuple(configs.values())

    @property
    def configs(self) -> tuple[ModelConfig, ...]:
        """The distinct model configs, in activation, target, batch, alpha order."""
        return self._configs  # type: ignore[attr-defined]

    def cells(self) -> list[Cell]:
        """Every cell, smallest N first (then config, then seed).

        Small widths first: a sweep cut short still holds every config at the
        small N, where the successive-N trend starts.
        """
        return [Cell(config, n, seed, self.options)
                for n in self.ns for config in self.configs for seed in self.seeds]

    def __len__(self) -> int:
        return len(self.ns) * len(self.configs) * len(self.seeds)


# -- running ---------------------------------------------------------------------

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
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


@dataclass
class SweepResult:
    """What one :func:`run_sweep` did: cells computed, skipped (already done), failed."""

    done: int = 0
    skipped: int = 0
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    #: cells another sweep on the same store computed while this one ran
    elsewhere: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        total = self.done + self.skipped + self.elsewhere + len(self.failed)
        other = (f", {self.elsewhere} done by another sweep of this store"
                 if self.elsewhere else "")
        return (f"{total} cells: {self.done} done, {self.skipped} skipped (already in the "
                f"store){other}, {len(self.failed)} failed")

    def __repr__(self) -> str:
        return (f"SweepResult(done={self.done}, skipped={self.skipped}, "
                f"failed={len(self.failed)})")


class _Recorder:
    """Commits outcomes to the store (one transaction each) and moves the bar."""

    def __init__(self, store: Store, result: SweepResult, total: int, quiet: bool) -> None:
        self.store, self.result = store, result
        self.owner: str | None = None  # the sweep's claims end with each commit
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc="sweep", unit="cell", dynamic_ncols=True,
                        file=sys.stderr, disable=quiet or not _stderr_is_terminal())

    def outcome(self, cell: Cell, out: _Outcome) -> None:
        worker = (out.host, out.pid)
        if out.status == "done":
            self.store.put_result(cell, out.payload, out.elapsed, started=out.started,
                                  worker=worker, owner=self.owner)
            self.result.done += 1
        else:
            self.failure(cell, out.payload, out.elapsed, started=out.started, worker=worker)
            return
        self.bar.update(1)

    def failure(self, cell: Cell, error: str, elapsed: float | None = None,
                **where: Any) -> None:
        self.store.put_failure(cell, error, elapsed, owner=self.owner, **where)
        self.count_failed(cell, error)

    def count_failed(self, cell: Cell, error: str) -> None:
        self.result.failed.append((cell, error))
        self.bar.update(1)
        self.bar.set_postfix(failed=len(self.result.failed))

    def elsewhere_done(self, n: int) -> None:
        self.result.elsewhere += n
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _check_jobs(jobs: Any) -> int:
    if jobs is None:
        return available_cores()
    return _positive_int("jobs", jobs, 1)


def require_dask() -> None:
    """Raise a one-line :class:`ConfigError` if dask.distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError(_DASK_HINT) from None


def run_sweep(cells: Iterable[Cell], store: Store | str | os.PathLike[str], *,
              executor: str = "process", jobs: int | None = None,
              scheduler: str | None = None, quiet: bool = False,
              cell_fn: CellFunction | None = None,
              on_open: Callable[[Store], None] | None = None) -> SweepResult:
    """Run every cell not yet done in ``store``; commit each as it finishes.

    ``store`` is an open :class:`Store` or a path (opened, created if missing,
    after the executor is up, and closed at the end).  ``cell_fn(cell) -> dict``
    defaults to :func:`run_cell`; it must be importable by the workers (a
    module-level function).  ``on_open(store)`` is called once the store is open for
    the cells to run (not when every cell is done already).  Returns the counts and the
    failed cells with their errors.  Interrupting (Ctrl-C) keeps every cell already committed.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise ConfigError("a scheduler address needs executor='dask' (--executor dask)")
    jobs = _check_jobs(jobs)
    cell_fn = run_cell if cell_fn is None else cell_fn
    unique: dict[Cell, None] = {}
    for cell in cells:
        if not isinstance(cell, Cell):
            raise ConfigError(f"a sweep runs Cell objects, got {type(cell).__name__}")
        unique.setdefault(cell, None)
    if not unique:
        raise ConfigError("empty sweep: no cells to run")
    if executor == "process":
        try:
            pickle.dumps(cell_fn)
        except Exception as err:
            raise ConfigError(f"the cell function cannot be sent to worker processes ({err}); "
                              "use a module-level function") from None
    elif executor == "dask":
        require_dask()
    if isinstance(store, Store):
        done = store.done_keys()
    elif check_store_path(store):
        with Store(store, readonly=True) as peek:
            done = peek.done_keys()
    else:
        done = set()
    version = store.version if isinstance(store, Store) else package_version()
    pending = [c for c in unique if c.key(version) not in done]
    result = SweepResult(skipped=len(unique) - len(pending))
    if not pending:
        return result  # nothing to run: no workers started, nothing written
    started = time.time()
    with contextlib.ExitStack() as stack:
        # The executor first: a scheduler that cannot be reached stops the
        # sweep before a new store file is created.
        runner = (_ProcessRunner(jobs) if executor == "process"
                  else _InlineRunner() if executor == "inline"
                  else _DaskRunner(jobs, scheduler))
        stack.enter_context(runner)
        if not isinstance(store, Store):
            store = stack.enter_context(Store(store))
        if on_open is not None:
            on_open(store)
        recorder = _Recorder(store, result, len(pending), quiet)
        stack.callback(recorder.close)
        claims = stack.enter_context(_Claims(store))
        recorder.owner = claims.owner
        by_key = {c.key(version): c for c in pending}
        got = store.claim(by_key, claims.owner, stale_after=STALE_AFTER_S)
        result.skipped += len(got.done)  # finished since the look above
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
                hosts = sorted({f"{h.split('/')[0]} pid {p}" for h, p in got.held.values()})
                print(f"twostep sweep: {len(got.held)} cell(s) are being computed by another "
                      f"sweep of this store ({', '.join(hosts)}); waiting for them",
                      file=sys.stderr, flush=True)
            time.sleep(WAIT_POLL_S)
            got = store.claim(list(got.held), claims.owner, stale_after=STALE_AFTER_S,
                              failed_since=started)
            recorder.elsewhere_done(len(got.done))
            for key in sorted(got.failed):
                record = store.record(key) or {}
                recorder.count_failed(by_key[key], record.get("error") or "failed in "
                                      "another sweep")
    order = {cell: i for i, cell in enumerate(unique)}
    result.failed.sort(key=lambda item: order[item[0]])  # grid order, not finishing order
    return result


class _Claims:
    """This sweep's claims on its cells: a heartbeat thread, and their release at the end.

    The heartbeat runs in a thread of the sweep's own process (its own
    connection), so one sweep stays one writer; a sweep killed with SIGKILL
    stops beating and its claims are taken over (module docstring).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.owner = f"{host_id()}:{os.getpid()}:{uuid.uuid4().hex}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="twostep-claims", daemon=True)

    def __enter__(self) -> _Claims:
        self._thread.start()
        return self

    def _beat(self) -> None:
        # A failed beat is retried at the next one; the first failure is said on stderr (once
        # per sweep): while the beats fail, the claims age, and after STALE_AFTER_S another
        # sweep of the store may take over cells this one is still computing.
        path = str(self.store.path.resolve())
        told = False
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._renew(path)
            except sqlite3.Error as err:
                if not told:
                    told = True
                    print(f"twostep sweep: warning: cannot renew this sweep's claims in the "
                          f"store {path} ({type(err).__name__}: {err}); retrying every "
                          f"{HEARTBEAT_S:g} s, but if it keeps failing another sweep of this "
                          f"store may take over its cells after {STALE_AFTER_S:g} s",
                          file=sys.stderr, flush=True)

    def _renew(self, path: str) -> None:
        """One heartbeat: this sweep's claims stamped with the time now.  A connection per
        beat, closed at once: between beats the sweep holds only its store's own connection,
        so a sweep stopped at any moment (Ctrl-C, a second Ctrl-C cutting the join short)
        leaves no open connection and so no -wal/-shm behind."""
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?",
                         (time.time(), self.owner))
        finally:
            conn.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            self._thread.join(timeout=35.0)
        finally:  # even when a second Ctrl-C cuts the wait short
            with contextlib.suppress(sqlite3.Error):
                self.store.release(self.owner)


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

    def run(self, cells: list[Cell], cell_fn: CellFunction, recorder: _Recorder) -> None:
        queue = list(cells)
        while queue:
            queue, suspects = self._run_batch(queue, cell_fn, recorder)
            self._run_alone(suspects, cell_fn, recorder)

    def _run_batch(self, cells: list[Cell], cell_fn: CellFunction,
                   recorder: _Recorder) -> tuple[list[Cell], list[Cell]]:
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
                        outcome = _Outcome("failed", _error_text(err), time.time(), 0.0,
                                           socket.gethostname(), -1)
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
                   recorder: _Recorder) -> None:
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
                    outcome = _Outcome("failed", _error_text(err), time.time(), 0.0,
                                       socket.gethostname(), -1)
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

    def run(self, cells: list[Cell], cell_fn: CellFunction, recorder: _Recorder) -> None:
        for cell in cells:
            recorder.outcome(cell, _execute(cell_fn, cell, None))


class _DaskRunner:
    """dask.distributed executor: a given scheduler, or a LocalCluster of ``jobs``."""

    def __init__(self, jobs: int, scheduler: str | None) -> None:
        self.jobs, self.scheduler = jobs, scheduler
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
                self.client = Client(self.scheduler, timeout=DASK_CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as err:
                raise ConfigError(f"cannot reach the dask scheduler at {self.scheduler!r}: "
                                  f"{err}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(self, cells: list[Cell], cell_fn: CellFunction, recorder: _Recorder) -> None:
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

