"""``reuse-learning``: an outlier of W_2 carries beta_* where the theory says (docs/claims.md).

The seed's second result: with independent batches step two learns only directions of
information exponent one; with a reused batch it learns a direction of reuse exponent
``j_* = min{j : E[z sigma_*(z)^j] != 0}`` through the exact term ``k_* = j_* - 1``, provided
that term is an outlier, ``e_{k_*} = alpha2 + k_* alpha1 - k_*/2 > 0``.  Two measured facts decide
it, both free of the step sizes (``T_k = eta_2 eta_1^k D_k``):

- **does term k carry beta_*?**  The cosine of its coherent (rank-one) right vector with beta_*,
  ``c_N = mean(beta_component) / sqrt(mean(coherent_sq))`` over the seeds at width N
  (:class:`~twostep.theory.observables.ExactTerm`: the signed beta_* component of
  ``T_k^T q_{k+1}``, whose mean over batches is exactly zero for a term that does not carry
  beta_*, and the pair estimate of the squared coherent strength).  Its yardstick is a random
  direction of R^d, ``|cos| = d^{-1/2}``: "carries" needs ``|c_N|`` significantly above
  ``d^{-1/2}`` at each of the two largest converging widths (t tests on the seeds' jackknife),
  "does not carry" needs the mean over those widths of ``c_N / d^{-1/2}`` significantly inside
  (-1, 1) (:func:`pooled_below`, two one-sided t tests).  Both are stable
  in N: a carrying term's cosine tends to a constant while ``d^{-1/2}`` falls, a non-carrying
  one's has mean zero.
- **is term k an outlier?**  The sign of its coherent exponent ``e_k`` (the coherent rule,
  :func:`~twostep.compare.claims.coherent.exponent_sign`), read from two statistics: the pair
  estimate of the squared strength (``coherent_sq``), and the coherent right vector's beta_*
  component itself (``mean(beta_component)``, :func:`beta_values`), whose exponent is ``e_k``
  where the cosine tends to a constant and at most ``e_k`` anywhere (a component is at most the
  norm).  The component is a projection on one fixed direction, so the neurons' fluctuations
  enter it only through their ``d^{-1/2}`` share along beta_*: for He3 at N = 4000 it is 8 of
  its standard errors from zero with 12 seeds, where ``coherent_sq`` is 2.

Measured "learns": term ``k_*`` decided carrying, and its strength or its beta_* component
decided growing; "does not learn": decided not carrying, or the strength or the beta_* component
decided vanishing (a vanishing component means no growing outlier carries beta_*, whatever the
strength does); the two exponents decided with opposite signs leave it open. Only ``k_*`` is
tested (``k_* = 2`` for a target without a reuse exponent, or ``term``): a lower term carries no
beta_* component because ``j_*`` is the first ``j`` with ``E[z sigma_*(z)^j] != 0``, a Hermite
identity the theory evaluates exactly (and, for ``k = 0``, the information exponent's
``c_1(sigma_*) = 0``); a higher one vanishes before ``k_*`` does (``e_{k+1} = e_k - (1/2 -
alpha1)``). Measuring term 0's cosine below ``d^{-1/2}`` would take about twice the seeds that
decide term ``k_*`` (its per-seed spread is about ``2.3 d^{-1/2}``, He3 at N = 4000). A critical
``e_{k_*} = 0`` is never decided.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import stats as sps

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from ..table import Table
from .base import Claim, _blocked, _term
from .coherent import (
    MissingCoherent,
    cell_seconds,
    coherent_finding,
    coherent_values,
    exponent_sign,
)
from .results import LEVEL, Finding, Results
from .rules import GUARD_TERMS, guard_terms, measured_regime

#: The term tested for a target without a reuse exponent (He2: never learned this way): the
#: deepest whose coherent part is above the per-seed noise at N <= 4000 (docs/results.md).
DEFAULT_TERM = 2
#: Tolerance of the exponent fit behind the sign test (as ``term-exponent``'s).
SIGN_TOLERANCE = 0.1


@dataclass(frozen=True)
class Cosine:
    """The coherent cosine with beta_* of one term at one width: estimate, jackknife standard
    error, seeds, the random-direction yardstick ``d^{-1/2}`` and the one-sided p-values of
    ``|cos|`` above and below it (None where the coherent part is not resolved)."""

    N: int
    estimate: float | None
    se: float | None
    seeds: int
    bound: float
    above: float | None
    below: float | None
    note: str = ""


def coherent_cosine(Y: Sequence[float], U: Sequence[float], N: int, d: int) -> Cosine:
    """:class:`Cosine` from the seeds' signed beta_* components ``Y`` and squared coherent
    strengths ``U`` (module docstring).  The cosine ``mean(Y) / sqrt(mean(U))`` and its
    leave-one-seed-out jackknife error (t with S - 1 degrees of freedom); "above" tests
    ``|cos| > d^{-1/2}`` (two-sided in the sign: twice the one-sided p of the observed sign),
    "below" tests ``|cos| < d^{-1/2}`` (the larger of the two one-sided p's, as in an
    equivalence test).  Unresolved (None) where fewer than two seeds or the mean of U, or a
    leave-one-out mean, is not positive (the coherent part is below the noise)."""
    y, u = np.asarray(Y, float), np.asarray(U, float)
    S = y.size
    bound = 1.0 / math.sqrt(d)
    if S < 2 or u.mean() <= 0:
        return Cosine(N, None, None, S, bound, None, None,
                      "coherent part not resolved (mean coherent_sq <= 0)" if S >= 2
                      else "fewer than two seeds")
    loo_u = (u.sum() - u) / (S - 1)
    if np.any(loo_u <= 0):
        return Cosine(N, None, None, S, bound, None, None,
                      "coherent part not resolved (a leave-one-out mean coherent_sq <= 0)")
    est = float(y.mean() / math.sqrt(u.mean()))
    loo = ((y.sum() - y) / (S - 1)) / np.sqrt(loo_u)
    se = float(math.sqrt((S - 1) / S * np.sum((loo - loo.mean()) ** 2)))
    if se == 0:
        above = 0.0 if abs(est) > bound else 1.0
        below = 0.0 if abs(est) < bound else 1.0
    else:
        dof = S - 1
        above = float(min(1.0, 2 * sps.t.sf((abs(est) - bound) / se, dof)))
        below = float(max(sps.t.sf((bound - est) / se, dof), sps.t.sf((est + bound) / se, dof)))
    return Cosine(N, est, se, S, bound, above, below)


def beta_values(results: Results, config: ModelConfig, k: int) -> dict[int, list[float]]:
    """``beta_component / sqrt(left_weight)`` of term k per seed at each N, oriented so that its
    mean at the largest width is positive: ``N^{-k/2}`` times the coherent right vector's
    beta_* component (as :func:`~twostep.compare.claims.coherent.coherent_values` is its
    squared norm), whose mean grows as ``N^{e_k}`` where the cosine tends to a constant.  Seeds
    with a non-positive left weight count as NaN (a width holding one is not fitted)."""
    out: dict[int, list[float]] = {}
    for N in results.Ns(config):
        vals = []
        for m in results.get(config, N):
            t = _term(m, k)
            L = t.left_weight
            vals.append(float(t.beta_component) / math.sqrt(L)
                        if L is not None and L > 0 and t.beta_component is not None
                        else math.nan)
        out[N] = vals
    if out:
        top = np.asarray(out[max(out)], float)
        top = top[np.isfinite(top)]
        if top.size and top.mean() < 0:
            out = {N: [-v for v in vals] for N, vals in out.items()}
    return out


@dataclass(frozen=True)
class PooledBelow:
    """"Does not carry" over several widths: the mean of ``z_N = cos_N / d_N^{-1/2}`` (the
    cosine in units of a random direction's), its standard error, Welch-Satterthwaite degrees
    of freedom and the equivalence p-value of ``|mean z| < 1``."""

    z: float
    se: float
    dof: float
    p: float

    def seeds_to_decide(self, seeds: int, level: float = LEVEL) -> int | None:
        """Seeds per width that would bring ``mean z`` clear of 1 at this estimate and spread
        (80% power; None where the estimate is at or beyond the yardstick)."""
        gap = 1.0 - abs(self.z)
        if gap <= 0 or not math.isfinite(self.se):
            return None
        zq = sps.norm.ppf(1 - level) + sps.norm.ppf(0.8)
        return max(seeds + 1, int(math.ceil(seeds * (zq * self.se / gap) ** 2)) + 1)


def pooled_below(cosines: Sequence[Cosine]) -> PooledBelow | None:
    """:class:`PooledBelow` from resolved cosines at several widths (None if any is
    unresolved).  A term that does not carry beta_* has ``E z_N = 0`` at every N, and one that
    carries it has ``E z_N`` growing as ``sqrt(d)``, so the widths' mean is a fair statistic for
    "below the yardstick" and halves the variance of a single width's two.  (Above the
    yardstick is still tested width by width: a carrying term must clear it at each.)"""
    if not cosines or any(c.estimate is None or c.se is None for c in cosines):
        return None
    n = len(cosines)
    z = float(np.mean([c.estimate / c.bound for c in cosines]))
    v = [(c.se / c.bound / n) ** 2 for c in cosines]
    se = math.sqrt(sum(v))
    if se == 0:
        return PooledBelow(z, 0.0, math.inf, 0.0 if abs(z) < 1 else 1.0)
    dof = sum(v) ** 2 / sum(vi**2 / max(c.seeds - 1, 1) for vi, c in zip(v, cosines))
    p = float(max(sps.t.sf((1 - z) / se, dof), sps.t.sf((z + 1) / se, dof)))
    return PooledBelow(z, se, dof, p)


def seeds_to_decide(c: Cosine, level: float = LEVEL) -> int | None:
    """Seeds per width that would bring the cosine's interval clear of ``d^{-1/2}`` at this
    estimate and per-seed spread (None where unresolved or the estimate sits on the bound)."""
    if c.estimate is None or c.se is None or not math.isfinite(c.se):
        return None
    gap = abs(abs(c.estimate) - c.bound)
    if gap == 0:
        return None
    sd = c.se * math.sqrt(c.seeds)
    z = sps.norm.ppf(1 - level / 2) + sps.norm.ppf(0.8)   # 80% power at the level
    return max(c.seeds + 1, int(math.ceil((z * sd / gap) ** 2)) + 1)


@dataclass
class ReuseLearning(Claim):
    """``reuse-learning``: with a reused batch an outlier of W_2 carries beta_* exactly where
    ``e_{j_*-1} > 0``; with independent batches none does for ``j_* > 1`` (module docstring).

    One finding per batch mode.  Predicted: the theory's ``beta.learned`` at the config
    (``claimed``: a user's ``{"reuse": bool, "independent": bool}``, e.g. a planted false
    claim).  ``consistent`` when the measured state (learns / does not learn) is decided and
    agrees, ``inconsistent`` when it is decided and disagrees (the verdict's p-value: the largest
    BH-adjusted p of the tests that decided it), else ``inconclusive`` with what would decide
    it.  The regime guard applies per mode."""

    spectra: ClassVar[str | tuple[str, ...]] = ()  # exact terms only

    name: str = "reuse-learning"
    description: str = ("an outlier carries beta_*: with reuse where e_{j*-1} > 0, never with "
                        "independent batches")
    term: int | None = None
    claimed: Mapping[str, bool] | None = None

    def __post_init__(self) -> None:
        if self.claimed is not None and (
                not isinstance(self.claimed, Mapping)
                or set(self.claimed) != {"reuse", "independent"}
                or not all(isinstance(v, bool) for v in self.claimed.values())):
            raise ConfigError("claimed must be {'reuse': bool, 'independent': bool} (whether an "
                              f"outlier of W_2 carries beta_* in each batch mode), got "
                              f"{self.claimed!r}")
        if self.term is not None and (isinstance(self.term, bool)
                                      or not isinstance(self.term, int) or self.term < 0):
            raise ConfigError(f"term must be an integer >= 0, got {self.term!r}")

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        return [config.replace(batch="reuse"), config.replace(batch="independent")]

    def top_term(self, config: ModelConfig) -> int:
        """``k_* = j_* - 1`` (or ``term``; :data:`DEFAULT_TERM` without a reuse exponent)."""
        if self.term is not None:
            return int(self.term)
        j = predict(config.replace(batch="reuse")).target.get("reuse_exponent")
        return DEFAULT_TERM if j is None else max(0, int(j) - 1)

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        return {**self.options, "terms": guard_terms(config, max(GUARD_TERMS,
                                                                 self.top_term(config)))}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        top = self.top_term(config)
        out = []
        for cfg in self.configs(config):
            if not results.Ns(cfg):
                raise ConfigError(f"{self.name} needs measurements of both batch modes "
                                  f"(none for batch={cfg.batch})")
            out.append(self._mode_finding(cfg, top, results))
        return out

    def _mode_finding(self, cfg: ModelConfig, top: int, results: Results) -> Finding:
        mode = cfg.batch
        pred = predict(cfg)
        expect = (bool(self.claimed[mode]) if self.claimed is not None
                  else bool(pred.beta.learned))
        subject = f"{mode}: an outlier of W_2 carries beta_* (term k={top})"
        regime = measured_regime(results, cfg)
        if regime.blocked:
            return _blocked(self.name, subject, cfg, expect, regime.blocked)
        known = {t.k: t for t in pred.laws}
        tested = [top]
        Ns = results.Ns(cfg)
        usable = [N for N in Ns if regime.ok(N)]
        tail = usable[-2:]
        seconds = cell_seconds(results, cfg)
        cosines: dict[int, dict[int, Cosine]] = {}
        signs: dict[int, Finding] = {}
        betas: dict[int, Finding] = {}
        pooled: dict[int, PooledBelow | None] = {}
        pvals: dict[str, float] = {}
        for k in tested:
            cosines[k] = {}
            for N in Ns:
                ms = results.get(cfg, N)
                terms = [_term(m, k) for m in ms]
                if any(t.beta_component is None or t.coherent_sq is None for t in terms):
                    return _blocked(self.name, subject, cfg, expect,
                                    f"the measurements at N={N} were stored before twostep "
                                    "measured beta_component: rerun into a new store")
                cosines[k][N] = coherent_cosine([t.beta_component for t in terms],
                                                [t.coherent_sq for t in terms], N, ms[0].d)
            for N in tail:
                c = cosines[k][N]
                if c.above is not None:
                    pvals[f"k={k}:above@{N}"] = c.above
            pooled[k] = pooled_below([cosines[k][N] for N in tail]) if len(tail) >= 2 else None
            if pooled[k] is not None:
                pvals[f"k={k}:below"] = pooled[k].p
            exponent = known[k].exponent if k in known else cfg.alpha2 - k * (0.5 - cfg.alpha1)
            try:
                raw = coherent_values(results, cfg, k, self.name)
            except MissingCoherent as err:
                raw = err
            signs[k] = coherent_finding(self.name, f"{mode} term k={k}", cfg, exponent, raw=raw,
                                        regime=regime, tolerance=SIGN_TOLERANCE,
                                        seconds=seconds, k=k)
            betas[k] = coherent_finding(self.name, f"{mode} term k={k} beta_* component", cfg,
                                        exponent, raw=beta_values(results, cfg, k),
                                        regime=regime, tolerance=SIGN_TOLERANCE,
                                        seconds=seconds, k=k, power=1,
                                        column="<v, beta_*> / sqrt(L)")
            for key, f in ((f"k={k}:sign", signs[k]), (f"k={k}:beta-sign", betas[k])):
                sp = f.extra["sign_pvalue"]
                if math.isfinite(sp):
                    pvals[key] = sp
        table = Table(["N", "seeds", "term", "cosine with beta_*", "se", "d^-1/2",
                       "p above", "p below (this width)", "series residual"],
                      title=f"{self.name}: coherent cosine of the exact terms with beta_* "
                            f"({mode})")
        for N in Ns:
            for k in tested:
                c = cosines[k][N]
                table.add(**{"N": N, "seeds": c.seeds, "term": k, "cosine with beta_*":
                             c.estimate, "se": c.se, "d^-1/2": c.bound, "p above": c.above,
                             "p below (this width)": c.below,
                             "series residual": regime.residual.get(N)})
        critical = {k for k in tested if k in known and known[k].exponent == 0}

        def carries(k: int, adj: Mapping[str, float]) -> tuple[bool | None, str, list[str]]:
            cs = [cosines[k][N] for N in tail]
            shown = ", ".join(f"{c.estimate:.3g} +- {c.se:.2g}" if c.estimate is not None
                              else "unresolved" for c in cs)
            where = (f"cosine {shown} at N = {', '.join(map(str, tail))} against d^-1/2 = "
                     + ", ".join(f"{c.bound:.3g}" for c in cs))
            if len(tail) < 2:
                return None, f"k={k}: fewer than two converging widths", []
            if any(c.estimate is None for c in cs):
                note = next(c.note for c in cs if c.estimate is None)
                return None, f"k={k}: carrying undetermined ({note})", []
            up = [f"k={k}:above@{N}" for N in tail]
            pool = pooled[k]
            below = (f"mean cosine / d^-1/2 {pool.z:.3g} +- {pool.se:.2g}" if pool is not None
                     else "")
            if all(adj[key] < LEVEL for key in up):
                return True, f"k={k}: carries beta_* ({where})", up
            if pool is not None and adj[f"k={k}:below"] < LEVEL:
                return (False, f"k={k}: does not carry beta_* ({where}; {below} below 1, "
                        f"p = {adj[f'k={k}:below']:.2g})", [f"k={k}:below"])
            if pool is not None and abs(pool.z) < 1:
                more = pool.seeds_to_decide(min(c.seeds for c in cs))
                need = (f"about {more} seeds per width at N = "
                        f"{', '.join(map(str, tail))} (for 'does not carry')" if more
                        else f"larger N than {Ns[-1]}")
            else:
                more_up = [seeds_to_decide(c) for c in cs]
                need = (f"about {max(more_up)} seeds per width" if all(more_up)
                        else f"larger N than {Ns[-1]}")
            return None, (f"k={k}: carrying undetermined ({where}"
                          + (f"; {below}" if below else "") + f"); would decide: {need}"), []

        def grows(k: int, adj: Mapping[str, float], beta: bool = False
                  ) -> tuple[int | None, str, list[str]]:
            if k in critical:
                return (None, "" if beta else f"k={k}: e_k = 0 (critical): an outlier is never "
                        "decided", [])
            key = f"k={k}:beta-sign" if beta else f"k={k}:sign"
            sign, text = exponent_sign(
                k, betas[k] if beta else signs[k], adj.get(key, math.nan), regime, Ns, seconds,
                **({"what": f"k={k} beta_* component", "label": "exponent"} if beta else {}))
            return sign, text, ([key] if sign is not None else [])

        def decide(adj: dict[str, float]) -> tuple[str, str, float]:
            for row in table.rows:
                N, k = row["N"], row["term"]
                if f"k={k}:above@{N}" in adj:
                    row["p above"] = adj[f"k={k}:above@{N}"]
            said = f"predicted: {'learns' if expect else 'does not learn'}"
            parts, learns, lacks = [], [], []
            conflict = []
            for k in tested:
                c, ctext, ckeys = carries(k, adj)
                parts.append(ctext)
                if c is False:
                    lacks.append((k, ckeys))
                    continue
                g, gtext, gkeys = grows(k, adj)
                b, btext, bkeys = grows(k, adj, beta=True)
                parts += [t for t in (gtext, btext) if t]
                # learns: carries, and the term (or its beta_* component, which bounds it from
                # below) grows; does not learn: the term or its beta_* component vanishes
                up = [keys for sign, keys in ((b, bkeys), (g, gkeys)) if sign == 1]
                down = [keys for sign, keys in ((b, bkeys), (g, gkeys)) if sign == -1]
                if up and down:
                    conflict.append(k)
                elif c is True and up:
                    learns.append((k, ckeys + up[0]))
                elif down:
                    lacks.append((k, down[0]))
            summary = "; ".join(parts)
            if conflict:
                return ("inconclusive", f"{said}; undecided: term(s) {conflict}: the strength "
                        f"and the beta_* component have exponents of opposite signs; {summary}",
                        math.nan)
            if learns:
                got, keys = True, learns[0][1]
                state = f"learns: term {learns[0][0]} carries beta_* and grows"
            elif len(lacks) == len(tested):
                got, keys = False, [key for _, ks in lacks for key in ks]
                state = f"does not learn: term {top} vanishes or does not carry beta_*"
            else:
                open_ = [k for k in tested if k not in {j for j, _ in lacks}]
                return ("inconclusive", f"{said}; undecided: term(s) {open_} open; {summary}",
                        math.nan)
            if got == expect:
                return "consistent", f"{state}; {said}; {summary}", math.nan
            return ("inconsistent", f"{state}; {said}; {summary}",
                    max(adj[key] for key in keys))

        return Finding(self.name, subject, cfg, table,
                       "learns" if expect else "does not learn", math.nan,
                       (math.nan, math.nan), pvals, decide,
                       extra={"cosines": cosines, "signs": signs, "betas": betas,
                              "pooled": pooled, "tested": tested})
