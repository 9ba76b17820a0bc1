"""``twostep verify``: check claims against simulation, print the tables, write the report.

With no arguments it runs :data:`twostep.compare.plans.verify.DEFAULT_PLAN` (the seed's claims at a
scale of a few minutes on 2 cores).  ``--claim C [--config FILE] --N ... --seeds S`` runs one
chosen claim.  Every input is validated, and the output folder checked, before anything is
simulated or written.  Finished cells are kept in the store (``--store``), so a rerun only
evaluates.  Exit status: 0 when every verdict was reached, 1 when cells failed, 3 with
``--strict`` when some verdict is ``inconsistent``.  A ``blocked`` verdict (the regime guard:
the theory does not apply at the widths run) fails nothing, as an ``inconclusive`` one does
not: both are reached verdicts that decide nothing.

Before anything runs it prints the predictions of the configurations the plan checks.  With
``--json`` (or ``--format json``) standard output is one JSON document (the predictions,
the verdicts and the step-size-free exponents: :func:`json_document`) and every other line
goes to standard error.  ``--out`` is written only if it is new, empty or a report folder
twostep wrote (see ``twostep.compare.output.report``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

from ..plans.profiles import PROFILES
from ._budget import budget_minutes
from ._config_args import DistinctWidths, load_config_file
from ._output_args import add_figure_arguments, add_format_arguments
from ._output_args import finite as _finite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="default", choices=PROFILES,
                        help="the built-in plan: default (a few minutes on 2 cores), deep (the "
                             "count configurations' exact terms up to N = 8000, about an hour "
                             "on 2 cores; reuses the default plan's cells in the same store) or "
                             "headline (the count floor(alpha2/(1/2-alpha1)) decided where it is "
                             "1 and where it is 2, both batch modes, uniform second layer; about "
                             "16 minutes on 2 cores) (default: %(default)s)")
    parser.add_argument("--claim", metavar="C",
                        help="run this claim only (default: the built-in plan); one of the "
                             "registered claims, see docs/claims.md")
    parser.add_argument("--config", metavar="FILE.json",
                        help="with --claim: the model config, a JSON object of ModelConfig fields "
                             "(default: ModelConfig())")
    parser.add_argument("--N", nargs="+", type=int, action=DistinctWidths, metavar="N",
                        help="with --claim: widths, each >= 10 (the spectra report 10 singular "
                             "values) (default: 250 500 1000 2000)")
    parser.add_argument("--seeds", type=seeds_argument, default=None, metavar="S|N=S,...",
                        help="seeds per N, 1..10000: one number for every width, or per width "
                             "as N=S pairs naming each width once (e.g. 1000=64,2000=64,"
                             "4000=32); with --profile headline, the seeds per width of both "
                             "modes (default: 4; the built-in plans fix their own)")
    parser.add_argument("--out", default="twostep-report", metavar="DIR",
                        help="report folder: a new or empty folder, or one a twostep report "
                             "wrote before (then replaced); any other folder is refused "
                             "(default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="replace a twostep report folder even if files twostep wrote in it "
                             "were edited since; a file twostep did not write is never deleted, "
                             "nor any other folder")
    parser.add_argument("--store", default="twostep-verify.sqlite", metavar="FILE",
                        help="result store; finished cells are reused (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    parser.add_argument("--executor", default="process", choices=("process", "dask", "inline"),
                        help="where cells run (default: %(default)s)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    add_format_arguments(parser)
    add_figure_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--budget", metavar="MIN",
                        help="decide as much as fits in MIN minutes (10m and 600s also work): a "
                             "pilot run measures the spread of each exponent the coherent rule "
                             "decides (term-exponent, outlier-count) and sets the seeds per N, "
                             "then a fresh run with other seeds decides (docs/claims.md, power); "
                             "--seeds is the least per N (default: no pilot)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when some verdict is inconsistent (inconclusive and blocked "
                             "verdicts, which decide nothing, never fail a run)")


#: Seeds per N when ``--seeds`` is not given.
DEFAULT_SEEDS = 4


def seeds_argument(text: str) -> int | dict[int, int]:
    """``--seeds``: ``S`` (every width) or ``N=S,N=S,...`` (per width); malformed text is a
    one-line error naming the two forms."""
    forms = "give one number (e.g. 16) or N=S pairs (e.g. 1000=64,2000=64,4000=32)"
    text = text.strip()
    if "=" not in text:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a seed count: {forms}") from None
    out: dict[int, int] = {}
    for part in text.split(","):
        N, _, S = part.strip().partition("=")
        try:
            width, count = int(N), int(S)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not N=S: {forms}") from None
        if width in out:
            raise argparse.ArgumentTypeError(f"width {width} is given twice in --seeds")
        out[width] = count
    return out


def _core_anchors(args: argparse.Namespace) -> tuple[ModelConfig, ...] | None:
    """The core view's anchors when the plan runs through it (``--profile headline``:
    compare/plans/headline.py), else None (the plan's cells run directly)."""
    if args.claim is None and args.profile == "headline":
        from ..plans.headline import ANCHORS

        return ANCHORS
    return None


def _seeds_for(args: argparse.Namespace, Ns) -> int | dict[int, int]:
    """The seeds of a --claim check: per width only for exactly the widths of --N."""
    seeds = DEFAULT_SEEDS if args.seeds is None else args.seeds
    if isinstance(seeds, dict) and set(seeds) != set(Ns):
        raise ConfigError(f"--seeds per width must name exactly the widths of --N "
                          f"{sorted(Ns)}; got {sorted(seeds)}")
    return seeds


def build_plan(args: argparse.Namespace):
    from ..plans.verify import DEEP_PLAN, DEFAULT_PLAN, Check
    from ..science.claims import get_claim

    if args.claim is None:
        if args.config or args.N:
            raise ConfigError("--config and --N go with --claim (the default plan fixes its own)")
        if args.profile == "headline":
            from ..plans.headline import headline_plan, seeds_override

            return headline_plan(seeds_override(args.seeds)), True
        if args.seeds is not None:
            raise ConfigError("--seeds goes with --claim or --profile headline (the default "
                              "and deep plans fix their own)")
        return (DEEP_PLAN if args.profile == "deep" else DEFAULT_PLAN), True
    if args.profile != "default":
        raise ConfigError("--profile goes without --claim (it names a built-in plan)")
    claim = get_claim(args.claim)  # an unknown name is refused before the config file is read
    config = load_config_file(args.config) if args.config else ModelConfig()
    Ns = args.N if args.N is not None else [250, 500, 1000, 2000]
    if not Ns:
        raise ConfigError("--N needs at least one width")
    return (Check(claim, config, tuple(Ns), _seeds_for(args, Ns)),), False


def _config_text(cfg: ModelConfig) -> str:
    from ..output.report import config_label

    default = ModelConfig()
    extra = [f"{name}={getattr(cfg, name):g}" for name in
             ("psi_d", "psi_n", "etabar1", "etabar2", "noise")
             if getattr(cfg, name) != getattr(default, name)]
    return config_label(cfg) + (", " + ", ".join(extra) if extra else "")


def planned_predictions(plan) -> list[tuple[list[str], ModelConfig, Any]]:
    """``(check names, config, Prediction)`` of every configuration the plan's checks use,
    once each, in the order of the plan."""
    from twostep.theory.predict import predict

    used: dict[str, tuple[ModelConfig, list[str]]] = {}
    for chk in plan:
        for cfg in chk.claim.configs(chk.config):
            _, claims = used.setdefault(cfg.key(), (cfg, []))
            if chk.name not in claims:
                claims.append(chk.name)
    return [(claims, cfg, predict(cfg)) for cfg, claims in used.values()]


def predictions_preamble(plan, predicted: list[tuple[list[str], ModelConfig, Any]] | None = None
                         ) -> str:
    """A short block of predictions per configuration the plan's checks use (deduplicated;
    ``predicted``: their :func:`planned_predictions`, computed when not given)."""
    predicted = planned_predictions(plan) if predicted is None else predicted
    lines = ["predictions for the configurations the checks use (full tables: twostep theory):"]
    for claims, cfg, pred in predicted:
        terms = "; ".join(f"k={t.k} (a^{t.left_power}) N^{t.exponent_exact}"
                          for t in pred.laws if t.present) or "none"
        count = "undefined" if pred.aware_count is None else pred.aware_count
        learned = {True: "yes", False: "no", None: "undecided"}[pred.beta.learned]
        lines += [f"- {', '.join(claims)}: {_config_text(cfg)}",
                  f"  outliers of W_2: {count} (paper count {pred.paper_count}); terms present: "
                  f"{terms}; beta_* learned: {learned}"]
        if pred.bbp is not None:
            b = pred.bbp
            lines.append(f"  BBP: theta = {b.theta:.4g} vs threshold {b.threshold:.4g}: "
                         + (f"outlier at {b.location:.4g} (bulk edge {b.bulk_edge:.4g})"
                            if b.exists else "no outlier"))
    return "\n".join(lines)


def _step_free(plan, results) -> list[tuple[Any, list[dict[str, Any]]]]:
    """``(check, gamma_data rows)`` of every setup the plan measured with exact terms, once
    per (step-size-free part, widths, seeds): the exact terms ``D_k`` of one seed and width do
    not depend on the step sizes (docs/theory.md), so checks that differ only in them measure
    the same gamma_k (the first whose regime guard lets it be measured is shown)."""
    from ..science.claims.coherent import gamma_data
    from ..science.rescale import step_free_key

    found, seen = [], set()
    for chk, res in zip(plan, results):
        key = (step_free_key(chk.config), tuple(chk.Ns),
               tuple(chk.seeds_at(N) for N in chk.Ns), chk.first_seed)
        if key in seen:
            continue
        rows = gamma_data(chk.config, res)
        if rows:
            seen.add(key)
            found.append((chk, rows))
    return found


def step_free_block(plan, results) -> str:
    """The step-size-free exponents gamma_k (docs/claims.md) of every setup the plan measured
    with exact terms, once per (activation, target, batch, psi, noise) and step sizes."""
    from ..science.claims.coherent import gamma_lines

    lines = []
    for chk, rows in _step_free(plan, results):
        lines += gamma_lines(chk.config, None, f"- {_config_text(chk.config)} (from "
                                               f"{chk.name}):", rows=rows)
    if not lines:
        return ""
    return "\n".join(["step-size-free exponents gamma_k = e_k - alpha2 - k alpha1 of the exact "
                      "terms' coherent strengths (predicted -k/2; one per setup decides the "
                      "sign of e_k at every (alpha1, alpha2)):", *lines])


def step_free_data(plan, results) -> list[dict[str, Any]]:
    """What :func:`step_free_block` prints, as data: per setup the ``check`` it came from, its
    ``config`` (a dict) and ``gammas``
    (:func:`~twostep.compare.science.claims.coherent.gamma_data`)."""
    return [{"check": chk.name, "config": chk.config.to_dict(), "gammas": rows}
            for chk, rows in _step_free(plan, results)]


def json_document(verdicts, predicted, plan, results) -> str:
    """Standard output of ``--format json``: everything the text shows, as one JSON object:
    ``predictions`` (per configuration the checks use: ``checks`` and ``prediction``, a
    ``Prediction.to_dict()``), ``verdicts`` (``Verdict.to_dict()`` each, as verdicts.json)
    and ``step_free_exponents`` (:func:`step_free_data`)."""
    data = {"predictions": [{"checks": claims, "prediction": pred.to_dict()}
                            for claims, _, pred in predicted],
            "verdicts": [v.to_dict() for v in verdicts],
            "step_free_exponents": step_free_data(plan, results)}
    return json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"


def _check_run_args(args: argparse.Namespace) -> None:
    """Refuse bad ``--seeds``, ``--budget``, ``--jobs``, executor or scheduler with one line."""
    from twostep.compare.execution.executors import check_jobs as _check_jobs
    from twostep.compare.execution.executors import require_dask
    from twostep.compare.execution.grid import check_seed_count

    for count in (args.seeds.values() if isinstance(args.seeds, dict)
                  else [DEFAULT_SEEDS if args.seeds is None else args.seeds]):
        check_seed_count(count, "--seeds")
    args.budget = budget_minutes(args.budget)
    if args.jobs is not None:
        _check_jobs(args.jobs)
    if args.executor == "dask":
        require_dask()
    if args.executor != "dask" and args.scheduler:
        raise ConfigError("--scheduler goes with --executor dask")


def _checked_plan(args: argparse.Namespace) -> tuple[list[Any], list[Any], list[Any]]:
    """The plan, the extra cells (the spectrum cell of the default plan's figure) and the
    plan's cells, every input, width, the output folder and the store checked before anything
    is created."""
    from ..execution.store import Cell, check_store_path
    from ..output.plot_report import figure_options
    from ..plans.verify import SPECTRUM_CELL, check_plan
    from .report import check_report_folder

    plan, default = build_plan(args)
    extra = []
    anchors = _core_anchors(args)
    if default and anchors is None and not args.no_plots:
        extra.append(Cell(SPECTRUM_CELL["config"], SPECTRUM_CELL["N"], SPECTRUM_CELL["seed"],
                          SPECTRUM_CELL["options"]))
    if anchors is not None:  # one base sweep per setup (compare/plans/core_plan.py)
        from ..plans.core_plan import plan_cells as core_cells

        cells = check_plan(plan, extra, here=args.scheduler is None,
                           cells=lambda p: core_cells(p, anchors))
    else:
        # every input and width checked before anything is created, by the checks check()
        # runs (memory: where the cells run)
        cells = check_plan(plan, extra, here=args.scheduler is None)
    check_report_folder(args.out, force=args.force, stores=(args.store,))
    figure_options(args)  # the figure format and style file, before any cell runs
    check_store_path(args.store)
    return plan, extra, cells


def _run_plan(args: argparse.Namespace, plan: list[Any], extra: list[Any], store: Any
              ) -> tuple[list[Any], Any]:
    """Run the plan's checks into the store (a :class:`SharedStore`: the pilot, the sweep and
    the evaluation share its one Store; with ``--budget``, on the plan powered to fit it);
    return the plan run and the checks' result."""
    from functools import partial

    from ..execution.paths import disk_full
    from ..plans.verify import run_checks
    from .sweep import STORE_KEPT

    anchors = _core_anchors(args)
    if anchors is not None:
        from ..plans.core_plan import run_core_plan

        runner = partial(run_core_plan, anchors=anchors)
    else:
        runner = partial(run_checks, extra_cells=extra)
    with disk_full(f"store {args.store}", STORE_KEPT):
        if args.budget is not None:
            from ..plans.power import powered_plan

            plan, powers = powered_plan(plan, store, args.budget * 60, jobs=args.jobs,
                                        executor=args.executor, scheduler=args.scheduler,
                                        quiet=args.quiet, core=anchors is not None,
                                        anchors=anchors or ())
            for p in powers:
                print(f"twostep verify: power: {p.describe()}", file=sys.stderr, flush=True)
        result = runner(plan, store, jobs=args.jobs, executor=args.executor,
                        scheduler=args.scheduler, quiet=args.quiet)
    return plan, result


def _report_failed_cells(result: Any) -> bool:
    """Print the cells that failed, with the last line of each error; whether any did."""
    if result.sweep is None or not result.sweep.failed:
        return False
    print(f"twostep verify: {len(result.sweep.failed)} cell(s) failed:", file=sys.stderr)
    for cell, err in result.sweep.failed:
        first = err.strip().splitlines()[-1] if err else ""
        print(f"  {cell.describe()}: {first}", file=sys.stderr)
    return True


def _write_outputs(args: argparse.Namespace, plan: list[Any], result: Any, *, extra: list[Any],
                   predicted: list[Any], preamble: str, text_out: Any, store: Any
                   ) -> tuple[list[Any], Path]:
    """Print the verdicts and the step-size-free exponents (with ``--format json``: one JSON
    document of them and the predictions, :func:`json_document`) and write the report; return
    the verdicts and the report folder."""
    from ..execution.paths import disk_full
    from ..output.plot_report import figure_options
    from ..output.report import print_verdicts, write_report
    from ..plans.verify import spectrum_measurement
    from .report import REPORT_KEPT

    spectrum = spectrum_measurement(store.get()) if extra else None
    verdicts = result.verdicts
    if args.format == "json":
        sys.stdout.write(json_document(verdicts, predicted, plan, result.results))
        sys.stdout.flush()
    else:
        print_verdicts(verdicts, args.format)
    gammas = step_free_block(plan, result.results)
    if gammas:
        print("\n" + gammas, file=text_out, flush=True)
    with disk_full(f"report {args.out}", REPORT_KEPT):
        out = write_report(args.out, verdicts, plan=plan, results=result.results,
                           spectrum=spectrum, preamble=preamble, figures=not args.no_plots,
                           figure_options=figure_options(args),
                           force=args.force, stores=(args.store,))
    return verdicts, out


def run(args: argparse.Namespace) -> int:
    """``twostep verify``: check everything, print the predictions, run the plan, print the
    verdicts, write the report; the exit status of the module docstring."""
    _check_run_args(args)
    plan, extra, cells = _checked_plan(args)

    # with --format json stdout carries the verdicts only
    text_out = sys.stderr if args.format == "json" else sys.stdout
    t0 = time.perf_counter()
    predicted = planned_predictions(plan)
    preamble = predictions_preamble(plan, predicted)
    print(preamble + "\n", file=text_out, flush=True)
    print(f"twostep verify: {len(plan)} check(s), {len(cells)} simulation cell(s); store "
          f"{args.store}", file=sys.stderr, flush=True)
    from ..execution.store import SharedStore

    with SharedStore(args.store) as store:  # one Store for the sweep, the plan and the report
        plan, result = _run_plan(args, plan, extra, store)
        if _report_failed_cells(result):
            return 1
        verdicts, out = _write_outputs(args, plan, result, extra=extra, predicted=predicted,
                                       preamble=preamble, text_out=text_out, store=store)
    elapsed = time.perf_counter() - t0
    from ..science.claims.codes import Status

    counts = {s.value: sum(v.status == s for v in verdicts) for s in Status}
    print(f"twostep verify: {json.dumps(counts)} in {elapsed:.0f} s; report in {out}/report.md",
          file=sys.stderr)
    if args.strict and counts["inconsistent"]:
        return 3
    return 0
