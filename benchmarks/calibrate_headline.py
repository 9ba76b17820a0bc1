"""Error rates of the headline design (``twostep verify --profile headline``), by resampling seeds
from a pool.

For each batch mode a pool store holds the profile's base cells (compare/plans/core_plan.py: the
base config of compare/plans/headline.py's SETUPS at the widths of its design) for seeds 0..P-1,
more seeds per width than the design uses.  Each resample draws, at each width, the design's number
of seeds from the pool without replacement, evaluates the whole headline plan on them (the
core view's rescaling, one Benjamini-Hochberg family as in the profile) and records every
verdict.  Reported per check:

- the true counts (count 1 at (0.2, 0.45), count 2 at (0.32, 0.45) and (0.3, 0.49)): the type I
  error (``inconsistent``) and the power (``consistent``);
- the planted false counts 1 and 3 at the count-2 points: the refutation rate
  (``inconsistent``) and the false acceptance (``consistent``).

Rates come with 95% Wilson intervals.  Resamples of a pool share seeds, so they are not
independent: with P pool seeds and S design seeds two resamples share about S^2/P of them.  The
intervals below treat the resamples as independent and are therefore too narrow by about
``sqrt(1 + (R - 1) S/P)``-fold at worst; the figure in docs/results.md gives the pool size.

The profile's own store holds seeds ``0 .. S_N - 1``; ``--fill`` adds the seeds beyond them
(``S_N .. factor S_N - 1``) to a store of its own, and both are read as one pool::

    twostep verify --profile headline --store headline.sqlite
    python benchmarks/calibrate_headline.py --fill reuse --factor 1.75 \
        --pool reuse=headline.sqlite,pool-reuse.sqlite
    python benchmarks/calibrate_headline.py --pool reuse=headline.sqlite,pool-reuse.sqlite \
        --pool independent=headline.sqlite,pool-independent.sqlite --resamples 200

``--design 500=48,1000=24,...`` replaces the profile's seeds per width (both modes).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict

import numpy as np
from scipy import stats

from twostep.compare.execution.store import Cell, Store
from twostep.compare.execution.sweep import run_sweep
from twostep.compare.plans import core_plan, headline
from twostep.compare.science.claims import Results, decide_all
from twostep.compare.science.rescale import plane_results
from twostep.simulate.measurement import Measurement


def _design(text: str | None) -> dict[str, dict[int, int]]:
    if text is None:
        return {m: dict(s) for m, s in headline.SEEDS.items()}
    per = {int(a): int(b) for a, b in (p.split("=") for p in text.split(","))}
    return {m: per for m in headline.SETUPS}


def fill(mode: str, path: str, factor: float, design: dict[str, dict[int, int]], jobs: int
         ) -> None:
    """Sweep the mode's base cells (the profile's, anchored as the profile's) for the seeds
    ``S_N .. factor S_N - 1`` beyond the design's ``S_N`` into ``path``: with the profile's own
    store (seeds ``0 .. S_N - 1``) the pool then holds ``factor S_N`` seeds per width."""
    plan = headline.headline_plan(design, modes=(mode,))
    (base,) = core_plan.bases(plan, headline.ANCHORS).values()
    base.seeds = {N: set(range(S, math.ceil(factor * S))) for N, S in design[mode].items()}
    cells = base.cells()
    t0 = time.perf_counter()
    res = run_sweep(cells, path, executor="process", jobs=jobs, quiet=False)
    print(f"{mode}: {len(cells)} cells ({res}) in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)


def _pool(paths: str, plan) -> tuple[object, dict[int, dict[int, Measurement]]]:
    """The base cells of the mode's plan found in the stores ``paths`` (comma-separated), by
    width and seed (a seed found twice is the same draw: kept once)."""
    (base,) = core_plan.bases(plan, headline.ANCHORS).values()
    cfg, opts = base.config(), base.cell_options()
    out: dict[int, dict[int, Measurement]] = defaultdict(dict)
    for path in paths.split(","):
        with Store(path, readonly=True) as st:
            for cell, result in st.results():
                if cell.key() == Cell(cfg, cell.N, cell.seed, opts).key():
                    out[cell.N].setdefault(cell.seed, Measurement.from_dict(result))
    return cfg, out


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.975))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def calibrate(pools: dict[str, str], design: dict[str, dict[int, int]], resamples: int
              ) -> dict:
    modes = tuple(m for m in headline.SETUPS if m in pools)
    plan = headline.headline_plan(design, modes=modes)
    data = {}
    for mode in modes:
        mode_plan = [c for c in plan if c.config.batch == mode]
        cfg, pool = _pool(pools[mode], mode_plan)
        for N, S in design[mode].items():
            if len(pool.get(N, {})) < S:
                raise SystemExit(f"pool {pools[mode]} has {len(pool.get(N, {}))} seeds at N = "
                                 f"{N}; the design needs {S}")
        data[mode] = (cfg, pool)
    tally: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for r in range(resamples):
        rng = np.random.default_rng([20261207, r])
        own = {}
        for mode, (cfg, pool) in data.items():
            res = Results()
            for N, S in design[mode].items():
                picks = rng.choice(sorted(pool[N]), size=S, replace=False)
                for i, s in enumerate(sorted(int(p) for p in picks)):
                    res.add(cfg, N, i, pool[N][s])
            own[mode] = (cfg, res)
        findings = []
        for chk in plan:
            cfg, res = own[chk.config.batch]
            findings.extend(chk.findings(plane_results(res, [cfg], [chk.config])))
        for v in decide_all(findings):
            key = (v.claim, v.subject, json.dumps([v.config.batch, v.config.alpha1,
                                                   v.config.alpha2]))
            tally[key][str(v.status)] += 1
    rows = []
    for (claim, subject, where), counts in sorted(tally.items()):
        n = sum(counts.values())
        row = {"claim": claim, "subject": subject, "point": json.loads(where), "n": n,
               **{s: counts[s] for s in ("consistent", "inconsistent", "inconclusive",
                                          "blocked")}}
        for s in ("consistent", "inconsistent"):
            row[f"{s}_rate"] = counts[s] / n
            row[f"{s}_interval"] = wilson(counts[s], n)
        rows.append(row)
    return {"design": {m: design[m] for m in modes},
            "pool_seeds": {m: {N: len(p) for N, p in data[m][1].items()} for m in modes},
            "resamples": resamples, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", action="append", default=[], metavar="MODE=STORE[,STORE]",
                    help="pool stores of a batch mode (reuse or independent), e.g. the "
                         "profile's store and a --fill store")
    ap.add_argument("--fill", choices=tuple(headline.SETUPS),
                    help="first fill the mode's last pool store with seeds beyond the design")
    ap.add_argument("--factor", type=float, default=2.0,
                    help="with --fill: the pool holds factor x the design's seeds per width")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--design", help="seeds per width N=S,... (default: the profile's)")
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    args = ap.parse_args(argv)
    pools = dict(p.split("=", 1) for p in args.pool)
    design = _design(args.design)
    if args.fill:
        fill(args.fill, pools[args.fill].split(",")[-1], args.factor, design, args.jobs)
    if not pools:
        ap.error("give at least one --pool MODE=STORE")
    out = calibrate(pools, design, args.resamples)
    print(f"design {out['design']}; pool seeds {out['pool_seeds']}; {args.resamples} resamples")
    print(f"{'claim':22} {'subject':40} {'point':28} {'cons':>6} {'incons':>7} {'incl':>6}")
    for r in out["rows"]:
        lo, hi = r["inconsistent_interval"]
        print(f"{r['claim']:22} {r['subject'][:40]:40} {str(r['point']):28} "
              f"{r['consistent_rate']:6.0%} {r['inconsistent_rate']:7.0%} "
              f"{(r['inconclusive'] + r['blocked']) / r['n']:6.0%}  (inconsistent 95% "
              f"[{lo:.0%}, {hi:.0%}]; incl: inconclusive or blocked)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
