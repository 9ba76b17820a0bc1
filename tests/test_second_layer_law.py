"""The second layer's laws (docs/model.md, "The second layer's law"): the uniform law is bounded
with variance 1/N and is a function of the Gaussian law's own draws (paired runs)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from twostep.simulate import draws
from twostep.theory import ModelConfig


def test_uniform_second_layer_is_uniform_with_variance_one_over_N():
    N = 20000
    a = draws.draw_second_layer(ModelConfig(second_layer="uniform"), 3, N)
    s = math.sqrt(N) * a
    # bounded by sqrt(3) (the law's support); the KS test against U(-sqrt3, sqrt3) at N = 20000
    # rejects a wrong law (e.g. the Gaussian: KS distance 0.03, p ~ 1e-16) and keeps the right one
    # at the 1e-3 level
    assert np.max(np.abs(s)) <= math.sqrt(3.0)
    assert stats.kstest(s, stats.uniform(loc=-math.sqrt(3), scale=2 * math.sqrt(3)).cdf).pvalue \
        > 1e-3
    # sample variance of N iid U draws: mean 1, sd sqrt(Var(s^2)/N) = sqrt(0.8/N) = 0.0063
    assert abs(np.mean(s**2) - 1.0) < 5 * math.sqrt(0.8 / N)


def test_uniform_second_layer_is_paired_with_the_gaussian_draw():
    N = 500
    g = draws.draw_second_layer(ModelConfig(), 7, N)
    u = draws.draw_second_layer(ModelConfig(second_layer="uniform"), 7, N)
    want = math.sqrt(3.0 / N) * (2.0 * stats.norm.cdf(math.sqrt(N) * g) - 1.0)
    # two float64 evaluations of the same smooth map of g (erf vs the normal cdf): a few ulps
    # of sqrt(3/N)
    assert np.max(np.abs(u - want)) <= 64 * np.finfo(np.float64).eps * math.sqrt(3.0 / N)
