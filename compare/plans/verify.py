"""Running claims: plan the cells, sweep them into a store, evaluate, decide.

``check(claim, config, Ns, seeds)`` is the one-call Python API; ``run_checks`` runs a plan of
several :class:`Check` s in one sweep (and one multiple-testing family); :func:`evaluate`
re-reads a store without simulating (``twostep report``).  :data:`DEFAULT_PLAN` is what
``twostep verify`` checks with no arguments, :data:`SPECTRUM_CELL` the extra cell it draws the
spectrum of, and :func:`inferred_plan` what ``twostep report`` checks in a store without a
recorded plan.

A :class:`Check` holds its :class:`~twostep.compare.science.claims.Claim` object (a registered name
is looked up once, when the check is made), so a one-off claim runs without being registered.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twostep.compare.execution.cell_checks import check_cells, check_run_inputs
from twostep.compare.execution.grid import check_cell_count, check_seed_count
from twostep.compare.execution.progress import SweepResult
from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

from ..execution.store import Cell, SharedStore, Store, normalise_options, shared
from ..execution.sweep import run_sweep
from ..science.claims import (
    BUILTIN_CLAIMS,
    Claim,
    Finding,
    Results,
    Verdict,
    check_claim_name,
    decide_all,
    get_claim,
)

#: store meta entry holding the plan of the last verify run
PLAN_META = "verify_plan"

#: run options of the one extra cell whose full spectrum is drawn in the report
SPECTRUM_CELL = {"config": ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3,
                                       alpha2=0.45, batch="reuse"),
                 "N": 2000, "seed": 0, "options": {"spectrum": True}}


@dataclass(frozen=True)
class Check:
    """One claim on one configuration, over widths ``Ns`` and seeds
    ``first_seed .. first_seed + seeds - 1``.

    ``claim`` is a :class:`~twostep.compare.science.claims.Claim` or the name of a registered one
    (looked up here; ``check.claim`` is then the object); ``check.name`` is its name.
    ``seeds`` is one count for every N or a mapping ``{N: count}`` (seeds spent where they buy
    power, :mod:`twostep.compare.plans.power`); ``first_seed`` keeps a pilot's seeds apart from the
    seeds that decide.
    """

    claim: Claim
    config: ModelConfig
    Ns: tuple[int, ...]
    seeds: int | Mapping[int, int]
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    first_seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.claim, str):
            # unknown claim -> ConfigError listing the known ones
            object.__setattr__(self, "claim", get_claim(self.claim))
        elif isinstance(self.claim, Claim):
            check_claim_name(self.claim.name)  # it names the report's files
        else:
            raise ConfigError(f"a check's claim is a registered claim name or a Claim, got "
                              f"{type(self.claim).__name__}")
        Ns = tuple(sorted({int(n) for n in self.Ns}))
        if not Ns:
            raise ConfigError("a check needs at least one N (e.g. --N 500 1000 2000)")
        if Ns[0] < 2:
            raise ConfigError(f"N must be >= 2, got {Ns[0]}")
        object.__setattr__(self, "Ns", Ns)
        if isinstance(self.seeds, Mapping):
            per = {int(N): _seed_count(v) for N, v in self.seeds.items()}
            if set(per) != set(Ns):
                raise ConfigError(f"seeds per N must name exactly the widths {list(Ns)}, got "
                                  f"{sorted(per)}")
            object.__setattr__(self, "seeds", dict(sorted(per.items())))
        else:
            _seed_count(self.seeds)
        if (isinstance(self.first_seed, bool) or not isinstance(self.first_seed, int)
                or self.first_seed < 0):
            raise ConfigError(f"first_seed must be an integer >= 0, got {self.first_seed!r}")

    def seeds_at(self, N: int) -> int:
        """The number of seeds at width N."""
        return self.seeds[N] if isinstance(self.seeds, Mapping) else self.seeds

    @property
    def name(self) -> str:
        """The claim's name."""
        return self.claim.name

    def run_options(self) -> dict[str, Any]:
        """The cell options: the spectra the claim reads, its run options, then the check's."""
        return normalise_options({"spectra": self.claim.spectra,
                                  **self.claim.run_options(self.config), **dict(self.options)})

    def cells(self) -> list[Cell]:
        opts = self.run_options()
        return [Cell(cfg, N, s, opts) for cfg in self.claim.configs(self.config)
                for N in self.Ns
                for s in range(self.first_seed, self.first_seed + self.seeds_at(N))]

    def findings(self, results: Results) -> list[Finding]:
        """The claim's findings on this check's configuration."""
        return self.claim.findings(self.config, results)

    def to_dict(self) -> dict[str, Any]:
        seeds = ({str(N): v for N, v in self.seeds.items()} if isinstance(self.seeds, Mapping)
                 else self.seeds)
        out = {"claim": self.name, "config": self.config.to_dict(), "Ns": list(self.Ns),
               "seeds": seeds, "options": dict(self.options), "label": self.label}
        if self.first_seed:
            out["first_seed"] = self.first_seed
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Check:
        seeds = d["seeds"]
        seeds = ({int(N): int(v) for N, v in seeds.items()} if isinstance(seeds, Mapping)
                 else int(seeds))
        return cls(claim=d["claim"], config=ModelConfig.from_dict(d["config"]),
                   Ns=tuple(d["Ns"]), seeds=seeds, options=d.get("options", {}),
                   label=d.get("label", ""), first_seed=int(d.get("first_seed", 0)))


def _seed_count(v: object) -> int:
    return check_seed_count(v, "seeds")


#: Widths and seeds per width of the default plan's count-1 check: N = 250 is left out (with it
#: the fit drifted to the next window, a systematic error of 0.06 on term 2's exponent), and
#: the smaller widths, the noisiest per seed and the cheapest, get the seeds (term 2's
#: exponent to about +-0.02 on the pilots of docs/results.md, "The headline").
COUNT1_SEEDS = {500: 24, 1000: 16, 2000: 8, 4000: 6}


def _default_plan() -> tuple[Check, ...]:
    """The seed's claims at a scale that runs in a few minutes on 2 cores (docs/results.md).

    Step sizes: the exact terms ``D_k`` do not depend on ``etabar1`` (docs/theory.md), so the
    term-level checks run where the series of exact terms converges at their own step sizes
    (the regime guard, docs/claims.md); the count configuration is also checked at the default
    ``etabar1 = 1``, where the series diverges and the guard must say so.
    """
    shifted = "tanh(z + 1/2)"
    Ns = (250, 500, 1000, 2000)
    count = ModelConfig(activation=shifted, target="He1", alpha1=0.3, alpha2=0.45,
                        batch="reuse")
    # float32 GEMMs (docs/model.md: fine for top singular values and projections); 16 null
    # draws so the floor's own noise does not dominate the floor-corrected signal
    opts = {"dtype": "float32", "null_draws": 16}
    return tuple(Check(c.claim, c.config, c.Ns, c.seeds, opts, c.label) for c in (
        Check("bbp", ModelConfig(activation="tanh", target="He1", alpha1=0.0, alpha2=0.2,
                                 etabar1=3.0, batch="independent"), (500, 1000, 2000), 8,
              label="BBP, tanh / He1, etabar1 = 3"),
        Check("growth-exponent", ModelConfig(activation=shifted, target="He1", alpha1=0.2,
                                             alpha2=0.4, etabar1=0.5, batch="independent"),
              Ns, 4, label="exponents, tanh(z+1/2) / He1, independent, (0.2, 0.4), etabar1 = 0.5"),
        Check("term-exponent", count.replace(etabar1=0.2), Ns, 4,
              label="exact-term exponents, tanh(z+1/2) / He1, reuse, (0.3, 0.45), etabar1 = 0.2"),
        Check("outlier-count", count, Ns, 4,
              label="count, tanh(z+1/2) / He1, reuse, (0.3, 0.45), etabar1 = 1 (diverging series)"),
        Check("left-vectors", count, Ns, 4,
              label="left vectors, tanh(z+1/2) / He1, reuse, (0.3, 0.45), etabar1 = 1"),
        # the count where it is 1, decided: the uniform second layer (the exponents do not
        # depend on the law; its term-2 spread is a fraction of the Gaussian's) and seeds
        # where they are cheap (docs/results.md, "The headline")
        Check("outlier-count", ModelConfig(activation="softplus", target="He1", alpha1=0.2,
                                           alpha2=0.45, etabar1=0.2, batch="reuse",
                                           second_layer="uniform"),
              tuple(COUNT1_SEEDS), COUNT1_SEEDS,
              label="count 1 decided, softplus / He1, reuse, uniform second layer, (0.2, 0.45), "
                    "etabar1 = 0.2"),
        Check("reuse-gap", ModelConfig(activation="tanh", target="He3", alpha1=0.3, alpha2=0.45,
                                       etabar1=0.03), Ns, 6,
              label="reuse gap, tanh / He3, (0.3, 0.45), etabar1 = 0.03"),
    ))


DEFAULT_PLAN = _default_plan()


def _deep_plan() -> tuple[Check, ...]:
    """``twostep verify --profile deep``: the canonical (Gaussian second layer) count
    configurations' exact terms at N up to 8000 (docs/results.md), 4 seeds per width: the
    default plan's term-exponent check and the count with margins at (0.2, 0.45).  Its
    term-exponent cells at N <= 2000 are the default plan's (same config, seeds and run
    options), so a store that holds the default run adds less; an interrupted run resumes
    from the store."""
    Ns = (250, 500, 1000, 2000, 4000, 8000)
    (term,) = [c for c in DEFAULT_PLAN if c.name == "term-exponent"]
    margins = Check("outlier-count", term.config.replace(alpha1=0.2), Ns, 4, term.options,
                    label="count with margins, tanh(z+1/2) / He1, reuse, (0.2, 0.45), "
                          "etabar1 = 0.2")
    return tuple(Check(c.claim, c.config, Ns, c.seeds, c.options, c.label + ", deep")
                 for c in (term, margins))


DEEP_PLAN = _deep_plan()


def inferred_plan(store: Store) -> tuple[Check, ...]:
    """Claims that apply to a store without a recorded plan, with the cells' own options:
    ``growth-exponent``, ``outlier-count`` and ``left-vectors`` for every config with at least
    two widths (and seeds 0..S-1 at each), ``reuse-gap`` where both batch modes were run,
    ``bbp`` for alpha1 = 0."""
    from collections import defaultdict

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
        # the cells' own options, spectra included (a stored cell omits "all")
        ns, opts = tuple(sorted(Ns[group])), {"spectra": "all", **json.loads(group[1])}
        if cfg.alpha1 == 0:
            plan.append(Check("bbp", cfg, ns, n_seeds, opts))
        plan.append(Check("growth-exponent", cfg, ns, n_seeds, opts))
        plan.append(Check("outlier-count", cfg, ns, n_seeds, opts))
        plan.append(Check("left-vectors", cfg, ns, n_seeds, opts))
        other = (cfg.replace(batch="independent").key(), group[1])
        if cfg.batch == "reuse" and other in configs and Ns[other] >= Ns[group]:
            plan.append(Check("reuse-gap", cfg, ns, n_seeds, opts))
    return tuple(plan)


@dataclass
class Run:
    """The outcome of a plan: verdicts (in plan order), the sweep summary, the data."""

    plan: tuple[Check, ...]
    verdicts: list[Verdict]
    sweep: SweepResult | None
    results: list[Results]


def _spectra_union(cells: Sequence[Cell]) -> Any:
    """The spectra that serve every cell of the group: ``"all"`` if one reads all of them."""
    names: set[str] = set()
    for cell in cells:
        spectra = cell.options.get("spectra", "all")
        if spectra == "all":
            return "all"
        names.update(spectra)
    return "all" if names >= {"W1", "W2", "update"} else sorted(names)


def merged_cells(plan: Sequence[Check]) -> dict[str, Cell]:
    """For every cell of the plan (by key), the cell that computes it.

    Cells that differ only in the spectra they declare are one simulation computing the union
    of those spectra, so two claims on one configuration share their runs.
    """
    groups: dict[str, list[Cell]] = {}
    for chk in plan:
        for cell in chk.cells():
            base = {k: v for k, v in cell.options.items() if k != "spectra"}
            groups.setdefault(Cell(cell.config, cell.N, cell.seed, base).key(), []).append(cell)
    out: dict[str, Cell] = {}
    for cells in groups.values():
        first = cells[0]
        base = {k: v for k, v in first.options.items() if k != "spectra"}
        merged = Cell(first.config, first.N, first.seed,
                      {**base, "spectra": _spectra_union(cells)})
        for cell in cells:
            out[cell.key()] = merged
    return out


def plan_size(plan: Sequence[Check]) -> int:
    """The number of cells the plan's checks read (before merging), counted without building
    them; refused above :data:`~twostep.compare.execution.sweep.MAX_CELLS`."""
    count = sum(len(chk.claim.configs(chk.config)) * sum(chk.seeds_at(N) for N in chk.Ns)
                for chk in plan)
    return check_cell_count(count, "the plan")


def check_plan_inputs(plan: Sequence[Check], *, here: bool = True) -> None:
    """What ``twostep simulate`` refuses before drawing (the activation, the target, the
    backend, the spectra named), checked once per configuration of the plan, before its
    cells are planned (which predicts) and before any store exists (one line)."""
    runs = [(cfg, {"spectra": chk.claim.spectra, **dict(chk.options)})
            for chk in plan for cfg in chk.claim.configs(chk.config)]
    check_run_inputs(runs, here=here)


def check_plan(plan: Sequence[Check], extra_cells: Sequence[Cell] = (), *,
               here: bool = True,
               cells: Callable[[Sequence[Check]], list[Cell]] | None = None) -> list[Cell]:
    """Every input check of a plan, before its store or any worker exists, in one line each:
    its size (:func:`plan_size`), the inputs of its configurations
    (:func:`check_plan_inputs`, before its cells are planned, which predicts), then every
    cell and ``extra_cells`` (:func:`~twostep.compare.execution.cell_checks.check_cells`: widths,
    step sizes, memory where ``here``).  ``twostep verify`` and :func:`check` run it; returns
    the plan's cells (``cells(plan)``, default :func:`plan_cells`; the core view's base cells
    for a plan run through it)."""
    plan_size(plan)
    check_plan_inputs(plan, here=here)
    out = (plan_cells if cells is None else cells)(plan)
    check_cells([*out, *extra_cells], memory=here)
    return out


def plan_cells(plan: Sequence[Check]) -> list[Cell]:
    """Every cell the plan simulates, once, smallest N first (so early progress is quick)."""
    plan_size(plan)
    seen = {c.key(): c for c in merged_cells(plan).values()}
    return sorted(seen.values(), key=lambda c: (c.N, c.config.to_json(), c.seed))


def _every_spectrum(cell: Cell) -> Cell:
    """The cell that equals ``cell`` but computes every spectrum (``spectra="all"``)."""
    return Cell(cell.config, cell.N, cell.seed,
                {k: v for k, v in cell.options.items() if k != "spectra"})


def served_cells(cells: Sequence[Cell], store: Store) -> list[Cell]:
    """Each cell, or the done cell of the store that serves it: the same run computing every
    spectrum (e.g. written before claims declared their spectra) serves a cell that computes
    fewer, so such a store is neither recomputed nor refused."""
    done = store.done_keys()
    out = []
    for cell in cells:
        full = _every_spectrum(cell)
        if cell.key(store.version) not in done and full.key(store.version) in done:
            out.append(full)
        else:
            out.append(cell)
    return out


def evaluate(plan: Sequence[Check], store: Store) -> tuple[list[Verdict], list[Results]]:
    """Evaluate the plan's claims on what the store holds (no simulation)."""
    serves = merged_cells(plan)
    merged = list({c.key(): c for c in serves.values()}.values())
    serving = dict(zip((c.key() for c in merged), served_cells(merged, store)))
    wanted: dict[str, Cell] = {c.key(store.version): c for c in serving.values()}
    found: dict[str, Measurement] = {}
    for cell, result in store.results():
        k = cell.key(store.version)
        if k in wanted:
            found[k] = Measurement.from_dict(result)
    missing = [c for k, c in wanted.items() if k not in found]
    if missing:
        raise ConfigError(f"the store lacks {len(missing)} of the plan's {len(wanted)} cells "
                          f"(first: {missing[0].describe()}); run the sweep or verify first")
    findings = []
    per_check: list[Results] = []
    for chk in plan:
        res = Results()
        for cell in chk.cells():
            source = serving[serves[cell.key()].key()]
            res.add(cell.config, cell.N, cell.seed, found[source.key(store.version)])
        per_check.append(res)
        findings.extend(chk.findings(res))
    return decide_all(findings), per_check


def run_checks(plan: Sequence[Check], store: SharedStore | str | os.PathLike[str], *,
               jobs: int | None = None, executor: str = "process", scheduler: str | None = None,
               quiet: bool = False, extra_cells: Sequence[Cell] = ()) -> Run:
    """Simulate what the plan needs (skipping finished cells, and cells a finished run of every
    spectrum serves), then evaluate it.

    ``store``: a path, or a :class:`SharedStore` whose one :class:`Store` the look at what is
    done, the sweep and the evaluation share (and the caller's report after them).
    ``extra_cells`` are simulated in the same sweep but read by no claim (e.g. the full-spectrum
    cell of the report's histogram).
    """
    with contextlib.ExitStack() as stack:
        return _run_checks(tuple(plan), shared(store, stack), jobs=jobs, executor=executor,
                           scheduler=scheduler, quiet=quiet, extra_cells=extra_cells)


def _run_checks(plan: tuple[Check, ...], store: SharedStore, *, jobs: int | None,
                executor: str, scheduler: str | None, quiet: bool,
                extra_cells: Sequence[Cell]) -> Run:
    meta = json.dumps([c.to_dict() for c in plan])
    cells = plan_cells(plan)
    existing = store.existing()
    if existing is not None:  # an existing store: what it holds serves the plan
        cells = served_cells(cells, existing)
    # The sweep creates a new store only once its executor is up (a dask scheduler that
    # cannot be reached leaves no file); the plan is recorded as soon as the store is open.
    sweep = run_sweep([*cells, *extra_cells], store, executor=executor, jobs=jobs,
                      scheduler=scheduler, quiet=quiet,
                      on_open=lambda opened: opened.set_meta(PLAN_META, meta))
    opened = store.get()
    opened.set_meta(PLAN_META, meta)  # also when every cell was done already
    if sweep.failed:
        return Run(plan, [], sweep, [])
    verdicts, results = evaluate(plan, opened)
    return Run(plan, verdicts, sweep, results)


def spectrum_measurement(store: Store) -> Measurement | None:
    """The largest-N done cell of the store that holds a full spectrum (for the histogram)."""
    best = None
    for cell, result in store.results(spectrum=True):
        if best is None or cell.N > best.N:
            best = Measurement.from_dict(result)
    return best


def stored_plan(store: Store) -> tuple[Check, ...] | None:
    text = store.get_meta(PLAN_META)
    return None if text is None else tuple(Check.from_dict(d) for d in json.loads(text))


def check(claim: str | Claim, config: ModelConfig, Ns: Sequence[int], seeds: int = 4, *,
          store: str | os.PathLike[str] | None = None, executor: str = "inline",
          jobs: int | None = None, quiet: bool = True, **options: Any) -> list[Verdict]:
    """Run one claim on one config and return its verdicts (one per finding).

    ``claim`` is a registered name or a :class:`Claim` object (run as it is; the registry is
    neither read nor changed for it).  A claim object named like a built-in claim, and not that
    claim itself, is refused.  Without ``store`` the measurements go to a temporary store that
    is deleted afterwards.  The default executor runs the cells in this process (no
    ``__main__`` guard needed); pass ``executor="process"`` and ``jobs`` for a pool.
    """
    if isinstance(claim, Claim) and claim.name in BUILTIN_CLAIMS \
            and get_claim(claim.name) is not claim:
        raise ConfigError(f"{claim.name!r} is a built-in claim; give your claim another name")
    plan = (Check(claim, config, tuple(Ns), seeds, options),)
    check_plan(plan)  # what the command line refuses, refused before any cell runs
    if store is not None:
        run = run_checks(plan, store, jobs=jobs, executor=executor, quiet=quiet)
    else:
        with tempfile.TemporaryDirectory(prefix="twostep-") as tmp:
            run = run_checks(plan, Path(tmp) / "check.sqlite", jobs=jobs, executor=executor,
                             quiet=quiet)
    if run.sweep is not None and run.sweep.failed:
        cell, err = run.sweep.failed[0]
        raise ConfigError(f"{len(run.sweep.failed)} cell(s) failed; first {cell.describe()}: "
                          f"{err.splitlines()[0] if err else ''}")
    return run.verdicts
