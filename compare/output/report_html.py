"""The report as one self-contained HTML file (``report.html`` of a report folder).

:func:`write_html` writes it beside report.md (:func:`twostep.compare.output.report.write_report`,
so ``twostep verify --out`` and ``twostep report`` both write it): the summary, each verdict
with its status (coloured), reason, numbers, config and evidence table, the calibration rows
of each rule that decided (:mod:`twostep.compare.science.claims.calibration`), the figures, the
predictions, the plan and the versions.  The figures are embedded as ``data:`` URIs (PNG and
SVG; a PDF figure cannot be shown by a browser inline and is named instead), the style sheet is
inline, and there is no script, no font and no link to anything outside the file: it opens
offline, and sends no request (``tests/test_report_html_browser.py`` checks this in
Chromium).  Every text from a verdict, a config or a caption is escaped (:func:`html.escape`).
"""

from __future__ import annotations

import base64
import json
import platform
import re
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

from twostep.simulate.measurement import versions as run_versions
from twostep.theory import html

from ..science.claims import Verdict
from ..science.claims.calibration import SOURCE, TRUE_COLUMNS, calibration_of

#: The style sheet: inline, system fonts only (no web font, nothing fetched).
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 margin:0 auto;padding:1em 1.5em 3em;max-width:1150px;color:#1f2328;line-height:1.45}
h1{font-size:1.6em;margin:0.4em 0} h2{font-size:1.3em;border-bottom:1px solid #d0d7de;
 padding-bottom:0.2em;margin-top:1.6em} h3{font-size:1.05em;margin:1.2em 0 0.3em}
.scroll{overflow-x:auto} .muted{color:#59636e} .reason{margin:0.2em 0 0.5em}
pre{background:#f6f8fa;padding:0.6em;overflow-x:auto;font-size:0.85em}
figure{margin:1em 0} figure img{max-width:min(100%,800px);height:auto;border:1px solid #eaeef2}
figcaption{font-size:0.9em;color:#3d444d;max-width:900px}
nav a{margin-right:1em} section.verdict{border-left:4px solid #d0d7de;padding-left:0.8em}
section.verdict.consistent{border-color:#1a7f37} section.verdict.inconsistent{border-color:#cf222e}
section.verdict.inconclusive{border-color:#bf8700} section.verdict.blocked{border-color:#57606a}
details{margin:0.3em 0}
"""

_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<path>figures/[^)\s]+)\)")
_MIME = {".png": "image/png", ".svg": "image/svg+xml"}


class Figure(NamedTuple):
    """A figure of the report: its file (under the report folder), alt text and caption."""

    path: Path
    alt: str
    caption: str


def figures_from_markdown(lines: Sequence[str], root: Path) -> list[Figure]:
    """The figures report.md lists (``![alt](figures/NAME)``, the caption the next non-empty
    line), with their files under ``root``."""
    out = []
    for i, line in enumerate(lines):
        m = _IMAGE.fullmatch(line.strip())
        if not m:
            continue
        caption = next((x for x in lines[i + 1:] if x.strip()), "")
        caption = "" if _IMAGE.fullmatch(caption.strip()) else caption.strip()
        out.append(Figure(root / m["path"], m["alt"], caption))
    return out


def figure_html(fig: Figure) -> str:
    """One figure: the file embedded as a data: URI under its caption (a PDF is named)."""
    mime = _MIME.get(fig.path.suffix.lower())
    caption = f"<figcaption>{escape(fig.caption)}</figcaption>"
    if mime is None:
        return (f'<figure><p class="muted">{escape(fig.path.name)}: a {escape(fig.path.suffix)} '
                "figure is not shown in a browser (report --figure-format png or svg embeds it)"
                f"</p>{caption}</figure>")
    data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:{mime};base64,{data}" alt="{escape(fig.alt)}">'
            f"{caption}</figure>")


def versions() -> dict[str, str]:
    """The versions of twostep, Python, numpy, scipy (and matplotlib where installed)."""
    out = run_versions().to_dict()
    try:
        import matplotlib

        out["matplotlib"] = matplotlib.__version__
    except ImportError:  # figures are optional
        pass
    out["platform"] = platform.platform()
    return out


def _summary(verdicts: Sequence[Verdict]) -> str:
    """One row per verdict, the reason cut short (the verdict's section has it whole)."""
    rows = [(html.Raw(f'<a href="#v{i}">{i}</a>'), _nowrap(v.claim), v.subject,
             html.config_text(v.config) if v.config else "-", html.status(v.status),
             v.statistic, _nowrap(html.interval(v.ci)), html.short(v.reason, 140))
            for i, v in enumerate(verdicts, 1)]
    head = ("#", "claim", "subject", "config", "status", "statistic", "95% CI", "reason")
    return f'<div class="scroll">{html.table(rows, head)}</div>'


def _nowrap(text: str) -> html.Raw:
    return html.Raw(f'<span style="white-space:nowrap">{escape(text)}</span>')


def _verdict(i: int, v: Verdict, owner: int) -> str:
    name = html.text(v.status)
    numbers = html.table([(v.predicted, v.statistic, html.interval(v.ci), v.decided_at,
                           v.pvalue)],
                         ("predicted", "statistic", "95% CI", "decided at N", "adjusted p"))
    config = json.dumps(v.config.to_dict(), indent=1) if v.config else "-"
    cal = "" if not calibration_of(v.claim)[0] else \
        f' <a href="#cal-{escape(v.claim)}">calibration of {escape(v.claim)}</a>'
    out = [f'<section class="verdict {escape(name)}" id="v{i}">',
           f"<h3>[{i}] {escape(v.claim)}: {escape(v.subject)}</h3>",
           f'<p class="reason">{html.status(v.status)} {escape(v.reason)}</p>',
           f'<div class="scroll">{numbers}</div>',
           f"<p class=\"muted\">{escape(html.config_text(v.config)) if v.config else ''}{cal}</p>",
           f"<details><summary>config</summary><pre>{escape(config)}</pre></details>"]
    if owner != i:
        out.append(f'<p>evidence: the table of <a href="#v{owner}">[{owner}]</a> above, which '
                   "both verdicts read</p>")
    else:
        out.append(f'<div class="scroll">{html.evidence(v.evidence)}</div>')
    return "".join(out) + "</section>"


def _calibration(claims: Sequence[str]) -> str:
    out = [f'<p class="muted">From {escape(SOURCE)}: type I is a true claim called '
           "inconsistent; a planted error's cell is false acceptance (called consistent) / "
           "power (called inconsistent).</p>"]
    for claim in dict.fromkeys(claims):
        rows, planted = calibration_of(claim)
        out.append(f'<h3 id="cal-{escape(claim)}">{escape(claim)}</h3>')
        if not rows:
            out.append('<p class="muted">not calibrated</p>')
            continue
        out.append(f'<div class="scroll">{html.table([r[1:] for r in rows], TRUE_COLUMNS[1:])}'
                   "</div>")
        if planted:
            kind, errors, prow = planted
            tab = html.table(prow, ("subject", *errors),
                             caption=f"planted {kind}: false acceptance / power")
            out.append(f'<div class="scroll">{tab}</div>')
    return "".join(out)


def _plan(plan: Sequence[Any]) -> str:
    rows = []
    for c in plan:
        d = c.to_dict()
        seeds = d["seeds"] if not isinstance(d["seeds"], dict) else \
            ", ".join(f"{n}: {s}" for n, s in d["seeds"].items())
        rows.append((d["claim"], html.config_text(c.config), d["Ns"], seeds,
                     json.dumps(d.get("options") or {}) if d.get("options") else "-"))
    tab = html.table(rows, ("claim", "config", "N", "seeds", "options"))
    return f'<div class="scroll">{tab}</div>'


def render(verdicts: Sequence[Verdict], *, owners: Sequence[int], plan: Sequence[Any] = (),
           preamble: str = "", figures: Sequence[Figure] = (),
           versions_: Mapping[str, str] | None = None) -> str:
    """The whole document.  ``owners``: for each verdict (1-based) the verdict whose evidence
    table it shows (:func:`twostep.compare.output.report.shared_evidence`)."""
    counts = {s: sum(html.text(v.status) == s for v in verdicts) for s in html.STATUS_COLOURS}
    vers = versions() if versions_ is None else versions_
    body = ["<h1>twostep verification report</h1>",
            "<p>" + ", ".join(f"{n} {html.status(s)}" for s, n in counts.items())
            + f' <span class="muted">&middot; twostep {escape(vers.get("twostep", "?"))}'
            "</span></p>",
            '<nav><a href="#summary">summary</a><a href="#verdicts">verdicts</a>'
            '<a href="#figures">figures</a><a href="#calibration">calibration</a>'
            '<a href="#predictions">predictions</a><a href="#plan">plan and versions</a></nav>',
            '<h2 id="summary">Summary</h2>', _summary(verdicts),
            '<h2 id="verdicts">Verdicts</h2>']
    body += [_verdict(i, v, owners[i - 1]) for i, v in enumerate(verdicts, 1)]
    body.append('<h2 id="figures">Figures</h2>')
    body += [figure_html(f) for f in figures] or ['<p class="muted">no figures (--no-plots, '
                                                  "or too few widths to draw)</p>"]
    body += ['<h2 id="calibration">Calibration of the rules</h2>',
             _calibration([v.claim for v in verdicts])]
    body.append('<h2 id="predictions">Predictions</h2>')
    body.append(f"<pre>{escape(preamble.rstrip())}</pre>" if preamble.strip()
                else '<p class="muted">see each verdict\'s predicted value</p>')
    body += ['<h2 id="plan">Plan and versions</h2>', _plan(plan) if plan else
             '<p class="muted">no recorded plan</p>', html.fields(vers, caption="versions")]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>twostep verification report</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_html(root: Path, verdicts: Sequence[Verdict], *, owners: Sequence[int],
               plan: Sequence[Any] = (), preamble: str = "",
               figure_lines: Sequence[str] = ()) -> Path:
    """Write ``root/report.html``; ``figure_lines``: report.md's lines for the figures
    (:func:`twostep.compare.output.plot_report.write_figures`), whose files are under ``root``."""
    path = root / "report.html"
    path.write_text(render(verdicts, owners=owners, plan=plan, preamble=preamble,
                           figures=figures_from_markdown(figure_lines, root)),
                    encoding="utf-8")
    return path
