"""The generic decision rules: the exponent and limit rules, the null floor, the regime guard.

- exponent (:func:`exponent_finding`): ``consistent`` needs the prediction inside the bootstrap
  CI of the log-log fit *and* inside the CI of the last local slope, the fit CI no wider than
  the tolerance, and the signal above its null floor at the largest N.  ``inconsistent`` needs
  the fit and the last local slope to deviate significantly (adjusted p < level) with a
  deviation that is not shrinking across the last local slopes.  Both need the same evidence:
  at least :data:`MIN_WIDTHS` usable widths spanning :data:`MIN_RANGE`.  Everything else is
  ``inconclusive`` with its reason.
- limit (:func:`limit_finding`, rule ``"limit"``): the per-N mean converges to the prediction;
  the same structure with a tolerance band instead of a slope, decided at the last two usable N
  both ways; the verdict's statistic and interval are those of the largest usable N.
- extrapolated limit (:func:`extrapolated_limit_finding`, rule ``"extrapolated-limit"``): the
  limit ``r_inf`` of ``r(N) = r_inf + c N^{-1/2}`` fitted across N, against a band.
- the regime guard (:class:`Regime`, :func:`measured_regime`): a statement about step-two terms
  is decided only at the N where the measured series of exact terms converges (docs/claims.md).

The rules live in modules by concern, and this module re-exports them (every name code imported
from it before the split): :mod:`.evidence` (the widths a verdict needs, shared helpers),
:mod:`.guard` (the regime guard), :mod:`.exponent`, :mod:`.limit` and :mod:`.extrapolated` (the
rules, the last two registered as data rules on import).
"""

from __future__ import annotations

from .evidence import (
    MIN_RANGE,
    MIN_RANGE_TO_REFUTE,
    MIN_WIDTHS,
    MIN_WIDTHS_TO_REFUTE,
    _evidence_note,
    _fmt_list,
    _margin,
    enough_widths,
    more_seeds,
)
from .exponent import _exponent_need, exponent_finding, floor_corrected
from .extrapolated import (
    EXTRAPOLATION_RANGE,
    EXTRAPOLATION_WIDTHS,
    _extrapolate,
    decide_extrapolated_limit,
    extrapolated_limit_finding,
)
from .guard import (
    GUARD_TERMS,
    MIN_TERM_SHARE,
    NO_SERIES,
    STEP_TWO_FIELDS,
    STEP_TWO_FROM,
    STEP_TWO_SPECTRA,
    Regime,
    TermShare,
    _usable,
    guard_clause,
    guard_terms,
    measured_regime,
    regime_from_dict,
    regime_to_dict,
    term_share,
)
from .limit import _outside_pvalue, _per_N_value, decide_limit, limit_finding

__all__ = [
    "EXTRAPOLATION_RANGE", "EXTRAPOLATION_WIDTHS", "GUARD_TERMS", "MIN_RANGE",
    "MIN_RANGE_TO_REFUTE", "MIN_TERM_SHARE", "MIN_WIDTHS", "MIN_WIDTHS_TO_REFUTE", "NO_SERIES",
    "STEP_TWO_FIELDS", "STEP_TWO_FROM", "STEP_TWO_SPECTRA", "Regime", "TermShare",
    "_evidence_note", "_exponent_need", "_extrapolate", "_fmt_list", "_margin",
    "_outside_pvalue", "_per_N_value", "_usable", "decide_extrapolated_limit", "decide_limit",
    "enough_widths", "exponent_finding", "extrapolated_limit_finding", "floor_corrected",
    "guard_clause", "guard_terms", "limit_finding", "measured_regime", "more_seeds",
    "regime_from_dict", "regime_to_dict", "term_share",
]
