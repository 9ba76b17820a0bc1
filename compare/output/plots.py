"""Figures for reports and papers (matplotlib, the optional ``plot`` extra).

Every function returns a :class:`matplotlib.figure.Figure` and takes ``ax=``: given a
matplotlib Axes it draws there (its figure is returned), else it makes a figure of its own on
an Agg canvas (no pyplot: the process's matplotlib backend is never changed).  Writing a file
is a separate step, :func:`save` (PNG at 200 dpi, PDF or SVG); a ``path`` still writes one
directly.  Common keywords:

- ``rc``: an rcParams mapping and ``style``: a matplotlib style file, applied over the paper
  style :data:`PAPER_RC` (9-10 pt text) while the figure is drawn (``matplotlib.rc_context``);
- ``caption``: also draw the caption under the axes (it is always kept on the figure:
  :func:`caption_text`, which the report writes under each image).

The figures:

- :func:`spectrum_figure`: histogram of the singular values of W_2 with the bulk edges and
  the predicted and measured outliers.
- :func:`amplitude_figure`: log-log floor-corrected projected amplitude per term against N,
  each seed faintly behind the means, the null floors (shaded bands) and the predicted slopes
  ``N^{e_k}``.
- :func:`term_amplitude_figure`: the exact step-two terms ``T_k`` beside the whole update's
  projections, with the residual of the truncated series per N.
- :func:`phase_figure`: the (alpha1, alpha2) square with the regions of constant
  ``floor(alpha2 / (1/2 - alpha1))`` and the verdicts measured at each point.
- :func:`measured_phase_figure`: the same square with one cell per grid point coloured by its
  verdict label.
- :func:`claim_figure`: the figure of a built-in claim (:data:`CLAIM_FIGURES`, one per claim:
  finite-size collapses, locations, overlaps, reuse against independent).

The drawing lives by figure family in :mod:`.plot_amplitudes`, :mod:`.plot_spectrum` and
:mod:`.plot_phase`, on the canvas and style of :mod:`.plot_canvas`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twostep.simulate.measurement import Measurement

from ..science.claims import Results, Verdict
from .plot_amplitudes import (
    SERIES_RESIDUAL_LIMIT,
    draw_amplitudes,
    draw_term_amplitudes,
    has_terms,
)
from .plot_canvas import (
    FIGURE_FORMATS,
    PAPER_RC,
    caption_text,
    figure_context,
    save,
)
from .plot_claims import CLAIM_FIGURES, figure_of
from .plot_phase import (
    PHASE_LABELS,
    STATUS_COLOURS,
    draw_measured_phase,
    draw_phase,
)
from .plot_spectrum import draw_spectrum

Style = str | os.PathLike[str] | None


def _made(draw: Callable[[], Any], path: str | os.PathLike[str] | None,
          rc: Mapping[str, Any] | None, style: Style) -> Any:
    """Draw (and, with ``path``, save) in the paper style with ``style`` and ``rc`` over it."""
    with figure_context(rc, style):
        fig = draw()
        if path is not None:
            save(fig, path)
    return fig


def amplitude_figure(results: Results, config: Any, prediction: Any,
                     path: str | os.PathLike[str] | None = None,
                     terms: Sequence[int] | None = None, *, ax: Any = None,
                     rc: Mapping[str, Any] | None = None, style: Style = None,
                     caption: bool = False) -> Any:
    """Mean floor-corrected amplitude per term vs N (log-log) with floors, per-seed points and
    predicted slopes."""
    return _made(lambda: draw_amplitudes(results, config, prediction, terms, ax=ax,
                                         caption=caption), path, rc, style)


def term_amplitude_figure(results: Results, config: Any, prediction: Any,
                          path: str | os.PathLike[str] | None = None, *, ax: Any = None,
                          rc: Mapping[str, Any] | None = None, style: Style = None,
                          caption: bool = False) -> Any:
    """The exact step-two terms ``||T_k^T q_{k+1}||`` (left) beside the whole update's
    projections ``||(W2 - W1)^T q_{k+1}||`` (right), log-log against N, with the series
    residual per N; the N where the series does not converge are greyed and hatched.
    Needs two or more widths with the exact terms (:func:`has_terms`).  ``ax``: a pair of
    axes, or one axes for the exact terms alone."""
    return _made(lambda: draw_term_amplitudes(results, config, prediction, ax=ax,
                                              caption=caption), path, rc, style)


def spectrum_figure(measurement: Measurement | Mapping[str, Any], prediction: Any,
                    path: str | os.PathLike[str] | None = None, matrix: str = "W2", *,
                    ax: Any = None, rc: Mapping[str, Any] | None = None, style: Style = None,
                    caption: bool = False) -> Any:
    """Histogram of the full spectrum (``spectrum=True`` runs) with edges and outliers.

    ``measurement``: a :class:`~twostep.simulate.Measurement` or its stored dict; its
    ``spectrum(matrix)`` is its :class:`Spectrum` (``values``, ``histogram``, ``outliers``)."""
    return _made(lambda: draw_spectrum(measurement, prediction, matrix, ax=ax, caption=caption),
                 path, rc, style)


def phase_figure(verdicts: Sequence[Verdict], path: str | os.PathLike[str] | None = None, *,
                 max_k: int = 8, ax: Any = None, rc: Mapping[str, Any] | None = None,
                 style: Style = None, caption: bool = False) -> Any:
    """(alpha1, alpha2) phase diagram: floor regions, critical lines, measured verdicts.

    Each measured configuration is a black cross at its exact (alpha1, alpha2); its verdicts
    are small dots on a ring of fixed size (in points) around the cross, and a label box
    connected to the cross lists them, in the same order, as ``claim (subject): status``.
    """
    return _made(lambda: draw_phase(verdicts, max_k=max_k, ax=ax, caption=caption),
                 path, rc, style)


def measured_phase_figure(cells: Sequence[tuple[float, float, str]],
                          path: str | os.PathLike[str] | None = None, *, title: str = "",
                          n: int = 20, note: str = "", max_k: int = 8, ax: Any = None,
                          rc: Mapping[str, Any] | None = None, style: Style = None,
                          caption: bool = False) -> Any:
    """The (alpha1, alpha2) plane coloured by the paper's count ``floor(alpha2/(1/2 - alpha1))``
    with the critical lines, and one square per grid cell ``(alpha1, alpha2, label)`` coloured
    by its verdict label (:data:`PHASE_LABELS`: consistent / inconsistent / inconclusive /
    guard-blocked / refused)."""
    return _made(lambda: draw_measured_phase(cells, title=title, n=n, note=note, max_k=max_k,
                                             ax=ax, caption=caption), path, rc, style)


def claim_figure(name: str, results: Results, config: Any, claim: Any = None,
                 path: str | os.PathLike[str] | None = None, *, ax: Any = None,
                 rc: Mapping[str, Any] | None = None, style: Style = None,
                 caption: bool = False) -> Any:
    """The figure of the built-in claim ``name`` (:data:`CLAIM_FIGURES`) on ``config``'s
    measurements; ``claim``: the claim object (its terms, tolerances), None for the defaults.
    A name without a figure is refused with one line listing those that have one."""
    from twostep.theory.errors import ConfigError

    draw = figure_of(name)
    if draw is None:
        raise ConfigError(f"claim {name!r} has no figure; figures exist for: "
                          f"{', '.join(CLAIM_FIGURES)}")
    return _made(lambda: draw(results, config, claim, ax=ax, caption=caption), path, rc, style)


__all__ = ["CLAIM_FIGURES", "FIGURE_FORMATS", "PAPER_RC", "PHASE_LABELS",
           "SERIES_RESIDUAL_LIMIT", "STATUS_COLOURS", "amplitude_figure", "caption_text",
           "claim_figure", "figure_context", "has_terms", "measured_phase_figure",
           "phase_figure", "save", "spectrum_figure", "term_amplitude_figure"]
