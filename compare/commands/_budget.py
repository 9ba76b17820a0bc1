"""``--budget``: one unit, minutes, in every command (``twostep verify``, ``twostep fuzz``).

A budget is a number of minutes (``10``, ``1.5``) or a number with a unit suffix: ``10m``
(minutes) or ``600s`` (seconds).  ``twostep fuzz --budget`` took seconds before 0.4; there a
bare number over an hour is refused (the old form is likely: an old ``--budget 600``, ten
minutes, must not silently become ten hours), and ``90m`` or ``5400s`` says a long budget
plainly.
"""

from __future__ import annotations

import math

from twostep.theory.errors import ConfigError

#: A bare ``twostep fuzz --budget`` above this many minutes is taken for the old seconds form.
MAX_BARE_MINUTES = 60.0


def budget_minutes(text: object, *, flag: str = "--budget",
                   seconds_guard: bool = False) -> float | None:
    """``text`` (``"10"``, ``"10m"``, ``"600s"``; None: no budget) in minutes, finite and > 0;
    else a one-line :class:`ConfigError`.  ``seconds_guard`` refuses a bare number over
    :data:`MAX_BARE_MINUTES` (the old seconds form of ``twostep fuzz``)."""
    if text is None:
        return None
    raw = str(text).strip()
    scale, number = 1.0, raw
    if raw[-1:].lower() in ("m", "s"):
        scale = 1.0 if raw[-1].lower() == "m" else 1 / 60
        number = raw[:-1].strip()
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{flag} must be a finite number of minutes > 0, optionally with a "
                          f"unit (10, 10m, 600s), got {raw!r}")
    if seconds_guard and number == raw and value > MAX_BARE_MINUTES:
        raise ConfigError(f"{flag} is in minutes (since 0.4; it was seconds): {value:g} would "
                          f"be {_spoken(value)}; give {value / 60:g} for {_spoken(value / 60)}, "
                          f"or {value:g}m for {_spoken(value)}")
    return value * scale


def _spoken(minutes: float) -> str:
    """``600`` -> ``10 hours``, ``10`` -> ``10 minutes``."""
    if minutes >= 120:
        return f"{minutes / 60:g} hours"
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"
