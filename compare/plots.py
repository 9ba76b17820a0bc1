"""Figures for reports (matplotlib, the optional ``plot`` extra; Agg backend, PNG files).

- :func:`spectrum_figure`: histogram of the singular values of W_2 with the bulk edges and
  the predicted and measured outliers.
- :func:`amplitude_figure`: log-log projected amplitude per term against N, the null floors,
  and the predicted slopes ``N^{e_k}``.
- :func:`phase_figure`: the (alpha1, alpha2) square with the regions of constant
  ``floor(alpha2 / (1/2 - alpha1))`` and the verdicts measured at each point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twostep.theory.errors import ConfigError

from .claims import Results, Verdict, floor_corrected

STATUS_COLOURS = {"consistent": "tab:green", "inconsistent": "tab:red",
                  "inconclusive": "tab:gray"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'twostep[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def spectrum_figure(measurement: dict[str, Any], prediction: Any, path: Path,
                    matrix: str = "W2") -> Path:
    """Histogram of the full spectrum (``spectrum=True`` runs) with edges and outliers."""
    plt = _pyplot()
    spec = measurement["spectra"][matrix]
    values = spec.get("values")
    if isinstance(values, dict):  # stored measurements keep the raw values in the npz only
        values = None
    if values is None and spec.get("histogram") is None:
        raise ConfigError(f"measurement has no full spectrum of {matrix}; run with spectrum=True")
    fig, ax = plt.subplots(figsize=(7, 4))
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
        ax.annotate(name, (o["value"], 1), xytext=(3, 10), textcoords="offset points",
                    color="tab:red", fontsize=8)
    if far:
        ax.text(0.98, 0.55, "off scale: " + ", ".join(far), transform=ax.transAxes,
                ha="right", color="tab:red", fontsize=8)
    if prediction is not None:
        for i, o in enumerate(prediction.outliers(int(measurement["N"]), matrix)):
            if o["value"] is not None and o["value"] <= hi:
                ax.axvline(o["value"], color="tab:green", ls="-.", lw=1.2,
                           label="predicted outlier" if i == 0 else None)
    ax.set_xlim(0, hi)
    c = measurement["config"]
    ax.set_title(f"{matrix}: sigma={c['activation']}, sigma*={c['target']}, {c['batch']}, "
                 f"alpha=({c['alpha1']:g}, {c['alpha2']:g}), N={measurement['N']}", fontsize=9)
    ax.set_xlabel("singular value")
    ax.set_ylabel("count")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def amplitude_figure(results: Results, config: Any, prediction: Any, path: Path,
                     terms: Sequence[int] | None = None) -> Path:
    """Mean floor-corrected amplitude per term vs N (log-log) with predicted slopes."""
    plt = _pyplot()
    Ns = results.Ns(config)
    if len(Ns) < 2:
        raise ConfigError("an amplitude plot needs at least two N")
    ms0 = results.get(config, Ns[0])
    last_term = prediction.terms[-1].k
    ks = terms if terms is not None else [a["k"] for a in ms0[0]["amplitudes"]
                                          if a["k"] <= last_term]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, k in enumerate(ks):
        col = colours[i % len(colours)]
        raw = {N: [next(a for a in m["amplitudes"] if a["k"] == k)["amplitude"]
                   for m in results.get(config, N)] for N in Ns}
        flo = {N: [next(a for a in m["amplitudes"] if a["k"] == k)["null_floor"]
                   for m in results.get(config, N)] for N in Ns}
        sig = floor_corrected(raw, flo)
        mean = [float(np.mean(sig[N])) for N in Ns]
        err = [float(np.std(sig[N], ddof=1) / math.sqrt(len(sig[N]))) if len(sig[N]) > 1
               else 0.0 for N in Ns]
        floor = [float(np.mean(flo[N])) for N in Ns]
        mean, err = np.array(mean), np.array(err)
        ok = mean > 0
        ax.errorbar(np.array(Ns)[ok], mean[ok], yerr=err[ok], fmt="o-", color=col, ms=4,
                    label=f"k={k} (a^{k + 1}) signal")
        ax.plot(Ns, floor, ls=":", color=col, lw=1, label=f"k={k} null floor")
        e = prediction.term(k).exponent
        if ok.any():
            anchor_N, anchor = np.array(Ns)[ok][-1], mean[ok][-1]
            xs = np.array([Ns[0], Ns[-1]], float)
            ax.plot(xs, anchor * (xs / anchor_N) ** e, ls="--", color=col, lw=1,
                    label=f"predicted N^{e:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("||(W2 - W1)^T q_(k+1)|| (floor-corrected)")
    ax.set_title(f"sigma={config.activation}, sigma*={config.target}, {config.batch}, "
                 f"alpha=({config.alpha1:g}, {config.alpha2:g})", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def phase_figure(verdicts: Sequence[Verdict], path: Path, *, max_k: int = 8) -> Path:
    """(alpha1, alpha2) phase diagram: floor regions, critical lines, measured verdicts."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    a1 = np.linspace(0, 0.5, 400, endpoint=False)
    a2 = np.linspace(0, 0.5, 400, endpoint=False)
    A1, A2 = np.meshgrid(a1, a2)
    count = np.floor(A2 / (0.5 - A1))
    im = ax.pcolormesh(A1, A2, np.minimum(count, max_k), cmap="Blues", shading="auto",
                       vmin=0, vmax=max_k, alpha=0.6)
    fig.colorbar(im, ax=ax, label="floor(alpha2 / (1/2 - alpha1)) (capped)")
    for k in range(1, max_k + 1):
        ax.plot(a1, k * (0.5 - a1), color="k", lw=0.6)
    offsets: dict[tuple[float, float], int] = {}
    for v in verdicts:
        if v.config is None:
            continue
        p = (v.config.alpha1, v.config.alpha2)
        j = offsets.get(p, 0)
        offsets[p] = j + 1
        ax.scatter(p[0] + 0.006 * j, p[1], s=45, color=STATUS_COLOURS[v.status],
                   edgecolor="k", zorder=3)
    for status, col in STATUS_COLOURS.items():
        ax.scatter([], [], color=col, edgecolor="k", label=status)
    ax.set_xlim(0, 0.5)
    ax.set_ylim(0, 0.5)
    ax.set_xlabel("alpha1")
    ax.set_ylabel("alpha2")
    ax.set_title("new outliers of step two: paper count and verdicts", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
