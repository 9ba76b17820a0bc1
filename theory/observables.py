"""The observables theory predicts and simulation measures, one type each (docs/reference.md).

A :class:`~twostep.theory.predict.Prediction` at a width N and a
:class:`~twostep.simulate.Measurement` hold the same types under the same names, so they are
compared field by field, and a claim's statistic reads typed attributes
(``m.step_one_spike.value``, ``m.amplitudes[1].amplitude``, ``m.terms[2].null_floor``).
A field one side does not know is None there (a prediction has no null floor; a measurement
has no ``statement``).  Every overlap is a squared cosine in [0, 1].

``to_dict()`` gives the JSON keys (the field names); ``from_dict()`` reads them back and refuses
unknown keys in one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T", bound="Observable")


def _plain(value: Any) -> Any:
    if isinstance(value, Observable):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _frozen(value: Any) -> Any:
    """Lists (from JSON) become tuples, so the observables stay hashable and immutable."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class Observable:
    """Base of the observables: JSON round trip by field name."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any] | T) -> T:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__} must be a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(names))}")
        return cls(**{k: _frozen(v) for k, v in data.items()})


@dataclass(frozen=True)
class StepOneSpike(Observable):
    """The top singular triplet of W_1: the spike step one adds (docs/theory.md, step one).

    ``value``: its singular value (predicted: the BBP location for alpha1 = 0, the leading
    order ``strength N^alpha1`` for alpha1 > 0); ``overlap_right``: right vector with
    ``u = X^T y / n``; ``overlap_left``: left vector with the second layer ``a``;
    ``overlap_beta``: right vector with beta_*; ``u_norm``: ``||u||``.
    """

    value: float | None = None
    overlap_right: float | None = None
    overlap_left: float | None = None
    overlap_beta: float | None = None
    u_norm: float | None = None


@dataclass(frozen=True)
class Outlier(Observable):
    """One outlier of a weight matrix.

    ``term``: the step-two term k it belongs to (its left vector follows ``a^{k+1}``;
    ``left_power`` = k + 1); ``value``: its singular value (predicted only where theory gives a
    finite location, else None).  Measured only: ``index`` (rank among the singular values),
    ``gap`` (above the bulk edge), ``left_overlaps`` (with ``q_1..q_K``), ``beta_overlap``
    (right vector with beta_*).  Predicted only: ``exponent`` (its size ``N^exponent``),
    ``growth`` and a ``statement``.
    """

    value: float | None = None
    term: int | None = None
    left_power: int | None = None
    index: int | None = None
    gap: float | None = None
    left_overlaps: tuple[float | None, ...] | None = None
    beta_overlap: float | None = None
    exponent: float | None = None
    growth: str | None = None
    statement: str | None = None


@dataclass(frozen=True)
class Projection(Observable):
    """The step-two update projected on ``q_{k+1}`` (the Gram-Schmidt of ``a^{k+1}``):
    ``amplitude = ||U^T q_{k+1}||``, its null floor (the same with independent second layers:
    mean and sd over the draws), the squared cosine of ``U^T q_{k+1}`` with beta_* and its
    null counterpart."""

    k: int
    left_power: int
    amplitude: float | None = None
    null_floor: float | None = None
    null_floor_sd: float | None = None
    beta_overlap: float | None = None
    null_beta_overlap: float | None = None
    null_beta_overlap_sd: float | None = None


@dataclass(frozen=True)
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
    carry beta_* (the ``reuse-learning`` claim)."""

    singular_values: tuple[float, ...] = ()
    left_overlap: float | None = None
    right_beta_overlap: float | None = None
    leakage: tuple[float | None, ...] = ()
    coherent_sq: float | None = None
    coherent_sq_se: float | None = None
    left_weight: float | None = None
    beta_component: float | None = None


@dataclass(frozen=True)
class BetaLearning(Observable):
    """Whether, and in which step-two direction, beta_* is learned.

    Predicted: ``learned`` (None: undecided), ``term`` (the first term whose right vector
    carries beta_*), ``terms`` (all of them), ``reason``.  Measured: ``overlap`` (the largest
    squared cosine of ``U^T q_{k+1}`` with beta_* over k), ``term`` (the k that attains it),
    ``null`` / ``null_sd`` (the same maximum with independent second layers, over
    ``null_draws`` draws).
    """

    learned: bool | None = None
    term: int | None = None
    terms: tuple[int, ...] | None = None
    reason: str | None = None
    overlap: float | None = None
    null: float | None = None
    null_sd: float | None = None
    null_draws: int | None = None


@dataclass(frozen=True)
class FeatureSpikes(Observable):
    """Spikes of the feature matrix ``F = sigma(X W^T) / sqrt(n)`` made by one step
    (Moniri, Lee, Hassani, Dobriban 2023).

    ``spike_count``: the number of new spikes (predicted: ``l`` with alpha1 in
    ``((l-1)/(2l), l/(2l+2))``; measured: F1's singular values above F0's edge + margin, minus
    F0's own).  Predicted only: ``alpha``, ``critical``, ``interval``, ``reference``.  Measured
    only: ``threshold``, ``above_threshold``, the spectra ``F0`` and ``F1``, ``definition``.
    """

    spike_count: int | None = None
    alpha: float | None = None
    critical: bool | None = None
    interval: str | None = None
    reference: str | None = None
    threshold: float | None = None
    above_threshold: int | None = None
    F0: dict | None = None
    F1: dict | None = None
    definition: str | None = None
