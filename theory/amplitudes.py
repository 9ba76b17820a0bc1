"""Finite-N amplitudes of the step-two terms and their BBP locations (docs/theory.md, §3-§4,
"The exact terms"; derivation in docs/amplitudes.md).

Term k of the step-two update is ``T_k = eta_2 eta_1^k D_k`` (docs/theory.md, "The exact
terms"); its projected amplitude ``A_k(N) = ||T_k^T q_{k+1}||`` is what the simulator reports as
``term(k).amplitude``. Row i of the part of ``D_k`` with left vector ``a^{o(k+1)}`` is
``a_i^{k+1} v_{k,i}``,

    v_{k,i} = (1/n) sum_j sigma^(k+1)(h_ij) rho_ij^k / k! r_j x_j,    rho_ij = P1_ij / a_i,

and ``rho_ij = <b_i, x_j>`` with ``b_i = (1/n) sum_j' sigma'(h_ij') r_j' x_j'`` (row i of the
step-one gradient over ``a_i``). To leading order, for one neuron and one step-two sample,

    rho = c_1 g + xi + kappa h  [+ psi sigma'(h) r   reused batch: the sample's own term]

with ``g = <u, x>`` (u the step-one vector, common to all neurons), ``xi ~ N(0, s_xi^2)``,
``s_xi^2 = (d/n) Var(sigma'(z)) E[r^2]`` (the neuron's own fluctuation of ``b_i``, independent of
h), ``kappa = <w_i, b_i> = c_2(sigma) E[y]``, ``psi = d/n``. Split ``v_{k,i}`` into its neuron
average ``vbar_k = (1/n) sum_j Phi_k(g_j, r_j) r_j x_j``, ``Phi_k = E_{h,xi}[sigma^(k+1)(h)
rho^k] / k!``, and the neuron fluctuation ``zeta_i``. Then, with ``s = sqrt(N) a``,

    E A_k(N)^2 = (eta_2 eta_1^k)^2 [ Pi_k(N) E||vbar_k||^2 + Sigma_k(N) E||zeta||^2 ]

- ``Pi_k(N) = E||P_perp a^{o(k+1)}||^2 = N^{-(k+1)} (N rho_{k+1} - sum_{m<=k}
  E[R_{k+1}^2 R_m^2] / rho_m)``: ``R_m`` is the residual of ``s^m`` after the L2 projection on
  ``s, ..., s^{m-1}`` under the second layer's law (:mod:`.laws`; no constant: the Gram-Schmidt
  runs against the lower powers of a only), ``rho_m = E[R_m^2]`` = 1, 3, 6, 30, ... (Gaussian;
  uniform 1, 9/5, 108/175, 36/49) so ``|<a^{k+1}, q_{k+1}>| ~ sqrt(rho_{k+1}) N^{-k/2}``
  (Gaussian 1, sqrt(3/N), sqrt(6)/N, sqrt(30)/N^{3/2}); the sum is the regression loss of the k
  sample directions.  These weights are the only place the law of a enters.
- ``Sigma_k(N) = sum_i q_i^2 a_i^{2k+2} = N^{-(k+1)} E[R_{k+1}^2 s^{2k+2}] / rho_{k+1}``: the
  weight with which the neuron fluctuations reach the projection (35/N^2 for k = 1).
- ``E||vbar||^2 = E[F z]^2 + E[F z']^2 + (1/n)((d-2) E[F^2] + E[F^2 (z^2 + z'^2)] - mean^2)``,
  ``F = Phi_k(g, r) r``, ``g = gamma z + lambda z'`` (z = <beta_*, x>), ``gamma = c_1(sigma_*)``,
  ``lambda^2 = ((d-1)/n) E[y^2]``; reused batch: ``+ 2 (d/n) E[d_g F] E[r F]`` (the samples
  couple through ``u^(-j)``: sample j' sits in the g of sample j).
- ``E||zeta||^2 = (d/n) E[(Psi_k - Phi_k^2) r^2] + C_w^2 + s_xi^2 C_xi^2`` with
  ``Psi_k = E_{h,xi}[(sigma^(k+1)(h) rho^k / k!)^2]`` and the Stein coefficients
  ``C_w = E[d/dh (sigma^(k+1) rho^k / k!) r]`` (along w_i), ``C_xi = E[d/drho (...) r]``
  (along the neuron's own xi_i).

The leading constant (``N -> infinity``, ``d = psi_d N``, ``n = psi_n N``) is
``A_k(N) ~ C_k N^{e_k}``, ``C_k = etabar_2 etabar_1^k sqrt(rho_{k+1} ||vbar_k||^2_inf)``,
``e_k = alpha_2 - k (1/2 - alpha_1)``; ``Sigma_k E||zeta||^2`` and the finite-(d, n) parts are
``O(1/N)`` relative to it, but with large constants (``E[R_2^2 s^4]/rho_2 = 35`` for k = 1):
:func:`term_amplitude` keeps them, so a prediction at N = 500 is comparable with a simulation
at N = 500.

Dropped, each ``O(N^{-1})`` relative in ``A_k^2`` with small constants or zero for the
configurations checked: the lower-residual pieces ``r_l, l >= 1`` (their left vectors are lower
powers of a), ``f_0`` in the residual (``E f_0^2 = E[sigma^2]/N``), fluctuations of ``||w_i||``,
``||x_j||`` and ``<u, beta_*>``; the reused batch's couplings through ``xi^(-j)`` (they carry
``E[y]``). The amplitude is ``sqrt(E A^2)``, not ``E A``. The moments are Gaussian
expectations from :mod:`.hermite` (exact where the integral closes, else mpmath);
``TermConstant.exact`` says whether all of them were exact.

Reused batch: the algebra above closes for smooth activations (the self-term is a polynomial in
``sigma'(h)`` and r); :func:`term_constant` returns ``value=None`` with the reason for
non-smooth activations (the moments multiply distributions) at ``k >= 1``; every
non-canonical scaling and the ``sign`` law (collinear powers: the terms merge) are refused.

Locations (docs/theory.md §3): with the terms' left vectors nearly orthogonal, term ``k >= 1``
acts on W_1's bulk (edge ``1 + sqrt(c)``, ``c = N/d``) as a rank-one spike of strength
``theta_k``, the coherent part ``eta_2 eta_1^k sqrt(Pi_k E||vbar_k||^2)`` of the amplitude
(the neuron fluctuations are spread over the rows and are not a rank-one spike); an outlier iff
``theta_k > c^{1/4}``, at :func:`theory.bbp.spike`'s location.

The Gaussian moments and the weights of the powers of a are computed in :mod:`.term_moments`;
this module turns them into constants, amplitudes, locations and crossing widths.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from twostep.theory.deprecation import moved_names

from . import laws
from .bbp import spike
from .config import ModelConfig
from .counts import paper_count
from .errors import ConfigError, NonFiniteError
from .functions import Z, parse_function
from .steps import check_step_sizes
from .term_moments import (
    A_DRAW_WIDTH,
    _a_weights,
    _dims,
    _pieces,
    overlap_constants,
)

__all__ = [
    "Crossing",
    "TermAmplitude",
    "TermConstant",
    "crossing_width",
    "overlap_constants",
    "term_amplitude",
    "term_constant",
    "term_location",
    "visible_new_outliers",
]

#: Largest term k handled (the polynomial algebra grows like k^4).
MAX_K = 6

#: Largest width searched by :func:`crossing_width` (as `twostep theory --N`).
MAX_WIDTH = 10**15


# -- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TermConstant:
    """``C_k`` with ``A_k(N) ~ C_k N^{e_k}`` (leading order). ``value`` None: not derived
    (``reason`` says why). ``exact``: every Gaussian moment was a closed form."""

    k: int
    value: float | None
    exponent: float
    exact: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TermAmplitude:
    """Term k at width N. ``amplitude``: the mean of ``||T_k^T q_{k+1}||`` over the law of a
    (compare with the mean of the measured ``term(k).amplitude`` over seeds); ``rms``:
    ``sqrt(E ||T_k^T q_{k+1}||^2)``; ``coherent``: its rank-one part (the BBP spike strength
    ``theta_k``); ``leading``: ``C_k N^{e_k}``; ``fluctuation_share``: the neuron
    fluctuations' share ``Sigma_k zeta / (Pi_k vbar + Sigma_k zeta)`` of ``A^2``;
    ``location``: the predicted outlier of W_2 from this term (None: inside the bulk; k = 0
    merges with the step-one spike, None)."""

    k: int
    N: int
    amplitude: float | None
    rms: float | None
    coherent: float | None
    leading: float | None
    fluctuation_share: float | None
    location: float | None
    threshold: float
    bulk_edge: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Crossing:
    """Where term k's spike strength crosses the BBP threshold ``c^{1/4}``.

    ``crossing_width``: the width N*_k solved with the finite-N spike strength (None when it
    never crosses within [2, MAX_WIDTH]); ``leading``: ``(c^{1/4}/C_k)^{1/e_k}`` from the leading
    constant; ``direction``: "enters" (outlier for N > N*), "leaves" (for N < N*), "always",
    "never" or "undefined"."""

    k: int
    crossing_width: float | None
    leading: float | None
    direction: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(config: ModelConfig, k: int) -> None:
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config must be a ModelConfig, got {type(config).__name__}")
    if config.scaling != "canonical":
        raise ConfigError("amplitudes exist for the canonical scaling only (docs/model.md); "
                          f"this config is {config.scaling}")
    laws.predictable(config.second_layer)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer in [0, {MAX_K}], got {k!r}")
    check_step_sizes(config)  # etabar_t <= MAX_STEP; at a width N: term_amplitude


def _not_derived(config: ModelConfig, k: int) -> str | None:
    if k >= 1 and not parse_function(config.activation).smooth:
        return (f"not derived: term k={k} needs sigma^({k + 1}) and its products, distributions "
                f"for the non-smooth activation {config.activation!r}")
    return None


def term_constant(config: ModelConfig, k: int) -> TermConstant:
    """``C_k`` of the module docstring (leading order, ``N -> infinity``)."""
    _check(config, k)
    e = float(config.exact("alpha2") - k * (Fraction(1, 2) - config.exact("alpha1")))
    reason = _not_derived(config, k)
    if reason:
        return TermConstant(k, None, e, False, reason)
    vbar, _, exact = _moments(config, k, None)
    rho = float(overlap_constants(k, config.second_layer)["rho"])
    value = config.etabar2 * config.etabar1**k * math.sqrt(rho * vbar)
    how = "reused batch, self-term and u^(-j) coupling" if config.reuse else "independent batch"
    reason = f"leading order, {how}; moments {'exact' if exact else 'numerical'}"
    if config.second_layer != "gaussian":
        reason += f"; {config.second_layer} second layer (rho_{k + 1} = {rho:.4g})"
    target = parse_function(config.target)
    if config.reuse and k >= 1 and target.is_polynomial and sympy.degree(target.expr, Z) >= 2:
        reason += (f"; caution: the self-term brings moments up to E[y^{2 * k + 2}], which a "
                   "polynomial target of degree >= 2 reaches only through rare samples "
                   "(He3/sqrt(6), k = 2: measured 2.6-12x below at N = 1000-500)")
    return TermConstant(k, value, e, exact, reason)


def _moments(config: ModelConfig, k: int, N: int | None) -> tuple[float, float, bool]:
    """:func:`_pieces`, whose float64 moments of the activation and target must be finite: a
    moment beyond the float64 range (``(z+1)**100``) is a :class:`NonFiniteError` naming the
    term, not an OverflowError."""
    where = f"term {k}" + ("" if N is None else f" at N = {N}")
    try:
        vbar, zeta, exact = _pieces(config, k, N)
    except OverflowError:
        vbar = zeta = math.inf
        exact = False
    if not (math.isfinite(vbar) and math.isfinite(zeta)):
        raise NonFiniteError(f"{where}: the Gaussian moments of sigma = {config.activation} and "
                             f"sigma_* = {config.target} that the term's amplitude needs leave "
                             "the float64 range")
    return vbar, zeta, exact


def _check_N(N: object) -> int:
    if isinstance(N, bool) or not isinstance(N, int) or not 2 <= N <= MAX_WIDTH:
        raise ConfigError(f"N must be an integer in [2, {MAX_WIDTH}], got {N!r}")
    return N


def _finite(config: ModelConfig, k: int, N: int, draws: bool = True
            ) -> tuple[float, float, float, float]:
    """``(mean amplitude, rms amplitude, coherent^2, fluctuation share)`` at width N: the mean
    over the law of a of ``eta sqrt(Pi vbar + Sigma zeta)`` (seeded draws up to A_DRAW_WIDTH,
    else the moments); the share is ``Sigma zeta / (Pi vbar + Sigma zeta)`` from the moments."""
    vbar, zeta, _ = _moments(config, k, N)
    oc = overlap_constants(k, config.second_layer)
    scale = float(N) ** -(k + 1)
    pi_k = max(N * float(oc["rho"]) - float(oc["loss"]), 0.0) * scale
    sigma_k = float(oc["sigma"]) * scale
    eta = config.etabar2 * N**config.alpha2 * (config.etabar1 * N**config.alpha1) ** k
    coherent2 = eta**2 * pi_k * vbar
    fluct2 = eta**2 * sigma_k * zeta
    share = fluct2 / (coherent2 + fluct2) if coherent2 + fluct2 > 0 else 0.0
    if draws and N <= A_DRAW_WIDTH:
        pis, sigs = _a_weights(k, N, config.second_layer)
        a2 = eta**2 * (pis * vbar + sigs * zeta)
        return float(np.mean(np.sqrt(a2))), math.sqrt(float(np.mean(a2))), coherent2, share
    a2 = coherent2 + fluct2
    return math.sqrt(a2), math.sqrt(a2), coherent2, share


def term_amplitude(config: ModelConfig, k: int, N: int) -> TermAmplitude:
    """Term k at width N: the finite-N amplitude, its coherent (rank-one) part, the leading
    ``C_k N^{e_k}`` and the predicted location (module docstring)."""
    _check(config, k)
    N = _check_N(N)
    check_step_sizes(config, N)
    d, _ = _dims(config, N)
    c = N / d
    edge, threshold = 1 + math.sqrt(c), c**0.25
    if N < k + 1:  # a^1 .. a^(k+1) span at most N dimensions: no q_(k+1) in R^N
        return TermAmplitude(k, N, None, None, None, None, None, None, threshold, edge,
                             f"term {k} needs N >= {k + 1}: q_{k + 1}, the Gram-Schmidt "
                             f"of a^1 .. a^{k + 1}, does not exist in R^{N}")
    const = term_constant(config, k)
    if const.value is None:
        return TermAmplitude(k, N, None, None, None, None, None, None, threshold, edge,
                             const.reason)
    amp, rms, coh2, share = _finite(config, k, N)
    coh = math.sqrt(coh2)
    location = None
    if k >= 1:
        s = spike(coh, c)
        location = s.outlier if s.exists else None
        where = (f"outlier at {location:.4g} (edge {edge:.4g})" if s.exists else
                 f"inside the bulk (theta {coh:.3g} <= c^(1/4) = {threshold:.3g})")
    else:
        where = "term 0 merges with the step-one spike (left vector a)"
    return TermAmplitude(k, N, amp, rms, coh, const.value * N**const.exponent, share, location,
                         threshold, edge, f"{const.reason}; {where}")


def term_location(config: ModelConfig, k: int, N: int) -> float | None:
    """The predicted outlier location of term ``k >= 1`` at width N, None inside the bulk
    (or when the constant is not derived)."""
    if k == 0:
        raise ConfigError("term 0 merges with the step-one spike; locations are for k >= 1")
    return term_amplitude(config, k, N).location


def crossing_width(config: ModelConfig, k: int) -> Crossing:
    """The width ``N*_k`` where term k's spike strength crosses ``c^{1/4}`` (see
    :class:`Crossing`)."""
    _check(config, k)
    if k == 0:
        raise ConfigError("term 0 merges with the step-one spike; crossings are for k >= 1")
    const = term_constant(config, k)
    if const.value is None:
        return Crossing(k, None, None, "undefined", const.reason)
    c = 1.0 / config.psi_d
    thr = c**0.25
    e = const.exponent
    if const.value == 0.0:
        return Crossing(k, None, None, "never", "C_k = 0: the term is absent at leading order")
    leading = (thr / const.value) ** (1.0 / e) if e != 0 else None
    if e == 0:
        direction = "always" if const.value > thr else "never"
        return Crossing(k, None, None, direction,
                        f"e_k = 0: theta -> C_k = {const.value:.4g} vs c^(1/4) = {thr:.4g}")
    direction = "enters" if e > 0 else "leaves"

    def excess(logn: float) -> float:
        N = int(round(math.exp(logn)))
        _, _, coh2, _ = _finite(config, k, N, draws=False)
        d, _ = _dims(config, N)
        return math.sqrt(coh2) - (N / d) ** 0.25

    lo, hi = math.log(2.0), math.log(float(MAX_WIDTH))
    f_lo, f_hi = excess(lo), excess(hi)
    if (f_lo > 0) == (f_hi > 0):
        state = "above" if f_lo > 0 else "below"
        return Crossing(k, None, leading, direction,
                        f"the finite-N spike strength stays {state} c^(1/4) on [2, 1e15]")
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if (excess(mid) > 0) == (f_lo > 0):
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-6:
            break
    return Crossing(k, math.exp(hi), leading, direction,
                    f"theta_k = c^(1/4) at N* (e_k = {e:g}; leading-order N* = {leading:.4g})")


def visible_new_outliers(config: ModelConfig, N: int, max_k: int | None = None
                         ) -> tuple[int | None, list[int], str]:
    """``(count, terms, reason)``: the terms ``k >= 1`` (up to ``max_k``, default
    ``max(paper count + 1, 2)``) whose spike strength passes ``c^{1/4}`` at width N. The count
    is None when some term's constant is not derived."""
    N = _check_N(N)
    if max_k is None:
        max_k = max(paper_count(config.alpha1, config.alpha2)[0] + 1, 2)
    max_k = min(max_k, MAX_K)
    visible, undefined = [], []
    for k in range(1, max_k + 1):
        t = term_amplitude(config, k, N)
        if t.amplitude is None:
            undefined.append(k)
        elif t.location is not None:
            visible.append(k)
    if undefined:
        return None, visible, f"terms {undefined} not derived ({config.activation})"
    return len(visible), visible, f"terms {visible} above c^(1/4) at N={N} (k = 1..{max_k})"


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {
    "A_DRAWS": "twostep.theory.term_moments",
    "DIGITS": "twostep.theory.term_moments",
})
