"""The phase diagrams of the (alpha1, alpha2) plane (drawn here; :mod:`twostep.compare.output.plots`
is the API; each ``draw_*`` draws into the caller's axes or a figure of its own and returns
the figure unsaved).

- :func:`draw_phase`: the square with the regions of constant
  ``floor(alpha2 / (1/2 - alpha1))`` and the verdicts measured at each point, each point's
  verdicts listed in a label box placed off the other points and boxes.
- :func:`draw_measured_phase`: the same regions with one square per grid cell coloured by its
  verdict label (:mod:`twostep.compare.plans.phase`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..science.claims import Verdict
from .plot_canvas import axes_for, renderer_of, require_matplotlib, set_caption

STATUS_COLOURS = {"consistent": "tab:green", "inconsistent": "tab:red",
                  "inconclusive": "tab:gray", "blocked": "#fdae61"}

#: Colours of the measured phase diagram's cell labels (compare/plans/phase.py).
PHASE_LABELS = {"consistent": "#1a9850", "inconsistent": "#d73027", "inconclusive": "#bdbdbd",
                "guard-blocked": "#fdae61", "refused": "white"}

#: radius, in points, of the ring of verdict dots around a measured point
RING = 11.0

#: the colour bar's label: the paper's count of new outliers (mathtext)
COUNT_LABEL = r"$\lfloor \alpha_2 / (1/2 - \alpha_1) \rfloor$ (capped)"

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
    a = (np.arange(400) + 0.5) * 0.5 / 400  # the pixels' centres
    A1, A2 = np.meshgrid(a, a)
    count = np.floor(A2 / (0.5 - A1))
    # an image, not a mesh of 160,000 quads: small and fast in PDF and SVG too
    im = ax.imshow(np.minimum(count, max_k), cmap="Blues", vmin=0, vmax=max_k, alpha=shade,
                   extent=(0, 0.5, 0, 0.5), origin="lower", interpolation="nearest",
                   aspect="auto")
    if cax is not None:
        fig.colorbar(im, cax=cax, label=label)
    else:
        fig.colorbar(im, ax=ax, label=label, fraction=0.05, pad=0.02)
    for k in range(1, max_k + 1):
        ax.plot(a, k * (0.5 - a), color="k", lw=lines[0], alpha=lines[1])



def _by_point(verdicts: Sequence[Verdict]) -> dict[tuple[float, float], list[Verdict]]:
    """The verdicts with a configuration, grouped by its exact (alpha1, alpha2), in order."""
    groups: dict[tuple[float, float], list[Verdict]] = {}
    for v in verdicts:
        if v.config is not None:
            groups.setdefault((float(v.config.alpha1), float(v.config.alpha2)), []).append(v)
    return groups


def _mark_points(fig: Any, ax: Any, groups: dict[tuple[float, float], list[Verdict]]) -> None:
    """A black cross at each measured point and its verdicts as dots on a ring of
    :data:`RING` points around it, clockwise from the top."""
    from matplotlib.transforms import ScaledTranslation

    for p, vs in groups.items():
        ax.plot([p[0]], [p[1]], marker="+", ms=13, mew=1.8, color="k", ls="none", zorder=6,
                gid="exact-point", clip_on=False)
        for j, v in enumerate(vs):
            ang = math.pi / 2 - 2 * math.pi * j / len(vs)  # clockwise from the top
            dx, dy = RING * math.cos(ang), RING * math.sin(ang)
            ax.annotate("", xy=p, xytext=(dx, dy), textcoords="offset points", zorder=4,
                        arrowprops=dict(arrowstyle="-", color="0.25", lw=0.6, shrinkA=0,
                                        shrinkB=0))
            shift = ax.transData + ScaledTranslation(dx / 72, dy / 72, fig.dpi_scale_trans)
            ax.plot([p[0]], [p[1]], "o", ms=6, color=STATUS_COLOURS.get(v.status, "k"),
                    mec="k", mew=0.6, transform=shift, zorder=5, clip_on=False)


def _label_box(p: tuple[float, float], vs: Sequence[Verdict]) -> Any:
    """The label box of point ``p``: its alpha, then one dot and ``claim subject: status``
    per verdict, in the ring's order."""
    from matplotlib.offsetbox import DrawingArea, HPacker, TextArea, VPacker
    from matplotlib.patches import Circle

    rows = []
    for v in vs:
        dot = DrawingArea(8, 8)
        dot.add_artist(Circle((4, 4), 3, facecolor=STATUS_COLOURS.get(v.status, "k"),
                              edgecolor="k", lw=0.5))
        rows.append(HPacker(children=[dot, TextArea(_short(v), textprops=dict(size=8))],
                            pad=0, sep=3, align="center"))
    head = TextArea(f"α = ({p[0]:g}, {p[1]:g})", textprops=dict(size=8, weight="bold"))
    return VPacker(children=[head, *rows], pad=0, sep=1.5, align="left")


def _candidates() -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Label placements to try, nearest first: (offset in points, box alignment), 16
    directions at each of five distances; the box sits on the far side of its offset."""
    return [((d * math.cos(a), d * math.sin(a)),
             ((1 - np.sign(round(math.cos(a), 6))) / 2, (1 - np.sign(round(math.sin(a), 6))) / 2))
            for d in (20, 40, 70, 110, 160) for a in np.arange(16) * math.pi / 8 + math.pi / 4]


def _best_placement(ax: Any, box: Any, p: tuple[float, float], renderer: Any, *,
                    taken: Sequence[Any], rings: int, lines: Sequence[tuple[Any, Any]],
                    area: Any) -> tuple[float, Any, Any, tuple[Any, Any]]:
    """The first placement of ``box`` at ``p`` that overlaps nothing, else the cheapest:
    ``(cost, annotation, box extent, connector)``.  The cost weighs overlap with the rings
    (the first ``rings`` of ``taken``) over overlap with boxes already placed, connectors
    crossing boxes and boxes crossing connectors, and the part of the box outside ``area``."""
    from matplotlib.offsetbox import AnnotationBbox

    best = None
    for off, align in _candidates():
        ab = AnnotationBbox(box, p, xybox=off, boxcoords="offset points",
                            box_alignment=align, frameon=True, zorder=7,
                            bboxprops=dict(boxstyle="round,pad=0.3", fc="white", ec="0.4",
                                           alpha=0.92),
                            arrowprops=dict(arrowstyle="-", color="0.3", lw=0.7))
        ax.add_artist(ab)
        ab.update_positions(renderer)
        bb = ab.offsetbox.get_window_extent(renderer)  # the box, not its connector
        cost = sum(_overlap(bb, t) * (50 if i < rings else 1)  # rings weigh more
                   for i, t in enumerate(taken))
        tip = ax.transData.transform(p)
        link = (tip, (bb.x0 + align[0] * bb.width, bb.y0 + align[1] * bb.height))
        cost += 400 * sum(_crossings(seg, bb) for seg in lines)
        cost += 400 * sum(_crossings(link, t) for t in taken[rings:])
        cost += 10 * (bb.width * bb.height - _overlap(bb, area))  # outside the axes
        ab.remove()
        if best is None or cost < best[0]:
            best = (cost, ab, bb, link)
        if cost == 0:
            break
    return best


def _place_labels(fig: Any, ax: Any, groups: dict[tuple[float, float], list[Verdict]]
                  ) -> None:
    """One label box per point: the nearest placement inside the axes overlapping no ring and
    no box already placed (else the least overlapping one); the largest boxes go first."""
    from matplotlib.transforms import Bbox

    renderer = renderer_of(fig)
    area = ax.get_window_extent(renderer).padded(-4)  # keep off the frame
    taken = []
    lines: list[tuple[Any, Any]] = []
    for p in groups:
        c = ax.transData.transform(p)
        r = (RING + 6) * fig.dpi / 72
        taken.append(Bbox.from_extents(c[0] - r, c[1] - r, c[0] + r, c[1] + r))
    for p, vs in sorted(groups.items(), key=lambda g: -len(g[1])):
        _, ab, bb, link = _best_placement(ax, _label_box(p, vs), p, renderer, taken=taken,
                                          rings=len(groups), lines=lines, area=area)
        ax.add_artist(ab)
        taken.append(bb)
        lines.append(link)


def draw_phase(verdicts: Sequence[Verdict], *, max_k: int = 8, ax: Any = None,
               caption: bool = False) -> Any:
    """(alpha1, alpha2) phase diagram: floor regions, critical lines, measured verdicts
    (:func:`twostep.compare.output.plots.phase_figure`): into ``ax`` when given (its colour bar
    beside it), else on a figure of its own; returns the figure unsaved.

    Each measured configuration is a black cross at its exact (alpha1, alpha2); its verdicts
    are small dots on a ring of fixed size (in points) around the cross, and a label box
    connected to the cross lists them, in the same order, as ``claim (subject): status``.
    """
    require_matplotlib()
    from matplotlib.lines import Line2D

    own = ax is None
    fig, ax = axes_for(ax, (7.0, 6.0), (0.09, 0.17, 0.7, 0.76))
    cax = fig.add_axes((0.82, 0.17, 0.025, 0.76)) if own else None
    _count_regions(fig, ax, cax, max_k, shade=0.45, lines=(0.5, 0.6), label=COUNT_LABEL)
    ax.set_xlim(0, 0.5)
    ax.set_ylim(0, 0.5)
    groups = _by_point(verdicts)
    _mark_points(fig, ax, groups)
    _place_labels(fig, ax, groups)
    handles = [Line2D([], [], marker="+", ms=10, mew=1.8, color="k", ls="none",
                      label=r"measured $(\alpha_1, \alpha_2)$, exact")]
    handles += [Line2D([], [], marker="o", ms=6, color=col, mec="k", ls="none", label=status)
                for status, col in STATUS_COLOURS.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.09), ncol=2,
              borderaxespad=0, frameon=False)
    ax.set_xlabel(r"$\alpha_1$", labelpad=1)
    ax.set_ylabel(r"$\alpha_2$")
    ax.set_title("new outliers of step two: paper count and verdicts")
    set_caption(fig, [
        "Each cross is a measured configuration at its exact (alpha1, alpha2); the dots on the "
        "ring around it are its verdicts (one per claim and subject), listed in the connected "
        "box in the same order, clockwise from the top.",
        f"Lines: alpha2 = k (1/2 - alpha1), k = 1..{max_k}; shading: the paper's count of new "
        "outliers."], draw=caption)
    return fig


def draw_measured_phase(cells: Sequence[tuple[float, float, str]], *, title: str = "",
                        n: int = 20, note: str = "", max_k: int = 8, ax: Any = None,
                        caption: bool = False) -> Any:
    """The (alpha1, alpha2) plane coloured by the paper's count ``floor(alpha2/(1/2 - alpha1))``
    with the critical lines, and one square per grid cell ``(alpha1, alpha2, label)`` coloured
    by its verdict label (:data:`PHASE_LABELS`: consistent / inconsistent / inconclusive /
    guard-blocked / refused); :func:`twostep.compare.output.plots.measured_phase_figure`, into
    ``ax`` when given, else on a figure of its own; returns the figure unsaved."""
    require_matplotlib()
    from matplotlib.patches import Patch, Rectangle

    own = ax is None
    fig, ax = axes_for(ax, (7.0, 6.4), (0.1, 0.2, 0.68, 0.72))
    cax = fig.add_axes((0.8, 0.2, 0.025, 0.72)) if own else None
    _count_regions(fig, ax, cax, max_k, shade=0.55, lines=(0.6, 0.7),
                   label="paper count " + COUNT_LABEL)
    side = 0.5 / n * 0.62
    for a1, a2, label in cells:
        colour = PHASE_LABELS.get(label, "magenta")
        ax.add_patch(Rectangle((a1 - side / 2, a2 - side / 2), side, side, facecolor=colour,
                               edgecolor="k", lw=0.5, hatch="xx" if label == "refused" else None,
                               zorder=3))
    ax.set_xlim(0, 0.5)
    ax.set_ylim(0, 0.5)
    ax.set_xlabel(r"$\alpha_1$")
    ax.set_ylabel(r"$\alpha_2$")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    counts = {lab: sum(1 for *_, x in cells if x == lab) for lab in PHASE_LABELS}
    handles = [Patch(facecolor=c, edgecolor="k", hatch="xx" if lab == "refused" else None,
                     label=f"{lab} ({counts[lab]})") for lab, c in PHASE_LABELS.items()]
    ax.legend(handles=handles, loc="upper center", ncol=3, frameon=False,
              bbox_to_anchor=(0.5, -0.1))
    lines = ["Lines: critical lines alpha2 = k (1/2 - alpha1); cells within the margin of one "
             "are not drawn.",
             "guard-blocked: the series of exact terms does not converge (or its residual is "
             "unknown) at enough widths; refused: needs more exact terms than computed."]
    if note:
        lines.append(note)
    set_caption(fig, lines, draw=caption)
    return fig
