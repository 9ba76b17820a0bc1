"""The numpy kernels keep their digits: gradient_step, term_matrices, Core.update/measure,
subtract_terms, trajectory and top_singular against reference arrays that the code before
the one-kernel-per-computation refactor (issue 21, part 4) computed.

``tests/data/kernels_reference.npz`` was written by ``python tests/test_kernels_digits.py
--write`` on that code (commit "tests: numpy kernel reference digits"); rewrite it only when
a change of the numbers is intended. The cases are small (N = 64..200, d <= 64) so that the
file stays well under 300 kB.

Bit-for-bit (``np.array_equal``) holds where the reference was made: the same numpy and scipy
and the same OpenBLAS kernels (``threadpoolctl``'s architecture of each BLAS). Elsewhere BLAS
kernels of another CPU sum in another order, so the check is
``|got - want| <= 64 eps(dtype) n_sum max|want|`` with ``n_sum`` the longest sum behind an
entry (N + n + d): the rounding of dot products of that length, not a change of the formula.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from twostep.simulate import core, draws, gd, spectra
from twostep.simulate import terms as exact_terms
from twostep.theory import ModelConfig, parse_function

REFERENCE = Path(__file__).parent / "data" / "kernels_reference.npz"
SEED = 5


def _config(activation: str = "tanh(z + 1/2)", batch: str = "reuse", **kw) -> ModelConfig:
    return ModelConfig(activation=activation, target="He1", alpha1=0.3, alpha2=0.45,
                       batch=batch, **kw)


def _setup(cfg: ModelConfig, N: int, dtype: str, seed: int = SEED):
    d, n = draws.dimensions(cfg, N)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(cfg, seed, N)
    W = draws.draw_first_layer(cfg, seed, N, d, dtype)
    b0 = draws.draw_batch(cfg, seed, N, 0, beta, dtype)
    return a, W, b0, beta


def _gradient_cases(out: dict) -> None:
    act = parse_function("tanh(z + 1/2)")
    cfg = _config(psi_d=0.25)
    for dtype in ("float64", "float32"):
        a, W, b0, _ = _setup(cfg, 96, dtype)
        for loss in ("squared", "correlation"):
            # three blocks of 40, 40 and 16 rows, sub-blocks (SUB_BLOCK_BYTES, cases())
            key = f"gd/{dtype}/{loss}"
            G, res = gd.gradient_step(W, a, b0.X, b0.y, 0.7, act, loss=loss, block_rows=40)
            out[key + "/G"] = G.copy()
            for field in ("output", "residual", "u"):
                out[f"{key}/{field}"] = getattr(res, field)
    # a block with a non-finite residual is left out of the update, into a given `out`
    a, W, b0, _ = _setup(cfg, 64, "float64")
    y = b0.y.copy()
    y[30] = np.inf
    buffer = np.full(W.shape, 7.0)
    G, res = gd.gradient_step(W, a, b0.X, y, 0.7, act, block_rows=25, out=buffer)
    assert G is buffer
    out["gd/nonfinite/G"], out["gd/nonfinite/residual"] = G.copy(), res.residual
    # the defaults (block rows, sub-blocks) at N = 200, a polynomial activation, float32
    cfg = _config("He3(z)/6", psi_d=0.125)
    a, W, b0, _ = _setup(cfg, 200, "float32")
    G, res = gd.gradient_step(W, a, b0.X, b0.y, 1.3, parse_function(cfg.activation))
    out["gd/default/G"], out["gd/default/u"] = G.copy(), res.u


def _term_cases(out: dict) -> None:
    for dtype, K, loss, keep in (("float64", 3, "squared", (1, 3)),
                                 ("float32", 2, "squared", (2,)),
                                 ("float64", 2, "correlation", (1,))):
        cfg = _config(psi_d=0.5, loss=loss, batch="independent")
        act = parse_function(cfg.activation)
        a, W0, b0, beta = _setup(cfg, 64, dtype)
        b2 = draws.draw_batch(cfg, SEED, 64, 1, beta, dtype)
        G0, _ = gd.gradient_step(W0, a, b0.X, b0.y, 1.0, act, loss=loss)
        eta1 = 0.8
        step_one = (eta1 * G0).astype(dtype)
        tp = exact_terms.term_matrices(W0 + step_one, step_one, eta1, a, b2.X, b2.y, act, K,
                                       loss=loss, rows=23)
        for k in keep:
            out[f"terms/{dtype}/{loss}/D{k}"] = tp.D[k]
        out[f"terms/{dtype}/{loss}/p1"] = np.array(
            [tp.p1["max"], *tp.p1["fraction_above"].values()])
        if loss == "squared" and dtype == "float64":
            U = np.random.default_rng(1).standard_normal(W0.shape)
            exact_terms.subtract_terms(U, tp.D, eta1, 1.7)
            out["subtract/float64"] = U


def _core_cases(out: dict) -> None:
    for dtype, batch, loss in (("float64", "reuse", "squared"),
                               ("float32", "independent", "squared"),
                               ("float64", "reuse", "correlation")):
        cfg = _config(psi_d=0.5, batch=batch, loss=loss)
        c = core.build(cfg, 64, SEED, 2, dtype=dtype)
        key = f"core/{dtype}/{batch}/{loss}"
        out[key + "/U"] = c.update(0.6, 1.9)
        m = c.measure(2.0, 0.5, top=3)
        s = m["series"]
        out[key + "/measure"] = np.array(
            [*m["update_singular_values"], s["residual"], s["residual_norm"], *s["norms"],
             s["p1"]["max"], *s["p1"]["fraction_above"].values()])


def _trajectory_cases(out: dict) -> None:
    cfg = _config(psi_d=0.25, batch="independent")
    steps = gd.default_steps(cfg)
    for dtype in ("float64", "float32"):
        states = list(gd.trajectory(cfg, 80, SEED, steps, dtype=dtype, block_rows=30))
        last = states[-1]
        out[f"trajectory/{dtype}/W"] = last.W.copy()
        keys = sorted(k for k in last.stats if not k.endswith("_s"))
        out[f"trajectory/{dtype}/stats"] = np.array(
            [float(s.stats[k]) for s in states[1:] for k in keys])


def _spectra_cases(out: dict) -> None:
    rng = np.random.default_rng(3)
    A = rng.standard_normal((300, 270)) / np.sqrt(270)
    A[:, 0] += 0.3  # an outlier
    B = A + 0.05 * rng.standard_normal(A.shape) / np.sqrt(270)
    for dtype in ("float64", "float32"):
        svd = spectra.top_singular(A.astype(dtype), 12, np.random.default_rng(4))
        out[f"spectra/{dtype}/values"] = svd.values
        out[f"spectra/{dtype}/right"] = svd.right[:, :2]
        out[f"spectra/{dtype}/info"] = np.array([svd.iterations, svd.residual, svd.converged])
        # W_2 from W_1's triplets; the transpose takes the left side (d > N)
        warm = spectra.top_singular(B.astype(dtype), 12, np.random.default_rng(5), start=svd)
        wide = spectra.top_singular(B.T.astype(dtype), 5, np.random.default_rng(6),
                                    start=svd.right)
        out[f"spectra/{dtype}/warm"] = warm.values
        out[f"spectra/{dtype}/warm_info"] = np.array([warm.iterations, warm.residual])
        out[f"spectra/{dtype}/wide"] = np.concatenate([wide.values, wide.left[:, 0]])
        out[f"spectra/{dtype}/wide_info"] = np.array([wide.iterations, wide.residual])


def cases() -> dict[str, np.ndarray]:
    """Every reference array, by name (numpy backend, fixed seeds), on one BLAS thread (the
    threads' split of a product changes its last bits)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _cases()


def _cases() -> dict[str, np.ndarray]:
    out: dict = {}
    saved = gd.SUB_BLOCK_BYTES
    gd.SUB_BLOCK_BYTES = 16 * 96 * 8   # sub-blocks of 16 (float64) or 32 rows at N = 96
    try:
        _gradient_cases(out)
    finally:
        gd.SUB_BLOCK_BYTES = saved
    _term_cases(out)
    _core_cases(out)
    _trajectory_cases(out)
    _spectra_cases(out)
    return {key: np.asarray(value) for key, value in out.items()}


def platform() -> dict[str, str]:
    """What the bits depend on: numpy, scipy and the BLAS libraries' kernels."""
    import scipy
    from threadpoolctl import threadpool_info

    blas = sorted(f"{i.get('internal_api')}:{i.get('version')}:{i.get('architecture')}"
                  for i in threadpool_info() if i.get("user_api") == "blas")
    return {"numpy": np.__version__, "scipy": scipy.__version__, "blas": ";".join(blas)}


def _write() -> None:
    data = cases()
    meta = platform()
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **data, **{f"platform/{k}": np.array(v)
                                              for k, v in meta.items()})
    print(f"{REFERENCE}: {len(data)} arrays, {REFERENCE.stat().st_size} bytes, {meta}")


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def computed():
    return cases()


def test_reference_file_is_small():
    assert REFERENCE.stat().st_size < 300_000


def test_numpy_kernels_keep_their_digits(reference, computed):
    stored = {k: v for k, v in reference.items() if not k.startswith("platform/")}
    assert sorted(computed) == sorted(stored)
    same_platform = all(str(reference[f"platform/{k}"]) == v for k, v in platform().items())
    for key, want in stored.items():
        got = computed[key]
        assert got.shape == want.shape and got.dtype == want.dtype, key
        if same_platform:
            assert np.array_equal(got, want, equal_nan=True), key
            continue
        if key.endswith("info"):  # iteration counts and rounding-level residuals
            continue
        finite = np.isfinite(want)
        assert np.array_equal(np.isfinite(got), finite), key
        got, want = got[finite], want[finite]
        eps = float(np.finfo(want.dtype).eps)
        scale = float(np.max(np.abs(want), initial=0.0))
        # N + n + d <= 500 terms in the longest sum behind an entry (module docstring)
        assert np.max(np.abs(got - want), initial=0.0) <= 64 * eps * 500 * scale, key


if __name__ == "__main__" and "--write" in sys.argv:
    _write()
