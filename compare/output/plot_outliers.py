"""The outlier figures of the claims (:mod:`twostep.compare.output.plot_claims` is the API): where
the outliers are, how many, and where their left vectors point, against N, each seed faintly behind
the mean and the prediction read from ``predict(config).at(N)``.

- :func:`draw_bbp` (``bbp``): W_1's top singular value and its squared overlaps at alpha1 = 0
  against the BBP location and overlaps;
- :func:`draw_locations` (``outlier-locations``): each step-two term's outlier against the
  finite-N forecast of its location (the curve ``twostep theory --N`` prints point by point)
  and the bulk edge;
- :func:`draw_count` (``outlier-count``): the terms' coherent strengths against the BBP
  threshold, and the new outliers seen at each N against the paper count;
- :func:`draw_spikes` (``one-step-spikes``): the feature matrix's spike count;
- :func:`draw_left_vectors` (``left-vectors``): the squared overlap of each W_2 outlier's left
  vector with ``q_{k+1}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from .plot_canvas import config_title, set_caption, term_colour, width_axis
from .plot_seeds import (
    draw_series,
    exact_term,
    legend,
    need,
    per_seed,
    plain_log_ticks,
    seeds,
    start,
    start_pair,
)

_SEEDS = "Points: mean over seeds with its 95% interval; faint dots: each seed."


def _dense(Ns: Sequence[int], points: int = 6) -> list[int]:
    """The measured widths and ``points`` more between them (a predicted curve)."""
    grid = np.geomspace(Ns[0] / 1.15, Ns[-1] * 1.15, points)
    return sorted({int(round(N)) for N in grid} | {int(N) for N in Ns})


def _spike(name: str) -> Any:
    return lambda m: None if m.step_one_spike is None else getattr(m.step_one_spike, name)


def draw_bbp(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
             caption: bool = False) -> Any:
    """``bbp``: W_1's top singular value against N with the BBP location and the bulk edge
    (left), and the squared overlaps of its right vector with beta_* and its left one with a
    against their BBP values (right).  ``ax``: a pair of axes, or one for the location alone."""
    fig, left, right, own = start_pair(ax)
    cfg = claim.configs(config)[0] if claim is not None else config.replace(alpha1=0.0)
    loc_tol = float(getattr(claim, "location_tolerance", 0.02))
    ov_tol = float(getattr(claim, "overlap_tolerance", 0.015))
    values = per_seed(results, cfg, _spike("value"))
    need(values, "W_1's top singular value", 1)
    Ns = sorted(values)
    at = predict(cfg).at(Ns[-1])
    spike, edge = at.step_one_spike, at.bulk_edge
    exists = spike.value is not None and spike.value > edge
    xs = [Ns[0] / 1.15, Ns[-1] * 1.15]
    if exists:
        left.fill_between(xs, spike.value * (1 - loc_tol), spike.value * (1 + loc_tol),
                          color="tab:blue", alpha=0.15, lw=0)
        left.plot(xs, [spike.value] * 2, "--", color="tab:blue", lw=1.1,
                  label=f"BBP location {spike.value:.4g}")
    left.plot(xs, [edge] * 2, ":", color="0.3", lw=1.1, label=f"bulk edge {edge:.4g}")
    draw_series(left, values, "tab:blue", label="measured")
    width_axis(left, Ns)
    left.set_xlabel("$N$")
    left.set_ylabel(r"top singular value of $W_1$")
    left.set_title("outlier location")
    left.legend(loc="best")
    lines = ["W_1's top singular value at alpha1 = 0 (step one only) against the BBP location "
             f"(dashed; shaded: ± {loc_tol:g} of it, the claim's tolerance) and the bulk edge "
             "(dotted), both predicted by predict(config).at(N) and constant in N.", _SEEDS]
    if right is not None:
        for name, colour, label in (("right_beta_overlap", "tab:red",
                                     r"right vector, $\beta_*$"),
                                    ("left_a_overlap", "tab:green", "left vector, $a$")):
            target = getattr(spike, name)
            data = per_seed(results, cfg, _spike(name))
            if target is not None:
                right.fill_between(xs, target - ov_tol, target + ov_tol, color=colour,
                                   alpha=0.15, lw=0)
                right.plot(xs, [target] * 2, "--", color=colour, lw=1.1)
            draw_series(right, data, colour, label=label)
        width_axis(right, Ns)
        right.set_xlabel("$N$")
        right.set_ylabel("squared overlap")
        right.set_title("overlaps")
        right.legend(loc="best")
        lines.append("Right: squared overlaps of the top singular vectors, against their BBP "
                     f"values (dashed; shaded ± {ov_tol:g}, the claim's tolerance).")
    if own:
        fig.suptitle(config_title(cfg, etabar=True))
    set_caption(fig, lines, draw=caption)
    return fig


def _locations(config: Any, ks: Sequence[int], Ns: Sequence[int], factor: float
               ) -> dict[int, dict[int, float | None]]:
    """Per term, the predicted W_2 location at each N (None inside the bulk): the finite-N
    forecast of ``twostep theory --N`` (``Prediction.term_amplitudes``), scaled by
    ``factor``."""
    pred = predict(config)
    out: dict[int, dict[int, float | None]] = {k: {} for k in ks}
    for N in Ns:
        try:
            amps = pred.term_amplitudes(N, ks)
        except ConfigError:  # a width of the curve beyond the step-size bound: no point there
            amps = []
        for k in ks:
            out[k][N] = None
        for a in amps:
            out[a.k][N] = None if a.location is None else factor * a.location
    return out


def draw_locations(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                   caption: bool = False) -> Any:
    """``outlier-locations``: the outlier identified with each step-two term k >= 1 per seed
    against N, with the finite-N forecast of its location (a curve through the widths, solid
    where it is out of the bulk) and the bulk edge (theory: dotted; each seed's empirical edge:
    faint grey)."""
    fig, ax, own = start(ax)
    pred = predict(config)
    ks = list(range(1, min(pred.paper_count, 3) + 1))
    if not ks:
        raise ConfigError("no figure: the paper count is 0, no step-two outlier is predicted")
    factor = float(getattr(claim, "factor", 1.0))
    Ns = results.Ns(config)
    need(Ns, "measurements", 1)
    grid = _dense(Ns)
    forecast = _locations(config, ks, grid, factor)
    for k in ks:
        col = term_colour(k)
        ys = np.array([np.nan if forecast[k][N] is None else forecast[k][N] for N in grid])
        ax.plot(grid, ys, "--", color=col, lw=1.1, zorder=2)
        found = per_seed(results, config, lambda m, k=k: next(
            (o.value for o in (m.outliers or ()) if o.term == k), None))
        draw_series(ax, found, col, label=f"$k={k}$ ($a^{{{k + 1}}}$)", line=False,
                    positive=True)
    if not any(len(ln.get_xdata()) and np.isfinite(np.asarray(ln.get_ydata(), float)).any()
               for ln in ax.lines):
        ax.text(0.5, 0.6, "no step-two outlier predicted out of the bulk\nor identified "
                "in any seed", transform=ax.transAxes, ha="center", va="center", color="0.3",
                bbox={"fc": "white", "ec": "none", "alpha": 0.85})
    edge = predict(config).at(Ns[-1], ks=()).bulk_edge
    ax.axhline(edge, color="0.3", ls=":", lw=1.1, label=f"bulk edge {edge:.3g}")
    emp = per_seed(results, config, lambda m: m.bulk_edge_empirical)
    for N, vals in emp.items():
        ax.plot(np.full(len(vals), N), vals, "_", color="0.4", ms=6, alpha=0.5, zorder=1)
    ax.set_yscale("log")
    plain_log_ticks(ax)
    width_axis(ax, Ns)
    ax.set_xlabel("$N$")
    ax.set_ylabel(r"outlier of $W_2$ (singular value)")
    ax.set_title(config_title(config))
    ax.grid(True, which="major", alpha=0.25)
    legend(ax, own, title="term (left vector)")
    lines = ["Outliers of W_2 identified with the step-two terms k >= 1 (simulate's rule), "
             "against the finite-N forecast of their locations (dashed, the values `twostep "
             "theory --N` prints, at the measured widths and between them; absent where the "
             "term is inside the bulk) and the bulk edge (dotted: theory; grey dashes: each "
             "seed's empirical edge).",
             "Points: mean over the seeds that identify the outlier, with its 95% interval; "
             "faint dots: each seed. The verdict compares each gap above the edge with the "
             "predicted one in units of the edge's fluctuation (docs/amplitudes.md)."]
    if factor != 1.0:
        lines.append(f"The forecast is scaled by {factor:g} (a planted error).")
    set_caption(fig, lines, draw=caption)
    return fig


def _count_ks(pred: Any, claim: Any) -> list[int]:
    top = max(pred.paper_count, getattr(claim, "claimed", None) or 0) + 1
    return [t.k for t in pred.laws if 1 <= t.k <= top]


def draw_count(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
               caption: bool = False) -> Any:
    """``outlier-count``: the coherent (BBP) strength of each exact term k = 1 ..
    paper_count + 1 against N, with its predicted slope ``N^{e_k}`` and the BBP threshold
    ``c^{1/4}`` (left); the new outliers of W_2 seen per seed against the paper count (right).
    ``ax``: a pair of axes, or one for the strengths alone."""
    fig, left, right, own = start_pair(ax)
    pred = predict(config)
    ks = _count_ks(pred, claim)
    Ns = results.Ns(config)
    need(Ns, "measurements", 1)
    for i, k in enumerate(ks):
        col = term_colour(k)
        sq = per_seed(results, config, lambda m, k=k: getattr(exact_term(m, k),
                                                             "coherent_sq", None))
        theta = {N: [float(np.sqrt(max(v, 0.0))) for v in vs] for N, vs in sq.items()}
        line = draw_series(left, theta, col, label=f"$k={k}$, $e_k={pred.law(k).exponent_exact}$",
                           shift=1.0 + 0.025 * (i - (len(ks) - 1) / 2), positive=True)
        if line is not None and len(line.get_xdata()):  # the slope, anchored at the last mean
            x0, y0 = line.get_xdata()[-1], line.get_ydata()[-1]
            xs = np.geomspace(Ns[0] / 1.1, Ns[-1] * 1.1, 20)
            left.plot(xs, y0 * (xs / x0) ** pred.law(k).exponent, "--", color=col, lw=1.0)
    at = predict(config).at(Ns[-1], ks=())
    threshold = (at.N / at.d) ** 0.25  # the BBP threshold c^(1/4), c = N/d (docs/amplitudes.md)
    left.axhline(threshold, color="0.3", ls=":", lw=1.1, label=r"threshold $c^{1/4}$")
    left.set_yscale("log")
    plain_log_ticks(left)
    width_axis(left, Ns)
    left.set_xlabel("$N$")
    left.set_ylabel(r"coherent strength $\hat\theta_k$")
    left.set_title("exact terms")
    left.grid(True, which="major", alpha=0.25)
    left.legend(loc="best", title="term")
    lines = ["Left: the coherent (BBP) strength of the exact terms, sqrt of the pair estimate "
             "of theta_k^2 (0 where negative, not drawn), with the predicted slope N^e_k "
             "(dashed, anchored at the mean at the largest N: only the slope is predicted) and "
             "the BBP threshold c^(1/4) (dotted): a term is an outlier once above it. The "
             "verdict reads the signs of the strengths' growth exponents.", _SEEDS]
    if right is not None:
        seen = per_seed(results, config, lambda m: m.visible_new_outliers)
        if seen:
            draw_series(right, seen, "tab:blue", label="seen ($W_2$ minus $W_1$)")
        right.axhline(pred.paper_count, color="0.3", ls=":", lw=1.1,
                      label=f"paper count {pred.paper_count}")
        right.yaxis.set_major_locator(_integer_ticks())
        width_axis(right, Ns)
        right.set_xlabel("$N$")
        right.set_ylabel("new outliers of $W_2$")
        right.set_title("visible count")
        right.legend(loc="best")
        lines.append("Right: the new outliers of W_2 (its outliers minus W_1's) per seed, "
                     "against the paper count floor(alpha2 / (1/2 - alpha1)), reached as N "
                     "grows (`twostep theory --N` forecasts the count visible at one N)."
                     + ("" if seen else " Not measured in these runs (no W_1 and W_2 "
                                        "spectra)."))
    if own:
        fig.suptitle(config_title(config, etabar=True))
    set_caption(fig, lines, draw=caption)
    return fig


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def draw_spikes(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                caption: bool = False) -> Any:
    """``one-step-spikes``: the spike count of the one-step feature matrix per seed against N,
    its median over seeds (the statistic the verdict reads) with the range, and the predicted
    count ``l``."""
    fig, ax, own = start(ax)
    counts = per_seed(results, config, lambda m: None if m.features is None
                      else m.features.spike_count)
    need(counts, "feature-matrix spike counts", 1)
    Ns = sorted(counts)
    for N, vals in counts.items():  # coinciding counts: one darker dot
        seeds(ax, N, vals, "tab:blue")
    med = [float(np.median(counts[N])) for N in Ns]
    lo = [med[i] - min(counts[N]) for i, N in enumerate(Ns)]
    hi = [max(counts[N]) - med[i] for i, N in enumerate(Ns)]
    ax.errorbar(Ns, med, yerr=[lo, hi], fmt="o-", color="tab:blue", ms=5, capsize=2,
                label="median (range) over seeds", zorder=3)
    l = predict(config).at(Ns[-1], ks=()).features.spike_count
    ax.axhline(l, color="tab:orange", ls="--", lw=1.2, label=f"predicted $\\ell$ = {l}")
    ax.yaxis.set_major_locator(_integer_ticks())
    width_axis(ax, Ns)
    ax.set_xlabel("$N$")
    ax.set_ylabel("spikes of the feature matrix")
    ax.set_title(config_title(config))
    ax.grid(True, which="major", alpha=0.25)
    legend(ax, own)
    lines = ["Spikes of the one-step feature matrix sigma(X W_1^T)/sqrt(n) above the bulk at "
             "W_0 (Moniri et al. 2023), per seed (faint dots, darker where seeds coincide), "
             "their median and range over seeds, and the predicted count l (dashed).",
             "Spike j grows as N^(j alpha1 - (j-1)/2): the count is decided only where the "
             "exponents of spikes l and l + 1 are both far from 0 (docs/claims.md)."]
    set_caption(fig, lines, draw=caption)
    return fig


def draw_left_vectors(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                      caption: bool = False) -> Any:
    """``left-vectors``: the squared overlap of each W_2 outlier's left vector with the
    ``q_{k+1}`` of the term it is identified with, per term against N, with the claim's
    threshold 1/2."""
    fig, ax, own = start(ax)
    Ns = results.Ns(config)
    need(Ns, "measurements", 1)
    terms = sorted({o.term for N in Ns for m in results.get(config, N)
                    for o in (m.outliers or ()) if o.term is not None})
    if not terms:
        raise ConfigError("no figure: no W_2 outlier is identified with a term in these "
                          "measurements (W_2's spectrum not computed, or none out of the bulk)")
    for i, k in enumerate(terms):
        def overlap(m: Any, k: int = k) -> Any:
            o = next((o for o in (m.outliers or ()) if o.term == k), None)
            if o is None or not o.left_overlaps or len(o.left_overlaps) <= k:
                return None
            return o.left_overlaps[k]

        draw_series(ax, per_seed(results, config, overlap), term_colour(k),
                    label=f"$k={k}$ ($a^{{{k + 1}}}$)",
                    shift=1.0 + 0.025 * (i - (len(terms) - 1) / 2))
    ax.axhline(0.5, color="0.3", ls="--", lw=1.0, label="1/2")
    ax.set_ylim(-0.02, 1.02)
    width_axis(ax, Ns)
    ax.set_xlabel("$N$")
    ax.set_ylabel(r"$\langle u, q_{k+1}\rangle^2$")
    ax.set_title(config_title(config))
    ax.grid(True, which="major", alpha=0.25)
    legend(ax, own, title="identified term")
    lines = ["Squared overlap of the left singular vector u of each W_2 outlier with "
             "q_{k+1} = GS(a^(k+1)), the direction of the term it is identified with (simulate's "
             "rule), per term against N, over the seeds where that outlier appears.", _SEEDS,
             "The verdict reads the largest N: every steady outlier identified with a predicted "
             "term, with the overlap's interval above 1/2 (dashed)."]
    set_caption(fig, lines, draw=caption)
    return fig
