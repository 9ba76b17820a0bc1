"""``run``: simulate the GD steps once and measure spectra and directions.

Everything a :class:`Measurement` holds is computed here from the pieces:
:mod:`gd` (the steps), :mod:`spectra` (top triplets, bulk edge, outliers),
:mod:`directions` (powers of a, overlaps, amplitudes, null floors) and
:mod:`memory` (the refusal before allocating too much).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence

import numpy as np

from twostep.theory import ConfigError, ModelConfig, parse_function

from . import directions, draws, gd, memory, spectra
from . import terms as exact_terms
from .gd import Step
from .measurement import Measurement, versions

#: Full spectra (``spectrum=True``) are refused above this max(N, d): the
#: dense SVD is O(N^3) (about a minute at 8000 on two cores).
FULL_SPECTRUM_LIMIT = 8000
MAX_POWER_LIMIT = 12
HISTOGRAM_BINS = 120


def _histogram(values: np.ndarray, spec: dict) -> dict:
    """Histogram of the bulk: ``HISTOGRAM_BINS`` bins on [0, 1.5 x the larger edge]; the values
    above (the outliers, listed in ``spec["outliers"]``) are counted in ``above``."""
    edges = [e for e in (spec.get("bulk_edge"), spec.get("bulk_edge_empirical")) if e]
    # the update has no theoretical edge: fall back to the 10th largest value
    hi = 1.5 * max(edges) if edges else float(np.sort(values)[-min(10, values.size)])
    counts_, edges = np.histogram(values[values <= hi], bins=HISTOGRAM_BINS, range=(0.0, hi))
    return {"counts": counts_.tolist(), "edges": edges.tolist(),
            "above": int(np.count_nonzero(values > hi))}


def _integer(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name} must be {bounds}, got {value!r}")
    return int(value)


def _svd_rng(seed: int, N: int, name: str) -> np.random.Generator:
    return draws.generator(seed, N, draws.SVD, zlib.crc32(name.encode()))


def _describe(svd: spectra.TopSVD, top: int, *, theory_edge: float | None,
              theory_tw: float | None) -> tuple[dict, list[int]]:
    """The Spectrum dict (without outlier annotations) and the outlier positions."""
    fit = spectra.fit_edge(svd.values)
    if fit.reliable:
        edge, margin, used = fit.edge, fit.margin, "empirical"
    elif theory_edge is not None:
        edge, margin, used = theory_edge, spectra.MARGIN * theory_tw, "theory"
    else:
        edge = margin = used = None
    positions = ([] if edge is None else
                 [int(j) for j in np.flatnonzero(svd.values > edge + margin)])
    spec = {
        "singular_values": [float(v) for v in svd.values[:top]],
        "bulk_edge": theory_edge,
        "bulk_edge_empirical": fit.edge,
        "tracy_widom_scale": theory_tw,
        "margin": margin,
        "edge_used": used,
        "edge_fit": fit.to_dict(),
        "solver": svd.info(),
        "computed": int(svd.values.size),
    }
    return spec, positions


def _outliers(svd: spectra.TopSVD, positions: list[int], edge: float, basis: np.ndarray | None,
              beta: np.ndarray | None) -> list[dict]:
    out = []
    for j in positions:
        entry = {"index": j, "value": float(svd.values[j]), "gap": float(svd.values[j] - edge)}
        if basis is not None:
            overlaps = directions.left_overlaps(svd.left[:, j], basis)
            power = directions.identify(overlaps)
            entry.update({
                "left_power": power, "term": None if power is None else power - 1,
                "left_overlaps": overlaps,
                "beta_overlap": directions.squared_overlap(svd.right[:, j], beta)})
        out.append(entry)
    return out


def _edge_used(spec: dict) -> float | None:
    if spec["edge_used"] == "empirical":
        return spec["bulk_edge_empirical"]
    if spec["edge_used"] == "theory":
        return spec["bulk_edge"]
    return None


def _feature_matrix(config: ModelConfig, seed: int, N: int, n: int, d: int, W: np.ndarray,
                    out: np.ndarray | None) -> np.ndarray:
    """``F = sigma(X W^T) / sqrt(n)`` on the fresh features batch (its own stream),
    drawn chunk by chunk so X is never held whole."""
    sigma = parse_function(config.activation).numpy()
    F = np.empty((n, N), dtype=W.dtype) if out is None else out
    scale = 1.0 / math.sqrt(n)
    for start, chunk, _ in draws.draw_inputs(seed, N, n, d, draws.FEATURES, 0):
        block = chunk.astype(W.dtype) @ W.T
        F[start:start + len(chunk)] = sigma(block) * np.asarray(scale, dtype=W.dtype)
    return F


def _feature_spectrum(F: np.ndarray, m: int, top: int, rng: np.random.Generator
                      ) -> tuple[dict, spectra.TopSVD]:
    svd = spectra.top_singular(F, m, rng)
    spec, positions = _describe(svd, top, theory_edge=None, theory_tw=None)
    spec["outlier_count"] = len(positions)
    return spec, svd


def run(config: ModelConfig, N: int, seed: int = 0, *, steps: Sequence[Step] | None = None,
        dtype: str = "float64", top: int = 10, max_power: int = 4, spectrum: bool = False,
        features: bool = False, null_draws: int = 4, allow_memory: bool = False,
        block_rows: int | None = None, terms: int = 0) -> Measurement:
    """Simulate the GD steps of docs/model.md once and measure the result.

    ``steps`` defaults to the config's two steps (:func:`gd.default_steps`).
    Spectra of ``W_1..W_T`` and of ``update = W_T - W_{T-1}``: top ``top``
    singular values (``max(top, 10) + EXTRA`` are computed for the bulk-edge fit),
    outliers with their left-vector identification (``left_power`` m when
    the left vector follows ``q_m``, the Gram-Schmidt of ``a^{o m}``) and
    beta_* overlap; ``amplitudes`` of the update on ``q_1..q_max_power``
    with null floors from ``null_draws`` independent second layers;
    ``step_one`` (BBP quantities of W_1); ``features`` (feature-matrix
    spikes, Moniri-Lee-Hassani-Dobriban 2023) when asked. With ``terms=K`` (two-step
    runs, smooth activations) the exact term decomposition ``T_0..T_K`` of the update
    (:mod:`terms`): per term its top singular values and vectors' overlaps, the projected
    amplitude ``||T_k^T q_{k+1}||`` with its null floor and beta_* overlap and the leakage
    ``||T_m^T q_{k+1}||`` of every term m (``terms``), and the series diagnostics
    (``series``: relative residual, operator norms and their ratios, ``eta_1 |P1|``
    statistics). All overlaps are squared cosines in [0, 1].

    Raises ConfigError for bad options or when the estimated peak memory
    exceeds what is available (unless ``allow_memory``), NonFiniteError on
    NaN/Inf or a blow-up (naming the step).
    """
    clock0 = time.perf_counter()
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config must be a ModelConfig, got {type(config).__name__}")
    N = _integer("N", N, 2, 10**12)
    seed = draws.check_seed(seed)
    run_dtype = draws.check_dtype(dtype)
    top = _integer("top", top, 1)
    max_power = _integer("max_power", max_power, 1, MAX_POWER_LIMIT)
    null_draws = _integer("null_draws", null_draws, 0)
    K = exact_terms.check_terms(terms)
    for name, flag in (("spectrum", spectrum), ("features", features),
                       ("allow_memory", allow_memory)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ConfigError(f"{name} must be True or False, got {flag!r}")
    steps = gd.default_steps(config) if steps is None else gd.check_steps(steps)
    d, n = draws.dimensions(config, N)
    if K:
        if len(steps) != 2:
            raise ConfigError(f"terms=K decomposes a two-step update; these steps have "
                              f"{len(steps)} step(s)")
        exact_terms.check_smooth(parse_function(config.activation))
        max_power = max(max_power, K + 1)
        if K + 1 > MAX_POWER_LIMIT:
            raise ConfigError(f"terms must be <= {MAX_POWER_LIMIT - 1} (q_(K+1) is needed)")
    spectra.check_width(N, d, top, config.psi_d)
    parse_function(config.activation).numpy(1)  # refuses activations with a jump before drawing
    if spectrum and max(N, d) > FULL_SPECTRUM_LIMIT:
        raise ConfigError(f"spectrum=True needs max(N, d) <= {FULL_SPECTRUM_LIMIT} "
                          f"(dense SVD), got N={N}, d={d}")
    rows = (gd.default_block_rows(N, n, run_dtype) if block_rows is None
            else min(_integer("block_rows", block_rows, 1), n))
    estimate = memory.estimate_peak(N, d, n, run_dtype.itemsize, block_rows=rows, top=top,
                                    spectrum=spectrum, features=features, terms=K)
    memory.check(estimate, allow=allow_memory,
                 what=f"N={N}, d={d}, n={n} in {run_dtype.name}")

    T = len(steps)
    m = spectra.computed_count(top)
    theory_edge = spectra.bulk_edge_theory(N, d)
    theory_tw = spectra.tracy_widom_scale(N, d)
    timing: dict = {"draws_s": 0.0, "steps_s": 0.0, "spectra_s": 0.0, "directions_s": 0.0,
                    "features_s": 0.0, "spectrum_s": {}}

    clock = time.perf_counter()
    trajectory = gd.trajectory(config, N, seed, steps, dtype=run_dtype, block_rows=rows)
    initial = next(trajectory)
    a, beta = initial.a, initial.beta
    timing["draws_s"] += time.perf_counter() - clock

    clock = time.perf_counter()
    basis = directions.power_basis(a, max_power)
    null_bases = [directions.power_basis(
        draws.draw_second_layer(config, seed, N, stream=draws.NULL, index=(i,)), max_power)
        for i in range(null_draws)]
    timing["directions_s"] += time.perf_counter() - clock

    feature_result = None
    F = None
    if features:
        clock = time.perf_counter()
        F = _feature_matrix(config, seed, N, n, d, initial.W, None)
        f0, _ = _feature_spectrum(F, m, top, _svd_rng(seed, N, "F0"))
        timing["features_s"] += time.perf_counter() - clock
    del initial

    spectra_out: dict[str, dict] = {}
    counts = {0: 0}  # W_0 is a pure bulk: no outliers
    dynamics = []
    step_one: dict = {}
    amplitude_list: list[dict] = []
    learned: dict | None = None
    term_pass: exact_terms.TermPass | None = None
    term_results: list[dict] | None = None
    series: dict | None = None
    for state in trajectory:
        t = state.t
        timing["draws_s"] += state.stats["draw_s"]
        timing["steps_s"] += state.stats["step_s"]
        dynamics.append({k: v for k, v in state.stats.items() if not k.endswith("_s")})

        clock = time.perf_counter()
        name = f"W{t}"
        svd = spectra.top_singular(state.W, m, _svd_rng(seed, N, name))
        spec, positions = _describe(svd, top, theory_edge=theory_edge, theory_tw=theory_tw)
        timing["spectrum_s"][name] = time.perf_counter() - clock
        spec["outliers"] = _outliers(svd, positions, _edge_used(spec), basis, beta)
        if spectrum:
            values = spectra.full_spectrum(state.W)
            spec["values"] = values
            spec["histogram"] = _histogram(values, spec)
        spectra_out[name] = spec
        counts[t] = len(positions)
        if t == 1:
            step_one = {
                "outlier": float(svd.values[0]),
                "overlap_beta": directions.squared_overlap(svd.right[:, 0], beta),
                "overlap_right": directions.squared_overlap(svd.right[:, 0], state.u),
                "overlap_left": directions.squared_overlap(svd.left[:, 0], a),
                "u_norm": float(np.linalg.norm(state.u)),
            }
        timing["spectra_s"] += time.perf_counter() - clock

        if t == 1 and K:
            clock = time.perf_counter()
            term_pass = _term_pass(config, seed, N, steps, state, K, run_dtype)
            timing["terms_s"] = time.perf_counter() - clock

        if t == 1 and features:
            clock = time.perf_counter()
            F = _feature_matrix(config, seed, N, n, d, state.W, F)
            f1, _ = _feature_spectrum(F, m, top, _svd_rng(seed, N, "F1"))
            F = None
            threshold = (None if f0["edge_used"] is None
                         else f0["bulk_edge_empirical"] + f0["margin"])
            above = new = None
            if threshold is not None:
                above = sum(v > threshold for v in f1["singular_values"])
                new = above - sum(v > threshold for v in f0["singular_values"])
            feature_result = {
                "F0": f0, "F1": f1, "threshold": threshold, "spike_count": new,
                "above_threshold": above,
                "definition": "F = sigma(X W^T)/sqrt(n) on a fresh batch, at W_0 (F0) and W_1 "
                              "(F1); threshold = F0's empirical bulk edge + margin; "
                              "above_threshold = F1's singular values above it; spike_count = "
                              "that minus F0's own values above it (spikes made by step one)"}
            timing["features_s"] += time.perf_counter() - clock

        if t == T:
            clock = time.perf_counter()
            usvd = spectra.top_singular(state.update, m, _svd_rng(seed, N, "update"))
            uspec, upos = _describe(usvd, top, theory_edge=None, theory_tw=None)
            timing["spectrum_s"]["update"] = time.perf_counter() - clock
            uspec["outliers"] = _outliers(usvd, upos, _edge_used(uspec), basis, beta)
            if spectrum:
                values = spectra.full_spectrum(state.update)
                uspec["values"] = values
                uspec["histogram"] = _histogram(values, uspec)
            spectra_out["update"] = uspec
            timing["spectra_s"] += time.perf_counter() - clock
            clock = time.perf_counter()
            signal, nulls = directions.projections(state.update, basis, null_bases)
            amplitude_list = directions.amplitudes(signal, nulls, beta)
            learned = directions.learned_beta(signal, nulls, beta)
            timing["directions_s"] += time.perf_counter() - clock
            if term_pass is not None:
                clock = time.perf_counter()
                term_results, series = _term_results(
                    term_pass, state.update, float(usvd.values[0]), steps[1].eta(N), basis,
                    null_bases, beta, seed, N)
                term_pass = None
                timing["terms_s"] += time.perf_counter() - clock
        del state

    last = spectra_out[f"W{T}"]
    timing["total_s"] = time.perf_counter() - clock0
    options = {
        "dtype": run_dtype.name, "steps": [s.to_dict() for s in steps], "top": top,
        "max_power": max_power, "spectrum": bool(spectrum), "features": bool(features),
        "null_draws": null_draws, "allow_memory": bool(allow_memory), "block_rows": rows,
        "terms": K,
        "extra": spectra.EXTRA, "edge_margin_kappa": spectra.MARGIN,
        "memory_estimate_bytes": int(estimate["total"]),
        "identify_rule": f"largest squared overlap >= {directions.IDENTIFY_MIN} and >= "
                         f"{directions.IDENTIFY_RATIO:g}x the second",
    }
    return Measurement(
        config=config.to_dict(), N=N, d=d, n=n, seed=seed, options=options,
        versions=versions(), timing=timing, spectra=spectra_out, outliers=last["outliers"],
        bulk_edge=theory_edge, bulk_edge_empirical=last["bulk_edge_empirical"],
        outlier_count=counts[T] - counts[T - 1], amplitudes=amplitude_list, step_one=step_one,
        features=feature_result, dynamics=dynamics, learned_beta=learned, terms=term_results,
        series=series)


#: Top singular values computed per exact term.
TERM_TOP = 3


def _term_pass(config: ModelConfig, seed: int, N: int, steps: Sequence[Step],
               state: gd.State, K: int, dtype: np.dtype) -> exact_terms.TermPass:
    """``D_0..D_K`` from the state after step one (W_1 and its update ``eta_1 G_0``) and the
    step-two batch: the same batch on reuse, else batch 1 (drawn as the trajectory draws it)."""
    if steps[1].batch == "reuse":
        batch = state.batch
    else:
        batch = draws.draw_batch(config, seed, N, 1, state.beta, dtype)
    activation = parse_function(config.activation)
    with np.errstate(over="ignore", invalid="ignore"):
        return exact_terms.term_matrices(state.W, state.update, steps[0].eta(N), state.a,
                                         batch.X, batch.y, activation, K, loss=config.loss)


def _term_results(tp: exact_terms.TermPass, update: np.ndarray, update_norm: float, eta2: float,
                  basis: np.ndarray, null_bases: list[np.ndarray], beta: np.ndarray, seed: int,
                  N: int) -> tuple[list[dict], dict]:
    """Per-term statistics of ``T_k = eta_2 eta_1^k D_k`` and the series diagnostics; the
    residual is formed in place in ``update`` (not used afterwards)."""
    K = len(tp.D) - 1
    scales = [eta2 * tp.eta1**k for k in range(K + 1)]
    projected = []   # per term m: (signal d x Kb, nulls) of T_m
    out = []
    norms = []
    for k, Dk in enumerate(tp.D):
        svd = spectra.top_singular(Dk, TERM_TOP, _svd_rng(seed, N, f"T{k}"))
        signal, nulls = directions.projections(Dk, basis, null_bases)
        signal = signal * scales[k]
        nulls = None if nulls is None else nulls * scales[k]
        projected.append(signal)
        amp = directions.amplitudes(signal, nulls, beta)[k]
        values = [float(v) * scales[k] for v in svd.values[:TERM_TOP]]
        norms.append(values[0])
        out.append({
            **amp,
            "singular_values": values,
            "left_overlap": directions.squared_overlap(svd.left[:, 0], basis[:, k])
            if not np.isnan(basis[0, k]) else None,
            "right_beta_overlap": directions.squared_overlap(svd.right[:, 0], beta),
        })
    for k, entry in enumerate(out):
        entry["leakage"] = [None if np.isnan(projected[m][0, k]) else
                            float(np.linalg.norm(projected[m][:, k])) for m in range(K + 1)]
    exact_terms.subtract_terms(update, tp.D, tp.eta1, eta2)
    rsvd = spectra.top_singular(update, 1, _svd_rng(seed, N, "series-residual"))
    return out, exact_terms.series(update_norm, float(rsvd.values[0]), norms, tp.eta1, eta2,
                                   tp.p1, K)
