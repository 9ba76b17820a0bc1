"""The exact term decomposition of the step-two update against a dense reference (N <= 64)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twostep.simulate import draws, gd, run
from twostep.simulate import terms as exact_terms
from twostep.theory import ConfigError, ModelConfig, parse_function

N = 48


def _setup(batch: str = "reuse", activation: str = "tanh(z + 1/2)", seed: int = 3):
    cfg = ModelConfig(activation=activation, target="He1", alpha1=0.3, alpha2=0.45, batch=batch)
    d, n = draws.dimensions(cfg, N)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(cfg, seed, N)
    W0 = draws.draw_first_layer(cfg, seed, N, d, np.float64)
    b0 = draws.draw_batch(cfg, seed, N, 0, beta, np.float64)
    b2 = b0 if batch == "reuse" else draws.draw_batch(cfg, seed, N, 1, beta, np.float64)
    act = parse_function(activation)
    G0, _ = gd.gradient_step(W0, a, b0.X, b0.y, 1.0, act)
    return cfg, act, W0, G0.copy(), a, b2.X, b2.y


def _dense_update(t, W0, G0, a, X, y, act):
    """``(1/n) diag(a) [sigma'(P0 + t P1) o r(t)^T] X`` for a real or complex t (dense)."""
    import sympy

    from twostep.theory.functions import Z

    f = sympy.lambdify(Z, act.expr, "numpy")
    fp = sympy.lambdify(Z, sympy.diff(act.expr, Z), "numpy")
    n = X.shape[0]
    H = (W0 + t * G0) @ X.T                      # N x n
    r = y - f(H).T @ a / math.sqrt(N)
    return (a[:, None] * (fp(H) * r[None, :])) @ X / n


def _terms(W0, G0, a, X, y, act, eta1, K):
    W1 = W0 + eta1 * G0
    return exact_terms.term_matrices(W1, eta1 * G0, eta1, a, X, y, act, K, rows=7).D


@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_sum_of_terms_reproduces_the_update_for_tiny_eta1(batch):
    cfg, act, W0, G0, a, X, y = _setup(batch)
    eta1 = 1e-3
    D = _terms(W0, G0, a, X, y, act, eta1, 4)
    U = _dense_update(eta1, W0, G0, a, X, y, act)
    S = sum(eta1**k * Dk for k, Dk in enumerate(D))
    rel = np.linalg.norm(U - S, 2) / np.linalg.norm(U, 2)
    assert rel < 1e-10, rel


def test_terms_do_not_depend_on_eta1():
    cfg, act, W0, G0, a, X, y = _setup()
    D1 = _terms(W0, G0, a, X, y, act, 0.05, 3)
    D2 = _terms(W0, G0, a, X, y, act, 0.4, 3)
    for k in range(4):
        scale = np.abs(D1[k]).max()
        # same D_k up to rounding: P0 = W1 X^T - eta1 P1 cancels eta1 P1 in float64
        assert np.abs(D1[k] - D2[k]).max() <= 1e-12 * max(scale, 1.0) * 10, k


def test_term_one_is_the_complex_step_derivative():
    cfg, act, W0, G0, a, X, y = _setup(activation="tanh(z + 1/2)")
    h = 1e-20
    derivative = np.imag(_dense_update(1j * h, W0, G0, a, X, y, act)) / h
    D = _terms(W0, G0, a, X, y, act, 0.1, 2)
    assert np.allclose(D[0], _dense_update(0.0, W0, G0, a, X, y, act), rtol=0, atol=1e-13)
    err = np.abs(D[1] - derivative).max() / np.abs(derivative).max()
    assert err < 1e-10, err


def test_residual_scales_as_eta1_to_the_K_plus_one():
    cfg, act, W0, G0, a, X, y = _setup()
    K = 2
    etas = np.array([0.02, 0.04, 0.08])
    res = []
    for eta1 in etas:
        D = _terms(W0, G0, a, X, y, act, eta1, K)
        U = _dense_update(eta1, W0, G0, a, X, y, act)
        res.append(np.linalg.norm(U - sum(eta1**k * Dk for k, Dk in enumerate(D)), 2))
    slope = np.polyfit(np.log(etas), np.log(res), 1)[0]
    assert abs(slope - (K + 1)) < 0.1, slope


def test_run_reports_terms_and_series():
    cfg = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                      batch="reuse", etabar1=0.1)
    m = run(cfg, 60, 1, terms=3, null_draws=2)
    assert [t.k for t in m.terms] == [0, 1, 2, 3]
    assert m.options.terms == 3 and m.provenance.max_power >= 4
    assert m.series.converges and m.series.residual < 0.05
    t0 = m.terms[0]
    # term 0 is the rank-one a v_0^T plus noise: its projection is most of its norm
    assert t0.left_overlap > 0.9
    assert len(t0.leakage) == 4 and t0.leakage[0] == pytest.approx(t0.amplitude)
    assert m.to_dict()["series"]["K"] == 3
    # the default step sizes at alpha1 = 0.3 leave the convergence region of tanh's series
    big = run(cfg.replace(etabar1=1.0), 60, 1, terms=3, null_draws=0)
    assert big.series.residual > m.series.residual


def test_terms_refuse_non_smooth_and_bad_values():
    cfg = ModelConfig(activation="relu", target="He1", alpha1=0.2, alpha2=0.3)
    with pytest.raises(ConfigError, match="non-smooth"):
        run(cfg, 40, 0, terms=2)
    with pytest.raises(ConfigError, match="terms must be"):
        run(cfg.replace(activation="tanh"), 40, 0, terms=-1)
    with pytest.raises(ConfigError, match="terms must be"):
        run(cfg.replace(activation="tanh"), 40, 0, terms=True)


def test_float32_terms_match_float64():
    cfg = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                      batch="independent", etabar1=0.2)
    m64 = run(cfg, 300, 0, terms=2, null_draws=0)
    m32 = run(cfg, 300, 0, terms=2, null_draws=0, dtype="float32")
    for t64, t32 in zip(m64.terms, m32.terms):
        assert t32.amplitude == pytest.approx(t64.amplitude, rel=1e-3)
