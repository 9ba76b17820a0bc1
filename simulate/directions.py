"""Learned directions: Gram-Schmidt powers of a, overlaps, amplitudes and null floors.

docs/theory.md, section 4: the step-two update is ``sum_k eta_2 eta_1^k a^{o(k+1)}
v_k^T / k! + noise``, so outlier k has left singular vector
``q_{k+1}`` = the Gram-Schmidt of ``a^{o(k+1)}`` against ``a, ..., a^{ok}``,
and the update projected on ``q_{k+1}`` measures term k even below the bulk
edge. The powers are formed from ``sqrt(N) a`` (entries O(1)) and
orthonormalised by a float64 QR (docs/theory.md, section 7).

Every overlap here is a squared cosine, in [0, 1].

Backends (:mod:`backend`): only the product of the N x d update with the bases runs on the
update's backend (:func:`projections`); the bases (N x K QRs), overlaps and amplitudes are small
and computed on the host in float64, from inputs of any backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from array_api_compat import array_namespace

from twostep.theory.observables import BetaLearning, Projection

from . import backend as backends

#: A power is "in the span of the lower ones" (q undefined) when its QR
#: diagonal is below this fraction of its norm: ``sign`` second layers give
#: ``a^{o3} = a / N`` exactly (relative residue ~1e-16).
DEGENERATE = 1e-8

#: Left-vector identification: the best squared overlap must be at least
#: IDENTIFY_MIN and at least IDENTIFY_RATIO times the second best.
IDENTIFY_MIN = 0.3
IDENTIFY_RATIO = 2.0


def power_basis(a: np.ndarray, max_power: int) -> np.ndarray:
    """``q_1..q_K`` (N x K, float64): QR of ``(sqrt(N) a)^{o m}``, m = 1..K.

    Columns are oriented so that ``<q_m, a^{o m}> > 0``; a column whose power
    lies in the span of the lower powers is NaN (see :data:`DEGENERATE`), and so
    is every column m > N (N vectors of R^N span it already).
    """
    a = np.asarray(backends.to_numpy(a), dtype=np.float64)
    scaled = math.sqrt(a.size) * a
    powers = np.column_stack([scaled**m for m in range(1, max_power + 1)])
    out = np.full(powers.shape, np.nan)
    rank = min(powers.shape)
    Q, R = np.linalg.qr(powers[:, :rank])
    diag = np.diag(R)
    Q = Q * np.where(diag < 0, -1.0, 1.0)
    norms = np.linalg.norm(powers[:, :rank], axis=0)
    Q[:, np.abs(diag) <= DEGENERATE * norms] = np.nan
    out[:, :rank] = Q
    return out


def squared_overlap(x: np.ndarray, y: np.ndarray) -> float | None:
    """``<x, y>^2 / (||x||^2 ||y||^2)`` in [0, 1] (float64); None if x or y is zero/NaN."""
    x = np.asarray(backends.to_numpy(x), dtype=np.float64)
    y = np.asarray(backends.to_numpy(y), dtype=np.float64)
    xx, yy = float(x @ x), float(y @ y)
    if not (xx > 0 and yy > 0) or not (math.isfinite(xx) and math.isfinite(yy)):
        return None
    return float(min(1.0, (x @ y) ** 2 / (xx * yy)))


def left_overlaps(left: np.ndarray, basis: np.ndarray) -> list[float | None]:
    """Squared overlaps of a left singular vector with ``q_1..q_K`` (None where q is undefined)."""
    return [None if np.isnan(basis[0, m]) else squared_overlap(left, basis[:, m])
            for m in range(basis.shape[1])]


def identify(overlaps: Sequence[float | None]) -> int | None:
    """The power ``m`` (1-based, ``left_power``) whose ``q_m`` the left vector
    follows, or None when no overlap is clear: the largest squared overlap must
    be >= 0.3 and >= 2x the second largest."""
    ranked = sorted(((v, m + 1) for m, v in enumerate(overlaps) if v is not None), reverse=True)
    if not ranked:
        return None
    best, power = ranked[0]
    second = ranked[1][0] if len(ranked) > 1 else 0.0
    if best >= IDENTIFY_MIN and best >= IDENTIFY_RATIO * second:
        return power
    return None


def orthogonal_to(null_basis: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The null basis with the span of the real ``q_1..q_K`` projected out, re-orthonormalised.

    The null floor measures the update's noise along a direction of the law of ``q_m``.  A bare
    ``GS(b^{om})`` has overlap ~ N^{-1/2} with every signal direction ``q_j``, so it would pick up
    a share of every term (term 0 alone, of size N^{alpha2}, leaks ~ N^{alpha2 - 1/2} into it and
    dominated the floor); the real ``q_m`` (m >= 2) are orthogonal to ``a`` by construction.
    Columns stay oriented as in ``null_basis``; undefined (NaN) columns stay NaN.
    """
    out = np.full_like(null_basis, np.nan)
    cols = ~np.isnan(null_basis[0])
    real = basis[:, ~np.isnan(basis[0])]
    if not cols.any():
        return out
    X = null_basis[:, cols]
    X = X - real @ (real.T @ X)
    X = X - real @ (real.T @ X)  # twice is enough (Kahan)
    Q, R = np.linalg.qr(X)
    out[:, cols] = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
    return out


def _projections(update: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``update^T q_m`` for every defined column (d x K float64 host array; NaN columns stay
    NaN). The product runs on the update's backend; only the d x K result comes back."""
    out = np.full((update.shape[1], basis.shape[1]), np.nan)
    defined = ~np.isnan(basis[0])
    if defined.any() and not backends.is_numpy(update):
        xp = array_namespace(update)
        Q = backends.asarray(np.ascontiguousarray(basis[:, defined]), xp, update.dtype)
        out[:, defined] = backends.to_numpy(xp.astype(update.T @ Q, xp.float64))
    elif defined.any():
        # Cast q, not the update: the N x d matrix is never copied.
        out[:, defined] = np.asarray(update.T @ basis[:, defined].astype(update.dtype),
                                     dtype=np.float64)
    return out


def projections(update: np.ndarray, basis: np.ndarray, null_bases: Sequence[np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """``U^T q_m`` (d x K) and, per null draw, ``U^T q'_m`` (draws x d x K), in one pass over U.

    ``q'`` = GS(b^{o1..oK}) of an independent copy b of a, with the real ``q_1..q_K`` projected
    out (:func:`orthogonal_to`).  All bases go through a single product with the N x d update.

    ``update`` may live on any backend; the bases and both results are host numpy (float64).
    """
    basis = backends.to_numpy(basis)
    null_bases = [backends.to_numpy(nb) for nb in null_bases]
    K = basis.shape[1]
    blocks = [basis, *(orthogonal_to(nb, basis) for nb in null_bases)]
    P = _projections(update, np.concatenate(blocks, axis=1))
    nulls = (np.stack([P[:, K * (i + 1):K * (i + 2)] for i in range(len(null_bases))])
             if null_bases else None)
    return P[:, :K], nulls


def amplitudes(signal: np.ndarray, nulls: np.ndarray | None, beta: np.ndarray
               ) -> list[Projection]:
    """Per term k = 0..K-1: ``amplitude = ||U^T q_{k+1}||`` (U = W_T - W_{T-1}) and the
    squared cosine of ``U^T q_{k+1}`` with beta_*, against their null floors
    (``signal``, ``nulls`` from :func:`projections`).

    The null floor replaces a by independent vectors b of the same law: mean
    and sd (ddof 1) over the draws of ``||U^T q'_{k+1}||`` and of its squared
    cosine with beta_*. U's rows are scaled by a_i, so a uniformly random
    direction would underestimate the floor; b has the same entry law.
    """
    signal = backends.to_numpy(signal)
    nulls = None if nulls is None else backends.to_numpy(nulls)
    beta = backends.to_numpy(beta)
    out = []
    for k in range(signal.shape[1]):
        column = signal[:, k]
        entry = {"k": k, "left_power": k + 1, "amplitude": None, "null_floor": None,
                 "null_floor_sd": None, "beta_overlap": None, "null_beta_overlap": None,
                 "null_beta_overlap_sd": None}
        if not np.isnan(column[0]):
            entry["amplitude"] = float(np.linalg.norm(column))
            entry["beta_overlap"] = squared_overlap(column, beta)
        if nulls is not None:
            draws = [nulls[i, :, k] for i in range(nulls.shape[0]) if not np.isnan(nulls[i, 0, k])]
            if draws:
                norms = np.array([np.linalg.norm(v) for v in draws])
                cosines = np.array([squared_overlap(v, beta) or 0.0 for v in draws])
                entry["null_floor"] = float(norms.mean())
                entry["null_beta_overlap"] = float(cosines.mean())
                if len(draws) > 1:
                    entry["null_floor_sd"] = float(norms.std(ddof=1))
                    entry["null_beta_overlap_sd"] = float(cosines.std(ddof=1))
        out.append(Projection(**entry))
    return out


def learned_beta(signal: np.ndarray, nulls: np.ndarray | None, beta: np.ndarray
                 ) -> BetaLearning:
    """beta_* in the learned directions: ``max_k`` of the squared cosine of ``U^T q_{k+1}`` with
    beta_* (``overlap``, at term ``best_term``), and the same maximum for each null draw (``null``:
    mean over draws, ``null_sd``), so the maximum over K directions is compared with a maximum
    over K null directions (a mean of per-k null means would be biased low)."""
    def best(projected: np.ndarray) -> tuple[float, int | None]:
        cos = {k: squared_overlap(projected[:, k], beta) or 0.0
               for k in range(projected.shape[1]) if not np.isnan(projected[0, k])}
        if not cos:
            return 0.0, None
        k = max(cos, key=cos.get)
        return float(cos[k]), k

    overlap, term = best(signal)
    draws = [best(nulls[i])[0] for i in range(nulls.shape[0])] if nulls is not None else []
    return BetaLearning(overlap=overlap, best_term=term,
                        null=float(np.mean(draws)) if draws else None,
                        null_sd=float(np.std(draws, ddof=1)) if len(draws) > 1 else None,
                        null_draws=len(draws))


def coherent_part(matrix: np.ndarray, q: np.ndarray, projected: np.ndarray | None = None
                  ) -> tuple[float, float]:
    """The pair (U-statistic) estimate of the squared coherent strength of ``matrix`` along the
    left direction ``q``, and its neuron-jackknife standard error (docs/amplitudes.md, the
    coherent part).

    With rows ``m_i`` (one per neuron) and ``S = matrix^T q = sum_i q_i m_i``::

        U = ||S||^2 - sum_i q_i^2 ||m_i||^2 = sum_{i != j} q_i q_j <m_i, m_j>.

    If the rows are ``m_i = c_i vbar + zeta_i`` with ``zeta_i`` independent and mean zero given
    the batch, ``E[U] = sum_{i != j} q_i q_j c_i c_j ||vbar||^2``: the rank-one (coherent) part
    only; the diagonal ``i = j``, which carries the neurons' own fluctuations, is what is
    removed.  U is unbiased for that part and may be negative when the part is small.  For
    term k of the step-two update (``c_i = a_i^{k+1}``, ``q = q_{k+1}``) this is the squared
    BBP strength ``theta_k^2`` up to the ``O(1/N)`` diagonal.

    The standard error is the jackknife over neurons: leaving neuron i out gives
    ``U_{-i} = U - 2 q_i <S, m_i> + 2 q_i^2 ||m_i||^2`` (one matrix-vector product), and
    ``se^2 = (N-1)/N sum_i (U_{-i} - mean U_{-.})^2``.  It is conditional on the batch (the
    batch is shared by all neurons), so it measures the neuron noise only; the spread across
    seeds, which the decision rules use, includes the batch's.

    ``matrix`` (N x d) may live on any backend; ``q`` (length N) is host float64;
    ``projected`` is ``matrix^T q`` if already known (host, float64).  Returns Python floats.
    """
    q = np.asarray(backends.to_numpy(q), dtype=np.float64)
    N = q.shape[0]
    if projected is None:
        projected = _projections(matrix, q[:, None])[:, 0]
    S = np.asarray(projected, dtype=np.float64)
    if backends.is_numpy(matrix):
        rows2 = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64)
        c = np.asarray(matrix @ S.astype(matrix.dtype), dtype=np.float64)
    else:
        xp = array_namespace(matrix)
        rows2 = backends.to_numpy(xp.astype(xp.sum(matrix * matrix, axis=1), xp.float64))
        Sx = backends.asarray(S, xp, matrix.dtype)
        c = backends.to_numpy(xp.astype(matrix @ Sx, xp.float64))
    s = q * q * rows2
    U = float(S @ S - s.sum())
    delta = 2.0 * (s - q * c)
    se = math.sqrt((N - 1) / N * float(((delta - delta.mean()) ** 2).sum())) if N > 1 else math.inf
    return U, se


def left_weight(a: np.ndarray, q: np.ndarray, power: int) -> float:
    """The pair weight of the left vector ``a^{o power}`` along ``q`` (docs/amplitudes.md, the
    coherent part), in units where it has a finite limit::

        L = [(q . s^{o p})^2 - sum_i q_i^2 s_i^{2p}] / N,     s = sqrt(N) a,  p = power = k + 1.

    For rows ``a_i^{k+1} vbar`` the coherent pair sum of :func:`coherent_part` is exactly
    ``L N^{-k} ||vbar||^2``.  ``L`` is a fact about the Gaussian draw of ``a`` alone: as N grows
    it tends to the variance of the Gram-Schmidt residual of ``s^{k+1}`` (3, 6, 30 for
    k = 1, 2, 3) with a ``1/N`` correction that is large for high k (about ``1 - 248/N`` for
    k = 3), so dividing the coherent part by it removes that correction (and its seed-to-seed
    spread) from the measured exponent."""
    a = np.asarray(backends.to_numpy(a), dtype=np.float64)
    q = np.asarray(backends.to_numpy(q), dtype=np.float64)
    N = a.size
    c = (math.sqrt(N) * a) ** power
    return float(((q @ c) ** 2 - np.sum(q * q * c * c)) / N)
