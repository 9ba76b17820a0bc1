"""Small HTML pieces for notebooks (``_repr_html_``) and the HTML report: escaped cells,
compact tables, a verdict status in its colour.

Every piece escapes what it is given (:func:`html.escape`), so a user's claim name, subject or
reason shows as text; only the pieces these helpers return are passed on unescaped (as
:class:`Raw`).  Styles are inline, so a notebook shows them without a style sheet.  The
standard library only: theory, simulate and compare all import it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from numbers import Integral, Real
from typing import Any

#: A verdict status's text colour and background.
STATUS_COLOURS = {"consistent": ("#116329", "#dafbe1"),
                  "inconsistent": ("#a40e26", "#ffebe9"),
                  "inconclusive": ("#7d4e00", "#fff8c5"),
                  "blocked": ("#57606a", "#eaeef2")}

_TABLE = ("border-collapse:collapse;font-size:0.9em;margin:0.3em 0;"
          "font-variant-numeric:tabular-nums")
_CELL = "border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top"
_HEAD = _CELL + ";background:#f6f8fa;font-weight:600"


class Raw(str):
    """HTML made by these helpers: put into a cell as it is, not escaped again."""


def text(value: Any) -> str:
    """``value`` as short text: numbers to 4 significant digits, None and NaN as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        x = float(value)
        return "-" if math.isnan(x) else f"{x:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(text(v) for v in value) + "]"
    return str(getattr(value, "value", value))  # an Enum shows its value


def cell(value: Any) -> str:
    """One cell's HTML: :class:`Raw` as it is, anything else as escaped :func:`text`."""
    return value if isinstance(value, Raw) else escape(text(value))


def short(value: Any, limit: int = 80) -> str:
    """:func:`text`, cut to ``limit`` characters with an ellipsis (for one-line reprs)."""
    s = text(value)
    return s if len(s) <= limit else s[:limit - 1] + "\u2026"


def status(value: Any) -> Raw:
    """A verdict status (a string or an Enum with a string value) in its colour."""
    name = str(getattr(value, "value", value))
    fg, bg = STATUS_COLOURS.get(name, ("#24292f", "#eaeef2"))
    return Raw(f'<span class="status status-{escape(name)}" style="color:{fg};background:{bg};'
               f'padding:0 0.4em;border-radius:0.3em;font-weight:600">{escape(name)}</span>')


def table(rows: Iterable[Sequence[Any]], header: Sequence[Any] = (), *,
          caption: str = "") -> Raw:
    """A compact table: ``header`` (escaped), then one row per sequence of cells (:func:`cell`)."""
    out = [f'<table style="{_TABLE}">']
    if caption:
        out.append(f'<caption style="text-align:left;font-weight:600">{escape(caption)}</caption>')
    if header:
        out.append("<thead><tr>" + "".join(f'<th style="{_HEAD}">{escape(str(h))}</th>'
                                           for h in header) + "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f'<td style="{_CELL}">{cell(v)}</td>' for v in row)
                   + "</tr>")
    out.append("</tbody></table>")
    return Raw("".join(out))


def fields(items: Mapping[str, Any], *, caption: str = "") -> Raw:
    """A two-column table: name, value (a record's fields)."""
    return table(items.items(), caption=caption)


def block(title: str, *parts: str) -> Raw:
    """A titled block for a notebook: the title in bold, then the parts (HTML) in order."""
    return Raw(f'<div class="twostep"><div style="font-weight:600">{escape(title)}</div>'
               + "".join(parts) + "</div>")


def config_text(cfg: Any) -> str:
    """A configuration in one line: activation / target, batch, alpha (and a second layer
    other than the Gaussian)."""
    law = getattr(cfg, "second_layer", "gaussian")
    return (f"{cfg.activation} / {cfg.target}, {cfg.batch}, alpha=({cfg.alpha1:g}, "
            f"{cfg.alpha2:g})" + ("" if law == "gaussian" else f", {law} second layer"))


def outliers(values: Any) -> str | None:
    """Outliers as ``value (term k)`` each; a predicted one known only by its order shows
    ``~N^e``."""
    if values is None:
        return None

    def one(o: Any) -> str:
        size = (text(o.value) if o.value is not None or o.exponent is None
                else f"~N^{o.exponent:g}")
        return size + ("" if o.term is None else f" (term {o.term})")

    return "[" + ", ".join(one(o) for o in values) + "]"


def observables(obs: Any, title: str) -> Raw:
    """An :class:`~twostep.theory.observables.Observables` or a Measurement (the same field
    names): the width, the outliers, and a row per step-two term and projection."""
    head = {"N": obs.N, "d": obs.d, "n": obs.n, "bulk edge": obs.bulk_edge,
            "new outliers visible": obs.visible_new_outliers,
            "outliers": outliers(obs.outliers)}
    spike = getattr(obs, "step_one_spike", None)
    if spike is not None:
        head["step-one spike"] = spike.value
    beta = getattr(obs, "beta", None)
    if beta is not None:
        head["beta_* learned"] = beta.learned
    parts = [fields(head)]
    rows = [("term", t.k, f"a^{t.left_power}", t.amplitude, t.null_floor,
             getattr(t, "coherent_sq", None)) for t in (obs.terms or ())]
    rows += [("projection", p.k, f"a^{p.left_power}", p.amplitude, p.null_floor, None)
             for p in (obs.amplitudes or ())]
    if rows:
        parts.append(table(rows, ("kind", "k", "left", "amplitude", "null floor",
                                  "coherent^2")))
    return block(title, *parts)


def prediction(p: Any) -> Raw:
    """A :class:`~twostep.theory.prediction.Prediction`: the counts, then a row per term."""
    head = {"config": config_text(p.config), "step-one exponent": p.step_one_exponent,
            "ratio alpha2 / (1/2 - alpha1)": str(p.ratio), "paper count": p.paper_count,
            "activation-aware count": p.aware_count, "bulk edge": p.bulk_edge,
            "beta_* learned": p.beta.learned, "first term carrying beta_*": p.beta.first_term}
    if p.bbp is not None:
        head["BBP outlier location"] = p.bbp.location
    if p.aware_count is None:
        head["why no aware count"] = p.aware_count_reason
    laws = table([(t.k, f"a^{t.left_power}", t.exponent_exact, t.growth, t.present,
                   t.carries_beta) for t in p.laws],
                 ("k", "left", "exponent e_k", "growth", "present", "carries beta_*"))
    return block("Prediction", fields(head), laws)


def evidence(tab: Any) -> Raw:
    """A per-N evidence table (``columns``, ``rows`` of dicts, ``title``), the columns empty
    in every row left out."""
    columns = [c for c in tab.columns if any(r.get(c) not in (None, "") for r in tab.rows)]
    return table([[r.get(c) for c in columns] for r in tab.rows], columns,
                 caption=getattr(tab, "title", ""))


def interval(ci: Any) -> str:
    """A ``(low, high)`` interval as ``[low, high]`` ('-' where it is missing)."""
    if ci is None or all(text(c) == "-" for c in ci):
        return "-"
    return f"[{text(ci[0])}, {text(ci[1])}]"


def verdict(v: Any) -> Raw:
    """A verdict: its status in colour, reason, numbers and config, then its evidence."""
    head = {"status": status(v.status), "reason": v.reason, "predicted": v.predicted,
            "statistic": v.statistic, "95% CI": interval(v.ci), "decided at N": v.decided_at,
            "adjusted p-value": v.pvalue,
            "config": None if v.config is None else config_text(v.config)}
    return block(f"{v.claim}: {v.subject}", fields(head), evidence(v.evidence))


def finding(f: Any) -> Raw:
    """A finding before the multiple-testing step: its rule, numbers and raw p-values."""
    head = {"rule": f.rule or "(a decide callable)", "predicted": f.predicted,
            "statistic": f.statistic, "95% CI": interval(f.ci),
            "raw p-values": ", ".join(f"{t.test} = {text(t.p)}" for t in f.pvalues.tests) or None,
            "config": config_text(f.config)}
    return block(f"Finding {f.claim}: {f.subject}", fields(head), evidence(f.evidence))
