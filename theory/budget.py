"""Time budget of one evaluation (``twostep theory`` / ``twostep hermite --time-budget``).

Used by :mod:`twostep.theory.hermite` (which exports :func:`time_budget` and the limits); it
loads no sympy, so the command line builds its ``--time-budget`` flag without it.

Inside ``with time_budget(seconds):`` every evaluation (one integrability check, one
parity decision, one coefficient, one expectation or derivative moment; nested ones
count towards the outermost) that runs longer than ``seconds`` raises
:class:`TimeBudgetError` naming it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .errors import ConfigError, TimeBudgetError

if TYPE_CHECKING:
    import sympy

#: Seconds one evaluation may take under ``twostep theory`` / ``twostep hermite`` (their
#: ``--time-budget``).  The slowest legitimate evaluation measured (a derivative moment of
#: silu at k = 9, on a loaded two-core machine) takes 1.5 s.
DEFAULT_TIME_BUDGET = 10.0
#: Largest time budget accepted (one day).
MAX_TIME_BUDGET = 86400.0

_BUDGET = threading.local()


class _Expired(BaseException):
    """Raised by the alarm inside an evaluation; a BaseException so that no
    ``except Exception`` inside sympy or mpmath can swallow it.  Turned into
    :class:`TimeBudgetError` by :func:`_evaluation`."""


def check_time_budget(seconds: object, name: str = "time budget") -> float | None:
    """``seconds`` as a float in (0, MAX_TIME_BUDGET], or None (no budget); else ConfigError."""
    if seconds is None:
        return None
    if isinstance(seconds, bool):
        raise ConfigError(f"{name} must be a number of seconds in (0, {MAX_TIME_BUDGET:g}], "
                          f"got {seconds!r}")
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds in (0, {MAX_TIME_BUDGET:g}], "
                          f"got {seconds!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIME_BUDGET):
        raise ConfigError(f"{name} must be a number of seconds in (0, {MAX_TIME_BUDGET:g}], "
                          f"got {seconds!r}")
    return value


@contextlib.contextmanager
def time_budget(seconds: float | None,
                progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Give every evaluation made inside the block (one integrability check, one
    parity decision, one coefficient, one Gaussian expectation) at most ``seconds``
    of wall time; one that runs longer raises :class:`TimeBudgetError` naming it.
    ``None`` means no budget (the library's default).  ``progress(what)`` is called
    as each evaluation starts (the CLI shows a progress bar).

    In the main thread an interval timer (SIGALRM) interrupts sympy and mpmath
    wherever they are; elsewhere the quadrature checks the clock between nodes.
    """
    seconds = check_time_budget(seconds)
    saved = (getattr(_BUDGET, "seconds", None), getattr(_BUDGET, "progress", None))
    _BUDGET.seconds, _BUDGET.progress = seconds, progress
    try:
        yield
    finally:
        _BUDGET.seconds, _BUDGET.progress = saved


def _can_alarm() -> bool:
    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def _on_alarm(signum, frame) -> None:
    if getattr(_BUDGET, "armed", False):
        raise _Expired


def _disarm(previous) -> None:
    """Stop the alarm (idempotent): a late signal finds ``armed`` False and does nothing."""
    _BUDGET.armed = False
    signal.setitimer(signal.ITIMER_REAL, 0.0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _evaluation(what: str | Callable[[], str]) -> Iterator[None]:
    """One evaluation under the current budget (:func:`time_budget`).  Nested
    evaluations belong to the outermost one: its budget, its name (``what``, or
    ``what()`` computed only for the outermost one)."""
    if getattr(_BUDGET, "deadline", None) is not None or not (
            getattr(_BUDGET, "seconds", None) or getattr(_BUDGET, "progress", None)):
        yield
        return
    if callable(what):
        what = what()
    progress = getattr(_BUDGET, "progress", None)
    if progress is not None:
        progress(what)
    seconds = getattr(_BUDGET, "seconds", None)
    if seconds is None:
        yield
        return
    alarm = _can_alarm()
    previous = None
    _BUDGET.deadline, _BUDGET.what = time.monotonic() + seconds, what
    try:
        try:
            if alarm:
                previous = signal.signal(signal.SIGALRM, _on_alarm)
                _BUDGET.armed = True
                # repeats every 0.5 s after the first expiry, in case one alarm
                # lands somewhere that cannot let it through
                signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
            yield
        finally:
            if alarm:
                _disarm(previous)
    except _Expired:
        raise TimeBudgetError(_gave_up(what, seconds)) from None
    finally:
        if alarm and getattr(_BUDGET, "armed", False):
            _disarm(previous)
        _BUDGET.deadline = None


def _evaluates(describe: Callable[..., str]):
    """Decorator: each call is one :func:`_evaluation`, named by ``describe(*args)``."""
    def decorate(fn):
        @functools.wraps(fn)
        def inner(*args):
            with _evaluation(lambda: describe(*args)):
                return fn(*args)
        return inner
    return decorate


def _gave_up(what: str, seconds: float) -> str:
    return f"gave up on {what} after {seconds:g} s (the time budget of one evaluation)"


def _check_deadline() -> None:
    """Cooperative check (threads where no alarm can be set): raise once past the deadline."""
    deadline = getattr(_BUDGET, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TimeBudgetError(_gave_up(_BUDGET.what, _BUDGET.seconds))


def _short(expr: sympy.Expr, limit: int = 60) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[:limit - 3] + "..."
