"""Exponents of a mean statistic with corrections to scaling (docs/claims.md, the coherent rule).

The statistic is a per-seed unbiased estimate ``u_{N,s}`` of a squared strength ``theta(N)^2``
(the coherent part of an exact term, :attr:`ExactTerm.coherent_sq`), so its mean over seeds is
unbiased and may be fitted on a log scale once it is clearly positive.  The exponent is that of
``theta = sqrt(E u)``::

    y_N = (1/2) [log m_N + s_N^2 / (2 m_N^2)],   se(y_N) = s_N / (2 m_N),

with ``m_N`` the seed mean and ``s_N`` its standard error (the second term removes the
``-s^2/(2 m^2)`` bias of the log of a mean; the standard error is the delta method, widened
by ``t_{0.975, S-1} / z_{0.975}`` for S seeds because ``s_N`` is itself estimated from S
values).

Fits, the way statistical physics decides exponents:

- model A, ``y = c + e log N`` (weighted least squares, weights ``1/se^2``), on every window
  ``N >= N_min`` with at least :data:`MIN_FIT_WIDTHS` widths, and model B, the leading
  correction ``y = c + e log N + b N^{-omega}`` (``omega`` = :data:`OMEGA`), on windows with
  at least one more width;
- the *chosen* fit is the one on the widest window whose ``chi^2`` is acceptable
  (p >= :data:`CHI2_LEVEL`), model A before model B ("raise N_min until the fit is stable");
  when none is, the widest model-A fit with its errors scaled by ``sqrt(chi^2/dof)`` (said in
  the fit's ``note``);
- its statistical error is the WLS standard error inflated by ``sqrt(chi^2/dof)`` when that
  exceeds one; its *systematic* error is the drift of the estimate to the next narrower window
  beyond what the statistical errors explain: for nested fits the difference of the two
  estimates has variance ``se_next^2 - se_chosen^2`` under the model, so
  ``syst^2 = (e_next - e_chosen)^2 - (se_next^2 - se_chosen^2)`` when that difference is
  significant (a 1% test, :data:`DRIFT_Z2`), else 0; the same for the correction-to-scaling
  fit on the chosen window, and the larger of the two counts;
- the total error is ``sqrt(stat^2 + syst^2)``, the interval normal, and the p-value of a null
  exponent two-sided normal.

Everything here is plain numpy/scipy; the estimate is deterministic (no resampling).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
from scipy import stats

#: A window fit needs at least this many widths (model A then has one degree of freedom).
MIN_FIT_WIDTHS = 3
#: The correction-to-scaling exponent of model B: the leading finite-N correction of a mean over
#: N neurons (docs/amplitudes.md: the coherent part's own O(N^{-1/2}) terms).
OMEGA = 0.5
#: A window fit is acceptable when its chi^2 p-value is at least this.
CHI2_LEVEL = 0.05
#: A rival fit's difference counts as a drift (a systematic error) when its square exceeds this
#: many variances of the difference (6.63 = 2.576^2: a two-sided 1% test; with two rival fits a
#: 5% test flagged a drift in about 10% of pure power laws, costing their verdicts).
DRIFT_Z2 = 6.63
#: A width enters the fit only where its seed mean is this many standard errors above zero
#: (the log of a mean near zero is not a usable point; about a one-sided 0.1% test).
MIN_SIGNAL_Z = 3.0


@dataclass(frozen=True)
class WindowFit:
    """One weighted least-squares fit on ``N >= N_min``."""

    N_min: int
    widths: int
    model: str           # "A" (power law) or "B" (with the N^-omega correction)
    estimate: float
    se: float            # WLS standard error, inflated by sqrt(chi2/dof) when > 1
    chi2: float
    dof: int

    @property
    def chi2_pvalue(self) -> float:
        return float(stats.chi2.sf(self.chi2, self.dof)) if self.dof > 0 else math.nan

    @property
    def acceptable(self) -> bool:
        return self.dof > 0 and self.chi2_pvalue >= CHI2_LEVEL


@dataclass(frozen=True)
class ScalingFit:
    """An exponent with statistical and systematic errors (module docstring)."""

    estimate: float
    stat: float
    syst: float
    chosen: WindowFit | None
    windows: tuple[WindowFit, ...] = ()
    usable: tuple[int, ...] = ()
    #: ``(N, (log point, its se))`` at each usable width (:meth:`point`; a mapping given is
    #: converted)
    points: tuple[tuple[int, tuple[float, float]], ...] = ()
    note: str = ""
    #: the fit on the next narrower window (the largest widths only): a verdict needs it to
    #: agree with the chosen fit, as the exponent rule needs its last local slope to
    narrower: WindowFit | None = None

    def __post_init__(self) -> None:
        points = self.points.items() if isinstance(self.points, Mapping) else self.points
        object.__setattr__(self, "points", tuple(sorted(
            (int(N), (float(p[0]), float(p[1]))) for N, p in points)))

    def point(self, N: int) -> tuple[float, float] | None:
        """The log point and its standard error at width ``N`` (None where not usable)."""
        return next((p for n, p in self.points if n == N), None)

    def to_dict(self) -> dict:
        """The fit's fields, ``points`` as ``{N: (log point, se)}``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["points"] = dict(self.points)
        return out

    def narrower_interval(self, level: float = 0.95) -> tuple[float, float] | None:
        """The narrower window's interval (its own statistical error), or None."""
        w = self.narrower
        if w is None or not math.isfinite(w.se):
            return None
        z = float(stats.norm.ppf(0.5 + level / 2))
        return (w.estimate - z * w.se, w.estimate + z * w.se)

    @property
    def se(self) -> float:
        return math.hypot(self.stat, self.syst)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        if not math.isfinite(self.se):
            return (-math.inf, math.inf)
        z = float(stats.norm.ppf(0.5 + level / 2))
        return (self.estimate - z * self.se, self.estimate + z * self.se)

    def pvalue(self, null: float = 0.0) -> float:
        """Two-sided normal p-value of ``exponent = null``."""
        if not (math.isfinite(self.se) and self.se > 0):
            return math.nan
        return float(2 * stats.norm.sf(abs(self.estimate - null) / self.se))

    def __str__(self) -> str:
        lo, hi = self.interval()
        if self.chosen is None:
            return f"undetermined ({self.note})" if self.note else "undetermined"
        c = self.chosen
        chi = f"chi2/dof {c.chi2:.2g}/{c.dof}" if c.dof else "chi2/dof -"
        note = f"; {self.note}" if self.note else ""
        return (f"{self.estimate:.3g} [{lo:.3g}, {hi:.3g}] (stat {self.stat:.2g}, syst "
                f"{self.syst:.2g}; N >= {c.N_min}, model {c.model}, {chi}{note})")


def log_points(values: Mapping[int, Sequence[float]], power: int = 2
               ) -> dict[int, tuple[float, float] | None]:
    """``(y_N, se(y_N))`` per N of the module docstring, or None where the seed mean is not
    :data:`MIN_SIGNAL_Z` standard errors above zero (or fewer than two seeds).  ``power``: the
    values estimate ``theta^power`` (2: a squared strength, the default; 1: a signed component
    such as :attr:`ExactTerm.beta_component`, oriented so that its mean is positive), so
    ``y_N = (1/power) [log m_N + s_N^2 / (2 m_N^2)]``."""
    out: dict[int, tuple[float, float] | None] = {}
    for N in sorted(values):
        x = np.asarray(values[N], dtype=float)
        if x.size < 2 or not np.all(np.isfinite(x)):
            out[N] = None
            continue
        m = float(x.mean())
        s = float(x.std(ddof=1) / math.sqrt(x.size))
        if m <= 0 or (s > 0 and m / s < MIN_SIGNAL_Z):
            out[N] = None
            continue
        if s == 0:
            s = abs(m) * 1e-12
        # the standard error is itself estimated from a few seeds: widen it by the ratio of the
        # Student t quantile to the normal one, so a 95% interval built from it covers as a t
        # interval would (1.62x at 4 seeds, 1.20x at 8, 1.13x at 12)
        widen = float(stats.t.ppf(0.975, x.size - 1) / stats.norm.ppf(0.975))
        out[N] = ((math.log(m) + s * s / (2 * m * m)) / power, widen * s / (power * m))
    return out


def _wls(Ns: Sequence[int], y: np.ndarray, se: np.ndarray, model: str) -> WindowFit:
    x = np.log(np.asarray(Ns, dtype=float))
    cols = [np.ones_like(x), x]
    if model == "B":
        cols.append(np.asarray(Ns, dtype=float) ** -OMEGA)
    A = np.stack(cols, axis=1)
    w = 1.0 / se
    Aw, yw = A * w[:, None], y * w
    coef, *_ = np.linalg.lstsq(Aw, yw, rcond=None)
    cov = np.linalg.pinv(Aw.T @ Aw)
    resid = yw - Aw @ coef
    chi2 = float(resid @ resid)
    dof = len(Ns) - A.shape[1]
    inflate = math.sqrt(max(1.0, chi2 / dof)) if dof > 0 else 1.0
    return WindowFit(N_min=int(Ns[0]), widths=len(Ns), model=model, estimate=float(coef[1]),
                     se=float(math.sqrt(max(cov[1, 1], 0.0))) * inflate, chi2=chi2, dof=dof)


def _excess(chosen: WindowFit, rival: WindowFit) -> float:
    """The systematic error a nested ``rival`` fit reveals: when the difference of the two
    estimates is significant (``(e_r - e_c)^2 > 6.63 (se_r^2 - se_c^2)``, a two-sided 1% test of
    the difference of nested fits), ``sqrt((e_r - e_c)^2 - (se_r^2 - se_c^2))``; else 0 (a
    difference within the noise is not a drift; counting it would add the rival's own noise)."""
    diff2 = (rival.estimate - chosen.estimate) ** 2
    var = max(rival.se**2 - chosen.se**2, 0.0)
    if diff2 <= DRIFT_Z2 * var:
        return 0.0
    return math.sqrt(diff2 - var)


def fit_scaling(values: Mapping[int, Sequence[float]], power: int = 2) -> ScalingFit:
    """The exponent of ``sqrt(E u_N)`` from per-seed values ``values[N]`` (module docstring);
    with ``power = 1`` the exponent of ``E u_N`` itself (:func:`log_points`)."""
    if power not in (1, 2):
        raise ValueError(f"power must be 1 or 2, got {power!r}")
    pts = log_points(values, power)
    usable = tuple(N for N, p in pts.items() if p is not None)
    points = {N: p for N, p in pts.items() if p is not None}
    if len(usable) < 2:
        return ScalingFit(math.nan, math.inf, 0.0, None, usable=usable, points=points,
                          note=f"{len(usable)} width(s) with the mean {MIN_SIGNAL_Z:g} se above 0")
    y = np.array([points[N][0] for N in usable])
    se = np.array([points[N][1] for N in usable])
    windows: list[WindowFit] = []
    for i in range(len(usable)):
        Ns = usable[i:]
        if len(Ns) >= MIN_FIT_WIDTHS:
            windows.append(_wls(Ns, y[i:], se[i:], "A"))
        if len(Ns) >= MIN_FIT_WIDTHS + 1:
            windows.append(_wls(Ns, y[i:], se[i:], "B"))
    if not windows:  # two widths: the slope between them, no chi^2 and no systematic estimate
        only = _wls(usable, y, se, "A")
        return ScalingFit(only.estimate, only.se, 0.0, only, (only,), usable, points,
                          note="two widths: no goodness of fit")
    chosen = next((w for w in windows if w.model == "A" and w.acceptable), None)
    if chosen is None:
        chosen = next((w for w in windows if w.model == "B" and w.acceptable), None)
    note = ""
    if chosen is None:
        # no window passes the chi^2 test: keep the widest power-law fit with its errors scaled
        # by sqrt(chi^2/dof) (the scale factor of a fit whose points scatter beyond their
        # errors; with a handful of seeds the per-N errors are themselves uncertain)
        chosen = windows[0]
        note = (f"chi2/dof {chosen.chi2:.3g}/{chosen.dof} at every window: errors scaled by "
                f"{math.sqrt(chosen.chi2 / chosen.dof):.2g}")
    later = [w for w in windows if w.model == chosen.model and w.N_min > chosen.N_min]
    if not later and chosen.model == "A":
        # the next window is the last two widths' slope
        i = usable.index(chosen.N_min) + 1
        if len(usable) - i >= 2:
            later = [_wls(usable[i:], y[i:], se[i:], "A")]
    # the drift to the next narrower window and, on the same window, to model B (both nested
    # in the chosen fit): what the data say about corrections the chosen model leaves out
    rivals = later[:1] + [w for w in windows if w.model == "B" and w.N_min == chosen.N_min
                          and chosen.model == "A"]
    syst = max((_excess(chosen, w) for w in rivals), default=0.0)
    return ScalingFit(chosen.estimate, chosen.se, syst, chosen, tuple(windows), usable, points,
                      note=note, narrower=later[0] if later else None)


def seeds_needed(fit: ScalingFit, seeds: Mapping[int, int], margin: float,
                 level: float = 0.95) -> int | None:
    """Seeds per width that bring the fit's half-width under ``margin`` (statistical errors
    scale as ``1/sqrt(seeds)``; the systematic part does not shrink with seeds, so None when it
    alone exceeds the margin or when no fit exists)."""
    if fit.chosen is None or not math.isfinite(fit.stat) or margin <= 0:
        return None
    z = float(stats.norm.ppf(0.5 + level / 2))
    room = (margin / z) ** 2 - fit.syst**2
    if room <= 0:
        return None
    base = max(min(seeds.get(N, 0) for N in fit.usable), 2)
    return max(base, math.ceil(base * fit.stat**2 / room * 1.2))
