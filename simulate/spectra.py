"""Top singular triplets, the bulk edge and the outliers of a weight matrix.

Top-k triplets (:func:`top_singular`)
    Block Lanczos with full reorthogonalisation on the Gram operator of the
    smaller side (``A^T A`` on R^d when d <= N, else ``A A^T``), started from
    a Gaussian block drawn from the run's Generator (reproducible), or from a
    caller's approximate vectors (``start``, e.g. W_1's when computing W_2's).
    A may come from any array-API namespace (``array_api_compat``): the Krylov
    basis and every product with A or with the basis (BLAS-3) live in A's
    namespace, device and dtype (float32 GEMMs for a float32 run); only small
    matrices come to the host, in float64: the projected matrix
    ``T = K^T (A^T A) K`` (one projection of each new block gives its block
    of T exactly), the b x b Gram eigenproblems that orthonormalise each new
    block (SVQB, Gram matrix in float64; directions below the rounding level
    of the products, ``10 eps sqrt(side)`` of the block's largest column
    before projection, are a breakdown and fresh Gaussian columns replace
    them; the block is then projected once more against K and
    re-orthonormalised),
    and the Ritz problem. The projections on K run on one thread for numpy
    (latency-bound; :func:`_serial`). T is formed explicitly, so the Ritz values are a Rayleigh-Ritz
    approximation from span(K) whatever happens to the recurrence. Results
    are host numpy float64. Ritz checks run at iterations 6, 8, 10, ...; the
    iteration stops when every wanted Ritz value has an error estimate
    ``min(r, r^2 / gap) <= tol theta`` (r the residual
    ``||A^T A v - theta v||``, gap the distance to the nearest other Ritz
    value; :func:`_error_bound`) with ``tol = max(1e-7, 50 eps)`` of the
    dtype, or, in float32, when no wanted Ritz value grew by more than
    ``2e-4 theta`` since the previous check (Ritz values of nested subspaces
    only grow towards the true ones, and geometrically: measured at N = 2000,
    the error at the stop is 1e-6 relative for the top 10 and <= 0.003
    Tracy-Widom units for all 30, the float32 floor of ``||A v||``, where the
    error bound alone asked 2-4 more iterations). Values are reported as
    ``||A v||``, with the true residual ``max ||A^T u - sigma v|| / sigma_1``.
    Measured against a dense float64 SVD (N = 2000 and 4000, W_1, W_2 and the
    update of the benchmark's run, float32): top-10 relative error <= 1.6e-6,
    all 30 values within 0.01 Tracy-Widom units. A warm start from W_1's
    triplets cuts W_2's iterations from 14 to 12 (N = 2000) and 18 to 14
    (N = 4000) at the same accuracy. Tested
    at N = 1000 (<= 1e-4, every value within 0.05 Tracy-Widom units) and
    against PROPACK (``scipy.sparse.linalg.svds``). Matrices with
    ``min(N, d) <= DENSE_LIMIT`` use a dense float64 SVD (cheaper than
    iterating there).

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

import contextlib
import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import array_api_compat
import numpy as np
from threadpoolctl import ThreadpoolController

from twostep.theory.config import exact
from twostep.theory.errors import ConfigError

#: Below this min(N, d) the full dense SVD is used (a few ms).
DENSE_LIMIT = 256
#: Extra singular values computed beyond ``max(top, 10)`` for the edge fit.
EXTRA = 20
#: Oversampling of the Lanczos block beyond the wanted count.
OVERSAMPLE = 10
MAX_ITERATIONS = 60
RTOL = 1e-7
FIRST_CHECK = 6
CHECK_STRIDE = 2
NOISE_EPS = 10.0
STALL_EPS = 1700.0   # float32: 2e-4 of theta; float64: 4e-13
FLOOR_EPS = 50.0

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


@dataclass
class TopSVD:
    """Top singular triplets: ``values`` descending, ``left`` (N x m) and
    ``right`` (d x m) unit columns, float64."""

    values: np.ndarray
    left: np.ndarray
    right: np.ndarray
    method: str
    iterations: int
    residual: float   # max ||A^T u - sigma v|| / sigma_1 over the triplets
    converged: bool

    def info(self) -> dict:
        return {"method": self.method, "iterations": self.iterations,
                "residual": self.residual, "converged": self.converged}


@functools.lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _serial():
    """Run the Lanczos bookkeeping (projections on the basis, QR of s x b, eigh
    of the projected matrix) on one thread: these calls are small and
    latency-bound, and on a loaded machine a multi-threaded OpenBLAS waiting
    for a descheduled worker is 4-100x slower (measured on the 2-core dev box).
    The Gram products with A, the real cost, keep all threads."""
    return _controller().limit(limits=1, user_api="blas")


#: Run the projections on the Krylov basis on one thread (numpy): side x cols x b GEMMs of
#: about a millisecond each, latency-bound like the rest of the bookkeeping (see _serial).
SERIAL_PROJECTIONS = True


def _bookkeeping():
    return _serial() if SERIAL_PROJECTIONS else contextlib.nullcontext()


def _tolerance(dtype: np.dtype, rtol: float) -> float:
    # Relative error asked of every wanted Ritz value: rtol, but no finer than 50 eps of
    # the dtype (float32: 6e-6, i.e. singular values to ~3e-6 relative). It is relative to
    # each theta_i, not to theta_1: a large outlier does not excuse the bulk values (a
    # theta_1-relative floor left W_2's bulk 0.8 Tracy-Widom units low at N = 4000).
    return max(rtol, FLOOR_EPS * float(np.finfo(dtype).eps))


def _top_ritz(T: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The m largest eigenpairs of the projected matrix, descending (LAPACK
    ``syevr`` on that index range only: 2-4x faster than the full ``eigh``)."""
    import scipy.linalg  # here: the module is imported by `twostep --help` (min_width)

    cols = T.shape[0]
    m = min(m, cols)
    with _serial():
        theta, Z = scipy.linalg.eigh(T, subset_by_index=[cols - m, cols - 1], driver="evr",
                                     check_finite=False)
    return theta[::-1], Z[:, ::-1]


def _error_bound(theta: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """Error estimate of the Ritz values ``theta[:k]`` (k = len(residual)):
    ``min(r, r^2 / gap)`` with ``gap`` the distance to the nearest other Ritz
    value less ``r`` (Kato-Temple / Saad, Numerical Methods for Large
    Eigenvalue Problems, Thm 3.8; the Ritz gap stands in for the true one)."""
    k = residual.size
    gaps = np.full(k, np.inf)
    diffs = np.abs(np.diff(theta))
    gaps[:k] = np.minimum(gaps[:k], diffs[:k])
    gaps[1:k] = np.minimum(gaps[1:k], diffs[:k - 1])
    gaps = gaps - residual
    quadratic = np.where(gaps > 0, residual**2 / np.where(gaps > 0, gaps, 1.0), np.inf)
    return np.minimum(residual, quadratic)


def _dense(A: np.ndarray, m: int) -> TopSVD:
    # small matrices only (side <= DENSE_LIMIT): one thread, as for the Lanczos bookkeeping
    with _serial():
        U, s, Vt = np.linalg.svd(np.asarray(A, dtype=np.float64), full_matrices=False)
    return TopSVD(values=s[:m], left=U[:, :m], right=Vt[:m].T, method="dense",
                  iterations=0, residual=0.0, converged=True)


def _host(x) -> np.ndarray:
    """A host numpy copy (or view) of an array of any namespace: numpy itself, DLPack for
    host arrays of other libraries (array_api_strict, torch on the CPU), else the library's
    own device-to-host copy (CuPy ``get``, torch ``cpu``)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.from_dlpack(x)
    except (TypeError, BufferError, RuntimeError, ValueError, AttributeError):
        pass
    for method in ("get", "cpu"):
        if hasattr(x, method):
            x = getattr(x, method)()
            return x if isinstance(x, np.ndarray) else np.asarray(x.numpy())
    return np.asarray(x)


def _svqb(S: np.ndarray, floor: float | None = None) -> np.ndarray:
    """``W`` with ``(Y W)^T (Y W) = I`` from the Gram matrix ``S = Y^T Y`` (SVQB, Stathopoulos
    & Wu 2002): ``V diag(lambda)^(-1/2)``, largest lambda first. With ``floor`` the
    directions whose lambda is below it are left out (W has fewer columns); without, the
    eigenvalues below ``1e-13 lambda_max`` are raised to that."""
    with _serial():
        lam, V = np.linalg.eigh(np.asarray(S, dtype=np.float64))
    lam, V = lam[::-1], V[:, ::-1]
    if floor is not None:
        keep = lam > floor
        return V[:, keep] / np.sqrt(lam[keep])
    top = lam[0] if lam[0] > 0 else 1.0
    return V / np.sqrt(np.maximum(lam, 1e-13 * top))


def _start_block(start, side: int, right_side: bool) -> np.ndarray | None:
    if start is None:
        return None
    if isinstance(start, TopSVD):
        start = start.right if right_side else start.left
    block = np.asarray(_host(start), dtype=np.float64)
    if block.ndim == 1:
        block = block[:, None]
    if block.ndim != 2 or block.shape[0] != side:
        raise ValueError(f"start must have {side} rows (the {'right' if right_side else 'left'} "
                         f"singular vectors), got shape {block.shape}")
    return block


def top_singular(A, m: int, rng: np.random.Generator, *, rtol: float = RTOL,
                 max_iterations: int = MAX_ITERATIONS, dense_limit: int = DENSE_LIMIT,
                 start=None) -> TopSVD:
    """The ``m`` largest singular triplets of A, an array of any array-API namespace (see the
    module docstring); host numpy float64 results. ``start``: a block of approximate
    singular vectors (a :class:`TopSVD`, whose right vectors are used when d <= N and its
    left ones otherwise, or an array with that side's rows) that takes the place of the
    first columns of the random starting block."""
    xp = array_api_compat.array_namespace(A)
    N, d = A.shape
    side = min(N, d)
    m = min(m, side)
    if side <= dense_limit:
        return _dense(_host(A), m)
    if A.dtype not in (xp.float32, xp.float64):
        A = xp.astype(A, xp.float64)
    dtype = A.dtype
    host_dtype = np.dtype(np.float32 if dtype == xp.float32 else np.float64)
    dev = array_api_compat.device(A)
    tol = _tolerance(host_dtype, rtol)
    stall_tol = max(tol, STALL_EPS * float(np.finfo(host_dtype).eps))
    # squared rounding level of a Gram product relative to its largest column
    noise = (NOISE_EPS * float(np.finfo(host_dtype).eps)) ** 2 * side
    b = min(m + OVERSAMPLE, side)
    right_side = d <= N

    def gram(Q):
        return A.T @ (A @ Q) if right_side else A @ (A.T @ Q)

    def device(x: np.ndarray):
        return xp.asarray(np.ascontiguousarray(x, dtype=host_dtype), device=dev)

    def device64(x: np.ndarray):
        return xp.asarray(np.ascontiguousarray(x, dtype=np.float64), device=dev)

    max_dim = min(side, b * (max_iterations + 1))
    K = xp.empty((side, max_dim), dtype=dtype, device=dev)
    T = np.zeros((max_dim, max_dim))
    block = rng.standard_normal((side, b))
    warm = _start_block(start, side, right_side)
    if warm is not None:
        k = min(warm.shape[1], b)
        block[:, :k] = warm[:, :k]
    with _serial():
        K[:, :b] = device(np.linalg.qr(block)[0])
    lo, cols = 0, b
    converged = False
    iterations = 0
    theta = Z = None
    next_check, last = FIRST_CHECK, None
    while True:
        iterations += 1
        basis = K[:, :cols]
        Y = gram(K[:, lo:cols])
        # One projection gives the block of T exactly (C = K^T G K_new); the new block is
        # made orthogonal to K by the QR and a second projection of the normalised Q.
        with _bookkeeping():
            C = basis.T @ Y
            Y = Y - basis @ C
        C = _host(C).astype(np.float64)
        T[:cols, lo:cols] = C
        T[lo:cols, :cols] = C.T
        check = iterations >= next_check or cols >= max_dim
        if check:
            theta, Z = _top_ritz(T[:cols, :cols], m + 1)
        if check and theta.size > m:
            # the residual of the Ritz pair (theta, K z) is ||Y z_new||
            Yz = Y @ device(Z[lo:cols, :m])
            residual = np.sqrt(_host(xp.sum(Yz * Yz, axis=0)).astype(np.float64))
            bounded = bool(np.all(_error_bound(theta, residual) <= tol * theta[:m]))
            # Ritz values of nested subspaces only grow towards the true ones (Cauchy
            # interlacing), so the change since the previous check measures the error
            # that check had; convergence is geometric, far faster than that
            # (module docstring).
            stalled = last is not None and bool(np.all(
                theta[:m] - last[:m] <= stall_tol * theta[:m]))
            if bounded or stalled:
                converged = True
                break
            next_check = iterations + CHECK_STRIDE
            last = theta
        if cols >= max_dim:
            converged = cols == side  # the whole space: Rayleigh-Ritz is exact
            break
        width = min(b, max_dim - cols)
        # Orthonormalise the new block (SVQB: Gram matrix in float64, its b x b eigenproblem
        # on the host), project it once more against K (which also makes it orthogonal to K
        # after a breakdown, Y nearly in span(K)) and orthonormalise again.
        with _bookkeeping():
            Y64 = xp.astype(Y, xp.float64)
            # directions of Y at the rounding level of the products that made it (a
            # breakdown: Y nearly in span(K)) are noise; fresh Gaussian columns replace them
            S = _host(Y64.T @ Y64)
            scale = float(np.max(np.sum(C * C, axis=0) + np.diag(S)))
            W = _svqb(S, floor=noise * scale)
            Q = xp.astype(Y64 @ device64(W), dtype)
            if W.shape[1] < b:
                fresh = device(rng.standard_normal((side, b - W.shape[1])))
                Q = xp.concat([Q, fresh], axis=1)
            Q = Q - basis @ (basis.T @ Q)
            Q64 = xp.astype(Q, xp.float64)
            Q = xp.astype(Q64 @ device64(_svqb(_host(Q64.T @ Q64))), dtype)
        K[:, cols:cols + width] = Q[:, :width]
        lo, cols = cols, cols + width
    vectors = K[:, :cols] @ device(Z[:, :m])
    images = A @ vectors if right_side else A.T @ vectors
    values = _host(xp.sqrt(xp.sum(images * images, axis=0))).astype(np.float64)
    order = np.argsort(-values, kind="stable")
    values = values[order]
    safe = np.where(values > 0, values, 1.0)
    images = images * device(1.0 / safe[np.argsort(order, kind="stable")])
    back = A.T @ images if right_side else A @ images
    vectors_h = _host(vectors).astype(np.float64)[:, order]
    images_h = _host(images).astype(np.float64)[:, order]
    back_h = _host(back).astype(np.float64)[:, order]
    top = values[0] if values[0] > 0 else 1.0
    residual = float(np.max(np.linalg.norm(back_h - vectors_h * values, axis=0)) / top)
    left, right = (images_h, vectors_h) if right_side else (vectors_h, images_h)
    return TopSVD(values=values, left=left, right=right, method="block-lanczos",
                  iterations=iterations, residual=residual, converged=converged)


def full_spectrum(A: np.ndarray) -> np.ndarray:
    """All singular values (``np.linalg.svd(compute_uv=False)``), descending, float64."""
    return np.linalg.svd(A, compute_uv=False).astype(np.float64)


def airy_positions(k: np.ndarray) -> np.ndarray:
    """``x_k = (3 pi (k - 0.75) / 2)^(2/3)``: distance of the k-th bulk value below
    the edge in Tracy-Widom units (see the module docstring)."""
    return (1.5 * math.pi * (np.asarray(k, dtype=float) - AIRY_OFFSET)) ** (2.0 / 3.0)


@dataclass(frozen=True)
class EdgeFit:
    """Result of :func:`fit_edge`; ``edge`` is None when the fit is unreliable."""

    edge: float | None
    kappa: float | None
    margin: float | None
    edge_outliers: int   # values above edge + margin (the fixed point of the fit)
    values_used: int
    rms_residual: float | None   # of the fit, in kappa units
    reliable: bool
    reason: str = ""

    def to_dict(self) -> dict:
        return {"edge": self.edge, "kappa": self.kappa, "margin": self.margin,
                "edge_outliers": self.edge_outliers, "values_used": self.values_used,
                "rms_residual": self.rms_residual, "reliable": self.reliable,
                "reason": self.reason, "rule": f"Airy fit from position m//{FIT_START}, "
                f"offset {AIRY_OFFSET}, outliers above edge + {MARGIN:g} kappa"}


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
    values = np.asarray(values, dtype=float)
    m = len(values)
    start = m // FIT_START
    if m - start < MIN_FIT:
        return EdgeFit(None, None, None, 0, 0, None, False,
                       f"only {m} singular values; the fit needs >= {MIN_FIT} below the top third")
    p = 0
    seen = set()
    while True:
        if m - max(start, p) < MIN_FIT:
            return EdgeFit(None, None, None, p, m - max(start, p), None, False,
                           f"{p} outliers leave fewer than {MIN_FIT} bulk values to fit")
        edge, kappa, rms, used = _fit(values, p, start)
        if not kappa > 0:
            return EdgeFit(None, None, None, 0, used, None, False,
                           "the computed values do not decrease like a soft edge")
        new_p = int(np.count_nonzero(values > edge + margin * kappa))
        if new_p == p:
            return EdgeFit(edge, kappa, margin * kappa, p, used, rms / kappa, True)
        if new_p in seen:  # a cycle: keep the larger count (conservative edge)
            p = max(p, new_p)
            edge, kappa, rms, used = _fit(values, p, start)
            count = int(np.count_nonzero(values > edge + margin * kappa))
            return EdgeFit(edge, kappa, margin * kappa, count, used, rms / kappa, True,
                           "outlier count cycled; kept the larger")
        seen.add(p)
        p = new_p
