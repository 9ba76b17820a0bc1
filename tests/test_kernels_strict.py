"""The kernels' primitives and the one-kernel paths on array-api-strict against numpy.

Each primitive of :mod:`twostep.simulate.backend` is one array-API expression with numpy's BLAS
fast path inside: on numpy it must give the plain expression's numbers (to rounding: BLAS and
numpy's matmul may sum in another order) and write where it says; on array-api-strict the
plain expression. The kernels built on them (float32, the correlation loss, a skipped
non-finite block) agree across the two namespaces (tests/test_backend.py holds the float64
squared-loss runs).
"""

from __future__ import annotations

import _rounding as R
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


def _within(got, want, bound: R.Bounded) -> None:
    """``got`` and ``want``, two computations of ``bound``'s value (two namespaces, or BLAS and
    numpy's matmul), each within ``bound.e`` of the exact one (tests/_rounding.py)."""
    got, want = B.to_numpy(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    excess = np.abs(got.astype(np.float64) - want) - 2 * bound.e
    assert float(np.max(excess, initial=-np.inf)) <= 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_primitives_are_their_expressions_on_both_namespaces(dtype):
    rng = np.random.default_rng(0)
    A, B_, C = (rng.standard_normal(s).astype(dtype) for s in ((7, 5), (9, 5), (7, 9)))
    x5, x7 = rng.standard_normal(5).astype(dtype), rng.standard_normal(7).astype(dtype)
    u = R.unit(dtype)
    # the forward error bounds of each product (gamma_k |A| |B|, tests/_rounding.py)
    a_, b_, c_ = (R.Bounded.exact(v, u) for v in (A, B_, C))
    two = R.Bounded.exact(np.full((9, 5), 2.0), u)
    for ns in (NP, xp):
        a, b, c = (B.asarray(v, ns) for v in (A, B_, C))
        buf = B.buffer(ns, (10, 9), dtype)
        assert (buf is None) == (ns is xp)
        got = B.matmul_nt(a, b, B.head(buf, 7))
        _within(got, A @ B_.T, a_ @ b_.T)
        if buf is not None:
            assert np.shares_memory(got, buf)              # written into the buffer
        out = B.asarray(np.full((9, 5), 2.0, dtype), ns)
        assert B.matmul_tn(c, a, out, accumulate=True) is out
        _within(out, 2.0 + C.T @ A, two + c_.T @ a_)
        assert B.matmul_tn(c, a, out) is out
        _within(out, C.T @ A, c_.T @ a_)
        _within(B.matmul_tn(c, a), C.T @ A, c_.T @ a_)
        _within(B.matvec(a, B.asarray(x5, ns), 0.5), 0.5 * (A @ x5), (a_ @ x5) * 0.5)
        _within(B.rmatvec(a, B.asarray(x7, ns)), A.T @ x7, a_.T @ x7)
        y = B.asarray(C.copy(), ns)
        B.axpy(-1.5, B.asarray(C, ns), y)
        _within(y, C - 1.5 * C, c_ + c_ * -1.5)
        # a sum of 35 squares, each side within gamma_35 of the exact sum (float64: exact)
        assert B.sum_squares(a) == pytest.approx(float(np.sum(A.astype(float) ** 2)),
                                                 rel=2 * R.gamma(A.size, u))
        target = B.buffer(ns, (7, 5), dtype)
        product = B.multiply(a, a, out=target)
        _close(product, A * A, 0)  # one correctly rounded product: the same bits
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


def _labels(cfg: ModelConfig, batch, beta, y=None) -> R.Bounded:
    return R.labels(batch.y if y is None else y, batch.X, beta, parse_function(cfg.target))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradient_step_skips_a_non_finite_block_on_both_namespaces(dtype):
    cfg = ModelConfig(activation="tanh(z + 1/2)", target="He1", psi_d=0.5)
    a, W, batch, beta = _setup(cfg, 80, dtype)
    act = parse_function(cfg.activation)
    y = batch.y.copy()
    y[45] = np.nan
    G, res = gd.gradient_step(W, a, batch.X, y, 0.9, act, block_rows=30)
    out = xp.full(W.shape, 3.0, dtype=getattr(xp, dtype))
    G2, res2 = gd.gradient_step(B.asarray(W, xp), a, batch.X, y, 0.9, act, block_rows=30,
                                out=out)
    assert G2 is out
    # the skipped block (rows 30..59) is not in the update: the two others are
    keep = np.r_[0:30, 60:80]
    rows = np.isin(np.arange(80), keep)
    W_ = R.Bounded.exact(W, R.unit(dtype))
    bound = R.gradient_step(W_, a, batch.X, _labels(cfg, batch, beta, y), 0.9, act, keep=rows)
    _within(G2, G, bound["G"])
    np.testing.assert_array_equal(np.isfinite(res2.residual), np.isfinite(res.residual))
    want, _ = gd.gradient_step(W, a, np.ascontiguousarray(batch.X[keep]), y[keep], 0.9 * 50 / 80,
                               act, block_rows=30)
    _within(G, want, bound["G"])
    # no finite block at all: a zero update, on both
    for W_ in (W, B.asarray(W, xp)):
        zero, _ = gd.gradient_step(W_, a, batch.X, np.full_like(y, np.inf), 0.9, act)
        assert not np.any(B.to_numpy(zero))


@pytest.mark.parametrize("dtype,loss", [("float32", "squared"), ("float64", "correlation")])
def test_terms_and_core_in_float32_and_correlation_loss_match_numpy(dtype, loss):
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
    # the bounds of both computations (tests/_rounding.py), from the same bounded G0
    W0_ = R.Bounded.exact(W0, R.unit(dtype))
    G0_ = R.gradient_step(W0_, a, b0.X, _labels(cfg, b0, beta), 1.0, act, loss=loss)["G"]
    W1_ = W0_ + G0_ * 0.7
    D, E = R.term_matrices(W1_, W1_ - W0_, 0.7, a, b2.X, _labels(cfg, b2, beta), act, 2,
                           loss=loss)
    for Dk, Dk2, bound in zip(tp.D, tp2.D, D, strict=True):
        assert Dk2.dtype == getattr(xp, dtype)
        _within(Dk2, Dk, bound)
    # max |eta1 P1|: each side within the largest entry error of eta1 P1
    assert abs(tp2.p1.max - tp.p1.max) <= 2 * float(np.max(E.e))
    want, have = core.build(cfg, 64, 2, 1, dtype=dtype), core.build(cfg, 64, 2, 1, dtype=dtype,
                                                                   backend=STRICT)
    pieces = R.core(cfg, 64, 2, 1, dtype)
    U_ = R.update(pieces["P0"], pieces["P1"], a, pieces["X"], pieces["y"], 0.5, 1.5, act,
                  loss=loss)
    _within(have.update(0.5, 1.5), want.update(0.5, 1.5), U_)
    U, U2 = want.update(0.5, 1.5), have.update(0.5, 1.5)
    exact_terms.subtract_terms(U, want.D, 0.5, 1.5)
    exact_terms.subtract_terms(U2, have.D, 0.5, 1.5)
    for k, Dk in enumerate(pieces["D"]):  # a difference of nearly equal matrices
        U_ = U_ - Dk * (1.5 * 0.5**k)
    _within(U2, U, U_)
