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

Backends (:mod:`backend`): the block computation is written once, in the array-API namespace
of W (:func:`trajectory` takes it from its ``backend`` keyword); on host numpy its primitives
(:func:`backend.matmul_nt`, :func:`backend.matmul_tn`, ...) are the BLAS path above (the
reference), on CuPy, torch or array-api-strict the namespace's own operations. The draws are
made on the host and moved to the backend; the step's small vectors (outputs, residuals, ``u``)
come back to the host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

from twostep.theory import ConfigError, Function, ModelConfig, NonFiniteError, parse_function

from . import backend as backends
from . import draws
from .options import Step

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
    xp = array_namespace(A)
    rows = max(1, draws.DRAW_BYTES // (8 * max(A.shape[1], 1)))
    total = 0.0
    for start in range(0, A.shape[0], rows):
        chunk = xp.astype(A[start:min(start + rows, A.shape[0]), ...], xp.float64)
        total += backends.sum_squares(chunk)
    return math.sqrt(total)


def largest_entry(A: np.ndarray) -> float:
    """``max |A_ij|`` over row chunks, in float64 (any backend)."""
    xp = array_namespace(A)
    rows = max(1, draws.DRAW_BYTES // (8 * max(A.shape[1], 1)))
    largest = 0.0
    for start in range(0, A.shape[0], rows):
        chunk = xp.astype(A[start:min(start + rows, A.shape[0]), ...], xp.float64)
        largest = max(largest, float(backends.scalar(xp.max(xp.abs(chunk)))))
    return largest


def nonfinite_fraction(A: np.ndarray) -> float:
    """Fraction of NaN/Inf entries of ``A`` (any backend)."""
    xp = array_namespace(A)
    rows = max(1, draws.DRAW_BYTES // max(A.shape[1], 1))
    bad = 0
    for start in range(0, A.shape[0], rows):
        chunk = A[start:min(start + rows, A.shape[0]), ...]
        bad += int(backends.scalar(xp.count_nonzero(~xp.isfinite(chunk))))
    return bad / math.prod(A.shape)


@dataclass
class StepResult:
    """What one gradient pass returns besides the update (float64 host numpy vectors, on
    every backend)."""

    output: np.ndarray     # f_{t-1}(X), length n
    residual: np.ndarray   # r, length n
    u: np.ndarray          # X^T r / n, length d


@dataclass
class _Elementwise:
    """The elementwise work of one gradient pass on a block ``H_b = X_b W^T``: the outputs
    ``f = sigma(H_b) a / sqrt(N)``, the residuals and ``M_b = sigma'(H_b) o r_b a_step^T``,
    on row chunks of ``chunk`` rows (:func:`backend.chunk_rows`)."""

    xp: ModuleType
    sigma: object
    sigma_prime: object
    a_dt: object           # a in the run dtype
    a_step: object         # (eta / n) a in the run dtype
    inv_sqrt_N: float
    squared: bool          # squared loss (r = y - f), else correlation (r = y)
    chunk: int

    def block(self, Hb, Mb, y, start: int, output, residual):
        """Fill ``output`` and ``residual`` (float64, length n) at rows ``start + i`` of the
        block and return ``M_b`` (in the buffer ``Mb`` when there is one), or None when a
        residual of the block is not finite (the block is left out of the update)."""
        xp = self.xp
        count = Hb.shape[0]
        pieces, finite = [], True
        for lo in range(0, count, self.chunk):
            hi = min(lo + self.chunk, count)
            Hc = Hb[lo:hi, ...]
            fc = xp.astype(backends.matvec(self.sigma(Hc), self.a_dt, self.inv_sqrt_N),
                           xp.float64)
            yc = y[start + lo:start + hi]
            rc = yc - fc if self.squared else yc
            output[start + lo:start + hi] = fc
            residual[start + lo:start + hi] = rc
            if not bool(xp.all(xp.isfinite(rc))):
                finite = False
                continue
            column = xp.reshape(xp.astype(rc, Hb.dtype), (-1, 1))
            Mc = backends.multiply(self.sigma_prime(Hc), column,
                                   out=None if Mb is None else Mb[lo:hi, ...])
            Mc *= self.a_step
            pieces.append(Mc)
        if not finite:
            return None
        if Mb is not None:
            return Mb
        return pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)


def gradient_step(W: np.ndarray, a: np.ndarray, X: np.ndarray, y: np.ndarray, eta: float,
                  activation: Function, *, loss: str = "squared", block_rows: int | None = None,
                  out: np.ndarray | None = None) -> tuple[np.ndarray, StepResult]:
    """The update ``(eta/n) diag(a) [sigma'(W X^T) * r^T] X`` (docs/model.md).

    Accumulated over blocks of ``block_rows`` rows of X into ``out`` (N x d,
    the dtype of W; allocated when None). GEMMs run in W's dtype; the
    outputs, residuals and ``u`` are float64. A non-finite residual block is
    recorded but not accumulated (the caller raises).

    ``W`` (and ``out``) are arrays of one backend, and the computation runs in its namespace
    (on numpy through the BLAS primitives of :mod:`backend`: H_b and M_b in reused buffers,
    the elementwise work on sub-blocks of ~SUB_BLOCK_BYTES so that the activation's
    temporaries stay in cache, while the two GEMMs see the whole block); ``a``, ``y`` and
    ``X`` may be host numpy or arrays of W's backend (a host X is moved one block at a time).
    """
    xp = array_namespace(W)
    N, d = W.shape
    n = X.shape[0]
    dtype = W.dtype
    if (backends.dtype_name(X.dtype) != backends.dtype_name(dtype) or X.shape[1] != d
            or not backends.contiguous(W, X)):
        raise ValueError("X and W must be C-contiguous with the same dtype and d columns")
    b = int(block_rows) if block_rows else default_block_rows(N, n, dtype)
    a64 = backends.asarray(a, xp, "float64")
    work = _Elementwise(
        xp=xp, sigma=backends.lambdify(activation, 0, xp),
        sigma_prime=backends.lambdify(activation, 1, xp), a_dt=xp.astype(a64, dtype),
        a_step=xp.astype((eta / n) * a64, dtype), inv_sqrt_N=1.0 / math.sqrt(N),
        squared=loss == "squared",
        chunk=backends.chunk_rows(xp, min(b, n), N * backends.itemsize(dtype),
                                  SUB_BLOCK_BYTES))
    y64 = backends.asarray(y, xp, "float64")
    H = backends.buffer(xp, (min(b, n), N), dtype)
    M = backends.buffer(xp, (min(b, n), N), dtype)
    dev = array_device(W)
    output = xp.empty((n,), dtype=xp.float64, device=dev)
    residual = xp.empty((n,), dtype=xp.float64, device=dev)
    u = xp.zeros((d,), dtype=xp.float64, device=dev)
    G, first = out, True
    for start in range(0, n, b):
        stop = min(start + b, n)
        Xb = backends.rows(X, start, stop, xp)             # moved here if X is on the host
        Hb = backends.matmul_nt(Xb, W, backends.head(H, stop - start))   # X_b W^T
        Mb = work.block(Hb, backends.head(M, stop - start), y64, start, output, residual)
        if Mb is None:
            continue
        G = backends.matmul_tn(Mb, Xb, G, accumulate=not first)   # G (+)= M_b^T X_b
        first = False
        u += xp.astype(backends.rmatvec(Xb, xp.astype(residual[start:stop], dtype)),
                       xp.float64)
    if G is None:
        G = xp.zeros((N, d), dtype=dtype, device=dev)
    elif first:  # no finite block: nothing was written (the caller raises)
        G[...] = 0
    u /= n
    return G, StepResult(output=backends.to_numpy(output),
                         residual=backends.to_numpy(residual), u=backends.to_numpy(u))


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


def _draw_batch(config: ModelConfig, seed: int, N: int, index: int, beta: np.ndarray,
                dtype: str, xp: ModuleType, drawn: Future | None = None) -> draws.Batch:
    """Batch ``index``, drawn on the host (or taken from ``drawn``, the same draw made on
    another thread), its X moved to ``xp`` (kept as is on numpy)."""
    batch = (draws.draw_batch(config, seed, N, index, beta, dtype) if drawn is None
             else drawn.result())
    X = backends.asarray(batch.X, xp)
    return batch if X is batch.X else dataclasses.replace(batch, X=X)


def _guard(t: int, eta: float, result: StepResult, G, y: np.ndarray, activation_rms: float,
           d: int, n: int) -> dict:
    """The blow-up checks of step ``t`` (:data:`BLOWUP_FACTOR`): NonFiniteError naming the
    step, else the step's size statistics."""
    target_rms = _rms(y)
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
        bad = nonfinite_fraction(G)
        raise NonFiniteError(
            f"step {t}: {bad:.3g} of the update entries are NaN/Inf" if bad else
            f"step {t}: the update's norm overflows float64 (its entries are finite, the "
            f"largest {largest_entry(G):.3g})")
    scale = update_scale(eta, activation_rms, target_rms, d, n)
    if norm > BLOWUP_FACTOR * scale:
        raise NonFiniteError(
            f"step {t}: update norm {norm:.3g} exceeds {BLOWUP_FACTOR * scale:.3g} "
            f"= {BLOWUP_FACTOR:g} x its natural scale eta rms(sigma') max(rms(y), 1) "
            f"(1 + sqrt(d/n)): the step blew up (docs/theory.md §7)")
    return {"target_rms": target_rms, "output_rms": _rms(result.output),
            "residual_rms": residual_rms, "update_norm": norm, "update_ratio": norm / scale}


def _draw_ahead(config: ModelConfig, seed: int, N: int, beta: np.ndarray, dtype: str) -> Future:
    """Batch 0 (step one's), drawn on a second thread while the caller draws W_0: the two
    streams are independent and numpy's Generators release the GIL while they fill, so on two
    cores the draws overlap; the numbers are the same, and X and W_0 are both live at step
    one anyway (:mod:`memory`: the step phase holds two draw chunks). The target is parsed
    here first, so that sympy runs on the caller's thread only (a bad target still raises at
    step one, from the draw)."""
    with contextlib.suppress(Exception):
        parse_function(config.target).numpy()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twostep-draw")
    try:
        return pool.submit(draws.draw_batch, config, seed, N, 0, beta, dtype)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one draw


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
    dtype = draws.check_dtype(dtype if isinstance(dtype, str) else np.dtype(dtype).name)
    steps = check_steps(steps)
    d, n = draws.dimensions(config, N)
    activation = parse_function(config.activation)
    activation_rms = activation_scale(activation)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(config, seed, N)
    ahead: Future | None = _draw_ahead(config, seed, N, beta, dtype)  # step one is fresh
    try:
        W = backends.asarray(draws.draw_first_layer(config, seed, N, d, dtype), xp)
        yield State(t=0, W=W, a=a, beta=beta)
        G = xp.empty_like(W)
        batch: draws.Batch | None = None
        fresh = 0
        for t, step in enumerate(steps, start=1):
            clock = time.perf_counter()
            if step.batch == "fresh":
                batch = None  # release the old X before drawing the new one
                batch = _draw_batch(config, seed, N, fresh, beta, dtype, xp, ahead)
                ahead, fresh = None, fresh + 1  # the future held batch 0: let it go
            draw_s = time.perf_counter() - clock
            clock = time.perf_counter()
            eta = step.eta(N)
            # Overflow is expected when a step blows up; it is detected and raised below.
            with np.errstate(over="ignore", invalid="ignore"):
                G, result = gradient_step(W, a, batch.X, batch.y, eta, activation,
                                          loss=config.loss, block_rows=block_rows, out=G)
            sizes = _guard(t, eta, result, G, batch.y, activation_rms, d, n)
            W += G
            stats = {"t": t, "eta": eta, "batch_index": batch.index, **sizes,
                     "u_norm": float(np.linalg.norm(result.u)),
                     "draw_s": draw_s, "step_s": time.perf_counter() - clock}
            yield State(t=t, W=W, a=a, beta=beta, update=G, batch=batch, stats=stats, u=result.u)
    finally:  # no draw left running when the trajectory is closed before step one
        if ahead is not None:
            wait_futures([ahead])
