"""The GD dynamics of docs/model.md, streamed over sample blocks.

Step t (1-based) maps ``W_{t-1}`` to ``W_t``::

    W_t = W_{t-1} + (eta_t / n) diag(a) [sigma'(W_{t-1} X^T) * r^T] X,
    r = y - f_{t-1}(X)  (squared loss)   or   r = y  (correlation loss),
    f(x) = N^{-1/2} sum_i a_i sigma(<w_i, x>),   eta_t = etabar_t N^{alpha_t}.

This is ``W_t = W_{t-1} - eta_t sqrt(N) grad_W L`` for ``L = (1/2n) sum_j (y_j - f(x_j))^2``:
``d L / d w_i = -(1/n) sum_j r_j N^{-1/2} a_i sigma'(<w_i, x_j>) x_j``, and the
factor ``sqrt(N)`` cancels ``N^{-1/2}``. For the correlation loss
``L = -(1/n) sum_j y_j f(x_j)`` the same computation gives ``r = y``.

The n x N pre-activation matrix is never held: for each block of rows
``X_b`` of the batch, ``H_b = X_b W^T`` gives both the block's outputs
``f_b = sigma(H_b) a / sqrt(N)`` (hence ``r_b``) and its gradient
contribution ``(sigma'(H_b) * r_b a^T)^T X_b``, accumulated in place into the
N x d update by BLAS ``gemm`` with ``beta = 1``. Peak memory is W, the
update, X and a few b x N block buffers (see :mod:`memory`).

Backends (:mod:`backend`): host numpy arrays take the BLAS path above (the reference); arrays
of any other array-API namespace (CuPy, torch, array-api-strict) take the same block
computation written with the namespace's own operations (:func:`gradient_step` dispatches on
W's type, :func:`trajectory` on its ``backend`` keyword). The draws are made on the host and
moved to the backend; the step's small vectors (outputs, residuals, ``u``) come back to the host.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device
from scipy.linalg import blas

from twostep.theory import ConfigError, Function, ModelConfig, NonFiniteError, parse_function
from twostep.theory.config import check_alpha

from . import backend as backends
from . import draws

BATCH_CHOICES = ("fresh", "reuse")
#: the config's name for a fresh batch (ModelConfig.batch), accepted as a step's batch too
BATCH_ALIASES = {"independent": "fresh"}

#: A step is a blow-up when the residual rms exceeds this multiple of the
#: target's scale ``max(rms(y), 1)``, or the update's Frobenius norm exceeds
#: this multiple of its natural scale (:func:`update_scale`). In the canonical
#: scaling ``f = O(1)`` and the update is ``O(update_scale)``. Measured at
#: N = 200 and 1000 (seed 0, two steps): legitimate runs reach residual ratios
#: <= 25 and update ratios <= 300 (quadratic activation, alpha = 0.45,
#: etabar = 3; tanh/relu/gelu stay below 1.5); the polynomial blow-ups of
#: docs/theory.md §7 (z**4 at alpha 0.1-0.4, He3 at alpha 0.3) reach update ratios
#: 2e8-4e15 and residual ratios 6e3-4e8 at step 2. 1e4 sits 35x above the
#: largest legitimate value and 2e4x below the smallest blow-up update ratio.
BLOWUP_FACTOR = 1e4

#: Bytes of one b x N block buffer (H_b); b is at least MIN_BLOCK_ROWS so the
#: GEMMs stay compute-bound.
BLOCK_BYTES = 32 * 2**20
MIN_BLOCK_ROWS = 64
#: Bytes of the row sub-blocks the elementwise work runs on: their temporaries
#: stay in L2. Steps / bare GEMMs at N = 4000 float32 (quiet machine): 1.05 with
#: 256 KiB, 1.07-1.10 with 1 MiB, 1.27-1.29 without sub-blocks.
SUB_BLOCK_BYTES = 2**18


@dataclass(frozen=True)
class Step:
    """One GD step: ``eta = etabar N^alpha`` on a ``fresh`` batch or the
    previous step's batch (``reuse``)."""

    alpha: float
    etabar: float
    batch: str

    def __post_init__(self) -> None:
        for name in ("alpha", "etabar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise ConfigError(f"step {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"step {name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        check_alpha("step alpha", self.alpha)
        if self.etabar <= 0:
            raise ConfigError(f"step etabar must be > 0, got {self.etabar!r}")
        object.__setattr__(self, "batch", BATCH_ALIASES.get(self.batch, self.batch))
        if self.batch not in BATCH_CHOICES:
            raise ConfigError(
                f"step batch must be independent (or fresh) or reuse; got {self.batch!r}")

    def eta(self, N: int) -> float:
        """``eta = etabar N^alpha`` (docs/model.md)."""
        return self.etabar * float(N) ** self.alpha

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "etabar": self.etabar, "batch": self.batch}

    @classmethod
    def from_dict(cls, data: dict) -> Step:
        return cls(alpha=data["alpha"], etabar=data["etabar"], batch=data["batch"])


def default_steps(config: ModelConfig) -> tuple[Step, ...]:
    """The two steps of the config: fresh, then reuse or fresh by ``config.batch``."""
    return (Step(config.alpha1, config.etabar1, "fresh"),
            Step(config.alpha2, config.etabar2, "reuse" if config.reuse else "fresh"))


STEPS_SYNTAX = ("ALPHA:ETABAR:BATCH[,...] with BATCH independent (or fresh) or reuse, e.g. "
                "0.3:1:independent,0.45:1:reuse")


def parse_steps(text: str) -> tuple[Step, ...]:
    """Steps from ``"alpha:etabar:batch,..."`` (e.g. ``0.3:1:fresh,0.45:1:reuse``)."""
    steps = []
    for item in str(text).split(","):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 3:
            raise ConfigError(f"cannot read step {item.strip()!r}; expected {STEPS_SYNTAX}")
        try:
            alpha, etabar = float(parts[0]), float(parts[1])
        except ValueError:
            raise ConfigError(
                f"cannot read step {item.strip()!r}; expected {STEPS_SYNTAX}") from None
        steps.append(Step(alpha, etabar, parts[2]))
    return check_steps(steps)


def check_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    steps = tuple(steps)
    if not steps:
        raise ConfigError(f"at least one step is needed; expected {STEPS_SYNTAX}")
    for step in steps:
        if not isinstance(step, Step):
            raise ConfigError(f"steps must be Step objects, got {type(step).__name__}")
    if steps[0].batch != "fresh":
        raise ConfigError("step 1 must use a fresh batch (independent or fresh): there is no "
                          "previous batch to reuse")
    return steps


def default_block_rows(N: int, n: int, dtype: np.dtype) -> int:
    """Rows per block: one b x N buffer of about BLOCK_BYTES, at least MIN_BLOCK_ROWS
    (``dtype``: a numpy dtype or name, or a floating dtype of any backend)."""
    rows = BLOCK_BYTES // (N * backends.itemsize(dtype))
    return int(min(n, max(MIN_BLOCK_ROWS, rows)))


def activation_scale(activation: Function) -> float:
    """``sqrt(E[sigma'(z)^2])``, ``z ~ N(0, 1)`` (80-node Gauss-Hermite rule;
    float max when it overflows)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    with np.errstate(all="ignore"):
        values = np.asarray(activation.numpy(1)(nodes), dtype=np.float64)
        scale = math.sqrt(np.dot(weights, values**2) / math.sqrt(2 * math.pi))
    # exp(60 z)-like activations overflow here: the residual check still guards them.
    return scale if math.isfinite(scale) else float(np.finfo(np.float64).max)


def update_scale(eta: float, activation_rms: float, target_rms: float, d: int, n: int) -> float:
    """Natural size of ``||W_t - W_{t-1}||_F``: ``eta rms(sigma') max(rms(y), 1) (1 + sqrt(d/n))``.

    Row i of the update is ``(eta a_i / n) sum_j sigma'(h_ij) r_j x_j``; with
    ``||a|| ~ 1``, ``r ~ y`` and ``x_j`` of norm ``sqrt(d)`` this has Frobenius
    norm about ``eta rms(sigma' r) sqrt(1 + d/n)``.
    """
    return eta * max(activation_rms, 1e-12) * max(target_rms, 1.0) * (1.0 + math.sqrt(d / n))


def _frobenius(A: np.ndarray) -> float:
    """Frobenius norm accumulated in float64 over row chunks (no float32 overflow);
    ``A`` of any backend."""
    rows = max(1, draws.DRAW_BYTES // (8 * max(A.shape[1], 1)))
    total = 0.0
    if backends.is_numpy(A):
        for start in range(0, A.shape[0], rows):
            chunk = A[start:start + rows].astype(np.float64)
            total += float(np.einsum("ij,ij->", chunk, chunk))
        return math.sqrt(total)
    xp = array_namespace(A)
    for start in range(0, A.shape[0], rows):
        chunk = xp.astype(A[start:min(start + rows, A.shape[0]), ...], xp.float64)
        total += backends.scalar(xp.sum(chunk * chunk))
    return math.sqrt(total)


def nonfinite_fraction(A: np.ndarray) -> float:
    """Fraction of NaN/Inf entries of ``A`` (any backend)."""
    rows = max(1, draws.DRAW_BYTES // max(A.shape[1], 1))
    bad = 0
    if backends.is_numpy(A):
        for start in range(0, A.shape[0], rows):
            bad += int(np.count_nonzero(~np.isfinite(A[start:start + rows])))
        return bad / A.size
    xp = array_namespace(A)
    for start in range(0, A.shape[0], rows):
        chunk = A[start:min(start + rows, A.shape[0]), ...]
        bad += int(backends.scalar(xp.count_nonzero(~xp.isfinite(chunk))))
    return bad / math.prod(A.shape)


def _inplace(result: np.ndarray, target: np.ndarray) -> None:
    if not np.may_share_memory(result, target):  # pragma: no cover - layout bug
        raise RuntimeError("BLAS did not write in place (array layout changed)")


@dataclass
class StepResult:
    """What one gradient pass returns besides the update (float64 host numpy vectors, on
    every backend)."""

    output: np.ndarray     # f_{t-1}(X), length n
    residual: np.ndarray   # r, length n
    u: np.ndarray          # X^T r / n, length d


def gradient_step(W: np.ndarray, a: np.ndarray, X: np.ndarray, y: np.ndarray, eta: float,
                  activation: Function, *, loss: str = "squared", block_rows: int | None = None,
                  out: np.ndarray | None = None) -> tuple[np.ndarray, StepResult]:
    """The update ``(eta/n) diag(a) [sigma'(W X^T) * r^T] X`` (docs/model.md).

    Accumulated over blocks of ``block_rows`` rows of X into ``out`` (N x d,
    the dtype of W; allocated when None). GEMMs run in W's dtype; the
    outputs, residuals and ``u`` are float64. A non-finite residual block is
    recorded but not accumulated (the caller raises).

    ``W`` (and ``out``) are arrays of one backend: host numpy takes the BLAS path, any other
    array-API namespace the same computation in its own operations (:func:`_gradient_step_xp`);
    ``a``, ``y`` and ``X`` may be host numpy or arrays of W's backend (a host X is moved one
    block at a time).
    """
    if not backends.is_numpy(W):
        return _gradient_step_xp(W, a, X, y, eta, activation, loss=loss,
                                 block_rows=block_rows, out=out)
    N, d = W.shape
    n = X.shape[0]
    dtype = W.dtype
    if X.dtype != dtype or X.shape[1] != d or not (W.flags.c_contiguous and X.flags.c_contiguous):
        raise ValueError("X and W must be C-contiguous with the same dtype and d columns")
    b = int(block_rows) if block_rows else default_block_rows(N, n, dtype)
    sigma = activation.numpy(0)
    sigma_prime = activation.numpy(1)
    # All BLAS calls of the pass go to scipy's BLAS: numpy and scipy wheels
    # ship two OpenBLAS copies, and alternating between their thread pools
    # block by block makes their spinning workers compete for the cores.
    gemm, gemv = (blas.sgemm, blas.sgemv) if dtype == np.float32 else (blas.dgemm, blas.dgemv)
    G = np.empty((N, d), dtype=dtype) if out is None else out
    a_dt = a.astype(dtype)
    a_step = ((eta / n) * a).astype(dtype)
    H = np.empty((min(b, n), N), dtype=dtype)
    M = np.empty_like(H)
    # The elementwise work runs on sub-blocks of ~SUB_BLOCK_BYTES so that the
    # activation's temporaries stay in cache and come from malloc's free
    # lists, while the two GEMMs see the whole block.
    sub = max(1, SUB_BLOCK_BYTES // (N * dtype.itemsize))
    output = np.empty(n)
    residual = np.empty(n)
    u = np.zeros(d)
    inv_sqrt_N = 1.0 / math.sqrt(N)
    first = True
    for start in range(0, n, b):
        stop = min(start + b, n)
        Xb = X[start:stop]
        Hb = H[:stop - start]
        Mb = M[:stop - start]
        # Fortran view: H_b^T (N x b) = W (N x d) X_b^T; W.T and X_b.T are Fortran-contiguous.
        _inplace(gemm(1.0, W.T, Xb.T, beta=0.0, c=Hb.T, trans_a=1, overwrite_c=1), Hb)
        finite = True
        for lo in range(0, stop - start, sub):
            hi = min(lo + sub, stop - start)
            Hc = Hb[lo:hi]
            S = np.ascontiguousarray(sigma(Hc))
            fc = np.asarray(gemv(inv_sqrt_N, S.T, a_dt, trans=1), dtype=np.float64)
            yc = y[start + lo:start + hi]
            rc = yc - fc if loss == "squared" else np.array(yc, dtype=np.float64)
            output[start + lo:start + hi] = fc
            residual[start + lo:start + hi] = rc
            if not np.isfinite(rc).all():
                finite = False
                continue
            np.multiply(sigma_prime(Hc), rc.astype(dtype)[:, None], out=Mb[lo:hi])
            Mb[lo:hi] *= a_step
        if not finite:
            continue
        # G^T (d x N, Fortran order) += X_b^T M_b: BLAS accumulates in place.
        _inplace(gemm(1.0, Xb.T, Mb.T, beta=0.0 if first else 1.0, c=G.T, trans_b=1,
                      overwrite_c=1), G)
        first = False
        u += gemv(1.0, Xb.T, residual[start:stop].astype(dtype))
    if first:  # no finite block: nothing was written (the caller raises)
        G[...] = 0
    u /= n
    return G, StepResult(output=output, residual=residual, u=u)


def _gradient_step_xp(W, a, X, y, eta: float, activation: Function, *, loss: str,
                      block_rows: int | None, out) -> tuple[object, StepResult]:
    """:func:`gradient_step` in the namespace of W (no BLAS handles, no in-place ufuncs):
    the same blocks, one elementwise pass and two GEMMs each; the n- and d-vectors come
    back to the host once at the end."""
    xp = array_namespace(W)
    N, d = W.shape
    n = X.shape[0]
    dtype = W.dtype
    if backends.dtype_name(X.dtype) != backends.dtype_name(dtype) or X.shape[1] != d:
        raise ValueError("X and W must have the same dtype and d columns")
    b = int(block_rows) if block_rows else default_block_rows(N, n, dtype)
    sigma = backends.lambdify(activation, 0, xp)
    sigma_prime = backends.lambdify(activation, 1, xp)
    f64 = xp.float64
    a64 = backends.asarray(a, xp, "float64")
    a_dt = xp.astype(a64, dtype)
    a_step = xp.astype((eta / n) * a64, dtype)
    y64 = backends.asarray(y, xp, "float64")
    G = out
    outputs, residuals = [], []
    u = xp.zeros((d,), dtype=f64, device=array_device(W))
    inv_sqrt_N = 1.0 / math.sqrt(N)
    first = True
    for start in range(0, n, b):
        stop = min(start + b, n)
        Xb = backends.rows(X, start, stop, xp)                   # moved here if X is on the host
        Hb = Xb @ W.T                                            # b x N
        fb = xp.astype((sigma(Hb) @ a_dt) * inv_sqrt_N, f64)
        yb = y64[start:stop]
        rb = yb - fb if loss == "squared" else yb
        outputs.append(fb)
        residuals.append(rb)
        if not bool(xp.all(xp.isfinite(rb))):
            continue
        rb_dt = xp.astype(rb, dtype)
        Mb = sigma_prime(Hb) * xp.reshape(rb_dt, (-1, 1))
        Mb *= a_step
        contribution = Mb.T @ Xb                                 # N x d
        if G is None:
            G = contribution
        elif first:
            G[...] = contribution
        else:
            G += contribution
        first = False
        u += xp.astype(Xb.T @ rb_dt, f64)
    if G is None:
        G = xp.zeros((N, d), dtype=dtype, device=array_device(W))
    elif first:  # no finite block: nothing was written (the caller raises)
        G[...] = 0
    u = u / n
    return G, StepResult(output=backends.to_numpy(xp.concat(outputs)),
                         residual=backends.to_numpy(xp.concat(residuals)),
                         u=backends.to_numpy(u))


@dataclass
class State:
    """The network after step ``t`` (t = 0: initialisation).

    ``W`` and ``update`` are views of buffers the next step overwrites: copy
    what must outlive the iteration. On a non-numpy backend ``W``, ``update`` and
    ``batch.X`` are backend arrays; ``a``, ``beta``, ``batch.y`` and ``u`` stay host numpy.
    """

    t: int
    W: np.ndarray
    a: np.ndarray
    beta: np.ndarray
    update: np.ndarray | None = None
    batch: draws.Batch | None = None
    stats: dict = field(default_factory=dict)
    u: np.ndarray | None = None


def _rms(x: np.ndarray) -> float:
    return float(math.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def trajectory(config: ModelConfig, N: int, seed: int, steps: Sequence[Step], *,
               dtype: np.dtype | str = "float64", block_rows: int | None = None,
               backend: str | ModuleType | None = None) -> Iterator[State]:
    """Yield the initial state and the state after each step.

    Batches: the j-th ``fresh`` step draws batch j (so step one always uses
    batch 0, shared by reuse and independent runs with the same seed);
    ``reuse`` keeps the previous step's batch. Raises :class:`NonFiniteError`
    naming the step on NaN/Inf or a blow-up (:data:`BLOWUP_FACTOR`).

    ``backend`` (:data:`backend.BACKENDS` name or namespace; default numpy): where W, the
    updates and the batches' X live (see :class:`State`). The draws are made on the host
    and moved there, so every backend starts from the same numbers.
    """
    xp = backends.namespace(backend)
    host = backends.name(xp) == "numpy"
    dtype = draws.check_dtype(dtype if isinstance(dtype, str) else np.dtype(dtype).name)
    steps = check_steps(steps)
    d, n = draws.dimensions(config, N)
    activation = parse_function(config.activation)
    activation_rms = activation_scale(activation)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(config, seed, N)
    W = draws.draw_first_layer(config, seed, N, d, dtype)
    if not host:
        W = backends.asarray(W, xp)
    yield State(t=0, W=W, a=a, beta=beta)
    G = np.empty_like(W) if host else xp.empty_like(W)
    batch: draws.Batch | None = None
    fresh = 0
    for t, step in enumerate(steps, start=1):
        clock = time.perf_counter()
        if step.batch == "fresh":
            batch = None  # release the old X before drawing the new one
            batch = draws.draw_batch(config, seed, N, fresh, beta, dtype)
            if not host:
                batch = dataclasses.replace(batch, X=backends.asarray(batch.X, xp))
            fresh += 1
        draw_s = time.perf_counter() - clock
        clock = time.perf_counter()
        eta = step.eta(N)
        # Overflow is expected when a step blows up; it is detected and raised below.
        with np.errstate(over="ignore", invalid="ignore"):
            G, result = gradient_step(W, a, batch.X, batch.y, eta, activation,
                                      loss=config.loss, block_rows=block_rows, out=G)
        target_rms = _rms(batch.y)
        finite = np.isfinite(result.residual)
        if not finite.all():
            raise NonFiniteError(
                f"step {t}: {1 - finite.mean():.3g} of the residual entries are NaN/Inf "
                f"(the network output f_{t - 1} overflowed)")
        with np.errstate(over="ignore"):
            residual_rms = _rms(result.residual)
        limit = BLOWUP_FACTOR * max(target_rms, 1.0)
        if residual_rms > limit:
            raise NonFiniteError(
                f"step {t}: residual rms {residual_rms:.3g} exceeds {limit:.3g} "
                f"= {BLOWUP_FACTOR:g} x max(target rms, 1): the network output blew up "
                f"(docs/theory.md §7)")
        with np.errstate(over="ignore", invalid="ignore"):
            norm = _frobenius(G)
        if not math.isfinite(norm):
            raise NonFiniteError(
                f"step {t}: {nonfinite_fraction(G):.3g} of the update entries are NaN/Inf")
        scale = update_scale(eta, activation_rms, target_rms, d, n)
        if norm > BLOWUP_FACTOR * scale:
            raise NonFiniteError(
                f"step {t}: update norm {norm:.3g} exceeds {BLOWUP_FACTOR * scale:.3g} "
                f"= {BLOWUP_FACTOR:g} x its natural scale eta rms(sigma') max(rms(y), 1) "
                f"(1 + sqrt(d/n)): the step blew up (docs/theory.md §7)")
        if host:
            np.add(W, G, out=W)
        else:
            W += G
        stats = {
            "t": t, "eta": eta, "batch_index": batch.index, "target_rms": target_rms,
            "output_rms": _rms(result.output), "residual_rms": residual_rms,
            "update_norm": norm, "update_ratio": norm / scale,
            "u_norm": float(np.linalg.norm(result.u)),
            "draw_s": draw_s, "step_s": time.perf_counter() - clock,
        }
        yield State(t=t, W=W, a=a, beta=beta, update=G, batch=batch, stats=stats, u=result.u)
