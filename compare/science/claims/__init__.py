"""Claims: a prediction, a measured statistic and a decision rule -> a ``Verdict``.

A claim names the simulations it needs (:meth:`Claim.configs`, run options) and turns the
measurements into :class:`Finding` s.  Each finding carries raw p-values; the runner adjusts all
p-values of one run together (Benjamini-Hochberg, :func:`stats.adjust_pvalues`) and only then
lets each finding decide, so a run that tests many terms and claims does not find deviations by
multiple testing.

Decision rules (docs/claims.md has the long form):

- exponent (``growth-exponent``, ``term-exponent``, user :class:`ExponentClaim`): ``consistent``
  needs the prediction inside the bootstrap CI of the log-log fit *and* inside the CI of the last
  local slope, the fit CI no wider than the tolerance, and the signal above its null floor at the
  largest N.  ``inconsistent`` needs the fit and the last local slope to deviate significantly
  (adjusted p < level) with a deviation that is not shrinking across the last local slopes.
  Both need the same evidence: at least :data:`MIN_WIDTHS` usable widths spanning
  :data:`MIN_RANGE`.  Everything else is ``inconclusive`` with its reason (``blocked`` where
  the regime guard leaves no width: the theory does not apply there).
- limit (``bbp``, user :class:`LimitClaim`): the per-N mean converges to the prediction; the
  same structure with a tolerance band instead of a slope, decided at the last two N both ways.
- the count, left-vector, reuse-gap and one-step-spike claims combine these tests as their
  docstrings say.

The regime guard (docs/claims.md): every statement about step-two terms -- the built-in
step-two claims and any user claim whose statistic reads a step-two quantity -- is decided only
at the N where the measured series of exact terms converges (the relative residual
``||U - sum_{k<=K} T_k|| / ||U||`` of every seed at most ``simulate.terms.SERIES_TOLERANCE``).
At the other N the expansion that defines the terms diverges and they support neither
``consistent`` nor ``inconsistent``.  A user claim may turn the guard off (``guard=False``);
its verdict then says so.

The package's modules:

- ``results``: :class:`Results`, :class:`Verdict`, :class:`Finding` (data: a rule's name and
  inputs), :class:`Outcome`, :func:`decide_all` (BH, each test once by its key);
- ``rules``: the exponent and limit rules, the null floor and the regime guard;
- ``base``: the :class:`Claim` base class, its fuzzing :class:`Domain`, measurement helpers;
- ``user``: :class:`ExponentClaim`, :class:`LimitClaim`;
- ``growth``, ``bbp``, ``count``, ``vectors``, ``reuse``, ``amplitude``, ``spikes``: the
  built-in claims, one family each;
- ``registry``: the named claims (:func:`register`, :func:`get_claim`), starting from the
  explicit list of the built-in ones.
"""

from .amplitude import (
    AMPLITUDE_TOLERANCE,
    EDGE_MARGIN,
    LOCATION_UNITS,
    OutlierLocations,
    TermAmplitudeClaim,
)
from .base import Claim, Domain
from .bbp import BBP, BBP_PSI_D
from .codes import TEMPLATES, Reason, Status
from .count import OutlierCount
from .data import FindingExtra, Interval, PValue, PValues, RuleInputs
from .growth import GrowthExponent, TermExponent
from .learning import ReuseLearning
from .registry import (
    BUILTIN_CLAIMS,
    check_claim_name,
    claim_names,
    get_claim,
    register,
)
from .results import (
    LEVEL,
    RULES,
    STATUSES,
    VERDICT_KEYS,
    ConfidenceInterval,
    Finding,
    Outcome,
    Results,
    Verdict,
    decide_all,
    family,
    register_rule,
)
from .reuse import TREND_MIDPOINT, ReuseGap
from .rules import (
    GUARD_TERMS,
    MIN_RANGE,
    MIN_RANGE_TO_REFUTE,
    MIN_TERM_SHARE,
    MIN_WIDTHS,
    MIN_WIDTHS_TO_REFUTE,
    STEP_TWO_FIELDS,
    STEP_TWO_SPECTRA,
    Regime,
    TermShare,
    enough_widths,
    exponent_finding,
    extrapolated_limit_finding,
    floor_corrected,
    guard_terms,
    limit_finding,
    measured_regime,
    term_share,
)
from .spikes import SPIKE_EXPONENT_MARGIN, OneStepSpikes
from .user import ExponentClaim, LimitClaim
from .vectors import LeftVectors

__all__ = [
    "AMPLITUDE_TOLERANCE", "EDGE_MARGIN", "LOCATION_UNITS", "RULES", "VERDICT_KEYS",
    "ConfidenceInterval", "Outcome", "family", "register_rule", "extrapolated_limit_finding",
    "FindingExtra", "Interval", "PValue", "PValues", "Reason", "RuleInputs", "Status",
    "TEMPLATES",
    "BBP", "BBP_PSI_D", "BUILTIN_CLAIMS", "GUARD_TERMS", "LEVEL",
    "MIN_RANGE", "MIN_RANGE_TO_REFUTE", "MIN_TERM_SHARE", "MIN_WIDTHS", "MIN_WIDTHS_TO_REFUTE",
    "SPIKE_EXPONENT_MARGIN", "STATUSES", "STEP_TWO_FIELDS", "STEP_TWO_SPECTRA", "TREND_MIDPOINT",
    "Claim", "Domain", "ExponentClaim", "Finding", "GrowthExponent", "LeftVectors", "LimitClaim",
    "OneStepSpikes", "OutlierCount", "OutlierLocations", "Regime", "Results", "ReuseGap",
    "ReuseLearning",
    "TermAmplitudeClaim", "TermExponent", "TermShare", "Verdict", "check_claim_name",
    "claim_names", "decide_all", "enough_widths", "exponent_finding", "floor_corrected",
    "get_claim", "guard_terms", "limit_finding", "measured_regime", "register", "term_share",
]
