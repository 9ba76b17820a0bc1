"""The measured phase diagram: a claim's verdict at every cell of an (alpha1, alpha2) grid from
ONE base sweep (compare/plans/core.py), beside the paper's ``floor(alpha2/(1/2 - alpha1))`` regions.

- :func:`count_plane`: the ``outlier-count`` claim (the activation-aware count, decided from the
  signs of the exponents of the exact terms' coherent strengths, docs/claims.md) on a grid, at
  N = 500..4000 with 12 seeds and K = 3 (:data:`COUNT_NS`, :data:`COUNT_SEEDS`,
  :data:`COUNT_OPTIONS`);
- :func:`learning_planes`: the ``reuse-learning`` claim (an outlier carries beta_* with a reused
  batch above the line ``alpha2 = 2 (1/2 - alpha1)`` for He3, never with independent batches),
  one plane per batch mode, with He2 (never learned this way) as the control, at the widths
  :data:`LEARNING_NS` and seeds per width :data:`LEARNING_SEEDS` of each target.

Every grid cell's verdict is the verdict of a direct run with the core's run options (terms = K,
max_power = M; compare/plans/core.py says when exactly).  Cells are labelled consistent /
inconsistent / inconclusive / guard-blocked (the regime guard left fewer than MIN_WIDTHS widths
spanning MIN_RANGE) / refused (the claim needs more exact terms than computed).

``python -m twostep.compare.plans.phase OUT_DIR [DATA_DIR [count,He3,He2]]`` draws
OUT_DIR/phase-count.png (reused batch), phase-count-uniform.png (the headline profile's reused
setup, from its store: DATA_DIR/phase-count-uniform.sqlite may be that store) and
phase-learning-{He3,He2}-{reuse,independent}.png
(the count plane's base sweep takes about 20 minutes on 2 cores, the learning planes' about 15
and 6); with DATA_DIR the base sweeps are stored there (phase-*.sqlite,
reused by a rerun) and each plane's cells written as phase-*.json; the third argument picks the
planes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twostep.theory.config import ModelConfig
from twostep.theory.counts import paper_count

from ..science.claims import OutlierCount
from .core import TERMS_CAP, CoreVerdicts, classify, core_check, default_base, describe_seeds

#: The count plane's base: tanh(z + 1/2) (every term's coefficient nonzero), He1, reused batch.
#: etabar1 = 0.02 keeps eta1 max|P1_ij| below ~0.4 up to alpha1 = 0.49 at N = 2000, so the
#: series of exact terms converges over the whole plane (at etabar1 = 1 it diverges for
#: alpha1 >= 0.3: docs/theory.md); the count is a statement about exponents, free of etabar1.
COUNT_BASE = ModelConfig(activation="tanh(z + 1/2)", target="He1", batch="reuse", etabar1=0.02)
#: The reuse plane's base: tanh, He3 (reuse exponent 3).  Heavy residuals make max|P1_ij| reach
#: ~8 at small N, hence the smaller etabar1.
REUSE_BASE = ModelConfig(activation="tanh", target="He3", batch="reuse", etabar1=0.003)
#: The learning planes' cell options: exact terms only (K = 3 for the regime guard), no null
#: draws (the claim's yardstick is the random-direction cosine d^{-1/2}).
LEARNING_OPTIONS = {"dtype": "float32", "null_draws": 0}

PLANE_NS = (250, 500, 1000, 2000)
#: The count plane's widths, seeds and cell options (the coherent rule, docs/claims.md): exact
#: terms only, K = 3 (term 3's coherent part is below its per-seed noise at N <= 4000, so
#: points whose count needs term 4 or more cannot be decided here and are refused unevaluated).
COUNT_NS = (500, 1000, 2000, 4000)
COUNT_SEEDS = 12
COUNT_OPTIONS = {"dtype": "float32", "null_draws": 0, "terms": 3}
#: The learning planes' widths: He3 needs N = 4000 to decide the sign of e_2 near its line;
#: the He2 control learns nowhere, which the cosines decide without exponents (N <= 2000).
LEARNING_NS = {"He3": COUNT_NS, "He2": PLANE_NS}
#: ... and their seeds per width, spent where they buy power: the exponents need every width's
#: mean 3 standard errors above zero, and the small widths, whose cells cost a second, are the
#: noisiest per seed (He3, 12 seeds: the beta_* component's mean 2.0 and 2.7 se from zero at
#: N = 500, 1000, against 4.6 and 8.4 at N = 2000, 4000; docs/results.md).  A cosine is
#: decided at the two largest widths: He2's needed 96 seeds there.
LEARNING_SEEDS = {"He3": {500: 48, 1000: 48, 2000: 48, 4000: 48},
                  "He2": {250: 48, 500: 48, 1000: 96, 2000: 96}}


def distance_to_critical(alpha1: float, alpha2: float) -> float:
    """Distance in alpha2 to the nearest critical line ``alpha2 = k (1/2 - alpha1)``."""
    gap = 0.5 - alpha1
    k = round(alpha2 / gap)
    return min(abs(alpha2 - j * gap) for j in (max(k - 1, 0), k, k + 1))


def grid(n: int = 20, margin: float = 0.01) -> list[tuple[float, float]]:
    """Points ``((i + 0.3)/(2n), (j + 0.7)/(2n))`` of an n x n grid of [0, 1/2)^2 (offsets that
    keep the grid off the critical lines' common rational points: with centred cells the last
    column would lie on them), minus those within ``margin`` (in alpha2) of a critical line."""
    a1s, a2s = _axes(n)
    return [(a1, a2) for a1 in a1s for a2 in a2s if distance_to_critical(a1, a2) >= margin]


def _axes(n: int) -> tuple[list[float], list[float]]:
    return ([round((i + 0.3) / (2 * n), 6) for i in range(n)],
            [round((j + 0.7) / (2 * n), 6) for j in range(n)])


@dataclass
class Plane:
    claim: str
    base: ModelConfig
    cells: list[tuple[float, float, str]]           # (alpha1, alpha2, label)
    core: CoreVerdicts | None
    skipped: list[tuple[float, float]] = field(default_factory=list)   # near a critical line
    n: int = 20
    timing: dict[str, float] = field(default_factory=dict)
    Ns: tuple[int, ...] = PLANE_NS
    seeds: int | Mapping[int, int] = 4

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for *_, label in self.cells:
            out[label] = out.get(label, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "base": self.base.to_dict(), "n": self.n,
                "cells": [list(c) for c in self.cells], "skipped": [list(p) for p in self.skipped],
                "counts": self.counts(), "timing": self.timing,
                "options": self.core.options if self.core else None}


def _cell_seconds(core: CoreVerdicts) -> float:
    """The base sweep's stored cell time (a rerun that finds its cells in the store reads them
    in a fraction of a second: the cells' own seconds are what the sweep costs)."""
    res = core.base_results
    if res is None:
        return float("nan")
    return float(sum(float(m.timing.total_s or 0.0) for b in core.bases
                     for N in res.Ns(b) for m in res.get(b, N)))


def _plane(claim: str, base: ModelConfig, subject: str | None, Ns: Sequence[int], seeds: int,
           n: int, margin: float, store: str | os.PathLike[str] | None, jobs: int | None,
           executor: str, quiet: bool, measure: bool = False,
           options: dict[str, Any] | None = None, max_terms: int = TERMS_CAP,
           base_config: ModelConfig | None = None) -> Plane:
    pairs = grid(n, margin)
    a1s, a2s = _axes(n)
    every = [(a, b) for a in a1s for b in a2s]
    skipped = sorted(set(every) - set(pairs))
    feasible = [(a1, a2) for a1, a2 in pairs if paper_count(a1, a2)[0] + 1 <= max_terms
                or claim != "outlier-count"]
    configs = [base.replace(alpha1=a1, alpha2=a2) for a1, a2 in feasible]
    t0 = time.perf_counter()
    obj = OutlierCount(visible=False) if claim == "outlier-count" else claim
    base = default_base(configs) if base_config is None else base_config
    core = core_check(obj, base, configs, Ns, seeds, store=store,
                      executor=executor, jobs=jobs, quiet=quiet, measure=measure,
                      options=options)
    cells = []
    for cfg in configs:
        key = cfg.key()
        cells.append((cfg.alpha1, cfg.alpha2, classify(core.verdicts[key], core.blocked[key],
                                                         key in core.refused, subject)))
    for a1, a2 in pairs:
        if (a1, a2) not in feasible:
            cells.append((a1, a2, "refused"))
    timing = {"total_s": time.perf_counter() - t0, "sweep_s": core.sweep_s,
              "cell_s": _cell_seconds(core),
              "evaluate_s": core.evaluate_s, "configs": len(configs)}
    return Plane(claim, core.base, cells, core, skipped, n, timing, tuple(Ns), seeds)


def count_plane(base: ModelConfig = COUNT_BASE, Ns: Sequence[int] = COUNT_NS,
                seeds: int | Mapping[int, int] = COUNT_SEEDS, *, n: int = 20,
                margin: float = 0.01, store: str | os.PathLike[str] | None = None,
                jobs: int | None = 2, executor: str = "process", quiet: bool = True,
                measure: bool = False, options: dict[str, Any] | None = None,
                base_config: ModelConfig | None = None) -> Plane:
    """The activation-aware count verdict on the grid (cells needing more exact terms than the
    options' ``terms`` are 'refused' without evaluation); ``measure``: series residuals
    measured at every eta1 (:func:`twostep.compare.plans.core.core_check`); ``base_config``: the
    config whose sweep is rescaled (default: the grid's largest step sizes)."""
    opts = dict(COUNT_OPTIONS if options is None else options)
    return _plane("outlier-count", base, "aware-count", Ns, seeds, n, margin, store, jobs,
                  executor, quiet, measure, options=opts,
                  max_terms=int(opts.get("terms", TERMS_CAP)), base_config=base_config)


def headline_count_plane(store: str | os.PathLike[str] | None = None, *, jobs: int | None = 2,
                         quiet: bool = True) -> Plane:
    """The count plane of the headline profile's reused-batch setup (compare/plans/headline.py: the
    uniform second layer, softplus, its seeds per width), from the profile's own base sweep:
    with the profile's store, no cell is simulated again."""
    from .headline import ANCHORS, NS, OPTIONS, SEEDS, SETUPS

    setup = SETUPS["reuse"]
    anchor = next(a for a in ANCHORS if a.batch == setup.batch)
    return count_plane(setup, NS, SEEDS["reuse"], store=store, jobs=jobs, quiet=quiet,
                       options={**OPTIONS, "terms": 4}, base_config=anchor)


def learning_planes(base: ModelConfig = REUSE_BASE, Ns: Sequence[int] = COUNT_NS,
                    seeds: int | Mapping[int, int] = LEARNING_SEEDS["He3"], *, n: int = 20,
                    margin: float = 0.01,
                    store: str | os.PathLike[str] | None = None, jobs: int | None = 2,
                    executor: str = "process", quiet: bool = True,
                    options: dict[str, Any] | None = None) -> dict[str, Plane]:
    """The ``reuse-learning`` verdicts on the grid, one plane per batch mode, from one base sweep
    per mode (the claim reads both): with He3 the reused batch learns beta_* above the line
    ``alpha2 = 2 (1/2 - alpha1)`` (e_2 > 0) and not below it, the independent batch nowhere;
    with He2 neither learns anywhere (the control)."""
    opts = dict(LEARNING_OPTIONS if options is None else options)
    pairs = grid(n, margin)
    a1s, a2s = _axes(n)
    skipped = sorted(set((a, b) for a in a1s for b in a2s) - set(pairs))
    configs = [base.replace(batch="reuse", alpha1=a1, alpha2=a2) for a1, a2 in pairs]
    t0 = time.perf_counter()
    core = core_check("reuse-learning", default_base(configs), configs, Ns, seeds, store=store,
                      executor=executor, jobs=jobs, quiet=quiet, options=opts)
    timing = {"total_s": time.perf_counter() - t0, "sweep_s": core.sweep_s,
              "cell_s": _cell_seconds(core),
              "evaluate_s": core.evaluate_s, "configs": len(configs)}
    out = {}
    for mode in ("reuse", "independent"):
        cells = [(c.alpha1, c.alpha2, classify(core.verdicts[c.key()], core.blocked[c.key()],
                                               c.key() in core.refused, mode))
                 for c in configs]
        out[mode] = Plane("reuse-learning", core.base.replace(batch=mode), cells, core, skipped,
                          n, timing, tuple(Ns), seeds)
    return out


#: The planes ``python -m twostep.compare.plans.phase`` can draw (its third argument).
PLANES = ("count", "count-uniform", "He3", "He2")


def _arguments(argv: Sequence[str]):
    import argparse

    p = argparse.ArgumentParser(prog="python -m twostep.compare.plans.phase",
                                description="Draw the measured phase diagrams (slow: minutes "
                                "to tens of minutes per plane on 2 cores).")
    p.add_argument("out", nargs="?", type=Path, default=Path("docs/figures"),
                   help="folder of the figures (default: docs/figures)")
    p.add_argument("data", nargs="?", type=Path, default=None,
                   help="folder of the base sweeps' stores and the cells' JSON (reused)")
    p.add_argument("planes", nargs="?", default="count,He3,He2",
                   help=f"comma-separated planes among {', '.join(PLANES)} "
                        "(default: count,He3,He2)")
    args = p.parse_args(list(argv))
    unknown = set(args.planes.split(",")) - set(PLANES)
    if unknown:  # argparse's one line and exit code 2, before any folder is made
        p.error(f"unknown plane(s) {', '.join(sorted(unknown))}; allowed: {', '.join(PLANES)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from twostep.compare.output.plot_canvas import save

    from ..output.plots import measured_phase_figure

    args = _arguments(sys.argv[1:] if argv is None else argv)
    out, data, only = args.out, args.data, set(args.planes.split(","))
    out.mkdir(parents=True, exist_ok=True)

    def store(name: str) -> Path | None:
        return None if data is None else data / f"phase-{name}.sqlite"

    planes: list[tuple[str, str, Plane]] = []
    if "count" in only:
        planes.append(("count", "outlier-count (activation-aware count)",
                       count_plane(store=store("count"))))
    if "count-uniform" in only:   # the headline profile's store: phase-count-uniform.sqlite
        planes.append(("count-uniform", "outlier-count (activation-aware count, uniform "
                       "second layer)", headline_count_plane(store=store("count-uniform"))))
    for target in ("He3", "He2"):
        if target not in only:
            continue
        made = learning_planes(REUSE_BASE.replace(target=target), LEARNING_NS[target],
                               LEARNING_SEEDS[target], store=store(f"learning-{target}"))
        for mode, plane in made.items():
            planes.append((f"learning-{target}-{mode}", f"reuse-learning ({target}, {mode} batch)",
                           plane))
    for name, label, plane in planes:
        fig = measured_phase_figure(plane.cells, caption=True, title=(
            f"{label}: measured verdicts, {plane.base.activation} / {plane.base.target}, "
            f"etabar1 = {plane.base.etabar1:g}"), n=plane.n,
            note=f"N = {', '.join(map(str, plane.Ns))}, {describe_seeds(plane.seeds)}; one "
                 f"base sweep "
                 f"({plane.timing['cell_s']:.0f} s of cell time) + "
                 f"{plane.timing['configs']} rescaled "
                 f"evaluations ({plane.timing['evaluate_s']:.0f} s)")
        save(fig, out / f"phase-{name}.png")
        if data is not None:
            (data / f"phase-{name}.json").write_text(json.dumps(plane.to_dict(), indent=1))
        print(name, plane.counts(), plane.timing, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
