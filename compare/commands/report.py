"""``twostep report STORE --out DIR``: rebuild every table and figure from a store.

Nothing is simulated.  The plan is the one the last ``twostep verify`` recorded in the store;
for a store filled by ``twostep sweep`` (no recorded plan) the claims that apply to its data
are inferred: ``growth-exponent``, ``outlier-count`` and ``left-vectors`` for every config with
at least two widths, ``reuse-gap`` where both batch modes were run, ``bbp`` for alpha1 = 0.
"""

from __future__ import annotations

import argparse
import sys

from twostep.theory.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", help="a twostep result store (read only)")
    parser.add_argument("--out", required=True, metavar="DIR", help="report folder (replaced)")
    parser.add_argument("--format", default="markdown",
                        choices=("markdown", "csv", "latex", "json"),
                        help="format of the tables printed on the terminal (default: %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")


def inferred_plan(store):
    """Claims that apply to a store without a recorded plan, with the cells' own options."""
    import json
    from collections import defaultdict

    from ..verify import Check

    Ns: dict[tuple[str, str], set[int]] = defaultdict(set)
    seeds: dict[tuple[str, str], set[int]] = defaultdict(set)
    configs = {}
    for cell, _ in store.results():
        group = (cell.config.key(), json.dumps(cell.options, sort_keys=True))
        configs[group] = cell.config
        Ns[group].add(cell.N)
        seeds[group].add(cell.seed)
    plan = []
    for group, cfg in configs.items():
        n_seeds = len(seeds[group])
        # a claim reads seeds 0..S-1 at every N: skip groups with holes
        if len(Ns[group]) < 2 or max(seeds[group]) != n_seeds - 1:
            continue
        ns, opts = tuple(sorted(Ns[group])), json.loads(group[1])
        if cfg.alpha1 == 0:
            plan.append(Check("bbp", cfg, ns, n_seeds, opts))
        plan.append(Check("growth-exponent", cfg, ns, n_seeds, opts))
        plan.append(Check("outlier-count", cfg, ns, n_seeds, opts))
        plan.append(Check("left-vectors", cfg, ns, n_seeds, opts))
        other = (cfg.replace(batch="independent").key(), group[1])
        if cfg.batch == "reuse" and other in configs and Ns[other] >= Ns[group]:
            plan.append(Check("reuse-gap", cfg, ns, n_seeds, opts))
    return tuple(plan)


def run(args: argparse.Namespace) -> int:
    from ..report import check_output_dir, render_verdicts, write_report
    from ..store import Store, check_store_path
    from ..verify import evaluate, spectrum_measurement, stored_plan

    if not check_store_path(args.store, readonly=True):
        raise ConfigError(f"store {args.store} does not exist")
    check_output_dir(args.out)
    with Store(args.store, readonly=True) as store:
        plan = stored_plan(store) or inferred_plan(store)
        if not plan:
            raise ConfigError(f"store {args.store} holds no config with two or more widths to "
                              "evaluate")
        verdicts, results = evaluate(plan, store)
        spectrum = spectrum_measurement(store)
    print(render_verdicts(verdicts, args.format))
    out = write_report(args.out, verdicts, plan=plan, results=results, spectrum=spectrum,
                       figures=not args.no_plots)
    print(f"twostep report: {len(verdicts)} verdict(s); report in {out}/report.md",
          file=sys.stderr)
    return 0
