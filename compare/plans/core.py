"""The step-size-free core of a two-step run: one sweep, every (alpha1, alpha2, etabar1, etabar2).

The exact terms of the step-two update are ``T_k = eta_2 eta_1^k D_k`` with ``D_k`` free of the
step sizes (docs/theory.md, "The exact terms"), and the random draws of a cell are keyed by
``(seed, N)`` only (``simulate.draws``): runs that differ only in ``alpha1, alpha2, etabar1,
etabar2`` share ``W_0``, ``a``, ``beta_*`` and the batches, hence the same ``D_k``.  So every
exact-term statistic of a measurement at one set of step sizes gives the same statistic at any
other by a rescaling, with no simulation:

- ``term(k)``: ``amplitude``, ``null_floor``, ``null_floor_sd`` and ``singular_values`` scale by
  ``s_k = (eta_2'/eta_2) (eta_1'/eta_1)^k``, the squared coherent strength ``coherent_sq`` and
  its standard error by ``s_k^2``, the signed ``beta_component`` by ``s_k``; ``leakage[m]``
  (term m projected on ``q_{k+1}``) by ``s_m``; the squared overlaps (``beta_overlap``,
  ``null_beta_overlap``, ``left_overlap``, ...) do not change.
- ``series``: ``eta1``, ``eta2``, ``norms`` (by ``s_k``), ``ratios`` (by ``eta_1'/eta_1``),
  ``p1.max = eta_1 max|P1_ij|`` (by ``eta_1'/eta_1``); ``K`` and ``tolerance`` are kept.
- Each field of a term and of the series declares how it scales (``observed(scale=...)``,
  twostep.theory.fields; a field that declares nothing is refused at import), and the
  rescaling applies that declaration field by field (:func:`.rescale.rescaled`): a new field
  is never carried unscaled, and a rescaled measurement never holds a number of another step
  size.

What does *not* follow is the series residual at another ``eta_1`` (it needs the real update at
``eta_1'``) and everything about the whole update or ``W_2`` (``amplitudes``, ``outliers``,
``visible_new_outliers``, ``bulk_edge_empirical``, ``beta``, ``spectra``, ``dynamics``): those
fields are emptied in a rescaled :class:`~twostep.simulate.Measurement` (None, or empty for
the collections), so no claim reads a stale value.  ``step_one_spike`` and
``features`` (functions of ``W_1``) are kept only when ``eta_1' = eta_1``.  Which field is
which is declared once, on the Measurement's fields (``simulate.measurement.FIELD_KINDS``;
:data:`RESCALED_AS`); the regime guard reads the same declaration.

**The residual rule** (what the regime guard of docs/claims.md reads, ``series.residual``).
The residual ``||U - sum_{k<=K} T_k|| / ||U||`` does not depend on ``eta_2`` (U and every T_k are
proportional to it); it depends on ``eta_1`` only.  A rescaled measurement's residual is

1. *measured* when ``eta_1' = eta_1`` (relative difference at most :data:`SAME_ETA1`): the same
   number, exactly;
2. *carried* when ``eta_1' < eta_1``, the residual at ``eta_1`` is at most the guard's tolerance,
   and the Taylor series of sigma provably converges at ``eta_1'``: ``eta_1' max|P1_ij| <
   R_sigma`` (:func:`radius`: the distance of sigma's nearest complex singularity from the real
   axis, pi/2 for tanh, pi for the logistic family, infinite for entire functions).  The residual
   at ``eta_1`` is then carried as an upper estimate of the one at ``eta_1'``: inside the disc of
   convergence term k of the tail shrinks by ``(eta_1'/eta_1)^k <= (eta_1'/eta_1)^{K+1}``.  This
   is an estimate, not a theorem about the operator norm of the tail (cancellations between tail
   terms at ``eta_1`` could in principle make the residual there smaller than at ``eta_1'``);
   tests/test_core.py checks it against direct runs.
3. *unknown* (None) otherwise: ``eta_1' > eta_1``, a diverging residual at ``eta_1``, a sigma
   whose radius is not known here (an expression other than the built-ins and affine shifts of
   them), or a missing residual.  An unknown residual never counts as converging: the guard
   refuses a verdict at that N ("guard-blocked").

Rules 2 and 3 are replaced by a measurement when asked (``core_check(..., measure=True)``,
:func:`measure_residuals`): the simulate-side core (:mod:`twostep.simulate.core`) evaluates the
exact update at every ``eta_1'`` with one GEMM per (N, seed, eta_1') and measures the residual
there, so no estimate is carried; tests/test_simulate_core.py checks it against direct runs.

``series.core_rule`` says which rule gave each residual; ``series.core_from`` (the config
measured) and ``series.core_scales`` (``s_k`` per term) say where the rescaled numbers come from.
Where the residual is unknown, ``series.residual_missing`` says so in the words the regime guard
shows for that width (:data:`UNKNOWN_RESIDUAL`).

A verdict computed here is the verdict of a direct run with the core's run options
(``terms = K``, ``max_power = M`` of :func:`core_check`; the series residual is that of K terms),
up to float rounding of the rescaling (1e-12 relative in float64), whenever the residual is
measured (rule 1); with rule 2 it holds as long as the carried estimate is on the same side of
the tolerance as the real residual.

Layout: the rescaling itself (:func:`rescale`, :func:`plane_results`, :func:`measure_residuals`,
:func:`radius` and the constants above) is :mod:`.rescale`, re-exported here; this module runs
the core view on it (:func:`core_check`).
"""

from __future__ import annotations

import numbers
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twostep.theory.config import ModelConfig
from twostep.theory.deprecation import moved_names
from twostep.theory.errors import ConfigError

from ..output.table import Table
from ..science.claims import (
    MIN_RANGE,
    MIN_WIDTHS,
    Claim,
    OutlierCount,
    Reason,
    Results,
    ReuseGap,
    ReuseLearning,
    Status,
    TermExponent,
    Verdict,
    decide_all,
    get_claim,
    measured_regime,
)
from ..science.rescale import (
    _check_pair,
    etas,
    measure_residuals,
    plane_results,
    radius,
    rescale,
    step_free_key,
)

#: The core computes at most this many exact terms beyond term 0 (paper_count + 1 is needed;
#: a config that needs more is refused with one line).
TERMS_CAP = 6

#: Claims that read only the exact terms and the series (``terms``, ``series``).
CORE_CLAIMS = {"term-exponent": TermExponent, "outlier-count": OutlierCount,
               "reuse-gap": ReuseGap, "reuse-learning": ReuseLearning}


# -- core checks ---------------------------------------------------------------------------------

def core_claim(claim: str | Claim) -> Claim:
    """The claim object, refused with one line unless it reads only the exact terms."""
    obj = get_claim(claim) if isinstance(claim, str) else claim
    if not isinstance(obj, tuple(CORE_CLAIMS.values())):
        raise ConfigError(f"claim {obj.name!r} reads the whole update or W_2, which a rescaling "
                          f"does not give; the core evaluates {', '.join(CORE_CLAIMS)} only")
    return obj


def default_base(configs: Sequence[ModelConfig]) -> ModelConfig:
    """A base config whose eta_1 is at least every config's at every N >= 1 (largest alpha1 and
    etabar1), so rule 2 of the residual applies wherever the base's series converges."""
    if not configs:
        raise ConfigError("the core needs at least one config")
    first = configs[0]
    for c in configs[1:]:
        _check_pair(first, c)
    return first.replace(alpha1=max(c.alpha1 for c in configs),
                         etabar1=max(c.etabar1 for c in configs),
                         alpha2=max(c.alpha2 for c in configs))


def core_options(claim: Claim, base_config: ModelConfig, configs: Sequence[ModelConfig],
                 options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The base sweep's run options: the claim's, with ``terms = K`` (the most any config needs,
    at most :data:`TERMS_CAP`) and ``max_power = M`` (the most any config asks, at least K + 1)."""
    from twostep.simulate.options import MAX_POWER_LIMIT

    from ..execution.store import RUN_DEFAULTS, normalise_options

    wanted = [claim.run_options(c) for c in configs]
    K = min(TERMS_CAP, max(int(w.get("terms", 0)) for w in wanted))
    if K < 1:
        raise ConfigError(f"the exact terms are undefined for {base_config.activation!r} "
                          "(non-smooth): the core has nothing to rescale")
    M = min(MAX_POWER_LIMIT, max([K + 1] + [int(w.get("max_power", RUN_DEFAULTS["max_power"]))
                                           for w in wanted]))
    # the core's claims read only the exact terms and the series: no spectrum is drawn
    # (a rescaled measurement empties every whole-update field anyway)
    return normalise_options({"spectra": (), **claim.run_options(base_config),
                              **dict(options or {}), "terms": K, "max_power": M})


@dataclass
class CoreVerdicts:
    """Verdicts of one claim at many configs from one base sweep."""

    claim: str
    base: ModelConfig
    options: dict[str, Any]
    configs: list[ModelConfig]
    verdicts: dict[str, list[Verdict]]           # config.key() -> verdicts (claim order)
    blocked: dict[str, bool]                      # guard-blocked (see classify)
    refused: dict[str, str] = field(default_factory=dict)   # config.key() -> reason
    sweep_s: float = 0.0
    evaluate_s: float = 0.0
    base_results: Results | None = None          # the base sweep's measurements
    bases: list[ModelConfig] = field(default_factory=list)   # the claim's base configs

    def of(self, config: ModelConfig) -> list[Verdict]:
        return self.verdicts[config.key()]


def _refusal(claim: Claim, config: ModelConfig, reason: str) -> Verdict:
    return Verdict(claim=claim.name, subject="core view", status=Status.INCONCLUSIVE,
                   reason=Reason("core-refused", why=reason),
                   evidence=Table(["N"], title=f"{claim.name}: refused"), config=config)


def guard_blocked(claim: Claim, config: ModelConfig, results: Results) -> bool:
    """True when the regime guard leaves fewer than MIN_WIDTHS widths spanning MIN_RANGE for
    some configuration the claim reads: no verdict either way can be reached."""
    from ..science.claims import enough_widths

    for cfg in claim.configs(config):
        regime = measured_regime(results, cfg)
        if regime.blocked:
            return True
        Ns = results.Ns(cfg)
        if enough_widths(Ns) and not enough_widths([N for N in Ns if regime.ok(N)]):
            return True
    return False


def evaluate_core(claim: str | Claim, base_results: Results, bases: Sequence[ModelConfig],
                  configs: Sequence[ModelConfig], K: int, *,
                  residuals: Mapping[tuple[str, int, int, float], float] | None = None
                  ) -> tuple[dict, dict, dict]:
    """Verdicts per config from the base measurements (BH within each config's findings);
    ``residuals`` as in :func:`plane_results`."""
    obj = core_claim(claim)
    verdicts: dict[str, list[Verdict]] = {}
    blocked: dict[str, bool] = {}
    refused: dict[str, str] = {}
    for cfg in configs:
        need = int(obj.run_options(cfg).get("terms", 0))
        if need > K:
            refused[cfg.key()] = (f"needs {need} exact terms, the core computed {K} "
                                  f"(at most {TERMS_CAP})")
            verdicts[cfg.key()] = [_refusal(obj, cfg, refused[cfg.key()])]
            blocked[cfg.key()] = False
            continue
        res = plane_results(base_results, bases, obj.configs(cfg), residuals=residuals)
        try:
            findings = obj.findings(cfg, res)
        except ConfigError as err:
            refused[cfg.key()] = str(err)
            verdicts[cfg.key()] = [_refusal(obj, cfg, str(err))]
            blocked[cfg.key()] = False
            continue
        verdicts[cfg.key()] = decide_all(findings)
        blocked[cfg.key()] = guard_blocked(obj, cfg, res)
    return verdicts, blocked, refused


def seeds_at(seeds: int | Mapping[int, int], N: int) -> int:
    """The seeds at width N of a design: one number for every width, or a mapping N -> seeds
    (more seeds where cells are cheap and the statistic needs them; a width it lacks is an
    error)."""
    if isinstance(seeds, Mapping):
        if int(N) not in seeds:
            raise ConfigError(f"the seeds per width {dict(seeds)} give none for N = {N}")
        n = seeds[int(N)]
    else:
        n = seeds
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ConfigError(f"seeds must be integers >= 1 (per width or for all), got {n!r}")
    return int(n)


def describe_seeds(seeds: int | Mapping[int, int]) -> str:
    """``"12 seeds"`` or ``"48 / 48 / 24 / 12 seeds"`` (per width, in the order of N)."""
    if isinstance(seeds, Mapping):
        vals = [int(seeds[N]) for N in sorted(seeds)]
        if len(set(vals)) > 1:
            return " / ".join(map(str, vals)) + " seeds"
        seeds = vals[0]
    return f"{int(seeds)} seeds"


def base_sweep(claim: Claim, base_config: ModelConfig, Ns: Sequence[int],
               seeds: int | Mapping[int, int],
               options: Mapping[str, Any], store: str | os.PathLike[str], *,
               executor: str = "inline", jobs: int | None = None, quiet: bool = True
               ) -> Results:
    """Simulate the base config(s) of the claim (its ``configs(base_config)``) into ``store``
    and return their measurements (``seeds``: per width, :func:`seeds_at`)."""
    from ..execution.store import Cell, Store
    from ..execution.sweep import run_sweep

    cells = [Cell(c, int(N), s, dict(options)) for c in claim.configs(base_config)
             for N in sorted(set(Ns)) for s in range(seeds_at(seeds, N))]
    with Store(store) as st:
        sweep = run_sweep(cells, st, executor=executor, jobs=jobs, quiet=quiet)
        if sweep.failed:
            cell, err = sweep.failed[0]
            raise ConfigError(f"{len(sweep.failed)} base cell(s) failed; first "
                              f"{cell.describe()}: {err.splitlines()[0] if err else ''}")
        wanted = {c.key(st.version): c for c in cells}
        res = Results()
        for cell, result in st.results():
            if cell.key(st.version) in wanted:
                res.add(cell.config, cell.N, cell.seed, result)
    return res


def core_check(claim: str | Claim, base_config: ModelConfig | None,
               configs: Sequence[ModelConfig], Ns: Sequence[int],
               seeds: int | Mapping[int, int] = 4, *,
               store: str | os.PathLike[str] | None = None, executor: str = "inline",
               jobs: int | None = None, quiet: bool = True,
               options: Mapping[str, Any] | None = None,
               measure: bool = False) -> CoreVerdicts:
    """ONE sweep of ``base_config`` (default: :func:`default_base`), then ``claim`` at every
    config of ``configs`` by rescaling (the claims of :data:`CORE_CLAIMS` only); ``seeds``:
    one number, or seeds per width (:func:`seeds_at`).

    Each config's verdicts equal those of ``verify.check(claim, config, Ns, seeds,
    **result.options)`` (the module docstring says when exactly).  With ``measure`` the series
    residual at every config's ``eta_1`` is measured on the simulate-side core
    (:func:`measure_residuals`, one GEMM per (N, seed, eta_1)) instead of carried.
    """
    obj = core_claim(claim)
    configs = list(configs)
    if not configs:
        raise ConfigError("core_check needs at least one config")
    base = default_base(configs) if base_config is None else base_config
    for c in configs:
        _check_pair(base, c)
    opts = core_options(obj, base, configs, options)
    bases = obj.configs(base)
    t0 = time.perf_counter()
    if store is None:
        with tempfile.TemporaryDirectory(prefix="twostep-core-") as tmp:
            res = base_sweep(obj, base, Ns, seeds, opts, Path(tmp) / "core.sqlite",
                             executor=executor, jobs=jobs, quiet=quiet)
    else:
        res = base_sweep(obj, base, Ns, seeds, opts, store, executor=executor, jobs=jobs,
                         quiet=quiet)
    t1 = time.perf_counter()
    residuals = None
    if measure:
        residuals = {}
        for b in bases:
            twins = [c2 for c in configs for c2 in obj.configs(c)
                     if step_free_key(c2) == step_free_key(b)]
            for N in res.Ns(b):
                residuals.update(measure_residuals(b, twins, [N], range(seeds_at(seeds, N)),
                                                   int(opts["terms"])))
    verdicts, blocked, refused = evaluate_core(obj, res, bases, configs, opts["terms"],
                                               residuals=residuals)
    return CoreVerdicts(claim=obj.name, base=base, options=opts, configs=configs,
                        verdicts=verdicts, blocked=blocked, refused=refused,
                        sweep_s=t1 - t0, evaluate_s=time.perf_counter() - t1,
                        base_results=res, bases=list(bases))


def classify(verdicts: Sequence[Verdict], blocked: bool, refused: bool = False,
             subject: str | None = None) -> str:
    """One label per cell: consistent / inconsistent / inconclusive / guard-blocked / refused
    (``subject``: only the verdicts whose ``subject_key`` it is)."""
    if refused:
        return "refused"
    vs = [v for v in verdicts if subject is None or v.subject_key == subject]
    if any(v.status == Status.INCONSISTENT for v in vs):
        return "inconsistent"
    if vs and all(v.status == Status.CONSISTENT for v in vs):
        return "consistent"
    return "guard-blocked" if blocked else "inconclusive"


__all__ = ["CORE_CLAIMS", "CoreVerdicts", "MIN_RANGE", "MIN_WIDTHS", "TERMS_CAP", "classify",
           "core_check", "core_claim", "core_options", "default_base", "etas", "evaluate_core",
           "measure_residuals", "plane_results", "radius", "rescale", "step_free_key"]


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {
    "RESCALED_AS": "twostep.compare.science.rescale",
    "SAME_ETA1": "twostep.compare.science.rescale",
    "SERIES_KEPT": "twostep.compare.science.rescale",
    "STEP_FIELDS": "twostep.compare.science.rescale",
    "STEP_ONE_FIELDS": "twostep.compare.science.rescale",
    "UNKNOWN_RESIDUAL": "twostep.compare.science.rescale",
    "WHOLE_UPDATE_FIELDS": "twostep.compare.science.rescale",
})
