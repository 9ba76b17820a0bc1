"""The coherent cosine of an exact term's right vector with beta_*, and its tests against a
random direction's ``d^{-1/2}``: ``reuse-learning``'s "does term k carry beta_*?"
(:mod:`twostep.compare.science.claims.learning`'s docstring says why these statistics).

- :class:`Cosine`, :func:`coherent_cosine`: the cosine at one width, its jackknife error and
  one-sided p-values above and below the yardstick;
- :class:`PooledBelow`, :func:`pooled_below`: "does not carry" pooled over widths;
- :func:`seeds_to_decide`: the seeds that would decide a cosine;
- :func:`beta_values`: the signed beta_* component per seed, whose exponent the sign rule reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from twostep.theory.config import ModelConfig

from .base import _term
from .results import LEVEL, Results


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
    beta_* component (as :func:`~twostep.compare.science.claims.coherent.coherent_values` is its
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
