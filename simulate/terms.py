"""The exact term decomposition of the step-two update (docs/theory.md, "The exact terms").

``W_1 = W_0 + eta_1 G_0`` is affine in ``eta_1`` (``G_0`` the step-one update at ``eta = 1``),
so the step-two pre-activations are exactly ``P0 + eta_1 P1`` with ``P0 = W_0 X_2^T`` and
``P1 = G_0 X_2^T`` (N x n). Expanding elementwise in ``t = eta_1``::

    sigma'(P0 + t P1) = sum_m t^m sigma^(m+1)(P0) o P1^m / m!
    r(t) = y - sigma(P0 + t P1)^T a / sqrt(N) = sum_l t^l r_l,
    r_0 = y - sigma(P0)^T a / sqrt(N),   r_l = -(sigma^(l)(P0) o P1^l / l!)^T a / sqrt(N)

gives the update ``W_2 - W_1 = sum_k T_k`` with ``T_k = eta_2 eta_1^k D_k`` and::

    D_k = (1/n) diag(a) [ sum_{m+l=k} (sigma^(m+1)(P0) o P1^m / m!) o r_l^T ] X_2,

one GEMM per term. ``D_k`` does not depend on the step sizes. (With the correlation loss
``r = y`` does not move: ``r_0 = y`` and ``r_l = 0``.)

The pass is streamed over blocks of samples like the step itself: for a block ``X_b`` the
pre-activations ``X_b W_1^T`` and ``eta_1 P1_b = X_b (W_1 - W_0)^T`` are two GEMMs, ``P0_b`` is
their difference, and each ``D_k^T`` accumulates ``X_b^T M_{k,b}`` in place (BLAS ``gemm`` with
``beta = 1``). No n x N matrix is held beyond the block buffers.

The series converges when ``eta_1 |P1_ij|`` stays inside the radius of convergence of sigma's
Taylor series at ``P0_ij`` (for tanh the poles sit ``pi/2`` from the real axis); it is decided
here by measurement: the relative residual ``||U - sum_{k<=K} T_k||_op / ||U||_op`` of the
real update U (:func:`series`).

Backends (:mod:`backend`): the pass is written once in the array-API namespace of ``W_1``
(the derivatives lambdified there); on host numpy the backend's primitives are the BLAS path
above, on any other namespace its own operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from array_api_compat import array_namespace

from twostep.theory import ConfigError, Function
from twostep.theory.observables import Series
from twostep.theory.records import Exceedance, P1Stats

from . import backend as backends
from .options import TERMS_LIMIT, check_integer

#: The series "converges" at one (N, seed) when the relative residual of K terms is at most
#: this. Measured (tanh(z+1/2), He1, reuse, alpha = (0.3, 0.45), K = 5): 0.001-0.008 at
#: etabar1 = 0.2 and 15-44 at etabar1 = 1 over N = 250..2000; a converging series' residual
#: falls geometrically with K, a diverging one's grows. 0.1 sits an order of magnitude from
#: both, and a remainder of 10% of the update's operator norm is what moves the log of a
#: projected amplitude by ~0.1, the tolerance of the exponent rules.
SERIES_TOLERANCE = 0.1

#: Thresholds of ``eta_1 |P1_ij|`` whose exceedance fractions are reported (pi/2: the distance
#: of tanh's poles from the real axis).
P1_THRESHOLDS = {"0.5": 0.5, "1": 1.0, "pi/2": math.pi / 2}

#: Bytes of the elementwise work per block (about 2K + 6 arrays of b x N live at once).
TERMS_BLOCK_BYTES = 96 * 2**20


@dataclass
class TermPass:
    """The output of :func:`term_matrices`: ``D[k]`` (N x d, the run dtype) and the
    statistics of ``eta_1 P1`` (``max``, ``fraction_above``) that bound the Taylor series."""

    D: list[np.ndarray]
    eta1: float
    p1: P1Stats


def check_terms(terms: object) -> int:
    return check_integer("terms", terms, 0, TERMS_LIMIT)


def check_smooth(activation: Function) -> None:
    if not activation.smooth:
        raise ConfigError(
            f"the exact terms are undefined for non-smooth activation {activation.text!r}: "
            "they need derivatives sigma^(k+1), which are distributions at its kinks "
            "(docs/theory.md); use a smooth activation or terms=0")


def block_rows(N: int, n: int, K: int, itemsize: int) -> int:
    rows = TERMS_BLOCK_BYTES // ((2 * K + 6) * N * itemsize)
    return int(min(n, max(16, rows)))


@dataclass
class _TermWork:
    """The per-pass constants of :func:`term_matrices` and the elementwise work of one block."""

    xp: ModuleType
    derivs: list           # sigma^(0) .. sigma^(K+1) in the namespace
    eta1: float
    squared: bool          # squared loss (r moves with eta1), else correlation (r = y)
    a_dt: object           # a in the run dtype
    a_n: object            # a / n in the run dtype
    inv_sqrt_N: float

    def residuals(self, S: list, powers: list, yb) -> list:
        """``r_0 .. r_K`` of the block (float64): ``r_0 = y - sigma(P0)^T a / sqrt(N)``,
        ``r_l = -(sigma^(l)(P0) o P1^l / l!)^T a / sqrt(N)``; ``r = y`` for the
        correlation loss."""
        xp = self.xp
        r = []
        for l in range(len(powers)):
            if not self.squared:
                r.append(yb if l == 0 else xp.zeros_like(yb))
                continue
            A = S[l] if l == 0 else S[l] * powers[l]
            out = xp.astype(A @ self.a_dt, xp.float64) * self.inv_sqrt_N
            r.append(yb - out if l == 0 else -out)
        return r

    def block(self, D: list, Xb, Hb, Eb, yb) -> None:
        """Add the block's ``X_b^T M_{k,b}`` to each ``D_k`` (``Hb = X_b W_1^T``,
        ``Eb = eta_1 X_b G_0^T``)."""
        xp = self.xp
        K = len(D) - 1
        P0 = Hb - Eb                       # W_0 X_b^T
        P1 = Eb * (1.0 / self.eta1)        # G_0 X_b^T
        S = [f(P0) for f in self.derivs]   # sigma^(j)(P0), j = 0..K+1
        powers = [None, P1]                # P1^m / m!, m = 0..K (None: the all-ones matrix)
        for m in range(2, K + 1):
            powers.append(powers[-1] * P1 * (1.0 / m))
        del P0, P1
        r = self.residuals(S, powers[:K + 1], yb)
        nonzero = [bool(xp.any(rl != 0)) for rl in r]
        for k in range(K + 1):
            M = xp.zeros_like(Hb)
            for m in range(k + 1):
                l = k - m
                if not nonzero[l]:
                    continue
                A = S[m + 1] if m == 0 else S[m + 1] * powers[m]
                M += A * xp.reshape(xp.astype(r[l], Hb.dtype), (-1, 1))
            M *= self.a_n
            D[k] = backends.matmul_tn(M, Xb, D[k], accumulate=True)   # D_k += M^T X_b


def _count_p1(xp: ModuleType, Eb, above: dict) -> float:
    """``max |eta_1 P1_b|`` of a block; adds the block's exceedance counts to ``above``."""
    absE = xp.abs(Eb)
    for name, level in P1_THRESHOLDS.items():
        above[name] += int(backends.scalar(xp.count_nonzero(absE > level)))
    return backends.scalar(xp.max(absE))


def term_matrices(W1: np.ndarray, step_one: np.ndarray, eta1: float, a: np.ndarray,
                  X: np.ndarray, y: np.ndarray, activation: Function, K: int, *,
                  loss: str = "squared", rows: int | None = None) -> TermPass:
    """``D_0..D_K`` of the module docstring from ``W_1``, the step-one update
    ``eta_1 G_0 = W_1 - W_0`` (``step_one``) and the step-two batch ``(X, y)``.

    ``W1`` and ``step_one`` are arrays of one backend, and the pass runs in its namespace (on
    numpy the products go to BLAS ``gemm`` into reused block buffers, :mod:`backend`);
    ``a``, ``y`` and ``X`` host numpy or of that backend (a host X is moved one block at a
    time); the ``D_k`` are arrays of the backend."""
    N, d = W1.shape
    n = X.shape[0]
    dtype = W1.dtype
    if eta1 <= 0:
        raise ConfigError(f"eta1 must be > 0, got {eta1!r}")
    xp = array_namespace(W1, step_one)
    b = rows or block_rows(N, n, K, backends.itemsize(dtype))
    D = [xp.zeros_like(W1) for _ in range(K + 1)]
    a64 = backends.asarray(a, xp, "float64")
    work = _TermWork(xp=xp, derivs=[backends.lambdify(activation, j, xp) for j in range(K + 2)],
                     eta1=eta1, squared=loss == "squared", a_dt=xp.astype(a64, dtype),
                     a_n=xp.astype(a64 / n, dtype), inv_sqrt_N=1.0 / math.sqrt(N))
    y64 = backends.asarray(y, xp, "float64")
    H = backends.buffer(xp, (min(b, n), N), dtype)
    E = backends.buffer(xp, (min(b, n), N), dtype)
    p1_max = 0.0
    above = dict.fromkeys(P1_THRESHOLDS, 0)
    for start in range(0, n, b):
        stop = min(start + b, n)
        Xb = backends.rows(X, start, stop, xp)   # moved here if X is on the host
        Hb = backends.matmul_nt(Xb, W1, backends.head(H, stop - start))         # X_b W_1^T
        Eb = backends.matmul_nt(Xb, step_one, backends.head(E, stop - start))   # eta_1 X_b G_0^T
        p1_max = max(p1_max, _count_p1(xp, Eb, above))
        work.block(D, Xb, Hb, Eb, y64[start:stop])
    total = N * n
    fractions = tuple(Exceedance(level=name, fraction=count / total)
                      for name, count in above.items())
    for k, Dk in enumerate(D):
        if not bool(xp.all(xp.isfinite(Dk))):
            raise_nonfinite(k, Dk)
    return TermPass(D=D, eta1=float(eta1), p1=P1Stats(max=p1_max, fraction_above=fractions))


def raise_nonfinite(k: int, Dk: np.ndarray) -> None:
    from twostep.theory import NonFiniteError

    xp = array_namespace(Dk)
    bad = backends.scalar(xp.count_nonzero(~xp.isfinite(Dk))) / math.prod(Dk.shape)
    raise NonFiniteError(f"exact term k={k}: {bad:.3g} of the entries of D_{k} are NaN/Inf "
                         "(a derivative of the activation overflowed)")


def subtract_terms(U: np.ndarray, D: list[np.ndarray], eta1: float, eta2: float) -> None:
    """``U -= sum_k eta_2 eta_1^k D_k`` in place (:func:`backend.axpy`: BLAS axpy on the flat
    arrays on numpy, the namespace's in-place addition elsewhere)."""
    for k, Dk in enumerate(D):
        backends.axpy(-eta2 * eta1**k, Dk, U)


def series(update_norm: float, residual_norm: float, norms: list[float], eta1: float,
           eta2: float, p1: P1Stats, K: int) -> Series:
    """Diagnostics of the truncated series: the relative residual, the operator norms
    ``||T_k||`` and their successive ratios, ``converges`` (residual <= SERIES_TOLERANCE).

    The norms may be Python floats or 0-d arrays of any backend (read with
    :func:`backend.scalar`)."""
    update_norm = backends.scalar(update_norm)
    residual_norm = backends.scalar(residual_norm)
    norms = [backends.scalar(v) for v in norms]
    rel = residual_norm / update_norm if update_norm > 0 else None
    ratios = [norms[k + 1] / norms[k] if norms[k] > 0 else None for k in range(len(norms) - 1)]
    return Series(K=K, eta1=eta1, eta2=eta2, residual=rel, residual_norm=residual_norm,
                  update_norm=update_norm, norms=tuple(norms), ratios=tuple(ratios),
                  tolerance=SERIES_TOLERANCE,
                  converges=rel is not None and rel <= SERIES_TOLERANCE, p1=p1)
