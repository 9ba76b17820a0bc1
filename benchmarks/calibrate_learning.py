"""Calibration of ``reuse-learning`` at the design that decides it (docs/results.md, "The
reuse-learning planes"): resample half the seeds per width of the He_3 plane's base sweep (48
per width at N = 500..4000, both batch modes), rescale them to three grid points and evaluate
the true claim and the planted false ones.

    python benchmarks/calibrate_learning.py DATA_DIR [--resamples 200] [--per-N 24]

``DATA_DIR`` holds ``phase-learning-He3.sqlite`` (``python -m twostep.compare.plans.phase OUT
DATA_DIR He3`` builds it; about 15 minutes on 2 cores).  Prints a Markdown table: per point, mode
and claim, the fractions called consistent / inconclusive / inconsistent with the 95%
Clopper-Pearson interval of the inconsistent fraction.  As in benchmarks/calibrate.py, a planted
claim's mode counts only where the plant changed its prediction, and draws of 24 from 48
overlap, so the intervals understate the uncertainty.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from twostep.compare.plans.core import base_sweep, core_options, default_base
from twostep.compare.plans.phase import (
    LEARNING_NS,
    LEARNING_OPTIONS,
    LEARNING_SEEDS,
    REUSE_BASE,
    grid,
)
from twostep.compare.science.claims import Results, ReuseLearning, decide_all
from twostep.compare.science.rescale import plane_results

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import Tally, _pct, binomial_ci  # noqa: E402

POINTS = {"above (0.4, 0.45), e_2 = 0.25": (0.4, 0.45),
          "near (0.3, 0.45), e_2 = 0.05": (0.3, 0.45),
          "below (0.1, 0.2), e_2 = -0.6": (0.1, 0.2)}
CLAIMS = {"true": None,
          "reuse learns everywhere": {"reuse": True, "independent": False},
          "independent learns": {"reuse": True, "independent": True},
          "reuse never learns": {"reuse": False, "independent": False}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="calibrate_learning.py", description=__doc__.split("\n")[0])
    p.add_argument("data", help="folder holding phase-learning-He3.sqlite")
    p.add_argument("--resamples", type=int, default=200)
    p.add_argument("--per-N", type=int, default=24, help="seeds per width drawn (default 24)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    store = Path(args.data) / "phase-learning-He3.sqlite"
    if not store.is_file():
        p.error(f"no store {store}: build it with python -m twostep.compare.plans.phase OUT "
                f"{args.data} He3")
    base0 = REUSE_BASE.replace(target="He3")
    plane = [base0.replace(alpha1=a, alpha2=b) for a, b in grid(20, 0.01)]
    base = default_base(plane)
    claim = ReuseLearning()
    opts = core_options(claim, base, plane, LEARNING_OPTIONS)
    pool = base_sweep(claim, base, LEARNING_NS["He3"], LEARNING_SEEDS["He3"], opts, store)
    bases = claim.configs(base)
    rng = np.random.default_rng(args.seed)
    tallies: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    for _ in range(args.resamples):
        draw = Results()
        for N in pool.Ns(bases[0]):
            seeds = pool.seeds(bases[0], N)
            if len(seeds) < args.per_N:
                p.error(f"{len(seeds)} pooled seeds at N = {N}; the design draws {args.per_N}")
            pick = set(int(s) for s in rng.choice(seeds, size=args.per_N, replace=False))
            for b in bases:
                for s, m in zip(pool.seeds(b, N), pool.get(b, N)):
                    if s in pick:
                        draw.add(b, N, s, m)
        for label, (a1, a2) in POINTS.items():
            cfg = base0.replace(alpha1=a1, alpha2=a2)
            res = plane_results(draw, bases, claim.configs(cfg))
            truth = {}
            for name, claimed in CLAIMS.items():
                for v in decide_all(ReuseLearning(claimed=claimed).findings(cfg, res)):
                    mode = v.config.batch
                    if name == "true":
                        truth[mode] = v.predicted
                    elif v.predicted == truth[mode]:
                        continue          # the plant did not change this mode's claim
                    tallies[(label, mode, name)].add(v.status)
    print(f"reuse-learning, He_3, {args.per_N} seeds per width drawn from "
          f"{dict(LEARNING_SEEDS['He3'])} at N = {LEARNING_NS['He3']}, {args.resamples} "
          f"resamples (seed {args.seed})\n")
    print("| point | mode | claim | consistent | inconclusive | inconsistent | inconsistent "
          "95% CI |")
    print("|---|---|---|---|---|---|---|")
    for (label, mode, name), t in tallies.items():
        lo, hi = binomial_ci(t.counts["inconsistent"], t.n)
        print(f"| {label} | {mode} | {name} | {_pct(t.rate('consistent'))} | "
              f"{_pct(t.undecided())} | {_pct(t.rate('inconsistent'))} | "
              f"[{_pct(lo)}, {_pct(hi)}] |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
