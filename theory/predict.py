"""Predictions of the two-step theory for one configuration (docs/theory.md §3-§5).

``predict(config) -> Prediction``.  What is computed, and from where:

- Step two (docs/theory.md §4): ``W_2 - W_1 = sum_k eta_2 eta_1^k a^{o(k+1)} v_k^T / k! + noise``;
  term k has operator norm of order ``N^{e_k}``, ``e_k = alpha2 - k (1/2 - alpha1)``
  (:func:`exponent`).  Term 0 has left vector ``a`` and merges with the step-one spike;
  term ``k >= 1`` is a new outlier iff ``e_k >= 0`` (``e_k = 0``: finite, BBP decides).
- The paper's count (C3, Moniri & Hassani 2026, abstract) ``floor(alpha2 / (1/2 - alpha1))``
  in exact rational arithmetic (:func:`paper_count`); ``critical`` when the ratio is an integer.
- The activation-aware count: term k is dropped when its leading coefficient vanishes:
  independent batch ``c_{k+1}(sigma) = 0``; reused batch ``E[sigma^{(k+1)} sigma'^m] = 0`` for every
  ``m <= k`` (docs/theory.md §4).  For non-smooth activations the reuse moments with ``m >= 1`` are
  undefined, and so may be the term.
- Which terms carry beta_* (docs/theory.md §5): independent iff ``c_1(sigma_*) != 0``; reuse iff
  some ``m <= k`` has ``E[sigma^{(k+1)} sigma'^m] != 0`` and ``E[z sigma_*^{m+1}] != 0`` (the
  self-term of the reused sample brings ``r^m`` with ``sigma'(h)^m``).
- Step one (docs/theory.md §3): ``||u||^2 -> c_1(sigma_*)^2 + (psi_d/psi_n)(E sigma_*^2 + tau^2)``,
  ``theta = etabar_1 |c_1(sigma)| ||u||``; for ``alpha1 = 0`` the BBP spike (:mod:`.bbp`).
- The one-step feature-matrix spike count of Moniri, Lee, Hassani, Dobriban (ICML 2024,
  arXiv 2310.07891, abstract): ``l`` spikes for ``alpha in ((l-1)/(2l), l/(2l+2))``
  (:func:`one_step_spike_count`).

The observables (the step-one spike, the outliers, beta_* learning, the feature-matrix spikes)
are the types of :mod:`.observables`, with the field names a measurement uses.

Only the canonical scaling of docs/model.md has predictions; other scalings are refused.  The
second layer's law (``config.second_layer``, :mod:`.laws`) leaves the exponents and the counts
unchanged; the finite-N constants of :mod:`.amplitudes` use its moments, and a prediction notes a
law other than the Gaussian.  The ``sign`` law is refused (its powers are collinear: the
step-two terms merge).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import sympy

from twostep.theory.deprecation import moved_names

from . import budget, hermite
from .bbp import spike
from .config import ModelConfig
from .counts import exponent, one_step_spike_count, paper_count, ratio
from .errors import ConfigError
from .functions import Z, parse_function
from .laws import predictable as predictable_law
from .observables import BetaLearning, FeatureSpikes
from .prediction import (
    BBPModel,
    Prediction,
    StepOneScaling,
    Term,
)
from .records import ActivationInfo, Coefficient, TargetInfo

# -- result objects -----------------------------------------------------------------------------

def _coefficient(label: str, v: hermite.Value) -> Coefficient:
    return Coefficient(label=label, value=float(v) if v.defined else None,
                       exact=bool(v.exact) if v.defined else False, defined=bool(v.defined),
                       zero=bool(v.is_zero) if v.defined else None)


# -- the prediction -----------------------------------------------------------------------------

#: Terms a prediction computes at most (alpha1 near 1/2 makes the paper count explode).
MAX_TERMS = 16


def _growth(e: Fraction) -> str:
    return "diverging" if e > 0 else ("critical" if e == 0 else "vanishing")


class _Coefficients:
    """The coefficients that lead term k (docs/theory.md §4), evaluated on demand in order of
    m: ``c_{k+1}(sigma)`` (independent batch) or ``E[sigma^(k+1) sigma'^m]``, ``m <= k``
    (reused batch).  Only those a decision needs are computed (the first nonzero one decides
    the presence); :meth:`evaluated` lists them."""

    def __init__(self, act: str, k: int, reuse: bool) -> None:
        self.act, self.k, self.reuse = act, k, reuse
        self.labels = ([f"c_{k + 1}(sigma)"] if not reuse else
                       [f"E[sigma^({k + 1}) sigma'^{m}]" for m in range(k + 1)])
        self._values: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def get(self, m: int) -> Any:
        if m not in self._values:
            self._values[m] = (hermite.coefficient(self.act, self.k + 1) if not self.reuse
                               else hermite.derivative_moment(self.act, self.k, m))
        return self._values[m]

    def evaluated(self) -> list[tuple[int, str, Any]]:
        return [(m, self.labels[m], self._values[m]) for m in sorted(self._values)]


def _activation_coefficients(act: str, k: int, reuse: bool) -> _Coefficients:
    """The coefficients that lead term k, evaluated on demand (:class:`_Coefficients`)."""
    return _Coefficients(act, k, reuse)


def _not_computed(v: Any) -> bool:
    return not v.defined and v.cause == hermite.NOT_COMPUTED_CAUSE


def _presence(coefs: _Coefficients, reuse: bool) -> tuple[bool | None, str]:
    for m in range(len(coefs)):
        v = coefs.get(m)
        if v.defined and not v.is_zero:
            return True, f"{coefs.labels[m]} != 0"
    undefined = [(lab, v) for _, lab, v in coefs.evaluated() if not v.defined]
    if undefined:
        skipped = [lab for lab, v in undefined if _not_computed(v)]
        distributions = [lab for lab, v in undefined if not _not_computed(v)]
        parts = []
        if distributions:
            parts.append(f"{', '.join(distributions)} undefined for a non-smooth activation")
        if skipped:
            parts.append(f"{', '.join(skipped)} not computed (symbolic derivatives stop at "
                         f"order {hermite.MAX_DERIVATIVE_ORDER} for a non-polynomial "
                         "activation)")
        return None, " and ".join(parts) + " and every defined coefficient is 0"
    if reuse:
        return False, f"E[sigma^({len(coefs)}) sigma'^m] = 0 for every m <= {len(coefs) - 1}"
    return False, f"{coefs.labels[0]} = 0"


def _target_moment(target_expr: sympy.Expr, j: int) -> Any:
    """``E[z sigma_*(z)^j]`` (docs/theory.md §5)."""
    return hermite.expectation(sympy.expand(Z * target_expr**j))


def predict(config: ModelConfig, *, max_terms: int | None = None) -> Prediction:
    """The two-step predictions for ``config`` (see the module docstring for the formulas).

    Bounded work: at most :data:`MAX_TERMS` + 1 terms (alpha1 near 1/2 makes the paper count
    explode; beyond it the activation-aware count is not enumerated), and symbolic derivatives
    up to :data:`twostep.theory.hermite.MAX_DERIVATIVE_ORDER` only.  Each evaluation runs under
    the current :func:`twostep.theory.hermite.time_budget`, or
    :data:`twostep.theory.hermite.DEFAULT_TIME_BUDGET` seconds when none is set (every
    command that predicts gives up with one line rather than hang).
    """
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"predict takes a ModelConfig, got {type(config).__name__}")
    if budget._BUDGET.__dict__.get("seconds") is None:
        with hermite.time_budget(hermite.DEFAULT_TIME_BUDGET,
                                 budget._BUDGET.__dict__.get("progress")):
            return _predict(config, max_terms=max_terms)
    return _predict(config, max_terms=max_terms)


def _predict(config: ModelConfig, *, max_terms: int | None = None) -> Prediction:
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"predict takes a ModelConfig, got {type(config).__name__}")
    if config.scaling != "canonical":
        raise ConfigError(
            f"predictions exist for the canonical scaling only (docs/model.md); this config is "
            f"{config.scaling}: use first_layer=gaussian, loss=squared")
    law = predictable_law(config.second_layer)
    a1, a2 = config.exact("alpha1"), config.exact("alpha2")
    r = ratio(a1, a2)
    count, critical = paper_count(a1, a2)
    last = max(count + 1, 2) if max_terms is None else max_terms
    capped = last > MAX_TERMS  # alpha1 near 1/2: the count explodes; each term costs moments
    last = min(last, MAX_TERMS)
    notes: list[str] = []
    if law.name != "gaussian":
        notes.append(f"assumes the {law.describe()}: exponents and counts as for any law; the "
                     "finite-N constants (amplitudes, spike strengths, locations, crossing "
                     "widths) use its moments (docs/model.md, The second layer's law)")
    target_info, activation_info = _target_info(config.target), _activation_info(config)
    laws = _laws(config, last)
    aware, aware_reason = _aware_count(laws, count, last, capped)
    beta = _beta_learning(laws, config, target_info)
    step_one, bbp = _step_one(config, target_info, activation_info)
    if activation_info.c1 == 0:
        notes.append("c_1(sigma) = 0: no step-one spike; term 0 of step two is absent too")
    if capped:
        notes.append(f"alpha1 near 1/2: only terms k = 0..{last} of the paper count {count} are "
                     f"computed (at most {MAX_TERMS})")
    if critical:
        notes.append(f"alpha2/(1/2 - alpha1) = {r} is an integer: term k={int(r)} has e_k = 0 "
                     "(finite spike; the BBP threshold decides whether it is an outlier)")
    return Prediction(
        config=config, step_one_exponent=float(a1), ratio=r,
        paper_count=count, critical=critical, aware_count=aware,
        aware_count_reason=aware_reason, laws=laws,
        bulk_edge=1.0 + math.sqrt(1.0 / config.psi_d),
        step_one=step_one, bbp=bbp, beta=beta, activation=activation_info, target=target_info,
        features=_features(a1), notes=tuple(notes))


def _target_info(tgt: str) -> TargetInfo:
    """The target's functionals (``Prediction.target``)."""
    tgt_fn = parse_function(tgt)
    reuse = hermite.reuse_exponent(tgt)
    return TargetInfo(
        function=tgt, information_exponent=hermite.information_exponent(tgt),
        reuse_exponent=reuse.value, reuse_limit=reuse.limit, parity=hermite.parity(tgt),
        c1=float(hermite.coefficient(tgt, 1)),
        second_moment=float(hermite.expectation(sympy.expand(tgt_fn.expr**2))))


def _activation_info(config: ModelConfig) -> ActivationInfo:
    """The activation's functionals (``Prediction.activation``)."""
    act = config.activation
    return ActivationInfo(function=act, smooth=parse_function(act).smooth,
                          parity=hermite.parity(act), c1=float(hermite.coefficient(act, 1)))


def _laws(config: ModelConfig, last: int) -> tuple[Term, ...]:
    """The laws of terms k = 0..last: exponent, presence, whether they carry beta_*."""
    act, reuse = config.activation, config.reuse
    a1, a2 = config.exact("alpha1"), config.exact("alpha2")
    tgt_expr = parse_function(config.target).expr
    c1_target_zero = hermite.coefficient(config.target, 1).is_zero
    target_moments: dict[int, Any] = {}

    def moment(j: int) -> Any:
        if j not in target_moments:
            target_moments[j] = _target_moment(tgt_expr, j)
        return target_moments[j]

    laws = []
    for k in range(last + 1):
        e = exponent(a1, a2, k)
        coefs = _activation_coefficients(act, k, reuse)
        present, reason = _presence(coefs, reuse)
        # beta_* in the right vector (docs/theory.md §5)
        if present is False:
            carries, beta_reason = False, "term absent"
        elif not reuse:
            carries = not c1_target_zero
            beta_reason = (f"independent batch: c_1(sigma_*) {'!=' if carries else '='} 0")
        else:
            carries, beta_reason = _reuse_carries(coefs, moment)
        laws.append(Term(
            k=k, left_power=k + 1, exponent=float(e), exponent_exact=str(e), growth=_growth(e),
            present=present, reason=reason,
            coefficients=tuple(_coefficient(lab, v) for _, lab, v in coefs.evaluated()),
            carries_beta=carries, beta_reason=beta_reason))
    return tuple(laws)


def _reuse_carries(coefs: _Coefficients, moment: Any) -> tuple[bool | None, str]:
    """Reused batch: term k carries beta_* iff some m <= k has ``E[sigma^(k+1) sigma'^m]``
    and ``E[z sigma_*^{m+1}]`` both nonzero (docs/theory.md §5)."""
    unknown = skipped = False
    for m, lab in enumerate(coefs.labels):
        if moment(m + 1).is_zero:
            continue
        v = coefs.get(m)
        if not v.defined:
            unknown = True
            skipped = skipped or _not_computed(v)
            continue
        if not v.is_zero:
            return True, f"{lab} != 0 and E[z sigma_*^{m + 1}] != 0"
    if unknown:
        return None, ("needs a moment not computed (symbolic derivatives stop at order "
                      f"{hermite.MAX_DERIVATIVE_ORDER})" if skipped else
                      "needs a moment undefined for a non-smooth activation")
    return False, "no m <= k with both coefficients nonzero"


def _aware_count(laws: Sequence[Term], count: int, last: int,
                 capped: bool) -> tuple[int | None, str]:
    """The activation-aware count and its reason."""
    counted = [t for t in laws if 1 <= t.k <= count]
    if capped and count > last:
        return None, (f"not enumerated: the paper count {count} exceeds the {MAX_TERMS} "
                      "terms a prediction computes")
    if any(t.present is None for t in counted):
        return None, ("undefined: " + "; ".join(f"k={t.k}: {t.reason}"
                                                for t in counted if t.present is None))
    dropped = [f"k={t.k} dropped ({t.reason})" for t in counted if not t.present]
    kept = [t.k for t in counted if t.present]
    return sum(1 for t in counted if t.present), (
        (f"terms k={kept} kept" if kept else "no term kept")
        + ("; " + "; ".join(dropped) if dropped else ""))


def _beta_learning(laws: Sequence[Term], config: ModelConfig,
                   target_info: TargetInfo) -> BetaLearning:
    """Which learned direction first carries beta_*."""
    learned = [t for t in laws if t.growth != "vanishing" and t.present and t.carries_beta]
    undecided = [t for t in laws if t.growth != "vanishing" and (t.present is None or
                                                                t.carries_beta is None)]
    first = learned[0].k if learned else None
    if learned:
        reason = f"term k={first} (left vector a^{first + 1}) carries beta_*"
    elif undecided:
        reason = "undecided: " + undecided[0].beta_reason
    elif not config.reuse:
        reason = ("independent batch and c_1(sigma_*) = 0 (information exponent "
                  f"{target_info.information_exponent})")
    else:
        reason = ("reused batch, but no term with e_k >= 0 has a nonzero beta_* coefficient "
                  f"(reuse exponent {hermite.reuse_exponent(config.target)})")
    return BetaLearning(learned=True if learned else (None if undecided else False),
                        first_term=first, terms=tuple(t.k for t in learned), reason=reason)


def _step_one(config: ModelConfig, target_info: TargetInfo,
              activation_info: ActivationInfo) -> tuple[StepOneScaling, BBPModel | None]:
    """Step one (docs/theory.md §3): its scaling and, for alpha1 = 0, the BBP model."""
    c1_target = target_info.c1
    u_norm2 = c1_target ** 2 + (config.psi_d / config.psi_n) * (
        target_info.second_moment + config.noise**2)
    u_norm = math.sqrt(u_norm2)
    strength = config.etabar1 * abs(activation_info.c1) * u_norm
    cos2_u_beta = c1_target ** 2 / u_norm2 if u_norm2 > 0 else 0.0
    step_one = StepOneScaling(exponent=float(config.exact("alpha1")), u_norm=u_norm,
                              strength=strength, cos2_u_beta=cos2_u_beta)
    if config.exact("alpha1") != 0:
        return step_one, None
    s = spike(strength, 1.0 / config.psi_d)
    return step_one, BBPModel(
        theta=s.theta, aspect=s.aspect, exists=s.exists, threshold=s.threshold,
        location=s.outlier, bulk_edge=s.bulk_edge, right_u_overlap=s.overlap_right,
        left_a_overlap=s.overlap_left, right_beta_overlap=s.overlap_right * cos2_u_beta,
        cosine_beta=math.sqrt(s.overlap_right * cos2_u_beta))


def _features(a1: Fraction) -> FeatureSpikes:
    """The one-step feature-matrix spikes (Moniri, Lee, Hassani, Dobriban 2023)."""
    l_count, l_critical = one_step_spike_count(a1)
    return FeatureSpikes(
        spike_count=l_count, alpha=float(a1), critical=l_critical,
        interval=f"(({l_count}-1)/(2*{l_count}), {l_count}/(2*{l_count}+2))",
        reference="Moniri, Lee, Hassani, Dobriban 2023 (arXiv 2310.07891)")


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {
    "HALF": "twostep.theory.counts",
    "PREDICTION_SCHEMA": "twostep.theory.prediction",
})
