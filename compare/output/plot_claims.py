"""The figure of each built-in claim: :data:`CLAIM_FIGURES`, claim name -> drawing function.

Every function is ``draw(results, config, claim=None, *, ax=None, caption=False) -> Figure``:
``results`` the claim's :class:`~twostep.compare.science.claims.Results`, ``config`` the
configuration the check was given (a claim that runs other configurations, ``bbp`` at alpha1 = 0 or
the reuse claims in both batch modes, draws those), ``claim`` the claim object (its terms,
tolerances and planted factors; None: the defaults).  Into ``ax`` when given, else on a figure
of its own; its caption is kept on the figure (:func:`.plot_canvas.caption_text`) and drawn
only with ``caption``.  Each seed is a faint dot behind the mean and its interval; the
prediction is read from ``twostep.theory.predict(config)``.  A figure the measurements cannot
support (too few widths, an observable not measured) is refused with a one-line
:class:`~twostep.theory.errors.ConfigError`.

:func:`twostep.compare.output.plots.claim_figure` is the public entry (style, file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .plot_beta import draw_reuse_gap, draw_reuse_learning
from .plot_collapse import draw_amplitude_ratio, draw_coherent_collapse, draw_growth_collapse
from .plot_outliers import draw_bbp, draw_count, draw_left_vectors, draw_locations, draw_spikes

ClaimFigure = Callable[..., Any]

#: The figure of each built-in claim (``tests/test_plot_claims.py`` checks that every one has
#: one), with what it shows:
CLAIM_FIGURES: dict[str, ClaimFigure] = {
    # N^{-e_k} A_k of the whole update, flat when the exponent holds
    "growth-exponent": draw_growth_collapse,
    # N^{-2 e_k} theta_k^2 of the exact terms, flat when the exponent holds
    "term-exponent": draw_coherent_collapse,
    # coherent strengths vs the BBP threshold; new outliers seen vs predicted visible count
    "outlier-count": draw_count,
    # squared overlaps of the outliers' left vectors with q_{k+1}
    "left-vectors": draw_left_vectors,
    # beta_* overlap of T_k^T q_{k+1}, reuse against independent, with its null
    "reuse-gap": draw_reuse_gap,
    # cosine of the coherent right vector with beta_* in units of d^{-1/2}, both batch modes
    "reuse-learning": draw_reuse_learning,
    # W_1's outlier location and overlaps against the BBP values
    "bbp": draw_bbp,
    # feature-matrix spike count against the predicted l
    "one-step-spikes": draw_spikes,
    # measured / predicted finite-N amplitude of the exact terms
    "term-amplitude": draw_amplitude_ratio,
    # step-two outlier locations against their finite-N forecast and the bulk edge
    "outlier-locations": draw_locations,
}

#: One line per claim figure, what the report says before its caption.
CLAIM_FIGURE_TITLES: dict[str, str] = {
    "growth-exponent": "Rescaled amplitudes N^(-e_k) A_k (finite-size collapse)",
    "term-exponent": "Rescaled coherent strengths of the exact terms (finite-size collapse)",
    "outlier-count": "Coherent strengths and new outliers against N",
    "left-vectors": "Squared overlaps of the outliers' left vectors against N",
    "reuse-gap": "beta_* overlap, reuse against independent",
    "reuse-learning": "Coherent cosine with beta_*, reuse against independent",
    "bbp": "Step-one outlier location and overlaps against N (BBP)",
    "one-step-spikes": "Feature-matrix spikes against N",
    "term-amplitude": "Measured over predicted amplitude against N",
    "outlier-locations": "Outlier locations against N with the finite-N forecast",
}


def figure_of(name: str) -> ClaimFigure | None:
    """The drawing function of claim ``name`` (None: a claim without a figure, e.g. a
    user's)."""
    return CLAIM_FIGURES.get(name)
