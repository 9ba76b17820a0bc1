"""Rounding-error bounds of the numpy kernels, for tests/test_kernels_digits.py.

Two correct runs of one kernel on the same inputs differ only by rounding: BLAS kernels of
another CPU sum in another order (and may fuse multiply-adds), numpy's SIMD loops of another CPU
evaluate ``tanh``/``exp`` to other last bits. Each run is within a bound ``e`` of the exact
result, so two runs differ by at most ``2 e``. The bounds here are the standard forward error
bounds (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.), entry by entry,
carried through each kernel step by step as simulate/ computes it:

- every rounding is at the unit roundoff ``u = eps(dtype) / 2`` of the run's dtype (float32's
  for a float32 run, also where a step promotes to float64 or its outputs are float64 arrays:
  conservative);
- a sum of ``k`` products (``A @ B``, inner length ``k``; Higham eq. 3.13):
  ``|fl(A B) - A B| <= gamma_k |A| |B|``, ``gamma_k = k u / (1 - k u)``, whatever order and
  blocking the BLAS uses. It is the magnitude of the *summands* that counts, not of the result:
  a sum that cancels (random signs) keeps the error of its terms. Errors ``eA``, ``eB``
  already in the factors add ``eA |B| + |A| eB + eA eB``;
- an elementwise ``+ - *`` adds one rounding ``u |result|`` to the propagated errors (a Python
  scalar factor two: its own rounding to the dtype, then the product's);
- an elementwise function ``f`` (numpy's ``tanh`` in a lambdified derivative of the activation)
  adds ``|f'| e_x`` (the argument's error, by the mean value theorem) and its own evaluation
  error, at most ``FUNC_ULPS u (|f(x)| + |x f'(x)|)``: numpy's vectorised transcendental loops
  are accurate to 4 ulp, and the lambdified expression adds a few roundings (the argument's,
  as in ``z + 1/2``, is the ``|x f'(x)|`` part).

The values ``v`` of a :class:`Bounded` are the float64 computation of the same formula from
the same inputs: the exact result to first order (their own error is a float64 rounding,
below every float32 bound and of the order of the float64 ones' second-order terms)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Error of one evaluation of a lambdified activation derivative, in units of
#: ``u (|f(x)| + |x f'(x)|)`` (module docstring).
FUNC_ULPS = 8.0


def unit(dtype) -> float:
    """The unit roundoff ``u = eps / 2`` of ``dtype``."""
    return float(np.finfo(np.dtype(dtype)).eps) / 2


U64 = unit(np.float64)


def gamma(k: int, u: float) -> float:
    """``gamma_k = k u / (1 - k u)``: the relative error bound of a sum of ``k`` terms."""
    return k * u / (1.0 - k * u)


def mag(x) -> float:
    """The largest finite ``|x|`` (0 for an empty array)."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    return float(np.max(x[np.isfinite(x)], initial=0.0))


@dataclass(frozen=True)
class Bounded:
    """An array of a run: ``v`` its exact value (float64), ``e`` a bound on the error of each
    entry of the computed array (same shape), ``u`` the unit roundoff of its roundings."""

    v: np.ndarray
    e: np.ndarray
    u: float

    def __post_init__(self) -> None:
        v = np.asarray(self.v, dtype=np.float64)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "e", np.broadcast_to(np.asarray(self.e, np.float64), v.shape))

    @classmethod
    def exact(cls, x, u: float) -> Bounded:
        """An input that is the same on every machine (a draw, a cast of a draw)."""
        return cls(x, 0.0, u)

    @property
    def T(self) -> Bounded:
        return Bounded(self.v.T, self.e.T, self.u)

    def take(self, rows) -> Bounded:
        return Bounded(self.v[rows], self.e[rows], self.u)

    def column(self) -> Bounded:
        return Bounded(self.v.reshape(-1, 1), self.e.reshape(-1, 1), self.u)

    def row(self) -> Bounded:
        return Bounded(self.v.reshape(1, -1), self.e.reshape(1, -1), self.u)

    def cast(self, u: float | None = None) -> Bounded:
        """Rounded to a dtype of unit roundoff ``u`` (default: this one's)."""
        u = self.u if u is None else u
        return Bounded(self.v, self.e + u * np.abs(self.v), max(u, self.u))

    def _other(self, other) -> Bounded:
        return other if isinstance(other, Bounded) else Bounded.exact(other, self.u)

    def __add__(self, other) -> Bounded:
        b = self._other(other)
        v = self.v + b.v
        u = max(self.u, b.u)
        return Bounded(v, self.e + b.e + u * np.abs(v), u)

    def __sub__(self, other) -> Bounded:
        return self + (-self._other(other))

    def __neg__(self) -> Bounded:
        return Bounded(-self.v, self.e, self.u)

    def __mul__(self, other) -> Bounded:
        """Elementwise product; a Python scalar is rounded to the dtype first."""
        if isinstance(other, (int, float)):
            v = self.v * float(other)
            return Bounded(v, abs(other) * self.e + 2 * self.u * np.abs(v), self.u)
        b = self._other(other)
        v = self.v * b.v
        u = max(self.u, b.u)
        e = self.e * np.abs(b.v) + np.abs(self.v) * b.e + self.e * b.e + u * np.abs(v)
        return Bounded(v, e, u)

    def __matmul__(self, other) -> Bounded:
        """``A @ B`` by sums of ``k`` products (module docstring; Higham eq. 3.13)."""
        b = self._other(other)
        u = max(self.u, b.u)
        A, B = np.abs(self.v), np.abs(b.v)
        k = self.v.shape[-1]
        e = gamma(k, u) * (A @ B) + self.e @ B + A @ b.e + self.e @ b.e
        return Bounded(self.v @ b.v, e, u)


def apply(activation, j: int, x: Bounded) -> Bounded:
    """``sigma^(j)(x)`` evaluated elementwise (module docstring); the slope is the largest of
    ``|sigma^(j+1)|`` at ``x`` and ``x +- e`` (the errors are far below the scale on which
    it varies)."""
    f, df = activation.numpy(j), activation.numpy(j + 1)
    v = np.asarray(f(x.v), dtype=np.float64)
    slope = np.abs(np.asarray(df(x.v), dtype=np.float64))
    for shifted in (x.v + x.e, x.v - x.e):
        slope = np.maximum(slope, np.abs(np.asarray(df(shifted), dtype=np.float64)))
    own = FUNC_ULPS * x.u * (np.abs(v) + np.abs(x.v * np.asarray(df(x.v), dtype=np.float64)))
    return Bounded(v, slope * x.e + own, x.u)


def labels(y: np.ndarray, X: np.ndarray, beta: np.ndarray, target) -> Bounded:
    """The labels ``y = sigma_*(X beta) + tau noise`` of :func:`draws.draw_batch` (float64; X
    the run's inputs, whose float64 draw differs by a rounding): ``beta = g / ||g||`` and
    ``X beta`` are BLAS sums of ``d`` terms, so ``|d(X beta)| <= gamma_{2d+2} |X| |beta|``;
    then sigma_* and the noise add their roundings."""
    d = X.shape[1]
    X = np.asarray(X, dtype=np.float64)
    ez = gamma(2 * d + 2, U64) * (np.abs(X) @ np.abs(beta))
    z = apply(target, 0, Bounded(X @ beta, ez, U64))
    y = np.asarray(y, dtype=np.float64)
    return Bounded(y, z.e + 2 * U64 * np.where(np.isfinite(y), np.abs(y), 0.0), U64)


# -- the kernels, step by step as simulate/gd.py, terms.py and core.py compute them ----------

def gradient_step(W: Bounded, a: np.ndarray, X: np.ndarray, y: Bounded, eta: float,
                  activation, *, loss: str = "squared", keep=None) -> dict[str, Bounded]:
    """:func:`gd.gradient_step`: ``H = X W^T`` (sums of d), ``f = sigma(H) a / sqrt(N)`` (of N),
    ``r = y - f``, ``M = sigma'(H) o r (eta/n) a^T``, ``G = M^T X`` (of n) and
    ``u = X^T r / n`` (of n). ``keep``: the rows of the blocks that enter G and u (a block
    with a non-finite residual is left out)."""
    u = W.u
    N = W.v.shape[0]
    n = X.shape[0]
    keep = np.ones(n, dtype=bool) if keep is None else keep
    Xb = Bounded.exact(X, u)
    H = Xb @ W.T
    a_dt = Bounded.exact(a, u).cast()
    f = (apply(activation, 0, H) @ a_dt) * (1.0 / math.sqrt(N))
    r = y - f if loss == "squared" else y
    rd = r.take(keep).cast(u)
    a_step = Bounded.exact((eta / n) * a, u).cast()
    M = apply(activation, 1, H.take(keep)) * rd.column() * a_step.row()
    Xk = Xb.take(keep)
    return {"G": M.T @ Xk, "output": f, "residual": r, "u": (Xk.T @ rd) * (1.0 / n)}


def _block_terms(S: list, powers: list, r: list, k: int) -> Bounded:
    """``sum_{m+l=k} (sigma^(m+1)(P0) o P1^m / m!) o r_l^T`` (:meth:`terms._TermWork.block`)."""
    M = None
    for m in range(k + 1):
        if r[k - m] is None:
            continue
        A = S[m + 1] if m == 0 else S[m + 1] * powers[m]
        term = A * r[k - m].column().cast(A.u)
        M = term if M is None else M + term
    return M


def term_matrices(W1: Bounded, step_one: Bounded, eta1: float, a: np.ndarray, X: np.ndarray,
                  y: Bounded, activation, K: int, *, loss: str = "squared"):
    """:func:`terms.term_matrices`: the ``D_k`` and ``eta_1 P1 = X step_one^T`` (for the
    exceedance counts)."""
    u = W1.u
    N = W1.v.shape[0]
    n = X.shape[0]
    Xb = Bounded.exact(X, u)
    E = Xb @ step_one.T                      # eta_1 P1
    P0 = (Xb @ W1.T) - E
    P1 = E * (1.0 / eta1)
    S = [apply(activation, j, P0) for j in range(K + 2)]
    powers = [None, P1]
    for m in range(2, K + 1):
        powers.append(powers[-1] * P1 * (1.0 / m))
    a_dt = Bounded.exact(a, u).cast()
    if loss == "squared":
        r = [y - (S[0] @ a_dt) * (1.0 / math.sqrt(N))]
        r += [-(((S[l] * powers[l]) @ a_dt) * (1.0 / math.sqrt(N))) for l in range(1, K + 1)]
    else:  # r = y: r_l = 0 for l >= 1, exactly
        r = [y] + [None] * K
    a_n = Bounded.exact(a / n, u).cast()
    D = [(_block_terms(S, powers, r, k) * a_n.row()).T @ Xb for k in range(K + 1)]
    return D, E


def core(config, N: int, seed: int, K: int, dtype: str) -> dict:
    """The bounded pieces of :func:`core.build`: ``P0 = W_0 X_2^T``, ``P1 = G_0 X_2^T``, the
    ``D_k`` of ``W_1 = W_0 + G_0`` (eta_1 = 1), and the step-two batch (``a``, ``X``, ``y``)."""
    from twostep.simulate import draws
    from twostep.theory import parse_function

    act = parse_function(config.activation)
    u = unit(dtype)
    d, _ = draws.dimensions(config, N)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(config, seed, N)
    W0 = Bounded.exact(draws.draw_first_layer(config, seed, N, d, dtype), u)
    target = parse_function(config.target)
    b0 = draws.draw_batch(config, seed, N, 0, beta, dtype)
    G0 = gradient_step(W0, a, b0.X, labels(b0.y, b0.X, beta, target), 1.0, act,
                       loss=config.loss)["G"]
    b2 = b0 if config.reuse else draws.draw_batch(config, seed, N, 1, beta, dtype)
    X2 = Bounded.exact(b2.X, u)
    y2 = labels(b2.y, b2.X, beta, target)
    D, _ = term_matrices(W0 + G0, G0, 1.0, a, b2.X, y2, act, K, loss=config.loss)
    return {"P0": W0 @ X2.T, "P1": G0 @ X2.T, "D": D, "a": a, "X": b2.X, "y": y2, "act": act}


def trajectory(config, N: int, seed: int, steps, dtype: str):
    """:func:`gd.trajectory`, bounded: yields ``(W, step, y, eta)`` after each step (``W`` the
    bounded weights, ``step`` :func:`gradient_step`'s bounded outputs, ``y`` the batch's
    bounded labels; ``None`` for all three but W at t = 0)."""
    from twostep.simulate import draws
    from twostep.theory import parse_function

    act = parse_function(config.activation)
    target = parse_function(config.target)
    d, _ = draws.dimensions(config, N)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(config, seed, N)
    W = Bounded.exact(draws.draw_first_layer(config, seed, N, d, dtype), unit(dtype))
    yield W, None, None, None
    fresh, batch = 0, None
    for step in steps:
        if step.batch == "fresh":
            batch = draws.draw_batch(config, seed, N, fresh, beta, dtype)
            fresh += 1
        y = labels(batch.y, batch.X, beta, target)
        eta = step.eta(N)
        bound = gradient_step(W, a, batch.X, y, eta, act, loss=config.loss)
        W = W + bound["G"]
        yield W, bound, y, eta


def update(P0: Bounded, P1: Bounded, a: np.ndarray, X: np.ndarray, y: Bounded, eta1: float,
           eta2: float, activation, *, loss: str = "squared") -> Bounded:
    """:meth:`core.Core.update`: ``H = P0 + eta1 P1`` (N x n), ``r = y - sigma(H)^T a / sqrt(N)``,
    ``U = (sigma'(H) o r^T) (eta2/n) a X`` (sums of n)."""
    u = P0.u
    N, n = P0.v.shape
    H = P0 + P1 * eta1
    a_dt = Bounded.exact(a, u).cast()
    r = y - (apply(activation, 0, H).T @ a_dt) * (1.0 / math.sqrt(N)) if loss == "squared" else y
    scale = Bounded.exact((eta2 / n) * a, u).cast()
    M = apply(activation, 1, H) * r.row() * scale.column()
    return M @ Bounded.exact(X, u)


# -- derived quantities ------------------------------------------------------------------------

def top_singular_error(A: Bounded) -> float:
    """A bound on the error of every singular value of the computed A by a dense float64 SVD:
    Weyl, ``|d sigma_i| <= ||dA||_2 <= ||dA||_F <= ||e||_F``, plus the SVD's backward error,
    ``10 (N + d) u_64 ||A||_2`` (LAPACK's ``p(m, n) u ||A||``, Demmel-Kahan)."""
    N, d = A.v.shape
    s1 = float(np.linalg.norm(A.v, 2))
    return float(np.linalg.norm(A.e)) + 10 * (N + d) * U64 * s1


def exceedance_slack(absx: np.ndarray, e, levels) -> np.ndarray:
    """How much a fraction ``#{|x| > level} / size`` can move when each entry moves by up to
    ``2 e``: the entries within ``2 e`` of the level, as a fraction."""
    absx = np.abs(absx)
    return np.array([np.count_nonzero(np.abs(absx - level) <= 2 * e) / absx.size
                     for level in levels])


def ritz_bounds(values: np.ndarray, residual: float, norm_F: float, length: int, u: float):
    """A-posteriori bounds of the top singular triplets of :func:`lanczos.top_singular`
    (values as ``||A v||``, ``u = A v / ||A v||``, residual ``rho = max ||A^T u - sigma v||
    / sigma_1``): with ``x = [u; v] / sqrt 2`` an approximate eigenvector of the symmetric
    ``[[0, A], [A^T, 0]]``, Rayleigh quotient sigma and residual ``rho sigma_1 / sqrt 2``,

    - a value is within ``min(r, r^2 / gap)`` of the true one (Kato-Temple; Saad, Numerical
      Methods for Large Eigenvalue Problems, Thm 3.8), ``r = rho sigma_1`` plus the rounding
      of the products behind rho and the value, ``2 gamma_length ||A||_F`` (``length``
      the longest side of A); ``gap`` the
      distance to the neighbouring values less ``2 r`` (unknown below the last one: ``r``);
    - a singular vector is within ``sqrt 2 r / gap`` of the true one (Davis-Kahan sin theta),
      up to its sign.

    Returns the per-value and per-vector bounds (inf where the gap is not positive)."""
    r = residual * float(values[0]) + 2 * gamma(length, u) * norm_F
    gaps = np.full(values.size, np.inf)
    diffs = np.abs(np.diff(values))
    gaps[:-1] = diffs
    gaps[1:] = np.minimum(gaps[1:], diffs)
    gaps -= 2 * r
    value = np.full(values.size, r)
    inside = np.isfinite(gaps) & (gaps > 0)
    inside[-1] = False  # the next value is not computed: its gap is unknown
    value[inside] = np.minimum(r, r * r / gaps[inside])
    vector = np.where(inside, math.sqrt(2) * r / np.where(inside, gaps, 1.0), np.inf)
    return value + gamma(length, u) * norm_F, vector + 2 * gamma(length, u)
