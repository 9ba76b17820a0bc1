"""``run``: simulate the GD steps once and measure spectra and directions.

Everything a :class:`Measurement` holds is computed here from the pieces: :mod:`options` (what
to run and measure), :mod:`gd` (the steps), :mod:`spectra` (top triplets, bulk edge, outliers),
:mod:`directions` (powers of a, overlaps, amplitudes, null floors), :mod:`terms` (the exact
step-two terms) and :mod:`memory` (the refusal before allocating too much). :func:`run` reads as
its steps: plan (validate and refuse before any draw), draw, then per step the declared spectra,
the term pass and the features, then the last update, then the Measurement.
"""

from __future__ import annotations

import dataclasses
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twostep.simulate.options import Provenance
from twostep.theory import ConfigError, ModelConfig, parse_function
from twostep.theory.deprecation import moved_names
from twostep.theory.observables import (
    BetaLearning,
    ExactTerm,
    FeatureSpikes,
    Projection,
    Series,
    StepOneSpike,
    StepStats,
)
from twostep.theory.records import Histogram
from twostep.theory.spectra import FeatureSpectrum, Outlier, Spectra, Spectrum
from twostep.theory.steps import check_step_size

from . import backend as backends
from . import directions, draws, gd, lanczos, memory, spectra
from . import terms as exact_terms
from .gd import Step
from .inputs import check_inputs
from .measurement import Measurement, versions
from .options import RunOptions, SpectrumTime, Timing, check_integer

#: Full spectra (``spectrum=True``) refused above this max(N, d): dense SVD, ~1 min at 8000.
FULL_SPECTRUM_LIMIT = 8000
HISTOGRAM_BINS = 120


def _histogram(values: np.ndarray, spec: Spectrum) -> Histogram:
    """Histogram of the bulk: ``HISTOGRAM_BINS`` bins on [0, 1.5 x the larger edge]; the values
    above (the outliers, listed in ``spec.outliers``) are counted in ``above``."""
    edges = [e for e in (spec.bulk_edge, spec.bulk_edge_empirical) if e]
    # the update has no theoretical edge: fall back to the 10th largest value
    hi = 1.5 * max(edges) if edges else float(np.sort(values)[-min(10, values.size)])
    counts_, edges = np.histogram(values[values <= hi], bins=HISTOGRAM_BINS, range=(0.0, hi))
    return Histogram(counts=tuple(counts_.tolist()), edges=tuple(edges.tolist()),
                     above=int(np.count_nonzero(values > hi)))


def _svd_rng(seed: int, N: int, name: str) -> np.random.Generator:
    return draws.generator(seed, N, draws.SVD, zlib.crc32(name.encode()))


def _describe(svd: lanczos.TopSVD, top: int, *, theory_edge: float | None,
              theory_tw: float | None, kind: type[Spectrum] = Spectrum
              ) -> tuple[Spectrum, list[int]]:
    """The :class:`Spectrum` (without its outliers) and the outlier positions."""
    fit = spectra.fit_edge(svd.values)
    if fit.reliable:
        edge, margin, used = fit.edge, fit.margin, "empirical"
    elif theory_edge is not None:
        edge, margin, used = theory_edge, spectra.MARGIN * theory_tw, "theory"
    else:
        edge = margin = used = None
    positions = ([] if edge is None else
                 [int(j) for j in np.flatnonzero(svd.values > edge + margin)])
    spec = kind(
        singular_values=tuple(float(v) for v in svd.values[:top]), bulk_edge=theory_edge,
        bulk_edge_empirical=fit.edge, tracy_widom_scale=theory_tw, margin=margin,
        edge_used=used, edge_fit=fit, solver=svd.info(), computed=int(svd.values.size))
    return spec, positions


def _outliers(svd: lanczos.TopSVD, positions: list[int], edge: float, basis: np.ndarray | None,
              beta: np.ndarray | None) -> tuple[Outlier, ...]:
    out = []
    for j in positions:
        entry = Outlier(index=j, value=float(svd.values[j]), gap=float(svd.values[j] - edge))
        if basis is not None:
            overlaps = directions.left_overlaps(svd.left[:, j], basis)
            power = directions.identify(overlaps)
            entry = dataclasses.replace(
                entry, left_power=power, term=None if power is None else power - 1,
                left_overlaps=tuple(overlaps),
                right_beta_overlap=directions.squared_overlap(svd.right[:, j], beta))
        out.append(entry)
    return tuple(out)


def _edge_used(spec: Spectrum) -> float | None:
    if spec.edge_used == "empirical":
        return spec.bulk_edge_empirical
    if spec.edge_used == "theory":
        return spec.bulk_edge
    return None


def _feature_matrix(config: ModelConfig, seed: int, N: int, n: int, d: int, W: np.ndarray,
                    out: np.ndarray | None) -> np.ndarray:
    """``F = sigma(X W^T) / sqrt(n)`` on the fresh features batch (its own stream),
    drawn chunk by chunk so X is never held whole."""
    sigma = parse_function(config.activation).numpy()
    W = backends.to_numpy(W)  # the feature matrix is built on the host (numpy)
    F = np.empty((n, N), dtype=W.dtype) if out is None else out
    scale = 1.0 / math.sqrt(n)
    for start, chunk, _ in draws.draw_inputs(seed, N, n, d, draws.FEATURES, 0):
        block = chunk.astype(W.dtype) @ W.T
        F[start:start + len(chunk)] = sigma(block) * np.asarray(scale, dtype=W.dtype)
    return F


def _feature_spectrum(F: np.ndarray, m: int, top: int, rng: np.random.Generator
                      ) -> tuple[FeatureSpectrum, lanczos.TopSVD]:
    svd = lanczos.top_singular(F, m, rng)
    spec, positions = _describe(svd, top, theory_edge=None, theory_tw=None,
                                kind=FeatureSpectrum)
    # values above the edge + margin
    return dataclasses.replace(spec, edge_outliers=len(positions)), svd


def run(config: ModelConfig, N: int, seed: int = 0, *, steps: Sequence[Step] | None = None,
        options: RunOptions | None = None, **fields: Any) -> Measurement:
    """Simulate the GD steps of docs/model.md once and measure the result.

    ``options`` is a :class:`RunOptions`; its fields may also be given as keywords
    (``run(config, N, seed, dtype="float32", terms=3)``), which replace those of
    ``options``. ``steps`` defaults to the config's two steps (:func:`gd.default_steps`).

    Measured, in order: the spectra named by ``options.spectra`` (default: all) of
    ``W_1..W_T`` and of ``update = W_T - W_{T-1}``: top ``top`` singular values
    (``max(top, 10) + EXTRA`` are computed for the bulk-edge fit), outliers with their
    left-vector identification (``left_power`` m when the left vector follows ``q_m``, the
    Gram-Schmidt of ``a^{o m}``) and beta_* overlap; ``step_one_spike`` (W_1's top triplet,
    needs W_1's spectrum); ``amplitudes`` of the update on ``q_1..q_max_power`` with null
    floors from ``null_draws`` independent second layers; ``features`` (feature-matrix
    spikes, Moniri-Lee-Hassani-Dobriban 2023) when asked. With ``terms=K`` (two-step runs,
    smooth activations) the exact term decomposition ``T_0..T_K`` of the update
    (:mod:`terms`): per term its top singular values and vectors' overlaps, the projected
    amplitude ``||T_k^T q_{k+1}||`` with its null floor and beta_* overlap and the leakage
    ``||T_m^T q_{k+1}||`` of every term m (``terms``), and the series diagnostics
    (``series``: relative residual, operator norms and their ratios, ``eta_1 |P1|``
    statistics). All overlaps are squared cosines in [0, 1]. Fields whose spectrum was not
    computed are None (``outliers``, ``visible_new_outliers``, ``bulk_edge_empirical``,
    ``step_one_spike``).

    Raises ConfigError for bad options or when the estimated peak memory
    exceeds what is available (unless ``allow_memory``), NonFiniteError on
    NaN/Inf or a blow-up (naming the step).
    """
    clock0 = time.perf_counter()
    plan = plan_run(config, N, seed, steps, _options(options, fields))
    tally = _Tally()
    trajectory = gd.trajectory(config, plan.N, plan.seed, plan.steps, dtype=plan.dtype,
                               block_rows=plan.rows, backend=plan.options.backend)
    clock = time.perf_counter()
    initial = next(trajectory)
    a, beta = initial.a, initial.beta
    tally.timing["draws_s"] += time.perf_counter() - clock
    bases = _bases(plan, tally, a)
    if plan.options.features:
        _features_before(plan, tally, initial.W)
    del initial

    term_pass = None
    for state in trajectory:
        tally.timing["draws_s"] += state.stats["draw_s"]
        tally.timing["steps_s"] += state.stats["step_s"]
        tally.dynamics.append(StepStats(**{k: v for k, v in state.stats.items()
                                           if not k.endswith("_s")}))
        _measure_weights(plan, tally, state, bases, beta)
        if state.t == 1 and plan.K:
            clock = time.perf_counter()
            term_pass = _term_pass(plan, state)
            tally.timing["terms_s"] = time.perf_counter() - clock
        if state.t == 1 and plan.options.features:
            _features_after(plan, tally, state.W)
        if state.t == plan.T:
            _measure_update(plan, tally, state, bases, beta, term_pass)
            term_pass = None
        del state
    tally.timing["total_s"] = time.perf_counter() - clock0
    return _measurement(plan, tally)


def _options(options: RunOptions | None, fields: dict[str, Any]) -> RunOptions:
    if options is not None and not isinstance(options, RunOptions):
        raise ConfigError(f"options must be a RunOptions, got {type(options).__name__}")
    base = RunOptions() if options is None else options
    if not fields:
        return base
    unknown = sorted(set(fields) - set(RunOptions.fields()))
    if unknown:
        raise TypeError(f"run() got unexpected keyword argument(s) {', '.join(unknown)}")
    return base.replace(**fields)


@dataclass(frozen=True)
class _Plan:
    """A validated run: everything fixed before the first draw."""

    config: ModelConfig
    N: int
    seed: int
    d: int
    n: int
    steps: tuple[Step, ...]
    options: RunOptions
    dtype: np.dtype
    max_power: int
    rows: int
    estimate: dict
    computed: int            # singular values computed per spectrum
    theory_edge: float
    theory_tw: float

    @property
    def T(self) -> int:
        return len(self.steps)

    @property
    def K(self) -> int:
        return self.options.terms


def plan_run(config: ModelConfig, N: int, seed: int, steps: Sequence[Step] | None,
             opts: RunOptions) -> _Plan:
    """Validate the run and refuse it (one line) before anything is drawn."""
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config must be a ModelConfig, got {type(config).__name__}")
    N = check_integer("N", N, 2, 10**12)
    seed = draws.check_seed(seed)
    run_dtype = draws.check_dtype(opts.dtype)
    steps = check_inputs(config, opts, steps)
    for t, step in enumerate(steps, 1):  # the one bound of the theory, before any draw
        check_step_size(t, step.etabar, step.alpha, N)
    d, n = draws.dimensions(config, N)
    max_power = max(opts.max_power, opts.terms + 1) if opts.terms else opts.max_power
    spectra.check_width(N, d, opts.top, config.psi_d)
    if opts.spectrum and max(N, d) > FULL_SPECTRUM_LIMIT:
        raise ConfigError(f"spectrum=True needs max(N, d) <= {FULL_SPECTRUM_LIMIT} "
                          f"(dense SVD), got N={N}, d={d}")
    rows = (gd.default_block_rows(N, n, run_dtype) if opts.block_rows is None
            else min(opts.block_rows, n))
    estimate = memory.estimate_peak(N, d, n, run_dtype.itemsize, block_rows=rows,
                                    top=opts.top, spectrum=opts.spectrum,
                                    features=opts.features, terms=opts.terms)
    memory.check(estimate, allow=opts.allow_memory,
                 what=f"N={N}, d={d}, n={n} in {run_dtype.name}")
    return _Plan(config=config, N=N, seed=seed, d=d, n=n, steps=steps, options=opts,
                 dtype=run_dtype, max_power=max_power, rows=rows, estimate=estimate,
                 computed=spectra.computed_count(opts.top),
                 theory_edge=spectra.bulk_edge_theory(N, d),
                 theory_tw=spectra.tracy_widom_scale(N, d))


@dataclass
class _Tally:
    """What the steps of a run have measured so far."""

    spectra: list[Spectrum] = field(default_factory=list)  # named, in the order computed
    counts: dict[int, int] = field(default_factory=lambda: {0: 0})  # W_0: a pure bulk
    dynamics: list[StepStats] = field(default_factory=list)
    step_one_spike: StepOneSpike | None = None
    amplitudes: tuple[Projection, ...] = ()
    learned: BetaLearning | None = None
    terms: tuple[ExactTerm, ...] | None = None
    series: Series | None = None
    features: FeatureSpikes | None = None
    feature_matrix: np.ndarray | None = None
    f0: FeatureSpectrum | None = None
    # the seconds so far, by Timing field (and by spectrum): the Timing is made at the end
    timing: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("draws_s", "steps_s", "spectra_s", "directions_s", "features_s"), 0.0))
    spectrum_s: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Bases:
    """``q_1..q_K`` (the Gram-Schmidt of the powers of a) and the null draws' bases."""

    signal: np.ndarray
    nulls: list[np.ndarray]


def _bases(plan: _Plan, tally: _Tally, a: np.ndarray) -> _Bases:
    clock = time.perf_counter()
    basis = directions.power_basis(a, plan.max_power)
    nulls = [directions.power_basis(
        draws.draw_second_layer(plan.config, plan.seed, plan.N, stream=draws.NULL, index=(i,)),
        plan.max_power) for i in range(plan.options.null_draws)]
    tally.timing["directions_s"] += time.perf_counter() - clock
    return _Bases(basis, nulls)


def _spectrum(plan: _Plan, tally: _Tally, name: str, A: np.ndarray, bases: _Bases,
              beta: np.ndarray, *, theory: bool, step: int
              ) -> tuple[Spectrum, lanczos.TopSVD, list[int]]:
    """The top-k spectrum of ``A``, the matrix ``name`` of GD step ``step``."""
    clock = time.perf_counter()
    svd = lanczos.top_singular(A, plan.computed, _svd_rng(plan.seed, plan.N, name))
    spec, positions = _describe(svd, plan.options.top,
                                theory_edge=plan.theory_edge if theory else None,
                                theory_tw=plan.theory_tw if theory else None)
    tally.spectrum_s[name] = time.perf_counter() - clock
    spec = dataclasses.replace(
        spec, outliers=_outliers(svd, positions, _edge_used(spec), bases.signal, beta),
        step=step, name=name)
    if plan.options.spectrum:
        values = spectra.full_spectrum(backends.to_numpy(A))
        spec = dataclasses.replace(spec, values=values, histogram=_histogram(values, spec))
    tally.spectra.append(spec)
    tally.timing["spectra_s"] += time.perf_counter() - clock
    return spec, svd, positions


def _measure_weights(plan: _Plan, tally: _Tally, state: gd.State, bases: _Bases,
                     beta: np.ndarray) -> None:
    """W_t's spectrum and outliers (when declared) and, after step one, ``step_one_spike``."""
    name = f"W{state.t}"
    if not plan.options.wants(name):
        return
    _, svd, positions = _spectrum(plan, tally, name, state.W, bases, beta, theory=True,
                                  step=state.t)
    tally.counts[state.t] = len(positions)
    if state.t == 1:
        clock = time.perf_counter()
        tally.step_one_spike = StepOneSpike(
            value=float(svd.values[0]),
            right_beta_overlap=directions.squared_overlap(svd.right[:, 0], beta),
            right_u_overlap=directions.squared_overlap(svd.right[:, 0], state.u),
            left_a_overlap=directions.squared_overlap(svd.left[:, 0], state.a),
            u_norm=float(np.linalg.norm(backends.to_numpy(state.u))))
        tally.timing["spectra_s"] += time.perf_counter() - clock


def _features_before(plan: _Plan, tally: _Tally, W0: np.ndarray) -> None:
    clock = time.perf_counter()
    F = _feature_matrix(plan.config, plan.seed, plan.N, plan.n, plan.d, W0, None)
    tally.f0, _ = _feature_spectrum(F, plan.computed, plan.options.top,
                                    _svd_rng(plan.seed, plan.N, "F0"))
    tally.feature_matrix = F
    tally.timing["features_s"] += time.perf_counter() - clock


def _features_after(plan: _Plan, tally: _Tally, W1: np.ndarray) -> None:
    clock = time.perf_counter()
    F = _feature_matrix(plan.config, plan.seed, plan.N, plan.n, plan.d, W1,
                        tally.feature_matrix)
    tally.feature_matrix = None
    f0 = tally.f0
    f1, _ = _feature_spectrum(F, plan.computed, plan.options.top,
                              _svd_rng(plan.seed, plan.N, "F1"))
    del F
    threshold = None if f0.edge_used is None else f0.bulk_edge_empirical + f0.margin
    above = new = None
    if threshold is not None:
        above = sum(v > threshold for v in f1.singular_values)
        new = above - sum(v > threshold for v in f0.singular_values)
    tally.features = FeatureSpikes(
        F0=f0, F1=f1, threshold=threshold, spike_count=new, above_threshold=above,
        definition="F = sigma(X W^T)/sqrt(n) on a fresh batch, at W_0 (F0) and W_1 "
                   "(F1); threshold = F0's empirical bulk edge + margin; "
                   "above_threshold = F1's singular values above it; spike_count = "
                   "that minus F0's own values above it (spikes made by step one)")
    tally.timing["features_s"] += time.perf_counter() - clock


def _measure_update(plan: _Plan, tally: _Tally, state: gd.State, bases: _Bases,
                    beta: np.ndarray, term_pass: exact_terms.TermPass | None) -> None:
    """The last update: its spectrum (when declared), amplitudes, the beta_* direction and,
    with terms, the exact terms and the series residual (which overwrites the update)."""
    update_norm = None
    if plan.options.wants("update"):
        _, usvd, _ = _spectrum(plan, tally, "update", state.update, bases, beta, theory=False,
                               step=plan.T)
        update_norm = float(usvd.values[0])
    clock = time.perf_counter()
    signal, nulls = directions.projections(state.update, bases.signal, bases.nulls)
    tally.amplitudes = tuple(directions.amplitudes(signal, nulls, beta))
    tally.learned = directions.learned_beta(signal, nulls, beta)
    tally.timing["directions_s"] += time.perf_counter() - clock
    if term_pass is None:
        return
    clock = time.perf_counter()
    if update_norm is None:  # the series residual is relative to ||update||
        update_norm = float(lanczos.top_singular(
            state.update, 1, _svd_rng(plan.seed, plan.N, "update")).values[0])
    tally.terms, tally.series = _term_results(
        term_pass, state.update, update_norm, plan.steps[1].eta(plan.N), bases.signal,
        bases.nulls, beta, plan.seed, plan.N, state.a)
    tally.timing["terms_s"] += time.perf_counter() - clock


def _measurement(plan: _Plan, tally: _Tally) -> Measurement:
    T = plan.T
    measured = Spectra(tuple(tally.spectra))
    last = measured.get(f"W{T}")
    counts = tally.counts
    opts = plan.options
    provenance = Provenance(
        steps=plan.steps, max_power=plan.max_power,
        block_rows=plan.rows, extra=spectra.EXTRA, edge_margin_kappa=spectra.MARGIN,
        memory_estimate_bytes=int(plan.estimate["total"]),
        identify_rule=f"largest squared overlap >= {directions.IDENTIFY_MIN} and >= "
                      f"{directions.IDENTIFY_RATIO:g}x the second")
    return Measurement(
        config=plan.config, N=plan.N, d=plan.d, n=plan.n, seed=plan.seed,
        options=opts, provenance=provenance, versions=versions(),
        timing=Timing(**tally.timing, spectrum_s=tuple(
            SpectrumTime(name=k, seconds=v) for k, v in tally.spectrum_s.items())),
        spectra=measured, outliers=None if last is None else last.outliers,
        bulk_edge=plan.theory_edge,
        bulk_edge_empirical=None if last is None else last.bulk_edge_empirical,
        visible_new_outliers=(counts[T] - counts[T - 1] if T in counts and T - 1 in counts
                              else None),
        amplitudes=tally.amplitudes, step_one_spike=tally.step_one_spike, features=tally.features,
        dynamics=tally.dynamics, beta=tally.learned, terms=tally.terms,
        series=tally.series)


#: Top singular values computed per exact term.
TERM_TOP = 3


def _term_pass(plan: _Plan, state: gd.State) -> exact_terms.TermPass:
    """``D_0..D_K`` from the state after step one (W_1 and its update ``eta_1 G_0``) and the
    step-two batch: the same batch on reuse, else batch 1 (drawn as the trajectory draws it)."""
    config = plan.config
    if plan.steps[1].batch == "reuse":
        batch = state.batch
    else:
        batch = draws.draw_batch(config, plan.seed, plan.N, 1, state.beta, plan.dtype)
    activation = parse_function(config.activation)
    with np.errstate(over="ignore", invalid="ignore"):
        return exact_terms.term_matrices(state.W, state.update, plan.steps[0].eta(plan.N),
                                         state.a, batch.X, batch.y, activation, plan.K,
                                         loss=config.loss)


def _term_results(tp: exact_terms.TermPass, update: np.ndarray, update_norm: float, eta2: float,
                  basis: np.ndarray, null_bases: list[np.ndarray], beta: np.ndarray, seed: int,
                  N: int, a: np.ndarray) -> tuple[tuple[ExactTerm, ...], Series]:
    """Per-term statistics of ``T_k = eta_2 eta_1^k D_k`` and the series diagnostics; the
    residual is formed in place in ``update`` (not used afterwards)."""
    K = len(tp.D) - 1
    scales = [eta2 * tp.eta1**k for k in range(K + 1)]
    projected = []   # per term m: (signal d x Kb, nulls) of T_m
    out = []
    norms = []
    for k, Dk in enumerate(tp.D):
        svd = lanczos.top_singular(Dk, TERM_TOP, _svd_rng(seed, N, f"T{k}"))
        signal, nulls = directions.projections(Dk, basis, null_bases)
        signal = signal * scales[k]
        nulls = None if nulls is None else nulls * scales[k]
        projected.append(signal)
        amp = directions.amplitudes(signal, nulls, beta)[k]
        coherent, coherent_se = (None, None) if np.isnan(basis[0, k]) else \
            directions.coherent_part(Dk, basis[:, k], signal[:, k] / scales[k])
        values = [float(v) * scales[k] for v in svd.values[:TERM_TOP]]
        norms.append(values[0])
        out.append(ExactTerm(
            **dataclasses.asdict(amp),
            singular_values=tuple(values),
            left_overlap=directions.squared_overlap(svd.left[:, 0], basis[:, k])
            if not np.isnan(basis[0, k]) else None,
            right_beta_overlap=directions.squared_overlap(svd.right[:, 0], beta),
            coherent_sq=None if coherent is None else coherent * scales[k] ** 2,
            coherent_sq_se=None if coherent_se is None else coherent_se * scales[k] ** 2,
            # the signed beta_* component of T_k^T q_{k+1}: no extra product
            beta_component=None if np.isnan(basis[0, k]) else float(beta @ signal[:, k]),
            left_weight=None if coherent is None else directions.left_weight(a, basis[:, k],
                                                                            k + 1)))
    out = [dataclasses.replace(entry, leakage=tuple(
        None if np.isnan(projected[m][0, k]) else float(np.linalg.norm(projected[m][:, k]))
        for m in range(K + 1))) for k, entry in enumerate(out)]
    exact_terms.subtract_terms(update, tp.D, tp.eta1, eta2)
    rsvd = lanczos.top_singular(update, 1, _svd_rng(seed, N, "series-residual"))
    return tuple(out), exact_terms.series(update_norm, float(rsvd.values[0]), norms, tp.eta1, eta2,
                                   tp.p1, K)


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {"CHECK_GRID": "twostep.simulate.inputs"})
