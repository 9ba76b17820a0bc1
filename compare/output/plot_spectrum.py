"""The spectrum figure of the reports (drawn here; :mod:`twostep.compare.output.plots` is the API):
the histogram of the singular values of W_2 with the bulk edges and the predicted and
measured outliers (:func:`draw_spectrum`, returned unsaved).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from twostep.simulate.measurement import Measurement
from twostep.theory.errors import ConfigError
from twostep.theory.records import NpzRef

from .plot_canvas import axes_for, renderer_of, require_matplotlib, set_caption


def _tex(matrix: str) -> str:
    """``W2`` -> ``$W_2$`` (mathtext)."""
    return "$" + re.sub(r"^([A-Za-z]+)(\d+)$", r"\1_{\2}", matrix) + "$"


def draw_spectrum(measurement: Measurement | Mapping[str, Any], prediction: Any,
                  matrix: str = "W2", *, ax: Any = None, caption: bool = False) -> Any:
    """Histogram of the full spectrum (``spectrum=True`` runs) with edges and outliers
    (:func:`twostep.compare.output.plots.spectrum_figure`): into ``ax`` when given, else on a figure
    of its own; returns the figure unsaved.

    ``measurement``: a :class:`~twostep.simulate.Measurement` or its stored dict; its
    ``spectrum(matrix)`` is its :class:`Spectrum` (``values``, ``histogram``, ``outliers``)."""
    require_matplotlib()
    measurement = Measurement.from_dict(measurement)
    spec = measurement.spectrum(matrix)
    values = spec.values
    if isinstance(values, NpzRef):  # a stored measurement's are in its npz only
        values = None
    if values is None and spec.histogram is None:
        raise ConfigError(f"measurement has no full spectrum of {matrix}; run with spectrum=True")
    own = ax is None
    fig, ax = axes_for(ax, (7.0, 3.4), (0.09, 0.14, 0.58, 0.76))
    name = _tex(matrix)
    # the bulk and the outliers near it on a linear axis; far outliers are named at the margin
    outs = [o.value for o in spec.outliers or ()]
    near = [v for v in outs if v < 3 * spec.bulk_edge]
    hi = max([1.3 * spec.bulk_edge, *(1.1 * v for v in near)])
    if values is not None:
        v = np.asarray(values, float)
        ax.hist(v[v <= hi], bins=100, range=(0, hi), color="tab:blue", alpha=0.7,
                label=f"singular values of {name}")
    else:
        h = spec.histogram
        edges = np.asarray(h.edges, float)
        ax.stairs(h.counts, edges, fill=True, alpha=0.7, color="tab:blue",
                  label=f"singular values of {name} (stored histogram)")
        hi = max(hi, float(edges[edges <= hi][-1]) if np.any(edges <= hi) else hi)
    ax.set_yscale("log")
    ax.axvline(spec.bulk_edge, color="k", ls="--", lw=1,
               label=rf"theory edge $1+\sqrt{{N/d}}$ = {spec.bulk_edge:.3f}")
    if spec.bulk_edge_empirical is not None:
        ax.axvline(spec.bulk_edge_empirical, color="tab:orange", ls=":", lw=1.5,
                   label=f"empirical edge {spec.bulk_edge_empirical:.3f}")
    far = []
    for i, o in enumerate(spec.outliers or ()):
        k = o.term
        term = f"$a^{{{k + 1}}}$" if k is not None else "?"
        if o.value > hi:
            far.append(f"{term} at {o.value:.2f}")
            continue
        ax.axvline(o.value, color="tab:red", lw=1.2,
                   label="measured outliers (left vector)" if i == len(far) else None)
        ax.annotate(term, (o.value, 0.02), xycoords=ax.get_xaxis_transform(),
                    xytext=(3, 0), textcoords="offset points", color="tab:red")
    if prediction is not None:
        spectrum = prediction.at(int(measurement.N), ks=()).spectra.get(matrix)
        for i, o in enumerate(spectrum.outliers if spectrum is not None else ()):
            if o.value is not None and o.value <= hi:
                ax.axvline(o.value, color="tab:green", ls="-.", lw=1.2,
                           label="predicted outlier" if i == 0 else None)
    ax.set_xlim(0, hi)
    c = measurement.config
    ax.set_title(rf"{name}: $\sigma$ = {c.activation}, $\sigma_*$ = {c.target}, {c.batch}, "
                 rf"$(\alpha_1, \alpha_2)$ = ({c.alpha1:g}, {c.alpha2:g}), $N$ = {measurement.N}")
    ax.set_xlabel("singular value")
    ax.set_ylabel("count")
    _legend(fig, ax, far, own)
    set_caption(fig, [
        f"Histogram: the singular values of {matrix} (log counts). Dashed: the edge of the bulk "
        "predicted by theory; dotted: the measured edge. Red: the measured outliers, named by "
        "the term whose left vector they carry; dash-dotted green: the predicted outliers."
        + (" Outliers beyond the axis are listed beside it." if far else "")], draw=caption)
    return fig


def _legend(fig: Any, ax: Any, far: list[str], own: bool) -> None:
    """The legend right of the axes (on a figure of our own; inside the caller's axes), and
    the outliers beyond the axis listed under it (inside the axes, top right)."""
    if not own:
        ax.legend(loc="upper right")
        if far:
            ax.text(0.98, 0.5, "off scale:\n" + "\n".join(far), transform=ax.transAxes,
                    ha="right", va="top", color="tab:red")
        return
    leg = ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    if far:  # under the legend, outside the axes
        leg_box = leg.get_window_extent(renderer_of(fig))
        x = fig.transFigure.inverted().transform((leg_box.x0, leg_box.y0))
        fig.text(x[0], x[1] - 0.03, "off scale (right of the axis):\n" + "\n".join(far),
                 va="top", color="tab:red")
