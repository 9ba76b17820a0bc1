"""The streamed GD steps against a dense reference, the draws and the blow-up guard."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from twostep.simulate import Step, gd
from twostep.simulate import draws as D
from twostep.theory import ConfigError, ModelConfig, NonFiniteError

# Activations with derivatives written out here, independently of the sympy
# parser that the implementation uses.
ACTIVATIONS = {
    "tanh(z + 1/2)": (lambda z: np.tanh(z + 0.5), lambda z: 1.0 - np.tanh(z + 0.5) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
}
TARGETS = {"He1": lambda z: z, "He3(z)/sqrt(6)": lambda z: (z**3 - 3 * z) / math.sqrt(6)}

SCHEDULES = {
    "T1": [Step(0.3, 1.0, "fresh")],
    "reuse": [Step(0.3, 1.0, "fresh"), Step(0.45, 1.5, "reuse")],
    "independent": [Step(0.3, 1.0, "fresh"), Step(0.45, 1.5, "fresh")],
    "T3": [Step(0.2, 1.0, "fresh"), Step(0.4, 0.7, "reuse"), Step(0.1, 2.0, "fresh")],
}


def dense_reference(config: ModelConfig, N: int, seed: int, steps, activation, target):
    """docs/model.md with every matrix materialised (float64):
    W_{t+1} = W_t + (eta_t/n) diag(a) [sigma'(W_t X^T) * r^T] X, r = y - f(X) or y."""
    d, n = round(config.psi_d * N), round(config.psi_n * N)
    sigma, dsigma = activation
    beta = D.draw_beta(seed, N, d)
    a = D.draw_second_layer(config, seed, N)
    W = D.draw_first_layer(config, seed, N, d, np.dtype("float64"))
    out, fresh, X, y = [], 0, None, None
    for step in steps:
        if step.batch == "fresh":
            batch = D.draw_batch(config, seed, N, fresh, beta, np.dtype("float64"))
            fresh += 1
            X = batch.X
            # y recomputed from its definition: sigma_*(<beta_*, x>) + tau eps
            y = target(X @ beta) + config.noise * batch.noise
            assert np.allclose(y, batch.y, rtol=1e-12, atol=1e-12)
        eta = step.etabar * N**step.alpha
        f = sigma(X @ W.T) @ a / math.sqrt(N)
        r = y - f if config.loss == "squared" else y
        W = W + (eta / n) * np.diag(a) @ ((dsigma(W @ X.T) * r[None, :]) @ X)
        out.append(W)
    return out


CASES = list(itertools.product(("gaussian", "sign"), ("gaussian", "sphere"),
                               ("squared", "correlation"), SCHEDULES))


@pytest.mark.parametrize("second_layer,first_layer,loss,schedule", CASES)
def test_streamed_steps_match_dense_reference(second_layer, first_layer, loss, schedule):
    activation = "tanh(z + 1/2)" if second_layer == "gaussian" else "relu"
    target = "He3(z)/sqrt(6)" if first_layer == "sphere" else "He1"
    config = ModelConfig(activation=activation, target=target, noise=0.5, psi_d=0.75,
                         psi_n=1.5, second_layer=second_layer, first_layer=first_layer,
                         loss=loss)
    N, seed = 48, 3
    steps = SCHEDULES[schedule]
    states = [(s.t, s.W.copy(), s.batch.index if s.batch else None)
              for s in gd.trajectory(config, N, seed, steps, dtype="float64", block_rows=16)]
    reference = dense_reference(config, N, seed, steps, ACTIVATIONS[activation], TARGETS[target])
    assert [t for t, _, _ in states] == list(range(len(steps) + 1))
    assert states[0][1].shape == (48, 36)  # d = 0.75 N; n = 72 is 4.5 blocks of 16
    for (t, W, _), W_ref in zip(states[1:], reference):
        scale = max(1.0, float(np.abs(W_ref).max()))
        assert np.abs(W - W_ref).max() <= 1e-10 * scale, f"step {t}"
        # the step really moved W (the comparison is not of two unchanged W_0)
        assert np.abs(W - states[t - 1][1]).max() > 1e-3
    fresh_index = list(itertools.accumulate(s.batch == "fresh" for s in steps))
    assert [b for _, _, b in states[1:]] == [i - 1 for i in fresh_index]


def test_block_size_does_not_change_the_update():
    config = ModelConfig(activation="tanh(z + 1/2)", noise=0.3)
    runs = []
    for rows in (7, 40, None):
        states = list(gd.trajectory(config, 40, 1, gd.default_steps(config), block_rows=rows))
        runs.append(states[-1].W.copy())
    assert np.abs(runs[0] - runs[2]).max() < 1e-12
    assert np.abs(runs[1] - runs[2]).max() < 1e-12


def test_reuse_and_independent_share_the_start_and_batch_zero():
    reuse = ModelConfig(activation="tanh", batch="reuse")
    indep = reuse.replace(batch="independent")

    def collect(config):
        states = []
        for s in gd.trajectory(config, 64, 11, gd.default_steps(config)):
            states.append({"W": s.W.copy(), "a": s.a, "beta": s.beta,
                           "X": None if s.batch is None else s.batch.X.copy(),
                           "index": None if s.batch is None else s.batch.index})
        return states

    r, i = collect(reuse), collect(indep)
    for key in ("W", "a", "beta"):
        assert np.array_equal(r[0][key], i[0][key])
    assert np.array_equal(r[1]["X"], i[1]["X"])          # batch 0 shared
    assert np.array_equal(r[1]["W"], i[1]["W"])          # so W_1 is the same
    assert np.array_equal(r[2]["X"], r[1]["X"])          # reuse: step 2 on batch 0
    assert (r[1]["index"], r[2]["index"]) == (0, 0)
    assert (i[1]["index"], i[2]["index"]) == (0, 1)
    assert not np.allclose(i[2]["X"], i[1]["X"])         # independent: a fresh batch
    assert not np.allclose(r[2]["W"], i[2]["W"])


def test_draw_laws():
    N, d = 400, 300
    config = ModelConfig()
    W = D.draw_first_layer(config, 0, N, d, np.dtype("float64"))
    # entry variance 1/d; the sample variance of N d normals has relative sd sqrt(2/(N d))
    assert abs(W.var() * d - 1) < 5 * math.sqrt(2 / (N * d))
    sphere = D.draw_first_layer(config.replace(first_layer="sphere"), 0, N, d,
                                np.dtype("float64"))
    assert np.allclose(np.linalg.norm(sphere, axis=1), 1.0, atol=1e-12)
    a = D.draw_second_layer(config, 0, N)
    assert abs(a.var() * N - 1) < 5 * math.sqrt(2 / N)
    s = D.draw_second_layer(config.replace(second_layer="sign"), 0, N)
    assert np.allclose(np.abs(s), 1 / math.sqrt(N))
    assert 0.4 < np.mean(s > 0) < 0.6
    assert abs(np.linalg.norm(D.draw_beta(0, N, d)) - 1) < 1e-12
    f32 = D.draw_first_layer(config, 0, N, d, np.dtype("float32"))
    assert f32.dtype == np.float32 and np.array_equal(f32, W.astype(np.float32))


def test_dimensions_round_half_up_exactly():
    config = ModelConfig(psi_d=0.3, psi_n=2.5)
    assert D.dimensions(config, 5) == (2, 13)    # 1.5 -> 2, 12.5 -> 13
    with pytest.raises(ConfigError, match="round to >= 1"):
        D.dimensions(ModelConfig(psi_d=0.01), 10)


def test_polynomial_blow_up_is_stopped_naming_the_step():
    config = ModelConfig(activation="z**4", alpha1=0.4, alpha2=0.4)
    with pytest.raises(NonFiniteError, match=r"^step 2: residual rms .* exceeds"):
        list(gd.trajectory(config, 200, 0, gd.default_steps(config)))


def test_overflow_is_reported_as_non_finite():
    config = ModelConfig(activation="exp(60*z)")  # exp(60 h) overflows float32 at h > 1.5
    with pytest.raises(NonFiniteError, match=r"^step 1: .* of the residual entries are NaN/Inf"):
        list(gd.trajectory(config, 100, 0, gd.default_steps(config), dtype="float32"))


def test_large_but_legitimate_steps_pass_the_guard():
    # The largest legitimate ratios measured (gd.BLOWUP_FACTOR's comment): a
    # quadratic activation at alpha = 0.45, etabar = 3.
    config = ModelConfig(activation="quadratic", alpha1=0.45, alpha2=0.45, etabar1=3,
                         etabar2=3)
    states = list(gd.trajectory(config, 200, 0, gd.default_steps(config)))
    ratios = [s.stats["update_ratio"] for s in states[1:]]
    assert max(ratios) < gd.BLOWUP_FACTOR / 10


@pytest.mark.parametrize("text,message", [
    ("0.3:1", "cannot read step"),
    ("0.3:x:fresh", "cannot read step"),
    ("0.3:1:later", r"batch must be independent \(or fresh\) or reuse"),
    ("0.3:1:reuse", "step 1 must use a fresh batch"),
    ("0.6:1:fresh", r"alpha must be in \[0, 1/2\)"),
    ("0.3:0:fresh", "etabar must be > 0"),
])
def test_bad_steps_are_one_line_config_errors(text, message):
    with pytest.raises(ConfigError, match=message) as info:
        gd.parse_steps(text)
    assert "\n" not in str(info.value)


def test_parse_steps_round_trip():
    steps = gd.parse_steps("0.3:1:fresh, 0.45:2.5:reuse,0:1:fresh")
    assert steps == (Step(0.3, 1.0, "fresh"), Step(0.45, 2.5, "reuse"), Step(0.0, 1.0, "fresh"))
    assert [Step.from_dict(s.to_dict()) for s in steps] == list(steps)
    assert gd.default_steps(ModelConfig(batch="independent"))[1].batch == "fresh"
