"""Random draws of the model (docs/model.md, "The canonical model"), one stream per object.

Every draw comes from a :class:`numpy.random.Generator` built from one
:class:`numpy.random.SeedSequence` per ``(seed, N)``::

    SeedSequence(entropy=(SALT, seed, N), spawn_key=(stream, *index))

The config is deliberately *not* part of the entropy: two runs with the same
seed and N (reuse vs independent, two activations, ...) share ``beta_*``,
``W_0``, ``a`` and batch 0, so their differences are paired. Distinct spawn
keys give statistically independent streams (numpy's ``SeedSequence.spawn``
uses the same mechanism), and naming them by key rather than by spawn order
means adding a stream never changes the others.

All draws are made in float64 and cast to the run dtype afterwards, so a
float32 run is the rounding of the float64 run with the same seed (this is
what makes "float32 agrees with float64 to 1e-4" a meaningful check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twostep.theory import ConfigError, ModelConfig, NonFiniteError

from .options import DTYPES

#: Fixed project salt of the entropy (ASCII "twostep" as an integer).
SALT = int.from_bytes(b"twostep", "big")

# Stream identifiers (first element of the spawn key).
BETA, FIRST_LAYER, SECOND_LAYER, BATCH, NULL, SVD, FEATURES = range(7)
# Sub-streams of a batch.
INPUTS, NOISE = 0, 1

#: Rows of float64 normals drawn at a time (bounds the draw buffer; the
#: values do not depend on it since Generator draws are sequential).
DRAW_BYTES = 32 * 2**20

#: Largest seed: seeds are stored as SQLite integers (signed 64-bit) in the result store.
MAX_SEED = 2**63 - 1


def check_seed(seed: object, name: str = "seed") -> int:
    """``seed`` as an int in [0, 2^63 - 1]; else a one-line ConfigError."""
    if (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
            or not 0 <= seed <= MAX_SEED):
        raise ConfigError(f"{name} must be an integer >= 0 and <= 2^63 - 1 = {MAX_SEED}, "
                          f"got {seed!r}")
    return int(seed)


def check_dtype(dtype: object) -> np.dtype:
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    return np.dtype(dtype)


def dimensions(config: ModelConfig, N: int) -> tuple[int, int]:
    """``d = round(psi_d N)``, ``n = round(psi_n N)`` (halves rounded up, exactly):
    :meth:`ModelConfig.dimensions`, which a prediction at N uses too."""
    return config.dimensions(N)


def generator(seed: int, N: int, stream: int, *index: int) -> np.random.Generator:
    """The Generator of one named stream (see the module docstring)."""
    sequence = np.random.SeedSequence((SALT, seed, N), spawn_key=(stream, *index))
    return np.random.Generator(np.random.PCG64(sequence))


def _rows_per_draw(width: int) -> int:
    return max(1, DRAW_BYTES // (8 * max(width, 1)))


def draw_beta(seed: int, N: int, d: int) -> np.ndarray:
    """``beta_*``: uniform on the unit sphere of R^d (float64)."""
    beta = generator(seed, N, BETA).standard_normal(d)
    return beta / np.linalg.norm(beta)


def draw_second_layer(config: ModelConfig, seed: int, N: int, stream: int = SECOND_LAYER,
                      index: tuple[int, ...] = ()) -> np.ndarray:
    """``a``, float64: iid ``N(0, 1/N)`` (``gaussian``), uniform on ``[-sqrt(3/N), sqrt(3/N)]``
    (``uniform``: variance 1/N, bounded; docs/model.md, "The second layer's law") or
    ``+-1/sqrt(N)`` (``sign``).

    The uniform law is ``sqrt(3/N) (2 Phi(g_i) - 1) = sqrt(3/N) erf(g_i / sqrt(2))`` of the
    Gaussian law's own draws ``g``, so a uniform and a Gaussian run with the same seed and N are
    paired neuron by neuron.  The null vectors of :mod:`directions` use the same law from their
    own stream (``stream=NULL``).
    """
    rng = generator(seed, N, stream, *index)
    if config.second_layer == "sign":
        return (2.0 * rng.integers(0, 2, size=N) - 1.0) / math.sqrt(N)
    g = rng.standard_normal(N)
    if config.second_layer == "uniform":
        from scipy.special import erf

        return math.sqrt(3.0 / N) * erf(g / math.sqrt(2.0))
    return g / math.sqrt(N)


def draw_first_layer(config: ModelConfig, seed: int, N: int, d: int,
                     dtype: np.dtype) -> np.ndarray:
    """``W_0`` (N x d, run dtype): rows iid ``N(0, I_d/d)`` (``gaussian``) or
    uniform on the unit sphere (``sphere``; the Gaussian rows have norm ~ 1)."""
    rng = generator(seed, N, FIRST_LAYER)
    W = np.empty((N, d), dtype=dtype)
    rows = _rows_per_draw(d)
    for start in range(0, N, rows):
        chunk = rng.standard_normal((min(rows, N - start), d))
        if config.first_layer == "sphere":
            chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        else:
            chunk *= 1.0 / math.sqrt(d)
        W[start:start + len(chunk)] = chunk
    return W


@dataclass(frozen=True)
class Batch:
    """One batch: inputs ``X`` (n x d, run dtype), labels ``y`` and noise (float64).

    ``y = sigma_*(X beta_*) + tau * eps`` is computed from the float64 draws
    of X before the cast, so y is the same in float32 and float64 runs.
    """

    index: int
    X: np.ndarray
    y: np.ndarray
    noise: np.ndarray


def draw_inputs(seed: int, N: int, n: int, d: int, stream: int, index: int,
                beta: np.ndarray | None = None):
    """Yield ``(start, X_chunk float64, z_chunk)`` row chunks of one input matrix.

    ``z = X beta`` when ``beta`` is given. The chunks come from one sequential
    stream, so the matrix does not depend on the chunk size.
    """
    rng = generator(seed, N, stream, index, INPUTS)
    rows = _rows_per_draw(d)
    for start in range(0, n, rows):
        chunk = rng.standard_normal((min(rows, n - start), d))
        yield start, chunk, (chunk @ beta if beta is not None else None)


def draw_batch(config: ModelConfig, seed: int, N: int, index: int, beta: np.ndarray,
               dtype: np.dtype) -> Batch:
    """Batch number ``index`` (0 = the step-one batch): rows of X iid ``N(0, I_d)``,
    ``y = sigma_*(<beta_*, x>) + eps``, ``eps ~ N(0, tau^2)`` (docs/model.md)."""
    from twostep.theory.functions import parse_function  # sympy: not for `twostep --help`

    d, n = dimensions(config, N)
    target = parse_function(config.target).numpy()
    X = np.empty((n, d), dtype=dtype)
    z = np.empty(n)
    for start, chunk, proj in draw_inputs(seed, N, n, d, BATCH, index, beta):
        X[start:start + len(chunk)] = chunk
        z[start:start + len(chunk)] = proj
    noise = generator(seed, N, BATCH, index, NOISE).standard_normal(n)
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.asarray(target(z), dtype=np.float64)
        y = values + config.noise * noise
    if not np.all(np.isfinite(y)):
        bad = int(np.flatnonzero(~np.isfinite(y))[0])
        where = (f"the target {config.target} gives {values[bad]} at z = {z[bad]:.4g}"
                 if not np.isfinite(values[bad])
                 else f"tau = {config.noise:g} times a N(0, 1) draw overflows float64")
        raise NonFiniteError(f"batch {index}: {np.count_nonzero(~np.isfinite(y))} of the "
                             f"{n} labels y = sigma_*(z) + tau eps are NaN/Inf ({where})")
    return Batch(index=index, X=X, y=y, noise=noise)
