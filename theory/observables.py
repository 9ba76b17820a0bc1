"""The observables theory predicts and simulation measures, one type each (docs/reference.md).

A :class:`~twostep.theory.predict.Prediction` at a width N is an :class:`Observables`, and a
:class:`~twostep.simulate.Measurement` is one too (a subclass): the fields are declared once,
here, so the two are compared field by field, and a claim's statistic reads typed attributes
(``m.step_one_spike.value``, ``m.amplitude(1).amplitude``, ``m.term(2).null_floor``: terms by
their k).  A field one side does not know is None there (a prediction has no null floor; a
measurement has no ``statement``), and :meth:`Observables.why` says why.  Every overlap is a
squared cosine in [0, 1].

``to_dict()`` gives the JSON keys (the field names); ``from_dict()`` reads them back and refuses
unknown keys in one line.

Every field of a record here declares how it scales with the step sizes and which step it
belongs to (``observed(scale=..., step=...)``, :mod:`twostep.theory.fields`); a field that
declares nothing is refused when its class is created (``@observable``).  The core view's
rescaling (compare/rescale.py) and the regime guard (compare/claims/guard.py) read these
declarations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import html
from .config import ModelConfig
from .errors import ConfigError
from .fields import _of, by_k, observable, observed, why_names
from .records import (
    EdgeFit,
    Histogram,
    NpzRef,
    Observable,
    P1Stats,
    Record,
    Solver,
    _names,
    typed,
    typed_tuple,
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
class Outlier(Record):
    """One outlier of a weight matrix.

    ``term``: the step-two term k it belongs to (its left vector follows ``a^{k+1}``;
    ``left_power`` = k + 1); ``value``: its singular value (predicted only where theory gives a
    finite location, else None).  Measured only: ``index`` (rank among the singular values),
    ``gap`` (above the bulk edge), ``left_overlaps`` (with ``q_1..q_K``),
    ``right_beta_overlap`` (right vector with beta_*; format 2: ``beta_overlap``).
    Predicted only: ``exponent`` (its size ``N^exponent``),
    ``growth`` and a ``statement``.
    """

    value: float | None = observed("none", "entry")
    term: int | None = observed("invariant", "run")
    left_power: int | None = observed("invariant", "run")
    index: int | None = observed("none", "entry")
    gap: float | None = observed("none", "entry")
    left_overlaps: tuple[float | None, ...] | None = observed("none", "entry")
    right_beta_overlap: float | None = observed("none", "entry")
    exponent: float | None = observed("none", "entry")
    growth: str | None = observed("none", "entry")
    statement: str | None = observed("none", "entry")


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

    Rescaled to other step sizes (compare/core.py) as each field declares (theory/fields.py):
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
class Spectrum(Record):
    """The top of one matrix's spectrum (``spectra[name]``, name ``W1``..``WT`` or ``update``).

    ``step``: the step it belongs to (t for ``W_t``, the last step T for the update
    ``W_T - W_{T-1}``; :func:`spectrum_step`): the regime guard reads a spectrum of step 2 or
    later as a step-two quantity (docs/claims.md).

    ``singular_values``: the top ones, descending; ``bulk_edge``: the theory's edge of W_0,
    ``1 + sqrt(N/d)`` (None for the update); ``bulk_edge_empirical``, ``margin``,
    ``tracy_widom_scale``, ``edge_used`` (``"empirical"``, ``"theory"`` or None),
    ``edge_fit`` (:class:`EdgeFit`) and ``solver`` (:class:`Solver`): how the edge was fitted
    and the top singular values computed (``computed`` of them); ``outliers``: the
    :class:`Outlier` s above edge + margin.  With ``spectrum=True`` runs also ``values``
    (every singular value: an array in memory, ``{"npz": key, "size": n}`` in a JSON file, an
    :class:`NpzRef` read from it until :meth:`Measurement.load` restores the array) and
    ``histogram`` (:class:`Histogram`).  A prediction's spectrum has ``bulk_edge`` and the
    predicted ``outliers`` only."""

    singular_values: tuple[float, ...] | None = observed("none", "entry")
    bulk_edge: float | None = observed("invariant", "width")
    bulk_edge_empirical: float | None = observed("none", "entry")
    tracy_widom_scale: float | None = observed("none", "entry")
    margin: float | None = observed("none", "entry")
    edge_used: str | None = observed("none", "entry")
    edge_fit: EdgeFit | None = observed("none", "entry")
    solver: Solver | None = observed("none", "entry")
    computed: int | None = observed("invariant", "run")
    outliers: tuple[Outlier, ...] | None = observed("none", "entry")
    values: np.ndarray | NpzRef | None = observed("none", "entry")
    histogram: Histogram | None = observed("none", "entry")
    step: int | None = observed("invariant", "run")

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "outliers", typed_tuple(Outlier, self.outliers))
        if isinstance(self.singular_values, list):
            fix(self, "singular_values", tuple(self.singular_values))
        for name, kind in (("edge_fit", EdgeFit), ("solver", Solver), ("histogram", Histogram)):
            fix(self, name, typed(kind, getattr(self, name)))
        if isinstance(self.values, Mapping):  # the key of the array in the npz (JSON)
            fix(self, "values", NpzRef.from_dict(self.values))


@observable
class FeatureSpectrum(Spectrum):
    """The spectrum of a feature matrix (``FeatureSpikes.F0``, ``F1``): a :class:`Spectrum`
    (no outliers, no theory edge) and ``edge_outliers``, its values above the edge + margin."""

    edge_outliers: int | None = observed("none", "entry")


@observable
class Series(Record):
    """Diagnostics of the exact terms' truncated series (docs/theory.md, the exact terms):
    ``K`` terms, the step sizes ``eta1``, ``eta2``, the relative ``residual``
    ``||U - sum_{k<=K} T_k|| / ||U||`` (None: unknown, ``residual_missing`` says why),
    ``residual_norm``, ``update_norm``, the operator ``norms`` ``||T_k||`` and their
    successive ``ratios``, the ``tolerance`` and ``converges`` (residual <= tolerance), and
    ``p1`` (:class:`P1Stats`: the size of the first-order part).  A measurement rescaled to
    other step sizes (compare/core.py, docs/claims.md) also has ``core_rule``, ``radius``,
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


def spectrum_step(name: str, steps: int) -> int | None:
    """The step a spectrum named ``name`` belongs to in a run of ``steps`` steps: t for
    ``W<t>``, the last step for ``update``; None for another name."""
    if name == "update":
        return steps
    if name.startswith("W") and name[1:].isdigit():
        return int(name[1:])
    return None


def with_steps(spectra: Mapping[str, Any] | None, steps: int) -> dict[str, Spectrum]:
    """``spectra`` as :class:`Spectrum` records, each with its ``step`` (given, else
    :func:`spectrum_step` of its name: stored spectra from before the field)."""
    out = {}
    for name, spec in (spectra or {}).items():
        spec = Spectrum.from_dict(spec)
        if spec.step is None and spectrum_step(name, steps) is not None:
            spec = dataclasses.replace(spec, step=spectrum_step(name, steps))
        out[name] = spec
    return out


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

    Terms are looked up by k, never by position (:meth:`term`, :meth:`amplitude`): a
    prediction's ``term(k).amplitude`` is the mean of ``||T_k^T q_{k+1}||`` and
    ``term(k).coherent_sq`` the squared spike strength ``theta_k^2``;
    ``visible_new_outliers`` counts the terms k >= 1 predicted out of the bulk at this N
    (docs/amplitudes.md)."""

    N: int = _of("run")
    d: int = _of("run")
    n: int = _of("run")
    bulk_edge: float | None = _of("width", default=None)
    spectra: dict[str, Spectrum] = _of("per step", default_factory=dict)
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
        fix(self, "spectra", with_steps(self.spectra, self._step_count()))
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
