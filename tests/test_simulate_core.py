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
        want = full.spectra["update"]["singular_values"][:3]
        assert np.allclose(got["update_singular_values"], want, rtol=1e-10, atol=0), (cfg, got)
        assert got["series"]["residual"] == pytest.approx(full.series["residual"], rel=1e-9)
        assert got["series"]["converges"] == full.series["converges"]


def test_core_refuses_non_smooth_activations():
    with pytest.raises(ConfigError, match="non-smooth"):
        core.build(ModelConfig(activation="relu"), 50, 0, K=2)
