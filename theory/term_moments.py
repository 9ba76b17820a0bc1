"""The moments behind the step-two term amplitudes of :mod:`.amplitudes` (its module
docstring has the derivation and the names: ``Pi_k``, ``Sigma_k``, ``vbar_k``, ``zeta``).

- the powers of a: the Gram-Schmidt constants of ``a^{o(k+1)}`` (:func:`overlap_constants`)
  and, at small widths, seeded draws of the weights ``Pi_k``, ``Sigma_k`` (:func:`_a_weights`),
  both under the second layer's law (:mod:`.laws`; the only place the law enters);
- the data-averaged quantities of term k as polynomials in (gamma, lambda, s_xi2, kappa, psi)
  (:func:`_term_polynomials`), from Gaussian moments of the activation and the target
  (:mod:`.hermite`, exact where the integral closes);
- :func:`_pieces`: ``E||vbar_k||^2`` and ``E||zeta||^2`` of one configuration at width N.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from . import hermite, laws
from .config import ModelConfig
from .errors import ConfigError
from .functions import Z, parse_function

#: Digits of the Gaussian moments.
DIGITS = 20

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
def _residuals(top: int, law: str = "gaussian") -> tuple[sympy.Poly, ...]:
    """``R_1..R_top``: ``s^m`` minus its L2 projection on ``s, ..., s^{m-1}`` under the law of
    ``s = sqrt(N) a`` (:mod:`.laws`).  A residual of norm 0 (the law's powers are collinear:
    ``sign``) is refused: it has no direction of its own."""
    s = sympy.Symbol("s")
    out: list[sympy.Poly] = []
    for m in range(1, top + 1):
        p = sympy.Poly(s**m, s)
        for r in out:
            coef = _poly_mean(p * r, law) / _poly_mean(r * r, law)
            p = p - r * coef
        if _poly_mean(p * p, law) == 0:
            raise ConfigError(
                f"second_layer={law}: s^{m} lies in the span of the lower powers of s = sqrt(N) a "
                f"(its Gram-Schmidt residual vanishes), so term k={m - 1} has no left vector of "
                "its own (docs/model.md, The second layer's law)")
        out.append(p)
    return tuple(out)


def _poly_mean(p: sympy.Poly, law: str = "gaussian") -> sympy.Rational:
    """``E[p(s)]`` under the law of ``s`` (exact)."""
    return sum((c * laws.moment(law, mon[0]) for mon, c in p.terms()), sympy.Integer(0))


def overlap_constants(k: int, law: str = "gaussian") -> dict[str, Fraction]:
    """Exact constants of the Gram-Schmidt of ``a^{o(k+1)}`` under the second layer's law
    (:mod:`.amplitudes` docstring): ``rho`` (``|<a^{k+1}, q_{k+1}>|^2 ~ rho N^{-k}``), ``loss``
    (``N^{k+1} Pi_k(N) = N rho - loss``) and ``sigma`` (``N^{k+1} Sigma_k(N)``).  Gaussian
    ``rho`` = 1, 3, 6, 30; uniform 1, 9/5, 108/175, 36/49 for k = 0..3."""
    return dict(_overlap_constants(k, law))


@functools.cache
def _overlap_constants(k: int, law: str = "gaussian") -> dict[str, Fraction]:
    R = _residuals(k + 1, law)
    s = R[0].gens[0]
    top = R[k]
    rho = _poly_mean(top * top, law)
    loss = sum((_poly_mean(top * top * r * r, law) / _poly_mean(r * r, law) for r in R[:k]),
               sympy.Integer(0))
    sig = _poly_mean(top * top * sympy.Poly(s ** (2 * k + 2), s), law) / rho
    return {"rho": Fraction(str(rho)), "loss": Fraction(str(loss)), "sigma": Fraction(str(sig))}


@functools.lru_cache(maxsize=64)
def _a_weights(k: int, N: int, law: str = "gaussian") -> tuple[np.ndarray, np.ndarray]:
    """``(Pi, Sigma)`` per seeded draw of ``a`` from the second layer's law (``s = sqrt(N) a``
    drawn as :func:`.laws.Law.draw`): ``<a^{k+1}, q_{k+1}>^2`` and ``sum_i q_i^2 a_i^{2k+2}``,
    with q the Gram-Schmidt of the draw (a fixed ``numpy.random.Generator``: the same numbers on
    every call; the uniform draws are the transform of the Gaussian ones)."""
    draw = laws.law(law).draw
    rng = np.random.default_rng([20260, k, N])
    pi = np.empty(A_DRAWS)
    sig = np.empty(A_DRAWS)
    for t in range(A_DRAWS):
        s = draw(rng, N)
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
    kappa, psi) (:mod:`.amplitudes` docstring), and whether every moment was exact."""
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


# -- one configuration ------------------------------------------------------------------------

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
