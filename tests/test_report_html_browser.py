"""The HTML report in a real browser: Debian's Chromium, driven by playwright (the
``report-test`` extra; no browser download: playwright starts /usr/bin/chromium).

A report folder is written from synthetic results (tests/test_plots.py, no simulation), in
PNG and in SVG; Chromium opens its report.html from the disk with every request intercepted.
Checked: the page loads; every figure the folder holds is an image in the page, decoded by the
browser (``naturalWidth > 0``) and laid out with a size; the browser requested nothing but the
file itself (the figures are data: URIs, nothing is fetched); and nothing was logged on the
console as an error or warning, and no script error was raised.

Marked ``browser``: not in the default suite (``pytest -m browser``; .ci/run runs it after
installing Chromium).  Skipped, with the reason, where Chromium or playwright is missing.

``python tests/test_report_html_browser.py REPORT.html OUT.png`` takes the screenshot of
docs/figures/report-html.png the same way.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

#: Chromium: $TWOSTEP_CHROMIUM, else the first of these on PATH.
CHROMIUM = os.environ.get("TWOSTEP_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
    None)

#: What headless Chromium needs in a container (no sandbox, no GPU) and what keeps it from
#: reaching out on its own (updates, sync, QUIC, background networking).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get "
                                 "install chromium, or set TWOSTEP_CHROMIUM)")]


def open_report(path: Path, *, screenshot: Path | None = None) -> dict:
    """Open ``path`` in headless Chromium; return what the page showed and requested."""
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    requests: list[str] = []
    console: list[str] = []

    def route(r):
        requests.append(r.request.url)
        (r.continue_ if r.request.url == url else r.abort)()

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 1700}, offline=True)
        try:
            page = ctx.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: console.append(f"page error: {e}"))
            ctx.route("**/*", route)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            images = page.evaluate("""() => Array.from(document.images).map(i => ({
                alt: i.alt, complete: i.complete, natural: i.naturalWidth,
                width: i.getBoundingClientRect().width,
                height: i.getBoundingClientRect().height}))""")
            title = page.title()
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
        finally:
            ctx.close()
    return {"images": images, "requests": requests, "console": console, "title": title,
            "url": url}


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_the_report_opens_offline_with_every_figure(tmp_path, fmt):
    pytest.importorskip("playwright.sync_api", reason="pip install twostep[report-test]")
    pytest.importorskip("matplotlib")
    from test_plots import CFG, NS, synthetic_results, synthetic_spectrum, synthetic_verdicts

    from twostep.compare.output.report import write_report
    from twostep.compare.plans.verify import Check

    plan = [Check("growth-exponent", CFG, tuple(NS), 3)]
    out = write_report(tmp_path / "r", synthetic_verdicts(), plan=plan,
                       results=[synthetic_results()], spectrum=synthetic_spectrum(),
                       figure_options={"figure_format": fmt})
    files = sorted(p.name for p in (out / "figures").iterdir())
    # amplitudes, terms, spectrum, phase, and the claim's own figure (claim-01-growth-exponent)
    assert len(files) == 5, files
    assert any(f.startswith("claim-01-growth-exponent.") for f in files), files

    seen = open_report(out / "report.html")
    assert seen["title"] == "twostep verification report"
    assert len(seen["images"]) == len(files), seen["images"]
    for img in seen["images"]:  # decoded by the browser, and laid out with a size
        assert img["complete"] and img["natural"] > 0, img
        assert img["width"] > 100 and img["height"] > 50, img
    assert {u for u in seen["requests"] if not u.startswith("data:")} == {seen["url"]}
    assert seen["console"] == []


if __name__ == "__main__":  # the screenshot of docs/figures/report-html.png
    report, png = map(Path, sys.argv[1:3])
    seen = open_report(report, screenshot=png)
    print({k: v for k, v in seen.items() if k != "images"}, len(seen["images"]), "images")
