"""``twostep report STORE --out DIR``: rebuild every table and figure from a store.

Nothing is simulated.  The plan is the one the last ``twostep verify`` recorded in the store;
for a store filled by ``twostep sweep`` (no recorded plan) the claims that apply to its data
are inferred: ``growth-exponent``, ``outlier-count`` and ``left-vectors`` for every config with
at least two widths, ``reuse-gap`` where both batch modes were run, ``bbp`` for alpha1 = 0.

The store is only read (a read-only connection that creates no file beside it, so a store in
a read-only folder works).  ``--out`` is written only if it is new, empty or a report folder
twostep wrote (see ``twostep.compare.output.report``); with ``--json`` (or ``--format json``)
standard output is one JSON document and every other line goes to standard error.  Every
report folder holds ``report.html``, the whole report in one self-contained file
(:mod:`twostep.compare.output.report_html`); ``--format html`` also prints it on standard output.
"""

from __future__ import annotations

import argparse
import sys

from twostep.theory.errors import ConfigError

from ..execution.paths import check_path_name, disk_full, path_errors
from ._output_args import add_figure_arguments, add_format_arguments

#: What a full disk leaves while a report is written (it is built aside, then moved in).
REPORT_KEPT = ("nothing was lost: the store was only read, the report folder is as it was and "
               "the partial report was removed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE",
                        help="a twostep result store (read only); evaluated: the plan of the "
                             "LAST twostep verify that wrote into it (earlier verify plans are "
                             "not reported; one store per plan, docs/howto-paper.md), else the "
                             "claims inferred from a sweep's cells")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="report folder: a new or empty folder, or one a twostep report "
                             "wrote before (then replaced); any other folder is refused")
    parser.add_argument("--force", action="store_true",
                        help="replace a twostep report folder even if files twostep wrote in it "
                             "were edited since; a file twostep did not write is never deleted, "
                             "nor any other folder")
    add_format_arguments(parser, ("html",),
                         "; html: standard output is the report's self-contained HTML document "
                         "(DIR/report.html, written in every format)")
    add_figure_arguments(parser)


def nothing_to_report(store, name) -> str:
    """Why a store gives no verdict, and what to do (one line)."""
    versions = store.versions()
    others = {v: n for v, n in versions.items() if v != store.version}
    if others and not versions.get(store.version):
        held = ", ".join(f"{n} cell(s) from twostep {v}" for v, n in others.items())
        return (f"store {name} holds {held} and none from this twostep ({store.version}); "
                f"results are not shared between versions: report it with twostep "
                f"{next(iter(others))}, or rerun the sweep or verify into it with this one "
                f"(the cells are recomputed)")
    if not versions:
        return (f"store {name} holds no finished cell yet; fill it with twostep sweep --store "
                f"{name} ... or twostep verify --store {name}")
    return (f"store {name} holds no config with two or more widths (and seeds 0..S-1 at each) "
            f"to evaluate; sweep more widths into it: twostep sweep --store {name} --N ...")


def check_report_folder(out: str, *, force: bool, stores: tuple[str, ...]) -> None:
    """:func:`twostep.compare.output.report.check_output_dir` of ``--out``, with a name too long for
    the file system, or any other OSError of the look at it, refused in one line."""
    from ..output.report import check_output_dir

    check_path_name(out, f"output {out}")
    with path_errors(f"output {out}"):
        check_output_dir(out, force=force, stores=stores)


def run(args: argparse.Namespace) -> int:
    from ..execution.store import Store, check_store_path
    from ..output.report import print_verdicts, write_report
    from ..plans.verify import evaluate, inferred_plan, spectrum_measurement, stored_plan

    check_store_path(args.store, readonly=True)  # missing, empty, not a store: one line
    check_report_folder(args.out, force=args.force, stores=(args.store,))
    from ..output.plot_report import figure_options
    from ..plans import core_plan

    figures = figure_options(args)  # format and style file checked before the store is read

    with Store(args.store, readonly=True) as store:
        core = core_plan.stored_as_core(store)
        plan = (core_plan.stored_plan(store) if core else stored_plan(store)) \
            or inferred_plan(store)
        if not plan or not store.versions().get(store.version):
            raise ConfigError(nothing_to_report(store, args.store))
        verdicts, results = (core_plan.evaluate if core else evaluate)(plan, store)
        spectrum = spectrum_measurement(store)
    if args.format != "html":
        print_verdicts(verdicts, args.format)
    with disk_full(f"report {args.out}", REPORT_KEPT):
        out = write_report(args.out, verdicts, plan=plan, results=results, spectrum=spectrum,
                           figures=not args.no_plots,
                           figure_options=figures, force=args.force, stores=(args.store,))
    if args.format == "html":  # one document on standard output, as with json
        sys.stdout.write((out / "report.html").read_text(encoding="utf-8"))
        sys.stdout.flush()
    print(f"twostep report: {len(verdicts)} verdict(s); report in {out}/report.md and "
          f"{out}/report.html", file=sys.stderr)
    return 0
