"""What the claim figures share (:mod:`twostep.compare.output.plot_claims`): the per-seed points
drawn faintly behind a mean and its 95% interval, the one helper that reads an exact term of a
measurement, and the start of every claim figure (a figure of its own or the caller's axes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twostep.simulate.measurement import Measurement
from twostep.theory.errors import ConfigError

from ..science import stats
from .plot_canvas import axes_for, new_figure, require_matplotlib

#: the figure size (inches) and axes rectangle of a one-panel claim figure drawn on its own
ONE_PANEL = ((5.6, 3.6), (0.13, 0.15, 0.6, 0.74))


def exact_term(m: Measurement, k: int) -> Any:
    """Exact term k of ``m`` (an :class:`~twostep.theory.observables.ExactTerm`), None when the
    run did not measure it: the one place the claim figures look a term up."""
    return next((t for t in (m.terms or ()) if t.k == k), None)


def per_seed(results: Any, config: Any, get: Any) -> dict[int, list[float]]:
    """``get(measurement)`` per seed at each N of ``config``, leaving out the seeds where it
    is None or not finite, and the N left without any."""
    out: dict[int, list[float]] = {}
    for N in results.Ns(config):
        vals = [get(m) for m in results.get(config, N)]
        vals = [float(v) for v in vals if v is not None and math.isfinite(float(v))]
        if vals:
            out[N] = vals
    return out


def mean_and_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean over seeds and its 95% Student-t interval (the verdicts' ``stats.mean_interval``);
    with one seed the interval is the point itself (no spread to show)."""
    iv = stats.mean_interval(values)
    lo = iv.low if math.isfinite(iv.low) else iv.estimate
    hi = iv.high if math.isfinite(iv.high) else iv.estimate
    return iv.estimate, lo, hi


#: the seeds' dots stand this factor left of their width, beside the mean's marker and bar
SEED_OFFSET = 0.97


def seeds(ax: Any, x: float, values: Sequence[float], colour: str) -> None:
    """The seeds' values at one width ``x``: faint dots just left of it, behind everything."""
    ax.plot(np.full(len(values), x * SEED_OFFSET), values, ".", color=colour, ms=4, alpha=0.35,
            mew=0, zorder=1)


def plain_log_ticks(ax: Any) -> None:
    """Plain numbers (2, 50, 0.01) on a log y axis instead of powers of ten, and the minor
    ticks labelled too where the axis spans less than a decade (call after drawing)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    # each tick at its own precision: a ScalarFormatter gives every label the decimals of the
    # whole axis (0.001 printed "0.00" beside 10.00)
    lo, hi = ax.get_ylim()
    for which, on in (("major", True), ("minor", lo > 0 and hi / lo < 10)):
        fmt = FuncFormatter(lambda v, _: f"{v:.6g}") if on else NullFormatter()
        getattr(ax.yaxis, f"set_{which}_formatter")(fmt)


def draw_series(ax: Any, data: Mapping[int, Sequence[float]], colour: str, *,
                label: str | None = None, shift: float = 1.0, marker: str = "o",
                line: bool = True, positive: bool = False) -> Any:
    """Each seed's value as a faint dot just left of each N (behind), then the mean over seeds
    with its 95% interval, joined by a line; ``shift`` multiplies N (series side by side on a
    log axis); ``positive`` leaves out values <= 0 (a log axis).  Returns the mean's line."""
    Ns = sorted(data)
    if not Ns:
        return None
    means, lows, highs = [], [], []
    for N in Ns:
        vals = np.asarray(data[N], float)
        shown = vals[vals > 0] if positive else vals
        seeds(ax, N * shift, shown, colour)
        m, lo, hi = mean_and_interval(vals)
        means.append(m)
        lows.append(lo)
        highs.append(hi)
    x = np.asarray(Ns, float) * shift
    means_a = np.asarray(means)
    err = np.vstack([means_a - np.asarray(lows), np.asarray(highs) - means_a])
    if positive:
        ok = means_a > 0
        x, means_a, err = x[ok], means_a[ok], err[:, ok]
        err[0] = np.minimum(err[0], means_a * 0.999)  # a log axis cannot draw below 0
    (handle,) = ax.plot(x, means_a, color=colour, ls="-" if line else "none", lw=1.3,
                        alpha=0.9, marker=marker, ms=4.5, label=label, zorder=3)
    ax.errorbar(x, means_a, yerr=err, fmt="none", ecolor=colour, capsize=2, zorder=3)
    return handle


def start(ax: Any, size: tuple[tuple[float, float], tuple[float, ...]] = ONE_PANEL
          ) -> tuple[Any, Any, bool]:
    """``(figure, axes, own)``: the caller's axes, or a new one-panel figure (``own``)."""
    require_matplotlib()
    own = ax is None
    fig, ax = axes_for(ax, *size)
    return fig, ax, own


def start_pair(ax: Any, figsize: tuple[float, float] = (9.0, 3.8)) -> tuple[Any, Any, Any, bool]:
    """``(figure, left, right, own)`` for a two-panel figure: a new one, the caller's pair of
    axes, or the caller's single axes (``right`` is then None: the left panel alone)."""
    require_matplotlib()
    if ax is None:
        fig = new_figure(figsize=figsize)
        left, right = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.85, wspace=0.3)
        return fig, left, right, True
    if hasattr(ax, "plot"):
        return ax.figure, ax, None, False
    left, right = tuple(ax)
    return left.figure, left, right, False


def legend(ax: Any, own: bool, **kwargs: Any) -> None:
    """The legend: right of the axes on a one-panel figure of our own, inside otherwise."""
    if own:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **kwargs)
    else:
        ax.legend(loc="best", **kwargs)


def need(data: Mapping[int, Any], what: str, widths: int = 1) -> None:
    """Refuse with one line a figure without ``widths`` widths of data."""
    if len(data) < widths:
        raise ConfigError(f"no figure: the measurements have {what} at {len(data)} width(s), "
                          f"{widths} needed")


def hatch_unconverged(ax: Any, results: Any, config: Any, Ns: Sequence[int]) -> list[int]:
    """Hatch the widths where the series of exact terms does not converge (the regime guard
    the verdicts read, :func:`~twostep.compare.science.claims.measured_regime`: no term-level
    verdict uses them), half-way to the neighbouring widths; returns those widths."""
    from ..science.claims import measured_regime

    regime = measured_regime(results, config)
    bad = [N for N in Ns if regime.residual.get(N) is not None and not regime.ok(N)]
    for N in bad:
        i = list(Ns).index(N)
        lo = math.sqrt(N * Ns[i - 1]) if i > 0 else N / 1.2
        hi = math.sqrt(N * Ns[i + 1]) if i + 1 < len(Ns) else N * 1.2
        ax.axvspan(lo, hi, facecolor="none", edgecolor="0.6", hatch="///", lw=0, zorder=0)
    return bad


def hatch_note(bad: Sequence[int]) -> list[str]:
    """The caption's line for :func:`hatch_unconverged`."""
    if not bad:
        return []
    return ["Hatched: N = " + ", ".join(str(N) for N in bad) + ", where the series of exact "
            "terms does not converge in some seed (the regime guard: no verdict reads them)."]
