"""The step-size-free core of one two-step simulation (docs/theory.md, "The exact terms").

Everything expensive in a two-step run is free of the step sizes: the draws (keyed by
``(seed, N)`` only), ``G_0`` (the step-one update at ``eta = 1``), ``P0 = W_0 X_2^T``,
``P1 = G_0 X_2^T`` and the exact terms ``D_k``.  A :class:`Core` holds them for one
``(config without step sizes, N, seed)`` and evaluates, for any ``(eta_1, eta_2)``:

- the exact step-two update ``U = (eta_2/n) diag(a) [sigma'(P0 + eta_1 P1) o r^T] X_2``,
  ``r = y - sigma(P0 + eta_1 P1)^T a / sqrt(N)``: one elementwise pass and **one** GEMM;
- its top singular values and the relative residual ``||U - sum_k eta_2 eta_1^k D_k|| / ||U||``
  of the truncated series (the regime guard's statistic), measured, not estimated.

``P0`` and ``P1`` are N x n: the core holds two such matrices besides the ``K + 1`` matrices
``D_k`` (N x d), so it is meant for the widths of a phase plane (N <= 4000 or so), not for
the largest runs.  Tested against independent full runs at the same draws
(``tests/test_simulate_core.py``).

Backends (:mod:`backend`): ``build(..., backend=...)`` keeps ``P0``, ``P1``, ``X``, ``a``, ``y``
and the ``D_k`` on that backend (the draws are made on the host and moved there), and
:meth:`Core.update` (written once, in the namespace of the core's arrays), the residual and the
block products of :func:`spectra.top_singular` run there (its small Ritz problems on the host).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from array_api_compat import array_namespace

from twostep.theory import ConfigError, Function, ModelConfig, parse_function
from twostep.theory.records import Exceedance, P1Stats

from . import backend as backends
from . import draws, gd, lanczos
from . import terms as exact_terms


@dataclass
class Core:
    """The step-size-free pieces of one run (module docstring)."""

    config: ModelConfig
    N: int
    seed: int
    a: np.ndarray
    X: np.ndarray          # the step-two batch (n x d)
    y: np.ndarray
    P0: np.ndarray         # W_0 X_2^T (N x n)
    P1: np.ndarray         # G_0 X_2^T (N x n)
    D: list[np.ndarray]    # the exact terms D_0..D_K (N x d)
    activation: Function
    _D_norms: list[float] | None = None

    @property
    def K(self) -> int:
        return len(self.D) - 1

    def update(self, eta1: float, eta2: float) -> np.ndarray:
        """The exact step-two update at step sizes ``(eta1, eta2)`` (one elementwise pass and
        one GEMM), in the namespace of the core's arrays."""
        xp = array_namespace(self.P0)
        N, n = self.P0.shape
        H = self.P0 + eta1 * self.P1
        with np.errstate(over="ignore", invalid="ignore"):
            r = (self.y - (backends.lambdify(self.activation, 0, xp)(H).T @ self.a)
                 / math.sqrt(N) if self.config.loss == "squared" else self.y)
            M = backends.lambdify(self.activation, 1, xp)(H) * xp.reshape(r, (1, -1))
            M *= xp.reshape(xp.astype((eta2 / n) * self.a, M.dtype), (-1, 1))
        U = M @ xp.astype(self.X, M.dtype, copy=False)
        if not bool(xp.all(xp.isfinite(U))):
            from twostep.theory import NonFiniteError

            raise NonFiniteError(f"core update at eta1={eta1:g}, eta2={eta2:g}: "
                                 f"{gd.nonfinite_fraction(U):.3g} of the entries are NaN/Inf")
        return U

    def _p1(self, eta1: float) -> P1Stats:
        """``max eta1 |P1|`` and the fractions of entries above :data:`terms.P1_THRESHOLDS`."""
        xp = array_namespace(self.P1)
        absP1 = xp.abs(self.P1)
        total = math.prod(absP1.shape)
        return P1Stats(max=eta1 * backends.scalar(xp.max(absP1)), fraction_above=tuple(
            Exceedance(level=name,
                       fraction=backends.scalar(xp.count_nonzero(eta1 * absP1 > level)) / total)
            for name, level in exact_terms.P1_THRESHOLDS.items()))

    def measure(self, eta1: float, eta2: float, top: int = 3) -> dict:
        """Top singular values of the update and the series diagnostics at ``(eta1, eta2)``
        (the ``series`` keys of a measurement that the regime guard reads)."""
        U = self.update(eta1, eta2)
        rng = draws.generator(self.seed, self.N, draws.SVD, 7)
        usvd = lanczos.top_singular(U, max(top, 1), rng)
        if self._D_norms is None:  # free of the step sizes: computed once
            self._D_norms = [float(lanczos.top_singular(Dk, 1, rng).values[0])
                             for Dk in self.D]
        norms = [eta2 * eta1**k * v for k, v in enumerate(self._D_norms)]
        exact_terms.subtract_terms(U, self.D, eta1, eta2)
        rnorm = float(lanczos.top_singular(U, 1, rng).values[0])
        p1 = self._p1(eta1)
        series = exact_terms.series(float(usvd.values[0]), rnorm, norms, eta1, eta2, p1, self.K)
        return {"update_singular_values": [float(v) for v in usvd.values[:top]],
                "series": series}


def build(config: ModelConfig, N: int, seed: int, K: int, *, dtype: str = "float64",
          backend: str | ModuleType | None = None) -> Core:
    """The :class:`Core` of ``config`` (its step sizes are ignored) at ``(N, seed)`` with the
    exact terms ``D_0..D_K``.  Two-step runs of the config's batch mode, smooth activations.
    ``backend`` (default numpy): where the core's arrays live and its updates are computed."""
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config must be a ModelConfig, got {type(config).__name__}")
    K = exact_terms.check_terms(K)
    activation = parse_function(config.activation)
    exact_terms.check_smooth(activation)
    xp = backends.namespace(backend)
    if backends.name(xp) != "numpy":
        backends.lambdify(activation, K + 1, xp)  # refuses a function the backend lacks up front
    run_dtype = draws.check_dtype(dtype)
    seed = draws.check_seed(seed)
    d, n = draws.dimensions(config, N)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(config, seed, N)
    # the draws are made on the host and moved to the backend (the identity on numpy)
    W0 = backends.asarray(draws.draw_first_layer(config, seed, N, d, run_dtype), xp)
    batch0 = draws.draw_batch(config, seed, N, 0, beta, run_dtype)
    X0 = backends.asarray(batch0.X, xp)
    with np.errstate(over="ignore", invalid="ignore"):
        G0, _ = gd.gradient_step(W0, a, X0, batch0.y, 1.0, activation, loss=config.loss)
    batch2 = batch0 if config.reuse else draws.draw_batch(config, seed, N, 1, beta, run_dtype)
    X2 = X0 if config.reuse else backends.asarray(batch2.X, xp)
    del X0, batch0
    P0 = W0 @ X2.T
    P1 = G0 @ X2.T
    # D_k from W_1 = W_0 + G_0 at eta1 = 1 (the terms do not depend on eta1)
    tp = exact_terms.term_matrices(W0 + G0, G0, 1.0, a, X2, batch2.y, activation, K,
                                   loss=config.loss)
    return Core(config=config, N=int(N), seed=seed, a=backends.asarray(a, xp, run_dtype),
                X=X2, y=backends.asarray(batch2.y, xp, "float64"), P0=P0, P1=P1, D=tp.D,
                activation=activation)
