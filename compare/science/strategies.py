"""Hypothesis strategies shared by the test suite and ``twostep fuzz``.

``alphas()`` draws ``(alpha1, alpha2)`` in ``[0, 1/2)^2`` on a decimal grid (so the exact
rational of each value is its decimal, and critical pairs such as ``(0.25, 0.25)`` are drawn),
optionally keeping a margin around the critical lines ``alpha2 = k (1/2 - alpha1)``.
``model_configs()`` composes them with activations (smooth and non-smooth), Hermite targets
and the two batch modes into :class:`~twostep.theory.ModelConfig` objects.
Requires the ``test`` extra (hypothesis).
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from twostep.theory.config import BATCH_MODES, ModelConfig
from twostep.theory.counts import paper_count

#: Smooth built-in activations whose coefficients are defined for every term.
SMOOTH_ACTIVATIONS = ("tanh", "erf", "gelu", "silu", "softplus", "sigmoid", "sin",
                      "tanh(z + 1/2)")
#: What :func:`model_configs` draws by default: an odd, a shifted (no parity), a smooth
#: non-odd built-in and a non-smooth one (whose reuse moments may be undefined).
CONFIG_ACTIVATIONS = ("tanh", "tanh(z + 1/2)", "gelu", "relu")
#: Hermite targets of information exponent 1, 2, 3.
HERMITE_TARGETS = ("He1", "He2", "He3")


def distance_to_critical(alpha1: float, alpha2: float) -> float:
    """Distance (in alpha2) to the nearest critical line ``alpha2 = k (1/2 - alpha1)``."""
    gap = 0.5 - alpha1
    k = round(alpha2 / gap)
    return min(abs(alpha2 - j * gap) for j in (max(k - 1, 0), k, k + 1))


def alphas(*, resolution: int = 1000, margin: float = 0.0, min_alpha1: float = 0.0,
           max_alpha1: float = 0.5, min_alpha2: float = 0.0) -> st.SearchStrategy:
    """``(alpha1, alpha2)`` pairs ``(i/resolution, j/resolution)`` in ``[0, 1/2)^2``.

    ``margin > 0`` keeps pairs at least ``margin`` away (in alpha2) from every critical line.
    """
    hi = resolution // 2 - 1
    lo1 = int(round(min_alpha1 * resolution))
    hi1 = min(hi, int(round(max_alpha1 * resolution)) - (1 if max_alpha1 >= 0.5 else 0))
    lo2 = int(round(min_alpha2 * resolution))
    pairs = st.tuples(st.integers(lo1, hi1), st.integers(lo2, hi)).map(
        lambda ij: (float(Fraction(ij[0], resolution)), float(Fraction(ij[1], resolution))))
    if margin > 0:
        pairs = pairs.filter(lambda p: distance_to_critical(*p) >= margin)
    return pairs


def activations() -> st.SearchStrategy:
    """One of the smooth built-in activations :data:`SMOOTH_ACTIVATIONS`."""
    return st.sampled_from(SMOOTH_ACTIVATIONS)


def model_configs(*, activation: st.SearchStrategy | None = None,
                  target: st.SearchStrategy | None = None, batches: tuple[str, ...] = BATCH_MODES,
                  max_count: int | None = None, resolution: int = 1000,
                  margin: float = 0.0) -> st.SearchStrategy:
    """Canonical :class:`ModelConfig` objects: ``(alpha1, alpha2)`` from :func:`alphas`, an
    activation (default: one of :data:`CONFIG_ACTIVATIONS`), a target (default: one of
    :data:`HERMITE_TARGETS`) and a batch mode.

    ``max_count`` keeps pairs whose paper count ``floor(alpha2 / (1/2 - alpha1))`` is at most
    that (a prediction computes ``max(count + 1, 2)`` terms, each a few symbolic moments, so
    a small count keeps a property test fast).
    """
    pairs = alphas(resolution=resolution, margin=margin)
    if max_count is not None:
        pairs = pairs.filter(lambda p: paper_count(*p)[0] <= max_count)

    def build(drawn: tuple) -> ModelConfig:
        (a1, a2), act, tgt, batch = drawn
        return ModelConfig(activation=act, target=tgt, batch=batch, alpha1=a1, alpha2=a2)

    if activation is None:
        activation = st.sampled_from(CONFIG_ACTIVATIONS)
    if target is None:
        target = st.sampled_from(HERMITE_TARGETS)
    return st.tuples(pairs, activation, target,
                     st.sampled_from(tuple(batches))).map(build)


def polynomial_targets(max_degree: int = 6, max_coefficient: int = 5) -> st.SearchStrategy:
    """Polynomial targets as expression strings in z with small integer coefficients."""
    def build(coefs: list[int]) -> str:
        return " + ".join(f"({c})*z**{i}" for i, c in enumerate(coefs) if c) or "z"

    return st.lists(st.integers(-max_coefficient, max_coefficient), min_size=2,
                    max_size=max_degree + 1).filter(lambda cs: any(cs[1:])).map(build)
