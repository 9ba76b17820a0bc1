"""The rescaling of one measurement's exact-term statistics to other step sizes, and the
results of a plane of configs built from base measurements that way.

What is rescaled, what is emptied and the residual rule are described in the docstring of
:mod:`twostep.compare.plans.core` (the core view that runs on these); :mod:`.core` re-exports every
name here.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from twostep.simulate.measurement import Measurement, field_defaults, fields_of
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.fields import scale_of
from twostep.theory.observables import Series
from twostep.theory.records import P1Stats

from .claims import Results

__all__ = ["RESCALED_AS", "SAME_ETA1", "SERIES_KEPT", "STEP_FIELDS", "STEP_ONE_FIELDS",
           "UNKNOWN_RESIDUAL", "WHOLE_UPDATE_FIELDS", "etas", "measure_residuals",
           "plane_results", "radius", "rescale", "step_free_key"]

#: Step-size fields of a config (everything else keys the random draws' meaning: a rescaling
#: maps between configs that agree on all other fields).
STEP_FIELDS = ("alpha1", "alpha2", "etabar1", "etabar2")

#: Two step sizes eta_1 are "the same" when they differ by at most this much, relatively.
SAME_ETA1 = 1e-12

#: What the regime guard says of a width whose rescaled residual is unknown (rule 3; the
#: rescaled ``series.residual_missing``, read by ``claims.measured_regime``).
UNKNOWN_RESIDUAL = ("core view: the series residual at this eta1 is unknown; see "
                    "compare/plans/core.py, the residual rule")

#: The fields of ``series`` that do not depend on the step sizes (declared ``invariant``),
#: copied into a rescaled measurement; the others are rescaled or set as they declare.
SERIES_KEPT = tuple(f.name for f in dataclasses.fields(Series) if scale_of(f) == "invariant")

#: What a rescaling does with each kind of :class:`Measurement` field
#: (``simulate.measurement.FIELD_KINDS``: every kind is here, tests/test_core.py checks it).
RESCALED_AS = {
    "run": "kept, with the config of the target",
    "width": "kept",
    "exact terms": "rescaled (compare/plans/core.py's module docstring)",
    "step one": "kept when eta_1 does not change, else emptied",
    "step two": "emptied",
    "per step": "emptied",
}
#: The fields of a :class:`Measurement` that describe the whole update or W_2 (not derivable):
#: a rescaled measurement holds each field's default (None, ``()``, or no spectra).
WHOLE_UPDATE_FIELDS = fields_of("step two", "per step")
#: Fields that are functions of W_1 only (kept when eta_1 does not change; None otherwise).
STEP_ONE_FIELDS = fields_of("step one")


# -- the radius of convergence -------------------------------------------------------------------

def radius(activation: str) -> float | None:
    """``R_sigma`` of an activation name or expression (:attr:`twostep.theory.Function.radius`):
    the elementwise Taylor series of sigma' at any real point converges within this distance
    (a lower bound on the radius).  None when not known here."""
    from twostep.theory.functions import parse_function

    return parse_function(activation).radius


# -- rescaling -----------------------------------------------------------------------------------

def step_free_key(config: ModelConfig) -> str:
    """The key of a config's step-size-free part (configs with equal keys share their core)."""
    return config.replace(alpha1=0.0, alpha2=0.0, etabar1=1.0, etabar2=1.0).key()


def etas(config: ModelConfig, N: int) -> tuple[float, float]:
    """``(eta_1, eta_2)`` at width N, computed as the simulator computes them."""
    from twostep.simulate.gd import default_steps

    s1, s2 = default_steps(config)
    return s1.eta(N), s2.eta(N)


def _check_pair(config_from: ModelConfig, config_to: ModelConfig) -> None:
    if step_free_key(config_from) != step_free_key(config_to):
        diff = [f for f in ("activation", "target", "noise", "psi_d", "psi_n", "batch",
                            "second_layer", "first_layer", "loss")
                if getattr(config_from, f) != getattr(config_to, f)]
        raise ConfigError(f"a rescaling changes step sizes only; the configs differ in "
                          f"{', '.join(diff)}")


def _scaled(x: Any, s: float) -> Any:
    return None if x is None else float(x) * s


@dataclasses.dataclass(frozen=True)
class _Factors:
    """The factors of one rescaling: ``u = eta_1'/eta_1``, ``v = eta_2'/eta_2``, ``scale[k] =
    s_k = v u^k``, whether eta_1 is unchanged (``same``), the term ``k`` of the record being
    rescaled, and the values of the fields declared ``given``."""

    u: float
    v: float
    scale: Sequence[float]
    same: bool
    k: int | None = None
    given: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _term(x: Any, field: dataclasses.Field, f: _Factors, power: int) -> Any:
    """``x`` times ``s_k^power``: a number, or a sequence entry by entry (None: the field's
    empty default, ``()``, for a sequence field)."""
    s = f.scale[int(f.k)] ** power
    if isinstance(x, (list, tuple)) or (x is None and field.default == ()):
        return tuple(_scaled(y, s) for y in x or ())
    return _scaled(x, s)


#: How each declared scale (twostep.theory.fields.SCALES) rescales a field's value: a function
#: of (value, field, factors).  tests/test_fields.py checks that every scale is here.
RESCALE = {
    "invariant": lambda x, field, f: copy.deepcopy(x),
    "term": lambda x, field, f: _term(x, field, f, 1),
    "term_sq": lambda x, field, f: _term(x, field, f, 2),
    "per_term": lambda x, field, f: tuple(_scaled(y, f.scale[m]) for m, y in enumerate(x or ())),
    "ratio": lambda x, field, f: tuple(_scaled(y, f.u) for y in x or ()),
    "update": lambda x, field, f: _scaled(x, f.v) if f.same else None,
    "step_one": lambda x, field, f: copy.deepcopy(x) if f.same else None,
    "given": lambda x, field, f: f.given[field.name],
    "none": lambda x, field, f: None,
}


def rescaled(record: Any, factors: _Factors) -> Any:
    """``record`` (an observable of theory/observables.py) at the target's step sizes: every
    field rescaled as it declares (its ``scale``, theory/fields.py, by :data:`RESCALE`).  A
    field declared ``given`` must have its value in ``factors.given``."""
    missing = [f.name for f in dataclasses.fields(record)
               if scale_of(f) == "given" and f.name not in factors.given]
    if missing:
        raise ValueError(f"{type(record).__name__}: no value given for the field(s) "
                         f"{', '.join(missing)} (declared scale 'given')")
    return dataclasses.replace(record, **{
        f.name: RESCALE[scale_of(f)](getattr(record, f.name), f, factors)
        for f in dataclasses.fields(record)})


def _other_eta1_residual(base_res: float | None, measured_residual: float | None, tol: float,
                         eta1: float, t1: float, p1_abs: float | None, R: float | None
                         ) -> tuple[str, float | None]:
    """``(rule, residual)`` at a step size ``t1`` other than the measured ``eta1``: measured
    by the simulate-side core when given, else carried (rule 2) or unknown (rule 3, the rule
    saying why) as in the module docstring of :mod:`.core`."""
    if measured_residual is not None:
        return "measured by simulate.core at this eta1", float(measured_residual)
    u = t1 / eta1
    certified = (R is not None and p1_abs is not None and t1 * p1_abs < R)
    if u < 1 and base_res is not None and base_res <= tol and certified:
        return f"carried from eta1 = {eta1:.6g} >= {t1:.6g}", base_res
    why = ("eta1 above the measured one" if u > 1 else
           "no residual measured" if base_res is None else
           "the series diverges at the measured eta1" if base_res > tol else
           "the radius of convergence of sigma is not known here" if R is None else
           f"eta1 max|P1| = {t1 * p1_abs:.3g} is not below R_sigma = {R:.3g}")
    return f"unknown ({why})", None


def rescale(measurement: Measurement | Mapping[str, Any], config_from: ModelConfig,
            config_to: ModelConfig, *, measured_residual: float | None = None
            ) -> Measurement:
    """The :class:`Measurement` of ``config_to``'s exact-term statistics from one of
    ``config_from`` at the same (N, seed) (the module docstring of :mod:`.core`: what is
    rescaled, what is removed, the residual rule); a stored dict is read with
    ``Measurement.from_dict``.
    ``measured_residual``: the series residual at ``config_to``'s step sizes measured by
    :func:`twostep.simulate.core.Core.measure` (:func:`measure_residuals`); it replaces rules 2
    and 3."""
    from twostep.simulate.terms import SERIES_TOLERANCE

    _check_pair(config_from, config_to)
    m = Measurement.from_dict(measurement)
    terms, series = m.terms, m.series
    if not terms or not series:
        raise ConfigError("the core needs a measurement with exact terms and series "
                          "diagnostics (run with terms >= 1)")
    N = int(m.N)
    eta1, eta2 = float(series.eta1), float(series.eta2)
    f1, f2 = etas(config_from, N)
    if abs(f1 / eta1 - 1) > 1e-12 or abs(f2 / eta2 - 1) > 1e-12:
        raise ConfigError(f"the measurement's step sizes (eta1 = {eta1:.6g}, eta2 = {eta2:.6g}) "
                          f"are not those of config_from at N = {N} ({f1:.6g}, {f2:.6g})")
    t1, t2 = etas(config_to, N)
    u, v = t1 / eta1, t2 / eta2
    same = abs(u - 1) <= SAME_ETA1
    scale = [v * u**k for k in range(1 + max(int(t.k) for t in terms))]  # scale[k], by k

    p1 = series.p1 or P1Stats()
    p1_abs = None if p1.max is None else float(p1.max) / eta1   # max|P1_ij|, step-size free
    new_p1 = P1Stats(max=None if p1_abs is None else p1_abs * t1,
                     fraction_above=p1.fraction_above if same else None)
    R = radius(config_to.activation)
    tol = float(SERIES_TOLERANCE if series.tolerance is None else series.tolerance)
    if same:
        rule, residual = "measured", series.residual
    else:
        rule, residual = _other_eta1_residual(series.residual, measured_residual, tol,
                                              eta1, t1, p1_abs, R)
    # every field of the terms and the series as it declares (theory/fields.py, rescaled)
    factors = _Factors(u, v, scale, same, given={
        "eta1": t1, "eta2": t2, "residual": residual,
        "converges": residual is not None and residual <= tol, "p1": new_p1,
        "residual_missing": UNKNOWN_RESIDUAL if residual is None else None,
        "core_rule": rule, "radius": R, "core_from": config_from,
        "core_scales": tuple(scale)})
    new_terms = tuple(rescaled(t, dataclasses.replace(factors, k=int(t.k))) for t in terms)
    return dataclasses.replace(
        m, config=config_to, terms=new_terms, series=rescaled(series, factors),
        options=copy.deepcopy(m.options), versions=copy.deepcopy(m.versions),
        timing=copy.deepcopy(m.timing),
        **field_defaults(WHOLE_UPDATE_FIELDS),
        **({} if same else field_defaults(STEP_ONE_FIELDS)))


def measure_residuals(base: ModelConfig, configs: Sequence[ModelConfig], Ns: Sequence[int],
                      seeds: Sequence[int], K: int) -> dict[tuple[str, int, int, float], float]:
    """The series residual of K exact terms at every distinct ``eta_1`` of ``configs``,
    measured on the simulate-side core of each (N, seed) (:mod:`twostep.simulate.core`: one
    GEMM per ``eta_1``), keyed ``(step-free key of base, N, seed, eta_1)`` for
    :func:`plane_results`.  One core at a time is held (two N x n and K + 1 N x d float64
    matrices)."""
    from twostep.simulate import core as sim_core

    out: dict[tuple[str, int, int, float], float] = {}
    for N in Ns:
        wanted = sorted({etas(c, N) for c in configs})
        for seed in seeds:
            c = sim_core.build(base, N, seed, K)
            for t1, t2 in wanted:
                key = (step_free_key(base), int(N), int(seed), _eta_key(t1))
                if key not in out:
                    out[key] = c.measure(t1, t2, top=1)["series"].residual
            del c
    return out


def _eta_key(eta1: float) -> float:
    return float(f"{eta1:.12g}")


def plane_results(results: Results, base_config: ModelConfig | Sequence[ModelConfig],
                  configs: Sequence[ModelConfig], *,
                  residuals: Mapping[tuple[str, int, int, float], float] | None = None
                  ) -> Results:
    """A :class:`Results` holding, for every config of ``configs``, the rescaled measurements
    of the base config(s) with the same step-size-free part, at every (N, seed) measured.
    ``residuals`` (:func:`measure_residuals`) gives the measured series residual at each
    config's ``eta_1``."""
    bases = [base_config] if isinstance(base_config, ModelConfig) else list(base_config)
    by_key = {step_free_key(b): b for b in bases}
    out = Results()
    for cfg in configs:
        base = by_key.get(step_free_key(cfg))
        if base is None:
            raise ConfigError(f"no base measurement shares the step-size-free part of "
                              f"{cfg.to_json()} (only step sizes may differ)")
        for N in results.Ns(base):
            for seed, m in zip(results.seeds(base, N), results.get(base, N)):
                r = None if residuals is None else residuals.get(
                    (step_free_key(base), int(N), int(seed), _eta_key(etas(cfg, N)[0])))
                out.add(cfg, N, seed, rescale(m, base, cfg, measured_residual=r))
    return out
