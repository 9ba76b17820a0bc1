"""The canvas and style shared by the report figures (:mod:`twostep.compare.output.plots`).

A figure is drawn on an Agg canvas of its own (:func:`new_figure`, no pyplot: the process's
matplotlib backend is never changed), or into axes the caller passes (:func:`axes_for`), in the
paper style :data:`PAPER_RC` (:func:`figure_context`, which also applies a style file and an
rcParams mapping), and written as PNG, PDF or SVG by :func:`save`.  Its caption is kept on the
figure (:func:`set_caption`, :func:`caption_text`) for the report's text, and drawn under the
axes only on request.  Also here: the colour of each term, the configuration's title line, the
log width axis, and the one-line refusal when matplotlib (the ``plot`` extra) is missing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from twostep.theory.errors import ConfigError

#: the formats :func:`save` writes (``--figure-format``)
FIGURE_FORMATS = ("png", "pdf", "svg")

#: pixels per inch of the PNGs (vector formats ignore it)
PNG_DPI = 200

#: the paper style every figure is drawn in: 9-10 pt text, embedded TrueType fonts in PDF
PAPER_RC: dict[str, Any] = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9.5, "xtick.labelsize": 9,
    "ytick.labelsize": 9, "legend.fontsize": 9, "legend.title_fontsize": 9,
    "figure.titlesize": 10, "mathtext.fontset": "dejavusans", "pdf.fonttype": 42,
    "ps.fonttype": 42, "svg.fonttype": "path",
}

#: the attribute of a Figure that holds its caption lines (:func:`set_caption`)
_CAPTION = "twostep_caption"


def require_matplotlib() -> None:
    """Refuse with one line when matplotlib (the ``plot`` extra) is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'twostep[plot]'") from None


def check_style(style: str | os.PathLike[str] | None) -> None:
    """Refuse with one line a style file that is missing or that matplotlib cannot read."""
    if style is None:
        return
    path = Path(style)
    if not path.is_file():
        raise ConfigError(f"--figure-style {style}: no such file (a matplotlib style file, "
                          "lines like 'font.size: 9')")
    require_matplotlib()
    import warnings

    import matplotlib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            matplotlib.rc_params_from_file(str(path), use_default_template=False)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"--figure-style {style}: unreadable ({exc})") from None
    bad = [str(w.message).splitlines()[0] for w in caught]
    if bad:
        raise ConfigError(f"--figure-style {style}: {bad[0]}")


def check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FIGURE_FORMATS`, else a one-line refusal."""
    if fmt not in FIGURE_FORMATS:
        raise ConfigError(f"figure format {fmt!r}: choose one of {', '.join(FIGURE_FORMATS)}")
    return fmt


@contextlib.contextmanager
def figure_context(rc: Mapping[str, Any] | None = None,
                   style: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """The paper style :data:`PAPER_RC`, then the style file ``style``, then the rcParams
    ``rc``, for the figures drawn (and saved) inside; matplotlib's own settings are restored
    on exit."""
    require_matplotlib()
    import matplotlib

    check_style(style)
    with matplotlib.rc_context(PAPER_RC):
        with matplotlib.rc_context(fname=str(style) if style is not None else None,
                                   rc=dict(rc or {})):
            yield


def new_figure(**kwargs: Any) -> Any:
    """A new figure on its own Agg canvas.  No pyplot: the process's backend (a notebook's,
    say) and pyplot's list of open figures stay as they are, and the figure is freed with its
    last reference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def axes_for(ax: Any, figsize: tuple[float, float], rect: Sequence[float]) -> tuple[Any, Any]:
    """``(figure, axes)``: the caller's axes ``ax`` and its figure, or a new figure of
    ``figsize`` inches with axes at ``rect`` (figure fractions)."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize=figsize)
    return fig, fig.add_axes(tuple(rect))


def renderer_of(fig: Any) -> Any:
    """The renderer of ``fig``'s canvas (Agg for the figures made here; the caller's canvas
    for a figure passed in through ``ax=``)."""
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def term_colour(k: int) -> str:
    """One colour per term k, the same in every figure."""
    cycle = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
             "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
    return cycle[k % len(cycle)]


def config_title(config: Any, *, etabar: bool = False) -> str:
    """The configuration in one title line, mathtext (with ``etabar1`` when ``etabar``)."""
    text = (rf"$\sigma$ = {config.activation}, $\sigma_*$ = {config.target}, "
            rf"{config.batch} batch, $(\alpha_1, \alpha_2)$ = ({config.alpha1:g}, "
            f"{config.alpha2:g})")
    return text + (rf", $\bar\eta_1$ = {config.etabar1:g}" if etabar else "")


def set_caption(fig: Any, lines: Sequence[str], *, draw: bool = False) -> None:
    """Keep ``lines`` as (part of) ``fig``'s caption (:func:`caption_text`, which the report
    writes under the image), and with ``draw`` also draw them under the axes."""
    setattr(fig, _CAPTION, [*getattr(fig, _CAPTION, []), *lines])
    if draw:
        caption(fig, lines)


def caption_text(fig: Any) -> str:
    """The caption kept on ``fig`` by :func:`set_caption`, one line per sentence group
    joined by spaces ('' when none)."""
    return " ".join(getattr(fig, _CAPTION, []))


def caption(fig: Any, lines: Sequence[str]) -> None:
    """Draw the caption: text lines, wrapped to the figure's width, just under everything
    drawn so far (:func:`save` keeps it inside the image)."""
    import textwrap

    import matplotlib

    size = float(matplotlib.rcParams["font.size"])
    renderer = renderer_of(fig)
    bottom = min(a.get_tightbbox(renderer).y0 for a in fig.axes)
    y = fig.transFigure.inverted().transform((0, bottom))[1] - 0.02
    width = int(fig.get_figwidth() * 72 / (size * 0.55))
    text = "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in lines)
    fig.text(0.01, y, text, ha="left", va="top", fontsize=size)


def save(fig: Any, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write ``fig`` to ``path`` as ``format`` (one of :data:`FIGURE_FORMATS`; default: the
    path's suffix, else PNG), cropped to what is drawn; PNGs at :data:`PNG_DPI`.  Returns
    the path."""
    path = Path(path)
    fmt = check_format(format or path.suffix.lstrip(".").lower() or "png")
    fig.savefig(path, format=fmt, dpi=PNG_DPI, bbox_inches="tight", pad_inches=0.05)
    return path


def width_axis(ax: Any, Ns: Sequence[int], labels: Sequence[str] | None = None) -> None:
    """Log x axis with one tick at each measured width and no others."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([float(n) for n in Ns]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks([float(n) for n in Ns], labels=list(labels or [str(n) for n in Ns]))
    ax.set_xlim(Ns[0] / 1.2, Ns[-1] * 1.2)
