"""Evidence tables: one row per N (or per item), rendered as Markdown, CSV, LaTeX or JSON.

Markdown and LaTeX show the human headers (``overlap with q_(k+1) (mean)``, ``yes``/``no``,
``3/3``, ``N^0.4``); CSV is for machines (:meth:`Table.machine`): snake_case headers
(:func:`machine_name`), ``true``/``false``, and the strings that hold numbers split into numeric
columns (``3/3`` -> ``x`` and ``x_of``, ``N^0.4`` -> ``x_exponent``, ``[0.1, 0.2]`` -> ``x_low``
and ``x_high``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def _cell(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.4g}"
    return str(x)


def _csv_cell(x: Any) -> Any:
    """Empty for missing/NaN, true/false for booleans, full precision for numbers."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    return x


def machine_name(column: str) -> str:
    """The snake_case name of a column for machines: ``overlap with q_(k+1) (mean)`` ->
    ``overlap_with_q_k_plus_1_mean``, ``CI low`` -> ``ci_low``, ``#`` -> ``number``; ``N``
    (the width, everywhere) stays ``N``."""
    if column == "N":
        return column
    text = column.replace("+", " plus ").replace("#", " number ").replace("%", " percent ")
    name = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
    return name or "column"


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
#: Strings that hold numbers, and the numeric columns they become: ``3/3`` (a count of),
#: ``N^0.4`` (a power of N), ``[0.1, 0.2]`` (an interval).
_SPLITS = (
    (re.compile(r"^(\d+)/(\d+)$"), ("", "_of"), int),
    (re.compile(rf"^N\^({_NUMBER})$"), ("_exponent",), float),
    (re.compile(rf"^\[({_NUMBER}), ({_NUMBER})\]$"), ("_low", "_high"), float),
)


def _split(values: list[Any]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]] | None:
    """The numeric columns of a column whose every present value is one of :data:`_SPLITS`'s
    strings (suffixes, and per row the numbers, None where missing); None otherwise."""
    present = [v for v in values if not _missing(v) and v != "-"]
    for pattern, suffixes, kind in _SPLITS:
        if present and all(isinstance(v, str) and pattern.match(v) for v in present):
            rows = [tuple(kind(g) for g in pattern.match(v).groups())
                    if isinstance(v, str) and pattern.match(v) else (None,) * len(suffixes)
                    for v in values]
            return suffixes, rows
    return None


def _missing(x: Any) -> bool:
    """A cell shown empty (``-`` in Markdown, empty in CSV): None or NaN."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def _latex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                 ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("^", r"\^{}"),
                 ("~", r"\~{}")):
        s = s.replace(a, b)
    return s


@dataclass
class Table:
    """Columns and rows (each row a dict keyed by column); ``title`` names the table."""

    columns: Sequence[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""

    def add(self, **row: Any) -> None:
        unknown = set(row) - set(self.columns)
        if unknown:
            raise KeyError(f"unknown column(s) {sorted(unknown)}; columns are {list(self.columns)}")
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def empty_columns(self) -> list[str]:
        """The columns missing (None or NaN) in every row; none for a table without rows."""
        if not self.rows:
            return []
        return [c for c in self.columns if all(_missing(r.get(c)) for r in self.rows)]

    def compact(self) -> Table:
        """This table without :meth:`empty_columns` (e.g. local slopes at 3 widths, series
        residuals of runs without exact terms); the table itself if none is empty."""
        empty = set(self.empty_columns())
        if not empty:
            return self
        columns = [c for c in self.columns if c not in empty]
        return Table(columns, [{c: r[c] for c in columns if c in r} for r in self.rows],
                     self.title)

    def to_markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        sep = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(_cell(r.get(c)) for c in self.columns) + " |"
                for r in self.rows]
        out = [head, sep, *body]
        if self.title:
            out.insert(0, f"**{self.title}**\n")
        return "\n".join(out)

    def machine(self) -> tuple[list[str], list[dict[str, Any]]]:
        """The columns and rows for machines (the CSV form, the module docstring): snake_case
        names (:func:`machine_name`), and each column of number strings split into numeric
        columns (``3/3``, ``N^0.4``, ``[low, high]``)."""
        columns: list[str] = []
        rows: list[dict[str, Any]] = [{} for _ in self.rows]
        for c in self.columns:
            name = machine_name(c)
            values = [r.get(c) for r in self.rows]
            split = _split(values)
            if split is None:
                columns.append(name)
                for row, v in zip(rows, values):
                    row[name] = v
                continue
            suffixes, parts = split
            columns += [name + s for s in suffixes]
            for row, numbers in zip(rows, parts):
                row.update({name + s: x for s, x in zip(suffixes, numbers)})
        return columns, rows

    def to_csv(self) -> str:
        """CSV for machines (:meth:`machine`): snake_case headers, numeric columns numeric,
        ``true``/``false``, empty where missing."""
        columns, rows = self.machine()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_csv_cell(r.get(c)) for c in columns])
        return buf.getvalue()

    def to_latex(self) -> str:
        """A booktabs table (needs ``\\usepackage{booktabs}``)."""
        spec = "l" * len(self.columns)
        lines = [r"\begin{tabular}{" + spec + "}", r"\toprule",
                 " & ".join(_latex_escape(c) for c in self.columns) + r" \\", r"\midrule"]
        for r in self.rows:
            lines.append(" & ".join(_latex_escape(_cell(r.get(c))) for c in self.columns)
                         + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        if self.title:
            lines.insert(0, f"% {self.title}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
            return x

        return {"title": self.title, "columns": list(self.columns),
                "rows": [{c: clean(r.get(c)) for c in self.columns} for r in self.rows]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def render(self, fmt: str = "markdown") -> str:
        formats = {"markdown": self.to_markdown, "csv": self.to_csv, "latex": self.to_latex,
                   "json": self.to_json}
        if fmt not in formats:
            from twostep.theory.errors import ConfigError

            raise ConfigError(f"table format must be one of {', '.join(formats)}; got {fmt!r}")
        return formats[fmt]()
