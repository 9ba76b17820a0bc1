"""``twostep verify``: check claims against simulation, print the tables, write the report.

With no arguments it runs :data:`twostep.compare.verify.DEFAULT_PLAN` (the seed's claims at a
scale of a few minutes on 2 cores).  ``--claim C [--config FILE] --N ... --seeds S`` runs one
chosen claim.  Every input is validated, and the output folder checked, before anything is
simulated or written.  Finished cells are kept in the store (``--store``), so a rerun only
evaluates.  Exit status: 0 when every verdict was reached, 1 when cells failed, 3 with
``--strict`` when some verdict is ``inconsistent``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

#: run options of the one extra cell whose full spectrum is drawn in the report
SPECTRUM_CELL = {"config": ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3,
                                       alpha2=0.45, batch="reuse"),
                 "N": 2000, "seed": 0, "options": {"spectrum": True}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claim", metavar="C",
                        help="run this claim only (default: the built-in plan); one of the "
                             "registered claims, see docs/claims.md")
    parser.add_argument("--config", metavar="FILE.json",
                        help="with --claim: the model config, a JSON object of ModelConfig fields "
                             "(default: ModelConfig())")
    parser.add_argument("--N", nargs="+", type=int, metavar="N",
                        help="with --claim: widths, each >= 2 (default: 250 500 1000 2000)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per N (default: %(default)s)")
    parser.add_argument("--out", default="twostep-report", metavar="DIR",
                        help="report folder, replaced atomically (default: %(default)s)")
    parser.add_argument("--store", default="twostep-verify.sqlite", metavar="FILE",
                        help="result store; finished cells are reused (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    parser.add_argument("--executor", default="process", choices=("process", "dask", "inline"),
                        help="where cells run (default: %(default)s)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    parser.add_argument("--format", default="markdown",
                        choices=("markdown", "csv", "latex", "json"),
                        help="format of the tables printed on the terminal (default: %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when some verdict is inconsistent")


def load_config_file(path: str) -> ModelConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    return ModelConfig.from_json(text)


def build_plan(args: argparse.Namespace):
    from ..claims import get_claim
    from ..verify import DEFAULT_PLAN, Check

    if args.claim is None:
        if args.config or args.N:
            raise ConfigError("--config and --N go with --claim (the default plan fixes its own)")
        return DEFAULT_PLAN, True
    get_claim(args.claim)
    config = load_config_file(args.config) if args.config else ModelConfig()
    Ns = args.N if args.N is not None else [250, 500, 1000, 2000]
    if not Ns:
        raise ConfigError("--N needs at least one width")
    return (Check(args.claim, config, tuple(Ns), args.seeds),), False


def run(args: argparse.Namespace) -> int:
    from twostep.theory.predict import predict

    from ..report import check_output_dir, render_verdicts, write_report
    from ..store import Cell, Store, check_store_path
    from ..sweep import _check_jobs, require_dask
    from ..verify import plan_cells, run_checks, spectrum_measurement
    from .theory import render

    if args.seeds < 1:
        raise ConfigError(f"--seeds must be an integer >= 1, got {args.seeds}")
    if args.jobs is not None:
        _check_jobs(args.jobs)
    if args.executor == "dask":
        require_dask()
    plan, default = build_plan(args)
    check_output_dir(args.out)
    check_store_path(args.store)
    if args.executor == "process" and args.scheduler:
        raise ConfigError("--scheduler goes with --executor dask")

    t0 = time.perf_counter()
    preamble = ""
    if default:
        preamble = render(predict(ModelConfig()), N=2000)
        print(preamble + "\n", flush=True)
    n_cells = len(plan_cells(plan))
    print(f"twostep verify: {len(plan)} check(s), {n_cells} simulation cell(s); store "
          f"{args.store}", file=sys.stderr, flush=True)
    extra = []
    if default and not args.no_plots:
        extra.append(Cell(SPECTRUM_CELL["config"], SPECTRUM_CELL["N"], SPECTRUM_CELL["seed"],
                          SPECTRUM_CELL["options"]))
    result = run_checks(plan, args.store, jobs=args.jobs, executor=args.executor,
                        scheduler=args.scheduler, quiet=args.quiet, extra_cells=extra)
    if result.sweep is not None and result.sweep.failed:
        print(f"twostep verify: {len(result.sweep.failed)} cell(s) failed:", file=sys.stderr)
        for cell, err in result.sweep.failed:
            first = err.strip().splitlines()[-1] if err else ""
            print(f"  {cell.describe()}: {first}", file=sys.stderr)
        return 1
    spectrum = None
    if extra:
        with Store(args.store, readonly=True) as store:
            spectrum = spectrum_measurement(store)
    verdicts = result.verdicts
    print(render_verdicts(verdicts, args.format))
    out = write_report(args.out, verdicts, plan=plan, results=result.results, spectrum=spectrum,
                       preamble=preamble, figures=not args.no_plots)
    elapsed = time.perf_counter() - t0
    counts = {s: sum(v.status == s for v in verdicts)
              for s in ("consistent", "inconsistent", "inconclusive")}
    print(f"twostep verify: {json.dumps(counts)} in {elapsed:.0f} s; report in {out}/report.md",
          file=sys.stderr)
    if args.strict and counts["inconsistent"]:
        return 3
    return 0
