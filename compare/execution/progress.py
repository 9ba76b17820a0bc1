"""A sweep's tally and progress: :class:`SweepResult`, and the recorder that commits each
outcome to the store (one transaction each) and moves the progress bar.

A cell whose lease another sweep took over (:class:`~.store_leases.LeaseLost`) is not
written: its result is dropped with a one-line warning and counted in
:attr:`SweepResult.taken_over`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from .cell import Cell
from .store import Store
from .store_leases import LeaseLost
from .worker import _Outcome


@dataclass
class SweepResult:
    """What one :func:`run_sweep` did: cells computed, skipped (already done), failed."""

    done: int = 0
    skipped: int = 0
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    #: cells another sweep on the same store computed while this one ran
    elsewhere: int = 0
    #: cells this sweep computed after another sweep had taken them over (results dropped)
    taken_over: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        total = self.done + self.skipped + self.elsewhere + self.taken_over + len(self.failed)
        other = (f", {self.elsewhere} done by another sweep of this store"
                 if self.elsewhere else "")
        if self.taken_over:
            other += (f", {self.taken_over} taken over by another sweep of this store (this "
                      f"sweep's results dropped)")
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
        if out.status != "done":
            self.failure(cell, out.payload, out.elapsed, started=out.started, worker=worker)
            return
        if self._written(self.store.put_result, cell, out.payload, out.elapsed,
                         started=out.started, worker=worker):
            self.result.done += 1
            self.bar.update(1)

    def failure(self, cell: Cell, error: str, elapsed: float | None = None,
                **where: Any) -> None:
        if self._written(self.store.put_failure, cell, error, elapsed, **where):
            self.count_failed(cell, error)

    def _written(self, put: Any, cell: Cell, *args: Any, **kwargs: Any) -> bool:
        """``put(cell, ...)`` with this sweep's lease; False (a warning said) if another
        sweep of the store took the cell over meanwhile."""
        try:
            put(cell, *args, owner=self.owner, **kwargs)
        except LeaseLost:
            self.result.taken_over += 1
            self.bar.update(1)
            self.bar.write(f"twostep sweep: warning: another sweep of the store took over "
                           f"{cell.describe()} while this one computed it (its lease had gone "
                           f"stale); this sweep's result for it is dropped", file=sys.stderr)
            return False
        return True

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
