"""The self-contained HTML report (compare/output/report_html.py) and the notebook views
(``_repr_html_`` and short reprs, theory/html.py), without a browser: the documents parse,
hold the numbers, escape the user's text and point at nothing outside themselves.
(tests/test_report_html_browser.py opens a real report in Chromium.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from twostep.compare.output.report_html import render
from twostep.compare.output.table import Table
from twostep.compare.science.claims import Finding, Verdict
from twostep.compare.science.claims.calibration import PLANTED, TRUE_CLAIMS
from twostep.simulate import Measurement
from twostep.theory import ModelConfig, html
from twostep.theory.predict import predict

ROOT = Path(__file__).resolve().parents[1]
CFG = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                  batch="reuse")
EVIL = "<script>alert(1)</script> & \"q\""


class Doc(HTMLParser):
    """Every start tag with its attributes, the text, and whether the tags nest properly."""

    VOID = {"meta", "img", "br", "hr", "input", "link"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def all_text(self) -> str:
        return " ".join(self.text)


def _verdict(status="consistent", subject="term k=0 (a^1)", reason="fit CI holds 0.35",
             **kw) -> Verdict:
    ev = Table(["N", "mean", "empty"], [{"N": 500, "mean": 1.25, "empty": None},
                                        {"N": 1000, "mean": 1.5, "empty": None}], "evidence")
    return Verdict(claim=kw.pop("claim", "growth-exponent"), subject=subject, status=status,
                   reason=reason, evidence=ev, predicted=0.35, statistic=0.3512,
                   ci=(0.31, 0.392), config=CFG, **kw)


def test_the_calibration_rows_are_those_of_docs_results():
    """compare/science/claims/calibration.py holds the tables of docs/results.md, Calibration."""
    text = (ROOT / "docs" / "results.md").read_text()
    section = text[text.index("## Calibration"):text.index("### What the calibration says")]

    def rows(block: str) -> list[tuple[str, ...]]:
        out = [tuple(c.strip() for c in line.strip().strip("|").split("|"))
               for line in block.strip().splitlines()]
        return [r for r in out if set("".join(r)) - set("-")]

    true = re.search(r"\*\*True claims\*\*.*\n\n((?:\|.*\n)+)", section).group(1)
    assert list(TRUE_CLAIMS) == rows(true)[1:]
    planted = re.findall(r"^\*([a-z-]+)\* \(([^)]*)\)\n\n((?:\|.*\n)+)", section, re.M)
    assert sorted(PLANTED) == sorted(name for name, _, _ in planted)
    for name, kind, block in planted:
        got_kind, errors, got_rows = PLANTED[name]
        table = rows(block)
        assert (got_kind, errors, list(got_rows)) == (kind, table[0][1:], table[1:])


def test_the_report_document_parses_escapes_and_stays_inside(tmp_path):
    png = tmp_path / "figures" / "phase.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    lines = ["![phase](figures/phase.png)", "", f"Phase diagram {EVIL}.", ""]
    from twostep.compare.output.report_html import figures_from_markdown

    figs = figures_from_markdown(lines, tmp_path)
    verdicts = [_verdict(), _verdict("inconsistent", subject=EVIL, reason=EVIL, claim="bbp"),
                _verdict("inconclusive", claim="left-vectors")]
    text = render(verdicts, owners=[1, 2, 2], figures=figs, preamble="e_0 = 0.35",
                  versions_={"twostep": "9.9", "numpy": "1"})
    doc = Doc(text)
    assert not doc.stack  # every tag closed
    assert "<script" not in text and "&lt;script&gt;" in text
    words = doc.all_text()
    for expected in ("0.3512", "[0.31, 0.392]", "fit CI holds 0.35", "e_0 = 0.35", "9.9",
                     "not calibrated", "76%", "66%"):  # growth-exponent k=0, bbp left overlap
        assert expected in words or expected in text, expected
    imgs = [a for t, a in doc.tags if t == "img"]
    assert len(imgs) == 1 and imgs[0]["src"].startswith("data:image/png;base64,")
    for tag, attrs in doc.tags:  # nothing from outside: no script, link, font, remote source
        assert tag not in ("script", "link", "iframe", "object")
        assert attrs.get("href", "#").startswith("#"), attrs
        assert attrs.get("src", "data:").startswith("data:"), attrs
    assert "url(" not in text and "@import" not in text and "http" not in text
    assert 'class="status status-inconsistent"' in text  # coloured
    # [3] shares [2]'s table: the table is shown once, [3] points at it
    assert text.count(">evidence</caption>") == 2
    assert 'evidence: the table of <a href="#v2">[2]</a> above' in text


def test_write_report_writes_report_html(tmp_path):
    pytest.importorskip("matplotlib")
    from test_plots import CFG as PCFG
    from test_plots import NS, synthetic_results, synthetic_verdicts

    from twostep.compare.output.report import MARKER, write_report
    from twostep.compare.plans.verify import Check

    plan = [Check("growth-exponent", PCFG, tuple(NS), 3)]
    out = write_report(tmp_path / "r", synthetic_verdicts(), plan=plan,
                       results=[synthetic_results(terms=False)],
                       figure_options={"figure_format": "svg"})
    doc = Doc((out / "report.html").read_text())
    srcs = [a["src"] for t, a in doc.tags if t == "img"]
    # amplitudes, the phase plane and the growth-exponent claim's own figure
    names = sorted(p.name for p in (out / "figures").iterdir())
    assert len(srcs) == len(names) == 3, names
    assert any(n.startswith("claim-01-growth-exponent") for n in names), names
    assert all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    assert "report.html" in (out / MARKER).read_text()


# -- notebook views ------------------------------------------------------------------------------

def _short_line(r: str) -> None:
    assert "\n" not in r and len(r) < 200, (len(r), r)


def test_prediction_repr_and_html():
    p = predict(CFG)
    _short_line(repr(p))
    assert f"paper_count={p.paper_count}" in repr(p) and "9/20" in repr(p)  # e_0
    doc = Doc(p._repr_html_())
    assert not doc.stack
    words = doc.all_text()
    assert "tanh(z + 1/2) / He1" in words and p.laws[0].exponent_exact in words
    assert html.text(p.bulk_edge) in words


def test_observables_and_measurement_repr_and_html():
    obs = predict(CFG).at(1000)
    _short_line(repr(obs))
    words = Doc(obs._repr_html_()).all_text()
    assert "1000" in words and html.text(obs.terms[0].amplitude) in words
    m = Measurement(config=CFG, N=500, d=500, n=500, seed=3,
                    outliers=tuple({"value": 2.0 + i / 7} for i in range(40)),
                    terms=[{"k": 0, "left_power": 1, "amplitude": 1.2345678}])
    _short_line(repr(m))
    words = Doc(m._repr_html_()).all_text()
    assert "seed 3" in words and "1.235" in words


def test_verdict_and_finding_repr_and_html():
    v = _verdict("inconsistent", subject=EVIL, reason="x" * 400)
    _short_line(repr(v))
    text = v._repr_html_()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "#a40e26" in text and "0.3512" in Doc(text).all_text()
    f = Finding("growth-exponent", EVIL, CFG, v.evidence, 0.35, 0.3512, (0.31, 0.392),
                {"slope": 0.01}, decide=lambda adj: ("consistent", "ok", float("nan")))
    _short_line(repr(f))
    text = f._repr_html_()
    assert "<script>" not in text and "slope = 0.01" in Doc(text).all_text()


def test_store_repr_html(tmp_path):
    from twostep.compare.execution.store import Store

    with Store(tmp_path / "s.sqlite") as store:
        _short_line(repr(store))
        words = Doc(store._repr_html_()).all_text()
        assert "0 done, 0 failed" in words and store.version in words
    assert "closed" in store._repr_html_()
