"""The :class:`Prediction` of one configuration and its records (docs/reference.md, Prediction).

:func:`twostep.theory.predict.predict` computes it.  Its asymptotic content (the law of each
step-two term, the counts, which term carries beta_*) holds for every width;
:meth:`Prediction.at` turns it into the :class:`~twostep.theory.observables.Observables` at one
width N, the same fields with the same names and types a
:class:`~twostep.simulate.Measurement` has, so that one statistic reads either.

JSON: :meth:`Prediction.to_dict` (schema :data:`PREDICTION_SCHEMA`) and
:meth:`Prediction.from_dict`, which also reads schema 2 (the names before 0.3, listed in
docs/reference.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from twostep.theory.spectra import Outlier

from . import amplitudes, html
from .config import ModelConfig
from .errors import ConfigError
from .observables import (
    BetaLearning,
    ExactTerm,
    FeatureSpikes,
    Missing,
    Observables,
    Record,
    StepOneSpike,
)
from .records import ActivationInfo, Coefficient, TargetInfo, typed_tuple
from .spectra import Spectra, Spectrum
from .steps import check_step_sizes

#: Version of the JSON layout of :meth:`Prediction.to_dict` (bump on any key change).
#: 2: ``aware_count`` (was ``outlier_count``), ``beta`` and ``one_step_spikes`` are the
#: observables :class:`BetaLearning` and :class:`FeatureSpikes`.
#: 3: one vocabulary with the measurement: ``laws`` (was ``terms``), ``features`` (was
#: ``one_step_spikes``), ``beta.first_term`` (was ``beta.term``), and the BBP model's
#: ``location``, ``right_u_overlap``, ``left_a_overlap``, ``right_beta_overlap`` (were
#: ``outlier``, ``overlap_right``, ``overlap_left``, ``overlap_beta``).
PREDICTION_SCHEMA = 3
#: The schemas :meth:`Prediction.from_dict` reads.
READ_SCHEMAS = (2, 3)


@dataclass(frozen=True)
class Term:
    """The asymptotic law of step-two term k (``Prediction.laws``): left vector
    ``a^{o(k+1)}``, size ``N^{e_k}``.

    ``growth``: "diverging" (e_k > 0), "critical" (e_k = 0), "vanishing" (e_k < 0).
    ``present``: the activation-aware verdict on its leading coefficient (None: undefined).
    ``coefficients``: the leading coefficients evaluated (:class:`Coefficient`), in order of m;
    evaluation stops at the first nonzero one unless the beta_* decision needs more.
    ``carries_beta``: whether its right vector has a beta_* component (None: undefined).
    Its finite-N observable is the :class:`ExactTerm` of ``Prediction.at(N).terms``.
    """

    k: int
    left_power: int
    exponent: float
    exponent_exact: str
    growth: str
    present: bool | None
    reason: str
    coefficients: tuple[Coefficient, ...]
    carries_beta: bool | None
    beta_reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "coefficients", typed_tuple(Coefficient, self.coefficients))

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
            "coefficients": [c.to_dict() for c in self.coefficients],
            "carries_beta": self.carries_beta, "beta_reason": self.beta_reason,
            "is_outlier": self.is_outlier,
        }


@dataclass(frozen=True)
class StepOneScaling(Record):
    """Step one's scaling (docs/theory.md §3): the spike's ``exponent`` (alpha1), the limit
    ``u_norm`` of ``||u||``, the ``strength`` ``theta = etabar_1 |c_1(sigma)| ||u||`` and
    ``cos2_u_beta``, the squared cosine of u with beta_*."""

    exponent: float
    u_norm: float
    strength: float
    cos2_u_beta: float


@dataclass(frozen=True)
class BBPModel(Record):
    """The alpha1 = 0 BBP model of the step-one spike (:mod:`twostep.theory.bbp`): strength
    ``theta``, aspect ratio ``c = N/d``, ``exists`` (theta > ``threshold`` = c^{1/4}), the
    outlier ``location`` (the bulk edge when none exists), ``bulk_edge``, the squared
    overlaps of the spike's right vector with u (``right_u_overlap``) and beta_*
    (``right_beta_overlap``), of its left vector with a (``left_a_overlap``), and
    ``cosine_beta`` = sqrt(right_beta_overlap)."""

    theta: float
    aspect: float
    exists: bool
    threshold: float
    location: float
    bulk_edge: float
    right_u_overlap: float
    left_a_overlap: float
    right_beta_overlap: float
    cosine_beta: float

    #: schema 2 names of the fields: the mapping emulation reads them too (``bbp["outlier"]``,
    #: which user claims read)
    OLD_NAMES = {"outlier": "location", "overlap_right": "right_u_overlap",
                 "overlap_left": "left_a_overlap", "overlap_beta": "right_beta_overlap"}


@dataclass(frozen=True)
class Prediction:
    """Everything the theory predicts for one :class:`ModelConfig` (docs/theory.md).

    ``paper_count``: the paper's count of new step-two outliers; ``aware_count``: the
    activation-aware asymptotic count (None: undefined, ``aware_count_reason`` says why).
    ``laws``: the asymptotic law of each step-two term k (:class:`Term`).  ``step_one``
    (:class:`StepOneScaling`) is the step-one scaling and ``bbp`` (:class:`BBPModel`,
    alpha1 = 0 only, else None) the BBP model.  ``activation`` (:class:`ActivationInfo`) and
    ``target`` (:class:`TargetInfo`) are their functionals.  ``beta`` is a :class:`BetaLearning`,
    ``features`` a :class:`FeatureSpikes` (their measured-only fields are None).
    :meth:`at` gives the observables at a width N, with a measurement's field names.

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
    laws: tuple[Term, ...]
    bulk_edge: float
    step_one: StepOneScaling
    bbp: BBPModel | None
    beta: BetaLearning
    activation: ActivationInfo
    target: TargetInfo
    features: FeatureSpikes
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", ActivationInfo.from_dict(self.activation))
        object.__setattr__(self, "target", TargetInfo.from_dict(self.target))

    def __repr__(self) -> str:
        exps = ", ".join(t.exponent_exact for t in self.laws[:4])
        more = ", ..." if len(self.laws) > 4 else ""
        return (f"Prediction({html.config_text(self.config)}; paper_count={self.paper_count}, "
                f"aware_count={self.aware_count}, e_k=[{exps}{more}])")

    def _repr_html_(self) -> str:
        return html.prediction(self)

    @property
    def second_layer(self) -> str:
        """The second layer's law the prediction assumes: the config's (docs/model.md, "The
        second layer's law")."""
        return self.config.second_layer

    def law(self, k: int) -> Term:
        """The law of term k."""
        for t in self.laws:
            if t.k == k:
                return t
        raise KeyError(f"no term k={k}; predicted terms are 0..{self.laws[-1].k}")

    def taylor_parameter(self, N: int) -> float:
        """``eta_1 max_i |a_i| ~ etabar_1 N^{alpha1 - 1/2} sqrt(2 log N)`` (docs/theory.md §7).

        The expansion parameter of step two's Taylor series in the step-one change: terms of
        different k mix in finite-N projections unless it is small.
        """
        if N < 2:
            raise ConfigError(f"N must be >= 2, got {N!r}")
        c = self.config
        return c.etabar1 * N ** (c.alpha1 - 0.5) * math.sqrt(2 * math.log(N))

    def _counted(self, ks: Sequence[int] | None) -> Sequence[int]:
        return range(1, min(self.paper_count, 3) + 1) if ks is None else ks

    def term_amplitudes(self, N: int, ks: Sequence[int] | None = None) -> list[Any]:
        """Finite-N predictions of the step-two terms k (default: ``1..paper_count``, at most
        3) at width N: :class:`twostep.theory.amplitudes.TermAmplitude` (``amplitude`` of
        ``||T_k^T q_{k+1}||``, the spike strength ``coherent``, the W_2 ``location`` or None
        inside the bulk; docs/amplitudes.md).  :meth:`at` gives them as the measured type."""
        return [amplitudes.term_amplitude(self.config, int(k), N) for k in self._counted(ks)]

    def crossing_widths(self, ks: Sequence[int] | None = None) -> list[Any]:
        """The widths ``N*_k`` where term k leaves (or enters) the bulk
        (:class:`twostep.theory.amplitudes.Crossing`), k as in :meth:`term_amplitudes`."""
        return [amplitudes.crossing_width(self.config, int(k)) for k in self._counted(ks)]

    # -- the observables at a width N ---------------------------------------------------------
    def at(self, N: int, *, ks: Sequence[int] | None = None) -> Observables:
        """The predicted :class:`Observables` at width N: the fields and types of a
        :class:`~twostep.simulate.Measurement` (docs/reference.md, Observables).

        ``step_one_spike``: the top triplet of W_1 (alpha1 = 0: the BBP model, N-independent;
        alpha1 > 0: ``value`` is the leading order ``strength N^alpha1`` and the overlaps are
        None).  ``outliers``: W_2's (``spectrum("W1").outliers`` are W_1's), each with its
        ``term``, ``exponent``, ``growth``, ``statement`` and, where theory gives a finite
        location at this N (the terms in ``ks``), ``value``.  ``terms``: the
        :class:`ExactTerm` of each k in ``ks`` (default ``0..paper_count``, at most 3; read
        them by k, :meth:`Observables.term`) with the mean ``amplitude`` and the squared
        spike strength ``coherent_sq`` (None where not derived: :meth:`Observables.why`
        ``("term(k).amplitude")`` says why); ``visible_new_outliers``: how many of the terms
        k >= 1 are predicted out of the bulk.  ``beta``, ``features``: the asymptotic
        predictions (N-independent).  What a prediction cannot supply (a null floor, a
        term's singular values) is None, with its reason in ``missing``."""
        self._check_N(N)
        check_step_sizes(self.config, N)
        d, n = self.config.dimensions(N)
        edge = 1.0 + math.sqrt(N / d)
        ks = range(0, min(self.paper_count, 3) + 1) if ks is None else ks
        amps = [amplitudes.term_amplitude(self.config, int(k), N) for k in ks]
        locations = {a.k: a.location for a in amps if a.location is not None}
        w1, w2 = self._outliers(N, "W1"), self._outliers(N, "W2", locations)
        terms = tuple(ExactTerm(k=a.k, left_power=a.k + 1, amplitude=a.amplitude,
                                coherent_sq=None if a.coherent is None else a.coherent ** 2,
                                singular_values=None, leakage=None)  # not predicted: None
                      for a in amps)
        missing = [Missing(f"term({a.k}).{name}", a.reason) for a in amps
                   if a.amplitude is None for name in ("amplitude", "coherent_sq")]
        return Observables(
            N=N, d=d, n=n, bulk_edge=edge,
            spectra=Spectra((Spectrum(bulk_edge=edge, outliers=w1, step=1, name="W1"),
                             Spectrum(bulk_edge=edge, outliers=w2, step=2, name="W2"))),
            step_one_spike=self._step_one_spike(N), outliers=w2,
            visible_new_outliers=sum(a.k >= 1 for a in amps if a.location is not None),
            terms=terms, beta=self.beta, features=self.features,
            missing=tuple(missing) + self._unpredicted())

    def _unpredicted(self) -> tuple[Missing, ...]:
        """The observables a prediction cannot supply, each with why (:meth:`at`)."""
        out = [Missing("amplitudes", "a prediction has no projections of the whole update at "
                                     "finite N: term(k) has each exact term's amplitude and "
                                     "coherent part (docs/amplitudes.md)")]
        out += [Missing(f"terms.{f}", "a prediction has no null floor: it is a property of "
                                      "the measured draws of a")
                for f in ("null_floor", "null_floor_sd", "null_beta_overlap",
                          "null_beta_overlap_sd")]
        out += [Missing(f"terms.{f}", "not predicted at finite N: the theory gives a term's "
                                      "amplitude and coherent part (docs/amplitudes.md)")
                for f in ("singular_values", "left_overlap", "right_beta_overlap", "leakage",
                          "coherent_sq_se", "left_weight", "beta_component", "beta_overlap")]
        out += [Missing(f"outliers.{f}", "measured only: an outlier's rank, gap and vectors in "
                                         "one draw")
                for f in ("index", "gap", "left_overlaps", "right_beta_overlap")]
        if self.bbp is None:
            out += [Missing(f"step_one_spike.{f}", "alpha1 > 0: only the leading order of the "
                                                   "spike's value is predicted")
                    for f in ("right_u_overlap", "left_a_overlap", "right_beta_overlap")]
        return tuple(out)

    @staticmethod
    def _check_N(N: int) -> None:
        if isinstance(N, bool) or not isinstance(N, int) or N < 2:
            raise ConfigError(f"N must be an integer >= 2, got {N!r}")

    def _step_one_spike(self, N: int) -> StepOneSpike:
        s1 = self.step_one
        if self.bbp is not None:
            b = self.bbp
            return StepOneSpike(value=b.location, right_u_overlap=b.right_u_overlap,
                                left_a_overlap=b.left_a_overlap,
                                right_beta_overlap=b.right_beta_overlap, u_norm=s1.u_norm)
        value = s1.strength * N ** self.config.alpha1 if s1.strength > 0 else self.bulk_edge
        return StepOneSpike(value=value, u_norm=s1.u_norm)

    def _outliers(self, N: int, matrix: str, locations: Mapping[int, float] | None = None
                  ) -> tuple[Outlier, ...]:
        """Predicted outliers of ``matrix`` (W1 or W2) at width N (see :meth:`at`); a step-two
        term's ``value`` is its finite-N location (``locations[k]``) where known, else None
        and the statement gives the order ``N^{e_k}``.  A term out of the bulk at this N that
        the asymptotic law does not count is listed too (with its location)."""
        locations = dict(locations or {})
        out: list[Outlier] = []
        s1 = self.step_one
        if self.bbp is not None:
            if self.bbp.exists:
                statement = "step-one BBP outlier (finite, N-independent location)"
                if matrix == "W2":
                    statement += (f"; step two adds term 0 of order N^{self.config.alpha2:g} "
                                  "on the same left vector")
                out.append(Outlier(term=0, left_power=1, value=self.bbp.location,
                                   exponent=0.0, growth="critical", statement=statement))
        elif s1.strength > 0:
            a1 = self.config.alpha1
            out.append(Outlier(term=0, left_power=1, value=None,
                               exponent=self.step_one_exponent, growth="diverging",
                               statement=f"step-one spike ~ {s1.strength:.3g} N^{a1:g}"
                                         f" = {s1.strength * N ** a1:.3g} at N={N}"))
        if matrix == "W1":
            return tuple(out)
        for t in self.laws:
            if t.k == 0 or not t.is_outlier:
                continue
            scale = N ** t.exponent
            out.append(Outlier(
                term=t.k, left_power=t.left_power, value=locations.pop(t.k, None),
                exponent=t.exponent,
                growth=t.growth,
                statement=(f"new outlier along a^{t.left_power}, order N^{t.exponent:g}"
                           f" ({scale:.3g} at N={N} from N^e_k alone; see below)"
                           if t.growth == "diverging" else
                           f"finite spike along a^{t.left_power} (e_k = 0): "
                           "an outlier iff it passes the BBP threshold")))
        for k, value in sorted(locations.items()):
            if k >= 1 and any(t.k == k for t in self.laws):
                law = self.law(k)
                out.append(Outlier(term=k, left_power=law.left_power, value=value,
                                   exponent=law.exponent, growth=law.growth,
                                   statement=f"finite-N outlier along a^{law.left_power} at "
                                             f"{value:.4g} (N = {N})"))
        return tuple(out)

    # -- JSON ---------------------------------------------------------------------------------
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
            "laws": [t.to_dict() for t in self.laws],
            "bulk_edge": self.bulk_edge,
            "step_one": self.step_one.to_dict(),
            "bbp": None if self.bbp is None else self.bbp.to_dict(),
            "beta": self.beta.to_dict(),
            "activation": self.activation.to_dict(),
            "target": self.target.to_dict(),
            "features": self.features.to_dict(),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prediction:
        """The :class:`Prediction` whose :meth:`to_dict` is ``data`` (schemas
        :data:`READ_SCHEMAS`: schema 2 is read under the current names; another schema or a
        missing key is refused in one line).  ``scaling`` is the config's (always
        ``"canonical"``): it may be there or not."""
        if not isinstance(data, dict):
            raise ConfigError(f"a prediction must be a JSON object, got {type(data).__name__}")
        if data.get("schema") not in READ_SCHEMAS:
            raise ConfigError(f"prediction schema {data.get('schema')!r} is not one of "
                              f"{', '.join(map(str, READ_SCHEMAS))}: recompute it with this "
                              "version (twostep theory --json)")
        if data["schema"] == 2:
            data = _upgrade(data)
        try:
            laws = tuple(
                Term(**{**{k: v for k, v in t.items() if k != "is_outlier"},
                        "coefficients": tuple(t["coefficients"])})
                for t in data["laws"])
            return cls(
                config=ModelConfig.from_dict(data["config"]),
                step_one_exponent=data["step_one_exponent"],
                ratio=Fraction(data["ratio_exact"]), paper_count=data["paper_count"],
                critical=data["critical"], aware_count=data["aware_count"],
                aware_count_reason=data["aware_count_reason"], laws=laws,
                bulk_edge=data["bulk_edge"], step_one=StepOneScaling(**data["step_one"]),
                bbp=None if data["bbp"] is None else BBPModel(**data["bbp"]),
                beta=BetaLearning.from_dict(data["beta"]),
                activation=ActivationInfo.from_dict(data["activation"]),
                target=TargetInfo.from_dict(data["target"]),
                features=FeatureSpikes.from_dict(data["features"]),
                notes=tuple(data["notes"]))
        except KeyError as exc:
            raise ConfigError(f"prediction: missing key {exc.args[0]!r}") from None
        except TypeError as exc:
            raise ConfigError(f"prediction: {exc}") from None


def _upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """A schema-2 prediction under the schema-3 names."""
    data = dict(data)
    renames = {"terms": "laws", "one_step_spikes": "features"}
    for old, new in renames.items():
        if old in data:
            data[new] = data.pop(old)
    if isinstance(data.get("beta"), Mapping):
        beta = dict(data["beta"])
        if "term" in beta:
            beta["first_term"] = beta.pop("term")
        data["beta"] = beta
    if isinstance(data.get("bbp"), Mapping):
        data["bbp"] = {BBPModel.OLD_NAMES.get(k, k): v for k, v in data["bbp"].items()}
    return data
