"""Power where it is cheap: a pilot sets the seeds, a fresh run decides (docs/claims.md, power).

For every check whose claim decides exponents by the coherent rule (``term-exponent``,
``outlier-count``; :mod:`twostep.compare.science.claims.coherent`):

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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from scipy import stats

from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from ..science import scaling
from ..science.claims import OutlierCount, TermExponent
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
    seeds: dict[int, int]
    wanted: dict[int, int] | None
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


#: Largest standard error of one width's log point in a planned design: every width stays a
#: usable point of the fit (its seed mean several standard errors above zero), not only the
#: two ends that a slope alone would favour.
POINT_SE = 0.1
#: The largest widths' fit may have this many times the target variance.
NARROWER_VAR = 2.0


def _allocate(terms: list[tuple[dict[int, float], float]], cost: dict[int, float], floor: int,
              widths: Sequence[int]) -> dict[int, float] | None:
    """Seeds per width (continuous) of least total cost ``sum_N cost_N s_N`` such that, for each
    term's per-seed variances ``v_N`` of its log point and target variance ``V``:

    - the power-law fit's slope variance ``1 / sum_N (s_N / v_N) (x_N - xbar)^2`` (``x = log N``,
      ``xbar`` weighted alike) is at most ``V`` on every width, and at most
      :data:`NARROWER_VAR` ``V`` on the widths without the smallest (the largest widths' fit,
      whose sign a verdict also reads);
    - each width's point has a standard error ``sqrt(v_N / s_N)`` of at most :data:`POINT_SE`.

    None when no allocation within [floor, MAX_SEEDS] meets it."""
    import numpy as np
    from scipy import optimize

    Ns = list(widths)
    x = np.log(np.asarray(Ns, dtype=float))
    c = np.asarray([max(cost.get(N, 1.0), 1e-6) for N in Ns])
    low = np.asarray([max(floor, *(v[N] / POINT_SE**2 for v, _ in terms)) for N in Ns])
    if np.any(low > MAX_SEEDS):
        return None

    def slope_var(s: np.ndarray, v: dict[int, float], first: int) -> float:
        w = s[first:] / np.asarray([v[N] for N in Ns[first:]])
        xs = x[first:]
        xbar = float(w @ xs / w.sum())
        return 1.0 / float(w @ (xs - xbar) ** 2)

    # the largest widths' fit needs only the same sign as the full one (docs/claims.md): twice
    # the variance leaves it on the right side about 92% of the time at the margin
    windows = [(0, 1.0), (1, NARROWER_VAR)] if len(Ns) >= 4 else [(0, 1.0)]
    cons = [{"type": "ineq",
             "fun": (lambda s, v=v, V=V * r, f=f: 1.0 - slope_var(s, v, f) / V)}
            for v, V in terms for f, r in windows]
    start = np.full(len(Ns), float(MAX_SEEDS))
    if any(con["fun"](start) < 0 for con in cons):
        return None
    res = optimize.minimize(lambda s: float(c @ s) / float(c.sum()), np.maximum(low, start / 4),
                            method="SLSQP", bounds=list(zip(low, [MAX_SEEDS] * len(Ns))),
                            constraints=cons, options={"maxiter": 300, "ftol": 1e-10})
    ok = res.success and all(con["fun"](res.x) >= -1e-6 for con in cons)
    return dict(zip(Ns, (float(v) for v in (res.x if ok else start))))


def plan_seeds(pilot: Check, run: Run, index: int, budget_s: float, floor: int
               ) -> tuple[dict[int, int], dict[int, int] | None, dict[int, float], str]:
    """Seeds per N for ``pilot``'s check from its pilot run (module docstring): the cheapest
    seeds per width whose fit reaches every decisive term's margin (:func:`_allocate`, from the
    per-seed spread of each width's point and the cost of its cells), capped by the budget."""
    from ..science.claims.coherent import cell_seconds, coherent_values

    results = run.results[index]
    seconds = cell_seconds(results, pilot.config)
    Ns = list(pilot.Ns)
    z = float(stats.norm.ppf(0.975))
    terms: list[tuple[dict[int, float], float]] = []
    uniform: list[int] = []   # terms whose pilot lacks a usable point somewhere: one count
    undecidable: list[str] = []
    for k, margin in _margins(pilot).items():
        try:
            raw = coherent_values(results, pilot.config, k, pilot.name)
        except ConfigError:  # a term the pilot lacks: the claim itself will say so
            continue
        fit = scaling.fit_scaling(raw)
        room = (margin / z) ** 2 - fit.syst**2
        if fit.chosen is None or room <= 0:
            undecidable.append(f"k={k}")
        elif {N for N, _ in fit.points} != set(Ns):
            need = scaling.seeds_needed(fit, {N: len(v) for N, v in raw.items()}, margin)
            uniform.append(need if need is not None else MAX_SEEDS)
        else:
            # per-seed variance of each width's log point; 1.2: the safety factor of
            # scaling.seeds_needed (a pilot's spread is itself uncertain)
            var = {N: fit.point(N)[1] ** 2 * len(raw[N]) for N in Ns}
            terms.append((var, room / 1.2))
    least = max([floor, *uniform])
    want: dict[int, int] | None = None
    if terms:
        alloc = _allocate(terms, seconds, least, Ns)
        want = (None if alloc is None else
                {N: max(least, math.ceil(v - 1e-9)) for N, v in alloc.items()})
    elif uniform:
        want = dict.fromkeys(Ns, least)
    chosen = dict(want) if want is not None else dict.fromkeys(Ns, min(MAX_SEEDS, least))
    cost = plan_cost(chosen, seconds)
    if cost > budget_s > 0:   # scale down to what the budget buys, keeping the floor
        f = budget_s / cost
        chosen = {N: max(floor, int(s * f)) for N, s in chosen.items()}
    per_set = sum(seconds.get(N, 0.0) for N in Ns)
    note = (f"pilot ({PILOT_SEEDS} seeds per N, {per_set:.1f} s per seed set) asks for "
            f"{seeds_text(want) if want is not None else '-'} seeds per N; running "
            f"{seeds_text(chosen)}, about {_minutes(plan_cost(chosen, seconds))} of cells")
    if want is not None and any(chosen[N] < want[N] for N in Ns):
        note += " (what the budget allows)"
    if undecidable or (terms and want is None):
        note += ("; seeds alone cannot decide "
                 + (", ".join(undecidable) if undecidable else "every term")
                 + " (systematic error or no fit): larger N would")
    return chosen, want, seconds, note


def seeds_text(seeds: dict[int, int]) -> str:
    """``16`` or ``500=16,1000=32,...`` (the ``--seeds`` forms)."""
    vals = set(seeds.values())
    if len(vals) == 1:
        return str(vals.pop())
    return ",".join(f"{N}={s}" for N, s in sorted(seeds.items()))


def plan_cost(seeds: dict[int, int], seconds: dict[int, float]) -> float:
    """Cell seconds of a design: ``sum_N seeds_N seconds_N`` (one process)."""
    return sum(seconds.get(N, 0.0) * s for N, s in seeds.items())


def _minutes(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min"


def powered_plan(plan: Sequence[Check], store_path, budget_s: float, *, jobs: int | None = None,
                 executor: str = "process", scheduler: str | None = None, quiet: bool = False,
                 core: bool = False, anchors: Sequence = ()
                 ) -> tuple[tuple[Check, ...], list[PowerPlan]]:
    """The plan with each powered check's seeds per width set by a pilot (run into the same
    store), within ``budget_s`` seconds for pilots and final runs together; other checks
    unchanged.  With ``core`` the plan runs through the core view (compare/plans/core_plan.py):
    checks on one base sweep share its cells, so they share one budget and get the most seeds any of
    them asks for (``anchors``: the core view's, compare/plans/core_plan.py)."""
    runner: Callable[..., Run] = run_checks
    if core:
        from functools import partial

        from .core_plan import run_core_plan

        runner = partial(run_core_plan, anchors=anchors)
    t0 = time.perf_counter()
    targets = [i for i, c in enumerate(plan) if powered(c)]
    if not targets:
        return tuple(plan), []
    pilots = tuple(replace(plan[i], seeds=PILOT_SEEDS, first_seed=PILOT_FIRST_SEED)
                   for i in targets)
    run = runner(pilots, store_path, jobs=jobs, executor=executor, scheduler=scheduler,
                 quiet=quiet)
    pilot_s = time.perf_counter() - t0
    if run.sweep is not None and run.sweep.failed:
        return tuple(plan), []
    groups: dict[str, list[int]] = {}
    for j, i in enumerate(targets):
        key = _share_key(plan[i]) if core else str(i)
        groups.setdefault(key, []).append(j)
    share = max(budget_s - pilot_s, 0.0) / len(groups)
    out = list(plan)
    notes = []
    for members in groups.values():
        planned = []
        for j in members:
            chk = plan[targets[j]]
            floor = min(chk.seeds_at(N) for N in chk.Ns)
            planned.append(plan_seeds(pilots[j], run, j, share, floor))
        seeds = {N: max(p[0][N] for p in planned) for N in planned[0][0]}
        for j, (_, want, seconds, note) in zip(members, planned):
            i = targets[j]
            out[i] = replace(plan[i], seeds=seeds)
            if len(members) > 1:
                note += f"; its base sweep runs {seeds_text(seeds)} for {len(members)} checks"
            notes.append(PowerPlan(out[i], seeds, want, pilot_s, seconds, note))
    return tuple(out), notes


def _share_key(chk: Check) -> str:
    """Checks with one key read one base sweep in the core view."""
    from .core_plan import bases

    return "|".join(sorted(bases((chk,))))
