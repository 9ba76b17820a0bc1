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
- :func:`measured_phase_figure`: the same square with one cell per grid point coloured by its
  verdict label.

Every figure states in its own caption (a text line at the bottom) what its marks mean.  This
module writes the PNGs; the drawing lives by figure family in :mod:`.plot_amplitudes`,
:mod:`.plot_spectrum` and :mod:`.plot_phase`, on the canvas and style of :mod:`.plot_canvas`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twostep.simulate.measurement import Measurement

from .claims import Results, Verdict
from .plot_amplitudes import (  # noqa: F401  (SERIES_RESIDUAL_LIMIT, has_terms: public here)
    SERIES_RESIDUAL_LIMIT,
    draw_amplitudes,
    draw_term_amplitudes,
    has_terms,
)
from .plot_canvas import save as _save
from .plot_phase import (  # noqa: F401  (STATUS_COLOURS, PHASE_LABELS: public here)
    PHASE_LABELS,
    STATUS_COLOURS,
    draw_measured_phase,
    draw_phase,
)
from .plot_spectrum import draw_spectrum


def _written(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG and return ``path``."""
    _save(fig, path)
    return path


def amplitude_figure(results: Results, config: Any, prediction: Any, path: Path,
                     terms: Sequence[int] | None = None) -> Path:
    """Mean floor-corrected amplitude per term vs N (log-log) with floors and predicted slopes."""
    return _written(draw_amplitudes(results, config, prediction, terms), path)


def term_amplitude_figure(results: Results, config: Any, prediction: Any, path: Path) -> Path:
    """The exact step-two terms ``||T_k^T q_{k+1}||`` (left) beside the whole update's
    projections ``||(W2 - W1)^T q_{k+1}||`` (right), log-log against N, with the series
    residual per N; the N where the series does not converge are greyed and hatched.
    Needs two or more widths with the exact terms (:func:`has_terms`)."""
    return _written(draw_term_amplitudes(results, config, prediction), path)


def spectrum_figure(measurement: Measurement | Mapping[str, Any], prediction: Any, path: Path,
                    matrix: str = "W2") -> Path:
    """Histogram of the full spectrum (``spectrum=True`` runs) with edges and outliers.

    ``measurement``: a :class:`~twostep.simulate.Measurement` or its stored dict; its
    ``spectra[matrix]`` is the raw spectrum dict (``values``, ``histogram``, ``outliers``)."""
    return _written(draw_spectrum(measurement, prediction, matrix), path)


def phase_figure(verdicts: Sequence[Verdict], path: Path, *, max_k: int = 8) -> Path:
    """(alpha1, alpha2) phase diagram: floor regions, critical lines, measured verdicts.

    Each measured configuration is a black cross at its exact (alpha1, alpha2); its verdicts
    are small dots on a ring of fixed size (in points) around the cross, and a label box
    connected to the cross lists them, in the same order, as ``claim (subject): status``.
    """
    return _written(draw_phase(verdicts, max_k=max_k), path)


def measured_phase_figure(cells: Sequence[tuple[float, float, str]], path: Path, *,
                          title: str = "", n: int = 20, note: str = "", max_k: int = 8) -> Path:
    """The (alpha1, alpha2) plane coloured by the paper's count ``floor(alpha2/(1/2 - alpha1))``
    with the critical lines, and one square per grid cell ``(alpha1, alpha2, label)`` coloured
    by its verdict label (:data:`PHASE_LABELS`: consistent / inconsistent / inconclusive /
    guard-blocked / refused)."""
    return _written(draw_measured_phase(cells, title=title, n=n, note=note, max_k=max_k), path)
