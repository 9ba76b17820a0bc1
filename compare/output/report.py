"""Reports: verdict summaries, per-claim convergence tables and figures, written atomically.

A report folder is written only where nothing can be lost: a new folder, an empty one, or one
twostep wrote before (it holds the marker file :data:`MARKER`, which lists the files written
and their sha256). Anything else is refused with one line and left untouched; the current
folder, a folder above it and a folder holding the result store are always refused. A twostep
folder that holds anything twostep did not write is refused, ``force`` or not; one whose own
files were edited since is replaced only with ``force``. ``write_report`` builds the report in
a temporary folder and moves it into place at the end (a new folder: one rename; a twostep
folder: swapped with the old one, which is then deleted; an empty folder: its entries are moved
in), so an interrupted run never leaves a half-written report, and no folder twostep did not
make is ever renamed or deleted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twostep.simulate.files import umask
from twostep.simulate.measurement import Measurement
from twostep.theory.errors import ConfigError

from ..execution.paths import check_writable_folder, parent_of
from ..science.claims import Results, Verdict
from .table import Table

SUMMARY_COLUMNS = ["#", "claim", "subject", "config", "status", "statistic", "CI", "reason"]

#: The file that marks a folder as written by twostep (JSON: format, version, files).
MARKER = ".twostep-report"
MARKER_FORMAT = "twostep-report"


def config_label(cfg: Any) -> str:
    """The config in a verdict's rows; a second layer other than the Gaussian is named (the
    predictions assume the config's law, docs/model.md)."""
    law = getattr(cfg, "second_layer", "gaussian")
    return (f"{cfg.activation} / {cfg.target}, {cfg.batch}, "
            f"alpha=({cfg.alpha1:g}, {cfg.alpha2:g})"
            + ("" if law == "gaussian" else f", {law} second layer"))


def summary_table(verdicts: Sequence[Verdict]) -> Table:
    t = Table(SUMMARY_COLUMNS, title="verdicts")
    for i, v in enumerate(verdicts, 1):
        ci = (f"[{v.ci[0]:.3g}, {v.ci[1]:.3g}]"
              if all(c is not None and math.isfinite(c) for c in v.ci) else "-")
        t.add(**{"#": i, "claim": v.claim, "subject": v.subject,
                 "config": config_label(v.config) if v.config else "-",
                 "status": v.status.upper() if v.status == "inconsistent" else v.status,
                 "statistic": v.statistic, "CI": ci, "reason": v.reason})
    return t


def print_verdicts(verdicts: Sequence[Verdict], fmt: str = "markdown") -> None:
    """:func:`render_verdicts` on stdout: with ``fmt="json"`` exactly one JSON document."""
    text = render_verdicts(verdicts, fmt)
    if fmt == "json":
        sys.stdout.write(text)
    else:
        print(text)
    sys.stdout.flush()


def render_verdicts(verdicts: Sequence[Verdict], fmt: str = "markdown") -> str:
    """Every verdict with its evidence table, then the summary (the terminal output).

    ``fmt="json"``: one JSON document, the list of ``Verdict.to_dict()`` (as verdicts.json).
    Otherwise the tables leave out the columns empty in every row, and a table two verdicts
    share (:func:`shared_evidence`) is shown once.
    """
    if fmt == "json":
        return json.dumps([v.to_dict() for v in verdicts], indent=2) + "\n"
    parts = []
    owners = shared_evidence(verdicts)
    for i, v in enumerate(verdicts, 1):
        head = (f"[{i}] {v.claim} -- {v.subject} -- "
                f"{config_label(v.config) if v.config else ''}\n"
                f"    verdict: {v.status}: {v.reason}")
        if owners[i - 1] != i:
            parts.append(head + f"\n    evidence: the table of [{owners[i - 1]}] above")
            continue
        parts.append(head + "\n\n" + v.evidence.compact().render(fmt))
    parts.append(summary_table(verdicts).render(fmt))
    return "\n\n".join(parts) + "\n"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entries(root: Path) -> tuple[dict[str, Path], set[str]]:
    """Files (and links, sockets, ...) below ``root`` by relative path, and the folders."""
    files: dict[str, Path] = {}
    folders: set[str] = set()
    for top, dirs, names in os.walk(root):
        rel = Path(top).relative_to(root)
        for d in dirs:
            p = Path(top) / d
            if p.is_symlink():
                files[(rel / d).as_posix()] = p
            else:
                folders.add((rel / d).as_posix())
        for name in names:
            files[(rel / name).as_posix()] = Path(top) / name
    return files, folders


def _marker(root: Path) -> dict[str, Any] | None:
    """The marker of a folder twostep wrote, or None."""
    try:
        data = json.loads((root / MARKER).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(data, dict) or data.get("format") != MARKER_FORMAT
            or not isinstance(data.get("files"), dict)):
        return None
    return data


def _not_ours(root: Path, marker: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What in a twostep folder twostep did not write (files it does not list, links,
    devices, folders it did not make), and the files it wrote that changed since."""
    files, folders = _entries(root)
    listed: dict[str, str] = marker["files"]
    ours_dirs = {p.as_posix() for f in listed for p in Path(f).parents}
    ours_dirs |= {str(d) for d in marker.get("folders", ())}
    foreign, changed = [], []
    for rel, p in sorted(files.items()):
        if rel == MARKER:
            continue
        if rel not in listed or p.is_symlink() or not p.is_file():
            foreign.append(rel)
        elif _sha256(p) != listed[rel]:
            changed.append(rel)
    foreign += sorted(d for d in folders if d not in ours_dirs)
    return foreign, changed


def _shown(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_dir(out: str | os.PathLike[str], *, force: bool = False,
                     stores: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Refuse, before any work, an output folder where writing could lose something.

    Allowed: a new folder (its parent writable), an empty folder, a folder twostep wrote
    (marker :data:`MARKER`) holding only what twostep wrote, unchanged (with ``force``: also
    files twostep wrote that were edited since).  Always refused, ``force`` or not: the current
    folder or one above it, a symbolic link, a folder holding one of ``stores``, a twostep
    folder holding anything twostep did not write (files, links, folders), any other
    non-empty folder.
    """
    text = os.fspath(out)
    if not str(text).strip():
        raise ConfigError("output: empty folder name; give one such as twostep-report")
    path = Path(text)
    if path.is_symlink():
        raise ConfigError(f"output {path} is a symbolic link; give the folder it points to, "
                          "or a new folder")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output {path} exists and is not a folder")
    real = path.resolve()
    if _inside(Path.cwd().resolve(), real):
        raise ConfigError(f"output {path} is the current folder or one above it; give a new "
                          "folder such as twostep-report")
    for store in stores:
        if _inside(Path(store).resolve(), real):
            raise ConfigError(f"output {path} holds the store {store}; a report never "
                              "replaces the folder of its store: give another folder")
    if not path.exists():
        check_writable_folder(parent_of(path), f"output {path}")
        return path
    if not any(path.iterdir()):
        check_writable_folder(path, f"output {path}")
        return path
    marker = _marker(path)
    if marker is None:
        raise ConfigError(f"output {path} is not empty and twostep did not write it (no "
                          f"{MARKER} file); nothing in it is touched: give a new or empty folder")
    foreign, changed = _not_ours(path, marker)
    if foreign:
        raise ConfigError(f"output {path} is a twostep report but holds files twostep did not "
                          f"write ({_shown(foreign)}); they are never deleted, --force or not: "
                          "move them out, or give another folder")
    if changed and not force:
        raise ConfigError(f"output {path} is a twostep report but files twostep wrote changed "
                          f"since ({_shown(changed)}); give another folder, or --force to "
                          "replace them")
    check_writable_folder(parent_of(path), f"output {path}")  # the swap renames in there
    return path


def _write_marker(root: Path) -> None:
    from ..execution.store import package_version

    files, folders = _entries(root)
    data = {"format": MARKER_FORMAT, "version": package_version(), "written": time.time(),
            "files": {rel: _sha256(p) for rel, p in sorted(files.items())},
            "folders": sorted(folders)}
    (root / MARKER).write_text(json.dumps(data, indent=1) + "\n")


def write_report(out: str | os.PathLike[str], verdicts: Sequence[Verdict], *,
                 plan: Sequence[Any] = (), results: Sequence[Results] = (),
                 spectrum: Measurement | Mapping[str, Any] | None = None, preamble: str = "",
                 figures: bool = True, force: bool = False,
                 stores: Sequence[str | os.PathLike[str]] = (),
                 figure_options: Mapping[str, Any] | None = None) -> Path:
    """Write Markdown + CSV + LaTeX + JSON tables and figures into ``out`` (atomically).

    ``spectrum``: the measurement (or its stored dict) whose full W_2 spectrum is drawn.
    ``figure_options``: keywords of :func:`twostep.compare.output.plot_report.write_figures`
    (``figure_format``: png, pdf or svg; ``figure_style``: a matplotlib style file; ``rc``:
    rcParams), checked before anything is written.

    ``out``, ``force``, ``stores``: see :func:`check_output_dir` (checked again here).
    Files and folders get the modes of the user's umask.
    """
    out = check_output_dir(out, force=force, stores=stores)
    if figures and figure_options:
        from .plot_report import check_figure_options

        check_figure_options(figure_options.get("figure_format", "png"),
                             figure_options.get("figure_style"))
    exists = out.exists()  # an existing folder that passed the check: empty, or twostep's
    ours = exists and any(out.iterdir())
    empty = exists and not ours
    build_in = out if empty else parent_of(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.twostep-tmp.", dir=build_in))
    moved: list[Path] = []
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it 0700
        _write(tmp, verdicts, plan, results, spectrum, preamble, figures, figure_options)
        _write_marker(tmp)
        if ours:
            check_output_dir(out, force=force, stores=stores)  # still only ours?
            old = out.parent / f".{out.name}.twostep-old.{uuid.uuid4().hex[:8]}"
            os.rename(out, old)  # a folder twostep wrote (marker checked just now)
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        elif empty:
            names = sorted(p.name for p in tmp.iterdir() if p.name != MARKER) + [MARKER]
            for name in names:  # the marker last: a folder with it is complete
                target = out / name
                if target.exists():
                    raise ConfigError(f"output {out}: {name} appeared while the report was "
                                      "written; nothing replaced")
                os.rename(tmp / name, target)
                moved.append(target)
            tmp.rmdir()
        else:
            if out.exists():
                raise ConfigError(f"output {out} appeared while the report was written; "
                                  "nothing replaced")
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in moved:  # only what this call moved into the empty folder
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        raise
    return out


def shared_evidence(verdicts: Sequence[Verdict]) -> list[int]:
    """For each verdict (1-based), the first verdict with the same evidence table: two
    findings of one check (the paper and the activation-aware count of ``outlier-count``)
    read one table, which is written and shown once."""
    first: dict[str, int] = {}
    return [first.setdefault(v.evidence.to_json(), i) for i, v in enumerate(verdicts, 1)]


def _verdict_sections(root: Path, verdicts: Sequence[Verdict]) -> list[str]:
    """Each verdict's section of report.md, writing its evidence into ``tables/NN-claim.*``:
    csv and tex without the columns empty in every row (:meth:`Table.compact`; json keeps
    them, as null), and once for verdicts that share their table (:func:`shared_evidence`)."""
    owners = shared_evidence(verdicts)
    md: list[str] = []
    for i, v in enumerate(verdicts, 1):
        owner = owners[i - 1]
        stem = f"{owner:02d}-{verdicts[owner - 1].claim}"
        md += [f"## [{i}] {v.claim}: {v.subject}", "",
               f"config: `{v.config.to_json() if v.config else '-'}`", "",
               f"**{v.status}** — {v.reason}", ""]
        if owner != i:
            md += [f"evidence: the table of [{owner}] above (`tables/{stem}.csv`, "
                   f"`tables/{stem}.tex`), which both verdicts read", ""]
            continue
        table = v.evidence.compact()
        for ext, text in (("csv", table.to_csv()), ("tex", table.to_latex()),
                          ("json", v.evidence.to_json())):
            (root / "tables" / f"{stem}.{ext}").write_text(text)
        users = [f"[{j}]" for j, o in enumerate(owners, 1) if o == i and j != i]
        md += [table.to_markdown(), ""]
        empty = v.evidence.empty_columns()
        if empty:
            md += [f"Left out, empty in every row: {', '.join(empty)}.", ""]
        md += [f"tables: `tables/{stem}.csv`, `tables/{stem}.tex`"
               + (f" (also the evidence of {', '.join(users)})" if users else ""), ""]
    return md


def _write(root: Path, verdicts: Sequence[Verdict], plan: Sequence[Any],
           results: Sequence[Results], spectrum: Measurement | Mapping[str, Any] | None,
           preamble: str, figures: bool,
           figure_options: Mapping[str, Any] | None = None) -> None:
    (root / "tables").mkdir()
    md = ["# twostep verification report", ""]
    if preamble:
        md += ["```", preamble.rstrip(), "```", ""]
    md += ["## Summary", "", summary_table(verdicts).to_markdown(), ""]
    md += _verdict_sections(root, verdicts)
    (root / "tables" / "summary.csv").write_text(summary_table(verdicts).to_csv())
    (root / "tables" / "summary.tex").write_text(summary_table(verdicts).to_latex())
    (root / "verdicts.json").write_text(json.dumps([v.to_dict() for v in verdicts], indent=2))
    if plan:
        (root / "plan.json").write_text(json.dumps([c.to_dict() for c in plan], indent=2))
    figure_md: list[str] = []
    if figures:
        from .plot_report import write_figures

        fig_dir = root / "figures"
        fig_dir.mkdir()
        md += ["## Figures", ""]
        figure_md = write_figures(fig_dir, verdicts, plan, results, spectrum, config_label,
                                  **(figure_options or {}))
        md += figure_md
    (root / "report.md").write_text("\n".join(md))
    from .report_html import write_html

    write_html(root, verdicts, owners=shared_evidence(verdicts), plan=plan, preamble=preamble,
               figure_lines=figure_md)
