"""Top singular triplets, the empirical bulk edge and the direction diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twostep.simulate import directions, lanczos, spectra


def gaussian(N: int, d: int, seed: int) -> np.ndarray:
    """W_0-like: entries N(0, 1/d)."""
    return np.random.default_rng(seed).standard_normal((N, d)) / math.sqrt(d)


def unit(rng: np.random.Generator, size: int) -> np.ndarray:
    v = rng.standard_normal(size)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("N,d", [(600, 400), pytest.param(400, 600, marks=pytest.mark.slow)])
def test_block_lanczos_matches_dense_svd(N, d):
    rng = np.random.default_rng(5)
    A = gaussian(N, d, 1)
    A += 6.0 * np.outer(unit(rng, N), unit(rng, d)) + 1.8 * np.outer(unit(rng, N), unit(rng, d))
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    top = lanczos.top_singular(A, 30, np.random.default_rng(0))
    assert top.method == "block-lanczos" and top.converged
    assert np.max(np.abs(top.values - s[:30]) / s[:30]) < 1e-9
    # the separated spikes have well-defined vectors: compare them (up to sign)
    for j in range(2):
        assert abs(top.left[:, j] @ U[:, j]) > 1 - 1e-8
        assert abs(top.right[:, j] @ Vt[j]) > 1 - 1e-8
    assert top.residual < 1e-6
    f32 = lanczos.top_singular(A.astype(np.float32), 30, np.random.default_rng(0))
    # float32 products: relative error ~ eps32 sqrt(d) ~ 3e-6 at worst
    assert np.max(np.abs(f32.values - s[:30]) / s[:30]) < 1e-5


def test_top_singular_is_reproducible_and_small_matrices_go_dense():
    A = gaussian(500, 500, 2)
    one = lanczos.top_singular(A, 15, np.random.default_rng(3))
    two = lanczos.top_singular(A, 15, np.random.default_rng(3))
    assert np.array_equal(one.values, two.values)
    small = lanczos.top_singular(gaussian(100, 80, 2), 30, np.random.default_rng(3))
    assert small.method == "dense" and small.values.size == 30


@pytest.mark.parametrize("N,d,seed", [pytest.param(1000, 1000, 0, marks=pytest.mark.slow),
                                      pytest.param(1000, 1000, 1, marks=pytest.mark.slow),
                                      (800, 400, 2), (400, 800, 3)])
def test_pure_bulk_has_no_outliers_and_the_theoretical_edge(N, d, seed):
    values = np.linalg.svd(gaussian(N, d, seed), compute_uv=False)[:30]
    fit = spectra.fit_edge(values)
    tw = spectra.tracy_widom_scale(N, d)
    assert fit.reliable and fit.edge_outliers == 0
    # fitted edge: bias <= 0.3 and sd ~ 1 in Tracy-Widom units (spectra module docstring)
    assert abs(fit.edge - spectra.bulk_edge_theory(N, d)) < 4 * tw
    # the fitted scale is the Tracy-Widom scale (kappa/tw = 1.00-1.05 measured)
    assert 0.7 < fit.kappa / tw < 1.4


def test_planted_spike_gives_one_outlier_at_the_bbp_location():
    N = d = 1000
    rng = np.random.default_rng(9)
    theta = 1.5
    A = gaussian(N, d, 4) + theta * np.outer(unit(rng, N), unit(rng, d))
    values = np.linalg.svd(A, compute_uv=False)[:30]
    fit = spectra.fit_edge(values)
    assert fit.edge_outliers == 1
    # Benaych-Georges & Nadakuditi (c = 1): sqrt((1 + theta^2)(1 + theta^2)) / theta = 2.1667;
    # outlier fluctuations are O(N^-1/2) ~ 0.03 here
    assert abs(values[0] - (1 + theta**2) / theta) < 0.1
    assert values[0] - fit.edge > fit.margin


def test_visible_bulk_far_above_the_theoretical_edge_is_found():
    # a bulk of scale 1.7x W_0's (as W_2's visible bulk for relu at alpha2 = 0.45), plus 2 spikes
    rng = np.random.default_rng(2)
    N = 800
    A = 1.7 * gaussian(N, N, 5)
    A += 9 * np.outer(unit(rng, N), unit(rng, N)) + 4 * np.outer(unit(rng, N), unit(rng, N))
    fit = spectra.fit_edge(np.linalg.svd(A, compute_uv=False)[:30])
    assert fit.edge_outliers == 2
    assert abs(fit.edge - 3.4) < 4 * 1.7 * spectra.tracy_widom_scale(N, N)


def test_fit_edge_refuses_too_few_values():
    fit = spectra.fit_edge(np.array([3.0, 2.0, 1.9, 1.8]))
    assert not fit.reliable and fit.edge is None


def test_power_basis_is_orthonormal_and_follows_the_powers():
    a = np.random.default_rng(0).standard_normal(3000) / math.sqrt(3000)
    Q = directions.power_basis(a, 6)
    assert np.allclose(Q.T @ Q, np.eye(6), atol=1e-10)
    assert directions.squared_overlap(Q[:, 0], a) == pytest.approx(1.0)
    # q_2 is a^{o2} with its projection on a removed, oriented along a^{o2}
    a2 = a**2 - (a**2 @ Q[:, 0]) * Q[:, 0]
    assert directions.squared_overlap(Q[:, 1], a2) == pytest.approx(1.0)
    assert Q[:, 1] @ a**2 > 0


def test_power_basis_marks_degenerate_powers_of_a_sign_layer():
    a = np.where(np.random.default_rng(1).random(500) < 0.5, -1.0, 1.0) / math.sqrt(500)
    Q = directions.power_basis(a, 4)
    # a^{o2} = 1/N (constant), a^{o3} = a/N, a^{o4} = 1/N^2: only q_1, q_2 exist
    assert np.isnan(Q[:, 2]).all() and np.isnan(Q[:, 3]).all()
    assert directions.squared_overlap(Q[:, 1], np.ones(500)) > 0.99
    assert directions.left_overlaps(Q[:, 0], Q)[2:] == [None, None]


@pytest.mark.parametrize("overlaps,power", [
    ([0.9, 0.0, 0.01], 1), ([0.02, 0.45, 0.2], 2), ([0.29, 0.0, 0.0], None),
    ([0.4, 0.25, 0.0], None), ([None, 0.5, 0.1], 2), ([None, None], None),
])
def test_identification_rule(overlaps, power):
    assert directions.identify(overlaps) == power


def test_squared_overlap_is_a_squared_cosine():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, y = rng.standard_normal(50), rng.standard_normal(50)
        value = directions.squared_overlap(x, y)
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx((x @ y) ** 2 / (x @ x) / (y @ y))
    assert directions.squared_overlap(np.zeros(3), np.ones(3)) is None


def test_amplitudes_see_a_planted_term_above_the_null_floor():
    rng = np.random.default_rng(4)
    N, d = 2000, 500
    a = rng.standard_normal(N) / math.sqrt(N)
    Q = directions.power_basis(a, 3)
    beta = unit(rng, d)
    v = 0.6 * beta + 0.8 * unit(rng, d)
    noise = rng.standard_normal((N, d)) / math.sqrt(d) * 0.2
    U = 2.5 * np.outer(Q[:, 1], v) + noise           # term k = 1 of strength 2.5
    nulls = [directions.power_basis(rng.standard_normal(N) / math.sqrt(N), 3) for _ in range(4)]
    amps = directions.amplitudes(*directions.projections(U, Q, nulls), beta)
    assert [x.k for x in amps] == [0, 1, 2]
    assert amps[1].amplitude == pytest.approx(2.5 * np.linalg.norm(v), rel=0.05)
    # the noise alone projects to norm ~ 0.2, and so do odd null directions; an even power of b
    # shares the constant direction with q_2 (E b_i^2 > 0), so its floor sees part of the term
    for k in (0, 2):
        assert amps[k].null_floor < 0.4 and amps[k].amplitude < 0.4
    assert amps[1].amplitude > amps[1].null_floor + 3 * amps[1].null_floor_sd
    assert amps[1].beta_overlap == pytest.approx(0.36, abs=0.05)


def spiked(N: int, d: int, seed: int, strengths=(6.0, 3.0, 1.8)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = gaussian(N, d, seed)
    for theta in strengths:
        A += theta * np.outer(unit(rng, N), unit(rng, d))
    return A


def test_float32_spectra_meet_the_documented_accuracy():
    # N = 1000 float32 with three spikes against a float64 dense SVD: top-10 relative error
    # <= 1e-4 (the goal; measured ~1e-6) and every computed value within 0.05 Tracy-Widom
    # units, what the edge fit needs
    N, d = 1000, 800
    A = spiked(N, d, 7)
    s = np.linalg.svd(A, compute_uv=False)
    top = lanczos.top_singular(A.astype(np.float32), 30, np.random.default_rng(1))
    assert top.converged and top.method == "block-lanczos"
    assert np.max(np.abs(top.values[:10] - s[:10]) / s[:10]) <= 1e-4
    assert np.max(np.abs(top.values - s[:30])) <= 0.05 * spectra.tracy_widom_scale(N, d)
    assert spectra.fit_edge(top.values).edge_outliers == spectra.fit_edge(s[:30]).edge_outliers


def test_array_api_strict_input_matches_numpy():
    xp = pytest.importorskip("array_api_strict")
    A = spiked(400, 300, 3)
    ref = lanczos.top_singular(A, 20, np.random.default_rng(2))
    got = lanczos.top_singular(xp.asarray(A), 20, np.random.default_rng(2))
    assert isinstance(got.values, np.ndarray) and got.values.dtype == np.float64
    assert got.left.shape == (400, 20) and got.right.shape == (300, 20)
    assert got.iterations == ref.iterations
    assert np.max(np.abs(got.values - ref.values)) <= 1e-12
    # the leading (separated) vectors agree up to sign
    for j in range(3):
        assert abs(got.left[:, j] @ ref.left[:, j]) > 1 - 1e-12
    # the wide side (d > N) runs on A A^T
    wide = lanczos.top_singular(xp.asarray(A.T.copy()), 20, np.random.default_rng(2))
    assert np.max(np.abs(wide.values - ref.values) / ref.values) <= 1e-10


def test_warm_start_reuses_a_previous_decomposition():
    # W_2 = W_1 + a rank-one update: W_1's right vectors start W_2's iteration
    N = 1000
    W1 = spiked(N, N, 4, strengths=(5.0,)).astype(np.float32)
    rng = np.random.default_rng(8)
    W2 = W1 + (4.0 * np.outer(unit(rng, N), unit(rng, N))).astype(np.float32)
    first = lanczos.top_singular(W1, 30, np.random.default_rng(0))
    cold = lanczos.top_singular(W2, 30, np.random.default_rng(0))
    warm = lanczos.top_singular(W2, 30, np.random.default_rng(0), start=first)
    assert warm.converged and warm.iterations <= cold.iterations
    s = np.linalg.svd(W2.astype(np.float64), compute_uv=False)[:10]
    assert np.max(np.abs(warm.values[:10] - s) / s) <= 1e-4
    with pytest.raises(ValueError, match="rows"):
        lanczos.top_singular(W2, 30, np.random.default_rng(0), start=np.ones((7, 2)))


def test_agrees_with_propack():
    # scipy's PROPACK (Lanczos bidiagonalisation with partial reorthogonalisation) as an
    # independent solver: the same top-10 values and the same singular subspaces
    from scipy.sparse.linalg import svds

    A = spiked(900, 700, 11, strengths=(8.0, 5.0, 3.0, 2.0))
    U, s, Vt = svds(A, k=10, solver="propack", maxiter=600,
                     random_state=np.random.default_rng(0))
    order = np.argsort(-s)
    U, s, Vt = U[:, order], s[order], Vt[order]
    top = lanczos.top_singular(A, 30, np.random.default_rng(0))
    assert np.max(np.abs(top.values[:10] - s) / s) <= 1e-10
    # the four spikes individually (up to sign), then the whole 10-dimensional subspaces:
    # the cosines of their principal angles
    for j in range(4):
        assert abs(top.left[:, j] @ U[:, j]) > 1 - 1e-10
        assert abs(top.right[:, j] @ Vt[j]) > 1 - 1e-10
    gap = (s[9] - top.values[10]) / s[0]
    assert gap > 1e-3
    for ours, theirs in ((top.left[:, :10], U), (top.right[:, :10], Vt.T)):
        cosines = np.linalg.svd(ours.T @ theirs, compute_uv=False)
        assert cosines.min() > 1 - 1e-8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_breakdown_on_a_low_rank_matrix_keeps_the_basis_orthonormal(dtype):
    # rank 3 < the 10 wanted values: the Krylov space is exhausted after one block, the
    # new blocks are rounding noise (replaced by fresh columns); the Ritz values must stay
    # the true ones (a non-orthonormal basis would give values above them) and the rest ~0
    rng = np.random.default_rng(0)
    A = (rng.standard_normal((600, 3)) @ rng.standard_normal((3, 500))).astype(dtype)
    s = np.linalg.svd(A.astype(np.float64), compute_uv=False)
    top = lanczos.top_singular(A, 10, np.random.default_rng(0))
    assert top.converged
    assert np.max(np.abs(top.values[:3] - s[:3]) / s[:3]) <= 1e-5
    assert np.all(top.values[3:] <= 1e-5 * s[0])
    zero = lanczos.top_singular(np.zeros((600, 500), dtype), 5, np.random.default_rng(0))
    assert np.array_equal(zero.values, np.zeros(5))
