"""``twostep sweep``: run a grid of simulations into a resumable store.

Every flag is checked, the grid built and every width checked (``top`` singular
values fit, the estimated memory of a cell fits) before the store file is
created: a bad flag, an empty grid, an impossible N or an unusable store path
exits 2 with one line and leaves no file behind.  A store is a plain file path
(SQLite URIs and ``:memory:`` are refused).  Cells already done in the store are skipped; failed
ones are retried.  Exit status 1 when any cell failed (they are listed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from twostep.compare.execution.cell_checks import check_cells
from twostep.compare.execution.executors import EXECUTORS, require_dask
from twostep.compare.execution.grid import MAX_SEEDS, Grid, check_seed_count, geometric_ns
from twostep.compare.execution.worker import error_summary
from twostep.theory.config import BATCH_MODES, ModelConfig
from twostep.theory.errors import ConfigError

from ..execution.paths import disk_full
from ..execution.store import check_store_path
from ..execution.sweep import run_sweep
from ._config_args import DistinctWidths, batch_mode, load_config_file
from ._output_args import add_json_argument
from ._run_args import add_run_arguments, run_options, run_options_from_args

#: What a full disk leaves of a store (every cell is committed in its own transaction).
STORE_KEPT = ("nothing was lost: the store is intact and keeps every cell finished before; "
              "the same command resumes from it")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, metavar="FILE",
                        help="SQLite result store, a plain file path (created if missing; must "
                             "be a twostep store if it exists)")
    g = parser.add_argument_group("grid")
    g.add_argument("--config", metavar="FILE.json",
                   help="base model config: a JSON object of ModelConfig fields")
    g.add_argument("--activation", nargs="+", metavar="A",
                   help="activations to sweep (default: the base config's)")
    g.add_argument("--target", nargs="+", metavar="T",
                   help="targets to sweep (default: the base config's)")
    g.add_argument("--alpha", nargs="+", metavar="A1,A2",
                   help="(alpha1, alpha2) pairs to sweep, e.g. 0.3,0.45 0.4,0.4 "
                        "(default: the base config's)")
    g.add_argument("--batch", nargs="+", metavar="MODE", type=batch_mode,
                   help=f"batch modes to sweep: {', '.join(BATCH_MODES)} (fresh is accepted "
                        "for independent, as in simulate and theory) (default: the base "
                        "config's)")
    widths = g.add_mutually_exclusive_group(required=True)
    widths.add_argument("--N", nargs="+", type=int, action=DistinctWidths, metavar="N",
                        help="widths; min(N, d) must hold the --top singular values "
                             "(N >= 10 with the defaults)")
    widths.add_argument("--N-geometric", metavar="MIN:MAX:COUNT",
                        help="COUNT widths spaced geometrically from MIN to MAX, "
                             "e.g. 500:4000:4 -> 500 1000 2000 4000")
    g.add_argument("--seeds", type=int, default=1, metavar="S",
                   help=f"seeds 0..S-1 per cell, 1..{MAX_SEEDS} (default: %(default)s)")
    r = parser.add_argument_group("run options (passed to simulate.run)")
    add_run_arguments(r)
    e = parser.add_argument_group("execution")
    e.add_argument("--jobs", type=int, metavar="J",
                   help="parallel workers (default: the available cores)")
    e.add_argument("--executor", default="process", choices=EXECUTORS,
                   help="where cells run, one of %(choices)s (default: %(default)s)")
    e.add_argument("--scheduler", metavar="ADDR",
                   help="dask scheduler address (with --executor dask; default: a local cluster)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    o = parser.add_argument_group("output")
    add_json_argument(o, "a summary (cells done, skipped and failed, the store, the elapsed "
                         "seconds, each failed cell with the first line of its error)")


def _base_config(path: str | None) -> ModelConfig:
    return ModelConfig() if path is None else load_config_file(path)


def _geometric(text: str) -> list[int]:
    parts = text.split(":")
    try:
        n_min, n_max, count = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--N-geometric must be MIN:MAX:COUNT (three integers, "
                          f"e.g. 500:4000:4), got {text!r}") from None
    return geometric_ns(n_min, n_max, count)


def build_grid(args: argparse.Namespace) -> Grid:
    """The grid the flags describe (validated: raises ConfigError)."""
    check_seed_count(args.seeds, "--seeds")
    ns = args.N if args.N is not None else _geometric(args.N_geometric)
    run_options(args)  # a bad flag is refused naming the flag (--null-draws, not null_draws)
    options = run_options_from_args(args)
    return Grid(ns=ns, seeds=args.seeds, alphas=args.alpha, batches=args.batch,
                activations=args.activation, targets=args.target,
                base=_base_config(args.config), options=options)


def run(args: argparse.Namespace) -> int:
    grid = build_grid(args)
    cells = grid.cells()
    if args.scheduler is not None and args.executor != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be an integer >= 1, got {args.jobs}")
    if args.executor == "dask":
        require_dask()
    # memory: only where the cells run here (a dask scheduler's workers are elsewhere)
    check_cells(cells, memory=args.scheduler is None, dtype_flag="--dtype")
    check_store_path(args.store)  # before any worker starts; writes nothing

    t0 = time.perf_counter()
    with disk_full(f"store {args.store}", STORE_KEPT):
        result = run_sweep(cells, args.store, executor=args.executor, jobs=args.jobs,
                           scheduler=args.scheduler, quiet=args.quiet)
    if args.json:
        print(json.dumps(summary_data(result, args.store, time.perf_counter() - t0), indent=2))
        sys.stdout.flush()
        return 1 if result.failed else 0
    print(f"twostep sweep: {result.summary()}; store: {args.store}")
    if result.failed:
        print(f"failed cells ({len(result.failed)}; rerun the same command to retry them):")
        for cell, error in result.failed:
            print(f"  {cell.describe()}: {error_summary(error)}")
        sys.stdout.flush()
        return 1
    return 0


def summary_data(result, store: str, elapsed: float) -> dict:
    """What ``--json`` prints: the counts of
    :class:`~twostep.compare.execution.progress.SweepResult`, the store, the elapsed seconds and
    each failed cell (its description, config, N, seed and the first line of its error)."""
    failures = [{"cell": cell.describe(), "config": cell.config.to_dict(), "N": cell.N,
                 "seed": cell.seed, "error": error_summary(error)}
                for cell, error in result.failed]
    cells = (result.done + result.skipped + result.elsewhere + result.taken_over
             + len(result.failed))
    return {"cells": cells, "done": result.done, "skipped": result.skipped,
            "failed": len(result.failed), "elsewhere": result.elsewhere,
            "taken_over": result.taken_over, "store": store, "elapsed_s": round(elapsed, 3),
            "failures": failures}
