"""Evidence tables: one row per N (or per item), rendered as Markdown, CSV, LaTeX or JSON."""

from __future__ import annotations

import csv
import io
import json
import math
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
    """Empty for missing/NaN, yes/no for booleans, full precision for numbers."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    return x


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

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow([_csv_cell(r.get(c)) for c in self.columns])
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
