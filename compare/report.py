"""Reports: verdict summaries, per-claim convergence tables and figures, written atomically.

``write_report`` builds the whole folder in a temporary sibling directory and renames it into
place at the end, so an interrupted run never leaves a half-written report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from .claims import Results, Verdict
from .paths import check_writable_folder, parent_of
from .table import Table

SUMMARY_COLUMNS = ["#", "claim", "subject", "config", "status", "statistic", "CI", "reason"]


def config_label(cfg: Any) -> str:
    return (f"{cfg.activation} / {cfg.target}, {cfg.batch}, "
            f"alpha=({cfg.alpha1:g}, {cfg.alpha2:g})")


def summary_table(verdicts: Sequence[Verdict]) -> Table:
    t = Table(SUMMARY_COLUMNS, title="verdicts")
    for i, v in enumerate(verdicts, 1):
        ci = (f"[{v.ci[0]:.3g}, {v.ci[1]:.3g}]" if all(map(_finite, v.ci)) else "-")
        t.add(**{"#": i, "claim": v.claim, "subject": v.subject,
                 "config": config_label(v.config) if v.config else "-",
                 "status": v.status.upper() if v.status == "inconsistent" else v.status,
                 "statistic": v.statistic, "CI": ci, "reason": v.reason})
    return t


def _finite(x: float) -> bool:
    return x is not None and x == x and abs(x) != float("inf")


def render_verdicts(verdicts: Sequence[Verdict], fmt: str = "markdown") -> str:
    """Every verdict with its evidence table, then the summary (the terminal output)."""
    parts = []
    for i, v in enumerate(verdicts, 1):
        head = (f"[{i}] {v.claim} -- {v.subject} -- "
                f"{config_label(v.config) if v.config else ''}\n"
                f"    verdict: {v.status}: {v.reason}")
        parts.append(head + "\n\n" + v.evidence.render(fmt))
    parts.append(summary_table(verdicts).render(fmt))
    return "\n\n".join(parts) + "\n"


def check_output_dir(out: str | os.PathLike[str]) -> Path:
    """Refuse an output folder that cannot be written, before any work is done."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output {path} exists and is not a folder")
    check_writable_folder(path if path.exists() else parent_of(path), f"output {path}")
    return path


def write_report(out: str | os.PathLike[str], verdicts: Sequence[Verdict], *,
                 plan: Sequence[Any] = (), results: Sequence[Results] = (),
                 spectrum: dict[str, Any] | None = None, preamble: str = "",
                 figures: bool = True) -> Path:
    """Write Markdown + CSV + LaTeX + JSON tables and PNG figures into ``out`` (atomically)."""
    out = check_output_dir(out)
    parent = parent_of(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        _write(tmp, verdicts, plan, results, spectrum, preamble, figures)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.rename(out, old / "x")
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write(root: Path, verdicts: Sequence[Verdict], plan: Sequence[Any],
           results: Sequence[Results], spectrum: dict[str, Any] | None, preamble: str,
           figures: bool) -> None:
    (root / "tables").mkdir()
    md = ["# twostep verification report", ""]
    if preamble:
        md += ["```", preamble.rstrip(), "```", ""]
    md += ["## Summary", "", summary_table(verdicts).to_markdown(), ""]
    for i, v in enumerate(verdicts, 1):
        stem = f"{i:02d}-{v.claim}"
        for ext, text in (("csv", v.evidence.to_csv()), ("tex", v.evidence.to_latex()),
                          ("json", v.evidence.to_json())):
            (root / "tables" / f"{stem}.{ext}").write_text(text)
        md += [f"## [{i}] {v.claim}: {v.subject}", "",
               f"config: `{v.config.to_json() if v.config else '-'}`", "",
               f"**{v.status}** — {v.reason}", "", v.evidence.to_markdown(), "",
               f"tables: `tables/{stem}.csv`, `tables/{stem}.tex`", ""]
    (root / "tables" / "summary.csv").write_text(summary_table(verdicts).to_csv())
    (root / "tables" / "summary.tex").write_text(summary_table(verdicts).to_latex())
    (root / "verdicts.json").write_text(json.dumps([v.to_dict() for v in verdicts], indent=2))
    if plan:
        (root / "plan.json").write_text(json.dumps([c.to_dict() for c in plan], indent=2))
    if figures:
        from . import plots

        fig_dir = root / "figures"
        fig_dir.mkdir()
        md += ["## Figures", ""]
        done: set[str] = set()
        for chk, res in zip(plan, results):
            if chk.claim not in ("growth-exponent", "outlier-count"):
                continue
            key = chk.config.key()
            if key in done or len(res.Ns(chk.config)) < 2:
                continue
            done.add(key)
            name = f"amplitudes-{len(done):02d}.png"
            plots.amplitude_figure(res, chk.config, predict(chk.config), fig_dir / name)
            md += [f"![amplitudes]({'figures/' + name})", "",
                   f"Projected amplitudes, {config_label(chk.config)}.", ""]
        if spectrum is not None:
            from twostep.theory.config import ModelConfig

            cfg = ModelConfig.from_dict(spectrum["config"])
            plots.spectrum_figure(spectrum, predict(cfg), fig_dir / "spectrum.png")
            md += ["![spectrum](figures/spectrum.png)", "",
                   f"Singular values of W_2, {config_label(cfg)}, N = {spectrum['N']}.", ""]
        if verdicts:
            plots.phase_figure(verdicts, fig_dir / "phase.png")
            md += ["![phase](figures/phase.png)", "", "Phase diagram with the verdicts.", ""]
    (root / "report.md").write_text("\n".join(md))
