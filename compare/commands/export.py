"""``twostep export STORE --out FILE``: a store's per-seed measurements as one long table.

One row per (cell, config fields, N, seed, observable, k, value) (``Store.to_frame()``,
:mod:`twostep.compare.output.export`; docs/howto-paper.md), written as CSV or parquet.  With
``--evidence``, the verdicts' per-N evidence instead (``export.evidence_frame``) of the plan
``twostep report`` evaluates.  Needs the
optional extra ``export`` (pandas, pyarrow): without it, one line naming it and exit 2.

The store is only read.  ``--out`` is written whole or not at all: into a temporary file in
the target folder, then renamed into place.  A new file is created; an existing file is
replaced only when twostep exported it (a CSV whose header is an export's, a parquet file
carrying twostep's metadata) and ``--force`` is given; a symbolic link, a folder, a device or
any file twostep did not write is never replaced.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

from twostep.simulate.files import place_new, refuse_to_replace, umask
from twostep.theory.errors import ConfigError

from ..execution.paths import (
    check_path_name,
    check_writable_folder,
    disk_full,
    parent_of,
    path_errors,
)
from ..output.export import EVIDENCE_COLUMNS
from ._output_args import add_json_argument

FORMATS = ("csv", "parquet")
#: The key of the parquet schema metadata that marks a file twostep exported.
PARQUET_KEY = b"twostep.export"
#: What a full disk leaves (the table is written aside, then renamed).
EXPORT_KEPT = "nothing was lost: the store was only read and --out is as it was"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", help="a twostep result store (read only)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="the table to write: a new file, or one twostep exported before "
                             "(with --force); any other file is never replaced")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format, one of %(choices)s (default: parquet for a FILE "
                             "ending in .parquet, else csv)")
    parser.add_argument("--force", action="store_true",
                        help="replace FILE if twostep exported it before")
    parser.add_argument("--evidence", action="store_true",
                        help="export the verdicts' per-N evidence instead (one row per claim, "
                             "subject, N and statistic: the plan twostep report evaluates)")
    add_json_argument(parser, "a summary (rows, cells, observables, columns, the file)")


def file_format(args: argparse.Namespace) -> str:
    if args.format is not None:
        return args.format
    return "parquet" if Path(args.out).suffix.lower() in (".parquet", ".pq") else "csv"


def _csv_header(path: Path) -> list[str] | None:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            line = fh.readline(1 << 16)
    except (OSError, UnicodeDecodeError):
        return None
    rows = list(csv.reader([line]))
    return rows[0] if rows else None


def is_export_file(path: Path) -> bool:
    """Whether ``path`` is a table twostep exported: a CSV whose header is an export's (it
    starts ``cell,version`` and ends ``observable,k,item,j,value``, or is the evidence's
    columns), or a parquet file whose schema metadata has :data:`PARQUET_KEY`."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        try:
            import pyarrow.parquet as pq

            metadata = pq.read_schema(path).metadata or {}
        except Exception:  # not readable as parquet, or no pyarrow: not known to be ours
            return False
        return PARQUET_KEY in metadata
    header = _csv_header(path) or []
    return (header[:2] == ["cell", "version"]
            and header[-5:] == ["observable", "k", "item", "j", "value"]) \
        or header == list(EVIDENCE_COLUMNS)


def check_target(path: Path, force: bool) -> bool:
    """Refuse (one line) an ``--out`` whose writing could lose a file; True when it exists
    (a twostep export, replaced with ``force``)."""
    what = f"--out {path}"
    check_path_name(path, what)
    with path_errors(what):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            check_writable_folder(parent_of(path), what)
            return False
        refuse_to_replace(what, info.st_mode, ours=lambda: is_export_file(path),
                          what="a twostep export", force=force, force_hint="--force",
                          folder="folder")
        check_writable_folder(parent_of(path), what)
    return True


def _write_table(frame, fh, fmt: str, store: str) -> None:
    if fmt == "csv":
        frame.to_csv(fh, index=False, lineterminator="\n")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    from twostep.simulate.measurement import package_version

    table = pa.Table.from_pandas(frame, preserve_index=False)
    mark = json.dumps({"twostep": package_version(), "store": store}).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARQUET_KEY: mark})
    pq.write_table(table, fh)


def write(frame, path: Path, fmt: str, *, replace: bool, store: str) -> None:
    """Write ``frame`` to a temporary file beside ``path``, then move it into place (replacing
    only a twostep export, looked at again just before)."""
    temp = None
    try:
        with tempfile.NamedTemporaryFile("w" if fmt == "csv" else "wb", dir=parent_of(path),
                                         prefix=f".{path.name}.", delete=False,
                                         **({"encoding": "utf-8", "newline": ""}
                                            if fmt == "csv" else {})) as fh:
            temp = fh.name
            _write_table(frame, fh, fmt, store)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~umask())
            os.fsync(fh.fileno())
        if replace:
            check_target(path, force=True)  # still a twostep export?
            os.replace(temp, path)
        else:
            place_new(temp, path)
    finally:
        if temp is not None and os.path.lexists(temp):
            os.unlink(temp)


def run(args: argparse.Namespace) -> int:
    from ..execution.store import Store, check_store_path
    from ..output.export import require_pandas

    fmt = file_format(args)
    require_pandas(parquet=fmt == "parquet")
    check_store_path(args.store, readonly=True)  # missing, empty, not a store: one line
    out = Path(args.out)
    replace = check_target(out, args.force)
    with Store(args.store, readonly=True) as store:
        if not store.versions():
            raise ConfigError(f"store {args.store} holds no finished cell yet; fill it with "
                              f"twostep sweep --store {args.store} ... or twostep verify "
                              f"--store {args.store}")
        frame = _evidence(store, args.store) if args.evidence else store.to_frame()
    with disk_full(f"export {args.out}", EXPORT_KEPT):
        write(frame, out, fmt, replace=replace, store=str(args.store))
    if args.evidence:
        summary = {"verdicts": int(frame[["claim", "subject"]].drop_duplicates().shape[0]),
                   "statistics": int(frame["statistic"].nunique())}
    else:
        summary = {"cells": int(frame["cell"].nunique()),
                   "observables": int(frame["observable"].nunique())}
    summary = {"store": str(args.store), "out": str(out), "format": fmt, "rows": len(frame),
               **summary, "columns": list(frame.columns)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        counts = ", ".join(f"{v} {k}" for k, v in summary.items()
                           if k in ("cells", "observables", "verdicts", "statistics"))
        print(f"twostep export: {summary['rows']} rows ({counts}) written to {out}",
              file=sys.stderr)
    return 0


def _evidence(store, name: str):
    """The evidence of the verdicts ``twostep report`` gives for this store (its plan)."""
    from ..output.export import evidence_frame
    from ..plans import core_plan
    from ..plans.verify import evaluate, inferred_plan, stored_plan
    from .report import nothing_to_report

    core = core_plan.stored_as_core(store)
    plan = (core_plan.stored_plan(store) if core else stored_plan(store)) \
        or inferred_plan(store)
    if not plan or not store.versions().get(store.version):
        raise ConfigError(nothing_to_report(store, name))
    verdicts, _ = (core_plan.evaluate if core else evaluate)(plan, store)
    return evidence_frame(list(verdicts))
