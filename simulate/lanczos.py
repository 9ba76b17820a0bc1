"""Top singular triplets of a matrix of any array-API namespace (:func:`top_singular`), the
computation behind :mod:`spectra`'s top-k spectra.

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
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import array_api_compat
import numpy as np
from threadpoolctl import ThreadpoolController

from twostep.theory.records import Solver

#: Below this min(N, d) the full dense SVD is used (a few ms).
DENSE_LIMIT = 256
#: Oversampling of the Lanczos block beyond the wanted count.
OVERSAMPLE = 10
MAX_ITERATIONS = 60
RTOL = 1e-7
FIRST_CHECK = 6
CHECK_STRIDE = 2
NOISE_EPS = 10.0
STALL_EPS = 1700.0   # float32: 2e-4 of theta; float64: 4e-13
FLOOR_EPS = 50.0


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

    def info(self) -> Solver:
        """How these triplets were computed (``Spectrum.solver``)."""
        return Solver(method=self.method, iterations=int(self.iterations),
                      residual=float(self.residual), converged=bool(self.converged))


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


@dataclass
class _Krylov:
    """The block Lanczos state of :func:`top_singular`: the operator's matrix A (float32 or
    float64, any namespace), the Krylov basis K (A's namespace, device and dtype), the
    projected matrix T (host float64) and the run's tolerances."""

    A: object
    xp: object
    right_side: bool       # the Gram operator acts on the right side (d <= N)
    side: int
    b: int                 # the block width
    max_dim: int
    host_dtype: np.dtype
    tol: float
    stall_tol: float
    noise: float
    K: object = None
    T: np.ndarray | None = None

    @classmethod
    def create(cls, A, xp, m: int, rtol: float, max_iterations: int) -> _Krylov:
        N, d = A.shape
        side = min(N, d)
        host_dtype = np.dtype(np.float32 if A.dtype == xp.float32 else np.float64)
        eps = float(np.finfo(host_dtype).eps)
        tol = _tolerance(host_dtype, rtol)
        b = min(m + OVERSAMPLE, side)
        # noise: squared rounding level of a Gram product relative to its largest column
        run = cls(A=A, xp=xp, right_side=d <= N, side=side, b=b,
                  max_dim=min(side, b * (max_iterations + 1)), host_dtype=host_dtype,
                  tol=tol, stall_tol=max(tol, STALL_EPS * eps),
                  noise=(NOISE_EPS * eps) ** 2 * side)
        run.K = xp.empty((side, run.max_dim), dtype=A.dtype, device=array_api_compat.device(A))
        run.T = np.zeros((run.max_dim, run.max_dim))
        return run

    def gram(self, Q):
        A = self.A
        return A.T @ (A @ Q) if self.right_side else A @ (A.T @ Q)

    def device(self, x: np.ndarray):
        return self.xp.asarray(np.ascontiguousarray(x, dtype=self.host_dtype),
                               device=array_api_compat.device(self.A))

    def device64(self, x: np.ndarray):
        return self.xp.asarray(np.ascontiguousarray(x, dtype=np.float64),
                               device=array_api_compat.device(self.A))

    def start(self, rng: np.random.Generator, start) -> None:
        """The first block: Gaussian, its first columns replaced by ``start``'s vectors."""
        block = rng.standard_normal((self.side, self.b))
        warm = _start_block(start, self.side, self.right_side)
        if warm is not None:
            k = min(warm.shape[1], self.b)
            block[:, :k] = warm[:, :k]
        with _serial():
            self.K[:, :self.b] = self.device(np.linalg.qr(block)[0])

    def expand(self, lo: int, cols: int):
        """The Gram image Y of the newest block ``K[:, lo:cols]``, projected off K, and its
        projection ``C = K^T Y`` (host float64), written into T."""
        basis = self.K[:, :cols]
        Y = self.gram(self.K[:, lo:cols])
        # One projection gives the block of T exactly (C = K^T G K_new); the new block is
        # made orthogonal to K by the QR and a second projection of the normalised Q.
        with _bookkeeping():
            C = basis.T @ Y
            Y = Y - basis @ C
        C = _host(C).astype(np.float64)
        self.T[:cols, lo:cols] = C
        self.T[lo:cols, :cols] = C.T
        return Y, C

    def done(self, Y, theta: np.ndarray, Z: np.ndarray, last: np.ndarray | None, lo: int,
             cols: int, m: int) -> bool:
        """Whether every wanted Ritz value is converged (error bound) or stalled."""
        # the residual of the Ritz pair (theta, K z) is ||Y z_new||
        Yz = Y @ self.device(Z[lo:cols, :m])
        residual = np.sqrt(_host(self.xp.sum(Yz * Yz, axis=0)).astype(np.float64))
        bounded = bool(np.all(_error_bound(theta, residual) <= self.tol * theta[:m]))
        # Ritz values of nested subspaces only grow towards the true ones (Cauchy
        # interlacing), so the change since the previous check measures the error
        # that check had; convergence is geometric, far faster than that
        # (module docstring).
        stalled = last is not None and bool(np.all(
            theta[:m] - last[:m] <= self.stall_tol * theta[:m]))
        return bounded or stalled

    def next_block(self, Y, C: np.ndarray, cols: int, rng: np.random.Generator):
        """The next orthonormal block from Y (SVQB: Gram matrix in float64, its b x b
        eigenproblem on the host), projected once more against K (which also makes it
        orthogonal to K after a breakdown, Y nearly in span(K)) and orthonormalised again."""
        xp, basis = self.xp, self.K[:, :cols]
        with _bookkeeping():
            Y64 = xp.astype(Y, xp.float64)
            # directions of Y at the rounding level of the products that made it (a
            # breakdown: Y nearly in span(K)) are noise; fresh Gaussian columns replace them
            S = _host(Y64.T @ Y64)
            scale = float(np.max(np.sum(C * C, axis=0) + np.diag(S)))
            W = _svqb(S, floor=self.noise * scale)
            Q = xp.astype(Y64 @ self.device64(W), self.A.dtype)
            if W.shape[1] < self.b:
                fresh = self.device(rng.standard_normal((self.side, self.b - W.shape[1])))
                Q = xp.concat([Q, fresh], axis=1)
            Q = Q - basis @ (basis.T @ Q)
            Q64 = xp.astype(Q, xp.float64)
            return xp.astype(Q64 @ self.device64(_svqb(_host(Q64.T @ Q64))), self.A.dtype)

    def triplets(self, Z: np.ndarray, cols: int, m: int, iterations: int,
                 converged: bool) -> TopSVD:
        """The Ritz triplets from the basis and the Ritz vectors Z (host float64), values
        as ``||A v||``, with the true residual."""
        xp, A, right_side = self.xp, self.A, self.right_side
        vectors = self.K[:, :cols] @ self.device(Z[:, :m])
        images = A @ vectors if right_side else A.T @ vectors
        values = _host(xp.sqrt(xp.sum(images * images, axis=0))).astype(np.float64)
        order = np.argsort(-values, kind="stable")
        values = values[order]
        safe = np.where(values > 0, values, 1.0)
        images = images * self.device(1.0 / safe[np.argsort(order, kind="stable")])
        back = A.T @ images if right_side else A @ images
        vectors_h = _host(vectors).astype(np.float64)[:, order]
        images_h = _host(images).astype(np.float64)[:, order]
        back_h = _host(back).astype(np.float64)[:, order]
        top = values[0] if values[0] > 0 else 1.0
        residual = float(np.max(np.linalg.norm(back_h - vectors_h * values, axis=0)) / top)
        left, right = (images_h, vectors_h) if right_side else (vectors_h, images_h)
        return TopSVD(values=values, left=left, right=right, method="block-lanczos",
                      iterations=iterations, residual=residual, converged=converged)


def top_singular(A, m: int, rng: np.random.Generator, *, rtol: float = RTOL,
                 max_iterations: int = MAX_ITERATIONS, dense_limit: int = DENSE_LIMIT,
                 start=None) -> TopSVD:
    """The ``m`` largest singular triplets of A, an array of any array-API namespace (see the
    module docstring); host numpy float64 results. ``start``: a block of approximate
    singular vectors (a :class:`TopSVD`, whose right vectors are used when d <= N and its
    left ones otherwise, or an array with that side's rows) that takes the place of the
    first columns of the random starting block."""
    xp = array_api_compat.array_namespace(A)
    side = min(A.shape)
    m = min(m, side)
    if side <= dense_limit:
        return _dense(_host(A), m)
    if A.dtype not in (xp.float32, xp.float64):
        A = xp.astype(A, xp.float64)
    run = _Krylov.create(A, xp, m, rtol, max_iterations)
    run.start(rng, start)
    lo, cols = 0, run.b
    converged = False
    iterations = 0
    Z = None
    next_check, last = FIRST_CHECK, None
    while True:
        iterations += 1
        Y, C = run.expand(lo, cols)
        check = iterations >= next_check or cols >= run.max_dim
        if check:
            theta, Z = _top_ritz(run.T[:cols, :cols], m + 1)
        if check and theta.size > m:
            if run.done(Y, theta, Z, last, lo, cols, m):
                converged = True
                break
            next_check = iterations + CHECK_STRIDE
            last = theta
        if cols >= run.max_dim:
            converged = cols == side  # the whole space: Rayleigh-Ritz is exact
            break
        width = min(run.b, run.max_dim - cols)
        run.K[:, cols:cols + width] = run.next_block(Y, C, cols, rng)[:, :width]
        lo, cols = cols, cols + width
    return run.triplets(Z, cols, m, iterations, converged)
