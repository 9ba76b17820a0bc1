"""How much evidence an asymptotic verdict needs, and shared helpers of the decision rules.

- :data:`MIN_WIDTHS`, :data:`MIN_RANGE`, :func:`enough_widths`: the widths an asymptotic verdict
  (either way) is decided from;
- :func:`more_seeds`: the seeds per N that would narrow an interval to a target;
- the small formatting and interval helpers the rules share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .. import stats
from .codes import Reason

#: An asymptotic statement is decided (either way) only from at least this many widths spanning
#: at least this ratio: the "not drifting" judgement needs three local slopes, not two, and a
#: ``consistent`` needs the same evidence an ``inconsistent`` needs.
MIN_WIDTHS = 4
MIN_RANGE = 8.0
#: old names, kept for user code
MIN_WIDTHS_TO_REFUTE = MIN_WIDTHS
MIN_RANGE_TO_REFUTE = MIN_RANGE


def _fmt_list(xs: Iterable[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def _margin(a: stats.Interval, b: stats.Interval) -> float:
    """Combined 95% margin of the difference of two independent estimates."""
    return math.hypot(a.half_width, b.half_width)


def enough_widths(Ns: Sequence[int]) -> bool:
    """At least :data:`MIN_WIDTHS` widths spanning at least :data:`MIN_RANGE`."""
    Ns = sorted(Ns)
    return len(Ns) >= MIN_WIDTHS and Ns[-1] / Ns[0] >= MIN_RANGE


def _evidence_reason(Ns: Sequence[int]) -> Reason:
    """Too few usable widths ``Ns`` for an asymptotic verdict (code ``too-few-widths``)."""
    span = Ns[-1] / Ns[0] if Ns else 0.0
    return Reason("too-few-widths", count=len(Ns), span=float(span), need_widths=MIN_WIDTHS,
                  need_range=MIN_RANGE)


def _evidence_note(Ns: Sequence[int]) -> str:
    """The text of :func:`_evidence_reason`."""
    return _evidence_reason(Ns).message


def more_seeds(seeds: int, half_width: float, target: float) -> int | None:
    """Seeds per N that bring a 95% half-width measured with ``seeds`` seeds under ``target``
    (it shrinks as ``1/sqrt(seeds)``; 20% to spare), or None when unknown."""
    if not (seeds >= 1 and math.isfinite(half_width) and half_width > 0 and target > 0):
        return None
    return max(seeds + 1, math.ceil(seeds * (half_width / target) ** 2 * 1.2))

