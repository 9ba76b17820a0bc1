"""The numpy kernels keep their digits: gradient_step, term_matrices, Core.update/measure,
subtract_terms, trajectory and top_singular against reference arrays that the code before
the one-kernel-per-computation refactor (issue 21, part 4) computed.

``tests/data/kernels_reference.npz`` was written by ``python tests/test_kernels_digits.py
--write`` on that code (commit "tests: numpy kernel reference digits"); rewrite it only when
a change of the numbers is intended. The cases are small (N = 64..200, d <= 64) so that the
file stays well under 300 kB. ``kernels_reference.json`` beside it is the fingerprint of the
machine that wrote it (:func:`platform`).

Every array is compared at the precision of its run's dtype (a float32 run's outputs are
float64 arrays computed in float32: float32's eps), against a bound derived from the
operation (``tests/_rounding.py``): each kernel is followed step by step with the forward error
bound of every sum (``gamma_k`` times the magnitudes of the summands, not of the result) and
elementwise function, so ``|got - want| <= 2 e`` for two correct runs of any BLAS in any order;
the top singular triplets by the a-posteriori bounds of their residuals (Kato-Temple, Davis-
Kahan), vectors up to their sign; the exceedance fractions up to the entries within rounding
of a threshold; iteration counts and residuals are not compared (a machine's rounding may
stop the iteration one check earlier). Bit for bit (``np.array_equal``) is asserted besides
only where the fingerprint of this machine is the reference's, exactly.

The bounds still catch a change of the formulas. Planted by hand, one at a time, a factor
``1 + 1e-5`` on the output of ``gd.gradient_step`` (15 arrays out of bounds),
``terms.term_matrices`` (6), ``core.Core.update`` (4), ``lanczos.top_singular``'s values (5)
or on sigma' inside every kernel (15) failed this test, through the float64 cases, whose
bounds sit near 1e-13 of the arrays' largest entries (1e-10 for the Lanczos values). The
float32 bounds (1e-5..1e-4 of the largest entries: worst-case sums of up to ~200 float32
terms) catch a factor ``1 + 1e-4`` in 4 arrays, ``1 + 1e-3`` in 7.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import _rounding as R
import numpy as np
import pytest

from twostep.simulate import core, draws, gd, lanczos
from twostep.simulate import terms as exact_terms
from twostep.theory import ModelConfig, parse_function

REFERENCE = Path(__file__).parent / "data" / "kernels_reference.npz"
FINGERPRINT = REFERENCE.with_suffix(".json")
SEED = 5


@dataclass
class Allowed:
    """The largest ``|got - want|`` of each entry (broadcast to the array), and the slices of
    the array that are singular vectors (compared up to their sign)."""

    tol: np.ndarray | float
    vectors: list = field(default_factory=list)


def _both(b: R.Bounded) -> Allowed:
    """Two runs, each within ``b.e`` of the exact result."""
    return Allowed(2 * b.e)


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


def _labels(cfg: ModelConfig, batch, beta, y=None) -> R.Bounded:
    return R.labels(batch.y if y is None else y, batch.X, beta, parse_function(cfg.target))


def _gradient_cases(out: dict, allowed: dict) -> None:
    act = parse_function("tanh(z + 1/2)")
    cfg = _config(psi_d=0.25)
    for dtype in ("float64", "float32"):
        a, W, b0, beta = _setup(cfg, 96, dtype)
        y = _labels(cfg, b0, beta)
        for loss in ("squared", "correlation"):
            # three blocks of 40, 40 and 16 rows, sub-blocks (SUB_BLOCK_BYTES, cases())
            key = f"gd/{dtype}/{loss}"
            G, res = gd.gradient_step(W, a, b0.X, b0.y, 0.7, act, loss=loss, block_rows=40)
            out[key + "/G"] = G.copy()
            for field_ in ("output", "residual", "u"):
                out[f"{key}/{field_}"] = getattr(res, field_)
            bound = R.gradient_step(R.Bounded.exact(W, R.unit(dtype)), a, b0.X, y, 0.7, act,
                                    loss=loss)
            for name, b in bound.items():
                allowed[f"{key}/{name}"] = _both(b)
    # a block with a non-finite residual is left out of the update, into a given `out`
    a, W, b0, beta = _setup(cfg, 64, "float64")
    y = b0.y.copy()
    y[30] = np.inf
    buffer = np.full(W.shape, 7.0)
    G, res = gd.gradient_step(W, a, b0.X, y, 0.7, act, block_rows=25, out=buffer)
    assert G is buffer
    out["gd/nonfinite/G"], out["gd/nonfinite/residual"] = G.copy(), res.residual
    keep = np.repeat([np.isfinite(y[i:i + 25]).all() for i in range(0, len(y), 25)], 25)
    bound = R.gradient_step(R.Bounded.exact(W, R.U64), a, b0.X, _labels(cfg, b0, beta, y), 0.7,
                            act, keep=keep[:len(y)])
    allowed["gd/nonfinite/G"] = _both(bound["G"])
    allowed["gd/nonfinite/residual"] = _both(bound["residual"])
    # the defaults (block rows, sub-blocks) at N = 200, a polynomial activation, float32
    cfg = _config("He3(z)/6", psi_d=0.125)
    a, W, b0, beta = _setup(cfg, 200, "float32")
    G, res = gd.gradient_step(W, a, b0.X, b0.y, 1.3, parse_function(cfg.activation))
    out["gd/default/G"], out["gd/default/u"] = G.copy(), res.u
    bound = R.gradient_step(R.Bounded.exact(W, R.unit("float32")), a, b0.X,
                            _labels(cfg, b0, beta), 1.3, parse_function(cfg.activation))
    allowed["gd/default/G"], allowed["gd/default/u"] = _both(bound["G"]), _both(bound["u"])


def _p1_allowed(E: R.Bounded) -> Allowed:
    """``[max |eta_1 P1|, fractions above P1_THRESHOLDS]``: the max moves by at most twice the
    largest entry error, each fraction by the entries within twice their error of the
    threshold."""
    slack = R.exceedance_slack(E.v, E.e, exact_terms.P1_THRESHOLDS.values())
    return Allowed(np.concatenate([[2 * np.max(E.e)], slack]))


def _term_cases(out: dict, allowed: dict) -> None:
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
            [tp.p1.max, *(e.fraction for e in tp.p1.fraction_above)])
        W0b = R.Bounded.exact(W0, R.unit(dtype))
        G0b = R.gradient_step(W0b, a, b0.X, _labels(cfg, b0, beta), 1.0, act, loss=loss)["G"]
        step_b = G0b * eta1
        D, E = R.term_matrices(W0b + step_b, step_b, eta1, a, b2.X, _labels(cfg, b2, beta),
                               act, K, loss=loss)
        for k in keep:
            allowed[f"terms/{dtype}/{loss}/D{k}"] = _both(D[k])
        allowed[f"terms/{dtype}/{loss}/p1"] = _p1_allowed(E)
        if loss == "squared" and dtype == "float64":
            U = np.random.default_rng(1).standard_normal(W0.shape)
            Ub = R.Bounded.exact(U, R.U64)
            exact_terms.subtract_terms(U, tp.D, eta1, 1.7)
            out["subtract/float64"] = U
            for k, Dk in enumerate(D):
                Ub = Ub - Dk * (1.7 * eta1**k)
            allowed["subtract/float64"] = _both(Ub)


def _measure_allowed(c: dict, eta1: float, eta2: float, top: int, u: float) -> Allowed:
    """:meth:`core.Core.measure`'s array: singular values (Weyl), the series residual, the
    term norms ``eta2 eta1^k ||D_k||``, and the exceedances of ``eta1 |P1|``."""
    U = R.update(c["P0"], c["P1"], c["a"], c["X"], c["y"], eta1, eta2, c["act"],
                 loss=c["loss"])
    e_values = R.top_singular_error(U)
    s1 = float(np.linalg.norm(U.v, 2))
    e_norms = [eta2 * eta1**k * R.top_singular_error(Dk) for k, Dk in enumerate(c["D"])]
    rest = U
    for k, Dk in enumerate(c["D"]):
        rest = rest - Dk * (eta2 * eta1**k)
    e_rest = R.top_singular_error(rest)
    relative = float(np.linalg.norm(rest.v, 2)) / s1
    e_relative = (e_rest + relative * e_values) / (s1 - e_values)
    E = c["P1"] * eta1
    p1 = _p1_allowed(R.Bounded(E.v, E.e + 2 * u * np.abs(E.v), u)).tol
    return Allowed(np.concatenate([[2 * e_values] * top, [2 * e_relative, 2 * e_rest],
                                   2 * np.array(e_norms), p1]))


def _core_cases(out: dict, allowed: dict) -> None:
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
            [*m["update_singular_values"], s.residual, s.residual_norm, *s.norms,
             s.p1.max, *(e.fraction for e in s.p1.fraction_above)])
        b = {**R.core(cfg, 64, SEED, 2, dtype), "loss": loss}
        allowed[key + "/U"] = _both(R.update(b["P0"], b["P1"], b["a"], b["X"], b["y"], 0.6,
                                             1.9, b["act"], loss=loss))
        allowed[key + "/measure"] = _measure_allowed(b, 2.0, 0.5, 3, R.unit(dtype))


def _step_stats(bound: dict, y: R.Bounded, eta: float, scale: float, d: int) -> dict:
    """Bounds of :func:`gd._guard`'s statistics and ``u_norm``: an rms or a norm moves by at
    most the rms or norm of the entry errors (the triangle inequality), plus the float64
    roundings of its sum (``gamma_{size+2}``); the ratio also by the relative error of its
    scale (``activation_scale``'s 80-node sum, ``max(rms(y), 1)``)."""
    def rms(b: R.Bounded) -> float:
        return float(np.sqrt(np.mean(b.e**2))
                     + R.gamma(b.v.size + 2, R.U64) * np.sqrt(np.mean(b.v**2)))

    def norm(b: R.Bounded) -> float:
        return float(np.linalg.norm(b.e) + R.gamma(b.v.size + 2, R.U64) * np.linalg.norm(b.v))

    G = bound["G"]
    e_norm = norm(G)
    target = float(np.sqrt(np.mean(y.v**2)))
    ratio = np.linalg.norm(G.v) / scale
    e_scale = R.gamma(100, R.U64) + (rms(y) / target if target > 1 else 0.0)
    return {"t": 0.0, "batch_index": 0.0, "eta": 2 * R.U64 * eta, "target_rms": rms(y),
            "output_rms": rms(bound["output"]), "residual_rms": rms(bound["residual"]),
            "update_norm": e_norm, "update_ratio": e_norm / scale + ratio * e_scale,
            "u_norm": norm(bound["u"])}


def _trajectory_bounds(cfg: ModelConfig, dtype: str, steps, keys: list) -> tuple:
    """The bounded W after the steps of :func:`gd.trajectory` and its statistics' bounds."""
    act = parse_function(cfg.activation)
    N = 80
    d, n = draws.dimensions(cfg, N)
    stats = []
    states = list(R.trajectory(cfg, N, SEED, steps, dtype))
    for _, bound, y, eta in states[1:]:
        scale = gd.update_scale(eta, gd.activation_scale(act),
                                float(np.sqrt(np.mean(y.v**2))), d, n)
        each = _step_stats(bound, y, eta, scale, d)
        stats += [2 * each[k] for k in keys]
    return states[-1][0], np.array(stats)


def _trajectory_cases(out: dict, allowed: dict) -> None:
    cfg = _config(psi_d=0.25, batch="independent")
    steps = gd.default_steps(cfg)
    for dtype in ("float64", "float32"):
        states = list(gd.trajectory(cfg, 80, SEED, steps, dtype=dtype, block_rows=30))
        last = states[-1]
        out[f"trajectory/{dtype}/W"] = last.W.copy()
        keys = sorted(k for k in last.stats if not k.endswith("_s"))
        out[f"trajectory/{dtype}/stats"] = np.array(
            [float(s.stats[k]) for s in states[1:] for k in keys])
        W, stats = _trajectory_bounds(cfg, dtype, steps, keys)
        allowed[f"trajectory/{dtype}/W"] = _both(W)
        allowed[f"trajectory/{dtype}/stats"] = Allowed(stats)


def _ritz(values, info, A: np.ndarray, u: float):
    return R.ritz_bounds(np.asarray(values), float(info[1]), float(np.linalg.norm(A)),
                         max(A.shape), u)


def _spectra_allowed(key: str, A: np.ndarray, u: float, what: str):
    """The a-posteriori bound (:func:`_rounding.ritz_bounds`) of one spectra array, from the
    residuals of both runs: ``stored, computed -> Allowed``."""
    def build(stored: dict, computed: dict) -> Allowed:
        both = []
        for arrays in (stored, computed):
            if what == "values":
                both.append(_ritz(arrays[key + "/values"], arrays[key + "/info"], A, u)[0])
            elif what == "right":
                both.append(_ritz(arrays[key + "/values"], arrays[key + "/info"], A, u)[1][:2])
            elif what == "warm":
                both.append(_ritz(arrays[key + "/warm"], arrays[key + "/warm_info"], A, u)[0])
            else:  # wide: 5 values, then the top left vector
                wide = arrays[key + "/wide"]
                values, vectors = _ritz(wide[:5], arrays[key + "/wide_info"], A, u)
                both.append(np.concatenate([values, np.full(wide.size - 5, vectors[0])]))
        tol = both[0] + both[1]
        if what == "right":
            return Allowed(tol.reshape(1, -1), [np.s_[:, 0], np.s_[:, 1]])
        return Allowed(tol, [np.s_[5:]] if what == "wide" else [])
    return build


def _spectra_cases(out: dict, allowed: dict) -> None:
    rng = np.random.default_rng(3)
    A = rng.standard_normal((300, 270)) / np.sqrt(270)
    A[:, 0] += 0.3  # an outlier
    B = A + 0.05 * rng.standard_normal(A.shape) / np.sqrt(270)
    for dtype in ("float64", "float32"):
        svd = lanczos.top_singular(A.astype(dtype), 12, np.random.default_rng(4))
        out[f"spectra/{dtype}/values"] = svd.values
        out[f"spectra/{dtype}/right"] = svd.right[:, :2]
        out[f"spectra/{dtype}/info"] = np.array([svd.iterations, svd.residual, svd.converged])
        # W_2 from W_1's triplets; the transpose takes the left side (d > N)
        warm = lanczos.top_singular(B.astype(dtype), 12, np.random.default_rng(5), start=svd)
        wide = lanczos.top_singular(B.T.astype(dtype), 5, np.random.default_rng(6),
                                    start=svd.right)
        out[f"spectra/{dtype}/warm"] = warm.values
        out[f"spectra/{dtype}/warm_info"] = np.array([warm.iterations, warm.residual])
        out[f"spectra/{dtype}/wide"] = np.concatenate([wide.values, wide.left[:, 0]])
        out[f"spectra/{dtype}/wide_info"] = np.array([wide.iterations, wide.residual])
        key, u = f"spectra/{dtype}", R.unit(dtype)
        A_, B_ = A.astype(dtype).astype(np.float64), B.astype(dtype).astype(np.float64)
        for what, matrix in (("values", A_), ("right", A_), ("warm", B_), ("wide", B_)):
            allowed[f"{key}/{what}"] = _spectra_allowed(key, matrix, u, what)
        # iteration counts and residuals depend on the rounding (a stop one check earlier or
        # later); converged is a verdict and must agree
        allowed[f"{key}/info"] = Allowed(np.array([np.inf, np.inf, 0.0]))
        allowed[f"{key}/warm_info"] = allowed[f"{key}/wide_info"] = Allowed(np.inf)


def cases() -> tuple[dict[str, np.ndarray], dict]:
    """Every reference array, by name (numpy backend, fixed seeds), on one BLAS thread (the
    threads' split of a product changes its last bits), and what each may differ by between
    machines (:class:`Allowed`, or a function ``(stored, computed) -> Allowed`` for the
    a-posteriori bounds)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _cases()


def _cases() -> tuple[dict[str, np.ndarray], dict]:
    out: dict = {}
    allowed: dict = {}
    saved = gd.SUB_BLOCK_BYTES
    gd.SUB_BLOCK_BYTES = 16 * 96 * 8   # sub-blocks of 16 (float64) or 32 rows at N = 96
    try:
        _gradient_cases(out, allowed)
    finally:
        gd.SUB_BLOCK_BYTES = saved
    _term_cases(out, allowed)
    _core_cases(out, allowed)
    _trajectory_cases(out, allowed)
    _spectra_cases(out, allowed)
    return {key: np.asarray(value) for key, value in out.items()}, allowed


def _cpu() -> str:
    """The CPU's model name (/proc/cpuinfo; else the platform module's)."""
    import platform as host

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{host.machine()} {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"{host.machine()} {host.processor()}"


def platform() -> dict[str, str]:
    """What the bits depend on: numpy, scipy, the BLAS libraries' kernels (threadpoolctl), the
    CPU, and the SIMD targets numpy dispatches to on it (its tanh, exp, ... loops)."""
    import scipy
    from numpy._core import _multiarray_umath as umath
    from threadpoolctl import threadpool_info

    blas = sorted(f"{i.get('internal_api')}:{i.get('version')}:{i.get('architecture')}"
                  for i in threadpool_info() if i.get("user_api") == "blas")
    simd = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
    return {"numpy": np.__version__, "scipy": scipy.__version__, "blas": ";".join(blas),
            "cpu": _cpu(), "simd": ",".join(umath.__cpu_baseline__ + simd)}


def _write() -> None:
    data, _ = cases()
    meta = platform()
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **data)
    FINGERPRINT.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{REFERENCE}: {len(data)} arrays, {REFERENCE.stat().st_size} bytes, {meta}")


@pytest.fixture(scope="module")
def reference():
    """The stored arrays (the ``platform/*`` entries of the npz are the part of the fingerprint
    the reference was written with; the whole of it is in FINGERPRINT)."""
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files if not key.startswith("platform/")}


@pytest.fixture(scope="module")
def computed():
    return cases()


def test_reference_file_is_small():
    assert REFERENCE.stat().st_size < 300_000


def test_the_fingerprint_is_the_reference_s():
    """The side file agrees with what the npz recorded when it was written."""
    meta = json.loads(FINGERPRINT.read_text())
    assert set(meta) == set(platform())
    with np.load(REFERENCE) as data:
        for key in (k for k in data.files if k.startswith("platform/")):
            assert str(data[key]) == meta[key.split("/", 1)[1]], key


def _excess(got: np.ndarray, want: np.ndarray, allowed: Allowed) -> float:
    """The largest ``|got - want| - tol`` over the finite entries (> 0: out of bounds)."""
    got = np.array(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    for part in allowed.vectors:  # a singular vector's sign is arbitrary
        if np.dot(got[part], want[part]) < 0:
            got[part] = -got[part]
    tol = np.broadcast_to(np.asarray(allowed.tol, dtype=np.float64), want.shape)
    finite = np.isfinite(want) & np.isfinite(tol)
    diff = np.abs(got[finite] - want[finite]) - tol[finite]
    return float(np.max(diff, initial=-np.inf))


def test_numpy_kernels_keep_their_digits(reference, computed):
    arrays, allowed = computed
    assert sorted(arrays) == sorted(reference) == sorted(allowed)
    same_platform = json.loads(FINGERPRINT.read_text()) == platform()
    for key, want in reference.items():
        got = arrays[key]
        assert got.shape == want.shape and got.dtype == want.dtype, key
        if same_platform:  # this machine wrote the reference: bit for bit
            assert np.array_equal(got, want, equal_nan=True), key
        assert np.array_equal(np.isfinite(got), np.isfinite(want)), key
        rule = allowed[key]
        rule = rule if isinstance(rule, Allowed) else rule(reference, arrays)
        tol = np.broadcast_to(np.asarray(rule.tol, dtype=np.float64), want.shape)
        # only the iteration counts and residuals go unchecked (an infinite bound)
        assert key.endswith("info") or np.all(np.isfinite(tol[np.isfinite(want)])), key
        excess = _excess(got, want, rule)
        assert excess <= 0, f"{key}: |got - want| exceeds its rounding bound by {excess:.3g}"


if __name__ == "__main__" and "--write" in sys.argv:
    _write()
