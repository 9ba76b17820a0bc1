"""The simulation is namespace-generic: array-api-strict (float64) against numpy, the reference.

array-api-strict accepts only what the array API standard specifies (no numpy idioms, no
implicit conversions), so a small two-step simulation that runs through it and matches numpy to
1e-12 shows the code would run on any conforming backend (CuPy on a GPU, docs/performance.md).
"""

from __future__ import annotations

import importlib.util

import _rounding as R
import numpy as np
import pytest

from twostep.simulate import backend as B
from twostep.simulate import core, directions, draws, gd
from twostep.simulate import terms as exact_terms
from twostep.theory import ConfigError, ModelConfig, NonFiniteError, parse_function

xp = pytest.importorskip("array_api_strict")
STRICT = "array-api-strict"
N = 96
SEED = 4
RTOL = 1e-12


def _close(got, want, rtol=RTOL):
    """Backend array ``got`` equals host ``want`` to ``rtol`` of want's largest entry."""
    got = B.to_numpy(got)
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(float(np.max(np.abs(want))), 1e-300)
    err = float(np.max(np.abs(got - want))) / scale
    assert err <= rtol, err


def _config(activation: str, batch: str, **kw) -> ModelConfig:
    return ModelConfig(activation=activation, target="He1", alpha1=0.3, alpha2=0.45,
                       batch=batch, **kw)


# -- names, moves ------------------------------------------------------------------------


def test_namespace_default_is_numpy_and_names_round_trip():
    assert B.name(B.namespace()) == "numpy"
    assert B.name(B.namespace("numpy")) == "numpy"
    assert B.namespace(STRICT) is xp
    assert B.name(xp) == STRICT
    assert B.namespace(xp) is xp  # a namespace passes through


def test_unknown_backend_is_a_one_line_error_naming_the_allowed_values():
    with pytest.raises(ConfigError) as err:
        B.namespace("jaxx")
    text = str(err.value)
    assert "\n" not in text and "'jaxx'" in text
    for allowed in B.BACKENDS:
        assert allowed in text


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy is installed")
def test_cupy_without_the_gpu_extra_is_a_one_line_error():
    with pytest.raises(ConfigError) as err:
        B.namespace("cupy")
    assert str(err.value) == "backend 'cupy' needs the gpu extra: pip install 'twostep[gpu]'"
    # the same refusal where a run asks for it, before anything is drawn
    with pytest.raises(ConfigError, match="needs the gpu extra"):
        next(gd.trajectory(_config("tanh", "reuse"), 20, 0, gd.default_steps(
            _config("tanh", "reuse")), backend="cupy"))


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_torch_not_installed_is_a_one_line_error():
    with pytest.raises(ConfigError) as err:
        B.namespace("torch")
    assert "\n" not in str(err.value) and "needs PyTorch" in str(err.value)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_asarray_and_to_numpy_keep_dtype_values_and_do_not_alias(dtype):
    host = np.random.default_rng(0).standard_normal((5, 3)).astype(dtype)
    moved = B.asarray(host, xp)
    assert moved.dtype == getattr(xp, dtype)
    assert B.asarray(moved, xp) is moved                      # already there: no copy
    assert B.asarray(host, xp, "float64").dtype == xp.float64
    back = B.to_numpy(moved)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, host)
    moved += 1.0
    assert np.array_equal(back, host)                         # a copy, not a view
    assert B.to_numpy(host) is host                           # numpy: the identity
    assert B.asarray(host, B.namespace()) is host
    assert B.scalar(xp.sum(moved)) == pytest.approx(float(np.sum(host + 1.0)), rel=1e-6)


# -- activations -------------------------------------------------------------------------

ACTIVATIONS = ["tanh(z + 1/2)", "He3", "sigmoid", "softplus", "silu", "relu", "abs",
               "min(z, 1)", "max(z, 0)**2", "sqrt(2)*sin(z) + cosh(z/4)", "pi*z + E",
               "log(2)*z**2", "exp(-z**2/2)", "quadratic"]


@pytest.mark.parametrize("text", ACTIVATIONS)
def test_activation_and_derivatives_in_the_strict_namespace_match_numpy(text):
    function = parse_function(text)
    z = np.linspace(-3.0, 3.0, 121)  # holds the kinks 0 and 1 exactly
    checked = 0
    for k in range(4):
        try:
            want = function.numpy(k)(z)
        except ConfigError:  # a jump: refused on numpy, so on every backend
            with pytest.raises(ConfigError, match="jump"):
                B.lambdify(function, k, xp)
            continue
        got = B.lambdify(function, k, xp)(B.asarray(z, xp))
        assert got.shape == z.shape
        np.testing.assert_allclose(B.to_numpy(got), want, rtol=RTOL, atol=1e-300)
        as32 = B.lambdify(function, k, xp)(B.asarray(z, xp, "float32"))
        assert as32.dtype == xp.float32 and as32.shape == z.shape
        checked += 1
    assert checked >= 2
    assert B.lambdify(function, 1, "numpy") is not None


def test_numpy_lambdify_is_the_reference_callable():
    function = parse_function("tanh(z + 1/2)")
    z = np.linspace(-2, 2, 7)
    assert np.array_equal(B.lambdify(function, 2)(z), function.numpy(2)(z))


@pytest.mark.parametrize("text", ["gelu", "erf(z)", "erfc(z/2) + z"])
def test_erf_on_strict_is_a_one_line_error_naming_function_and_backend(text):
    with pytest.raises(ConfigError) as err:
        B.lambdify(parse_function(text), 0, xp)
    message = str(err.value)
    assert "\n" not in message
    assert "erf" in message and STRICT in message


def test_core_refuses_erf_on_strict_before_drawing():
    with pytest.raises(ConfigError, match="has no erf"):
        core.build(_config("gelu", "reuse"), 40, 0, 1, backend=STRICT)


# -- the simulation ----------------------------------------------------------------------


@pytest.mark.parametrize("batch", ["reuse", "independent"])
@pytest.mark.parametrize("activation", ["tanh(z + 1/2)", "He3(z)/6"])
def test_trajectory_on_strict_matches_numpy(activation, batch):
    cfg = _config(activation, batch)
    steps = gd.default_steps(cfg)
    ref = gd.trajectory(cfg, N, SEED, steps, block_rows=40)
    got = gd.trajectory(cfg, N, SEED, steps, block_rows=40, backend=STRICT)
    count = 0
    for want, have in zip(ref, got, strict=True):
        assert have.t == want.t
        assert type(have.W).__module__.startswith("array_api_strict")
        _close(have.W, want.W)
        assert np.array_equal(have.a, want.a) and np.array_equal(have.beta, want.beta)
        if want.t:
            _close(have.update, want.update)
            _close(have.batch.X, want.batch.X, rtol=0)
            assert have.batch.index == want.batch.index
            np.testing.assert_allclose(have.u, want.u, rtol=RTOL, atol=1e-14)
            for key, value in want.stats.items():
                if not key.endswith("_s"):
                    assert have.stats[key] == pytest.approx(value, rel=RTOL, abs=1e-300), key
        count += 1
    assert count == 3


def test_trajectory_float32_on_strict_matches_numpy_to_float32_rounding():
    cfg = _config("tanh(z + 1/2)", "reuse")
    steps = gd.default_steps(cfg)
    # each W within the forward error bound of each entry of a float32 run (tests/_rounding.py)
    runs = zip(gd.trajectory(cfg, N, SEED, steps, dtype="float32"),
               gd.trajectory(cfg, N, SEED, steps, dtype="float32", backend=STRICT),
               R.trajectory(cfg, N, SEED, steps, "float32"), strict=True)
    for want, have, (bound, *_) in runs:
        assert have.W.dtype == xp.float32
        diff = np.abs(B.to_numpy(have.W).astype(np.float64) - want.W)
        assert np.all(diff <= 2 * bound.e)


def test_gradient_step_on_strict_fills_out_and_matches_both_loss_kinds():
    cfg = _config("tanh(z + 1/2)", "reuse")
    d, n = draws.dimensions(cfg, N)
    beta = draws.draw_beta(SEED, N, d)
    a = draws.draw_second_layer(cfg, SEED, N)
    W = draws.draw_first_layer(cfg, SEED, N, d, np.float64)
    batch = draws.draw_batch(cfg, SEED, N, 0, beta, np.float64)
    act = parse_function(cfg.activation)
    for loss in ("squared", "correlation"):
        G, res = gd.gradient_step(W, a, batch.X, batch.y, 0.7, act, loss=loss, block_rows=33)
        out = xp.zeros((N, d), dtype=xp.float64)
        G2, res2 = gd.gradient_step(B.asarray(W, xp), B.asarray(a, xp), B.asarray(batch.X, xp),
                                    batch.y, 0.7, act, loss=loss, block_rows=33, out=out)
        assert G2 is out
        _close(G2, G)
        for field in ("output", "residual", "u"):
            np.testing.assert_allclose(getattr(res2, field), getattr(res, field), rtol=RTOL,
                                       atol=1e-14)
        # a host X is moved one block at a time: the same numbers
        G3, _ = gd.gradient_step(B.asarray(W, xp), a, batch.X, batch.y, 0.7, act, loss=loss,
                                 block_rows=33)
        _close(G3, G)


def test_norm_and_nonfinite_fraction_on_strict():
    A = np.arange(12.0).reshape(4, 3)
    assert gd._frobenius(B.asarray(A, xp)) == pytest.approx(gd._frobenius(A), rel=1e-15)
    A[1, 2] = np.inf
    A[3, 0] = np.nan
    assert gd.nonfinite_fraction(B.asarray(A, xp)) == gd.nonfinite_fraction(A) == 2 / 12


@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_terms_and_projections_on_strict_match_numpy(batch):
    cfg = _config("tanh(z + 1/2)", batch)
    steps = gd.default_steps(cfg)
    eta1, eta2 = steps[0].eta(N), steps[1].eta(N)
    act = parse_function(cfg.activation)
    K = 3
    states = {}
    for name, backend in (("numpy", None), ("strict", STRICT)):
        run = gd.trajectory(cfg, N, SEED, steps, backend=backend)
        next(run)
        one = next(run)
        W1, step_one, a = B.to_numpy(one.W).copy(), B.to_numpy(one.update).copy(), one.a
        if batch == "reuse":
            X, y = one.batch.X, one.batch.y
        else:
            b2 = draws.draw_batch(cfg, SEED, N, 1, one.beta, np.float64)
            X, y = b2.X, b2.y   # host X: term_matrices moves it block by block
        tp = exact_terms.term_matrices(B.asarray(W1, B.namespace(backend)),
                                       B.asarray(step_one, B.namespace(backend)), eta1, a, X,
                                       y, act, K, rows=25)
        two = next(run)
        states[name] = (tp, two.update, one.beta, a)
    (tp, U, beta, a), (tp2, U2, _, _) = states["numpy"], states["strict"]
    assert len(tp2.D) == K + 1
    for Dk, Dk2 in zip(tp.D, tp2.D):
        _close(Dk2, Dk)
    assert tp2.p1.max == pytest.approx(tp.p1.max, rel=RTOL)
    # counts of |eta1 P1| above thresholds: equal, since no entry is within 7e-7 (relative) of
    # a threshold here, 1e8 times the float64 rounding of the two paths' products
    assert tp2.p1.fraction_above == tp.p1.fraction_above
    _close(U2, U)

    basis = directions.power_basis(a, 4)
    np.testing.assert_array_equal(directions.power_basis(B.asarray(a, xp), 4), basis)
    nulls = [directions.power_basis(draws.draw_second_layer(
        cfg, SEED, N, stream=draws.NULL, index=(i,)), 4) for i in range(2)]
    signal, null = directions.projections(U, basis, nulls)
    signal2, null2 = directions.projections(U2, basis, nulls)
    assert isinstance(signal2, np.ndarray) and isinstance(null2, np.ndarray)
    np.testing.assert_allclose(signal2, signal, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(null2, null, rtol=RTOL, atol=1e-14)
    amps, amps2 = directions.amplitudes(signal, null, beta), directions.amplitudes(
        signal2, null2, B.asarray(beta, xp))
    for entry, entry2 in zip(amps, amps2, strict=True):
        for key, value in entry.to_dict().items():
            assert getattr(entry2, key) == pytest.approx(value, rel=1e-10), key

    # the residual of the truncated series: U - sum_k eta2 eta1^k D_k, in place on both
    exact_terms.subtract_terms(U, tp.D, eta1, eta2)
    exact_terms.subtract_terms(U2, tp2.D, eta1, eta2)
    _close(U2, U, rtol=1e-10)  # a difference of nearly equal matrices: relative to the remainder


@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_core_on_strict_matches_numpy(batch):
    cfg = _config("tanh(z + 1/2)", batch)
    want = core.build(cfg, N, SEED, 2)
    have = core.build(cfg, N, SEED, 2, backend=STRICT)
    assert type(have.P0).__module__.startswith("array_api_strict")
    for Dk, Dk2 in zip(want.D, have.D, strict=True):
        _close(Dk2, Dk)
    for eta1, eta2 in ((0.5, 2.0), (3.0, 1.0)):
        _close(have.update(eta1, eta2), want.update(eta1, eta2))
        m, m2 = want.measure(eta1, eta2), have.measure(eta1, eta2)
        np.testing.assert_allclose(m2["update_singular_values"], m["update_singular_values"],
                                   rtol=RTOL)
        assert m2["series"].residual == pytest.approx(m["series"].residual, rel=1e-10)
        assert m2["series"].p1.max == pytest.approx(m["series"].p1.max, rel=RTOL)
        # equal counts: the nearest entry of eta1 |P1| is 1e-4 (relative) from a threshold
        assert m2["series"].p1.fraction_above == m["series"].p1.fraction_above
        assert m2["series"].converges == m["series"].converges


def test_a_blow_up_is_named_on_strict_as_on_numpy():
    # z**4 at alpha1 = 0.3, etabar 3 blows up at step 2 (docs/theory.md §7)
    cfg = ModelConfig(activation="z**4", target="He1", alpha1=0.3, alpha2=0.45, etabar1=3.0,
                      etabar2=3.0, batch="reuse")
    steps = gd.default_steps(cfg)
    messages = []
    for backend in (None, STRICT):
        with pytest.raises(NonFiniteError) as err:
            list(gd.trajectory(cfg, N, SEED, steps, backend=backend))
        messages.append(str(err.value).split(":")[0])
    assert messages[0] == messages[1]
