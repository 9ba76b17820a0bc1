"""The coherent strength of an exact term (ExactTerm.coherent_sq) and the coherent rule.

References: planted rank-one matrices with independent row noise of known strength (the
estimand is known in closed form), a dense recomputation of the pair sum, and the amplitude
model's coherent part (theory.amplitudes) on two activations and both batches.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twostep.compare.science import scaling
from twostep.simulate import directions


def planted(rng: np.random.Generator, N: int, d: int, strength: float, noise: float):
    """Rows ``m_i = c_i vbar + zeta_i``: c_i = sqrt(N) q_i... with q unit, vbar of norm
    ``strength``, zeta_i iid N(0, noise^2/d I).  The coherent part along q is
    ``(sum_i q_i c_i)^2 ||vbar||^2 - sum_i q_i^2 c_i^2 ||vbar||^2`` (the pair sum's
    expectation given c, q and vbar)."""
    c = rng.standard_normal(N)
    q = c / np.linalg.norm(c)
    vbar = rng.standard_normal(d)
    vbar *= strength / np.linalg.norm(vbar)
    M = np.outer(c, vbar) + rng.standard_normal((N, d)) * noise / math.sqrt(d)
    target = ((q @ c) ** 2 - np.sum(q**2 * c**2)) * strength**2
    return M, q, target


def test_pair_sum_matches_dense_definition():
    rng = np.random.default_rng(0)
    M, q, _ = planted(rng, 60, 40, 0.3, 1.0)
    U, se = directions.coherent_part(M, q)
    G = (M * q[:, None]) @ (M * q[:, None]).T           # q_i q_j <m_i, m_j>
    assert U == pytest.approx(G.sum() - np.trace(G), rel=1e-10)
    # the jackknife from its definition: U without neuron i, recomputed densely
    loo = np.array([np.delete(np.delete(G, i, 0), i, 1).sum()
                    - np.trace(np.delete(np.delete(G, i, 0), i, 1)) for i in range(60)])
    jack = math.sqrt((59 / 60) * np.sum((loo - loo.mean()) ** 2))
    assert se == pytest.approx(jack, rel=1e-8)


@pytest.mark.parametrize("noise", [0.5, 2.0, 8.0])
def test_unbiased_for_the_planted_coherent_part(noise):
    """Mean over draws within 3 standard errors of the planted coherent part, at noise levels
    where the projection's square is biased by up to ~64x the signal."""
    rng = np.random.default_rng(int(noise * 10))
    N, d, strength = 400, 200, 0.05
    us, projs, targets, ses = [], [], [], []
    for _ in range(60):
        M, q, target = planted(rng, N, d, strength, noise)
        U, se = directions.coherent_part(M, q)
        us.append(U)
        ses.append(se)
        projs.append(float(np.sum((M.T @ q) ** 2)))
        targets.append(target)
    us, targets = np.array(us), np.array(targets)
    diff = us - targets
    assert abs(diff.mean()) < 3 * diff.std(ddof=1) / math.sqrt(len(diff)) + 1e-12
    # the projection's square carries the fluctuation sum_i q_i^2 ||zeta_i||^2 = noise^2
    assert np.mean(projs) - targets.mean() == pytest.approx(noise**2, rel=0.15)
    # the jackknife se is the spread of U given the rows' law (same order as the draw spread)
    assert 0.5 < np.mean(ses) / us.std(ddof=1) < 2.0


def test_zero_coherent_part_reads_zero():
    rng = np.random.default_rng(5)
    us = []
    for _ in range(80):
        M, q, _ = planted(rng, 300, 150, 0.0, 1.0)
        us.append(directions.coherent_part(M, q)[0])
    us = np.array(us)
    assert abs(us.mean()) < 3 * us.std(ddof=1) / math.sqrt(us.size)


def test_scaling_fit_recovers_a_planted_exponent():
    """Per-seed unbiased values of theta^2 N^{2e} with additive noise: the fit's interval
    covers e in about 95% of draws (planted e = 0.1; 200 draws, so at least 88%)."""
    rng = np.random.default_rng(11)
    Ns = [500, 1000, 2000, 4000]
    cover = 0
    for _ in range(200):
        values = {N: 0.01 * N**0.2 + rng.normal(0, 0.004, 16) for N in Ns}
        lo, hi = scaling.fit_scaling(values).interval()
        cover += lo <= 0.1 <= hi
    assert cover >= 176


def test_scaling_fit_of_a_linear_component():
    # power=1: values whose MEAN grows as N^0.3 (a signed component, not a squared strength);
    # the same values read as a squared strength give half the exponent
    rng = np.random.default_rng(11)
    values = {N: 0.05 * N**0.3 * (1 + 0.2 * rng.standard_normal(64)) for N in (500, 1000, 2000,
                                                                              4000)}
    lo, hi = scaling.fit_scaling(values, power=1).interval()
    assert lo <= 0.3 <= hi and hi - lo < 0.2
    lo2, hi2 = scaling.fit_scaling(values).interval()
    assert lo2 <= 0.15 <= hi2
    with pytest.raises(ValueError, match="power"):
        scaling.fit_scaling(values, power=3)


def test_scaling_fit_refuses_a_mean_at_zero():
    rng = np.random.default_rng(2)
    fit = scaling.fit_scaling({N: rng.normal(0, 1, 8) for N in (500, 1000, 2000, 4000)})
    assert fit.chosen is None and math.isnan(fit.estimate)
    assert fit.pvalue() != fit.pvalue()  # NaN: nothing to test


def test_seeds_needed_shrinks_the_statistical_error():
    rng = np.random.default_rng(3)
    Ns = [500, 1000, 2000, 4000]
    pilot = scaling.fit_scaling({N: 0.01 * N**0.1 + rng.normal(0, 0.004, 4) for N in Ns})
    need = scaling.seeds_needed(pilot, dict.fromkeys(Ns, 4), 0.05)
    assert need is not None and need >= 4
    big = scaling.fit_scaling({N: 0.01 * N**0.1 + rng.normal(0, 0.004, need) for N in Ns})
    lo, hi = big.interval()
    assert (hi - lo) / 2 < 0.05 * 1.5   # the target half-width, within the pilot's own noise
