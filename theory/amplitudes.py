"""Finite-N amplitudes of the step-two terms and their BBP locations (docs/theory.md, §3-§4,
"The exact terms"; derivation in docs/amplitudes.md).

Term k of the step-two update is ``T_k = eta_2 eta_1^k D_k`` (docs/theory.md, "The exact
terms"); its projected amplitude ``A_k(N) = ||T_k^T q_{k+1}||`` is what the simulator reports as
``terms[k]["amplitude"]``. Row i of the part of ``D_k`` with left vector ``a^{o(k+1)}`` is
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
  E[R_{k+1}^2 R_m^2] / rho_m)``: ``R_m`` is the residual of ``s^m`` after the L2(N(0,1))
  projection on ``s, ..., s^{m-1}`` (no constant: the Gram-Schmidt runs against the lower powers
  of a only), ``rho_m = E[R_m^2]`` = 1, 3, 6, 30, ... so ``|<a^{k+1}, q_{k+1}>| ~
  sqrt(rho_{k+1}) N^{-k/2}`` (1, sqrt(3/N), sqrt(6)/N, sqrt(30)/N^{3/2}); the sum is the
  regression loss of the k sample directions.
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
non-smooth activations (the moments multiply distributions) at ``k >= 1``, and for every
non-canonical scaling.

Locations (docs/theory.md §3): with the terms' left vectors nearly orthogonal, term ``k >= 1``
acts on W_1's bulk (edge ``1 + sqrt(c)``, ``c = N/d``) as a rank-one spike of strength
``theta_k``, the coherent part ``eta_2 eta_1^k sqrt(Pi_k E||vbar_k||^2)`` of the amplitude
(the neuron fluctuations are spread over the rows and are not a rank-one spike); an outlier iff
``theta_k > c^{1/4}``, at :func:`theory.bbp.spike`'s location.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from . import hermite
from .bbp import spike
from .config import ModelConfig
from .errors import ConfigError
from .functions import Z, parse_function

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

#: Digits of the Gaussian moments.
DIGITS = 20

#: Largest width searched by :func:`crossing_width` (as `twostep theory --N`).
MAX_WIDTH = 10**15

#: Up to this width the weights ``Pi_k``, ``Sigma_k`` of the second layer are averaged over
#: ``A_DRAWS`` seeded draws of ``a`` (their law is heavy-tailed: ``Sigma_2`` has mean 600-800
#: N^-3 and median 400-590 N^-3 for N = 500..2000, against the limit 945 N^-3); beyond it the
#: moment formulas are used (the neuron fluctuations are then O(1/N) of the amplitude).
A_DRAW_WIDTH = 20000
A_DRAWS = 256

# -- symbols ----------------------------------------------------------------------------------

_G, _Y, _XI, _H = sympy.symbols("G Y Xi H", real=True)
_ZP, _EPS, _T = sympy.symbols("Zp Eps T", real=True)
_GAM, _LAM, _SX2, _KAP, _PSI = sympy.symbols("gamma lambda s_xi2 kappa psi", real=True)
_PARAMS = (_GAM, _LAM, _SX2, _KAP, _PSI)


def _D(j: int) -> sympy.Symbol:
    """Placeholder for ``sigma^(j)(h)``."""
    return sympy.Symbol(f"D{j}", real=True)


def _gauss_moment(b: int) -> int:
    """``E[z^b]``, z ~ N(0, 1): ``(b-1)!!`` for even b, 0 for odd."""
    return 0 if b % 2 else int(sympy.factorial2(b - 1))


# -- the powers of a --------------------------------------------------------------------------

@functools.cache
def _residuals(top: int) -> tuple[sympy.Poly, ...]:
    """``R_1..R_top``: ``s^m`` minus its L2(N(0,1)) projection on ``s, ..., s^{m-1}``."""
    s = sympy.Symbol("s")
    out: list[sympy.Poly] = []
    for m in range(1, top + 1):
        p = sympy.Poly(s**m, s)
        for r in out:
            coef = _poly_mean(p * r) / _poly_mean(r * r)
            p = p - r * coef
        out.append(p)
    return tuple(out)


def _poly_mean(p: sympy.Poly) -> sympy.Rational:
    return sum((c * _gauss_moment(mon[0]) for mon, c in p.terms()), sympy.Integer(0))


def overlap_constants(k: int) -> dict[str, Fraction]:
    """Exact constants of the Gram-Schmidt of ``a^{o(k+1)}`` (module docstring):
    ``rho`` (``|<a^{k+1}, q_{k+1}>|^2 ~ rho N^{-k}``), ``loss`` (``N^{k+1} Pi_k(N) =
    N rho - loss``) and ``sigma`` (``N^{k+1} Sigma_k(N)``)."""
    return dict(_overlap_constants(k))


@functools.cache
def _overlap_constants(k: int) -> dict[str, Fraction]:
    R = _residuals(k + 1)
    s = R[0].gens[0]
    top = R[k]
    rho = _poly_mean(top * top)
    loss = sum((_poly_mean(top * top * r * r) / _poly_mean(r * r) for r in R[:k]),
               sympy.Integer(0))
    sig = _poly_mean(top * top * sympy.Poly(s ** (2 * k + 2), s)) / rho
    return {"rho": Fraction(str(rho)), "loss": Fraction(str(loss)), "sigma": Fraction(str(sig))}


@functools.lru_cache(maxsize=64)
def _a_weights(k: int, N: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Pi, Sigma)`` per seeded draw of ``a ~ N(0, I/N)``: ``<a^{k+1}, q_{k+1}>^2`` and
    ``sum_i q_i^2 a_i^{2k+2}``, with q the Gram-Schmidt of the draw (a fixed
    ``numpy.random.Generator``: the same numbers on every call)."""
    rng = np.random.default_rng([20260, k, N])
    pi = np.empty(A_DRAWS)
    sig = np.empty(A_DRAWS)
    for t in range(A_DRAWS):
        s = rng.standard_normal(N)
        powers = np.column_stack([s**m for m in range(1, k + 2)])
        Q, _ = np.linalg.qr(powers)
        q = Q[:, k]
        top = powers[:, k]
        pi[t] = float(q @ top) ** 2
        sig[t] = float(np.sum(q**2 * top**2))
    scale = float(N) ** -(k + 1)
    return pi * scale, sig * scale


# -- Gaussian moments -------------------------------------------------------------------------

class _Moments:
    """Cached Gaussian moments of one activation (in h) or one target (in z), with an
    exactness flag over everything used."""

    def __init__(self, expr: sympy.Expr):
        self.expr = expr
        self.exact = True
        self._cache: dict[tuple, float] = {}

    def _get(self, key: tuple, integrand: sympy.Expr) -> float:
        if key not in self._cache:
            v = hermite.expectation(integrand, digits=DIGITS)
            if not v.defined:
                raise ConfigError(f"E[{integrand}] is undefined: {v.reason}")
            self._cache[key] = (float(v), bool(v.exact))
        value, exact = self._cache[key]
        self.exact = self.exact and exact
        return value

    def activation(self, power_h: int, derivs: tuple[tuple[int, int], ...]) -> float:
        """``E[h^a prod_j sigma^(j)(h)^e_j]``. A single factor ``sigma^(j)``, j >= 2, of a
        non-smooth activation is moved onto the polynomial by Stein,
        ``E[p(h) f'(h)] = E[f(h) (h p(h) - p'(h))]``, down to ``sigma'`` (distributional, as
        ``c_m``)."""
        if len(derivs) == 1 and derivs[0][1] == 1 and derivs[0][0] >= 2 and \
                sympy.diff(self.expr, Z, derivs[0][0]).has(sympy.DiracDelta):
            j = derivs[0][0]
            p = sympy.Poly(Z**power_h, Z)
            for _ in range(j - 1):
                p = p * sympy.Poly(Z, Z) - p.diff(Z)
            key = ("stein", power_h, j)
            return self._get(key, sympy.expand(p.as_expr() * sympy.diff(self.expr, Z)))
        integrand = Z**power_h
        for j, e in derivs:
            integrand = integrand * sympy.diff(self.expr, Z, j) ** e
        return self._get((power_h, derivs), integrand)

    def target(self, power_z: int, power_t: int) -> float:
        """``E[z^a sigma_*(z)^b]``."""
        return self._get((power_z, power_t), Z**power_z * self.expr**power_t)


def _neuron_mean(expr: sympy.Expr, moments: _Moments, top: int) -> sympy.Expr:
    """E over h (placeholders H, D1..D_top) and xi (variance s_xi2) of a polynomial: a
    polynomial in G, Y and the parameters."""
    gens = (_H, _XI) + tuple(_D(j) for j in range(1, top + 1))
    poly = sympy.Poly(sympy.expand(expr), *gens)
    out = sympy.Integer(0)
    for mon, coef in poly.terms():
        a, b = mon[0], mon[1]
        xi = _gauss_moment(b)
        if xi == 0:
            continue
        derivs = tuple((j, e) for j, e in zip(range(1, top + 1), mon[2:]) if e)
        m = moments.activation(a, derivs)
        if m == 0.0:
            continue
        out += coef * xi * _SX2 ** (b // 2) * sympy.Float(m, DIGITS)
    return sympy.expand(out)


def _data_mean(expr: sympy.Expr, moments: _Moments, noise: float) -> sympy.Expr:
    """E over the sample (z, z', eps) of a polynomial in G, Y (and Z, Zp):
    ``G = gamma z + lambda z'``, ``Y = sigma_*(z) + tau eps``."""
    expr = sympy.expand(expr.subs({_G: _GAM * Z + _LAM * _ZP,
                                   _Y: _T + sympy.nsimplify(noise) * _EPS}))
    poly = sympy.Poly(expr, Z, _ZP, _T, _EPS)
    out = sympy.Integer(0)
    for (a, b, c, e), coef in poly.terms():
        mb, me = _gauss_moment(b), _gauss_moment(e)
        if mb == 0 or me == 0:
            continue
        m = moments.target(a, c)
        if m == 0.0:
            continue
        out += coef * mb * me * sympy.Float(m, DIGITS)
    return sympy.expand(out)


@functools.lru_cache(maxsize=256)
def _term_polynomials(activation: str, target: str, noise: float, k: int, reuse: bool
                      ) -> tuple[dict[str, Any], bool]:
    """The data-averaged quantities of term k as polynomials in (gamma, lambda, s_xi2,
    kappa, psi) (module docstring), and whether every moment was exact."""
    act = _Moments(parse_function(activation).expr)
    tgt = _Moments(parse_function(target).expr)
    c1 = sympy.Float(act.activation(0, ((1, 1),)), DIGITS)
    rho = c1 * _G + _XI + _KAP * _H + (_PSI * _D(1) * _Y if reuse else 0)
    phi = _D(k + 1) * rho**k / math.factorial(k)
    top = k + 2
    # d/dh along the neuron's weight: D_j -> D_{j+1}, H -> 1
    dphi_dh = sympy.diff(phi, _H) + sum(sympy.diff(phi, _D(j)) * _D(j + 1)
                                        for j in range(1, k + 2))
    dphi_drho = sympy.diff(phi, _XI)
    Phi = _neuron_mean(phi, act, top)
    Psi = _neuron_mean(phi**2, act, top)
    Phi_w = _neuron_mean(dphi_dh, act, top)
    Phi_xi = _neuron_mean(dphi_drho, act, top)
    F = Phi * _Y
    noise_f = float(noise)
    out = {
        "mean_z": _data_mean(F * Z, tgt, noise_f),
        "mean_zp": _data_mean(F * _ZP, tgt, noise_f),
        "F2": _data_mean(F**2, tgt, noise_f),
        "F2x": _data_mean(F**2 * (Z**2 + _ZP**2), tgt, noise_f),
        "fluct": _data_mean((Psi - Phi**2) * _Y**2, tgt, noise_f),
        "C_w": _data_mean(Phi_w * _Y, tgt, noise_f),
        "C_xi": _data_mean(Phi_xi * _Y, tgt, noise_f),
        "dF": _data_mean(sympy.diff(Phi, _G) * _Y, tgt, noise_f),
        "rF": _data_mean(Phi * _Y**2, tgt, noise_f),
    }
    return out, act.exact and tgt.exact


@functools.lru_cache(maxsize=256)
def _term_evaluators(activation: str, target: str, noise: float, k: int, reuse: bool
                     ) -> tuple[dict[str, Any], bool]:
    """:func:`_term_polynomials` as functions of the values of ``_PARAMS`` (a crossing width's
    bisection evaluates them some 600 times; ``subs`` took about 10 ms each time)."""
    polys, exact = _term_polynomials(activation, target, noise, k, reuse)
    return {name: _evaluator(expr) for name, expr in polys.items()}, exact


def _evaluator(expr: sympy.Expr) -> Any:
    """``values -> float(expr.subs(values))`` for a polynomial in ``_PARAMS``: the terms in
    floats, summed by ``math.fsum`` (one rounding of the sum)."""
    terms = [(tuple(mon), float(coef))
             for mon, coef in sympy.Poly(expr, *_PARAMS).terms() if coef != 0]

    def evaluate(values: dict[sympy.Symbol, float]) -> float:
        x = [values[p] for p in _PARAMS]
        return math.fsum(c * math.prod(v**e for v, e in zip(x, mon) if e) for mon, c in terms)

    return evaluate


@functools.lru_cache(maxsize=64)
def _scalars(activation: str, target: str, noise: float) -> dict[str, float]:
    act = parse_function(activation).expr
    tgt = parse_function(target).expr
    c1 = float(hermite.coefficient(act, 1, digits=DIGITS))
    c2 = float(hermite.coefficient(act, 2, digits=DIGITS))
    s2 = float(hermite.expectation(sympy.diff(act, Z) ** 2, digits=DIGITS))
    ey = float(hermite.expectation(tgt, digits=DIGITS))
    ey2 = float(hermite.expectation(sympy.expand(tgt**2), digits=DIGITS)) + noise**2
    ezy = float(hermite.coefficient(tgt, 1, digits=DIGITS))
    ez2y2 = float(hermite.expectation(sympy.expand(Z**2 * tgt**2), digits=DIGITS)) + noise**2
    return {"c1": c1, "c2": c2, "var_sigma_prime": s2 - c1**2, "Ey": ey, "Ey2": ey2,
            "c1_target": ezy, "Ez2y2": ez2y2}


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
    (compare with the mean of the measured ``terms[k]["amplitude"]`` over seeds); ``rms``:
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
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer in [0, {MAX_K}], got {k!r}")


def _not_derived(config: ModelConfig, k: int) -> str | None:
    if k >= 1 and not parse_function(config.activation).smooth:
        return (f"not derived: term k={k} needs sigma^({k + 1}) and its products, distributions "
                f"for the non-smooth activation {config.activation!r}")
    return None


def _dims(config: ModelConfig, N: int | None) -> tuple[float, float]:
    """(d, n) at width N (halves rounded up, as the simulator); N None: (psi_d, psi_n)."""
    if N is None:
        return config.psi_d, config.psi_n
    d = math.floor(config.exact("psi_d") * N + Fraction(1, 2))
    n = math.floor(config.exact("psi_n") * N + Fraction(1, 2))
    return float(d), float(n)


def _pieces(config: ModelConfig, k: int, N: int | None) -> tuple[float, float, bool]:
    """``(E||vbar_k||^2, E||zeta||^2, exact)`` at width N (N None: the limit, zeta 0)."""
    polys, exact = _term_evaluators(config.activation, config.target, float(config.noise), k,
                                    config.reuse)
    sc = _scalars(config.activation, config.target, float(config.noise))
    d, n = _dims(config, N)
    psi = d / n
    if N is None:
        gam2 = sc["c1_target"] ** 2
        lam2 = psi * sc["Ey2"]
    else:
        gam2 = sc["c1_target"] ** 2 + (sc["Ez2y2"] - sc["c1_target"] ** 2) / n
        lam2 = (d - 1) / n * sc["Ey2"]
    values = {_GAM: math.sqrt(max(gam2, 0.0)), _LAM: math.sqrt(max(lam2, 0.0)),
              _SX2: psi * sc["var_sigma_prime"] * sc["Ey2"], _KAP: sc["c2"] * sc["Ey"],
              _PSI: psi}

    def ev(name: str) -> float:
        return polys[name](values)

    mean2 = ev("mean_z") ** 2 + ev("mean_zp") ** 2
    if N is None:
        vbar = mean2 + psi * ev("F2")
    else:
        vbar = mean2 + ((d - 2) * ev("F2") + ev("F2x") - mean2) / n
    if config.reuse:
        vbar += 2 * psi * ev("dF") * ev("rF")
    zeta = psi * ev("fluct") + ev("C_w") ** 2 + values[_SX2] * ev("C_xi") ** 2
    return max(vbar, 0.0), max(zeta, 0.0), exact


def term_constant(config: ModelConfig, k: int) -> TermConstant:
    """``C_k`` of the module docstring (leading order, ``N -> infinity``)."""
    _check(config, k)
    e = float(config.exact("alpha2") - k * (Fraction(1, 2) - config.exact("alpha1")))
    reason = _not_derived(config, k)
    if reason:
        return TermConstant(k, None, e, False, reason)
    vbar, _, exact = _pieces(config, k, None)
    rho = float(overlap_constants(k)["rho"])
    value = config.etabar2 * config.etabar1**k * math.sqrt(rho * vbar)
    how = "reused batch, self-term and u^(-j) coupling" if config.reuse else "independent batch"
    reason = f"leading order, {how}; moments {'exact' if exact else 'numerical'}"
    target = parse_function(config.target)
    if config.reuse and k >= 1 and target.is_polynomial and sympy.degree(target.expr, Z) >= 2:
        reason += (f"; caution: the self-term brings moments up to E[y^{2 * k + 2}], which a "
                   "polynomial target of degree >= 2 reaches only through rare samples "
                   "(He3/sqrt(6), k = 2: measured 2.6-12x below at N = 1000-500)")
    return TermConstant(k, value, e, exact, reason)


def _check_N(N: object) -> int:
    if isinstance(N, bool) or not isinstance(N, int) or not 2 <= N <= MAX_WIDTH:
        raise ConfigError(f"N must be an integer in [2, {MAX_WIDTH}], got {N!r}")
    return N


def _finite(config: ModelConfig, k: int, N: int, draws: bool = True
            ) -> tuple[float, float, float, float]:
    """``(mean amplitude, rms amplitude, coherent^2, fluctuation share)`` at width N: the mean
    over the law of a of ``eta sqrt(Pi vbar + Sigma zeta)`` (seeded draws up to A_DRAW_WIDTH,
    else the moments); the share is ``Sigma zeta / (Pi vbar + Sigma zeta)`` from the moments."""
    vbar, zeta, _ = _pieces(config, k, N)
    oc = overlap_constants(k)
    scale = float(N) ** -(k + 1)
    pi_k = max(N * float(oc["rho"]) - float(oc["loss"]), 0.0) * scale
    sigma_k = float(oc["sigma"]) * scale
    eta = config.etabar2 * N**config.alpha2 * (config.etabar1 * N**config.alpha1) ** k
    coherent2 = eta**2 * pi_k * vbar
    fluct2 = eta**2 * sigma_k * zeta
    share = fluct2 / (coherent2 + fluct2) if coherent2 + fluct2 > 0 else 0.0
    if draws and N <= A_DRAW_WIDTH:
        pis, sigs = _a_weights(k, N)
        a2 = eta**2 * (pis * vbar + sigs * zeta)
        return float(np.mean(np.sqrt(a2))), math.sqrt(float(np.mean(a2))), coherent2, share
    a2 = coherent2 + fluct2
    return math.sqrt(a2), math.sqrt(a2), coherent2, share


def term_amplitude(config: ModelConfig, k: int, N: int) -> TermAmplitude:
    """Term k at width N: the finite-N amplitude, its coherent (rank-one) part, the leading
    ``C_k N^{e_k}`` and the predicted location (module docstring)."""
    _check(config, k)
    N = _check_N(N)
    d, _ = _dims(config, N)
    c = N / d
    edge, threshold = 1 + math.sqrt(c), c**0.25
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
        from .predict import paper_count

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
