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

Only the canonical scaling of docs/model.md has predictions; other scalings are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy

from . import budget, hermite
from .bbp import spike
from .config import ModelConfig
from .counts import HALF, exponent, one_step_spike_count, paper_count, ratio  # noqa: F401
from .errors import ConfigError
from .functions import Z, parse_function
from .observables import BetaLearning, FeatureSpikes, Outlier, StepOneSpike

#: Version of the JSON layout of :meth:`Prediction.to_dict` (bump on any key change).
#: 2: ``aware_count`` (was ``outlier_count``), ``beta`` and ``one_step_spikes`` are the
#: observables :class:`BetaLearning` and :class:`FeatureSpikes`.
PREDICTION_SCHEMA = 2


# -- result objects -----------------------------------------------------------------------------

def _value_dict(label: str, v: hermite.Value) -> dict[str, Any]:
    return {
        "label": label,
        "value": float(v) if v.defined else None,
        "exact": bool(v.exact) if v.defined else False,
        "defined": bool(v.defined),
        "zero": (bool(v.is_zero) if v.defined else None),
    }


@dataclass(frozen=True)
class Term:
    """Term k of the step-two update: left vector ``a^{o(k+1)}``, size ``N^{e_k}``.

    ``growth``: "diverging" (e_k > 0), "critical" (e_k = 0), "vanishing" (e_k < 0).
    ``present``: the activation-aware verdict on its leading coefficient (None: undefined).
    ``coefficients``: the leading coefficients evaluated, in order of m; evaluation stops at
    the first nonzero one unless the beta_* decision needs more.
    ``carries_beta``: whether its right vector has a beta_* component (None: undefined).
    """

    k: int
    left_power: int
    exponent: float
    exponent_exact: str
    growth: str
    present: bool | None
    reason: str
    coefficients: tuple[dict[str, Any], ...]
    carries_beta: bool | None
    beta_reason: str

    @property
    def is_outlier(self) -> bool | None:
        """A new outlier of step two (k >= 1, e_k >= 0, coefficient nonzero)."""
        if self.k == 0 or self.growth == "vanishing":
            return False
        return self.present

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k, "left_power": self.left_power, "exponent": self.exponent,
            "exponent_exact": self.exponent_exact, "growth": self.growth,
            "present": self.present, "reason": self.reason,
            "coefficients": list(self.coefficients), "carries_beta": self.carries_beta,
            "beta_reason": self.beta_reason, "is_outlier": self.is_outlier,
        }


@dataclass(frozen=True)
class Prediction:
    """Everything the theory predicts for one :class:`ModelConfig` (see module docstring).

    ``paper_count``: the paper's count of new step-two outliers; ``aware_count``: the
    activation-aware asymptotic count (None: undefined, ``aware_count_reason`` says why).
    ``step_one`` (exponent, u_norm, strength, cos2_u_beta) is the step-one scaling and ``bbp``
    (alpha1 = 0 only, else None) the BBP model; :meth:`step_one_spike` turns them into the
    observable a measurement has.  ``beta`` is a :class:`BetaLearning`, ``one_step_spikes`` a
    :class:`FeatureSpikes` (their measured-only fields are None).

    JSON keys (stable, ``schema`` = :data:`PREDICTION_SCHEMA`) are those of :meth:`to_dict`;
    :meth:`from_dict` reads them back.
    """

    config: ModelConfig
    step_one_exponent: float
    ratio: Fraction
    paper_count: int
    critical: bool
    aware_count: int | None
    aware_count_reason: str
    terms: tuple[Term, ...]
    bulk_edge: float
    step_one: dict[str, Any]
    bbp: dict[str, Any] | None
    beta: BetaLearning
    activation: dict[str, Any]
    target: dict[str, Any]
    one_step_spikes: FeatureSpikes
    notes: tuple[str, ...] = field(default=())

    def term(self, k: int) -> Term:
        for t in self.terms:
            if t.k == k:
                return t
        raise KeyError(f"no term k={k}; predicted terms are 0..{self.terms[-1].k}")

    def taylor_parameter(self, N: int) -> float:
        """``eta_1 max_i |a_i| ~ etabar_1 N^{alpha1 - 1/2} sqrt(2 log N)`` (docs/theory.md §7).

        The expansion parameter of step two's Taylor series in the step-one change: terms of
        different k mix in finite-N projections unless it is small.
        """
        if N < 2:
            raise ConfigError(f"N must be >= 2, got {N!r}")
        c = self.config
        return c.etabar1 * N ** (c.alpha1 - 0.5) * math.sqrt(2 * math.log(N))

    def term_amplitudes(self, N: int, ks: Sequence[int] | None = None) -> list[Any]:
        """Finite-N predictions of the step-two terms k (default: ``1..paper_count``, at most
        3) at width N: :class:`twostep.theory.amplitudes.TermAmplitude` (``amplitude`` of
        ``||T_k^T q_{k+1}||``, the spike strength ``coherent``, the W_2 ``location`` or None
        inside the bulk), the same field names as the measured ``terms[k]``
        (docs/amplitudes.md)."""
        from . import amplitudes

        if ks is None:
            ks = range(1, min(self.paper_count, 3) + 1)
        return [amplitudes.term_amplitude(self.config, int(k), N) for k in ks]

    def crossing_widths(self, ks: Sequence[int] | None = None) -> list[Any]:
        """The widths ``N*_k`` where term k leaves (or enters) the bulk
        (:class:`twostep.theory.amplitudes.Crossing`), k as in :meth:`term_amplitudes`."""
        from . import amplitudes

        if ks is None:
            ks = range(1, min(self.paper_count, 3) + 1)
        return [amplitudes.crossing_width(self.config, int(k)) for k in ks]

    @staticmethod
    def _check_N(N: int) -> None:
        if isinstance(N, bool) or not isinstance(N, int) or N < 2:
            raise ConfigError(f"N must be an integer >= 2, got {N!r}")

    def step_one_spike(self, N: int) -> StepOneSpike:
        """The predicted top singular triplet of W_1 at width N (a :class:`StepOneSpike`).

        alpha1 = 0: the BBP model (``bbp``): ``value`` is the outlier location (the bulk edge
        when no outlier exists), the three overlaps are the BBP squared overlaps, all
        independent of N.  alpha1 > 0: ``value`` is the leading order
        ``strength N^alpha1`` only (corrections of relative order ``N^-alpha1`` are not
        included; the bulk edge when ``strength`` = 0, i.e. c_1(sigma) = 0, where there is no
        spike) and the overlaps are None.  ``u_norm`` is the limit of ``||u||`` either way.
        """
        self._check_N(N)
        s1 = self.step_one
        if self.bbp is not None:
            b = self.bbp
            return StepOneSpike(value=b["outlier"], overlap_right=b["overlap_right"],
                                overlap_left=b["overlap_left"], overlap_beta=b["overlap_beta"],
                                u_norm=s1["u_norm"])
        value = s1["strength"] * N ** self.config.alpha1 if s1["strength"] > 0 else self.bulk_edge
        return StepOneSpike(value=value, u_norm=s1["u_norm"])

    def outliers_at(self, N: int, matrix: str = "W2") -> tuple[Outlier, ...]:
        """Predicted outliers of ``matrix`` (W1 or W2) at width N, as :class:`Outlier` objects.

        Each has ``term``, ``left_power``, ``value`` (the finite-N location where theory gives
        one: the alpha1 = 0 step-one spike; else None), ``exponent``, ``growth`` and a
        ``statement``; the measured-only fields are None.  Where only the asymptotic order is
        known, ``value`` is None and the statement gives the order ``N^{e_k}``.
        """
        self._check_N(N)
        if matrix not in ("W1", "W2"):
            raise ConfigError(f"matrix must be W1 or W2, got {matrix!r}")
        out: list[Outlier] = []
        s1 = self.step_one
        if self.bbp is not None:
            if self.bbp["exists"]:
                statement = "step-one BBP outlier (finite, N-independent location)"
                if matrix == "W2":
                    statement += (f"; step two adds term 0 of order N^{self.config.alpha2:g} "
                                  "on the same left vector")
                out.append(Outlier(term=0, left_power=1, value=self.bbp["outlier"],
                                   exponent=0.0, growth="critical", statement=statement))
        elif s1["strength"] > 0:
            a1 = self.config.alpha1
            out.append(Outlier(term=0, left_power=1, value=None,
                               exponent=self.step_one_exponent, growth="diverging",
                               statement=f"step-one spike ~ {s1['strength']:.3g} N^{a1:g}"
                                         f" = {s1['strength'] * N ** a1:.3g} at N={N}"))
        if matrix == "W1":
            return tuple(out)
        for t in self.terms:
            if t.k == 0 or not t.is_outlier:
                continue
            scale = N ** t.exponent
            out.append(Outlier(
                term=t.k, left_power=t.left_power, value=None, exponent=t.exponent,
                growth=t.growth,
                statement=(f"new outlier along a^{t.left_power}, order N^{t.exponent:g}"
                           f" ({scale:.3g} at N={N} from N^e_k alone; see below)"
                           if t.growth == "diverging" else
                           f"finite spike along a^{t.left_power} (e_k = 0): "
                           "an outlier iff it passes the BBP threshold")))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": PREDICTION_SCHEMA,
            "config": self.config.to_dict(),
            "scaling": self.config.scaling,  # always "canonical": kept for the stable keys
            "step_one_exponent": self.step_one_exponent,
            "ratio": float(self.ratio),
            "ratio_exact": str(self.ratio),
            "paper_count": self.paper_count,
            "critical": self.critical,
            "aware_count": self.aware_count,
            "aware_count_reason": self.aware_count_reason,
            "terms": [t.to_dict() for t in self.terms],
            "bulk_edge": self.bulk_edge,
            "step_one": self.step_one,
            "bbp": self.bbp,
            "beta": self.beta.to_dict(),
            "activation": self.activation,
            "target": self.target,
            "one_step_spikes": self.one_step_spikes.to_dict(),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prediction:
        """The :class:`Prediction` whose :meth:`to_dict` is ``data`` (schema
        :data:`PREDICTION_SCHEMA` only; another schema or a missing key is refused in one
        line).  ``scaling`` is the config's (always ``"canonical"``): it may be there or not."""
        if not isinstance(data, dict):
            raise ConfigError(f"a prediction must be a JSON object, got {type(data).__name__}")
        if data.get("schema") != PREDICTION_SCHEMA:
            raise ConfigError(f"prediction schema {data.get('schema')!r} is not "
                              f"{PREDICTION_SCHEMA}: recompute it with this version "
                              "(twostep theory --json)")
        try:
            terms = tuple(
                Term(**{**{k: v for k, v in t.items() if k != "is_outlier"},
                        "coefficients": tuple(t["coefficients"])})
                for t in data["terms"])
            return cls(
                config=ModelConfig.from_dict(data["config"]),
                step_one_exponent=data["step_one_exponent"],
                ratio=Fraction(data["ratio_exact"]), paper_count=data["paper_count"],
                critical=data["critical"], aware_count=data["aware_count"],
                aware_count_reason=data["aware_count_reason"], terms=terms,
                bulk_edge=data["bulk_edge"], step_one=dict(data["step_one"]),
                bbp=None if data["bbp"] is None else dict(data["bbp"]),
                beta=BetaLearning.from_dict(data["beta"]),
                activation=dict(data["activation"]), target=dict(data["target"]),
                one_step_spikes=FeatureSpikes.from_dict(data["one_step_spikes"]),
                notes=tuple(data["notes"]))
        except KeyError as exc:
            raise ConfigError(f"prediction: missing key {exc.args[0]!r}") from None
        except TypeError as exc:
            raise ConfigError(f"prediction: {exc}") from None


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
    return not v.defined and v.reason.startswith(hermite.NOT_COMPUTED)


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
            f"{config.scaling}: use second_layer=gaussian, first_layer=gaussian, loss=squared")
    act, tgt = config.activation, config.target
    act_fn, tgt_fn = parse_function(act), parse_function(tgt)
    reuse = config.reuse
    a1, a2 = config.exact("alpha1"), config.exact("alpha2")
    r = ratio(a1, a2)
    count, critical = paper_count(a1, a2)
    last = max(count + 1, 2) if max_terms is None else max_terms
    capped = last > MAX_TERMS  # alpha1 near 1/2: the count explodes; each term costs moments
    last = min(last, MAX_TERMS)
    notes: list[str] = []

    # target functionals
    c1_target = hermite.coefficient(tgt, 1)
    target_info = {
        "function": tgt,
        "information_exponent": hermite.information_exponent(tgt),
        "reuse_exponent": hermite.reuse_exponent(tgt).value,
        "reuse_limit": hermite.reuse_exponent(tgt).limit,
        "parity": hermite.parity(tgt),
        "c1": float(c1_target),
        "second_moment": float(hermite.expectation(sympy.expand(tgt_fn.expr**2))),
    }
    c1_act = hermite.coefficient(act, 1)
    activation_info = {"function": act, "smooth": act_fn.smooth, "parity": hermite.parity(act),
                       "c1": float(c1_act)}

    target_moments: dict[int, Any] = {}

    def moment(j: int) -> Any:
        if j not in target_moments:
            target_moments[j] = _target_moment(tgt_fn.expr, j)
        return target_moments[j]

    terms: list[Term] = []
    for k in range(last + 1):
        e = exponent(a1, a2, k)
        coefs = _activation_coefficients(act, k, reuse)
        present, reason = _presence(coefs, reuse)
        # beta_* in the right vector (docs/theory.md §5)
        if present is False:
            carries, beta_reason = False, "term absent"
        elif not reuse:
            carries = not c1_target.is_zero
            beta_reason = (f"independent batch: c_1(sigma_*) {'!=' if carries else '='} 0")
        else:
            carries, beta_reason = False, "no m <= k with both coefficients nonzero"
            unknown = skipped = False
            for m, lab in enumerate(coefs.labels):
                tm = moment(m + 1)
                if tm.is_zero:
                    continue
                v = coefs.get(m)
                if not v.defined:
                    unknown = True
                    skipped = skipped or _not_computed(v)
                    continue
                if not v.is_zero:
                    carries = True
                    beta_reason = f"{lab} != 0 and E[z sigma_*^{m + 1}] != 0"
                    break
            if not carries and unknown:
                carries, beta_reason = None, (
                    "needs a moment not computed (symbolic derivatives stop at order "
                    f"{hermite.MAX_DERIVATIVE_ORDER})" if skipped else
                    "needs a moment undefined for a non-smooth activation")
        terms.append(Term(
            k=k, left_power=k + 1, exponent=float(e), exponent_exact=str(e), growth=_growth(e),
            present=present, reason=reason,
            coefficients=tuple(_value_dict(lab, v) for _, lab, v in coefs.evaluated()),
            carries_beta=carries, beta_reason=beta_reason))

    counted = [t for t in terms if 1 <= t.k <= count]
    aware: int | None
    if capped and count > last:
        aware = None
        aware_reason = (f"not enumerated: the paper count {count} exceeds the {MAX_TERMS} "
                        "terms a prediction computes")
    elif any(t.present is None for t in counted):
        aware = None
        aware_reason = ("undefined: " + "; ".join(f"k={t.k}: {t.reason}"
                                                   for t in counted if t.present is None))
    else:
        aware = sum(1 for t in counted if t.present)
        dropped = [f"k={t.k} dropped ({t.reason})" for t in counted if not t.present]
        kept = [t.k for t in counted if t.present]
        aware_reason = (f"terms k={kept} kept" if kept else "no term kept") + (
            "; " + "; ".join(dropped) if dropped else "")

    # which learned direction first carries beta_*
    learned = [t for t in terms if t.growth != "vanishing" and t.present and t.carries_beta]
    undecided = [t for t in terms if t.growth != "vanishing" and (t.present is None or
                                                                 t.carries_beta is None)]
    first = learned[0].k if learned else None
    beta = BetaLearning(
        learned=True if learned else (None if undecided else False),
        term=first,
        terms=tuple(t.k for t in learned),
        reason=(f"term k={first} (left vector a^{first + 1}) carries beta_*" if learned else
                   ("undecided: " + undecided[0].beta_reason) if undecided else
                   ("independent batch and c_1(sigma_*) = 0 (information exponent "
                    f"{target_info['information_exponent']})" if not reuse else
                    "reused batch, but no term with e_k >= 0 has a nonzero beta_* coefficient "
                    f"(reuse exponent {hermite.reuse_exponent(tgt)})")),
    )

    # step one (docs/theory.md §3)
    tau2 = config.noise**2
    u_norm2 = float(c1_target) ** 2 + (config.psi_d / config.psi_n) * (
        target_info["second_moment"] + tau2)
    u_norm = math.sqrt(u_norm2)
    strength = config.etabar1 * abs(float(c1_act)) * u_norm
    cos2_u_beta = float(c1_target) ** 2 / u_norm2 if u_norm2 > 0 else 0.0
    step_one = {"exponent": float(a1), "u_norm": u_norm, "strength": strength,
                "cos2_u_beta": cos2_u_beta}
    aspect = 1.0 / config.psi_d
    bbp = None
    if a1 == 0:
        s = spike(strength, aspect)
        bbp = {**s.to_dict(), "overlap_beta": s.overlap_right * cos2_u_beta,
               "cosine_beta": math.sqrt(s.overlap_right * cos2_u_beta)}
    if c1_act.is_zero:
        notes.append("c_1(sigma) = 0: no step-one spike; term 0 of step two is absent too")

    l_count, l_critical = one_step_spike_count(a1)
    one_step = FeatureSpikes(
        spike_count=l_count, alpha=float(a1), critical=l_critical,
        interval=f"(({l_count}-1)/(2*{l_count}), {l_count}/(2*{l_count}+2))",
        reference="Moniri, Lee, Hassani, Dobriban 2023 (arXiv 2310.07891)")

    if capped:
        notes.append(f"alpha1 near 1/2: only terms k = 0..{last} of the paper count {count} are "
                     f"computed (at most {MAX_TERMS})")
    if critical:
        notes.append(f"alpha2/(1/2 - alpha1) = {r} is an integer: term k={int(r)} has e_k = 0 "
                     "(finite spike; the BBP threshold decides whether it is an outlier)")
    return Prediction(
        config=config, step_one_exponent=float(a1), ratio=r,
        paper_count=count, critical=critical, aware_count=aware,
        aware_count_reason=aware_reason, terms=tuple(terms), bulk_edge=1.0 + math.sqrt(aspect),
        step_one=step_one, bbp=bbp, beta=beta, activation=activation_info, target=target_info,
        one_step_spikes=one_step, notes=tuple(notes))
