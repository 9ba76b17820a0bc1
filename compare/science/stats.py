"""Statistics of convergence across N: per-N intervals, log-log fits, local slopes.

Everything here uses scipy.stats (t intervals, Welch tests, the bootstrap, the
Benjamini-Hochberg procedure); nothing is hand-rolled that scipy has.

Conventions
-----------
- ``values[N]`` is the array of one statistic over seeds at width N.  Seeds are independent
  across N (``simulate`` seeds its streams from ``(seed, N)``), so consecutive-N comparisons
  are two-sample (Welch) comparisons.
- A growth exponent is the slope of ``log(statistic)`` against ``log N``.
- Local slope between ``N_i < N_{i+1}``:
  ``(mean log s(N_{i+1}) - mean log s(N_i)) / log(N_{i+1}/N_i)`` with the Welch interval of
  the difference of means divided by the log ratio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Default two-sided level of every interval.
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval and a p-value against a null value."""

    estimate: float
    low: float
    high: float
    pvalue: float = float("nan")
    n: int = 0

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def confidence_interval(self) -> tuple[float, float]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def mean_interval(x: Sequence[float], *, null: float = 0.0, level: float = LEVEL) -> Interval:
    """Mean over seeds with its Student-t interval (``scipy.stats.ttest_1samp``).

    With a single seed the interval is infinite (no spread can be estimated).
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError("no values")
    _check_finite(x, "mean_interval")
    m = float(x.mean())
    if x.size < 2 or np.all(x == x[0]):
        return Interval(m, -math.inf if x.size < 2 else m, math.inf if x.size < 2 else m,
                        float("nan"), int(x.size))
    res = stats.ttest_1samp(x, null)
    ci = res.confidence_interval(confidence_level=level)
    return Interval(m, float(ci.low), float(ci.high), float(res.pvalue), int(x.size))


def local_slopes(values: Mapping[int, Sequence[float]], *, predicted: float | None = None,
                 level: float = LEVEL) -> list[tuple[int, int, Interval]]:
    """Slopes of ``mean log s`` between consecutive N, with Welch intervals.

    The p-value tests the slope against ``predicted`` (when given): the later sample is shifted by
    ``predicted * log(N2/N1)`` and compared with the earlier one (``scipy.stats.ttest_ind``,
    ``equal_var=False``).
    """
    Ns = sorted(values)
    out = []
    for n1, n2 in zip(Ns[:-1], Ns[1:]):
        x1 = _logs(values[n1])
        x2 = _logs(values[n2])
        scale = math.log(n2 / n1)
        shift = (predicted or 0.0) * scale
        slope = (x2.mean() - x1.mean()) / scale
        if min(x1.size, x2.size) < 2 or (np.ptp(x1) == 0 and np.ptp(x2) == 0):
            out.append((n1, n2, Interval(slope, -math.inf, math.inf, float("nan"),
                                         x1.size + x2.size)))
            continue
        res = stats.ttest_ind(x2 - shift, x1, equal_var=False)
        ci = res.confidence_interval(confidence_level=level)
        out.append((n1, n2, Interval(float(slope), float(ci.low + shift) / scale,
                                     float(ci.high + shift) / scale,
                                     float(res.pvalue) if predicted is not None else float("nan"),
                                     x1.size + x2.size)))
    return out


def fit_exponent(values: Mapping[int, Sequence[float]], *, predicted: float | None = None,
                 level: float = LEVEL, n_resamples: int = 2000,
                 rng: np.random.Generator | None = None) -> Interval:
    """Least-squares slope of ``mean log s`` against ``log N`` with a bootstrap CI over seeds.

    Seeds are resampled independently within each N: one ``scipy.stats.bootstrap`` call with
    one sample per N (``paired=False``), the statistic being the slope of the resampled means;
    percentile method (the BCa correction is unstable with a handful of seeds).  ``rng``
    (default ``default_rng(0)``) makes the interval deterministic.
    The p-value is the two-sided bootstrap p-value of ``predicted`` (the fraction of resampled
    slopes on the far side of it, doubled), or NaN without a prediction.
    """
    Ns = sorted(values)
    if len(Ns) < 2:
        raise ValueError("a fit needs at least two values of N")
    logs = [_logs(values[n]) for n in Ns]
    logN = np.log(np.asarray(Ns, dtype=float))
    xc = logN - logN.mean()
    denom = float(xc @ xc)

    def slope_of(means: np.ndarray) -> np.ndarray:
        return (means - means.mean(axis=-1, keepdims=True)) @ xc / denom

    estimate = float(slope_of(np.array([v.mean() for v in logs])))
    if min(v.size for v in logs) < 2:
        return Interval(estimate, -math.inf, math.inf, float("nan"), sum(v.size for v in logs))
    rng = rng if rng is not None else np.random.default_rng(0)

    def slope_of_samples(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        return slope_of(np.stack([s.mean(axis=axis) for s in samples], axis=-1))

    # one sample per N, resampled independently (paired=False): seeds within each N
    res = stats.bootstrap(tuple(logs), slope_of_samples, n_resamples=n_resamples,
                          confidence_level=level, method="percentile", random_state=rng,
                          vectorized=True, paired=False)
    slopes = res.bootstrap_distribution
    low, high = res.confidence_interval
    p = float("nan")
    if predicted is not None:
        frac = min(np.mean(slopes <= predicted), np.mean(slopes >= predicted))
        p = float(min(1.0, 2 * frac + 1.0 / (slopes.size + 1)))
    return Interval(estimate, float(low), float(high), p, sum(v.size for v in logs))


def adjust_pvalues(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).

    NaN entries (tests that were not run) are passed through untouched.
    """
    p = np.asarray(pvalues, dtype=float)
    out = p.copy()
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return [float(x) for x in out]


def welch_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided Welch p-value of ``mean x > mean y``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if min(x.size, y.size) < 2:
        return float("nan")
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return 0.0 if x.mean() > y.mean() else 1.0
    return float(stats.ttest_ind(x, y, equal_var=False, alternative="greater").pvalue)


def _logs(x: Sequence[float]) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    _check_finite(x, "log-log fit")
    if np.any(x <= 0):
        raise ValueError("a growth exponent needs positive values")
    return np.log(x)


def _check_finite(x: np.ndarray, where: str) -> None:
    if not np.all(np.isfinite(x)):
        from twostep.theory.errors import NonFiniteError

        raise NonFiniteError(f"{where}: {np.count_nonzero(~np.isfinite(x))} non-finite value(s)")
