"""Calibration of every built-in decision rule: type I, false acceptance and power, measured by
resampling the default design from a pool of seeds (docs/results.md, "Calibration").

One command::

    python benchmarks/calibrate.py --store benchmarks/out/calibration.sqlite \\
        --figure docs/figures/calibration.png

builds the pool store (or reuses the cells it already holds: an interrupted build resumes),
resamples the default design (4 seeds per N, drawn without replacement within N from the pool)
``--resamples`` times, evaluates each rule on its true claim and on planted false ones, prints
the Markdown tables and writes the power-curve figure.  ``--quick`` is a smoke run (small pool,
few resamples).  Cells run one at a time in this process (``jobs=1``): the machine is shared.

The resampling code (:func:`resample_rates`) is what ``tests/test_calibration.py`` runs on a
small pooled fixture.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twostep.compare.execution.store import Cell, Store
from twostep.compare.execution.sweep import run_sweep
from twostep.compare.science.claims.base import Claim
from twostep.compare.science.claims.results import Results, decide_all
from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

SHIFTED = "tanh(z + 1/2)"
NS = (250, 500, 1000, 2000)


@dataclass(frozen=True)
class Setup:
    """One pooled configuration: ``seeds`` seeds at each width of ``Ns`` with run ``options``
    (each config of ``configs`` is simulated: a reuse-gap setup has two batch modes)."""

    name: str
    configs: tuple[ModelConfig, ...]
    seeds: int
    options: Mapping[str, Any]
    Ns: tuple[int, ...] = NS
    label: str = ""

    def cells(self) -> list[Cell]:
        return [Cell(cfg, N, s, dict(self.options)) for N in self.Ns for s in range(self.seeds)
                for cfg in self.configs]


COUNT = ModelConfig(activation=SHIFTED, target="He1", alpha1=0.32, alpha2=0.45, etabar1=0.1,
                    batch="reuse")
INDEPENDENT = ModelConfig(activation=SHIFTED, target="He1", alpha1=0.2, alpha2=0.45,
                          etabar1=0.2, batch="independent")
BBP_CONFIG = ModelConfig(activation="tanh", target="He1", alpha1=0.0, alpha2=0.2, etabar1=3.0,
                         batch="independent")
#: outlier-locations where the theory puts term 1 out of the bulk at N = 4000 (2.016, edge 2)
LOCATIONS = INDEPENDENT.replace(etabar1=1.0)
#: reuse-learning on He_3 above the line alpha2 = 2 (1/2 - alpha1): e_2 = 0.25, the reused batch
#: learns beta_* through term 2, the independent batch does not
LEARNING = ModelConfig(activation="tanh", target="He3", alpha1=0.4, alpha2=0.45, etabar1=0.003,
                       batch="reuse")


def setups(scale: float = 1.0) -> dict[str, Setup]:
    """The pooled setups; ``scale`` multiplies the seeds per N (``--quick``: fewer)."""
    def n(s: int) -> int:
        return max(4, int(round(s * scale)))

    exact = {"dtype": "float32", "terms": 3, "max_power": 4, "spectra": ()}
    return {
        # the count configuration: exact terms only; 4 null draws so reuse-gap's null is real
        "count": Setup("count", (COUNT, COUNT.replace(batch="independent")), n(32),
                       {**exact, "null_draws": 4},
                       label="tanh(z+1/2) / He1, alpha = (0.32, 0.45), etabar1 = 0.1, reuse "
                             "(and its independent twin for reuse-gap)"),
        "independent": Setup("independent", (INDEPENDENT,), n(16),
                             {**exact, "null_draws": 4, "spectra": ("W1", "W2")},
                             label="tanh(z+1/2) / He1, alpha = (0.2, 0.45), etabar1 = 0.2, "
                                   "independent"),
        "learning": Setup("learning", (LEARNING, LEARNING.replace(batch="independent")), n(16),
                          {**exact, "null_draws": 0},
                          label="tanh / He3, alpha = (0.4, 0.45), etabar1 = 0.003, reuse and "
                                "independent"),
        # outlier-locations where term 1 leaves the bulk (near N = 1700 at etabar1 = 1): the
        # location findings are formed at N = 2000, 4000 (the independent setup has none)
        "locations": Setup("locations", (LOCATIONS,), n(16),
                           {**exact, "null_draws": 0, "spectra": ("W1", "W2")},
                           Ns=(500, 1000, 2000, 4000),
                           label="tanh(z+1/2) / He1, alpha = (0.2, 0.45), etabar1 = 1, "
                                 "independent"),
        "bbp": Setup("bbp", (BBP_CONFIG,), n(32),
                     {"dtype": "float32", "terms": 0, "null_draws": 0, "spectra": ("W1",)},
                     label="tanh / He1, alpha = (0, 0.2), etabar1 = 3, independent"),
    }


# -- the pool ------------------------------------------------------------------------------------

Pool = dict[tuple[str, int], dict[int, Measurement]]   # (config key, N) -> seed -> measurement


def build_pool(store_path: str | Path, chosen: Mapping[str, Setup], *, quiet: bool = False,
               jobs: int = 1) -> tuple[Pool, float]:
    """Simulate the setups' cells not yet in the store (one at a time, or ``jobs`` worker
    processes), then read them.  Returns the pool and the CPU seconds the cells took (their
    stored timing)."""
    cells = [c for s in chosen.values() for c in s.cells()]
    with Store(store_path) as store:
        sweep = run_sweep(cells, store, executor="inline" if jobs == 1 else "process",
                          jobs=jobs, quiet=quiet)
        if sweep.failed:
            cell, err = sweep.failed[0]
            raise ConfigError(f"{len(sweep.failed)} pool cell(s) failed; first "
                              f"{cell.describe()}: {err.splitlines()[0] if err else ''}")
        wanted = {c.key(store.version): c for c in cells}
        pool: Pool = defaultdict(dict)
        seconds = 0.0
        for cell, result in store.results():
            c = wanted.get(cell.key(store.version))
            if c is None:
                continue
            m = Measurement.from_dict(result)
            pool[(c.config.key(), c.N)][c.seed] = m
            seconds += float(m.timing.total_s or 0.0)
    return dict(pool), seconds


# -- planted claims ------------------------------------------------------------------------------

def _shifted_pred(pred: Any, shift: float) -> Any:
    """``pred`` with every term's exponent moved by ``shift`` (a planted exponent error)."""
    from types import SimpleNamespace

    terms = [SimpleNamespace(k=t.k, exponent=t.exponent + shift,
                             exponent_exact=f"{t.exponent + shift:.4g}")
             for t in pred.laws]
    return SimpleNamespace(laws=terms)


@dataclass
class PlantedTermExponent(Claim):
    """``term-exponent`` with every predicted exponent moved by ``shift``: the built-in claim's
    own findings (the coherent rule, :func:`growth._exact_term_findings`) on a shifted
    prediction."""

    name: str = "term-exponent"
    shift: float = 0.0
    terms: tuple[int, ...] | None = None

    def findings(self, config: ModelConfig, results: Results) -> list:
        from twostep.compare.science.claims import growth
        from twostep.compare.science.claims.rules import measured_regime
        from twostep.theory.predict import predict

        base = growth.TermExponent(terms=self.terms)
        pred = predict(config)
        regime = measured_regime(results, config)
        if regime.blocked is not None:
            return base.findings(config, results)
        return list(growth._exact_term_findings(base.name, config, results,
                                                _shifted_pred(pred, self.shift),
                                                base._ks(pred), base.tolerance,
                                                regime).values())


@dataclass
class PlantedGrowthExponent(Claim):
    """``growth-exponent`` (the exponent rule on the floor-corrected projections, with the
    term-share guard) against ``e_k + shift``."""

    name: str = "growth-exponent"
    shift: float = 0.0

    def findings(self, config: ModelConfig, results: Results) -> list:
        from twostep.compare.science.claims.base import _amp, _per_N
        from twostep.compare.science.claims.growth import GrowthExponent
        from twostep.compare.science.claims.rules import (
            exponent_finding,
            measured_regime,
            term_share,
        )
        from twostep.theory.predict import predict

        base = GrowthExponent()
        pred = predict(config)
        ks = tuple(t.k for t in pred.laws if t.present and t.growth != "vanishing")
        regime = measured_regime(results, config)
        out = []
        for k in ks:
            t = pred.law(k)
            raw = _per_N(results, config, lambda m, k=k: _amp(m, k).amplitude, self.name)
            flo = _per_N(results, config, lambda m, k=k: _amp(m, k).null_floor, self.name)
            out.append(exponent_finding(
                self.name, f"term k={k} (a^{k + 1}), e_k={t.exponent_exact}", config,
                t.exponent + self.shift, base.tolerance, raw=raw, floor=flo,
                regime=term_share(results, config, k, regime),
                taylor=pred.taylor_parameter(max(raw))))
        return out


@dataclass
class PlantedBBP(Claim):
    """``bbp`` with the predicted location and both overlaps multiplied by ``factor``."""

    name: str = "bbp"
    factor: float = 1.0
    #: None: the built-in claim's
    overlap_tolerance: float | None = None

    def findings(self, config: ModelConfig, results: Results) -> list:
        from twostep.compare.science.claims.base import _per_N
        from twostep.compare.science.claims.bbp import BBP
        from twostep.compare.science.claims.rules import limit_finding
        from twostep.theory.predict import predict

        base = BBP()
        pred = predict(config)
        f = self.factor
        loc = f * float(base.location(pred))
        otol = (base.overlap_tolerance if self.overlap_tolerance is None
                else self.overlap_tolerance)

        def values(get: Callable[[Measurement], float]) -> dict[int, list[float]]:
            return _per_N(results, config, get, self.name)

        return [
            limit_finding(self.name, "outlier location", config,
                          values(lambda m: m.step_one_spike.value), loc,
                          base.location_tolerance * loc),
            limit_finding(self.name, "squared overlap right vector / beta_*", config,
                          values(lambda m: m.step_one_spike.right_beta_overlap),
                          f * pred.bbp.right_beta_overlap, otol),
            limit_finding(self.name, "squared overlap left vector / a", config,
                          values(lambda m: m.step_one_spike.left_a_overlap),
                          f * pred.bbp.left_a_overlap, otol),
        ]


# -- the cases -----------------------------------------------------------------------------------

EXPONENT_ERRORS = (-0.3, -0.2, -0.1, -0.05, 0.05, 0.1, 0.2, 0.3)
CONSTANT_ERRORS = (-0.3, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.3)


@dataclass(frozen=True)
class Case:
    """One claim evaluated on each resample: ``rule`` (the table's row group), ``kind``
    (``exponent``, ``constant``, ``count``, ``direction``), the planted ``error`` (0: the true
    claim), the claim and the configuration it is checked on (a setup's first config)."""

    rule: str
    kind: str
    error: float
    claim: Claim
    config: ModelConfig
    setup: str


def cases(chosen: Mapping[str, Setup], *, exponent_errors: Sequence[float] = EXPONENT_ERRORS,
          constant_errors: Sequence[float] = CONSTANT_ERRORS) -> list[Case]:
    """Every rule's true claim and its planted false ones, on the setups that carry them."""
    from twostep.compare.science.claims import (
        OutlierCount,
        OutlierLocations,
        ReuseLearning,
        TermAmplitudeClaim,
    )
    from twostep.compare.science.claims.reuse import ReuseGap
    from twostep.theory.predict import predict

    out: list[Case] = []
    if "count" in chosen:
        for e in (0.0, *exponent_errors):
            out.append(Case("term-exponent", "exponent", e, PlantedTermExponent(shift=e), COUNT,
                            "count"))
        # the true count as a claimed count (the paper's, 2): one finding, the same decision
        # as the built-in paper-count finding; planted: one fewer, one more
        true = predict(COUNT).paper_count
        for c in (true, true - 1, true + 1):
            out.append(Case("outlier-count", "count", c - true,
                            OutlierCount(claimed=c, visible=False), COUNT, "count"))
        out.append(Case("reuse-gap", "direction", 0.0, ReuseGap(), COUNT, "count"))
        for claimed in ({"reuse": True, "independent": False},
                        {"reuse": False, "independent": True}):
            err = -1.0 if not claimed["reuse"] else 1.0
            out.append(Case("reuse-gap", "direction", err, ReuseGap(claimed=claimed), COUNT,
                            "count"))
        # He_1 (j_* = 1): term 0 carries beta_* and grows in both modes
        for err, claimed in ((0.0, None), (-1.0, {"reuse": False, "independent": True}),
                             (1.0, {"reuse": True, "independent": False})):
            out.append(Case("reuse-learning", "direction", err, ReuseLearning(claimed=claimed),
                            COUNT, "count"))
    if "learning" in chosen:
        # He_3 above the line: reuse learns through term 2, independent does not
        for err, claimed in ((0.0, None), (-1.0, {"reuse": False, "independent": False}),
                             (1.0, {"reuse": True, "independent": True})):
            out.append(Case("reuse-learning", "direction", err, ReuseLearning(claimed=claimed),
                            LEARNING, "learning"))
    if "independent" in chosen:
        for e in (0.0, *exponent_errors):
            out.append(Case("growth-exponent", "exponent", e, PlantedGrowthExponent(shift=e),
                            INDEPENDENT, "independent"))
        for e in (0.0, *constant_errors):
            # term 2 too, which the built-in claim leaves out by default: its rates say why
            out.append(Case("term-amplitude", "constant", e,
                            TermAmplitudeClaim(terms=(0, 1, 2), factor=1 + e),
                            INDEPENDENT, "independent"))
            out.append(Case("outlier-locations", "constant", e, OutlierLocations(factor=1 + e),
                            INDEPENDENT, "independent"))
    if "locations" in chosen:
        for e in (0.0, *constant_errors):
            out.append(Case("outlier-locations", "constant", e, OutlierLocations(factor=1 + e),
                            LOCATIONS, "locations"))
    if "bbp" in chosen:
        for e in (0.0, *constant_errors):
            out.append(Case("bbp", "constant", e, PlantedBBP(factor=1 + e), BBP_CONFIG, "bbp"))
    return out


# -- resampling ----------------------------------------------------------------------------------

def draw(pool: Pool, chosen: Mapping[str, Setup], rng: np.random.Generator, per_N: int
         ) -> dict[str, Results]:
    """One resample of the default design: ``per_N`` seeds drawn without replacement within
    each N from the pool, the same seeds for every config of a setup (a reuse-gap setup's two
    batch modes share their draw, as the default design's seeds do)."""
    out = {}
    for name, s in chosen.items():
        res = Results()
        for N in s.Ns:
            seeds = sorted(set.intersection(*(set(pool.get((c.key(), N), {}))
                                              for c in s.configs)))
            if len(seeds) < per_N:
                raise ConfigError(f"setup {name!r} has {len(seeds)} pooled seeds at N = {N}; "
                                  f"the design draws {per_N}")
            for seed in rng.choice(seeds, size=per_N, replace=False):
                for c in s.configs:
                    res.add(c, N, int(seed), pool[(c.key(), N)][int(seed)])
        out[name] = res
    return out


@dataclass
class Tally:
    """Statuses of one (rule, subject, planted error) over the resamples.  Every resample
    counts in ``n``: an undecided verdict (``inconclusive``, or ``blocked``: the regime guard
    kept every width from deciding) is in the denominator of the error rates and in no
    numerator; the tables show the two together as ``inconclusive`` (:meth:`undecided`), as
    before ``blocked`` was reported apart."""

    counts: dict[str, int] = field(default_factory=lambda: {"consistent": 0, "inconsistent": 0,
                                                             "inconclusive": 0, "blocked": 0})

    def add(self, status: str) -> None:
        self.counts[str(status)] += 1

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def rate(self, status: str) -> float:
        return self.counts[status] / self.n if self.n else math.nan

    def undecided(self) -> float:
        """The share of resamples no verdict decided: inconclusive or blocked."""
        return self.rate("inconclusive") + self.rate("blocked") if self.n else math.nan


def _subject(rule: str, subject: str) -> str:
    """A verdict's subject with the planted claim's own wording taken out (the row key)."""
    if rule == "outlier-count":
        return "count of new outliers"
    return subject.split(", e_k=")[0]


def resample_rates(pool: Pool, chosen: Mapping[str, Setup], the_cases: Sequence[Case], *,
                   resamples: int, per_N: int = 4, seed: int = 0,
                   progress: Callable[[int], None] | None = None
                   ) -> dict[tuple[str, str, float], Tally]:
    """Evaluate every case on ``resamples`` draws of the design (:func:`draw`); each claim's
    findings are decided on their own (BH over that claim's tests only).  Returns the status
    counts per (rule, subject, planted error).  A planted claim's finding is counted only where
    the plant changed that finding's prediction or statistic (a flipped independent batch says
    nothing about the reuse finding; a location factor on a term the theory puts inside the
    bulk plants nothing): the true claims of the same rule and setup are evaluated first."""
    from twostep.compare.science.claims import amplitude

    rng = np.random.default_rng(seed)
    tallies: dict[tuple[str, str, float], Tally] = defaultdict(Tally)
    setups_of: dict[str, set[str]] = defaultdict(set)   # a rule on several setups: one row each
    for case in the_cases:
        setups_of[case.rule].add(case.setup)
    # the finite-N predictions depend on (config, terms, N) only, not on the draw: computed
    # once (sympy, about 0.3 s a call) instead of once per resample; the rules are unchanged
    original = amplitude._predicted_terms
    cache: dict[tuple, Any] = {}

    def predicted_terms(config: ModelConfig, ks: Sequence[int], Ns: Sequence[int]) -> Any:
        key = (config.key(), tuple(ks), tuple(Ns))
        if key not in cache:
            cache[key] = original(config, ks, Ns)
        return cache[key]

    amplitude._predicted_terms = predicted_terms
    try:
        for r in range(resamples):
            results = draw(pool, chosen, rng, per_N)
            truth: dict[tuple[str, str, str], Any] = {}
            for case in sorted(the_cases, key=lambda c: c.error != 0.0):
                for v in decide_all(case.claim.findings(case.config, results[case.setup])):
                    subj = _subject(case.rule, v.subject) + (
                        f" ({case.setup})" if len(setups_of[case.rule]) > 1 else "")
                    key = (case.rule, case.setup, subj)
                    if case.error == 0.0:
                        truth[key] = _fingerprint(v)
                    elif key in truth and all(_same(a, b) for a, b in
                                              zip(truth[key], _fingerprint(v))):
                        continue
                    tallies[(case.rule, subj, case.error)].add(v.status)
            if progress is not None:
                progress(r + 1)
    finally:
        amplitude._predicted_terms = original
    return dict(tallies)


def _fingerprint(v: Any) -> tuple[Any, Any, tuple, str]:
    """What a plant can change in a verdict: its prediction, its statistic, the per-N
    predictions of its evidence table (a prediction that depends on N is only there) and its
    reason (which widths decided, and why)."""
    rows = getattr(v.evidence, "rows", ()) or ()
    return (v.predicted, v.statistic,
            tuple(r.get("predicted") if isinstance(r, Mapping) else None for r in rows),
            v.reason)


def _same(a: Any, b: Any) -> bool:
    """Whether two findings' values are equal, NaN equal to NaN (False where they cannot be
    compared: the finding then counts as changed)."""
    try:
        if isinstance(a, Mapping) or isinstance(b, Mapping):
            return a == b
        if isinstance(a, tuple) and isinstance(b, tuple):
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
        if a is None or b is None:
            return a is b
        return bool(np.array_equal(np.asarray(a, float), np.asarray(b, float), equal_nan=True))
    except (TypeError, ValueError):
        return a == b if isinstance(a, str) and isinstance(b, str) else False


def binomial_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion k/n."""
    from scipy import stats as st

    if n == 0:
        return (math.nan, math.nan)
    ci = st.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return (float(ci.low), float(ci.high))


# -- report --------------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100 * x:.0f}%"


def _err(kind: str, e: float) -> str:
    if kind == "exponent":
        return f"{e:+g}"
    if kind == "constant":
        return f"{100 * e:+g}%"
    if kind == "count":
        return f"count {e:+g}"
    return "flipped (" + ("reuse" if e < 0 else "independent") + ")"


def tables(tallies: Mapping[tuple[str, str, float], Tally], the_cases: Sequence[Case]
           ) -> str:
    """The Markdown tables: true claims (type I), then per planted error (false acceptance
    and power)."""
    kinds = {c.rule: c.kind for c in the_cases}
    rules = list(dict.fromkeys(c.rule for c in the_cases))
    lines = ["**True claims** (type I: called `inconsistent`; 95% Clopper-Pearson interval "
             "over the resamples)", "",
             "| rule | subject | resamples | consistent | inconclusive | type I | type I 95% CI |",
             "|---|---|---|---|---|---|---|"]
    for rule in rules:
        for (r, subj, e), t in tallies.items():
            if r != rule or e != 0.0:
                continue
            lo, hi = binomial_ci(t.counts["inconsistent"], t.n)
            lines.append(f"| {rule} | {subj} | {t.n} | {_pct(t.rate('consistent'))} | "
                         f"{_pct(t.undecided())} | {_pct(t.rate('inconsistent'))} | "
                         f"[{_pct(lo)}, {_pct(hi)}] |")
    lines += ["", "**Planted false claims**: false acceptance (called `consistent`) / power "
              "(called `inconsistent`) per planted error", ""]
    for rule in rules:
        errors = sorted({e for (r, _, e) in tallies if r == rule and e != 0.0})
        if not errors:
            if any(c.rule == rule and c.error != 0.0 for c in the_cases):
                lines += [f"*{rule}*: no planted error changed the prediction of any of its "
                          "findings at these setups (nothing to accept or refute)", ""]
            continue
        subjects = list(dict.fromkeys(s for (r, s, _) in tallies if r == rule))
        lines += [f"*{rule}* ({kinds[rule]} errors)", "",
                  "| subject | " + " | ".join(_err(kinds[rule], e) for e in errors) + " |",
                  "|---|" + "---|" * len(errors)]
        for subj in subjects:
            cells = []
            for e in errors:
                t = tallies.get((rule, subj, e))
                cells.append("-" if t is None else
                             f"{_pct(t.rate('consistent'))} / {_pct(t.rate('inconsistent'))}")
            lines.append(f"| {subj} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def figure(tallies: Mapping[tuple[str, str, float], Tally], the_cases: Sequence[Case],
           path: str | Path) -> None:
    """Power curves: fraction called inconsistent against the planted error, per rule and
    subject (exponent errors left, constant errors right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = {c.rule: c.kind for c in the_cases}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for ax, kind, xlabel in ((axes[0], "exponent", "planted exponent error"),
                             (axes[1], "constant", "planted relative error in the constant")):
        keys = sorted({(r, s) for (r, s, _) in tallies if kinds.get(r) == kind})
        for rule, subj in keys:
            es = sorted(e for (r, s, e) in tallies if (r, s) == (rule, subj))
            ys = [tallies[(rule, subj, e)].rate("inconsistent") for e in es]
            ax.plot(es, ys, marker="o", ms=3, label=f"{rule}: {subj}"[:48])
        ax.axhline(0.05, color="grey", lw=0.8, ls=":")
        ax.axhline(0.95, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("power (fraction called inconsistent)")
        ax.set_ylim(-0.02, 1.02)
        if keys:
            ax.legend(fontsize=6, loc="center right")
    fig.suptitle("Calibration: resamples of the default design (4 seeds per N) from the pool")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="calibrate.py", description="Type I, false acceptance and power of every built-in "
        "decision rule, by resampling the default design from a pool of seeds "
        "(docs/results.md, Calibration).")
    p.add_argument("--store", default="benchmarks/out/calibration.sqlite",
                   help="the pool store (built or reused; default %(default)s)")
    p.add_argument("--figure", default="benchmarks/out/calibration.png",
                   help="power-curve PNG to write (default %(default)s)")
    p.add_argument("--resamples", type=int, default=300)
    p.add_argument("--per-n", type=int, default=4, help="seeds per N in the design (default 4)")
    p.add_argument("--setups", nargs="+", default=None,
                   help="only these setups (of: count, independent, learning, locations, "
                        "bbp)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 4 seeds per N in the pool, 5 resamples, N <= 1000")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes building the pool (default 1: the machine is shared)")
    a = p.parse_args(argv)
    scale = 0.125 if a.quick else 1.0
    every = setups(scale)
    if a.quick:
        every = {k: Setup(v.name, v.configs, v.seeds, v.options, NS[:3], v.label)
                 for k, v in every.items()}
    unknown = sorted(set(a.setups or ()) - set(every))
    if unknown or a.resamples < 1 or a.per_n < 2 or a.jobs < 1:
        print(f"calibrate.py: setups must be among {', '.join(every)} (got {unknown}), "
              "--resamples >= 1, --per-n >= 2, --jobs >= 1", file=sys.stderr)
        return 2
    resamples = 5 if a.quick else a.resamples
    chosen = {k: v for k, v in every.items() if a.setups is None or k in a.setups}
    small = [k for k, v in chosen.items() if v.seeds < a.per_n]
    if small:
        print(f"calibrate.py: the pool of {small} has fewer seeds per N than --per-n",
              file=sys.stderr)
        return 2
    clock = time.process_time()
    pool, cell_seconds = build_pool(a.store, chosen, quiet=True, jobs=a.jobs)
    pool_cpu = time.process_time() - clock
    the_cases = cases(chosen)
    clock = time.process_time()
    tallies = resample_rates(pool, chosen, the_cases, resamples=resamples, per_N=a.per_n,
                             seed=a.seed)
    resample_cpu = time.process_time() - clock
    sizes = "; ".join(f"{k}: {v.seeds} seeds per N at N = {', '.join(map(str, v.Ns))} "
                      f"({len(v.configs)} config(s); {v.label})" for k, v in chosen.items())
    print(f"Pool ({a.store}): {sizes}.  Cells: {sum(len(v) for v in pool.values())}, "
          f"{cell_seconds:.0f} s of stored cell time (this run: {pool_cpu:.0f} s CPU building "
          f"or reading).  Design: {a.per_n} seeds per N drawn without replacement within N, "
          f"{resamples} resamples (seed {a.seed}), {resample_cpu:.0f} s CPU.\n")
    print(tables(tallies, the_cases))
    figure(tallies, the_cases, a.figure)
    print(f"\nfigure: {a.figure}")
    return 0


def main_pool_only(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--store", required=True)
    p.add_argument("--only", nargs="*", default=None)
    a = p.parse_args(argv)
    chosen = {k: v for k, v in setups().items() if a.only is None or k in a.only}
    clock = time.process_time()
    pool, seconds = build_pool(a.store, chosen)
    print(f"pool: {sum(len(v) for v in pool.values())} cells, {seconds:.0f} s of cell time, "
          f"{time.process_time() - clock:.0f} s CPU in this process")
    return 0


if __name__ == "__main__":
    if "--only" in sys.argv:   # build some setups' pool cells, nothing else
        sys.exit(main_pool_only(sys.argv[1:]))
    sys.exit(main())
