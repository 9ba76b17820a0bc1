"""A verify plan through the core view: one base sweep per setup, every check by rescaling.

The exact terms ``D_k`` do not depend on the step sizes (docs/theory.md, "The exact terms"), so
checks whose configurations differ only in ``alpha1, alpha2, etabar1, etabar2`` (the claims of
:data:`~twostep.compare.plans.core.CORE_CLAIMS`, which read only the exact terms and the series) are
decided from ONE sweep of a base configuration (compare/plans/core.py; :func:`~.core.default_base`:
the largest ``alpha1``, ``etabar1`` and ``alpha2`` of its checks, so the carried series
residual of the regime guard applies).  The base's cells compute the most exact terms and
powers any of its checks asks for and no spectrum; each check reads its own seeds (a pilot's
seeds stay apart from the seeds that decide), rescaled to its configuration
(:func:`~.rescale.plane_results`).  Findings enter one Benjamini-Hochberg family, as in
:func:`~.verify.run_checks`.

``twostep verify --profile headline`` runs its plan this way, and ``twostep report`` re-reads
such a store the same way (the store's :data:`CORE_META` entry says so).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

from ..execution.store import (
    RUN_DEFAULTS,
    Cell,
    SharedStore,
    Store,
    check_store_path,
    normalise_options,
    shared,
)
from ..execution.sweep import run_sweep
from ..science.claims import Results, decide_all
from ..science.rescale import plane_results, step_free_key
from .core import TERMS_CAP, core_claim, default_base
from .verify import PLAN_META, Check, Run

#: Store meta entry of a plan run through the core view: its anchors (a JSON list of configs).
CORE_META = "verify_core"
#: Name prefix of a planted false count (``planted-count-3``: OutlierCount(claimed=3)).
PLANTED = "planted-count-"


@dataclass
class _Base:
    """One base sweep: the configs it serves, the seeds per N it needs, K and M, options."""

    configs: list[ModelConfig]
    seeds: dict[int, set[int]]
    terms: int
    max_power: int
    options: dict[str, Any]
    anchor: ModelConfig | None = None

    def config(self) -> ModelConfig:
        """The base: the largest step sizes of its configs and of its anchor, if any."""
        return default_base(self.configs + ([self.anchor] if self.anchor else []))

    def cell_options(self) -> dict[str, Any]:
        K = min(TERMS_CAP, self.terms)
        if K < 1:
            raise ConfigError(f"the exact terms are undefined for {self.configs[0].activation!r} "
                              "(non-smooth): the core view has nothing to rescale")
        M = max(K + 1, self.max_power)
        return normalise_options({**self.options, "spectra": (), "terms": K, "max_power": M})

    def cells(self) -> list[Cell]:
        base, opts = self.config(), self.cell_options()
        return [Cell(base, N, s, opts) for N in sorted(self.seeds) for s in sorted(self.seeds[N])]


def _group_key(config: ModelConfig, options: dict[str, Any]) -> str:
    return step_free_key(config) + json.dumps(options, sort_keys=True, default=str)


def _setup_options(chk: Check) -> dict[str, Any]:
    """The check's cell options that a base sweep shares (the core view sets terms,
    max_power and spectra itself)."""
    return {k: v for k, v in normalise_options(dict(chk.options)).items()
            if k not in ("terms", "max_power", "spectra")}


def _seed_range(chk: Check, N: int) -> range:
    return range(chk.first_seed, chk.first_seed + chk.seeds_at(N))


def bases(plan: Sequence[Check], anchors: Sequence[ModelConfig] = ()) -> dict[str, _Base]:
    """The base sweeps of the plan, by setup (step-size-free part and the checks' options).
    An anchor (a config of the same setup) raises its base's step sizes to its own, so that
    the base serves configurations beyond the plan's (e.g. a phase plane from the same
    sweep)."""
    by_setup = {step_free_key(a): a for a in anchors}
    out: dict[str, _Base] = {}
    for chk in plan:
        claim = core_claim(chk.claim)
        options = _setup_options(chk)
        for cfg in claim.configs(chk.config):
            g = out.setdefault(_group_key(cfg, options),
                               _Base([], {}, 0, 0, options, by_setup.get(step_free_key(cfg))))
            g.configs.append(cfg)
            want = claim.run_options(cfg)
            g.terms = max(g.terms, int(want.get("terms", 0)))
            g.max_power = max(g.max_power, int(want.get("max_power", RUN_DEFAULTS["max_power"])))
            for N in chk.Ns:
                g.seeds.setdefault(int(N), set()).update(_seed_range(chk, N))
    return out


def plan_cells(plan: Sequence[Check], anchors: Sequence[ModelConfig] = ()) -> list[Cell]:
    """Every base cell the plan needs, smallest N first."""
    cells = [c for b in bases(plan, anchors).values() for c in b.cells()]
    return sorted(cells, key=lambda c: (c.N, c.config.to_json(), c.seed))


def evaluate(plan: Sequence[Check], store: Store, anchors: Sequence[ModelConfig] | None = None
             ) -> tuple[list, list[Results]]:
    """The plan's verdicts from the base cells in ``store`` (no simulation); ``anchors``: those
    of the run (default: the ones the store recorded)."""
    groups = bases(plan, stored_anchors(store) if anchors is None else anchors)
    found: dict[str, dict[tuple[int, int], Any]] = {}   # group -> (N, seed) -> result
    wanted = {c.key(store.version): key for key, b in groups.items() for c in b.cells()}
    for cell, result in store.results():
        key = wanted.get(cell.key(store.version))
        if key is not None:
            found.setdefault(key, {})[(cell.N, cell.seed)] = result
    missing = len(wanted) - sum(len(v) for v in found.values())
    if missing:
        raise ConfigError(f"the store lacks {missing} of the plan's {len(wanted)} base cells; "
                          "run twostep verify with this plan first")
    findings, per_check = [], []
    for chk in plan:
        configs = chk.claim.configs(chk.config)
        own = Results()
        chk_bases = []
        for cfg in configs:
            key = _group_key(cfg, _setup_options(chk))
            base = groups[key].config()
            chk_bases.append(base)
            for N in chk.Ns:
                for s in _seed_range(chk, N):
                    own.add(base, N, s, found[key][(int(N), s)])
        res = plane_results(own, chk_bases, configs)
        per_check.append(res)
        findings.extend(chk.findings(res))
    return decide_all(findings), per_check


def run_core_plan(plan: Sequence[Check], store: SharedStore | str | os.PathLike[str], *,
                  jobs: int | None = None, executor: str = "process",
                  scheduler: str | None = None, quiet: bool = False,
                  anchors: Sequence[ModelConfig] = ()) -> Run:
    """Sweep the plan's base cells (finished ones are skipped), then evaluate every check by
    rescaling (module docstring; ``anchors`` as in :func:`bases`).  ``store``: a path or a
    :class:`SharedStore` (one Store for the sweep and the evaluation)."""
    plan = tuple(plan)
    cells = plan_cells(plan, anchors)
    meta = json.dumps([c.to_dict() for c in plan])
    core_meta = json.dumps([a.to_dict() for a in anchors])

    def on_open(opened: Store) -> None:
        opened.set_meta(PLAN_META, meta)
        opened.set_meta(CORE_META, core_meta)

    with contextlib.ExitStack() as stack:
        one = shared(store, stack)
        check_store_path(one.path)
        sweep = run_sweep(cells, one, executor=executor, jobs=jobs, scheduler=scheduler,
                          quiet=quiet, on_open=on_open)
        opened = one.get()
        on_open(opened)
        if sweep.failed:
            return Run(plan, [], sweep, [])
        verdicts, results = evaluate(plan, opened, anchors)
    return Run(plan, verdicts, sweep, results)


def stored_as_core(store: Store) -> bool:
    """Whether the store's plan was run through the core view."""
    return store.get_meta(CORE_META) is not None


def stored_anchors(store: Store) -> list[ModelConfig]:
    """The anchors a core-view run recorded (none for any other store)."""
    text = store.get_meta(CORE_META)
    return [] if not text else [ModelConfig.from_dict(d) for d in json.loads(text)]


def stored_plan(store: Store) -> tuple[Check, ...] | None:
    """The plan a core-view run recorded; the headline profile's planted counts
    (``planted-count-C``, not registered claims) are rebuilt from their names."""
    from ..science.claims import OutlierCount, get_claim

    text = store.get_meta(PLAN_META)
    if text is None:
        return None
    plan = []
    for d in json.loads(text):
        name = d["claim"]
        if name.startswith(PLANTED):
            claim = OutlierCount(name=name, claimed=int(name[len(PLANTED):]), visible=False)
        elif name == "outlier-count":
            claim = OutlierCount(visible=False)
        else:
            claim = get_claim(name)
        plan.append(Check.from_dict({**d, "claim": claim}))
    return tuple(plan)
