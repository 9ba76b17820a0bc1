"""The finite-size collapse figures of the amplitude claims
(:mod:`twostep.compare.output.plot_claims` is the API): a measured amplitude divided by its
predicted N-dependence, flat when the claim holds.

- :func:`draw_growth_collapse` (``growth-exponent``): ``N^{-e_k} A_k``, the floor-corrected
  projected amplitude of the whole update;
- :func:`draw_coherent_collapse` (``term-exponent``): ``N^{-2 e_k} \\hat\\theta_k^2 / L_k``,
  the exact term's squared coherent strength per unit left weight (what the verdicts fit);
- :func:`draw_amplitude_ratio` (``term-amplitude``): the exact term's amplitude over its
  finite-N prediction, ``predict(config).at(N).terms``.

Each term's rescaled values are divided by their mean at the largest N, so every term ends at
1 and a flat row of points is the predicted exponent (or amplitude).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from ..science.claims import floor_corrected
from ..science.claims.coherent import coherent_values
from .plot_canvas import config_title, set_caption, term_colour, width_axis
from .plot_seeds import (
    draw_series,
    exact_term,
    hatch_note,
    hatch_unconverged,
    legend,
    mean_and_interval,
    need,
    per_seed,
    start,
)

_SEEDS = ("Points: mean over seeds with its 95% interval; faint dots: each seed (the axis "
          "holds the intervals: a seed far outside them is clipped).")


def _shift(i: int, n: int) -> float:
    """The factor on N of the i-th of n series, so that they stand side by side at one N."""
    return 1.0 + 0.035 * (i - (n - 1) / 2)


def _normalised(values: Mapping[int, Sequence[float]], power: float
                ) -> dict[int, list[float]] | None:
    """``N^{-power} v`` per seed, divided by the mean at the largest N (None when that mean is
    not positive: nothing to divide by)."""
    scaled = {N: [v * N ** -power for v in vs] for N, vs in values.items()}
    last = scaled[max(scaled)]
    ref = sum(last) / len(last)
    if not ref > 0:
        return None
    return {N: [v / ref for v in vs] for N, vs in scaled.items()}


def _collapse(ax: Any, series: Mapping[int, tuple[Mapping[int, Sequence[float]], float, str]]
              ) -> tuple[list[int], list[int]]:
    """Draw each term's normalised rescaled values; return the terms drawn and those left out
    (mean not positive at the largest N).  The y range holds every mean's interval (and at
    least 0.8 .. 1.2): a seed far outside it (the pair estimate of a term below the noise) is
    clipped rather than squashing the means."""
    drawn, left = [], []
    lo, hi = 0.8, 1.2
    for i, (k, (values, power, exact)) in enumerate(series.items()):
        norm = _normalised(values, power)
        if norm is None:
            left.append(k)
            continue
        draw_series(ax, norm, term_colour(k), shift=_shift(i, len(series)),
                    label=f"$k={k}$, $e_k={exact}$")
        for vs in norm.values():
            _, low, high = mean_and_interval(vs)
            lo, hi = min(lo, low), max(hi, high)
        drawn.append(k)
    ax.axhline(1.0, color="0.3", lw=0.9, ls="--", zorder=2)
    pad = 0.05 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    return drawn, left


def _finish(ax: Any, own: bool, config: Any, Ns: Sequence[int], ylabel: str) -> None:
    """Axes, labels and legend of a collapse or ratio."""
    ax.ticklabel_format(axis="y", useOffset=False)
    width_axis(ax, Ns)
    ax.set_xlabel("$N$")
    ax.set_ylabel(ylabel)
    ax.set_title(config_title(config))
    ax.grid(True, which="major", alpha=0.25)
    legend(ax, own, title="term")


def _ks(claim: Any, config: Any) -> list[int]:
    """The terms a growth or term exponent claim tests (its ``terms``, else the predicted
    present, non-vanishing ones)."""
    pred = predict(config)
    if getattr(claim, "terms", None):
        return list(claim.terms)
    return [t.k for t in pred.laws if t.present and t.growth != "vanishing"]


def draw_growth_collapse(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                         caption: bool = False) -> Any:
    """``growth-exponent``: ``N^{-e_k} A_k`` (floor-corrected amplitude of the whole update on
    ``q_{k+1}``) per term, divided by its mean at the largest N: flat when ``A_k ~ N^{e_k}``."""
    fig, ax, own = start(ax)
    pred = predict(config)
    series = {}
    for k in _ks(claim, config):
        def amp(m: Any, k: int = k, key: str = "amplitude") -> Any:
            a = next((p for p in (m.amplitudes or ()) if p.k == k), None)
            return None if a is None else getattr(a, key)

        raw = per_seed(results, config, amp)
        flo = per_seed(results, config, lambda m, k=k: amp(m, k, "null_floor"))
        if not raw:
            continue
        vals = floor_corrected(raw, {N: flo.get(N, [0.0]) for N in raw})
        law = pred.law(k)
        series[k] = (vals, law.exponent, law.exponent_exact)
    Ns = sorted({N for v, _, _ in series.values() for N in v})
    need(Ns, "whole-update amplitudes", 2)
    bad = hatch_unconverged(ax, results, config, Ns)
    drawn, left = _collapse(ax, series)
    lines = ["Finite-size collapse: the floor-corrected amplitude sqrt(A_k^2 - F_k^2) of the "
             "whole update on q_{k+1}, times N^(-e_k), divided by its mean at the largest N; "
             "flat (dashed line at 1) when the amplitude grows as N^e_k.",
             _SEEDS]
    if left:
        lines.append(f"Left out: term(s) {left}, not above the floor at the largest N.")
    _finish(ax, own, config, Ns, r"$N^{-e_k}\,A_k$ / (value at largest $N$)")
    set_caption(fig, lines + hatch_note(bad), draw=caption)
    return fig


def draw_coherent_collapse(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                           caption: bool = False) -> Any:
    """``term-exponent``: ``N^{-2 e_k} \\hat\\theta_k^2 / L_k`` (the exact term's squared
    coherent strength per unit left weight, per seed: what the coherent rule fits,
    :func:`~twostep.compare.science.claims.coherent.coherent_values`) per term, divided by its mean
    at the largest N: flat when ``theta_k ~ N^{e_k}``."""
    fig, ax, own = start(ax)
    pred = predict(config)
    known = {t.k: t for t in pred.laws}
    series, unmeasured = {}, []
    for k in _ks(claim, config):
        if k not in known:
            continue
        try:
            raw = coherent_values(results, config, k, "term-exponent")
        except ConfigError:  # not measured (terms=K below k), or measured before twostep 0.2
            unmeasured.append(k)
            continue
        vals = {N: [v for v in vs if math.isfinite(v)] for N, vs in raw.items()}
        vals = {N: vs for N, vs in vals.items() if vs}
        if vals:
            series[k] = (vals, 2 * known[k].exponent, known[k].exponent_exact)
    if not series:
        raise ConfigError("no figure: the measurements have no coherent strengths of the exact "
                          "terms (coherent_sq, left_weight); rerun with terms=K")
    Ns = sorted({N for v, _, _ in series.values() for N in v})
    need(Ns, "coherent strengths", 2)
    bad = hatch_unconverged(ax, results, config, Ns)
    drawn, left = _collapse(ax, series)
    lines = ["Finite-size collapse: the squared coherent (BBP) strength of the exact term T_k "
             "per unit left weight (the pair estimate, per seed, that the coherent rule fits; "
             "it can be negative where the term is below the noise), times N^(-2 e_k), divided "
             "by its mean at the largest N; flat (dashed line at 1) when theta_k grows as "
             "N^e_k.", _SEEDS]
    if left:
        lines.append(f"Left out: term(s) {left}, mean coherent strength not positive at the "
                     "largest N.")
    if unmeasured:
        lines.append(f"Not measured in every seed: term(s) {unmeasured}.")
    _finish(ax, own, config, Ns,
            r"$N^{-2e_k}\,\hat\theta_k^2 / L_k$ / (value at largest $N$)")
    set_caption(fig, lines + hatch_note(bad), draw=caption)
    return fig


def predicted_amplitude(config: Any, k: int, N: int) -> float | None:
    """Term k's finite-N amplitude ``||T_k^T q_{k+1}||`` predicted at width N, read from
    ``predict(config).at(N)`` (None where the theory gives none)."""
    at = predict(config).at(int(N), ks=[k])
    term = next((t for t in at.terms if t.k == k), None)
    return None if term is None else term.amplitude


def draw_amplitude_ratio(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                         caption: bool = False) -> Any:
    """``term-amplitude``: the exact term's amplitude ``||T_k^T q_{k+1}||`` over its finite-N
    prediction per seed, against N, with the claim's tolerance band around 1."""
    fig, ax, own = start(ax)
    ks = list(getattr(claim, "terms", (0, 1)))
    tol = float(getattr(claim, "tolerance", 0.03))
    factor = float(getattr(claim, "factor", 1.0))
    Ns = results.Ns(config)
    need(Ns, "measurements", 1)
    bad = hatch_unconverged(ax, results, config, Ns)
    ax.axhspan(1 - tol, 1 + tol, color="0.5", alpha=0.2, lw=0, zorder=0)
    ax.axhline(1.0, color="0.3", lw=0.9, ls="--", zorder=2)
    missing = []
    for i, k in enumerate(ks):
        pred = {N: predicted_amplitude(config, k, N) for N in Ns}
        if any(not p for p in pred.values()):
            missing.append(k)
            continue
        vals = per_seed(results, config, lambda m, k=k: getattr(exact_term(m, k),
                                                               "amplitude", None))
        ratio = {N: [v / (factor * pred[N]) for v in vs] for N, vs in vals.items()}
        draw_series(ax, ratio, term_colour(k), shift=_shift(i, len(ks)), label=f"$k={k}$")
    lines = ["Measured over predicted amplitude ||T_k^T q_{k+1}|| of the exact term (the "
             "finite-N prediction of docs/amplitudes.md, predict(config).at(N)); "
             f"grey band: 1 ± {tol:g}, the tolerance on the ratio's limit as N grows, which "
             "the verdict extrapolates (r(N) = r_inf + c N^(-1/2)).",
             "Points: mean over seeds with its 95% interval; faint dots: each seed."]
    if factor != 1.0:
        lines.append(f"The prediction is scaled by {factor:g} (a planted error).")
    if missing:
        lines.append(f"Not drawn: term(s) {missing}, with no (or a zero) finite-N prediction.")
    _finish(ax, own, config, Ns, r"$\|T_k^\top q_{k+1}\|$ measured / predicted")
    set_caption(fig, lines + hatch_note(bad), draw=caption)
    return fig
