"""Top singular triplets, the bulk edge and the outliers of a weight matrix.

Top-k triplets (:func:`top_singular`)
    Block Lanczos on the Gram operator of the smaller side, in A's array-API namespace;
    it lives in :mod:`lanczos` (its docstring: the method, its stopping rule and its
    measured accuracy) and is re-exported here with :class:`TopSVD` and its constants.

Bulk edge (:func:`fit_edge`)
    Near a soft edge E the k-th largest bulk singular value sits at
    ``E - kappa x_k`` with ``x_k = (3 pi (k - 0.75) / 2)^(2/3)`` (the
    classical locations of the Airy point process, kappa the Tracy-Widom
    scale; the offset 0.75 makes the fit unbiased on Gaussian W_0, measured
    over 120 matrices at N = 500-2000, c = 0.5-2: bias <= 0.3 kappa, sd ~ 0.8
    kappa). ``(E, kappa)`` are fitted by least squares to the computed values
    from position ``m // 3`` on, with bulk index ``k = position - p + 1``
    where p is the current outlier count; outliers are the values above
    ``E + MARGIN kappa`` (MARGIN = 4: TW1 puts ~1e-4 of its mass above 4).
    p starts at 0 and the fit is repeated until p is a fixed point. Skipping
    the top third keeps near-edge outliers from pulling E up; nothing in the
    rule uses the theoretical edge ``1 + sqrt(N/d)``, so it also finds the
    visible bulk of W_2, which can sit well above it. Checked: 0 false
    outliers on 372 Gaussian matrices (N = 300-2000); spikes 8 kappa above
    the edge and more are found.

Theory (Johnstone 2001): for W_0 (N x d, entries of variance 1/d, c = N/d)
the edge is ``1 + sqrt(c)`` and the Tracy-Widom scale of the largest
singular value is ``(1 + sqrt(d/N))^(1/3) d^(-2/3) / 2``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from twostep.theory.config import exact
from twostep.theory.deprecation import moved_names
from twostep.theory.errors import ConfigError
from twostep.theory.records import EdgeFit

#: Extra singular values computed beyond ``max(top, 10)`` for the edge fit.
EXTRA = 20

AIRY_OFFSET = 0.75
MARGIN = 4.0
FIT_START = 3       # the fit skips the top m // FIT_START computed values
MIN_FIT = 8         # fewest values a fit may use


def computed_count(top: int) -> int:
    """Singular values computed per matrix: ``max(top, 10) + EXTRA`` (the edge
    fit uses the lower two thirds, at least 20 values)."""
    return max(top, 10) + EXTRA


def min_width(top: int, psi_d: float | str | Fraction = 1) -> int:
    """The smallest width N whose spectra hold ``top`` singular values: ``min(N, d) >= top``
    with ``d = round(psi_d N)`` (halves up, exactly as :func:`twostep.simulate.draws.dimensions`),
    i.e. ``N >= top`` and ``N >= (top - 1/2) / psi_d``."""
    psi = exact(psi_d)
    if not psi > 0:
        raise ConfigError(f"psi_d must be > 0, got {psi_d!r}")
    top = max(int(top), 1)
    return max(top, math.ceil((top - Fraction(1, 2)) / psi))


def check_width(N: int, d: int, top: int, psi_d: float | str | Fraction | None = None,
                top_flag: str = "top") -> None:
    """Refuse (one-line :class:`ConfigError` naming the least usable N) a width whose
    matrices are too small for ``top`` singular values: ``top <= min(N, d)``.  With
    ``psi_d`` (d/N) the message gives the smallest N that works (:func:`min_width`)."""
    side = min(N, d)
    if top <= side:
        return
    least = f"N >= {min_width(top, psi_d)}" if psi_d is not None else "a larger N"
    raise ConfigError(f"N={N} is too small for {top_flag} = {top}: the spectra need {top} "
                      f"singular values but min(N, d) = {side} (d = psi_d N = {d}); use "
                      f"{least} or {top_flag} <= {side}")


def bulk_edge_theory(N: int, d: int) -> float:
    """Edge ``1 + sqrt(N/d)`` of W_0's singular values (docs/theory.md, the BBP section)."""
    return 1.0 + math.sqrt(N / d)


def tracy_widom_scale(N: int, d: int) -> float:
    """Tracy-Widom scale of the top singular value of W_0:
    ``(1 + sqrt(d/N))^(1/3) d^(-2/3) / 2`` (Johnstone 2001, mapped to singular
    values of the N x d matrix with entries of variance 1/d)."""
    return 0.5 * (1.0 + math.sqrt(d / N)) ** (1.0 / 3.0) * d ** (-2.0 / 3.0)


def full_spectrum(A: np.ndarray) -> np.ndarray:
    """All singular values (``np.linalg.svd(compute_uv=False)``), descending, float64."""
    return np.linalg.svd(A, compute_uv=False).astype(np.float64)


def airy_positions(k: np.ndarray) -> np.ndarray:
    """``x_k = (3 pi (k - 0.75) / 2)^(2/3)``: distance of the k-th bulk value below
    the edge in Tracy-Widom units (see the module docstring)."""
    return (1.5 * math.pi * (np.asarray(k, dtype=float) - AIRY_OFFSET)) ** (2.0 / 3.0)


def _fit(values: np.ndarray, p: int, start: int) -> tuple[float, float, float, int]:
    positions = np.arange(max(start, p), len(values))
    x = airy_positions(positions - p + 1)
    design = np.column_stack([np.ones_like(x), -x])
    (edge, kappa), *_ = np.linalg.lstsq(design, values[positions], rcond=None)
    fitted = design @ np.array([edge, kappa])
    rms = float(np.sqrt(np.mean((values[positions] - fitted) ** 2)))
    return float(edge), float(kappa), rms, len(positions)


def fit_edge(values: np.ndarray, *, margin: float = MARGIN) -> EdgeFit:
    """Empirical bulk edge and outlier count from the top singular values
    (descending); the rule is in the module docstring."""
    rule = (f"Airy fit from position m//{FIT_START}, offset {AIRY_OFFSET}, outliers above "
            f"edge + {margin:g} kappa")
    values = np.asarray(values, dtype=float)
    m = len(values)
    start = m // FIT_START
    if m - start < MIN_FIT:
        return EdgeFit(None, None, None, 0, 0, None, False,
                       f"only {m} singular values; the fit needs >= {MIN_FIT} below the top third",
                       rule)
    p = 0
    seen = set()
    while True:
        if m - max(start, p) < MIN_FIT:
            return EdgeFit(None, None, None, p, m - max(start, p), None, False,
                           f"{p} outliers leave fewer than {MIN_FIT} bulk values to fit", rule)
        edge, kappa, rms, used = _fit(values, p, start)
        if not kappa > 0:
            return EdgeFit(None, None, None, 0, used, None, False,
                           "the computed values do not decrease like a soft edge", rule)
        new_p = int(np.count_nonzero(values > edge + margin * kappa))
        if new_p == p:
            return EdgeFit(edge, kappa, margin * kappa, p, used, rms / kappa, True, rule=rule)
        if new_p in seen:  # a cycle: keep the larger count (conservative edge)
            p = max(p, new_p)
            edge, kappa, rms, used = _fit(values, p, start)
            count = int(np.count_nonzero(values > edge + margin * kappa))
            return EdgeFit(edge, kappa, margin * kappa, count, used, rms / kappa, True,
                           "outlier count cycled; kept the larger", rule)
        seen.add(p)
        p = new_p


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {
    "DENSE_LIMIT": "twostep.simulate.lanczos",
    "MAX_ITERATIONS": "twostep.simulate.lanczos",
    "OVERSAMPLE": "twostep.simulate.lanczos",
    "RTOL": "twostep.simulate.lanczos",
    "TopSVD": "twostep.simulate.lanczos",
    "top_singular": "twostep.simulate.lanczos",
})
