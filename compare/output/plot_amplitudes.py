"""The amplitude figures of the reports (drawn here; :mod:`twostep.compare.output.plots` is the
API).

- :func:`draw_amplitudes`: log-log floor-corrected projected amplitude per term against N, the
  null floors (shaded bands) and the predicted slopes ``N^{e_k}``.
- :func:`draw_term_amplitudes`: the exact step-two terms ``T_k`` beside the whole update's
  projections, with the residual of the truncated series per N.

Both return the figure unsaved, its caption kept on it (:func:`.plot_canvas.caption_text`);
the per-N series, the floor bands, the per-seed points and the captions they share are built
here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from twostep.simulate.terms import SERIES_TOLERANCE
from twostep.theory.errors import ConfigError

from ..science.claims import Results, floor_corrected, measured_regime
from .plot_canvas import (
    axes_for,
    config_title,
    new_figure,
    require_matplotlib,
    set_caption,
    term_colour,
    width_axis,
)

#: relative residual of the truncated series above which the exact terms are undefined: the
#: regime guard's own tolerance (twostep.simulate.terms.SERIES_TOLERANCE), so the figures and
#: the verdicts read the one rule
SERIES_RESIDUAL_LIMIT = SERIES_TOLERANCE


def _series(results: Results, config: Any, Ns: Sequence[int], key: str, k: int
            ) -> dict[str, Any]:
    """Per N: the floor-corrected mean +- s.e. over seeds of term k of ``m.<key>``
    (``amplitudes`` or ``terms``: :class:`~twostep.theory.observables.Projection` s), the floor
    (mean over seeds), its spread (sd of the null draws, else sd over seeds) and the per-seed
    floor-corrected values (``seeds``: one array per N)."""
    raw: dict[int, list[float]] = {}
    flo: dict[int, list[float]] = {}
    sds: dict[int, list[float]] = {}
    for N in Ns:
        raw[N], flo[N], sds[N] = [], [], []
        for m in results.get(config, N):
            entry = next((a for a in (getattr(m, key) or ()) if a.k == k), None)
            if entry is None or entry.amplitude is None:
                continue
            raw[N].append(float(entry.amplitude))
            if entry.null_floor is not None:
                flo[N].append(float(entry.null_floor))
            if entry.null_floor_sd is not None:
                sds[N].append(float(entry.null_floor_sd))
    out: dict[str, Any] = {"N": [], "mean": [], "err": [], "floor": [], "floor_sd": []}
    per_seed = []
    for N in Ns:
        if not raw[N]:
            continue
        floor = float(np.mean(flo[N])) if flo[N] else 0.0
        sig = floor_corrected({N: raw[N]}, {N: [floor]})[N]
        out["N"].append(N)
        per_seed.append(np.array(sig, float))
        out["mean"].append(float(np.mean(sig)))
        out["err"].append(float(np.std(sig, ddof=1) / math.sqrt(len(sig)))
                          if len(sig) > 1 else 0.0)
        out["floor"].append(floor if flo[N] else float("nan"))
        if sds[N]:
            spread = math.sqrt(float(np.mean(np.square(sds[N]))))
        elif len(flo[N]) > 1:
            spread = float(np.std(flo[N], ddof=1))
        else:
            spread = 0.0
        out["floor_sd"].append(spread)
    return {**{name: np.array(v, float) for name, v in out.items()}, "seeds": per_seed}


def _draw_terms(ax: Any, results: Results, config: Any, Ns: Sequence[int], key: str,
                ks: Sequence[int], prediction: Any, *, undefined: Sequence[int] = ()
                ) -> tuple[list[Any], bool]:
    """Draw the floor bands, each term's mean +- s.e. and predicted slope on ``ax``; return one
    legend handle per term and whether the floors were merged into one grey band (they
    coincide: every term's mean +- sd overlaps every other's at every N).  Points at the N
    in ``undefined`` are grey and never anchor a slope."""
    from matplotlib.lines import Line2D

    series = {k: _series(results, config, Ns, key, k) for k in ks}
    series = {k: s for k, s in series.items() if len(s["N"])}
    bands = {}
    for k, s in series.items():
        fl = np.isfinite(s["floor"])
        if fl.any():
            lo = np.maximum(s["floor"] - s["floor_sd"], s["floor"] / 10)
            bands[k] = {int(N): (a, b, c) for N, a, b, c, f
                        in zip(s["N"], lo, s["floor"] + s["floor_sd"], s["floor"], fl) if f}
    common = sorted(set.intersection(*(set(b) for b in bands.values()))) if bands else []
    merged = len(bands) > 1 and set(common) == set().union(*(set(b) for b in bands.values())) \
        and all(max(b[N][0] for b in bands.values()) <= min(b[N][1] for b in bands.values())
                for N in common)
    if merged:
        lo = [min(b[N][0] for b in bands.values()) for N in common]
        hi = [max(b[N][1] for b in bands.values()) for N in common]
        ax.fill_between(common, lo, hi, color="0.5", alpha=0.25, lw=0)
    else:
        for k, b in bands.items():
            xs = sorted(b)
            ax.fill_between(xs, [b[N][0] for N in xs], [b[N][1] for N in xs], color=term_colour(k),
                            alpha=0.13, lw=0)
            ax.plot(xs, [b[N][2] for N in xs], color=term_colour(k), lw=0.8, alpha=0.6)
    handles = []
    for k, s in series.items():
        col = term_colour(k)
        x = s["N"]
        fl = np.isfinite(s["floor"])
        ok = s["mean"] > 0
        grey = np.isin(x, list(undefined))
        for N, vals in zip(x, s["seeds"]):  # each seed, faint, behind the mean
            vals = vals[vals > 0]
            ax.plot(np.full(len(vals), N), vals, ".", color=col, ms=3.5, alpha=0.3, mew=0,
                    zorder=1)
        ax.plot(x[ok], s["mean"][ok], "-", color=col, lw=1.3, alpha=0.9)
        good, bad = ok & ~grey, ok & grey
        ax.errorbar(x[good], s["mean"][good], yerr=s["err"][good], fmt="o", color=col, ms=4.5,
                    capsize=2, zorder=3)
        if bad.any():
            ax.errorbar(x[bad], s["mean"][bad], yerr=s["err"][bad], fmt="o", color="0.6",
                        mec=col, ms=4.5, capsize=2, zorder=3)
        below = ~ok & fl
        if below.any():
            ax.plot(x[below], s["floor"][below], "v", mfc="none", mec=col, ms=6, zorder=3)
        label = f"$k={k}$ ($a^{{{k + 1}}}$)"
        try:
            term = prediction.law(k)
        except KeyError:
            term = None
        anchors = np.flatnonzero(ok & ~grey)
        if term is not None:
            e = term.exponent
            label += f", predicted $N^{{{term.exponent_exact}}}$"
            if len(anchors):
                i = anchors[-1]
                xs = np.geomspace(Ns[0] / 1.1, Ns[-1] * 1.1, 20)
                ax.plot(xs, s["mean"][i] * (xs / x[i]) ** e, ls="--", color=col, lw=1.1)
                ax.plot(x[i], s["mean"][i], "o", ms=10, mfc="none", mec=col, mew=1.1)
        handles.append(Line2D([], [], color=col, marker="o", ms=4.5, lw=1.3, label=label))
    return handles, merged


def _amplitude_caption(merged: Sequence[bool]) -> list[str]:
    """Caption lines of the amplitude panels (``merged``: per panel, floors in one grey band)."""
    if all(merged):
        band = ("Grey band: the null floors F of the terms, which coincide: from the lowest "
                "mean - sd to the highest mean + sd of the null draws.")
    elif not any(merged):
        band = ("Shaded bands (term colours): the null floor F of each term, mean ± sd of the "
                "null draws.")
    else:
        band = ("Null floors F, mean ± sd of the null draws: one band per term (term colours), "
                "or one grey band in a panel where the terms' floors coincide.")
    return [
        "Points: floor-corrected amplitude sqrt(A^2 - F^2), mean ± standard error over seeds "
        "(open triangle: not above the floor, drawn at the floor); faint dots: each seed.",
        band,
        "Dashed: predicted slope N^e_k, anchored at the term's mean at the largest N where it "
        "is above its floor (ringed point); only the slope is predicted, not the height.",
    ]


def _legend(ax: Any, handles: Sequence[Any], own: bool, anchor: float = 1.02) -> None:
    """The term legend: right of the axes on a figure of our own, inside the caller's axes."""
    if own:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(anchor, 1.0),
                  borderaxespad=0, title="term (left vector)")
    else:
        ax.legend(handles=handles, loc="best", title="term (left vector)")


def draw_amplitudes(results: Results, config: Any, prediction: Any,
                    terms: Sequence[int] | None = None, *, ax: Any = None,
                    caption: bool = False) -> Any:
    """Mean floor-corrected amplitude per term vs N (log-log) with floors, per-seed points and
    predicted slopes (:func:`twostep.compare.output.plots.amplitude_figure`): into ``ax`` when
    given, else on a figure of its own; returns the figure unsaved."""
    require_matplotlib()
    Ns = results.Ns(config)
    if len(Ns) < 2:
        raise ConfigError("an amplitude plot needs at least two N")
    ms0 = results.get(config, Ns[0])
    last_term = prediction.laws[-1].k
    ks = terms if terms is not None else [a.k for a in ms0[0].amplitudes if a.k <= last_term]
    own = ax is None
    fig, ax = axes_for(ax, (7.0, 4.2), (0.1, 0.13, 0.56, 0.78))
    handles, merged = _draw_terms(ax, results, config, Ns, "amplitudes", ks, prediction)
    ax.set_yscale("log", nonpositive="clip")
    width_axis(ax, Ns)
    ax.set_xlabel("$N$")
    ax.set_ylabel(r"$\|(W_2 - W_1)^\top q_{k+1}\|$ (floor-corrected)")
    ax.set_title(config_title(config))
    ax.grid(True, which="major", alpha=0.25)
    _legend(ax, handles, own)
    set_caption(fig, _amplitude_caption([merged]), draw=caption)
    return fig


# -- exact terms ------------------------------------------------------------------------------

def has_terms(results: Results, config: Any) -> bool:
    """Whether two or more widths of ``config`` carry the exact step-two terms (``terms=K``
    runs): what :func:`draw_term_amplitudes` needs."""
    return sum(any(m.terms for m in results.get(config, N))
               for N in results.Ns(config)) >= 2


def _residuals(results: Results, config: Any, Ns: Sequence[int]) -> dict[int, float | None]:
    """The series residual per N that the regime guard reads (the worst seed's, i.e. the
    largest over the seeds; None where a seed has no series diagnostics):
    :func:`twostep.compare.science.claims.measured_regime`, so figure and verdict never disagree."""
    regime = measured_regime(results, config)
    return {N: regime.residual.get(N) for N in Ns}


def draw_term_amplitudes(results: Results, config: Any, prediction: Any, *, ax: Any = None,
                         caption: bool = False) -> Any:
    """The exact step-two terms ``||T_k^T q_{k+1}||`` (left) beside the whole update's
    projections ``||(W2 - W1)^T q_{k+1}||`` (right), log-log against N, with the series
    residual per N; the N where the series does not converge are greyed and hatched
    (:func:`twostep.compare.output.plots.term_amplitude_figure`).  ``ax``: a pair of axes for the
    two panels, or one axes for the exact terms alone; returns the figure unsaved."""
    require_matplotlib()
    Ns = [N for N in results.Ns(config)
          if any(m.terms for m in results.get(config, N))]
    if not Ns:
        raise ConfigError("the measurements have no exact step-two terms; "
                          "run the simulations with terms=K (K = the last term)")
    if len(Ns) < 2:
        raise ConfigError("a term amplitude plot needs at least two N with terms")
    first = next(m for m in results.get(config, Ns[0]) if m.terms)
    ks = [t.k for t in first.terms]
    res = _residuals(results, config, Ns)
    undefined = [N for N in Ns if res[N] is not None and res[N] > SERIES_RESIDUAL_LIMIT]
    own = ax is None
    if own:
        fig = new_figure(figsize=(9.5, 4.4))
        left, right = fig.subplots(1, 2, sharey=True)
        fig.subplots_adjust(left=0.08, right=0.76, bottom=0.17, top=0.86, wspace=0.06)
    else:
        left, right = (ax, None) if hasattr(ax, "plot") else tuple(ax)
        fig = left.figure
    handles, merged = _draw_terms(left, results, config, Ns, "terms", ks, prediction,
                                  undefined=undefined)
    panels = [merged]
    if right is not None:
        panels.append(_draw_terms(right, results, config, Ns, "amplitudes", ks, prediction)[1])
    _term_axes(left, right, Ns, res, undefined)
    if own:
        fig.suptitle(config_title(config, etabar=True))
    _legend(right if right is not None else left, handles, own, anchor=1.03)
    set_caption(fig, _term_caption(panels, undefined), draw=caption)
    return fig


def _term_axes(left: Any, right: Any, Ns: Sequence[int], res: dict[int, float | None],
               undefined: Sequence[int]) -> None:
    """Scales, ticks (the residual under each N), hatching and labels of the term panels."""
    for ax in (left, right):
        if ax is not None:
            ax.set_yscale("log", nonpositive="clip")
            ax.grid(True, which="major", alpha=0.25)
    labels = [f"{N}\nres {res[N]:.2g}" if res[N] is not None else f"{N}\nres n/a" for N in Ns]
    width_axis(left, Ns, labels)
    for N in undefined:  # hatch the N whose terms are undefined, half-way to its neighbours
        i = Ns.index(N)
        lo = math.sqrt(N * Ns[i - 1]) if i > 0 else N / 1.2
        hi = math.sqrt(N * Ns[i + 1]) if i + 1 < len(Ns) else N * 1.2
        left.axvspan(lo, hi, facecolor="none", edgecolor="0.6", hatch="///", lw=0)
    for i, label in enumerate(left.get_xticklabels()):
        if Ns[i] in undefined:
            label.set_color("tab:red")
    left.set_xlabel(r"$N$  (res: series residual $\|U - \sum_k T_k\| / \|U\|$, worst seed)")
    left.set_ylabel("amplitude (floor-corrected)")
    left.set_title(r"exact terms: $\|T_k^\top q_{k+1}\|$")
    if right is not None:
        width_axis(right, Ns)
        right.set_xlabel("$N$")
        right.set_title(r"whole update: $\|(W_2 - W_1)^\top q_{k+1}\|$")


def _term_caption(merged: Sequence[bool], undefined: Sequence[int]) -> list[str]:
    """Caption lines of the term figure."""
    lines = _amplitude_caption(merged)
    rule = ("res is the worst seed's series residual (the largest over the seeds, not the "
            "median): the one the regime guard of the verdicts reads (docs/claims.md).")
    if undefined:
        lines.append(f"Hatched, grey points, red N: series residual > {SERIES_RESIDUAL_LIMIT:g}"
                     " in at least one seed (the truncated series does not converge; terms "
                     "undefined) at N = " + ", ".join(str(N) for N in undefined)
                     + "; those points never anchor a slope. " + rule)
    else:
        lines.append(f"The series residual is <= {SERIES_RESIDUAL_LIMIT:g} at every N in "
                     "every seed (the terms are defined). " + rule)
    return lines
