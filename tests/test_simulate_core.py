"""The step-size-free core against independent full runs at the same draws (float64)."""

from __future__ import annotations

import numpy as np
import pytest

from twostep.simulate import core, run
from twostep.simulate.gd import default_steps
from twostep.theory import ConfigError, ModelConfig

N = 200  # min(N, d) <= 256: every spectrum is a dense SVD, exact to rounding


@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_core_update_and_residual_match_full_runs_at_other_step_sizes(batch):
    base = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                       batch=batch)
    c = core.build(base, N, seed=2, K=3)
    for alpha1, etabar1, etabar2 in ((0.3, 0.2, 1.0), (0.1, 1.0, 0.5), (0.3, 1.0, 1.0)):
        cfg = base.replace(alpha1=alpha1, etabar1=etabar1, etabar2=etabar2)
        steps = default_steps(cfg)
        eta1, eta2 = steps[0].eta(N), steps[1].eta(N)
        got = c.measure(eta1, eta2, top=3)
        full = run(cfg, N, 2, terms=3, null_draws=0)
        want = full.spectrum("update").singular_values[:3]
        assert np.allclose(got["update_singular_values"], want, rtol=1e-10, atol=0), (cfg, got)
        assert got["series"].residual == pytest.approx(full.series.residual, rel=1e-9)
        assert got["series"].converges == full.series.converges


def test_core_refuses_non_smooth_activations():
    with pytest.raises(ConfigError, match="non-smooth"):
        core.build(ModelConfig(activation="relu"), 50, 0, K=2)


def test_plane_results_use_the_measured_residual_where_a_carried_one_is_unknown():
    from twostep.compare.science.claims import Results
    from twostep.compare.science.rescale import measure_residuals, plane_results

    base = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                       etabar1=0.2)
    target = base.replace(etabar1=0.9)   # a larger eta1: no carried residual exists
    res = Results()
    for seed in (0, 1):
        res.add(base, N, seed, run(base, N, seed, terms=3, null_draws=0))
    plain = plane_results(res, base, [target])
    assert all(m.series.residual is None for m in plain.get(target, N))
    measured = plane_results(res, base, [target],
                             residuals=measure_residuals(base, [target], [N], [0, 1], K=3))
    for seed, m in zip((0, 1), measured.get(target, N)):
        full = run(target, N, seed, terms=3, null_draws=0)
        assert m.series.residual == pytest.approx(full.series.residual, rel=1e-9)
        assert m.series.core_rule.startswith("measured by simulate.core")


def test_core_check_with_measured_residuals_equals_direct_checks_at_a_larger_eta1():
    from twostep.compare.plans import core as cmp_core
    from twostep.compare.plans.verify import check

    base = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                       etabar1=0.2)
    cfg = base.replace(etabar1=0.6)   # eta1 above the base's: carried residual unknown
    Ns = (25, 50, 100, 200)
    out = cmp_core.core_check("term-exponent", base, [cfg], Ns, 2, measure=True)
    direct = check("term-exponent", cfg, Ns, 2, **out.options)
    assert [v.status for v in out.of(cfg)] == [v.status for v in direct]
    assert [v.reason.split(";")[0] for v in out.of(cfg)] == \
        [v.reason.split(";")[0] for v in direct]
