"""Power where it is cheap: a pilot sets the seeds, a fresh run decides (docs/claims.md, power).

For every check whose claim decides exponents by the coherent rule (``term-exponent``,
``outlier-count``; :mod:`twostep.compare.claims.coherent`):

1. **Pilot.** The check runs with :data:`PILOT_SEEDS` seeds per N drawn from a separate seed
   range (``first_seed =`` :data:`PILOT_FIRST_SEED`).  From it: each decisive exponent's fit,
   its statistical and systematic errors, and the wall time of one cell per N.
2. **Seeds.** The seeds per N that bring each undecided interval under its margin (the sign of
   ``e_k``: ``|e_k|``; an exponent against a prediction: the claim's tolerance), from the
   measured spread (statistical errors shrink as ``1/sqrt(seeds)``, the systematic part does
   not), the largest over the check's terms, capped by what the time budget still allows.
3. **Decision.** A fresh run with seeds ``0 .. S-1``: the pilot's seeds are never among them,
   so the verdict is computed on data independent of the choice of S (the pilot only chooses
   how much data to take; it does not choose which data, and the decision rule is the same as
   for any fixed S).  Cells already in the store are reused.

``twostep verify --budget MIN`` runs this for the checks of its plan.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from . import scaling
from .claims import OutlierCount, TermExponent
from .verify import Check, Run, run_checks

#: Seeds per N of the pilot.
PILOT_SEEDS = 4
#: The pilot's seeds start here: far from the seeds ``0 .. S-1`` that decide.
PILOT_FIRST_SEED = 1_000_000
#: The most seeds per N the pilot may ask for.
MAX_SEEDS = 512


@dataclass(frozen=True)
class PowerPlan:
    """The seeds chosen for one check and why."""

    check: Check
    seeds: int
    wanted: int | None
    pilot_seconds: float
    cell_seconds: dict[int, float]
    note: str

    def describe(self) -> str:
        return f"{self.check.label or self.check.name}: {self.note}"


def powered(check: Check) -> bool:
    """Checks whose decision rule the pilot can size (the coherent rule)."""
    return isinstance(check.claim, (OutlierCount, TermExponent))


def _margins(check: Check) -> dict[int, float]:
    """Per decisive term k the half-width the interval must reach."""
    pred = predict(check.config)
    if isinstance(check.claim, OutlierCount):
        return {k: abs(pred.law(k).exponent) for k in range(1, pred.paper_count + 2)
                if pred.law(k).exponent != 0}
    ks = check.claim._ks(pred)
    # a consistent exponent needs a half-width of half the tolerance (docs/claims.md)
    return dict.fromkeys(ks, float(check.claim.tolerance) / 2)


def plan_seeds(pilot: Check, run: Run, index: int, budget_s: float, floor: int
               ) -> tuple[int, int | None, dict[int, float], str]:
    """Seeds per N for ``pilot``'s check from its pilot run (module docstring)."""
    from .claims.coherent import cell_seconds, coherent_values

    results = run.results[index]
    seconds = cell_seconds(results, pilot.config)
    per_cell = sum(seconds.get(N, 0.0) for N in pilot.Ns)
    wanted: list[int] = []
    undecidable: list[str] = []
    for k, margin in _margins(pilot).items():
        try:
            raw = coherent_values(results, pilot.config, k, pilot.name)
        except ConfigError:  # a term the pilot lacks: the claim itself will say so
            continue
        fit = scaling.fit_scaling(raw)
        need = scaling.seeds_needed(fit, {N: len(v) for N, v in raw.items()}, margin)
        if need is None:
            undecidable.append(f"k={k}")
        else:
            wanted.append(need)
    want = max(wanted) if wanted else None
    affordable = int(budget_s // per_cell) if per_cell > 0 else MAX_SEEDS
    seeds = max(floor, min(want or floor, MAX_SEEDS, affordable))
    note = (f"pilot ({PILOT_SEEDS} seeds per N, {per_cell:.1f} s per seed set) asks for "
            f"{want if want is not None else '-'} seeds per N; running {seeds}")
    if want is not None and seeds < want:
        note += f" (the budget allows {affordable})"
    if undecidable:
        note += (f"; seeds alone cannot decide {', '.join(undecidable)} (systematic error or no "
                 "fit): larger N would")
    return seeds, want, seconds, note


def powered_plan(plan: Sequence[Check], store_path, budget_s: float, *, jobs: int | None = None,
                 executor: str = "process", scheduler: str | None = None, quiet: bool = False
                 ) -> tuple[tuple[Check, ...], list[PowerPlan]]:
    """The plan with each powered check's seeds set by a pilot (run into the same store), within
    ``budget_s`` seconds for pilots and final runs together; other checks unchanged."""
    t0 = time.perf_counter()
    targets = [i for i, c in enumerate(plan) if powered(c)]
    if not targets:
        return tuple(plan), []
    pilots = tuple(replace(plan[i], seeds=PILOT_SEEDS, first_seed=PILOT_FIRST_SEED)
                   for i in targets)
    run = run_checks(pilots, store_path, jobs=jobs, executor=executor, scheduler=scheduler,
                     quiet=quiet)
    pilot_s = time.perf_counter() - t0
    if run.sweep is not None and run.sweep.failed:
        return tuple(plan), []
    out = list(plan)
    notes = []
    left = max(budget_s - pilot_s, 0.0)
    share = left / len(targets)
    for j, i in enumerate(targets):
        chk = plan[i]
        floor = min(chk.seeds_at(N) for N in chk.Ns)
        seeds, want, seconds, note = plan_seeds(pilots[j], run, j, share, floor)
        out[i] = replace(chk, seeds=seeds)
        notes.append(PowerPlan(out[i], seeds, want, pilot_s, seconds, note))
    return tuple(out), notes
