"""Exponents and counts of the two-step theory, in exact rational arithmetic (docs/theory.md §4).

- :func:`exponent`: ``e_k = alpha2 - k (1/2 - alpha1)``, the growth order of step-two term k;
- :func:`ratio` and :func:`paper_count`: the paper's count of new outliers (C3, Moniri &
  Hassani 2026, abstract) ``floor(alpha2 / (1/2 - alpha1))``, ``critical`` when the ratio is an
  integer;
- :func:`one_step_spike_count`: the one-step feature-matrix spike count of Moniri, Lee,
  Hassani, Dobriban (ICML 2024, arXiv 2310.07891, abstract).

Nothing here needs sympy or the Gaussian moments: :mod:`.predict` and :mod:`.amplitudes` both
import it (and :mod:`.predict` re-exports every name).
"""

from __future__ import annotations

import math
from fractions import Fraction

from .config import check_alpha, exact

__all__ = ["HALF", "exponent", "one_step_spike_count", "paper_count", "ratio"]

HALF = Fraction(1, 2)


def exponent(alpha1: float | Fraction, alpha2: float | Fraction, k: int) -> Fraction:
    """``e_k = alpha2 - k (1/2 - alpha1)``, exactly (docs/theory.md §4)."""
    return exact(alpha2) - k * (HALF - exact(alpha1))


def ratio(alpha1: float | Fraction, alpha2: float | Fraction) -> Fraction:
    """``alpha2 / (1/2 - alpha1)``, exactly."""
    a1 = exact(alpha1)
    check_alpha("alpha1", a1, alpha1)
    return exact(alpha2) / (HALF - a1)


def paper_count(alpha1: float | Fraction, alpha2: float | Fraction) -> tuple[int, bool]:
    """``(floor(alpha2 / (1/2 - alpha1)), critical)``: the paper's count of new outliers (C3).

    ``critical`` is True when the ratio is exactly an integer: then the last counted term has
    ``e_k = 0`` (a finite spike whose existence the BBP threshold decides).
    """
    r = ratio(alpha1, alpha2)
    return math.floor(r), r.denominator == 1


def one_step_spike_count(alpha: float | Fraction) -> tuple[int, bool]:
    """Number ``l`` of spikes of the one-step feature matrix for ``eta ~ N^alpha``.

    Moniri et al. (2023): ``l`` spikes for ``alpha in ((l-1)/(2l), l/(2l+2))``.  The intervals
    tile ``(0, 1/2)``; their end points ``l/(2l+2)`` are returned with ``critical=True``
    (the count is ``l`` or ``l + 1`` there).  ``alpha = 0`` (Ba et al. 2022: one spike for
    ``eta = Theta(1)``) is the left end of the first interval, also critical.
    """
    a = exact(alpha)
    check_alpha("alpha", a, alpha)
    if a == 0:
        return 1, True
    # l is the least integer with alpha < l/(2l+2)  <=>  l > 2 alpha / (1 - 2 alpha)
    bound = 2 * a / (1 - 2 * a)
    l = math.floor(bound) + 1
    return l, bound.denominator == 1
