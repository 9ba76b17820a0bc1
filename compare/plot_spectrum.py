"""The spectrum figure of the reports (drawn here, written by :mod:`twostep.compare.plots`):
the histogram of the singular values of W_2 with the bulk edges and the predicted and
measured outliers (:func:`draw_spectrum`, returned unsaved).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from twostep.simulate.measurement import Measurement
from twostep.theory.errors import ConfigError

from .plot_canvas import new_figure, require_matplotlib


def draw_spectrum(measurement: Measurement | Mapping[str, Any], prediction: Any,
                  matrix: str = "W2") -> Any:
    """Histogram of the full spectrum (``spectrum=True`` runs) with edges and outliers (the
    figure of :func:`twostep.compare.plots.spectrum_figure`, unsaved).

    ``measurement``: a :class:`~twostep.simulate.Measurement` or its stored dict; its
    ``spectra[matrix]`` is the raw spectrum dict (``values``, ``histogram``, ``outliers``)."""
    require_matplotlib()
    measurement = Measurement.from_dict(measurement)
    spec = measurement.spectra[matrix]
    values = spec.get("values")
    if isinstance(values, dict):  # stored measurements keep the raw values in the npz only
        values = None
    if values is None and spec.get("histogram") is None:
        raise ConfigError(f"measurement has no full spectrum of {matrix}; run with spectrum=True")
    fig = new_figure(figsize=(9, 4))
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
        spectrum = prediction.at(int(measurement.N), ks=()).spectra.get(matrix)
        for i, o in enumerate(spectrum.outliers if spectrum is not None else ()):
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
    return fig
