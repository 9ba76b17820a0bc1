"""``--json`` and ``--format``, written once: every command that prints results takes
``--json`` (standard output is one JSON document, every other line goes to standard error);
where tables have several formats, ``--format json`` is kept as the same thing.  Also the
report's figure options, which ``verify`` and ``report`` share."""

from __future__ import annotations

import argparse
import math
from typing import Any

#: The formats of the terminal tables (``twostep verify``, ``twostep report``).
TABLE_FORMATS = ("markdown", "csv", "latex", "json")


def add_format_arguments(parser: argparse.ArgumentParser, extra: tuple[str, ...] = (),
                         extra_help: str = "") -> None:
    """``--format {markdown,csv,latex,json}`` (and the formats ``extra``) and ``--json`` (the
    same as ``--format json``), one or the other; both set ``args.format``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--format", default="markdown", choices=TABLE_FORMATS + extra,
                       help="format of the tables printed on the terminal, one of "
                            "%(choices)s; json: standard output is one JSON document"
                            f"{extra_help} (default: %(default)s)")
    group.add_argument("--json", dest="format", action="store_const", const="json",
                       help="standard output is one JSON document, every other line goes to "
                            "standard error (the same as --format json)")


def add_figure_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's figures: ``--no-plots``, ``--figure-format {png,pdf,svg}`` and
    ``--figure-style FILE`` (``twostep verify`` and ``twostep report`` write the same report)."""
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.add_argument("--figure-format", default="png", choices=("png", "pdf", "svg"),
                        help="file format of the report's figures (png at 200 dpi; "
                             "default: %(default)s)")
    parser.add_argument("--figure-style", metavar="FILE",
                        help="a matplotlib style file applied over the paper style of the "
                             "figures (lines like 'font.size: 10'; docs/howto-paper.md)")


def add_json_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                      what: str) -> None:
    """``--json``: print ``what`` as one JSON document on standard output."""
    parser.add_argument("--json", action="store_true",
                        help=f"print {what} as one JSON document on standard output (progress "
                             "and notes go to standard error)")


def finite(x: Any) -> Any:
    """``x`` with every NaN or infinite float as None (the JSON convention of a verdict)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x
