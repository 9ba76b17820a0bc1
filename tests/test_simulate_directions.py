"""Null floors and learned-direction overlaps of simulate.directions on planted updates."""

from __future__ import annotations

import numpy as np

from twostep.simulate import directions


def _setup(N=400, d=300, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(N) / np.sqrt(N)
    basis = directions.power_basis(a, 4)
    nulls = [directions.power_basis(rng.standard_normal(N) / np.sqrt(N), 4) for _ in range(4)]
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    return rng, a, basis, nulls, beta


def test_null_basis_is_orthogonal_to_the_signal_directions():
    _, _, basis, nulls, _ = _setup()
    for nb in nulls:
        q = directions.orthogonal_to(nb, basis)
        assert np.allclose(q.T @ q, np.eye(4), atol=1e-12)
        assert np.max(np.abs(basis.T @ q)) < 1e-12


def test_a_pure_term_zero_update_leaves_no_floor():
    # U = a v^T: all of it is term 0.  Without the orthogonalisation the null projection would
    # pick up |<a, q'>| ||v|| ~ N^{-1/2} ||v|| (here ~2.5); with it, nothing.
    rng, a, basis, nulls, beta = _setup()
    v = 50.0 * rng.standard_normal(300)
    update = np.outer(a / np.linalg.norm(a), v)
    amps = directions.amplitudes(*directions.projections(update, basis, nulls), beta)
    assert abs(amps[0].amplitude - np.linalg.norm(v)) < 1e-9 * np.linalg.norm(v)
    assert all(e.null_floor < 1e-9 for e in amps)
    assert all(e.amplitude < 1e-9 for e in amps[1:])


def test_learned_beta_finds_the_planted_direction_against_a_null_maximum():
    rng, a, basis, nulls, beta = _setup()
    noise = rng.standard_normal((400, 300)) / np.sqrt(300)
    q3 = basis[:, 2]
    update = noise + 3.0 * np.outer(q3, beta)  # term 2 carries beta_*
    out = directions.learned_beta(*directions.projections(update, basis, nulls), beta)
    assert out.best_term == 2 and out.overlap > 0.8
    assert out.null < 0.05 and out.null_draws == 4
    plain = directions.learned_beta(*directions.projections(noise, basis, nulls), beta)
    assert plain.overlap < 0.05
