"""The kernels' primitives and the one-kernel paths on array-api-strict against numpy.

Each primitive of :mod:`twostep.simulate.backend` is one array-API expression with numpy's BLAS
fast path inside: on numpy it must give the plain expression's numbers (to rounding: BLAS and
numpy's matmul may sum in another order) and write where it says; on array-api-strict the
plain expression. The kernels built on them (float32, the correlation loss, a skipped
non-finite block) agree across the two namespaces (tests/test_backend.py holds the float64
squared-loss runs).
"""

from __future__ import annotations

import numpy as np
import pytest

from twostep.simulate import backend as B
from twostep.simulate import core, draws, gd
from twostep.simulate import terms as exact_terms
from twostep.theory import ModelConfig, parse_function

xp = pytest.importorskip("array_api_strict")
NP = B.namespace("numpy")
STRICT = "array-api-strict"


def _close(got, want, rtol):
    got, want = B.to_numpy(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(float(np.max(np.abs(want))), 1e-300)
    assert float(np.max(np.abs(got - want))) / scale <= rtol


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_primitives_are_their_expressions_on_both_namespaces(dtype):
    rng = np.random.default_rng(0)
    A, B_, C = (rng.standard_normal(s).astype(dtype) for s in ((7, 5), (9, 5), (7, 9)))
    x5, x7 = rng.standard_normal(5).astype(dtype), rng.standard_normal(7).astype(dtype)
    rtol = 50 * float(np.finfo(dtype).eps)
    for ns in (NP, xp):
        a, b, c = (B.asarray(v, ns) for v in (A, B_, C))
        buf = B.buffer(ns, (10, 9), dtype)
        assert (buf is None) == (ns is xp)
        got = B.matmul_nt(a, b, B.head(buf, 7))
        _close(got, A @ B_.T, rtol)
        if buf is not None:
            assert np.shares_memory(got, buf)              # written into the buffer
        out = B.asarray(np.full((9, 5), 2.0, dtype), ns)
        assert B.matmul_tn(c, a, out, accumulate=True) is out
        _close(out, 2.0 + C.T @ A, rtol)
        assert B.matmul_tn(c, a, out) is out
        _close(out, C.T @ A, rtol)
        _close(B.matmul_tn(c, a), C.T @ A, rtol)
        _close(B.matvec(a, B.asarray(x5, ns), 0.5), 0.5 * (A @ x5), rtol)
        _close(B.rmatvec(a, B.asarray(x7, ns)), A.T @ x7, rtol)
        y = B.asarray(C.copy(), ns)
        B.axpy(-1.5, B.asarray(C, ns), y)
        _close(y, C - 1.5 * C, rtol)
        assert B.sum_squares(a) == pytest.approx(float(np.sum(A.astype(float) ** 2)), rel=rtol)
        target = B.buffer(ns, (7, 5), dtype)
        product = B.multiply(a, a, out=target)
        _close(product, A * A, 0)
        assert target is None or product is target
        assert B.contiguous(a, b)
    assert not B.contiguous(np.asfortranarray(A))
    assert B.chunk_rows(NP, 100, 1000, 10_000) == 10 and B.chunk_rows(xp, 100, 1000, 10) == 100


def _setup(cfg: ModelConfig, N: int, dtype: str, seed: int = 2):
    d, n = draws.dimensions(cfg, N)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(cfg, seed, N)
    W = draws.draw_first_layer(cfg, seed, N, d, dtype)
    return a, W, draws.draw_batch(cfg, seed, N, 0, beta, dtype), beta


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 2e-5)])
def test_gradient_step_skips_a_non_finite_block_on_both_namespaces(dtype, rtol):
    cfg = ModelConfig(activation="tanh(z + 1/2)", target="He1", psi_d=0.5)
    a, W, batch, _ = _setup(cfg, 80, dtype)
    act = parse_function(cfg.activation)
    y = batch.y.copy()
    y[45] = np.nan
    G, res = gd.gradient_step(W, a, batch.X, y, 0.9, act, block_rows=30)
    out = xp.full(W.shape, 3.0, dtype=getattr(xp, dtype))
    G2, res2 = gd.gradient_step(B.asarray(W, xp), a, batch.X, y, 0.9, act, block_rows=30,
                                out=out)
    assert G2 is out
    _close(G2, G, rtol)
    np.testing.assert_array_equal(np.isfinite(res2.residual), np.isfinite(res.residual))
    # the skipped block (rows 30..59) is not in the update: the two others are
    keep = np.r_[0:30, 60:80]
    want, _ = gd.gradient_step(W, a, np.ascontiguousarray(batch.X[keep]), y[keep], 0.9 * 50 / 80,
                               act, block_rows=30)
    _close(G, want, 50 * rtol)
    # no finite block at all: a zero update, on both
    for W_ in (W, B.asarray(W, xp)):
        zero, _ = gd.gradient_step(W_, a, batch.X, np.full_like(y, np.inf), 0.9, act)
        assert not np.any(B.to_numpy(zero))


@pytest.mark.parametrize("dtype,loss,rtol", [("float32", "squared", 2e-5),
                                             ("float64", "correlation", 1e-12)])
def test_terms_and_core_in_float32_and_correlation_loss_match_numpy(dtype, loss, rtol):
    cfg = ModelConfig(activation="tanh(z + 1/2)", target="He1", psi_d=0.5, loss=loss,
                      batch="independent")
    a, W0, b0, beta = _setup(cfg, 64, dtype)
    act = parse_function(cfg.activation)
    b2 = draws.draw_batch(cfg, 2, 64, 1, beta, dtype)
    G0, _ = gd.gradient_step(W0, a, b0.X, b0.y, 1.0, act, loss=loss)
    W1 = W0 + 0.7 * G0
    step_one = W1 - W0
    tp = exact_terms.term_matrices(W1, step_one, 0.7, a, b2.X, b2.y, act, 2, loss=loss, rows=20)
    tp2 = exact_terms.term_matrices(B.asarray(W1, xp), B.asarray(step_one, xp), 0.7, a, b2.X,
                                    b2.y, act, 2, loss=loss, rows=20)
    for Dk, Dk2 in zip(tp.D, tp2.D, strict=True):
        assert Dk2.dtype == getattr(xp, dtype)
        _close(Dk2, Dk, rtol)
    assert tp2.p1["max"] == pytest.approx(tp.p1["max"], rel=rtol)
    want, have = core.build(cfg, 64, 2, 1, dtype=dtype), core.build(cfg, 64, 2, 1, dtype=dtype,
                                                                   backend=STRICT)
    _close(have.update(0.5, 1.5), want.update(0.5, 1.5), rtol)
    U, U2 = want.update(0.5, 1.5), have.update(0.5, 1.5)
    exact_terms.subtract_terms(U, want.D, 0.5, 1.5)
    exact_terms.subtract_terms(U2, have.D, 0.5, 1.5)
    _close(U2, U, 1e3 * rtol)  # a difference of nearly equal matrices
