"""The observables theory predicts and simulation measures, one type each (docs/reference.md).

A :class:`~twostep.theory.predict.Prediction` at a width N is an :class:`Observables`, and a
:class:`~twostep.simulate.Measurement` is one too (a subclass): the fields are declared once,
here, so the two are compared field by field, and a claim's statistic reads typed attributes
(``m.step_one_spike.value``, ``m.amplitude(1).amplitude``, ``m.term(2).null_floor``: terms by
their k; ``m.spectrum("W2").outliers``: spectra by their matrix's name, theory/spectra.py).  A
field one side does not know is None there (a prediction has no null floor; a measurement has
no ``statement``), and :meth:`Observables.why` says why.  Every overlap is a
squared cosine in [0, 1].

``to_dict()`` gives the JSON keys (the field names); ``from_dict()`` reads them back and refuses
unknown keys in one line.

Every field of a record here declares how it scales with the step sizes and which step it
belongs to (``observed(scale=..., step=...)``, :mod:`twostep.theory.fields`); a field that
declares nothing is refused when its class is created (``@observable``).  The core view's
rescaling (compare/science/rescale.py) and the regime guard (compare/science/claims/guard.py) read
these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twostep.theory.deprecation import moved_names

from . import html
from .config import ModelConfig
from .errors import ConfigError
from .fields import _of, by_k, observable, observed, why_names
from .records import Observable, P1Stats, Record, _names, typed
from .spectra import (
    FeatureSpectrum,
    Outlier,
    Spectra,
    Spectrum,
)


@observable
class StepOneSpike(Observable):
    """The top singular triplet of W_1: the spike step one adds (docs/theory.md, step one).

    ``value``: its singular value (predicted: the BBP location for alpha1 = 0, the leading
    order ``strength N^alpha1`` for alpha1 > 0); ``right_u_overlap``: right vector with
    ``u = X^T y / n``; ``left_a_overlap``: left vector with the second layer ``a``;
    ``right_beta_overlap``: right vector with beta_* (the name every singular vector's beta_*
    overlap has: :class:`Outlier`, :class:`ExactTerm`); ``u_norm``: ``||u||``.
    (Format 2 names: ``overlap_right``, ``overlap_left``, ``overlap_beta``.)
    """

    value: float | None = observed("step_one", "step one")
    right_u_overlap: float | None = observed("step_one", "step one")
    left_a_overlap: float | None = observed("step_one", "step one")
    right_beta_overlap: float | None = observed("step_one", "step one")
    u_norm: float | None = observed("step_one", "step one")


@observable
class Projection(Observable):
    """The step-two update projected on ``q_{k+1}`` (the Gram-Schmidt of ``a^{k+1}``):
    ``amplitude = ||U^T q_{k+1}||``, its null floor (the same with independent second layers:
    mean and sd over the draws), the squared cosine of the projection ``U^T q_{k+1}`` with
    beta_* (``beta_overlap``; not a singular vector's, which is ``right_beta_overlap``) and
    its null counterpart.

    Of the whole update (``amplitudes``), these are not rescaled to other step sizes: the core
    view empties them (scale ``none``); :class:`ExactTerm` redeclares them for a term."""

    k: int = observed("invariant", "run", required=True)
    left_power: int = observed("invariant", "run", required=True)
    amplitude: float | None = observed("none", "step two")
    null_floor: float | None = observed("none", "step two")
    null_floor_sd: float | None = observed("none", "step two")
    beta_overlap: float | None = observed("none", "step two")
    null_beta_overlap: float | None = observed("none", "step two")
    null_beta_overlap_sd: float | None = observed("none", "step two")


@observable
class ExactTerm(Projection):
    """The exact step-two term ``T_k = eta_2 eta_1^k D_k`` (docs/theory.md, the exact terms):
    its projection on ``q_{k+1}`` (the :class:`Projection` fields), its top
    ``singular_values``, the squared overlap of its top left vector with ``q_{k+1}``
    (``left_overlap``) and of its top right vector with beta_* (``right_beta_overlap``), and
    ``leakage[m] = ||T_m^T q_{k+1}||`` of every term m.

    ``coherent_sq`` is the squared coherent (rank-one, BBP) strength ``theta_k^2`` of T_k along
    ``q_{k+1}``, estimated without the neurons' own fluctuations by the pair statistic
    ``||T_k^T q||^2 - sum_i q_i^2 ||row_i(T_k)||^2`` (unbiased for it; negative values mean a
    part below the noise), ``coherent_sq_se`` its neuron-jackknife standard error at this seed
    (docs/amplitudes.md, the coherent part).  The projected ``amplitude`` squared is this part
    plus the fluctuations; only this part makes an outlier.  ``left_weight`` is the same pair
    sum of the left vector ``a^{k+1}`` alone, ``[(q.s^{k+1})^2 - sum_i q_i^2 s_i^{2k+2}] / N``
    with ``s = sqrt(N) a`` (a property of the draw of a, tending to a constant), so
    ``coherent_sq / left_weight`` is ``N^{-k}`` times the squared norm of the term's mean right
    vector, free of the Gram-Schmidt's finite-N correction.  ``beta_component`` is the *signed*
    component ``<T_k^T q_{k+1}, beta_*>``: its mean over batches is the coherent right vector's
    beta_* component times ``q . a^{k+1}`` (the neurons' own fluctuations and the batch's average to
    zero), so ``mean(beta_component) / sqrt(mean(coherent_sq))`` estimates the cosine of the
    coherent right vector with beta_*; it is exactly zero in mean for a term that does not
    carry beta_* (the ``reuse-learning`` claim).

    Rescaled to other step sizes (compare/plans/core.py) as each field declares (theory/fields.py):
    the term's own sizes by its factor ``s_k``, the squared ones by ``s_k^2``, ``leakage[m]``
    by ``s_m``; the overlaps and ``left_weight`` do not change."""

    # the Projection fields, redeclared for a term (same order, same defaults)
    amplitude: float | None = observed("term", "step two")
    null_floor: float | None = observed("term", "step two")
    null_floor_sd: float | None = observed("term", "step two")
    beta_overlap: float | None = observed("invariant", "step two")
    null_beta_overlap: float | None = observed("invariant", "step two")
    null_beta_overlap_sd: float | None = observed("invariant", "step two")
    singular_values: tuple[float, ...] = observed("term", "step two", ())
    left_overlap: float | None = observed("invariant", "step two")
    right_beta_overlap: float | None = observed("invariant", "step two")
    leakage: tuple[float | None, ...] = observed("per_term", "step two", ())
    coherent_sq: float | None = observed("term_sq", "step two")
    coherent_sq_se: float | None = observed("term_sq", "step two")
    left_weight: float | None = observed("invariant", "step two")
    beta_component: float | None = observed("term", "step two")


@observable
class BetaLearning(Observable):
    """Whether, and in which step-two direction, beta_* is learned.

    Predicted: ``learned`` (None: undecided), ``first_term`` (the first term whose right
    vector carries beta_*), ``terms`` (all of them), ``reason``.  Measured: ``overlap`` (the
    largest squared cosine of ``U^T q_{k+1}`` with beta_* over k), ``best_term`` (the k that
    attains it), ``null`` / ``null_sd`` (the same maximum with independent second layers,
    over ``null_draws`` draws).  (Format 2 had one name, ``term``, for both.)
    """

    learned: bool | None = observed("none", "step two")
    first_term: int | None = observed("none", "step two")
    best_term: int | None = observed("none", "step two")
    terms: tuple[int, ...] | None = observed("none", "step two")
    reason: str | None = observed("none", "step two")
    overlap: float | None = observed("none", "step two")
    null: float | None = observed("none", "step two")
    null_sd: float | None = observed("none", "step two")
    null_draws: int | None = observed("invariant", "run")


@observable
class FeatureSpikes(Observable):
    """Spikes of the feature matrix ``F = sigma(X W^T) / sqrt(n)`` made by one step
    (Moniri, Lee, Hassani, Dobriban 2023).

    ``spike_count``: the number of new spikes (predicted: ``l`` with alpha1 in
    ``((l-1)/(2l), l/(2l+2))``; measured: F1's singular values above F0's edge + margin, minus
    F0's own).  Predicted only: ``alpha``, ``critical``, ``interval``, ``reference``.  Measured
    only: ``threshold``, ``above_threshold``, the spectra ``F0`` and ``F1``
    (:class:`FeatureSpectrum`), ``definition``.
    """

    spike_count: int | None = observed("step_one", "step one")
    alpha: float | None = observed("step_one", "step one")
    critical: bool | None = observed("step_one", "step one")
    interval: str | None = observed("step_one", "step one")
    reference: str | None = observed("invariant", "run")
    threshold: float | None = observed("invariant", "width")
    above_threshold: int | None = observed("step_one", "step one")
    F0: FeatureSpectrum | None = observed("invariant", "width")
    F1: FeatureSpectrum | None = observed("step_one", "step one")
    definition: str | None = observed("invariant", "run")

    def __post_init__(self) -> None:
        object.__setattr__(self, "F0", typed(FeatureSpectrum, self.F0))
        object.__setattr__(self, "F1", typed(FeatureSpectrum, self.F1))


@observable
class Series(Record):
    """Diagnostics of the exact terms' truncated series (docs/theory.md, the exact terms):
    ``K`` terms, the step sizes ``eta1``, ``eta2``, the relative ``residual``
    ``||U - sum_{k<=K} T_k|| / ||U||`` (None: unknown, ``residual_missing`` says why),
    ``residual_norm``, ``update_norm``, the operator ``norms`` ``||T_k||`` and their
    successive ``ratios``, the ``tolerance`` and ``converges`` (residual <= tolerance), and
    ``p1`` (:class:`P1Stats`: the size of the first-order part).  A measurement rescaled to
    other step sizes (compare/plans/core.py, docs/claims.md) also has ``core_rule``, ``radius``,
    ``core_from`` (the :class:`ModelConfig` it was measured at) and ``core_scales`` (the factor
    of each term).  How each
    is rescaled is its declared scale (theory/fields.py): ``given`` ones are set by the
    rescaling from the target's step sizes and the residual rule."""

    K: int | None = observed("invariant", "run")
    eta1: float | None = observed("given", "run")
    eta2: float | None = observed("given", "run")
    residual: float | None = observed("given", "step two")
    residual_norm: float | None = observed("update", "step two")
    update_norm: float | None = observed("update", "step two")
    norms: tuple[float | None, ...] | None = observed("per_term", "step two")
    ratios: tuple[float | None, ...] | None = observed("ratio", "step two")
    tolerance: float | None = observed("invariant", "run")
    converges: bool | None = observed("given", "step two")
    p1: P1Stats | None = observed("given", "step one")
    residual_missing: str | None = observed("given", "step two")
    core_rule: str | None = observed("given", "run")
    radius: float | None = observed("given", "run")
    core_from: ModelConfig | None = observed("given", "run")
    core_scales: tuple[float, ...] | None = observed("given", "run")

    def __post_init__(self) -> None:
        object.__setattr__(self, "p1", typed(P1Stats, self.p1))
        if self.core_from is not None and not isinstance(self.core_from, ModelConfig):
            object.__setattr__(self, "core_from", ModelConfig.from_dict(self.core_from))

    def _as_mapped(self, name: str) -> Any:
        if name == "core_from" and self.core_from is not None:
            return self.core_from.to_dict()  # the mapping held the config's dict
        return getattr(self, name)


@observable
class StepStats(Record):
    """The size statistics of one GD step (``dynamics[i]``; docs/reference.md): ``t`` the step
    (its :attr:`step`: the regime guard reads an entry with ``t >= 2`` as a step-two quantity),
    ``eta`` its step size ``etabar N^alpha``, ``batch_index`` which batch (a reused batch
    repeats the index), the rms of the target (``target_rms``), of the output ``f_{t-1}`` on
    the batch (``output_rms``) and of the residual (``residual_rms``), the update's Frobenius
    ``update_norm`` and ``update_ratio`` (that norm over its natural scale: the blow-up check),
    ``u_norm = ||X^T r / n||``."""

    t: int | None = observed("invariant", "run")
    eta: float | None = observed("none", "run")
    batch_index: int | None = observed("invariant", "run")
    target_rms: float | None = observed("invariant", "width")
    output_rms: float | None = observed("none", "entry")
    residual_rms: float | None = observed("none", "entry")
    update_norm: float | None = observed("none", "entry")
    update_ratio: float | None = observed("none", "entry")
    u_norm: float | None = observed("none", "entry")

    @property
    def step(self) -> int | None:
        """The step this entry belongs to (``t``)."""
        return self.t


@observable
class Missing(Observable):
    """Why a field is None on one side (:meth:`Observables.why`): ``field`` is a field's name
    (``"terms"``), a record's field under it (``"terms.null_floor"``, ``"spectra.W2"``) or one
    term's (``"term(1).amplitude"``); ``reason`` says why, in one line."""

    field: str = observed("invariant", "run", required=True)
    reason: str = observed("invariant", "run", required=True)


def _records(kind: type[Observable], values: Any) -> tuple | None:
    return None if values is None else tuple(kind.from_dict(v) for v in values)


@dataclass(frozen=True)
class Observables(Observable):
    """The observables of one configuration at one width N: what ``Prediction.at(N)``
    predicts, and what a :class:`~twostep.simulate.Measurement` (a subclass: these fields and
    the run's) measured.  A statistic ``f(obs)`` reading these fields runs on either
    (docs/howto-own-claim.md).  A field one side cannot supply is None there (or empty), and
    :meth:`why` says why (``missing``): a prediction has no null floor, a run that did not ask
    for the exact terms has none.

    Spectra are looked up by their matrix's name (:meth:`spectrum`: ``obs.spectrum("W2")``;
    ``spectra`` is the :class:`Spectra` of all, in order).  Terms are looked up by k, never by
    position (:meth:`term`, :meth:`amplitude`): a
    prediction's ``term(k).amplitude`` is the mean of ``||T_k^T q_{k+1}||`` and
    ``term(k).coherent_sq`` the squared spike strength ``theta_k^2``;
    ``visible_new_outliers`` counts the terms k >= 1 predicted out of the bulk at this N
    (docs/amplitudes.md)."""

    N: int = _of("run")
    d: int = _of("run")
    n: int = _of("run")
    bulk_edge: float | None = _of("width", default=None)
    spectra: Spectra = _of("per step", default_factory=Spectra)
    step_one_spike: StepOneSpike | None = _of("step one", default=None)
    outliers: tuple[Outlier, ...] | None = _of("step two", default=None)
    visible_new_outliers: int | None = _of("step two", default=None)
    amplitudes: tuple[Projection, ...] = _of("step two", default=())
    terms: tuple[ExactTerm, ...] | None = _of("exact terms", default=None)
    beta: BetaLearning | None = _of("step two", default=None)
    features: FeatureSpikes | None = _of("step one", default=None)
    missing: tuple[Missing, ...] = _of("run", default=())

    def __repr__(self) -> str:
        return (f"Observables(N={self.N}, d={self.d}, n={self.n}, "
                f"bulk_edge={html.text(self.bulk_edge)}, "
                f"outliers={html.short(html.outliers(self.outliers), 60)}, "
                f"visible_new_outliers={self.visible_new_outliers})")

    def _repr_html_(self) -> str:
        return html.observables(self, f"Observables at N = {self.N}")

    def __post_init__(self) -> None:
        """Mappings (from JSON) become the observables' types, lists tuples."""
        fix = object.__setattr__
        fix(self, "spectra", Spectra.of(self.spectra, self._step_count()))
        fix(self, "outliers", _records(Outlier, self.outliers))
        fix(self, "amplitudes", _records(Projection, self.amplitudes) or ())
        fix(self, "terms", _records(ExactTerm, self.terms))
        fix(self, "missing", _records(Missing, self.missing) or ())
        for name, kind in (("step_one_spike", StepOneSpike), ("beta", BetaLearning),
                           ("features", FeatureSpikes)):
            value = getattr(self, name)
            fix(self, name, None if value is None else kind.from_dict(value))

    def _step_count(self) -> int:
        """The number of steps, which places each spectrum's step (a prediction is of two)."""
        return 2

    # -- by k --------------------------------------------------------------------------------
    def term(self, k: int) -> ExactTerm:
        """The exact term ``T_k`` (:class:`ExactTerm`), looked up by its k; a KeyError naming
        the ks there are (:class:`NoSuchTerm`; none at all: :meth:`why` ``("terms")`` says
        why)."""
        return by_k(self.terms, k, "term", self.why("terms"))

    def spectrum(self, name: str) -> Spectrum:
        """The spectrum of the matrix ``name`` (``"W1"``..``"WT"``, ``"update"``; a
        :class:`Spectrum`): a KeyError naming the spectra there are when absent
        (:class:`~twostep.theory.errors.NoSuchSpectrum`, with :meth:`why` it is absent)."""
        return self.spectra.find(name, self.why(f"spectra.{name}"))

    def amplitude(self, k: int) -> Projection:
        """The projection of the update on ``q_{k+1}`` (:class:`Projection`), by its k."""
        return by_k(self.amplitudes, k, "amplitude", self.why("amplitudes"))

    # -- why a field is None -----------------------------------------------------------------
    def why(self, name: str) -> str | None:
        """Why the field ``name`` is None (or empty) here: the reason recorded in ``missing``
        for ``name`` or, failing that, for the field it belongs to (``"terms.null_floor"``
        falls back to ``"terms"``, ``"term(1).amplitude"`` to ``"terms.amplitude"``, then
        ``"terms"``).  None: no reason recorded (the field has its value).  An unknown field
        is a ConfigError naming the fields."""
        head = name.split(".")[0].split("(")[0]
        head = "terms" if head == "term" else "amplitudes" if head == "amplitude" else head
        if head not in _names(type(self)):
            raise ConfigError(f"{type(self).__name__} has no field {head!r}; fields: "
                              f"{', '.join(_names(type(self)))}")
        reasons = {m.field: m.reason for m in self.missing}
        for candidate in why_names(name, head):
            if candidate in reasons:
                return reasons[candidate]
        return None


#: The fields an :class:`Observables` has: every one is a field of a Measurement too, with
#: the same name and type (tests/test_contract.py).
OBSERVABLE_FIELDS = _names(Observables)


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {"spectrum_step": "twostep.theory.spectra"})
