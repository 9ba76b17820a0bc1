"""The canvas and style shared by the report figures (:mod:`twostep.compare.plots`).

A figure is drawn on an Agg canvas of its own (:func:`new_figure`, no pyplot: the process's
matplotlib backend is never changed), captioned under its axes (:func:`caption`) and written
as a PNG (:func:`save`).  Also here: the colour of each term, the configuration's title line,
the log width axis, and the one-line refusal when matplotlib (the ``plot`` extra) is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twostep.theory.errors import ConfigError

CAPTION_SIZE = 7.5


def require_matplotlib() -> None:
    """Refuse with one line when matplotlib (the ``plot`` extra) is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'twostep[plot]'") from None


def new_figure(**kwargs: Any) -> Any:
    """A new figure on its own Agg canvas (PNG).  No pyplot: the process's backend (a
    notebook's, say) and pyplot's list of open figures stay as they are, and the figure is
    freed with its last reference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def term_colour(k: int) -> str:
    """One colour per term k, the same in every figure."""
    cycle = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
             "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
    return cycle[k % len(cycle)]


def config_title(config: Any, *, etabar: bool = False) -> str:
    """The configuration in one title line (with ``etabar1`` when ``etabar``)."""
    text = (f"sigma={config.activation}, sigma*={config.target}, {config.batch} batch, "
            f"alpha=({config.alpha1:g}, {config.alpha2:g})")
    return text + (f", etabar1={config.etabar1:g}" if etabar else "")


def caption(fig: Any, lines: Sequence[str]) -> None:
    """The figure's caption: text lines, wrapped to the figure's width, just under everything
    drawn so far (:func:`save` keeps it inside the PNG)."""
    import textwrap

    renderer = fig.canvas.get_renderer()
    bottom = min(a.get_tightbbox(renderer).y0 for a in fig.axes)
    y = fig.transFigure.inverted().transform((0, bottom))[1] - 0.02
    width = int(fig.get_figwidth() * 72 / (CAPTION_SIZE * 0.55))
    text = "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in lines)
    fig.text(0.01, y, text, ha="left", va="top", fontsize=CAPTION_SIZE)


def save(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` as a PNG, cropped to what is drawn (the caption included)."""
    fig.savefig(path, dpi=120, bbox_inches="tight", pad_inches=0.15)


def width_axis(ax: Any, Ns: Sequence[int], labels: Sequence[str] | None = None) -> None:
    """Log x axis with one tick at each measured width and no others."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([float(n) for n in Ns]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks([float(n) for n in Ns], labels=list(labels or [str(n) for n in Ns]))
    ax.set_xlim(Ns[0] / 1.2, Ns[-1] * 1.2)
