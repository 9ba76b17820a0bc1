"""The figures of a report folder (:func:`twostep.compare.output.report.write_report`): each drawn
by :mod:`twostep.compare.output.plots` in the paper style (and the user's style file or rcParams),
written as PNG, PDF or SVG into ``figures/``, and listed in report.md with its caption under
the image (the caption is not drawn into it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from twostep.simulate.measurement import Measurement
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from ..science.claims import Results, Verdict
from . import plots
from .plot_canvas import caption_text, check_format, check_style, figure_context, save
from .plot_claims import CLAIM_FIGURE_TITLES, figure_of


def check_figure_options(figure_format: str = "png",
                         figure_style: str | os.PathLike[str] | None = None) -> None:
    """Refuse, before anything is written, a format not in :data:`plots.FIGURE_FORMATS` or a
    style file matplotlib cannot read."""
    check_format(figure_format)
    check_style(figure_style)


def _entry(fig: Any, path: Path, fmt: str, alt: str, lead: str) -> list[str]:
    """Write ``fig`` and return its report.md lines: the image, then ``lead`` and the
    figure's caption."""
    save(fig, path, format=fmt)
    text = f"{lead} {caption_text(fig)}".strip()
    return [f"![{alt}](figures/{path.name})", "", text, ""]


def write_figures(fig_dir: Path, verdicts: Sequence[Verdict], plan: Sequence[Any],
                  results: Sequence[Results], spectrum: Measurement | Mapping[str, Any] | None,
                  label: Callable[[Any], str], *, figure_format: str = "png",
                  figure_style: str | os.PathLike[str] | None = None,
                  rc: Mapping[str, Any] | None = None) -> list[str]:
    """Draw and write the report's figures into ``fig_dir``; return report.md's lines for
    them.  ``label``: a configuration in words (the report's ``config_label``)."""
    fmt = check_format(figure_format)
    md: list[str] = []
    with figure_context(rc, figure_style):
        done: set[str] = set()
        for chk, res in zip(plan, results):
            if chk.name not in ("growth-exponent", "outlier-count"):
                continue
            key = chk.config.key()
            if key in done or len(res.Ns(chk.config)) < 2:
                continue
            done.add(key)
            fig = plots.amplitude_figure(res, chk.config, predict(chk.config))
            md += _entry(fig, fig_dir / f"amplitudes-{len(done):02d}.{fmt}", fmt, "amplitudes",
                         f"Projected amplitudes, {label(chk.config)}.")
        with_terms: set[str] = set()  # exact step-two terms, where the runs measured them
        for chk, res in zip(plan, results):
            key = chk.config.key()
            if (chk.name not in ("growth-exponent", "outlier-count", "term-exponent")
                    or key in with_terms or not plots.has_terms(res, chk.config)):
                continue
            with_terms.add(key)
            fig = plots.term_amplitude_figure(res, chk.config, predict(chk.config))
            md += _entry(fig, fig_dir / f"terms-{len(with_terms):02d}.{fmt}", fmt,
                         "exact terms",
                         f"Exact step-two terms T_k (left) and the whole update's projections "
                         f"(right), {label(chk.config)}; series residual per N under the left "
                         "panel.")
        md += claim_figures(fig_dir, plan, results, label, fmt)
        if spectrum is not None:
            spectrum = Measurement.from_dict(spectrum)
            cfg = spectrum.config
            fig = plots.spectrum_figure(spectrum, predict(cfg))
            md += _entry(fig, fig_dir / f"spectrum.{fmt}", fmt, "spectrum",
                         f"Singular values of W_2, {label(cfg)}, N = {spectrum.N}.")
        if verdicts:
            fig = plots.phase_figure(verdicts)
            md += _entry(fig, fig_dir / f"phase.{fmt}", fmt, "phase",
                         "Phase diagram with the verdicts.")
    return md


def claim_figures(fig_dir: Path, plan: Sequence[Any], results: Sequence[Results],
                  label: Callable[[Any], str], fmt: str) -> list[str]:
    """The figure of each claim checked (:data:`twostep.compare.output.plot_claims.CLAIM_FIGURES`),
    once per claim and configuration, as ``claim-NN-<claim>.<fmt>``; report.md's lines for
    them.  A figure the measurements cannot support gets one line saying why instead."""
    md: list[str] = []
    done: set[tuple[str, str]] = set()
    for chk, res in zip(plan, results):
        draw, key = figure_of(chk.name), (chk.name, chk.config.key())
        if draw is None or key in done:
            continue
        done.add(key)
        lead = f"{CLAIM_FIGURE_TITLES[chk.name]}: {chk.name}, {label(chk.config)}."
        try:
            fig = draw(res, chk.config, chk.claim)
        except ConfigError as err:
            md += [f"{lead} No figure: {str(err).removeprefix('no figure: ')}.", ""]
            continue
        md += _entry(fig, fig_dir / f"claim-{len(done):02d}-{chk.name}.{fmt}", fmt, chk.name,
                     lead)
    return md


def figure_options(args: Any) -> dict[str, Any]:
    """The figure keywords of ``write_report`` from the parsed ``--figure-format`` and
    ``--figure-style`` of ``twostep report`` / ``verify``, checked (none with ``--no-plots``):
    call it before any work so that a bad style file costs nothing."""
    if getattr(args, "no_plots", False):
        return {}
    options = {"figure_format": args.figure_format, "figure_style": args.figure_style}
    check_figure_options(**options)
    return options
