"""Figures for reports (matplotlib, the optional ``plot`` extra; PNG files drawn on Agg canvases
of their own: the process's matplotlib backend is never changed).

- :func:`spectrum_figure`: histogram of the singular values of W_2 with the bulk edges and
  the predicted and measured outliers.
- :func:`amplitude_figure`: log-log floor-corrected projected amplitude per term against N,
  the null floors (shaded bands) and the predicted slopes ``N^{e_k}``.
- :func:`term_amplitude_figure`: the exact step-two terms ``T_k`` beside the whole update's
  projections, with the residual of the truncated series per N.
- :func:`phase_figure`: the (alpha1, alpha2) square with the regions of constant
  ``floor(alpha2 / (1/2 - alpha1))`` and the verdicts measured at each point.

Every figure states in its own caption (a text line at the bottom) what its marks mean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twostep.simulate.measurement import Measurement
from twostep.simulate.terms import SERIES_TOLERANCE
from twostep.theory.errors import ConfigError

from .claims import Results, Verdict, floor_corrected, measured_regime

STATUS_COLOURS = {"consistent": "tab:green", "inconsistent": "tab:red",
                  "inconclusive": "tab:gray"}

#: relative residual of the truncated series above which the exact terms are undefined: the
#: regime guard's own tolerance (twostep.simulate.terms.SERIES_TOLERANCE), so the figures and
#: the verdicts read the one rule
SERIES_RESIDUAL_LIMIT = SERIES_TOLERANCE

_CAPTION_SIZE = 7.5


def _matplotlib() -> None:
    """Refuse with one line when matplotlib (the ``plot`` extra) is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'twostep[plot]'") from None


def _figure(**kwargs: Any) -> Any:
    """A new figure on its own Agg canvas (PNG).  No pyplot: the process's backend (a
    notebook's, say) and pyplot's list of open figures stay as they are, and the figure is
    freed with its last reference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _colour(k: int) -> str:
    """One colour per term k, the same in every figure."""
    cycle = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
             "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
    return cycle[k % len(cycle)]


def _config_title(config: Any, *, etabar: bool = False) -> str:
    text = (f"sigma={config.activation}, sigma*={config.target}, {config.batch} batch, "
            f"alpha=({config.alpha1:g}, {config.alpha2:g})")
    return text + (f", etabar1={config.etabar1:g}" if etabar else "")


def _caption(fig: Any, lines: Sequence[str]) -> None:
    """The figure's caption: text lines, wrapped to the figure's width, just under everything
    drawn so far (:func:`_save` keeps it inside the PNG)."""
    import textwrap

    renderer = fig.canvas.get_renderer()
    bottom = min(a.get_tightbbox(renderer).y0 for a in fig.axes)
    y = fig.transFigure.inverted().transform((0, bottom))[1] - 0.02
    width = int(fig.get_figwidth() * 72 / (_CAPTION_SIZE * 0.55))
    text = "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in lines)
    fig.text(0.01, y, text, ha="left", va="top", fontsize=_CAPTION_SIZE)


def _save(fig: Any, path: Path) -> None:
    fig.savefig(path, dpi=120, bbox_inches="tight", pad_inches=0.15)


def _width_axis(ax: Any, Ns: Sequence[int], labels: Sequence[str] | None = None) -> None:
    """Log x axis with one tick at each measured width and no others."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([float(n) for n in Ns]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks([float(n) for n in Ns], labels=list(labels or [str(n) for n in Ns]))
    ax.set_xlim(Ns[0] / 1.2, Ns[-1] * 1.2)


def _series(results: Results, config: Any, Ns: Sequence[int], key: str, k: int
            ) -> dict[str, Any]:
    """Per N: the floor-corrected mean +- s.e. over seeds of term k of ``m.<key>``
    (``amplitudes`` or ``terms``: :class:`~twostep.theory.observables.Projection` s), the floor
    (mean over seeds) and its spread (sd of the null draws, else sd over seeds)."""
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
    for N in Ns:
        if not raw[N]:
            continue
        floor = float(np.mean(flo[N])) if flo[N] else 0.0
        sig = floor_corrected({N: raw[N]}, {N: [floor]})[N]
        out["N"].append(N)
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
    return {name: np.array(v, float) for name, v in out.items()}


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
            ax.fill_between(xs, [b[N][0] for N in xs], [b[N][1] for N in xs], color=_colour(k),
                            alpha=0.13, lw=0)
            ax.plot(xs, [b[N][2] for N in xs], color=_colour(k), lw=0.8, alpha=0.6)
    handles = []
    for k, s in series.items():
        col = _colour(k)
        x = s["N"]
        fl = np.isfinite(s["floor"])
        ok = s["mean"] > 0
        grey = np.isin(x, list(undefined))
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
        label = f"k={k} ($a^{{{k + 1}}}$)"
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
        "(open triangle: not above the floor, drawn at the floor).",
        band,
        "Dashed: predicted slope N^e_k, anchored at the term's mean at the largest N where it "
        "is above its floor (ringed point); only the slope is predicted, not the height.",
    ]


def amplitude_figure(results: Results, config: Any, prediction: Any, path: Path,
                     terms: Sequence[int] | None = None) -> Path:
    """Mean floor-corrected amplitude per term vs N (log-log) with floors and predicted slopes."""
    _matplotlib()
    Ns = results.Ns(config)
    if len(Ns) < 2:
        raise ConfigError("an amplitude plot needs at least two N")
    ms0 = results.get(config, Ns[0])
    last_term = prediction.laws[-1].k
    ks = terms if terms is not None else [a.k for a in ms0[0].amplitudes if a.k <= last_term]
    fig = _figure(figsize=(8.5, 5.4))
    ax = fig.add_axes((0.09, 0.27, 0.58, 0.64))
    handles, merged = _draw_terms(ax, results, config, Ns, "amplitudes", ks, prediction)
    ax.set_yscale("log", nonpositive="clip")
    _width_axis(ax, Ns)
    ax.set_xlabel("N")
    ax.set_ylabel("||(W2 - W1)^T q_(k+1)|| (floor-corrected)")
    ax.set_title(_config_title(config), fontsize=9)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0, title="term (left vector)", title_fontsize=7.5)
    _caption(fig, _amplitude_caption([merged]))
    _save(fig, path)
    return path


# -- exact terms ------------------------------------------------------------------------------

def has_terms(results: Results, config: Any) -> bool:
    """Whether two or more widths of ``config`` carry the exact step-two terms (``terms=K``
    runs): what :func:`term_amplitude_figure` needs."""
    return sum(any(m.terms for m in results.get(config, N))
               for N in results.Ns(config)) >= 2


def _residuals(results: Results, config: Any, Ns: Sequence[int]) -> dict[int, float | None]:
    """The series residual per N that the regime guard reads (the worst seed's, i.e. the
    largest over the seeds; None where a seed has no series diagnostics):
    :func:`twostep.compare.claims.measured_regime`, so figure and verdict never disagree."""
    regime = measured_regime(results, config)
    return {N: regime.residual.get(N) for N in Ns}


def term_amplitude_figure(results: Results, config: Any, prediction: Any, path: Path) -> Path:
    """The exact step-two terms ``||T_k^T q_{k+1}||`` (left) beside the whole update's
    projections ``||(W2 - W1)^T q_{k+1}||`` (right), log-log against N, with the series
    residual per N; the N where the series does not converge are greyed and hatched."""
    _matplotlib()
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

    fig = _figure(figsize=(11.5, 5.6))
    left, right = fig.subplots(1, 2, sharey=True)
    fig.subplots_adjust(left=0.07, right=0.8, bottom=0.3, top=0.88, wspace=0.06)
    handles, merged_left = _draw_terms(left, results, config, Ns, "terms", ks, prediction,
                          undefined=undefined)
    _, merged_right = _draw_terms(right, results, config, Ns, "amplitudes", ks, prediction)
    for ax in (left, right):
        ax.set_yscale("log", nonpositive="clip")
        ax.grid(True, which="major", alpha=0.25)
    labels = [f"{N}\nres {res[N]:.2g}" if res[N] is not None else f"{N}\nres n/a" for N in Ns]
    _width_axis(left, Ns, labels)
    _width_axis(right, Ns)
    for N in undefined:  # hatch the N whose terms are undefined, half-way to its neighbours
        i = Ns.index(N)
        lo = math.sqrt(N * Ns[i - 1]) if i > 0 else N / 1.2
        hi = math.sqrt(N * Ns[i + 1]) if i + 1 < len(Ns) else N * 1.2
        left.axvspan(lo, hi, facecolor="none", edgecolor="0.6", hatch="///", lw=0)
    for i, label in enumerate(left.get_xticklabels()):
        if Ns[i] in undefined:
            label.set_color("tab:red")
    left.set_xlabel("N  (res: series residual ||U - sum_k T_k|| / ||U||, worst seed)",
                    fontsize=8)
    right.set_xlabel("N")
    left.set_ylabel("amplitude (floor-corrected)")
    left.set_title("exact terms: ||T_k^T q_(k+1)||", fontsize=9)
    right.set_title("whole update: ||(W2 - W1)^T q_(k+1)||", fontsize=9)
    fig.suptitle(_config_title(config, etabar=True), fontsize=10)
    right.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.03, 1.0),
                 borderaxespad=0, title="term (left vector)", title_fontsize=7.5)
    caption = _amplitude_caption([merged_left, merged_right])
    rule = ("res is the worst seed's series residual (the largest over the seeds, not the "
            "median): the one the regime guard of the verdicts reads (docs/claims.md).")
    if undefined:
        caption.append(f"Hatched, grey points, red N: series residual > {SERIES_RESIDUAL_LIMIT:g}"
                       " in at least one seed (the truncated series does not converge; terms "
                       "undefined) at N = " + ", ".join(str(N) for N in undefined)
                       + "; those points never anchor a slope. " + rule)
    else:
        caption.append(f"The series residual is <= {SERIES_RESIDUAL_LIMIT:g} at every N in "
                       "every seed (the terms are defined). " + rule)
    _caption(fig, caption)
    _save(fig, path)
    return path


# -- spectrum ---------------------------------------------------------------------------------

def spectrum_figure(measurement: Measurement | Mapping[str, Any], prediction: Any, path: Path,
                    matrix: str = "W2") -> Path:
    """Histogram of the full spectrum (``spectrum=True`` runs) with edges and outliers.

    ``measurement``: a :class:`~twostep.simulate.Measurement` or its stored dict; its
    ``spectra[matrix]`` is the raw spectrum dict (``values``, ``histogram``, ``outliers``)."""
    _matplotlib()
    measurement = Measurement.from_dict(measurement)
    spec = measurement.spectra[matrix]
    values = spec.get("values")
    if isinstance(values, dict):  # stored measurements keep the raw values in the npz only
        values = None
    if values is None and spec.get("histogram") is None:
        raise ConfigError(f"measurement has no full spectrum of {matrix}; run with spectrum=True")
    fig = _figure(figsize=(9, 4))
    ax = fig.add_axes((0.08, 0.13, 0.6, 0.77))
    # the bulk and the outliers near it on a linear axis; far outliers are named at the margin
    outs = [o["value"] for o in spec["outliers"]]
    near = [v for v in outs if v < 3 * spec["bulk_edge"]]
    hi = max([1.3 * spec["bulk_edge"], *(1.1 * v for v in near)])
    if values is not None:
        v = np.asarray(values, float)
        ax.hist(v[v <= hi], bins=100, range=(0, hi), color="tab:blue", alpha=0.7,
                label=f"singular values of {matrix}")
    else:
        h = spec["histogram"]
        edges = np.asarray(h["edges"], float)
        ax.stairs(h["counts"], edges, fill=True, alpha=0.7, color="tab:blue",
                  label=f"singular values of {matrix} (stored histogram)")
        hi = max(hi, float(edges[edges <= hi][-1]) if np.any(edges <= hi) else hi)
    ax.set_yscale("log")
    ax.axvline(spec["bulk_edge"], color="k", ls="--", lw=1,
               label=f"theory edge 1+sqrt(N/d) = {spec['bulk_edge']:.3f}")
    if spec.get("bulk_edge_empirical") is not None:
        ax.axvline(spec["bulk_edge_empirical"], color="tab:orange", ls=":", lw=1.5,
                   label=f"empirical edge {spec['bulk_edge_empirical']:.3f}")
    far = []
    for i, o in enumerate(spec["outliers"]):
        k = o.get("term")
        name = f"a^{k + 1}" if k is not None else "?"
        if o["value"] > hi:
            far.append(f"{name} at {o['value']:.2f}")
            continue
        ax.axvline(o["value"], color="tab:red", lw=1.2,
                   label="measured outliers (left vector)" if i == len(far) else None)
        ax.annotate(name, (o["value"], 0.02), xycoords=ax.get_xaxis_transform(),
                    xytext=(3, 0), textcoords="offset points", color="tab:red", fontsize=8)
    if prediction is not None:
        for i, o in enumerate(prediction.outliers_at(int(measurement.N), matrix)):
            if o.value is not None and o.value <= hi:
                ax.axvline(o.value, color="tab:green", ls="-.", lw=1.2,
                           label="predicted outlier" if i == 0 else None)
    ax.set_xlim(0, hi)
    c = measurement.config
    ax.set_title(f"{matrix}: sigma={c.activation}, sigma*={c.target}, {c.batch}, "
                 f"alpha=({c.alpha1:g}, {c.alpha2:g}), N={measurement.N}", fontsize=9)
    ax.set_xlabel("singular value")
    ax.set_ylabel("count")
    leg = ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    if far:  # under the legend, outside the axes
        leg_box = leg.get_window_extent(fig.canvas.get_renderer())
        y = fig.transFigure.inverted().transform((0, leg_box.y0))[1] - 0.03
        fig.text(0.695, y, "off scale (right of the axis):\n" + "\n".join(far), va="top",
                 color="tab:red", fontsize=7.5)
    _save(fig, path)
    return path


# -- phase diagram ----------------------------------------------------------------------------

def _short(v: Verdict) -> str:
    """``claim subject: status`` in a few words (``term k=0 (a^1), e_k=9/20`` -> ``k=0``)."""
    subject = re.sub(r"\S*\(.*\)", "", v.subject.split(",")[0].removeprefix("term ")).strip()
    if len(subject) > 26:
        subject = subject[:25] + "…"
    return f"{v.claim} {subject}: {v.status}" if subject else f"{v.claim}: {v.status}"


def _crossings(segment: tuple[Any, Any], box: Any) -> int:
    """How many of 24 points along ``segment`` (display coordinates) lie in ``box``."""
    (x0, y0), (x1, y1) = segment
    return sum(box.contains(x0 + t * (x1 - x0), y0 + t * (y1 - y0))
               for t in np.linspace(0, 1, 24))


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)


def _count_regions(fig: Any, ax: Any, cax: Any, max_k: int, *, shade: float,
                   lines: tuple[float, float], label: str) -> None:
    """The (alpha1, alpha2) square shaded by the paper's count ``floor(alpha2/(1/2-alpha1))``
    (capped at ``max_k``) with the critical lines ``alpha2 = k (1/2 - alpha1)``."""
    a = np.linspace(0, 0.5, 400, endpoint=False)
    A1, A2 = np.meshgrid(a, a)
    count = np.floor(A2 / (0.5 - A1))
    im = ax.pcolormesh(A1, A2, np.minimum(count, max_k), cmap="Blues", shading="auto",
                       vmin=0, vmax=max_k, alpha=shade)
    fig.colorbar(im, cax=cax, label=label)
    for k in range(1, max_k + 1):
        ax.plot(a, k * (0.5 - a), color="k", lw=lines[0], alpha=lines[1])


def phase_figure(verdicts: Sequence[Verdict], path: Path, *, max_k: int = 8) -> Path:
    """(alpha1, alpha2) phase diagram: floor regions, critical lines, measured verdicts.

    Each measured configuration is a black cross at its exact (alpha1, alpha2); its verdicts
    are small dots on a ring of fixed size (in points) around the cross, and a label box
    connected to the cross lists them, in the same order, as ``claim (subject): status``.
    """
    _matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnnotationBbox, DrawingArea, HPacker, TextArea, VPacker
    from matplotlib.patches import Circle
    from matplotlib.transforms import Bbox, ScaledTranslation

    fig = _figure(figsize=(8, 6.6))
    ax = fig.add_axes((0.08, 0.17, 0.7, 0.76))
    cax = fig.add_axes((0.82, 0.17, 0.025, 0.76))
    _count_regions(fig, ax, cax, max_k, shade=0.45, lines=(0.5, 0.6),
                   label="floor(alpha2 / (1/2 - alpha1)) (capped)")
    ax.set_xlim(0, 0.5)
    ax.set_ylim(0, 0.5)
    groups: dict[tuple[float, float], list[Verdict]] = {}
    for v in verdicts:
        if v.config is not None:
            groups.setdefault((float(v.config.alpha1), float(v.config.alpha2)), []).append(v)
    ring = 11.0  # points
    for p, vs in groups.items():
        ax.plot([p[0]], [p[1]], marker="+", ms=13, mew=1.8, color="k", ls="none", zorder=6,
                gid="exact-point", clip_on=False)
        for j, v in enumerate(vs):
            ang = math.pi / 2 - 2 * math.pi * j / len(vs)  # clockwise from the top
            dx, dy = ring * math.cos(ang), ring * math.sin(ang)
            ax.annotate("", xy=p, xytext=(dx, dy), textcoords="offset points", zorder=4,
                        arrowprops=dict(arrowstyle="-", color="0.25", lw=0.6, shrinkA=0,
                                        shrinkB=0))
            shift = ax.transData + ScaledTranslation(dx / 72, dy / 72, fig.dpi_scale_trans)
            ax.plot([p[0]], [p[1]], "o", ms=6, color=STATUS_COLOURS.get(v.status, "k"),
                    mec="k", mew=0.6, transform=shift, zorder=5, clip_on=False)
    # label boxes: the nearest placement inside the axes overlapping no ring and no box
    # already placed (else the least overlapping one); the largest boxes are placed first
    renderer = fig.canvas.get_renderer()
    area = ax.get_window_extent(renderer).padded(-4)  # keep off the frame
    taken = []
    lines: list[tuple[Any, Any]] = []
    for p in groups:
        c = ax.transData.transform(p)
        r = (ring + 6) * fig.dpi / 72
        taken.append(Bbox.from_extents(c[0] - r, c[1] - r, c[0] + r, c[1] + r))
    cand = [((d * math.cos(a), d * math.sin(a)),
             ((1 - np.sign(round(math.cos(a), 6))) / 2, (1 - np.sign(round(math.sin(a), 6))) / 2))
            for d in (20, 40, 70, 110, 160) for a in np.arange(16) * math.pi / 8 + math.pi / 4]
    for p, vs in sorted(groups.items(), key=lambda g: -len(g[1])):
        rows = []
        for v in vs:
            dot = DrawingArea(8, 8)
            dot.add_artist(Circle((4, 4), 3, facecolor=STATUS_COLOURS.get(v.status, "k"),
                                  edgecolor="k", lw=0.5))
            rows.append(HPacker(children=[dot, TextArea(_short(v), textprops=dict(size=7))],
                                pad=0, sep=3, align="center"))
        head = TextArea(f"alpha = ({p[0]:g}, {p[1]:g})", textprops=dict(size=7, weight="bold"))
        box = VPacker(children=[head, *rows], pad=0, sep=1.5, align="left")
        best = None
        for off, align in cand:
            ab = AnnotationBbox(box, p, xybox=off, boxcoords="offset points",
                                box_alignment=align, frameon=True, zorder=7,
                                bboxprops=dict(boxstyle="round,pad=0.3", fc="white", ec="0.4",
                                               alpha=0.92),
                                arrowprops=dict(arrowstyle="-", color="0.3", lw=0.7))
            ax.add_artist(ab)
            ab.update_positions(renderer)
            bb = ab.offsetbox.get_window_extent(renderer)  # the box, not its connector
            cost = sum(_overlap(bb, t) * (50 if i < len(groups) else 1)  # rings weigh more
                       for i, t in enumerate(taken))
            tip = ax.transData.transform(p)
            link = (tip, (bb.x0 + align[0] * bb.width, bb.y0 + align[1] * bb.height))
            cost += 400 * sum(_crossings(seg, bb) for seg in lines)
            cost += 400 * sum(_crossings(link, t) for t in taken[len(groups):])
            cost += 10 * (bb.width * bb.height - _overlap(bb, area))  # outside the axes
            ab.remove()
            if best is None or cost < best[0]:
                best = (cost, ab, bb, link)
            if cost == 0:
                break
        ax.add_artist(best[1])
        taken.append(best[2])
        lines.append(best[3])
    handles = [Line2D([], [], marker="+", ms=10, mew=1.8, color="k", ls="none",
                      label="measured (alpha1, alpha2), exact")]
    handles += [Line2D([], [], marker="o", ms=6, color=col, mec="k", ls="none", label=status)
                for status, col in STATUS_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.08),
              ncol=4, borderaxespad=0, frameon=False)
    ax.set_xlabel("alpha1", labelpad=1)
    ax.set_ylabel("alpha2")
    ax.set_title("new outliers of step two: paper count and verdicts", fontsize=9)
    _caption(fig, ["Each cross is a measured configuration at its exact (alpha1, alpha2); the "
                   "dots on the ring around it are its verdicts (one per claim and subject), "
                   "listed in the connected box in the same order, clockwise from the top.",
                   f"Lines: alpha2 = k (1/2 - alpha1), k = 1..{max_k}; shading: the paper's "
                   "count of new outliers."])
    _save(fig, path)
    return path


#: Colours of the measured phase diagram's cell labels (compare/phase.py).
PHASE_LABELS = {"consistent": "#1a9850", "inconsistent": "#d73027", "inconclusive": "#bdbdbd",
                "guard-blocked": "#fdae61", "refused": "white"}


def measured_phase_figure(cells: Sequence[tuple[float, float, str]], path: Path, *,
                          title: str = "", n: int = 20, note: str = "", max_k: int = 8) -> Path:
    """The (alpha1, alpha2) plane coloured by the paper's count ``floor(alpha2/(1/2 - alpha1))``
    with the critical lines, and one square per grid cell ``(alpha1, alpha2, label)`` coloured
    by its verdict label (:data:`PHASE_LABELS`: consistent / inconsistent / inconclusive /
    guard-blocked / refused)."""
    _matplotlib()
    from matplotlib.patches import Patch, Rectangle

    fig = _figure(figsize=(8, 7))
    ax = fig.add_axes((0.09, 0.2, 0.68, 0.72))
    cax = fig.add_axes((0.8, 0.2, 0.025, 0.72))
    _count_regions(fig, ax, cax, max_k, shade=0.55, lines=(0.6, 0.7),
                   label="paper count floor(alpha2 / (1/2 - alpha1)) (capped)")
    side = 0.5 / n * 0.62
    for a1, a2, label in cells:
        colour = PHASE_LABELS.get(label, "magenta")
        ax.add_patch(Rectangle((a1 - side / 2, a2 - side / 2), side, side, facecolor=colour,
                               edgecolor="k", lw=0.5, hatch="xx" if label == "refused" else None,
                               zorder=3))
    ax.set_xlim(0, 0.5)
    ax.set_ylim(0, 0.5)
    ax.set_xlabel("alpha1")
    ax.set_ylabel("alpha2")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    counts = {lab: sum(1 for *_, x in cells if x == lab) for lab in PHASE_LABELS}
    handles = [Patch(facecolor=c, edgecolor="k", hatch="xx" if lab == "refused" else None,
                     label=f"{lab} ({counts[lab]})") for lab, c in PHASE_LABELS.items()]
    ax.legend(handles=handles, loc="upper center", ncol=3, fontsize=8, frameon=False,
              bbox_to_anchor=(0.5, -0.08))
    lines = ["Lines: critical lines alpha2 = k (1/2 - alpha1); cells within the margin of one "
             "are not drawn.",
             "guard-blocked: the series of exact terms does not converge (or its residual is "
             "unknown) at enough widths; refused: needs more exact terms than computed."]
    if note:
        lines.append(note)
    _caption(fig, lines)
    _save(fig, path)
    return path
